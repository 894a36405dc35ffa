"""Images: file <-> uint8 array <-> float tensor, and the only padding code.

Everything the codec compresses is 8-bit RGB. Other modes are converted with
a one-line note on stderr: grayscale and palette to RGB, RGBA/LA to RGB with
alpha dropped, 16-bit to 8-bit (rounded: v * 255 / 65535). Sides above
``container.MAX_SIDE`` are refused before decoding pixels.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from .container import MAX_SIDE
from .errors import BadImage

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"}


def _note(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"note: {msg}", file=sys.stderr)


def load_rgb(path: str | Path, quiet: bool = False) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, converting with a note."""
    path = Path(path)
    try:
        im = Image.open(path)
        w, h = im.size
        if w > MAX_SIDE or h > MAX_SIDE:
            raise BadImage(f"{path}: {w}x{h} exceeds the {MAX_SIDE}x{MAX_SIDE} limit")
        im.load()
    except FileNotFoundError:
        raise BadImage(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadImage(f"{path}: not a readable image ({type(e).__name__})") from None
    return to_rgb8(im, str(path), quiet)


def to_rgb8(im: Image.Image, name: str = "image", quiet: bool = False) -> np.ndarray:
    """Convert a Pillow image of any mode to (H, W, 3) uint8 RGB."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        _note(f"{name}: 16-bit input reduced to 8 bits", quiet)
        g = np.clip(np.round(a * 255.0 / top), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        _note(f"{name}: alpha channel dropped ({mode} -> RGB)", quiet)
    elif mode in ("L", "1", "P"):
        _note(f"{name}: {'grayscale' if mode in ('L', '1') else 'palette'} input converted to RGB", quiet)
    else:
        _note(f"{name}: {mode} input converted to RGB", quiet)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def to_tensor(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(255.0)


def to_uint8(x: Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> (H, W, 3) uint8, rounded and clipped."""
    return x[0].detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def pad(x: Tensor, stride: int) -> Tensor:
    """Pad (B, C, H, W) on the bottom/right to multiples of ``stride`` (edge replicate)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


def crop(x: Tensor, height: int, width: int) -> Tensor:
    """Undo ``pad``: keep the top-left height x width."""
    return x[..., :height, :width]


def save(rgb: np.ndarray, path: str | Path) -> None:
    """Write uint8 RGB; the format follows the suffix (PNG when none is known)."""
    path = Path(path)
    fmt = None if path.suffix.lower() in IMAGE_SUFFIXES else "PNG"
    Image.fromarray(rgb, "RGB").save(path, format=fmt)
