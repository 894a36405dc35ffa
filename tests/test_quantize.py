"""Universal quantization: shared dither, exact uniform error, probabilities
equal to the training likelihood at y_hat."""
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from codec.entropy import FrozenGaussian, GaussianDensity
from codec.quantize import dequantize, dither, quantize

ROOT = Path(__file__).resolve().parents[1]
SNIPPET = ("import hashlib; from codec.quantize import dither; "
           "print(hashlib.sha256(dither(42, 1, (3, 5, 7)).numpy().tobytes()).hexdigest())")


def test_dither_is_identical_across_processes():
    here = hashlib.sha256(dither(42, 1, (3, 5, 7)).numpy().tobytes()).hexdigest()
    out = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, check=True).stdout.strip()
    assert out == here


def test_dither_range_and_streams_differ():
    u0, u1 = dither(7, 0, (1000,)), dither(7, 1, (1000,))
    assert u0.dtype == torch.float32 and u0.min() >= -0.5 and u0.max() < 0.5
    assert not torch.equal(u0, u1) and torch.equal(u0, dither(7, 0, (1000,)))


def test_universal_error_is_uniform_and_independent_of_the_signal():
    y = torch.linspace(-20, 20, 200000) ** 3 / 400
    centre = torch.zeros_like(y)
    u = dither(3, 0, tuple(y.shape))
    err = dequantize(quantize(y, centre, u), centre, u) - y
    assert err.abs().max() <= 0.5 + 1e-5
    assert abs(float(err.mean())) < 0.005 and abs(float(err.var()) - 1 / 12) < 0.002
    assert abs(float(np.corrcoef(err.numpy(), y.numpy())[0, 1])) < 0.01


def test_coded_probability_equals_training_likelihood_at_y_hat():
    torch.manual_seed(0)
    shape = (1, 8, 6, 5)
    means, scales = torch.randn(shape) * 3, torch.rand(shape) * 3 + 0.2
    y = means + scales * torch.randn(shape)   # latents as the model predicts them
    u = dither(11, 0, shape)
    coded = FrozenGaussian().encode(y, scales, means, u)
    lik = GaussianDensity().likelihood(coded.y_hat.double().float(), scales, means)
    train_bits = float(-torch.log2(lik.double()).sum())
    assert abs(coded.bits - train_bits) < 1e-3 * train_bits
    back = FrozenGaussian().decode(coded.section, scales, means, u)
    assert torch.equal(back, coded.y_hat)
