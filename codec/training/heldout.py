"""Held-out scoring through real files: what a checkpoint really achieves.

The training loss is an estimate (noisy latents, likelihoods instead of
bytes). To decide whether new weights are better, each held-out image goes
through the shipped path: weights rounded to fp16 and frozen coding tables
(``checkpoint.for_inference``), the range coder, the container, and the
decoder; bpp comes from the file's length, PSNR from the decoded 8-bit image.

    loss = lambda * MSE_255 + bpp

averaged over images (MSE_255: mean squared error on the 0..255 scale,
lambda: the checkpoint's train.lmbda), the same trade-off the model trains
on, so a lower held-out loss means a better rate-distortion point. A
variable-rate checkpoint is scored at each anchor q_min..q_max with
lambda = lmbda_at(q), and its loss is the mean over the anchors (the same
criterion as its training validation, codec/training/rates.py).
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
from ..models.variable_rate import lmbda_at
from .data import list_images, read_names


@dataclass(frozen=True)
class HeldoutScore:
    """Mean figures over the held-out images (per-image averages). A
    variable-rate checkpoint is scored at each anchor (``anchors``, each with
    its ``quality``); its own figures are then the means over the anchors."""

    loss: float     # lambda * MSE_255 + bpp
    bpp: float      # 8 * file bytes / pixels
    psnr: float     # dB on 8-bit RGB, mean of per-image PSNR
    mse255: float   # mean squared error, 0..255 scale
    images: int
    quality: float | None = None            # the quality coded at (a variable-rate model at one setting)
    anchors: tuple["HeldoutScore", ...] = ()

    def to_dict(self) -> dict:
        d = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()
             if k not in ("quality", "anchors")}
        if self.quality is not None:
            d["quality"] = self.quality
        if self.anchors:
            d["anchors"] = [a.to_dict() for a in self.anchors]
        return d


def heldout_paths(train_folder: str | Path, holdout_file: str | Path) -> list[Path]:
    """The images of ``train_folder`` named in ``holdout_file`` (all must exist)."""
    names = set(read_names(holdout_file))
    paths = [p for p in list_images(train_folder) if p.stem in names]
    missing = names - {p.stem for p in paths}
    if missing:
        raise CodecError(f"held-out image '{sorted(missing)[0]}' not found in {train_folder}")
    return paths


def shipped_form(checkpoint: ckpt_io.Checkpoint) -> ckpt_io.Checkpoint:
    """The checkpoint as it would ship (run weights exported to fp16 first)."""
    return checkpoint if checkpoint.tables and checkpoint.train_state is None \
        else ckpt_io.for_inference(checkpoint)


@torch.no_grad()
def score(checkpoint: ckpt_io.Checkpoint, paths: list[Path], lmbda: float | None = None) -> HeldoutScore:
    """Score a checkpoint (run or shipped form) on ``paths``, on the CPU.

    Fixed rate: at ``lmbda`` (default: the checkpoint's train.lmbda). Variable
    rate: at every anchor q_min..q_max with lambda = lmbda_at(q); the loss is
    the mean over the anchors of lmbda_at(q) * MSE_255 + bpp (``lmbda`` must
    be None: the anchors carry their own)."""
    shipped = shipped_form(checkpoint)
    model = api.model_from_checkpoint(shipped, "cpu")
    r = model.quality_range
    if r is None:
        lmbda = float((shipped.config.get("train") or {})["lmbda"] if lmbda is None else lmbda)
        return _measure(model, _images(paths), None, lmbda)
    if lmbda is not None:
        raise CodecError("a variable-rate checkpoint is scored at its anchors' own lambdas; pass no lmbda")
    points = score_at(model, paths, [float(q) for q in range(r[0], r[1] + 1)])
    k = len(points)
    return HeldoutScore(sum(p.loss for p in points) / k, sum(p.bpp for p in points) / k,
                        sum(p.psnr for p in points) / k, sum(p.mse255 for p in points) / k,
                        points[0].images, None, tuple(points))


@torch.no_grad()
def score_at(model: api.LoadedModel, paths: list[Path], qualities: list[float]) -> list[HeldoutScore]:
    """A variable-rate model at each of ``qualities`` (real numbers in its
    range), each scored with its own lambda, lmbda_at(q)."""
    images = _images(paths)
    return [_measure(model, images, q, float(lmbda_at(q))) for q in qualities]


def _images(paths: list[Path]) -> list[np.ndarray]:
    if not paths:
        raise CodecError("no held-out images to score")
    return [load_rgb(p, quiet=True) for p in paths]


def _measure(model: api.LoadedModel, images: list[np.ndarray], quality: float | None,
             lmbda: float) -> HeldoutScore:
    """Every image through a real file and back at one rate setting."""
    bpp, mse = [], []
    for rgb in images:
        data = api.compress(rgb, model, quality=quality)
        decoded = api.decompress(data, model)
        bpp.append(8 * len(data) / (rgb.shape[0] * rgb.shape[1]))
        mse.append(float(np.mean((decoded.astype(np.float64) - rgb.astype(np.float64)) ** 2)))
    m_bpp, m_mse = float(np.mean(bpp)), float(np.mean(mse))
    psnr = float(np.mean([10 * math.log10(255 ** 2 / max(e, 1e-10)) for e in mse]))
    return HeldoutScore(lmbda * m_mse + m_bpp, m_bpp, psnr, m_mse, len(images), quality)


def score_file(path: str | Path, paths: list[Path], lmbda: float | None = None) -> HeldoutScore:
    return score(ckpt_io.load(path), paths, lmbda)
