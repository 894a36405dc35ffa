"""The learning rate as a pure function of the config and the step.

No scheduler object and no schedule state in checkpoints: the rate at step s
is ``learning_rate(cfg.train, s)``, so

* a resumed run continues on exactly the curve it was on (same config), and
* a changed ``train.lr`` / schedule takes effect on ``--resume`` (the config
  is the single source of truth), which is how the campaign adjusts a run.

Shapes of the curve (``s`` counts finished steps, 0-based):

    warm-up     s < warmup:          lr * (s + 1) / warmup
    "step"      lr * lr_gamma ** (number of lr_milestones <= s)
    "cosine"    s < decay_from:      lr
                otherwise            lr_min + (lr - lr_min) * (1 + cos(pi * f)) / 2,
                                     f = (s - decay_from) / (steps - decay_from)
    "constant"  lr
"""
from __future__ import annotations

import math

from .config import SCHEDULES, TrainConfig

__all__ = ["SCHEDULES", "learning_rate"]


def learning_rate(t: TrainConfig, step: int) -> float:
    """Learning rate for the optimizer step taken after ``step`` finished steps."""
    if t.lr_schedule == "step":
        lr = t.lr * t.lr_gamma ** sum(1 for m in t.lr_milestones if m <= step)
    elif t.lr_schedule == "cosine":
        span = max(t.steps - t.decay_from, 1)
        f = min(max((step - t.decay_from) / span, 0.0), 1.0)
        lr = t.lr_min + (t.lr - t.lr_min) * 0.5 * (1 + math.cos(math.pi * f))
    else:
        lr = t.lr
    if step < t.warmup:
        lr *= (step + 1) / t.warmup
    return lr
