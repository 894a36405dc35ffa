"""Every CLI argument is checked: one line and exit 2 for bad input, one line
and exit 1 (traceback only on request) for an internal error; outputs are
regular files made with the user's umask; nothing a user owns is replaced."""
from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec import image as image_io
from codec.cli import main
from codec.errors import BadImage
from codec.training.config import Config
from conftest import natural_like


@pytest.fixture()
def png(tmp_path) -> Path:
    p = tmp_path / "in.png"
    Image.fromarray(natural_like(24, 30)).save(p)
    return p


def one_line(capsys, code: int, args) -> str:
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args, words", [
    (["--seed", "-5", "--quantizer", "uq"], "seed -5 is outside"),
    (["--seed", str(1 << 64), "--quantizer", "uq"], "seed 18446744073709551616 is outside"),
    (["--seed", "seven", "--quantizer", "uq"], "seed must be an integer"),
    (["--seed", "3"], "--seed is the dither seed of --quantizer uq"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--quality", "-1"], "quality -1 is outside"),
    (["--quality", "256"], "quality 256 is outside"),
    (["--quantizer", "magic"], "invalid choice"),
])
def test_bad_compress_arguments(tmp_path, png, env_ckpts, capsys, args, words):
    out = tmp_path / "o.lic"
    err = one_line(capsys, 2, ["compress", str(png), "-o", str(out), *args])
    assert words in err and err.startswith("codec: error:")
    assert not out.exists()


def test_largest_seed_is_accepted(tmp_path, png, env_ckpts, capsys):
    out = tmp_path / "o.lic"
    assert main(["compress", str(png), "-o", str(out), "--quantizer", "uq", "--seed", str((1 << 64) - 1)]) == 0
    assert main(["info", str(out)]) == 0
    assert f"seed {(1 << 64) - 1}" in capsys.readouterr().out


def test_absent_gpu_is_one_line(tmp_path, png, env_ckpts, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("machine has a GPU")
    assert "no GPU" in one_line(capsys, 2, ["compress", str(png), "-o", str(tmp_path / "o.lic"),
                                            "--device", "cuda"])


@pytest.mark.parametrize("special", ["/dev/null", "dir"])
@pytest.mark.parametrize("force", [False, True])
def test_special_files_and_folders_are_refused_as_outputs(tmp_path, png, env_ckpts, capsys, special, force):
    target = Path(special) if special.startswith("/") else tmp_path
    if not target.exists():
        pytest.skip(f"{target} absent")
    before = target.stat()
    err = one_line(capsys, 2, ["compress", str(png), "-o", str(target)] + (["--force"] if force else []))
    assert "special file" in err or "directory" in err
    after = target.stat()
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino


def test_output_equal_to_input_is_refused(png, env_ckpts, capsys):
    assert "also the input" in one_line(capsys, 2, ["compress", str(png), "-o", str(png), "--force"])


def test_internal_error_is_one_line_exit_1_and_traceback_on_request(tmp_path, png, env_ckpts, capsys,
                                                                     monkeypatch):
    from codec import api

    def boom(*a, **k):
        raise RuntimeError("simulated bug\nsecond line")
    monkeypatch.setattr(api, "compress", boom)
    args = ["compress", str(png), "-o", str(tmp_path / "o.lic")]
    err = one_line(capsys, 1, args)
    assert "internal error: RuntimeError: simulated bug" in err and "--debug" in err
    assert main(args + ["--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("CODEC_DEBUG", "1")
    assert main(args) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_respect_the_umask(tmp_path, png, env_ckpts, umask, mode):
    old = os.umask(umask)
    try:
        lic, rec = tmp_path / "o.lic", tmp_path / "o.png"
        assert main(["compress", str(png), "-o", str(lic)]) == 0
        assert main(["decompress", str(lic), "-o", str(rec)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(lic.stat().st_mode) == mode
    assert stat.S_IMODE(rec.stat().st_mode) == mode


def _png16(path: Path, a: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow cannot write one), filter type Sub on every row."""
    h, w, _ = a.shape
    raw = a.astype(">u2").reshape(h, -1).view(np.uint8).astype(np.int64)
    sub = raw.copy()
    sub[:, 6:] = (raw[:, 6:] - raw[:, :-6]) % 256
    body = b"".join(b"\x01" + sub[i].astype(np.uint8).tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b""))


def test_16bit_rgb_is_rounded_like_16bit_gray_with_a_note(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 65536, (9, 13, 3)).astype(np.uint16)
    a[0, 0] = (127, 128, 65535)          # v >> 8 and round(v * 255 / 65535) differ here
    p = tmp_path / "rgb16.png"
    _png16(p, a)
    got = image_io.load_rgb(p)
    np.testing.assert_array_equal(got, np.round(a * 255.0 / 65535.0).astype(np.uint8))
    assert "16-bit input reduced to 8 bits" in capsys.readouterr().err
    g = tmp_path / "gray16.png"
    Image.fromarray(a[..., 0].astype(np.uint16)).save(g)
    np.testing.assert_array_equal(image_io.load_rgb(g, quiet=True)[..., 0], got[..., 0])


def _png_header_only(path: Path, w: int, h: int) -> None:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("w, h", [(10000, 10000), (13000, 13000), (16384, 16000)])
def test_large_images_meet_our_limit_not_pillows(tmp_path, recwarn, w, h):
    """Refused from the header with our message: no Pillow bomb warning or error."""
    p = tmp_path / "big.png"
    _png_header_only(p, w, h)
    with pytest.raises(BadImage, match="Mpx exceeds the limit") as e:
        image_io.load_rgb(p, max_pixels=1 << 24)
    assert "bomb" not in str(e.value).lower()
    assert not [w for w in recwarn if "DecompressionBomb" in type(w.message).__name__]


def test_pillow_bomb_guard_restored_after_loading(tmp_path):
    from PIL import Image as PILImage
    before = PILImage.MAX_IMAGE_PIXELS
    p = tmp_path / "s.png"
    Image.fromarray(natural_like(8, 8)).save(p)
    image_io.load_rgb(p)
    assert PILImage.MAX_IMAGE_PIXELS == before


def test_training_refuses_to_export_over_an_existing_checkpoint(tmp_path):
    """Checked before any training step: the README's own config keeps the shipped model."""
    from codec.errors import OutputExists
    from codec.training.train import train
    cfg = Config()
    cfg.train.out = str(tmp_path / "run")
    cfg.train.export = str(tmp_path / "shipped.pt")
    (tmp_path / "shipped.pt").write_bytes(b"the shipped model")
    with pytest.raises(OutputExists):
        train(cfg, log=lambda s: None)
    assert (tmp_path / "shipped.pt").read_bytes() == b"the shipped model"


def test_export_command_needs_force(tmp_path, capsys):
    existing = tmp_path / "out.pt"
    existing.write_bytes(b"keep me")
    err = one_line(capsys, 2, ["export", str(tmp_path / "run.pt"), str(existing)])
    assert "exists" in err and existing.read_bytes() == b"keep me"
