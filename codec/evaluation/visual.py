"""What report.html shows: for a few images, our reconstruction and every
classical codec's at the setting whose rate on *that image* is nearest ours.

results.csv keeps numbers, not pixels, so the chosen entries are coded again
(every codec here is deterministic: the same bytes, hence the same pixels
and the same bpp / PSNR / SSIMULACRA 2 as the row that labels them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import api
from . import classical
from .html_report import ImageView, caption, view
from .report import Row
from ..image import load_rgb


@dataclass(frozen=True)
class Reference:
    """The learned entry the others are matched to."""

    curve: str
    setting: str
    label: str
    checkpoint: Path
    model: str
    quality: float         # a fixed-rate checkpoint's own index, or a variable-rate model's quality
    variable: bool = False


def pick_images(images: tuple[Path, ...], count: int) -> list[Path]:
    """``count`` images spread over the sorted list (first, ..., last)."""
    if count <= 0 or not images:
        return []
    idx = np.unique(np.round(np.linspace(0, len(images) - 1, min(count, len(images)))).astype(int))
    return [images[i] for i in idx]


def nearest_setting(rows: dict[tuple[str, str, str], Row], curve: str, settings: list[str], image: str,
                    bpp: float) -> str | None:
    """The setting of ``curve`` whose bpp on ``image`` is nearest ``bpp``."""
    have = [(abs(rows[(curve, s, image)].bpp - bpp), s) for s in settings if (curve, s, image) in rows]
    return min(have)[1] if have else None


def build_views(images: list[Path], ref: Reference, codecs: tuple[classical.ClassicalCodec, ...],
                rows: dict[tuple[str, str, str], Row], device: str | None = None) -> list[ImageView]:
    """One ImageView per image: original, ours, then each codec in order."""
    model = api.load_model(ref.checkpoint, ref.model, None if ref.variable else ref.quality, device)
    views = []
    for path in images:
        ours = rows.get((ref.curve, ref.setting, path.name))
        if ours is None:
            continue
        rgb = load_rgb(path, quiet=True)
        tiles = [(ref.curve, ref.label, caption(ours.bpp, ours.psnr, ours.ssimulacra2),
                  api.compress_full(rgb, model, quality=ref.quality).reconstruction)]
        for c in codecs:
            s = nearest_setting(rows, c.name, [classical.format_setting(v) for v in c.settings], path.name, ours.bpp)
            if s is None:
                continue
            r = rows[(c.name, s, path.name)]
            rec = c.decode(c.encode(rgb, float(s)))
            tiles.append((c.name, f"{c.label}, {c.setting_name} {s}", caption(r.bpp, r.psnr, r.ssimulacra2), rec))
        views.append(view(path.name, rgb, tiles))
    return views
