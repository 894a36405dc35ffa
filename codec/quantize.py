"""Quantizers: the three ways a latent becomes (a proxy of) an integer.

* ``add_noise`` -- training: y_tilde = y + u, u ~ U(-1/2, 1/2) i.i.d. The
  noisy latent stands in for the quantized one, so rates are differentiable.
* rounding (``QuantizerKind.ROUND``) -- testing: k = round(y - c), y_hat = k + c,
  where c is the centre the entropy model is built around (the channel median of
  a factorized density, the predicted mean of a Gaussian conditional).
* mixed (``TrainingQuantizer.MIXED``) -- training, Minnen & Singh (ICIP 2020):
  the rate term still sees the noisy y_tilde, but the synthesis sees the
  latent it will see at test time, round(y - c) + c, with a straight-through
  gradient (d y_hat / d y = 1). g_s then learns on the rounding error it
  meets when decoding instead of uniform noise.
* universal quantization (``QuantizerKind.UNIVERSAL``) -- testing with a dither
  u shared by encoder and decoder (Agustsson & Theis, NeurIPS 2020):
  k = round(y - c - u), y_hat = k + c + u. The error y_hat - y is then exactly
  U(-1/2, 1/2) and independent of y: the channel the model was trained on.

The dither is drawn from numpy's PCG64 with the seed stored in the file header,
in float64 and cast to float32, so every machine and device sees the same
numbers (device RNG streams are not used on purpose).

All tensors are float32; symbols are int32 numpy arrays when they leave torch.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class QuantizerKind(enum.IntEnum):
    """Test-time quantizer; the value is the byte stored in the file header."""

    ROUND = 0
    UNIVERSAL = 1


def add_noise(y: Tensor) -> Tensor:
    """Training proxy for quantization: y + U(-1/2, 1/2), same shape as y."""
    return y + torch.empty_like(y).uniform_(-0.5, 0.5)


def dither(seed: int, stream: int, shape: tuple[int, ...]) -> Tensor:
    """Shared dither u ~ U(-1/2, 1/2) of ``shape`` (float32, CPU).

    ``stream`` separates the latents of one file (0 for y, 1 for z, ...), so
    each gets its own reproducible sequence from the one header seed.
    """
    rng = np.random.Generator(np.random.PCG64([int(seed), int(stream)]))
    u = rng.random(int(np.prod(shape)), dtype=np.float64) - 0.5
    return torch.from_numpy(u.astype(np.float32).reshape(shape))


def quantize(y: Tensor, centre: Tensor, offset: Tensor | None) -> Tensor:
    """Integer symbols k = round(y - centre - offset) as a float32 tensor.

    ``offset`` is the dither for universal quantization, None for rounding.
    """
    r = y - centre
    if offset is not None:
        r = r - offset
    return torch.round(r)


def dequantize(k: Tensor, centre: Tensor, offset: Tensor | None) -> Tensor:
    """y_hat = k + centre (+ offset); the one formula both coder sides use."""
    y_hat = k + centre
    if offset is not None:
        y_hat = y_hat + offset
    return y_hat


class TrainingLatent(NamedTuple):
    """One latent as the training forward uses it: same shape as y, fp32."""

    rate: Tensor        # what the entropy model is evaluated on (differentiable rate)
    synthesis: Tensor   # what the next transform (g_s or h_s) decodes


class TrainingQuantizer(str, enum.Enum):
    """Training proxy of quantization; the value is the config string
    (``train.quantizer``)."""

    NOISE = "noise"
    MIXED = "mixed"

    def __call__(self, y: Tensor, centre: Tensor | None = None) -> TrainingLatent:
        """``centre`` is the value the coder rounds around (predicted mean,
        channel median broadcastable to y); None means 0."""
        y_tilde = add_noise(y)
        if self is TrainingQuantizer.NOISE:
            return TrainingLatent(y_tilde, y_tilde)
        r = y - (0 if centre is None else centre.detach())
        # straight-through: the value is round(r) + c, the gradient is that of y
        return TrainingLatent(y_tilde, y + (torch.round(r) - r).detach())
