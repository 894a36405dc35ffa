"""Training variable-rate models: per-example qualities and lambdas, one RD
loss for both kinds of model, validation at every anchor, exact resume, and
warm start from the fixed-rate model of the family (which the variable-rate
model then reproduces at the reference quality, byte for byte)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from codec import api, checkpoint as ckpt_io, container, models
from codec.errors import CodecError
from codec.models.base import RateDistortionOutput
from codec.models.variable_rate import MSE_LAMBDAS
from codec.training import config
from codec.training.rates import anchors, batch_lambdas
from codec.training.train import Trainer, export, rd_loss, train, untrained_checkpoint
from conftest import MODEL_NAMES, natural_like

QUIET = dict(log=lambda s: None)


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(4):
        Image.fromarray(natural_like(64, 64 + 8 * i, seed=i)).save(d / f"{i}.png")
    return d


def vr_cfg(folder, out, name="mean-scale-vr", steps=3):
    cfg = config.Config()
    cfg.model = models.config_for(name)
    cfg.model.N, cfg.model.M = 16, 24
    cfg.data.train, cfg.data.crop, cfg.data.holdout, cfg.data.val_crop = str(folder), 64, 1, 64
    t = cfg.train
    t.batch, t.steps, t.lr, t.precision, t.seed = 3, steps, 1e-3, "fp32", 5
    t.log_every = t.ckpt_every = t.val_every = 1
    t.image_every = 1000
    t.out = str(out)
    return cfg


class Stub(nn.Module):
    """A 'model' with fixed outputs, so the loss arithmetic can be checked by hand."""

    def __init__(self, x_hat, likelihoods):
        super().__init__()
        self.out = RateDistortionOutput(x_hat, likelihoods)

    def forward(self, x, quantizer=None):
        return self.out


def test_the_loss_is_the_batch_mean_of_each_examples_own_rd_trade_off():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 8, 12, generator=g)
    x_hat = torch.rand(3, 3, 8, 12, generator=g)
    lik = {"y": torch.rand(3, 4, 2, 3, generator=g) * 0.9 + 0.05, "z": torch.rand(3, 2, 1, 1, generator=g) + 0.01}
    stub = Stub(x_hat, lik)
    lam = torch.tensor([0.0018, 0.0067, 0.025])
    loss, m = rd_loss(stub, x, lam, "mse", None)
    by_hand = [float(lam[b]) * 255 ** 2 * float(((x_hat[b] - x[b]) ** 2).mean())
               + float(sum((-torch.log2(p[b])).sum() for p in lik.values())) / (8 * 12) for b in range(3)]
    assert float(loss) == pytest.approx(np.mean(by_hand), rel=1e-6)
    # one lambda for all: the fixed-rate form gives the same value
    same, _ = rd_loss(stub, x, torch.full((3,), 0.0067), "mse", None)
    fixed, mf = rd_loss(stub, x, 0.0067, "mse", None)
    assert float(same) == pytest.approx(float(fixed), rel=1e-6)
    assert m.mse == pytest.approx(float(((x_hat - x) ** 2).mean()), rel=1e-6) and mf.bpp == pytest.approx(m.bpp)


def test_each_example_draws_its_own_continuous_quality_from_the_run_generator():
    net = models.build(models.config_for("mean-scale-vr"))
    t = config.TrainConfig()
    lam = batch_lambdas(net, 64, t, torch.Generator().manual_seed(1))
    assert lam.shape == (64,) and len(set(lam.tolist())) == 64
    assert float(lam.min()) >= MSE_LAMBDAS[0] * (1 - 1e-6) and float(lam.max()) <= MSE_LAMBDAS[4] * (1 + 1e-6)
    assert torch.equal(lam, batch_lambdas(net, 64, t, torch.Generator().manual_seed(1)))   # same stream, same draw
    assert net._rate["y"][0].shape[0] == 64   # the model now holds one gain set per example
    fixed = models.build(models.config_for("mean-scale"))
    gen = torch.Generator().manual_seed(1)
    before = gen.get_state()
    assert batch_lambdas(fixed, 64, t, gen) == t.lmbda and torch.equal(gen.get_state(), before)   # nothing drawn


def test_validation_anchors_are_q_min_to_q_max_with_the_lambda_table():
    net = models.build(models.config_for("hyperprior-vr"))
    a = anchors(net, config.TrainConfig())
    assert [r.quality for r in a] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [r.lmbda for r in a] == pytest.approx(list(MSE_LAMBDAS[:5]), rel=1e-12)
    assert [r.tag for r in a][2] == "q3/"
    assert anchors(models.build(models.config_for("hyperprior")), config.TrainConfig(lmbda=0.01))[0].lmbda == 0.01


@pytest.mark.filterwarnings("ignore")
def test_a_variable_rate_run_validates_at_every_anchor_and_resumes_exactly(folder, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    logs = []
    straight = train(vr_cfg(folder, tmp_path / "a", steps=3), log=logs.append)
    half = vr_cfg(folder, tmp_path / "b", steps=2)
    train(half, **QUIET)
    half.train.steps = 3
    resumed = train(half, resume=True, **QUIET)
    a, b = ckpt_io.load(straight).state_dict, ckpt_io.load(resumed).state_dict
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert any(k.startswith("gains.") for k in a)
    ea = EventAccumulator(str(tmp_path / "a" / "tb"))
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    for q in range(1, 6):
        assert {f"val/q{q}/psnr", f"val/q{q}/bpp", f"val/q{q}/loss", f"val/q{q}/real_bpp"} <= tags, tags
    mean = ea.Scalars("val/loss")[-1].value
    per = [ea.Scalars(f"val/q{q}/loss")[-1].value for q in range(1, 6)]
    assert mean == pytest.approx(np.mean(per), rel=1e-5)
    # more quality, more bits (the gains' initial step-size law)
    bpp = [ea.Scalars(f"val/q{q}/real_bpp")[-1].value for q in range(1, 6)]
    assert bpp == sorted(bpp)
    assert sum("validation through the codec at quality" in line for line in logs) == 5
    assert ckpt_io.load(tmp_path / "a" / "best.pt").train_state["best"] == pytest.approx(
        min(e.value for e in ea.Scalars("val/loss")), rel=1e-6)


def test_a_variable_rate_model_trains_on_mse_only(folder, tmp_path):
    cfg = vr_cfg(folder, tmp_path / "m")
    cfg.train.distortion = "ms-ssim"
    with pytest.raises(config.ConfigError, match="train.distortion"):
        config.validate_for_training(cfg)


def payloads(data: bytes) -> list[bytes]:
    return [s.payload for s in container.unpack(data)[1]]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("family", MODEL_NAMES)
def test_warm_start_from_the_fixed_model_reproduces_it_at_the_reference_quality(folder, tmp_path, family):
    fixed_path = untrained_checkpoint(family, tmp_path / "fixed.pt", seed=7, N=16, M=24)
    cfg = vr_cfg(folder, tmp_path / "run", name=f"{family}-vr")
    cfg.train.init = str(fixed_path)
    tr = Trainer(cfg, **QUIET)
    vr_path = export(tr.save(), tmp_path / "vr.pt")
    fixed, vr = api.load_model(fixed_path, device="cpu"), api.load_model(vr_path, device="cpu")
    assert vr.quality_range == (1, 5) and vr.quality == 3
    img = natural_like(40, 56, seed=11)
    a, b = api.compress(img, fixed), api.compress(img, vr, quality=3)
    assert payloads(a) == payloads(b)
    np.testing.assert_array_equal(api.decompress(a, fixed), api.decompress(b, vr))
    # the gains kept their initialisation: 1 at the reference, the step-size law elsewhere
    log_gain = vr.net.gains["y"].log_gain.detach()
    assert torch.equal(log_gain[2], torch.zeros(24))
    torch.testing.assert_close(log_gain[0], torch.full((24,), 0.5 * np.log(MSE_LAMBDAS[0] / MSE_LAMBDAS[2])),
                               rtol=1e-3, atol=0)   # fp16 shipped weights


@pytest.mark.filterwarnings("ignore")
def test_warm_start_refuses_another_family_size_or_reference(folder, tmp_path):
    src = untrained_checkpoint("mean-scale", tmp_path / "ms.pt", N=16, M=24)
    for change, match in ((lambda c: setattr(c.model, "M", 32), "N=16 M=24"),
                          (lambda c: setattr(c.model, "quality", 2), "model.quality"),
                          (lambda c: setattr(c, "model", models.config_for("hyperprior-vr", c.model)),
                           "mean-scale N=16")):
        cfg = vr_cfg(folder, tmp_path / "x")
        cfg.train.init = str(src)
        change(cfg)
        with pytest.raises(CodecError, match=match):
            Trainer(cfg, **QUIET)


@pytest.mark.filterwarnings("ignore")
def test_warm_start_from_a_variable_rate_run_takes_its_gains(folder, tmp_path):
    first = vr_cfg(folder, tmp_path / "a", steps=2)
    last = train(first, **QUIET)
    shipped = export(last, tmp_path / "a.pt")
    for src in (last, shipped):
        cfg = vr_cfg(folder, tmp_path / f"b-{src.stem}", steps=1)
        cfg.train.init = str(src)
        tr = Trainer(cfg, **QUIET)
        want = ckpt_io.load(src).build_model().state_dict()
        got = tr.net.state_dict()
        assert tr.step == 0
        for k in ("gains.y.log_gain", "gains.z.log_inverse"):
            assert torch.equal(got[k].float(), want[k].float()), k
    other = vr_cfg(folder, tmp_path / "c", steps=1)
    other.model.q_max = 4
    other.train.init = str(shipped)
    with pytest.raises(CodecError, match="q_max=5"):
        Trainer(other, **QUIET)
