"""The trainer: a real short run, exact resume, NaN stop, export usable at once."""
import numpy as np
import pytest
import torch
from PIL import Image

from codec import api, checkpoint as ckpt_io
from codec.training import config
from codec.training.train import Trainer, TrainingDiverged, train
from conftest import natural_like


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "imgs" / "sub"
    d.mkdir(parents=True)
    for i in range(5):
        Image.fromarray(natural_like(48 + 8 * i, 64, seed=i)).save(d / f"{i}.png")
    Image.fromarray(natural_like(20, 20)).save(d / "small.png")
    (d / "broken.png").write_bytes(b"not an image")
    return tmp_path / "imgs"


def small_cfg(folder, out, name="mean-scale", steps=4):
    cfg = config.Config()
    cfg.model.name, cfg.model.N, cfg.model.M = name, 16, 24
    cfg.data.train, cfg.data.crop, cfg.data.holdout, cfg.data.val_crop = str(folder), 64, 1, 64
    t = cfg.train
    t.batch, t.steps, t.lr, t.precision, t.seed = 2, steps, 1e-3, "fp32", 3
    t.log_every = t.ckpt_every = t.val_every = t.image_every = 1
    t.lr_milestones = [3]
    t.out = str(out)
    return cfg


def weights(path):
    return ckpt_io.load(path).state_dict


@pytest.mark.filterwarnings("ignore")
def test_resume_gives_identical_weights(folder, tmp_path):
    straight = train(small_cfg(folder, tmp_path / "a", steps=4), log=lambda s: None)
    half = small_cfg(folder, tmp_path / "b", steps=2)
    train(half, log=lambda s: None)
    half.train.steps = 4
    resumed = train(half, resume=True, log=lambda s: None)
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.filterwarnings("ignore")
def test_data_stats_and_export_usable(folder, tmp_path):
    logs = []
    cfg = small_cfg(folder, tmp_path / "r", name="factorized", steps=2)
    cfg.train.export = str(tmp_path / "ship.pt")
    train(cfg, log=logs.append)
    assert "1 unreadable" in logs[0] and "2 padded" in logs[0]
    assert list((tmp_path / "r" / "tb").glob("events.out.tfevents.*"))
    m = api.load_model(tmp_path / "ship.pt", device="cpu")
    img = natural_like(33, 47)
    res = api.compress_full(img, m)
    np.testing.assert_array_equal(api.decompress(res.data, m), res.reconstruction)
    shipped = ckpt_io.load(tmp_path / "ship.pt")
    assert shipped.train_state is None and shipped.tables
    assert all(v.dtype == torch.float16 for v in shipped.state_dict.values() if v.is_floating_point())


@pytest.mark.filterwarnings("ignore")
def test_nan_loss_stops_and_keeps_last_checkpoint(folder, tmp_path):
    cfg = small_cfg(folder, tmp_path / "n", steps=3)
    t = Trainer(cfg, log=lambda s: None)
    t.train_step()
    t.save()
    before = weights(tmp_path / "n" / "last.pt")
    with torch.no_grad():
        next(t.net.g_a.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        t.train_step()
    after = weights(tmp_path / "n" / "last.pt")
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.filterwarnings("ignore")
def test_init_warm_starts_from_weights_not_state(folder, tmp_path):
    """train.init takes another run's (or a shipped fp16) weights, not its step or optimizer."""
    first = small_cfg(folder, tmp_path / "a", steps=2)
    first.train.export = str(tmp_path / "ship.pt")
    train(first, log=lambda s: None)
    for src in (tmp_path / "a" / "last.pt", tmp_path / "ship.pt"):
        cfg = small_cfg(folder, tmp_path / f"b-{src.stem}", steps=1)
        cfg.train.init = str(src)
        tr = Trainer(cfg, log=lambda s: None)
        assert tr.step == 0
        want = ckpt_io.load(src).build_model().state_dict()
        got = tr.net.state_dict()
        for k, v in want.items():
            if v.is_floating_point() and not k.split(".")[-1].startswith("_"):
                assert torch.equal(got[k].cpu().float(), v.float()), k
    other = small_cfg(folder, tmp_path / "c", steps=1)
    other.model.M = 32
    other.train.init = str(tmp_path / "ship.pt")
    with pytest.raises(Exception, match="N=16 M=24"):
        Trainer(other, log=lambda s: None)
    other.train.init = str(tmp_path / "missing.pt")
    with pytest.raises(config.ConfigError, match="train.init"):
        Trainer(other, log=lambda s: None)


def test_a_short_run_without_a_terminal_logs_progress_lines_and_scalars(tmp_path, recwarn):
    """stderr is not a TTY under pytest: progress comes as lines on the log; a
    run shorter than log_every still writes its training scalars; and a normal
    run (clean data) raises no warning at all."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(4):
        Image.fromarray(natural_like(64, 64, seed=i)).save(clean / f"{i}.png")
    logs = []
    cfg = small_cfg(clean, tmp_path / "short", steps=3)
    cfg.train.log_every = cfg.train.val_every = cfg.train.image_every = cfg.train.ckpt_every = 1000
    train(cfg, log=logs.append)
    assert any(line.startswith("step 3/3: loss ") and "it/s" in line for line in logs), logs
    ea = EventAccumulator(str(tmp_path / "short" / "tb"))
    ea.Reload()
    assert [e.step for e in ea.Scalars("train/loss")] == [3]
    assert not recwarn.list, [f"{w.filename}:{w.lineno}: {w.message}" for w in recwarn]


def test_a_missing_relative_folder_names_the_path_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = small_cfg("no/such/folder", tmp_path / "x")
    with pytest.raises(config.ConfigError, match="relative paths are taken from the current folder"):
        config.validate_for_training(cfg)
