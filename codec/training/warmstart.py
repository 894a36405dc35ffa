"""Warm start (``train.init``): another checkpoint's weights before training.

The usual shortcuts: continue a finished run with a new schedule, fine-tune a
lower-rate model from a higher-rate one, and start a variable-rate model from
the fixed-rate model of the same family (so no compute already spent on it is
thrown away). Optimizer state and step are never taken, and frozen coding
tables are ignored (they are rebuilt at export).

From a fixed-rate checkpoint into its variable-rate form the transforms and
entropy model are taken and the gain units keep their initialisation, under
which every gain is exactly 1 at the reference anchor (``model.quality``).
The fixed model's quality must therefore be that anchor: the variable-rate
model then codes at it exactly as the fixed model did (tested), and the other
anchors start from the high-rate step-size law.
"""
from __future__ import annotations

import dataclasses

import torch

from .. import checkpoint as ckpt_io, models
from ..errors import CodecError
from .config import Config

GAINS = "gains."   # state-dict prefix of the gain units (codec.models.variable_rate)


def warm_start(net: torch.nn.Module, cfg: Config, path: str) -> None:
    """Load the weights of checkpoint ``path`` (run or shipped form) into ``net``
    (built from ``cfg.model``) as fp32. The architecture must match exactly
    (the family config apart from the informative quality), or ``path`` must
    hold the fixed-rate form of ``net``'s variable-rate family at the same
    N/M and at the reference quality; anything else is one-line error."""
    c = ckpt_io.load(path)
    theirs_cfg = c.model_config()
    mine, theirs = _architecture(cfg.model), _architecture(theirs_cfg)
    if _is_fixed_form_of(theirs_cfg.name, cfg.model.name):
        fixed_mine = {k: v for k, v in mine.items() if k in theirs and k != "name"}
        if fixed_mine != {k: v for k, v in theirs.items() if k != "name"}:
            raise CodecError(f"train.init {path} holds {_describe(theirs)}, the config asks for "
                             f"{_describe(mine)}")
        if theirs_cfg.quality != cfg.model.quality:
            raise CodecError(f"train.init {path} is {theirs_cfg.name} at quality {theirs_cfg.quality}; a "
                             f"variable-rate warm start needs model.quality (the reference anchor, where "
                             f"every gain is 1) = {theirs_cfg.quality}, the config has {cfg.model.quality}")
    elif mine != theirs:
        raise CodecError(f"train.init {path} holds {_describe(theirs)}, the config asks for {_describe(mine)}")
    result = net.load_state_dict(c.build_model().state_dict(), strict=False)
    left = [k for k in result.missing_keys if not k.startswith(GAINS)] + list(result.unexpected_keys)
    if left:
        raise CodecError(f"train.init {path}: weights do not fit the model ({left[0]})")


def _is_fixed_form_of(name: str, vr_name: str) -> bool:
    """True when registry family ``name`` is the fixed-rate base of variable-rate family ``vr_name``."""
    base = getattr(models.entry(vr_name).cls, "base", None)
    return base is not None and models.entry(name).cls is base


def _architecture(m: models.ModelConfig) -> dict:
    """What decides the weights' shapes: every model field but the quality."""
    return {k: v for k, v in dataclasses.asdict(m).items() if k != "quality"}


def _describe(arch: dict) -> str:
    return " ".join([arch["name"]] + [f"{k}={v}" for k, v in arch.items() if k != "name"])
