"""Bad input ends with exit status 2, one line, no traceback, no output left."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.cli import main
from conftest import make_checkpoint, natural_like

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def png(tmp_path) -> Path:
    p = tmp_path / "in.png"
    Image.fromarray(natural_like(40, 52)).save(p)
    return p


@pytest.fixture()
def lic(tmp_path, png, env_ckpts) -> Path:
    out = tmp_path / "in.lic"
    assert main(["compress", str(png), "-o", str(out)]) == 0
    return out


def run_err(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("codec: error:"), err
    return err


def test_compress_decompress_info(tmp_path, lic, capsys):
    out = tmp_path / "out.png"
    assert main(["decompress", str(lic), "-o", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape == (40, 52, 3)
    assert main(["info", str(lic)]) == 0
    text = capsys.readouterr().out
    assert "mean-scale" in text and "52x40" in text and "rounding" in text


def test_universal_quantizer_is_recorded_and_needs_no_flag(tmp_path, png, env_ckpts, capsys):
    out = tmp_path / "uq.lic"
    assert main(["compress", str(png), "-o", str(out), "--quantizer", "uq", "--seed", "7"]) == 0
    assert main(["info", str(out)]) == 0
    assert "universal quantization (seed 7)" in capsys.readouterr().out
    assert main(["decompress", str(out), "-o", str(tmp_path / "uq.png")]) == 0


@pytest.mark.parametrize("damage, message", [
    (lambda d: b"", "empty"),
    (lambda d: d[: len(d) // 2], "truncated"),
    (lambda d: d[:-6] + bytes([d[-6] ^ 1]) + d[-5:], "CRC"),
])
def test_damaged_file(tmp_path, lic, capsys, damage, message):
    bad = tmp_path / "bad.lic"
    bad.write_bytes(damage(lic.read_bytes()))
    out = tmp_path / "bad.png"
    assert message in run_err(["decompress", str(bad), "-o", str(out)], capsys)
    assert not out.exists()


def test_png_passed_to_decompress(tmp_path, png, env_ckpts, capsys):
    assert "magic" in run_err(["decompress", str(png), "-o", str(tmp_path / "x.png")], capsys)


def test_header_claiming_huge_image(tmp_path, lic, capsys):
    d = bytearray(lic.read_bytes())
    d[17:21] = d[21:25] = (100000).to_bytes(4, "little")
    bad = tmp_path / "huge.lic"
    bad.write_bytes(bytes(d))
    assert "100000x100000" in run_err(["decompress", str(bad), "-o", str(tmp_path / "x.png")], capsys)


def test_file_made_with_other_weights(tmp_path, lic, capsys):
    other = make_checkpoint("mean-scale", tmp_path / "other.pt", seed=99)
    err = run_err(["decompress", str(lic), "-o", str(tmp_path / "x.png"), "--checkpoint", str(other)], capsys)
    assert "other weights" in err


def test_missing_and_corrupt_checkpoint(tmp_path, png, capsys):
    assert "not found" in run_err(["compress", str(png), "-o", str(tmp_path / "a.lic"),
                                   "--checkpoint", str(tmp_path / "nope.pt")], capsys)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not a checkpoint")
    assert "corrupt" in run_err(["compress", str(png), "-o", str(tmp_path / "a.lic"),
                                 "--checkpoint", str(bad)], capsys)
    assert not (tmp_path / "a.lic").exists()


def test_unshipped_model_quality_names_what_is_shipped(tmp_path, png, env_ckpts, capsys):
    shipped = sorted(p.stem for p in env_ckpts.glob("*-q*.pt"))
    err = run_err(["compress", str(png), "-o", str(tmp_path / "a.lic"), "--quality", "7"], capsys)
    assert "no shipped checkpoint for mean-scale quality 7" in err and shipped[0] in err
    assert not (tmp_path / "a.lic").exists()


def test_non_image_passed_to_compress(tmp_path, env_ckpts, capsys):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    assert "not a readable image" in run_err(["compress", str(txt), "-o", str(tmp_path / "n.lic")], capsys)
    assert not (tmp_path / "n.lic").exists()


def test_existing_output_needs_force(tmp_path, png, lic, capsys):
    before = lic.read_bytes()
    assert "exists" in run_err(["compress", str(png), "-o", str(lic)], capsys)
    assert lic.read_bytes() == before
    assert main(["compress", str(png), "-o", str(lic), "--force"]) == 0


def test_console_script_exit_status_and_no_traceback(tmp_path, env_ckpts):
    """The real process: status 2 and a single stderr line."""
    bad = tmp_path / "empty.lic"
    bad.write_bytes(b"")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "codec.cli", "decompress", str(bad), "-o", str(tmp_path / "o.png")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.strip() == "codec: error: file is empty"
