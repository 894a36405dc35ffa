"""Learning rate as a function of (config, step), the training quantizers,
the fixed held-out set, chunked runs (stop_at), warm starts at a schedule
position (start_step), SIGTERM and the export guard."""
import math
import os
import signal

import pytest
import torch
from PIL import Image

from codec import checkpoint as ckpt_io
from codec.errors import CodecError, OutputExists
from codec.quantize import TrainingQuantizer
from codec.training import config
from codec.training.data import list_images, split_holdout
from codec.training.schedule import learning_rate
from codec.training.train import Trainer, train
from conftest import natural_like


def tcfg(**kw) -> config.TrainConfig:
    t = config.TrainConfig()
    t.steps, t.lr = 100, 1e-3
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def test_step_schedule_multiplies_at_each_milestone():
    t = tcfg(lr_schedule="step", lr_milestones=[50, 80], lr_gamma=0.2)
    assert learning_rate(t, 49) == pytest.approx(1e-3)
    assert learning_rate(t, 50) == pytest.approx(2e-4)
    assert learning_rate(t, 99) == pytest.approx(4e-5)


def test_cosine_is_flat_before_decay_from_and_reaches_lr_min():
    t = tcfg(lr_schedule="cosine", decay_from=60, lr_min=1e-5)
    assert learning_rate(t, 0) == learning_rate(t, 60) == pytest.approx(1e-3)
    assert learning_rate(t, 80) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    assert learning_rate(t, 100) == pytest.approx(1e-5)
    lrs = [learning_rate(t, s) for s in range(60, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_warmup_ramps_linearly_then_follows_the_schedule():
    t = tcfg(lr_schedule="constant", warmup=10)
    assert learning_rate(t, 0) == pytest.approx(1e-4)
    assert learning_rate(t, 4) == pytest.approx(5e-4)
    assert learning_rate(t, 10) == pytest.approx(1e-3)


def test_noise_quantizer_feeds_the_same_noisy_latent_to_rate_and_synthesis():
    torch.manual_seed(0)
    y = torch.randn(2, 3, 4, 4)
    q = TrainingQuantizer("noise")(y)
    assert torch.equal(q.rate, q.synthesis)
    assert (q.rate - y).abs().max() <= 0.5


def test_mixed_quantizer_rounds_around_the_centre_with_straight_through_gradient():
    torch.manual_seed(0)
    y = torch.randn(2, 3, 4, 4, requires_grad=True)
    mu = torch.randn(2, 3, 4, 4, requires_grad=True)
    q = TrainingQuantizer("mixed")(y, mu)
    assert torch.allclose(q.synthesis, torch.round(y - mu) + mu, atol=1e-6)
    assert not torch.equal(q.rate, q.synthesis) and (q.rate - y).abs().max() <= 0.5
    (q.synthesis * torch.arange(96.).view(2, 3, 4, 4)).sum().backward()
    assert torch.equal(y.grad, torch.arange(96.).view(2, 3, 4, 4))  # identity gradient into y
    assert mu.grad is None or torch.count_nonzero(mu.grad) == 0     # no gradient into the mean


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(5):
        Image.fromarray(natural_like(64, 72, seed=i)).save(d / f"img{i}.png")
    return d


def small(folder, out, steps=4, **kw) -> config.Config:
    cfg = config.Config()
    cfg.model.name, cfg.model.N, cfg.model.M = "mean-scale", 16, 24
    cfg.data.train, cfg.data.crop, cfg.data.holdout, cfg.data.val_crop = str(folder), 64, 1, 64
    t = cfg.train
    t.batch, t.steps, t.lr, t.precision, t.seed, t.threads = 2, steps, 1e-3, "fp32", 3, 1
    t.lr_schedule, t.decay_from, t.quantizer = "cosine", 1, "mixed"
    t.log_every = t.ckpt_every = t.val_every = t.image_every = 1000
    t.out = str(out)
    for k, v in kw.items():
        setattr(t, k, v)
    return cfg


def weights(path):
    return ckpt_io.load(path).state_dict


def test_holdout_files_hold_out_exactly_the_named_images(folder, tmp_path):
    names = tmp_path / "holdout.txt"
    names.write_text("# fixed set\nimg1\n\nimg3  # comment\n")
    train_p, held = split_holdout(list_images(folder), 8, str(names))
    assert [p.stem for p in held] == ["img1", "img3"]
    assert [p.stem for p in train_p] == ["img0", "img2", "img4"]
    names.write_text("img1\nnot_there\n")
    with pytest.raises(CodecError, match="not_there"):
        split_holdout(list_images(folder), 8, str(names))


@pytest.mark.filterwarnings("ignore")
def test_chunks_with_stop_at_give_the_weights_of_one_run(folder, tmp_path):
    one = train(small(folder, tmp_path / "one", steps=4), log=lambda s: None)
    cfg = small(folder, tmp_path / "chunks", steps=4)
    for stop in (1, 3, 4):
        cfg.train.stop_at = stop
        last = train(cfg, resume=True, log=lambda s: None)
        assert ckpt_io.load(last).train_state["step"] == stop
    a, b = weights(one), weights(last)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.filterwarnings("ignore")
def test_changed_lr_takes_effect_on_resume(folder, tmp_path):
    cfg = small(folder, tmp_path / "r", steps=4, lr_schedule="constant", stop_at=2)
    train(cfg, log=lambda s: None)
    cfg.train.lr, cfg.train.stop_at = 3e-4, 0
    tr = Trainer(cfg, resume=True, log=lambda s: None)
    assert tr.step == 2
    tr.train_step()
    assert tr.opt.param_groups[0]["lr"] == pytest.approx(3e-4)


@pytest.mark.filterwarnings("ignore")
def test_start_step_enters_the_schedule_part_way(folder, tmp_path):
    cfg = small(folder, tmp_path / "s", steps=10, decay_from=0, start_step=5)
    tr = Trainer(cfg, log=lambda s: None)
    assert tr.step == 5
    tr.train_step()
    assert tr.opt.param_groups[0]["lr"] == pytest.approx(learning_rate(cfg.train, 5))
    assert tr.opt.param_groups[0]["lr"] < 0.6 * learning_rate(cfg.train, 0)  # not the start of the curve


@pytest.mark.filterwarnings("ignore")
def test_sigterm_finishes_the_step_saves_and_skips_export(folder, tmp_path):
    cfg = small(folder, tmp_path / "t", steps=50, export=str(tmp_path / "ship.pt"))
    tr = Trainer(cfg, log=lambda s: None)
    real_step = tr.train_step

    def step_then_term():
        m = real_step()
        if tr.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return m
    tr.train_step = step_then_term
    tr.run()
    assert ckpt_io.load(tmp_path / "t" / "last.pt").train_state["step"] == 2
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))
    # a chunk (stop_at) does not export either; the finished schedule does, once
    cfg.train.stop_at = 3
    train(cfg, resume=True, log=lambda s: None)
    assert not (tmp_path / "ship.pt").exists()
    cfg.train.steps, cfg.train.stop_at = 4, 0
    train(cfg, resume=True, log=lambda s: None)
    assert (tmp_path / "ship.pt").is_file()
    with pytest.raises(OutputExists):
        train(cfg, resume=True, log=lambda s: None)


def test_bad_schedule_keys_are_one_line_errors(folder, tmp_path):
    for key, value in (("lr_schedule", "linear"), ("quantizer", "round"), ("start_step", 4)):
        cfg = small(folder, tmp_path / "x", steps=4, **{key: value})
        with pytest.raises(config.ConfigError, match=key):
            config.validate_for_training(cfg)
