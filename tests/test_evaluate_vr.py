"""codec eval with a variable-rate checkpoint (one curve sampled at several
qualities, BD-rated like any other curve, resumable) and with --refine
(a refined curve per model, compared with the unrefined one), on tiny
images and small seeded untrained checkpoints."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from codec.cli import main
from codec.evaluation import evaluate
from codec.evaluation.evaluate import EvalConfig, default_qualities, format_quality
from conftest import make_checkpoint, natural_like


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def vr_dir(tmp_path_factory) -> Path:
    """A checkpoint folder with a variable-rate model and a fixed-rate one of the same family."""
    d = tmp_path_factory.mktemp("vrckpt")
    make_checkpoint("mean-scale-vr", d / "mean-scale-vr.pt", N=16, M=24)
    make_checkpoint("mean-scale", d / "mean-scale-q3.pt", N=16, M=24)
    return d


@pytest.fixture()
def env_vr(vr_dir, monkeypatch) -> Path:
    monkeypatch.setenv("CODEC_CHECKPOINTS", str(vr_dir))
    return vr_dir


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("images")
    for i in range(2):   # 168 x 176: 5-scale MS-SSIM is defined, and the models are quick
        Image.fromarray(natural_like(168, 176, seed=10 + i)).save(d / f"img{i}.png")
    return d


def config(folder: Path, out: Path, **kw) -> EvalConfig:
    base = dict(models=("mean-scale-vr",), codecs=("jpeg-420",), anchors=("jpeg-420",), workers=1,
                progress=False, html_images=0, published=())
    return EvalConfig(folder=folder, out=out, **{**base, **kw})


def rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_default_qualities_span_the_range_on_the_grid():
    qs = default_qualities(1, 5)
    assert len(qs) == 7 and qs[0] == 1 and qs[-1] == 5 and qs == sorted(qs)
    assert all(q * 256 == int(q * 256) for q in qs)
    assert [format_quality(q) for q in qs[:2]] == ["1", "1.66796875"]
    assert all(float(format_quality(q)) == q for q in qs)     # settings read back exactly


def test_a_variable_rate_model_is_one_curve_bd_rated_and_resumed(folder, tmp_path, env_vr):
    out = tmp_path / "out"
    res = evaluate.run(config(folder, out, models=("mean-scale-vr", "mean-scale"),
                              anchors=("jpeg-420", "mean-scale"), html_images=1))
    by = {c.name: c for c in res.curves}
    vr = by["mean-scale-vr"]
    assert [p.setting for p in vr.points] == [format_quality(q) for q in default_qualities(1, 5)]
    assert all(p.decode_ok and p.n_images == 2 for p in vr.points)
    b = vr.column("bpp")
    assert all(b[1:] > b[:-1])                               # one model, rate rising with quality
    assert [p.setting for p in by["mean-scale"].points] == ["3"]   # the fixed model: its shipped point
    cmp = {(c.curve, c.anchor): c for c in res.comparisons}
    # untrained weights: no PSNR overlap with JPEG, so BD-rate is undefined, but the comparison is made
    # over the rates both cover (BD-PSNR); BD-rate itself is checked against a curve it overlaps below
    assert cmp[("mean-scale-vr", "jpeg-420")].bd_psnr is not None
    assert ("mean-scale-vr", "mean-scale") in cmp             # against another model, as any curve
    learned = [r for r in rows(out) if r["curve"] == "mean-scale-vr"]
    assert len(learned) == 14 and all(r["decode_ok"] == "1" for r in learned)
    # the files record the quality: bigger at higher quality, image by image
    for img in ("img0.png", "img1.png"):
        sizes = [int(r["bytes"]) for r in learned if r["image"] == img]
        assert sizes == sorted(sizes) and len(set(sizes)) == 7
    js = json.loads((out / "curves" / "mean-scale-vr.json").read_text())
    assert js["settings"][0] == "1" and js["settings"][-1] == "5" and len(js["comparisons"]) == 2
    summary = (out / "summary.md").read_text()
    assert "qualities 1..5 (one model)" in summary and "one variable-rate model" in summary

    before = (out / "results.csv").read_bytes()
    again = evaluate.run(config(folder, out, models=("mean-scale-vr", "mean-scale"),
                                anchors=("jpeg-420", "mean-scale")))
    assert again.computed == 0 and (out / "results.csv").read_bytes() == before


def test_real_qualities_from_the_command_line(folder, tmp_path, env_vr, capsys):
    out = tmp_path / "cli"
    assert main(["eval", str(folder), "--models", "mean-scale-vr", "--qualities", "1.5,2.25,4.1",
                 "--codecs", "jpeg-420", "--anchors", "jpeg-420", "--published", "none", "--out", str(out),
                 "--workers", "1", "--html-images", "0", "-q"]) == 0
    err = capsys.readouterr().err
    assert "4.1 coded as 4.1015625" in err
    settings = sorted({r["setting"] for r in rows(out) if r["curve"] == "mean-scale-vr"}, key=float)
    assert settings == ["1.5", "2.25", "4.1015625"]
    # and again with the same numbers: nothing recoded
    assert main(["eval", str(folder), "--models", "mean-scale-vr", "--qualities", "1.5,2.25,4.1",
                 "--codecs", "jpeg-420", "--anchors", "jpeg-420", "--published", "none", "--out", str(out),
                 "--workers", "1", "--html-images", "0", "-q"]) == 0
    assert "0 entries coded" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--models", "mean-scale-vr", "--qualities", "0.5,2"], "outside the range 1..5"),
    (["--models", "mean-scale", "--qualities", "2.5"], "no checkpoint for model 'mean-scale' with quality 2.5"),
    (["--models", "mean-scale-vr", "--qualities", "two"], "expected comma-separated numbers"),
    (["--models", "mean-scale-vr", "--refine", "-3"], "step counts"),
    (["--models", "hyperprior-vr"], "no checkpoint for model 'hyperprior-vr'"),
])
def test_bad_qualities_and_steps_exit_2_with_nothing_written(folder, tmp_path, env_vr, capsys, extra, message):
    out = tmp_path / "bad"
    assert main(["eval", str(folder), "--codecs", "jpeg-420", "--anchors", "jpeg-420", "--out", str(out),
                 "-q"] + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and len(err) <= 3, err
    assert not out.exists()


def test_refined_curves_are_separate_and_compared_with_the_unrefined_one(folder, tmp_path, env_vr):
    out = tmp_path / "ref"
    cfg = config(folder, out, models=("mean-scale", "mean-scale-vr"), qualities=(1, 3, 5), refine=(4,),
                 codecs=(), anchors=())
    res = evaluate.run(cfg)
    by = {c.name: c for c in res.curves}
    assert set(by) == {"mean-scale", "mean-scale+refine4", "mean-scale-vr", "mean-scale-vr+refine4"}
    assert "refine 4" in by["mean-scale+refine4"].label and "refine" not in by["mean-scale"].label
    assert [p.setting for p in by["mean-scale-vr+refine4"].points] == ["1", "3", "5"]
    assert all(p.decode_ok for c in res.curves for p in c.points)
    against = {(c.curve, c.anchor) for c in res.comparisons}
    assert ("mean-scale-vr+refine4", "mean-scale-vr") in against
    assert ("mean-scale+refine4", "mean-scale") in against
    (c,) = [c for c in res.comparisons if c.curve == "mean-scale-vr+refine4"]
    assert c.bd_rate_psnr is not None
    # encode time recorded for every refined entry (it includes the refinement)
    refined = [r for r in rows(out) if "+refine" in r["curve"]]
    assert len(refined) == 2 * (1 + 3) and all(float(r["enc_s"]) > 0 for r in refined)
    summary = (out / "summary.md").read_text()
    assert "mean-scale-vr+refine4" in summary
    assert evaluate.run(cfg).computed == 0
