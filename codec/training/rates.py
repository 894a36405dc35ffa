"""The rate a training step trains at, and the rates validation measures.

A fixed-rate model trains at one lambda (``train.lmbda``) and is validated
there. A variable-rate model (codec.models.variable_rate) trains every
example at its own quality q ~ U[q_min, q_max] (continuous), drawn from the
run's crop generator, whose state is checkpointed, so a resumed run draws the
same qualities; its lambda is ``lmbda_at(q)``, the one lambda table the gains
are interpolated over (``train.lmbda`` is not used). Validation measures a
variable-rate model at each integer anchor q_min..q_max, and ranks weights
(best.pt, the campaign's held-out score) by the mean over the anchors of the
loss, so that no single rate is favoured.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..models.variable_rate import is_variable_rate, lmbda_at
from .config import TrainConfig


class RateSetting(NamedTuple):
    """One point a model is measured at: its quality (None: a fixed-rate model's
    only rate) and the lambda the loss weighs distortion with there."""

    quality: float | None
    lmbda: float

    @property
    def tag(self) -> str:
        """TensorBoard tag prefix below val/: "" (fixed rate) or "q3/"."""
        return "" if self.quality is None else f"q{self.quality:g}/"

    def apply(self, net: torch.nn.Module) -> None:
        """Set a variable-rate model to this quality (coding gains); no-op when fixed."""
        if self.quality is not None:
            net.set_quality(float(self.quality))


def anchors(net: torch.nn.Module, train: TrainConfig) -> list[RateSetting]:
    """The settings validation and held-out scoring measure: a fixed-rate
    model's own lambda, or every anchor q_min..q_max of a variable-rate model."""
    if not is_variable_rate(net):
        return [RateSetting(None, float(train.lmbda))]
    lo, hi = net.quality_range
    return [RateSetting(float(q), float(lmbda_at(float(q)))) for q in range(lo, hi + 1)]


def batch_lambdas(net: torch.nn.Module, batch: int, train: TrainConfig,
                  generator: torch.Generator) -> float | Tensor:
    """The lambda(s) of one training batch: ``train.lmbda`` for a fixed-rate
    model (nothing is drawn, so fixed-rate runs keep their random streams);
    for a variable-rate model, q ~ U[q_min, q_max] per example from
    ``generator`` is set on the model (differentiable gains) and the (B,)
    float32 lambdas lmbda_at(q) are returned."""
    if not is_variable_rate(net):
        return train.lmbda
    lo, hi = net.quality_range
    q = lo + (hi - lo) * torch.rand(batch, generator=generator, dtype=torch.float64)
    net.set_quality(q.float())
    return lmbda_at(q).float()
