"""Images: file <-> uint8 array <-> float tensor, and the only padding code.

Everything the codec compresses is 8-bit RGB. Other modes are converted with
a one-line note on stderr: grayscale and palette to RGB, RGBA/LA to RGB with
alpha dropped, 16-bit to 8-bit (rounded: round(v * 255 / 65535)), for
grayscale and for RGB(A) alike. Pillow reads 16-bit RGB PNGs as 8-bit RGB by
keeping the high byte; ``_rgb16`` decodes the same data a second time keeping
the low byte instead (the PNG unfiltering is identical for both, 6 bytes per
pixel), so the full 16-bit values are rounded like grayscale's.

Size: sides above ``limits.MAX_SIDE`` and more pixels than the caller's limit
(``limits.max_pixels`` of the model) are refused from the image header,
before any pixel is decoded. That check replaces Pillow's decompression-bomb
guard (a warning above 89 Mpx, an error naming "decompression bomb" above 179
Mpx), which is switched off while our own limit is in force.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from .errors import BadImage
from .limits import MAX_SIDE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"}


def _note(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"note: {msg}", file=sys.stderr)


def load_rgb(path: str | Path, quiet: bool = False, max_pixels: int = MAX_SIDE * MAX_SIDE) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, converting with a note.

    The size is checked from the header against MAX_SIDE and ``max_pixels``
    before decoding; BadImage (one line) for anything unreadable or too large."""
    path = Path(path)
    if path.is_dir():
        raise BadImage(f"{path}: is a folder, not an image")
    bomb_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None          # our own limit below replaces Pillow's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        w, h = im.size
        if w > MAX_SIDE or h > MAX_SIDE:
            raise BadImage(f"{path}: {w}x{h} exceeds the {MAX_SIDE}x{MAX_SIDE} limit")
        if w * h > max_pixels:
            raise BadImage(f"{path}: {w}x{h} = {w * h / 1e6:.1f} Mpx exceeds the limit of "
                           f"{max_pixels / 1e6:.1f} Mpx for this model (see codec.limits)")
        wide = _rgb16(im, path)
        im.load()
    except FileNotFoundError:
        raise BadImage(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadImage(f"{path}: not a readable image ({type(e).__name__})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = bomb_limit
    if wide is not None:
        return rgb16_to_rgb8(wide, str(path), quiet)
    return to_rgb8(im, str(path), quiet)


def _rgb16(im: Image.Image, path: Path) -> np.ndarray | None:
    """Full 16-bit values (H, W, 3) uint16 of a 16-bit RGB/RGBA PNG, else None.

    Pillow decodes such a PNG with raw mode 'RGB;16B' into 8-bit RGB (high
    bytes); decoding a second copy with 'RGB;16L' yields the low bytes."""
    tiles = getattr(im, "tile", None) or []
    if im.format != "PNG" or len(tiles) != 1 or tiles[0].codec_name != "zip":
        return None
    raw = tiles[0].args
    if raw not in ("RGB;16B", "RGBA;16B"):
        return None
    low_mode = raw.replace("16B", "16L")
    with Image.open(path) as lo:
        lo.tile = [lo.tile[0]._replace(args=low_mode)]
        lo.load()
        low = np.asarray(lo, dtype=np.uint16)[..., :3]
    im.load()
    high = np.asarray(im, dtype=np.uint16)[..., :3]
    return (high << 8) | low


def rgb16_to_rgb8(rgb16: np.ndarray, name: str = "image", quiet: bool = False) -> np.ndarray:
    """(H, W, 3) uint16 -> uint8 by round(v * 255 / 65535), with the same note as grayscale."""
    _note(f"{name}: 16-bit input reduced to 8 bits", quiet)
    return _round16(rgb16)


def _round16(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a.astype(np.float64) * 255.0 / 65535.0), 0, 255).astype(np.uint8)


def to_rgb8(im: Image.Image, name: str = "image", quiet: bool = False) -> np.ndarray:
    """Convert a Pillow image of any mode to (H, W, 3) uint8 RGB."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        _note(f"{name}: 16-bit input reduced to 8 bits", quiet)
        g = _round16(a) if top == 65535.0 else np.clip(np.round(a), 0, 255).astype(np.uint8)
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
    return torch.from_numpy(np.require(rgb, requirements=["C", "W"])).permute(2, 0, 1)[None].float().div_(255.0)


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
