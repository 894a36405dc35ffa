"""JPEG XL through pillow-jxl-plugin (libjxl), for the classical comparisons.

Settings: libjxl's ``quality`` (0..100, mapped by libjxl to a butteraugli
distance), VarDCT lossy mode, **effort 7** (libjxl's default, "squirrel";
effort moves the curve, so the summary states it), no container (a bare
codestream: the smallest file, and what ``cjxl`` writes for a PNG), one
thread for encoding and decoding (timings comparable with the other
single-threaded codecs, and N pool workers fill N cores).

Why this binding: imagecodecs also wraps libjxl but needs numpy >= 2, which
compressai does not allow; pillow-jxl-plugin bundles libjxl in its wheel.
Its licence is GPL-3.0-or-later: it is an optional runtime dependency used
through its public API (nothing of it is copied here), and codec eval runs
without it (the JPEG XL curve is then skipped with a note).
"""
from __future__ import annotations

import io

import numpy as np

EFFORT = 7
LIBRARY = "pillow-jxl-plugin (pip install pillow-jxl-plugin; GPL-3.0-or-later)"


def missing() -> str | None:
    """None when JPEG XL can run here, else why not."""
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
    except ImportError:
        return "it is not installed (pip install pillow-jxl-plugin)"
    return None


def encode(rgb: np.ndarray, quality: float) -> bytes:
    """(H, W, 3) uint8 RGB -> a JPEG XL codestream at libjxl ``quality``."""
    import pillow_jxl  # noqa: F401
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(
        buf, format="JXL", quality=float(quality), effort=EFFORT, lossless=False,
        use_container=False, num_threads=0)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    """A JPEG XL file -> (H, W, 3) uint8 RGB, decoded on one thread."""
    from pillow_jxl import Decoder
    from PIL import Image
    _, info, pixels, _, _ = Decoder(num_threads=0)(data)
    im = Image.frombytes(info.mode, (info.width, info.height), pixels)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def version() -> str | None:
    """'pillow-jxl-plugin X (libjxl, effort 7)' or None when absent."""
    if missing():
        return None
    from importlib.metadata import version as dist_version
    return f"pillow-jxl-plugin {dist_version('pillow-jxl-plugin')} (its bundled libjxl; effort {EFFORT}, one thread)"
