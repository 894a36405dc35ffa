"""The checkpoints that ship: loadable without pickled code, model card
present, exact round trips; on Kodak (when present): rate honesty and the
comparison with JPEG at equal rate."""
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec import api, checkpoint as ckpt_io, container
from codec.shipped import checkpoint_path
from conftest import KODAK, natural_like, needs_kodak

SHIPPED = sorted((Path(__file__).resolve().parents[1] / "checkpoints").glob("*.pt"))
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no shipped checkpoints")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoint_is_complete_and_round_trips(path):
    c = ckpt_io.load(path)
    assert c.train_state is None and c.tables
    for key in ("data", "steps", "lambda"):      # training facts, fixed at export
        assert key in c.card, key
    card = path.with_suffix(".md")                # measured figures: the Markdown card beside it
    assert card.is_file(), "model card file"
    for key in ("kodak_bpp", "kodak_psnr"):
        assert f"| {key} |" in card.read_text(), key
    m = api.load_model(path, device="cpu")
    img = natural_like(77, 129, seed=5)
    res = api.compress_full(img, m)
    np.testing.assert_array_equal(api.decompress(res.data, m), res.reconstruction)


def test_default_model_is_shipped():
    assert checkpoint_path(api.DEFAULT_MODEL, api.DEFAULT_QUALITY).is_file()


def _jpeg_psnr_at(rgb: np.ndarray, bpp: float) -> float:
    """PSNR of Pillow JPEG (4:2:0) at the rate closest to bpp, interpolated over quality."""
    pts = []
    for q in range(5, 96, 5):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=q)
        rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        mse = ((rec.astype(float) - rgb) ** 2).mean()
        pts.append((8 * buf.tell() / (rgb.shape[0] * rgb.shape[1]), 10 * math.log10(255 ** 2 / mse)))
    b, p = zip(*sorted(pts))
    return float(np.interp(bpp, b, p))


@pytest.mark.slow
@pytest.mark.kodak
@needs_kodak()
def test_kodak_rate_honesty_and_beats_jpeg():
    m = api.load_model(device="cpu")
    ours, jpeg, bpps = [], [], []
    for p in sorted(KODAK.glob("*.png")):
        rgb = np.asarray(Image.open(p).convert("RGB"))
        res = api.compress_full(rgb, m)
        _, sections = container.unpack(res.data)
        payload = 8 * sum(len(s.payload) for s in sections)
        assert abs(payload - res.bits) <= 0.01 * res.bits + 64, p.name   # within 1% + word padding
        np.testing.assert_array_equal(api.decompress(res.data, m), res.reconstruction)
        bpp = 8 * len(res.data) / (rgb.shape[0] * rgb.shape[1])
        mse = ((res.reconstruction.astype(float) - rgb) ** 2).mean()
        ours.append(10 * math.log10(255 ** 2 / mse))
        jpeg.append(_jpeg_psnr_at(rgb, bpp))
        bpps.append(bpp)
    assert np.mean(ours) > np.mean(jpeg), (np.mean(bpps), np.mean(ours), np.mean(jpeg))
