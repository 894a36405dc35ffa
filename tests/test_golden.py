"""The bitstream, pinned: complete files from committed inputs.

tests/golden/ holds a 64x48 crop of kodim23 and one small seeded test
checkpoint per family (fixed-rate and variable-rate; the latter coded at a
fractional quality) (never retrained, so retraining the shipped models never
moves these pins), and pins.json: the SHA-256 of every complete .lic file
those checkpoints make of the image (rounding, and universal quantization with
a fixed seed), each checkpoint's weights digest, and the first values of the
dither stream. A code change or a dependency upgrade (torch, numpy's PCG64,
constriction's range coder) that changes a byte fails here; bytes may move
only with a format version bump (scripts/make_golden.py --write refuses
otherwise).
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec import api, container
from codec.metrics import psnr
from codec.quantize import QuantizerKind, dither
from codec.shipped import checkpoint_path

GOLDEN = Path(__file__).resolve().parent / "golden"
PINS = json.loads((GOLDEN / "pins.json").read_text())
FAMILIES = tuple(PINS["digests"])
# PSNR of the shipped default model on the golden image must stay above this
# (measured 35.5 dB with the shipped weights of 2026-12-01, 35.1 dB with the
# campaign's of 2026-12-02; a channel swap gives 16.8 dB, a one-pixel shift
# 28.4 dB): decode == encoder reconstruction alone cannot see a wrong crop or
# a channel swap made on both sides.
SHIPPED_PSNR_FLOOR = 33.0


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.asarray(Image.open(GOLDEN / "image.png").convert("RGB"))


@pytest.fixture(scope="module")
def test_models():
    return {n: api.load_model(GOLDEN / f"{n}.pt", device="cpu") for n in FAMILIES}


def test_pins_are_for_this_format_version():
    assert PINS["format_version"] == container.FORMAT_VERSION, \
        "the format version changed: regenerate the pins (scripts/make_golden.py --write) in the same commit"


def test_golden_image_is_the_committed_crop(image):
    assert image.shape == (48, 64, 3)
    assert hashlib.sha256(image.tobytes()).hexdigest() == PINS["image_sha256"]


def test_dither_stream_is_pinned():
    got = dither(PINS["uq_seed"], 0, (6,)).tolist()
    assert got == PINS["dither"]   # exact: float32 values of numpy's PCG64 stream


@pytest.mark.parametrize("name", sorted(PINS["digests"]))
def test_test_checkpoint_weights_digest_is_pinned(test_models, name):
    assert test_models[name].digest.hex() == PINS["digests"][name]


# Every file is pinned byte for byte, dithered factorized ones included: since
# format 4 they read the frozen CDF grid (pins made with the float32 density
# held on an AMD AVX2 machine but not on an Intel AVX-512 one).
@pytest.mark.parametrize("key", sorted(PINS["files"]))
def test_complete_file_bytes_are_pinned(image, test_models, key):
    name, quantizer = key.split("/")
    q = QuantizerKind[quantizer.upper()]
    res = api.compress_full(image, test_models[name], q,
                            seed=PINS["uq_seed"] if q == QuantizerKind.UNIVERSAL else None,
                            quality=PINS["files"][key].get("quality"))   # variable-rate: fractional
    assert len(res.data) == PINS["files"][key]["bytes"]
    assert hashlib.sha256(res.data).hexdigest() == PINS["files"][key]["sha256"]
    np.testing.assert_array_equal(api.decompress(res.data, test_models[name]), res.reconstruction)


@pytest.fixture(scope="module")
def shipped_reconstruction(image):
    m = api.load_model(checkpoint_path("mean-scale", 3), device="cpu")
    data = api.compress(image, m)
    return api.decompress(data, m)


def test_shipped_model_round_trip_has_its_quality(image, shipped_reconstruction):
    assert shipped_reconstruction.shape == image.shape
    assert psnr(image, shipped_reconstruction) >= SHIPPED_PSNR_FLOOR


def test_the_quality_floor_catches_a_channel_swap_and_a_shifted_crop(image, shipped_reconstruction):
    swapped = shipped_reconstruction[..., ::-1]
    shifted = np.roll(shipped_reconstruction, 1, axis=1)
    assert psnr(image, swapped) < SHIPPED_PSNR_FLOOR
    assert psnr(image, shifted) < SHIPPED_PSNR_FLOOR


def test_command_line_round_trip_keeps_the_quality(image, tmp_path):
    """The same floor through the files a user gets: PNG in, .lic, PNG out."""
    from codec.cli import main
    src, lic, out = tmp_path / "in.png", tmp_path / "in.lic", tmp_path / "out.png"
    Image.fromarray(image).save(src)
    assert main(["compress", str(src), "-o", str(lic), "--device", "cpu"]) == 0
    assert main(["decompress", str(lic), "-o", str(out), "--device", "cpu"]) == 0
    assert psnr(image, np.asarray(Image.open(out).convert("RGB"))) >= SHIPPED_PSNR_FLOOR
