"""Variable-rate models (gain units, codec.models.variable_rate): one model per
family spans its anchors; exact round trips at fractional qualities; rate
strictly increasing in quality; the reference anchor reproduces the fixed model."""
from __future__ import annotations

import math

import pytest
import torch

from codec import api, checkpoint as ckpt_io, models
from codec.errors import BadCheckpoint
from codec.models.variable_rate import (MSE_LAMBDAS, VariableRateConfig, is_variable_rate, lmbda_at,
                                        on_grid)

from conftest import MODEL_NAMES, make_checkpoint, natural_like

VR_NAMES = tuple(f"{n}-vr" for n in MODEL_NAMES)


def tiny_vr(name: str, seed: int = 0) -> models.CodecModel:
    torch.manual_seed(seed)
    return models.build(VariableRateConfig(name=name, N=16, M=24))


@pytest.fixture(scope="module")
def vr_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("vr")
    return {n: api.load_model(make_checkpoint(n, d / f"{n}.pt", N=16, M=24), device="cpu") for n in VR_NAMES}


def test_every_family_has_a_variable_rate_form_in_the_registry():
    reg = models.registry()
    for name in MODEL_NAMES:
        e = reg[f"{name}-vr"]
        assert e.cls.base is reg[name].cls and e.config_cls is VariableRateConfig
        assert e.cls.latent_paths == reg[name].cls.latent_paths


def test_gains_exist_per_latent_and_anchor():
    net = tiny_vr("mean-scale-vr")
    assert set(net.gains) == {"y", "z"} and net.quality_range == (1, 5)
    assert tuple(net.gains["y"].log_gain.shape) == (5, 24) and tuple(net.gains["z"].log_gain.shape) == (5, 16)
    assert set(tiny_vr("factorized-vr").gains) == {"y"}


def test_reference_anchor_has_unit_gains_so_a_fixed_model_is_reproduced():
    torch.manual_seed(1)
    fixed = models.build(models.config_for("mean-scale")).eval()
    vr = models.build(models.config_for("mean-scale-vr")).eval()
    vr.load_state_dict(fixed.state_dict(), strict=False)
    fixed.freeze(), vr.freeze()
    vr.set_quality(3)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = fixed.compress(x), vr.compress(x)
    assert [s.payload for s in a.sections] == [s.payload for s in b.sections]


def test_exact_gains_equal_the_training_interpolation():
    net = tiny_vr("hyperprior-vr")
    with torch.no_grad():
        for g in net.gains.values():
            g.log_gain.normal_(0, 0.5), g.log_inverse.normal_(0, 0.5)
    for q in (1.0, 1.5, 2.37109375, 5.0):
        net.set_quality(q)
        exact = {n: v[0].flatten() for n, v in net._rate.items()}
        net.set_quality(torch.tensor([q]))
        for n, v in net._rate.items():
            torch.testing.assert_close(v[0].flatten(), exact[n], rtol=1e-6, atol=0)


def test_quality_goes_on_the_header_grid_and_outside_the_range_is_refused():
    net = tiny_vr("factorized-vr")
    net.set_quality(2.3)
    assert net.quality == on_grid(2.3) == round(2.3 * 256) / 256
    for bad in (0.99, 5.01, 8):
        with pytest.raises(ValueError, match="outside this model's range 1..5"):
            net.set_quality(bad)


def test_lambda_interpolates_log_linearly_and_hits_the_table_at_anchors():
    for q, lam in enumerate(MSE_LAMBDAS, 1):
        assert lmbda_at(float(q)) == pytest.approx(lam, rel=1e-12)
    assert lmbda_at(2.5) == pytest.approx(math.sqrt(MSE_LAMBDAS[1] * MSE_LAMBDAS[2]), rel=1e-12)
    assert torch.allclose(lmbda_at(torch.tensor([1.0, 2.5])),
                          torch.tensor([MSE_LAMBDAS[0], math.sqrt(MSE_LAMBDAS[1] * MSE_LAMBDAS[2])]))


@pytest.mark.parametrize("name", VR_NAMES)
def test_round_trip_is_exact_at_fractional_qualities(vr_models, name):
    m = vr_models[name]
    assert is_variable_rate(m.net)
    x = torch.from_numpy(natural_like(64, 64, seed=3)).permute(2, 0, 1)[None].float() / 255
    g = m.net.geometry(64, 64)
    for q in (1.0, 1.3, 2.5, 3.75, 4.99609375):
        m.net.set_quality(q)
        with torch.no_grad():
            c = m.net.compress(x)
            m.net.set_quality(q)   # the decoder sets the same grid quality
            torch.testing.assert_close(m.net.decompress(c.sections, g), m.net.synthesis(c.y_hat), rtol=0, atol=0)


@pytest.mark.parametrize("name", VR_NAMES)
def test_rate_strictly_increases_with_quality(vr_models, name):
    m = vr_models[name]
    x = torch.from_numpy(natural_like(64, 64, seed=4)).permute(2, 0, 1)[None].float() / 255
    bits = []
    for q in (1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5):
        m.net.set_quality(q)
        with torch.no_grad():
            bits.append(m.net.compress(x).bits)
    assert all(a < b for a, b in zip(bits, bits[1:])), bits


def test_stored_anchors_outside_the_table_are_refused(tmp_path):
    p = make_checkpoint("factorized-vr", tmp_path / "a.pt", N=8, M=12)
    c = ckpt_io.load(p)
    c.config["model"]["q_max"] = 9
    ckpt_io.save(c, tmp_path / "b.pt")
    with pytest.raises(BadCheckpoint, match="q_max=9"):
        ckpt_io.load(tmp_path / "b.pt")


def test_a_training_batch_takes_one_quality_per_example():
    net = tiny_vr("mean-scale-vr").train()
    q = torch.tensor([1.0, 2.5, 5.0])
    net.set_quality(q)
    out = net(torch.rand(3, 3, 64, 64))
    bits = [(-torch.log2(p[i])).sum() for i in range(3) for p in [out.likelihoods["y"]]]
    assert bits[0] < bits[2]
    loss = sum(bits)
    loss.backward()
    assert net.gains["y"].log_gain.grad.abs().sum() > 0
