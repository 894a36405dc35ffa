"""Training data: a folder of images held in memory, random crops and flips.

Images are decoded once (Pillow), converted to 8-bit RGB and kept as uint8
arrays: the training set here is a few hundred photos (~300 MB decoded), and
decoding WebP every step would cost more than the model on a 2-core CPU.
Sampling uses one torch.Generator whose state goes into checkpoints, so a
resumed run draws exactly the crops it would have drawn.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..image import IMAGE_SUFFIXES, load_rgb, pad
from ..errors import CodecError


@dataclass
class FolderStats:
    found: int = 0
    unreadable: int = 0
    padded: int = 0
    skipped_small: int = 0


def list_images(folder: str | Path) -> list[Path]:
    """All image files under ``folder``, recursively, in a stable order."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_names(path: str | Path) -> list[str]:
    """Image names (file stems), one a line; blank lines and '#' comments ignored."""
    names = [ln.split("#", 1)[0].strip() for ln in Path(path).read_text().splitlines()]
    return [n for n in names if n]


def split_holdout(paths: list[Path], holdout: int, holdout_files: str = "") -> tuple[list[Path], list[Path]]:
    """(training, held-out) images of one pool.

    With ``holdout_files`` the held-out images are those named in that file
    (a fixed set, independent of how the pool grows; every name must be
    found); otherwise every len/k-th image, k = ``holdout``.
    """
    if holdout_files:
        names = read_names(holdout_files)
        held = [p for p in paths if p.stem in set(names)]
        missing = sorted(set(names) - {p.stem for p in held})
        if missing:
            raise CodecError(f"held-out image '{missing[0]}' of {holdout_files} is not in the training folder")
    else:
        k = min(holdout, max(0, len(paths) - 1))
        held = paths[::max(1, len(paths) // max(k, 1))][:k]
    held_set = set(held)
    return [p for p in paths if p not in held_set], held


class ImageBank:
    """Decoded training images (uint8, (H, W, 3)) with crop sampling."""

    def __init__(self, paths: list[Path], crop: int, small: str = "pad"):
        self.crop = crop
        self.stats = FolderStats(found=len(paths))
        self.images: list[np.ndarray] = []
        for p in paths:
            try:
                img = load_rgb(p, quiet=True)
            except CodecError as e:
                warnings.warn(f"skipping unreadable image {p}: {e}")
                self.stats.unreadable += 1
                continue
            h, w = img.shape[:2]
            if h < crop or w < crop:
                if small == "skip":
                    self.stats.skipped_small += 1
                    continue
                img = np.pad(img, ((0, max(0, crop - h)), (0, max(0, crop - w)), (0, 0)), mode="reflect"
                             if min(h, w) > 1 else "edge")
                self.stats.padded += 1
            self.images.append(img)
        if not self.images:
            raise CodecError("no usable training images found")

    def batch(self, n: int, gen: torch.Generator) -> Tensor:
        """n random crops with random horizontal/vertical flips: (n, 3, crop, crop) in [0, 1]."""
        idx = torch.randint(len(self.images), (n,), generator=gen)
        out = torch.empty(n, 3, self.crop, self.crop)
        for i, j in enumerate(idx.tolist()):
            img = self.images[j]
            h, w = img.shape[:2]
            top = int(torch.randint(h - self.crop + 1, (1,), generator=gen))
            left = int(torch.randint(w - self.crop + 1, (1,), generator=gen))
            c = torch.from_numpy(img[top:top + self.crop, left:left + self.crop]).permute(2, 0, 1)
            flips = torch.rand(2, generator=gen)
            if flips[0] < 0.5:
                c = c.flip(2)
            if flips[1] < 0.5:
                c = c.flip(1)
            out[i] = c.float() / 255.0
        return out


def centre_crops(paths: list[Path], size: int, stride: int) -> Tensor:
    """Square centre crops of a common side (at most ``size``) for validation,
    padded (edge replicate) to a multiple of the model's ``stride``
    (``model.stride``): (n, 3, S, S) in [0, 1]."""
    imgs = [load_rgb(p, quiet=True) for p in paths]
    if not imgs:
        raise CodecError("no validation images")
    s = min([size] + [min(a.shape[:2]) for a in imgs])
    crops = []
    for a in imgs:
        t, l = (a.shape[0] - s) // 2, (a.shape[1] - s) // 2
        crops.append(torch.from_numpy(a[t:t + s, l:l + s].copy()).permute(2, 0, 1).float() / 255)
    return pad(torch.stack(crops), stride)
