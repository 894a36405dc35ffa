"""Model registry: one line per family (name, class, config dataclass, stable
numeric id, paper), and the one way to build a model: ``build(config)``.

The id is written into every file header; it never changes for a name. Adding
a family is its model file plus one line in ``_ENTRIES``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..container import MAX_SECTIONS
from ..errors import BadCheckpoint, CodecError
from .base import CodecModel, Geometry, LatentQuantizer, Latents, LatentShape, ModelConfig, TransformConfig, hard_quantizer
from .factorized import FactorizedPrior
from .hyperprior import ScaleHyperprior
from .meanscale import MeanScaleHyperprior
from .variable_rate import VariableRateConfig, variable_rate

__all__ = ["CodecModel", "Geometry", "Latents", "LatentQuantizer", "hard_quantizer", "LatentShape", "ModelConfig", "TransformConfig", "ModelEntry",
           "registry", "entry", "entry_by_id", "default_config", "config_for", "config_from_dict", "build"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    cls: type[CodecModel]
    config_cls: type[ModelConfig]
    model_id: int
    paper: str

    @property
    def variable_rate(self) -> bool:
        """True for a family with gain units (one checkpoint covers a quality range)."""
        return self.config_cls is VariableRateConfig


_ENTRIES = (
    ModelEntry("factorized", FactorizedPrior, TransformConfig, 1, "Balle et al. 2017/2018, factorized prior"),
    ModelEntry("hyperprior", ScaleHyperprior, TransformConfig, 2, "Balle et al. 2018, scale hyperprior"),
    ModelEntry("mean-scale", MeanScaleHyperprior, TransformConfig, 3, "Minnen et al. 2018, mean-scale hyperprior"),
    ModelEntry("factorized-vr", variable_rate(FactorizedPrior), VariableRateConfig, 4, "factorized prior, gain units (Cui et al. 2021)"),
    ModelEntry("hyperprior-vr", variable_rate(ScaleHyperprior), VariableRateConfig, 5, "scale hyperprior, gain units (Cui et al. 2021)"),
    ModelEntry("mean-scale-vr", variable_rate(MeanScaleHyperprior), VariableRateConfig, 6, "mean-scale hyperprior, gain units (Cui et al. 2021)"),
)


def _build_registry(entries) -> dict[str, ModelEntry]:
    """Name -> entry, checking what every family must satisfy."""
    reg: dict[str, ModelEntry] = {}
    ids: set[int] = set()
    for e in entries:
        if e.name in reg or e.model_id in ids:
            raise ValueError(f"duplicate model name or id: {e.name} / {e.model_id}")
        if not 1 <= e.model_id < 1 << 16:
            raise ValueError(f"model id {e.model_id} of {e.name} does not fit the header's u16")
        if not 1 <= len(e.cls.latent_paths) <= MAX_SECTIONS:
            raise ValueError(f"{e.name} codes {len(e.cls.latent_paths)} latents; a file holds 1..{MAX_SECTIONS}")
        if not issubclass(e.config_cls, ModelConfig):
            raise ValueError(f"{e.name}: config class must extend ModelConfig")
        reg[e.name] = e
        ids.add(e.model_id)
    return reg


def registry() -> dict[str, ModelEntry]:
    return _build_registry(_ENTRIES)


def entry(name: str) -> ModelEntry:
    reg = registry()
    if name not in reg:
        raise CodecError(f"unknown model '{name}' (known: {', '.join(reg)})")
    return reg[name]


def entry_by_id(model_id: int) -> ModelEntry:
    for e in _ENTRIES:
        if e.model_id == model_id:
            return e
    raise CodecError(f"unknown model id {model_id} in file header")


def default_config(name: str) -> ModelConfig:
    """The family's config with its defaults."""
    return entry(name).config_cls(name=name)


def config_for(name: str, carry: ModelConfig | None = None) -> ModelConfig:
    """Config of family ``name``; fields it shares with ``carry`` keep carry's values
    (so changing ``model.name`` keeps N, M and quality)."""
    cfg = default_config(name)
    if carry is not None:
        mine = {f.name for f in dataclasses.fields(cfg)} - {"name"}
        for f in dataclasses.fields(carry):
            if f.name in mine:
                setattr(cfg, f.name, getattr(carry, f.name))
    return cfg


def config_from_dict(d: dict[str, Any]) -> ModelConfig:
    """A stored model config (checkpoint ``config["model"]``) -> the family's dataclass."""
    if not isinstance(d, dict) or "name" not in d:
        raise BadCheckpoint("checkpoint config lacks the model name")
    cls = entry(d["name"]).config_cls
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise BadCheckpoint(f"model config of '{d['name']}' has unknown field '{unknown[0]}'")
    return cls(**d)


def build(config: ModelConfig) -> CodecModel:
    """The model a config describes (fresh weights, not frozen)."""
    e = entry(config.name)
    if type(config) is not e.config_cls:
        config = config_for(config.name, config)
    return e.cls(config)
