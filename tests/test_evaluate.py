"""The evaluation harness end to end on two small synthetic images: real
files for every entry, the outputs a user reads, resuming without redoing
work, the decode check, and bad input ending with exit status 2 while the
results already written stay as they were."""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.evaluation import classical, evaluate
from codec.cli import main
from codec.evaluation.evaluate import EvalConfig
from conftest import KODAK, natural_like, needs_kodak

CODECS = ("jpeg-420", "webp")
N_CLASSICAL = sum(len(classical.table()[c].settings) for c in CODECS)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The learned models run with torch's threads; on a busy test machine
    spinning threads make tiny convolutions 100x slower."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def folder(tmp_path) -> Path:
    d = tmp_path / "images"
    d.mkdir()
    for i in range(2):   # 168 x 176: large enough for 5-scale MS-SSIM, small enough to be quick
        Image.fromarray(natural_like(168, 176, seed=i)).save(d / f"img{i}.png")
    return d


def config(folder: Path, out: Path, **kw) -> EvalConfig:
    base = dict(models=("factorized", "mean-scale"), codecs=CODECS, anchors=("jpeg-420",), workers=1, progress=False,
                html_images=0)
    return EvalConfig(folder=folder, out=out, **{**base, **kw})


def read_rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_end_to_end_writes_every_output_and_resumes(folder, tmp_path, env_ckpts):
    out = tmp_path / "out"
    res = evaluate.run(config(folder, out, html_images=1))
    total = 2 * (N_CLASSICAL + 2)
    assert res.computed == total and res.reused == 0
    rows = read_rows(out)
    assert len(rows) == total and len({(r["curve"], r["setting"], r["image"]) for r in rows}) == total
    learned = [r for r in rows if r["curve"] in ("factorized", "mean-scale")]
    assert all(r["decode_ok"] == "1" and float(r["est_bpp"]) > 0 for r in learned)
    assert all(float(r["bpp"]) == 8 * int(r["bytes"]) / (168 * 176) for r in rows)
    assert all(float(r["ssimulacra2"]) < 100 for r in rows)
    jpeg = sorted((float(r["bpp"]), float(r["ssimulacra2"])) for r in rows if r["curve"] == "jpeg-420")
    assert jpeg[-1][1] > jpeg[0][1]          # more bits, a better perceptual score

    for name in ("factorized", "mean-scale", "jpeg-420", "webp", "compressai_mbt2018-mean-mse-8bit"):
        assert (out / "curves" / f"{name}.json").is_file(), name
    ms = json.loads((out / "curves" / "mean-scale.json").read_text())
    assert ms["settings"] == ["3"] and ms["images"] == 2 and ms["decode_ok"] == [True]
    webp = json.loads((out / "curves" / "webp.json").read_text())
    (c,) = webp["comparisons"]
    assert c["anchor"] == "jpeg-420" and c["bd_rate_psnr"] is not None
    for png in ("psnr.png", "msssim_db.png", "ssimulacra2.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "n/a (one point)" in summary and "jpeg-420 at equal bpp" in summary
    assert "mbt2018-mean-mse-8bit" in summary and "all equal" in summary
    assert "BD-rate (SSIMULACRA 2)" in summary and "## Complexity" in summary and "kMAC/pixel" in summary
    # not the Kodak folder: published curves drawn (and labelled so), never compared
    assert "left out of the BD-rate table" in summary and "published figures, not runs" in summary
    assert not [c for c in ms["comparisons"] if c["anchor"].startswith("compressai:")]
    assert (out / "curves" / "compressai_vtm.json").is_file()
    page = (out / "report.html").read_text()
    assert page.count('class="tile"') == 1 + 1 + len(CODECS) and "SSIMULACRA 2" in page

    before = (out / "results.csv").read_bytes()
    again = evaluate.run(config(folder, out))
    assert again.computed == 0 and again.reused == total
    assert (out / "results.csv").read_bytes() == before


def test_published_curves_are_compared_only_on_the_kodak_images_by_content(folder, tmp_path, env_ckpts,
                                                                          monkeypatch):
    from codec.evaluation import kodak
    images = sorted(folder.glob("*.png"))
    assert not kodak.is_kodak24(images)
    # pretend these two files are "the Kodak set": the check is by SHA-256, not by name or count alone
    monkeypatch.setattr(kodak, "SHA256", {f"k{i}": kodak.sha256_file(p) for i, p in enumerate(images)})
    assert kodak.is_kodak24(images) and not kodak.is_kodak24(images[:1])
    out = tmp_path / "out"
    res = evaluate.run(config(folder, out, models=("mean-scale",), codecs=("jpeg-420",)))
    against = {(c.curve, c.anchor) for c in res.comparisons}
    assert ("mean-scale", "compressai:mbt2018-mean-mse-8bit") in against
    assert ("compressai:vtm", "jpeg-420") in against
    assert "are in the BD-rate table" in (out / "summary.md").read_text()


def test_interrupted_run_redoes_only_what_is_missing(folder, tmp_path, env_ckpts):
    out = tmp_path / "out"
    evaluate.run(config(folder, out, models=("mean-scale",)))
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    kept = lines[:-5]                                          # lose four rows ...
    (out / "results.csv").write_text("".join(kept) + lines[-5][:17])   # ... and cut one in half
    res = evaluate.run(config(folder, out, models=("mean-scale",)))
    assert res.computed == 5
    rows = read_rows(out)
    assert len(rows) == len(lines) - 1 == len({(r["curve"], r["setting"], r["image"]) for r in rows})


def test_parallel_workers_give_the_same_files(folder, tmp_path):
    one = evaluate.run(config(folder, tmp_path / "one", models=(), codecs=("jpeg-420",)))
    two = evaluate.run(config(folder, tmp_path / "two", models=(), codecs=("jpeg-420",), workers=2))
    assert one.computed == two.computed == 2 * len(classical.table()["jpeg-420"].settings)
    key = lambda r: (r["curve"], r["setting"], r["image"])  # noqa: E731
    a = {key(r): (r["bytes"], r["psnr"]) for r in read_rows(tmp_path / "one")}
    b = {key(r): (r["bytes"], r["psnr"]) for r in read_rows(tmp_path / "two")}
    assert a == b


def test_a_decode_that_differs_is_recorded_and_fails_the_run(folder, tmp_path, env_ckpts, monkeypatch):
    from codec import api
    real = api.decompress
    monkeypatch.setattr(api, "decompress", lambda data, model=None, device=None: real(data, model, device) ^ 1)
    with pytest.raises(evaluate.DecodeMismatch, match="mean-scale q3"):
        evaluate.run(config(folder, tmp_path / "out", models=("mean-scale",), codecs=("jpeg-420",)))
    rows = [r for r in read_rows(tmp_path / "out") if r["curve"] == "mean-scale"]
    assert len(rows) == 2 and all(r["decode_ok"] == "0" for r in rows)
    assert "differed" in (tmp_path / "out" / "summary.md").read_text()


def test_cli_eval_runs(folder, tmp_path, env_ckpts, capsys):
    out = tmp_path / "cli"
    assert main(["eval", str(folder), "--models", "hyperprior", "--codecs", "jpeg-420", "--anchors", "jpeg-420",
                 "--out", str(out), "--workers", "1", "-q"]) == 0
    assert (out / "summary.md").is_file() and "entries coded" in capsys.readouterr().err


def run_err(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("codec: error:"), err
    return err[-1]


def test_bad_input_exits_2_and_leaves_results_intact(folder, tmp_path, env_ckpts, capsys, monkeypatch):
    out = tmp_path / "out"
    assert main(["eval", str(folder), "--models", "mean-scale", "--codecs", "jpeg-420", "--anchors", "jpeg-420",
                 "--out", str(out), "--workers", "1", "-q"]) == 0
    written = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    text_only = tmp_path / "text"
    text_only.mkdir()
    (text_only / "notes.txt").write_text("not an image")
    common = ["--out", str(out), "--workers", "1", "-q"]
    assert "empty" in run_err(["eval", str(empty)] + common, capsys)
    assert "no images" in run_err(["eval", str(text_only)] + common, capsys)
    assert "no such folder" in run_err(["eval", str(tmp_path / "nope")] + common, capsys)
    assert "unknown model 'mean_scale'" in run_err(["eval", str(folder), "--models", "mean_scale"] + common, capsys)
    assert "unknown codec 'jpg2'" in run_err(["eval", str(folder), "--codecs", "jpg2"] + common, capsys)
    assert "unknown anchor" in run_err(["eval", str(folder), "--anchors", "vvc"] + common, capsys)
    assert "no checkpoint" in run_err(["eval", str(folder), "--models", "mean-scale", "--qualities", "8"] + common,
                                      capsys)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    assert "pillow-heif" in run_err(["eval", str(folder), "--models", "none", "--codecs", "hevc"] + common, capsys)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == written


def test_non_images_beside_images_are_skipped_with_a_note(folder, tmp_path, capsys):
    (folder / "README.txt").write_text("Kodak")
    res = evaluate.run(config(folder, tmp_path / "out", models=(), codecs=("jpeg-420",)))
    assert res.computed == 2 * len(classical.table()["jpeg-420"].settings)
    assert "README.txt" in capsys.readouterr().err


def test_a_broken_image_is_bad_input(folder, tmp_path, capsys):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    assert "broken.png" in run_err(["eval", str(folder), "--models", "none", "--codecs", "jpeg-420",
                                    "--anchors", "jpeg-420", "--out", str(tmp_path / "o"), "-q"], capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.kodak
@needs_kodak()
def test_kodak_classical_curves_are_sane(tmp_path):
    res = evaluate.run(EvalConfig(folder=KODAK, out=tmp_path / "k", models=(), codecs=("jpeg-420", "webp"),
                                  anchors=("jpeg-420",), limit=1, workers=1, progress=False))
    by = {c.name: c for c in res.curves}
    for name in ("jpeg-420", "webp"):
        b, p = by[name].column("bpp"), by[name].column("psnr")
        assert np.all(np.diff(b) > 0) and np.all(np.diff(p) > 0) and b[0] < 0.4 and b[-1] > 2
        assert np.all(np.isfinite(by[name].column("ms_ssim")))
    (webp,) = [c for c in res.comparisons if c.curve == "webp"]
    assert webp.bd_rate_psnr < 0 < webp.bd_psnr          # WebP beats JPEG 4:2:0, as everywhere
