"""Held-out scoring through real files: what a checkpoint really achieves.

The training loss is an estimate (noisy latents, likelihoods instead of
bytes). To decide whether new weights are better, each held-out image goes
through the shipped path: weights rounded to fp16 and frozen coding tables
(``checkpoint.for_inference``), the range coder, the container, and the
decoder; bpp comes from the file's length, PSNR from the decoded 8-bit image.

    loss = lambda * MSE_255 + bpp

averaged over images (MSE_255: mean squared error on the 0..255 scale,
lambda: the checkpoint's train.lmbda), the same trade-off the model trains
on, so a lower held-out loss means a better rate-distortion point.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import api
from .. import checkpoint as ckpt_io
from ..errors import CodecError
from ..image import load_rgb
from .data import list_images, read_names


@dataclass(frozen=True)
class HeldoutScore:
    """Mean figures over the held-out images (per-image averages)."""

    loss: float     # lambda * MSE_255 + bpp
    bpp: float      # 8 * file bytes / pixels
    psnr: float     # dB on 8-bit RGB, mean of per-image PSNR
    mse255: float   # mean squared error, 0..255 scale
    images: int

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def heldout_paths(train_folder: str | Path, holdout_file: str | Path) -> list[Path]:
    """The images of ``train_folder`` named in ``holdout_file`` (all must exist)."""
    names = set(read_names(holdout_file))
    paths = [p for p in list_images(train_folder) if p.stem in names]
    missing = names - {p.stem for p in paths}
    if missing:
        raise CodecError(f"held-out image '{sorted(missing)[0]}' not found in {train_folder}")
    return paths


@torch.no_grad()
def score(checkpoint: ckpt_io.Checkpoint, paths: list[Path], lmbda: float | None = None) -> HeldoutScore:
    """Score a checkpoint (run or shipped form; run weights are exported to
    the shipped fp16 form first) on ``paths``, on the CPU."""
    if not paths:
        raise CodecError("no held-out images to score")
    shipped = checkpoint if checkpoint.tables and checkpoint.train_state is None \
        else ckpt_io.for_inference(checkpoint)
    lmbda = float((shipped.config.get("train") or {})["lmbda"] if lmbda is None else lmbda)
    model = api.model_from_checkpoint(shipped, "cpu")
    bpp, mse = [], []
    for p in paths:
        rgb = load_rgb(p, quiet=True)
        data = api.compress(rgb, model)
        decoded = api.decompress(data, model)
        bpp.append(8 * len(data) / (rgb.shape[0] * rgb.shape[1]))
        mse.append(float(np.mean((decoded.astype(np.float64) - rgb.astype(np.float64)) ** 2)))
    m_bpp, m_mse = float(np.mean(bpp)), float(np.mean(mse))
    psnr = float(np.mean([10 * math.log10(255 ** 2 / max(e, 1e-10)) for e in mse]))
    return HeldoutScore(lmbda * m_mse + m_bpp, m_bpp, psnr, m_mse, len(paths))


def score_file(path: str | Path, paths: list[Path], lmbda: float | None = None) -> HeldoutScore:
    return score(ckpt_io.load(path), paths, lmbda)
