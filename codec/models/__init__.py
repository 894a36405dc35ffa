"""Model registry: one table of name -> class, stable numeric id, defaults.

The id is written into every file header; it never changes for a name.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CodecError
from .base import CodecModel
from .factorized import FactorizedPrior
from .hyperprior import ScaleHyperprior
from .meanscale import MeanScaleHyperprior


@dataclass(frozen=True)
class ModelEntry:
    name: str
    cls: type
    model_id: int
    paper: str


_ENTRIES = (
    ModelEntry("factorized", FactorizedPrior, 1, "Balle et al. 2017/2018, factorized prior"),
    ModelEntry("hyperprior", ScaleHyperprior, 2, "Balle et al. 2018, scale hyperprior"),
    ModelEntry("mean-scale", MeanScaleHyperprior, 3, "Minnen et al. 2018, mean-scale hyperprior"),
)


def _build_registry(entries) -> dict[str, ModelEntry]:
    reg: dict[str, ModelEntry] = {}
    ids: set[int] = set()
    for e in entries:
        if e.name in reg or e.model_id in ids:
            raise ValueError(f"duplicate model name or id: {e.name} / {e.model_id}")
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


def build(name: str, N: int, M: int) -> CodecModel:
    return entry(name).cls(N=N, M=M)
