"""Type and bound every field of a loaded checkpoint before anything is built.

``torch.load(weights_only=True)`` guarantees that no pickled code runs, not
that the result has our structure: a checkpoint may hold a config stored as a
string, a state-dict value that is not a tensor, tables without their keys,
or N = 100000 (which would make the model allocate ~160 GB). ``validate``
checks the plain dict ``torch.load`` returned, so every such problem is one
``BadCheckpoint`` line naming the field, before a model is constructed:

    schema       int                           (checked by checkpoint.load)
    model        str, a registry name
    config       dict of sections (dicts) of plain values; config["model"]
                 N and M ints in 1..MAX_CHANNELS, quality int in 0..QUALITY_MAX;
                 variable-rate models: anchors 1 <= q_min <= quality <= q_max <= 8
    state_dict   dict str -> Tensor, at most MAX_STATE_TENSORS entries, each
                 at most MAX_TENSOR_ELEMENTS elements, floating ones finite
    tables       dict density name -> {"medians": (C,) float, "start": (C,)
                 int, "pmf": (C, L) float}, finite, pmf >= 0 with positive rows,
                 2 <= L <= MAX_TABLE_LENGTH, C matching the density's
                 ``<name>.quantiles`` (C, 1, 3) in the state dict; optionally
                 "grid": (C, CDF_GRID * (L + 2)) float, finite, >= 0, rows
                 with mass (the CDF grid of a dithered latent, codec.entropy)
    card, meta   dict (or absent);  train_state  dict or None
"""
from __future__ import annotations

from typing import Any

import torch

from . import models
from .entropy import CDF_GRID
from .errors import BadCheckpoint, CodecError
from .models.variable_rate import check_anchors
from .limits import MAX_ALPHABET, MAX_CHANNELS, MAX_STATE_TENSORS, MAX_TABLE_LENGTH, QUALITY_MAX

MAX_TENSOR_ELEMENTS = 1 << 26    # > the largest conv of N = M = 1024 (1024*1024*25)
_PLAIN = (str, int, float, bool, type(None))
TABLE_KEYS = ("medians", "start", "pmf")


def _fail(where: str, what: str) -> BadCheckpoint:
    return BadCheckpoint(f"checkpoint {where}: {what}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_plain(value: Any, field: str, where: str, depth: int = 0) -> None:
    """Config values: scalars, or (short) lists of scalars."""
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)) and depth == 0 and len(value) <= 1024:
        for v in value:
            _check_plain(v, field, where, 1)
        return
    raise _fail(where, f"config field {field} has a value of type {type(value).__name__}")


def check_config(config: Any, where: str) -> None:
    if not isinstance(config, dict):
        raise _fail(where, f"config is a {type(config).__name__}, not a table of sections")
    for section, body in config.items():
        if not isinstance(section, str) or not isinstance(body, dict):
            raise _fail(where, f"config section {section!r} is not a table")
        for key, value in body.items():
            if not isinstance(key, str):
                raise _fail(where, f"config section {section} has a non-string key")
            _check_plain(value, f"{section}.{key}", where)
    m = config.get("model", {})
    for key in ("N", "M"):
        if key in m and not (_is_int(m[key]) and 1 <= m[key] <= MAX_CHANNELS):
            raise _fail(where, f"model.{key} = {m[key]!r} is outside 1..{MAX_CHANNELS}")
    if "quality" in m and not (_is_int(m["quality"]) and 0 <= m["quality"] <= QUALITY_MAX):
        raise _fail(where, f"model.quality = {m['quality']!r} is outside 0..{QUALITY_MAX}")
    if "q_min" in m or "q_max" in m:   # a variable-rate model's anchors
        anchors = [m.get("q_min"), m.get("q_max"), m.get("quality", 3)]
        if not all(_is_int(v) for v in anchors):
            raise _fail(where, "model.q_min, model.q_max and model.quality must be integers")
        problem = check_anchors(*anchors)
        if problem:
            raise _fail(where, f"model {problem}")


def _finite(t: torch.Tensor) -> bool:
    return not t.is_floating_point() or bool(torch.isfinite(t.float()).all())


def check_state_dict(sd: Any, where: str) -> None:
    if not isinstance(sd, dict):
        raise _fail(where, f"state_dict is a {type(sd).__name__}, not a dict of tensors")
    if len(sd) > MAX_STATE_TENSORS:
        raise _fail(where, f"state_dict has {len(sd)} entries (at most {MAX_STATE_TENSORS})")
    for k, v in sd.items():
        if not isinstance(k, str):
            raise _fail(where, "state_dict has a non-string key")
        if not isinstance(v, torch.Tensor):
            raise _fail(where, f"state_dict[{k!r}] is a {type(v).__name__}, not a tensor")
        if v.numel() > MAX_TENSOR_ELEMENTS:
            raise _fail(where, f"state_dict[{k!r}] has {v.numel()} elements (at most {MAX_TENSOR_ELEMENTS})")
        if not _finite(v):
            raise _fail(where, f"state_dict[{k!r}] holds NaN or infinite values")


def check_tables(tables: Any, sd: dict, where: str) -> None:
    if not isinstance(tables, dict):
        raise _fail(where, f"tables is a {type(tables).__name__}, not a dict")
    for name, t in tables.items():
        if not isinstance(t, dict) or any(not isinstance(t.get(k), torch.Tensor) for k in TABLE_KEYS):
            raise _fail(where, f"table {name!r} lacks tensors {', '.join(TABLE_KEYS)}")
        med, start, pmf = (t[k] for k in TABLE_KEYS)
        if med.ndim != 1 or not med.is_floating_point() or not 1 <= med.numel() <= MAX_CHANNELS:
            raise _fail(where, f"table {name}: medians must be (C,) float with 1 <= C <= {MAX_CHANNELS}")
        C = med.numel()
        if start.shape != (C,) or start.is_floating_point() or start.dtype == torch.bool:
            raise _fail(where, f"table {name}: start must be ({C},) integers")
        if pmf.ndim != 2 or pmf.shape[0] != C or not pmf.is_floating_point() \
                or not 2 <= pmf.shape[1] <= MAX_TABLE_LENGTH:
            raise _fail(where, f"table {name}: pmf must be ({C}, L) float with 2 <= L <= {MAX_TABLE_LENGTH}")
        if not (_finite(med) and _finite(pmf)) or bool((pmf < 0).any()) or not bool((pmf.sum(1) > 0).all()):
            raise _fail(where, f"table {name}: values must be finite, pmf rows non-negative with mass")
        _check_grid(t.get("grid"), C, pmf.shape[1], name, where)
        s = start.to(torch.int64)
        if bool((s.abs() > MAX_ALPHABET).any()) or int((s.max() + pmf.shape[1]) - s.min()) > MAX_ALPHABET:
            raise _fail(where, f"table {name}: symbol range exceeds {MAX_ALPHABET}")
        q = sd.get(f"{name}.quantiles")
        if isinstance(q, torch.Tensor) and q.shape[0] != C:
            raise _fail(where, f"table {name}: {C} channels, its density has {q.shape[0]}")


def _check_grid(grid: Any, C: int, L: int, name: str, where: str) -> None:
    if grid is None:
        return
    J = CDF_GRID * (L + 2)
    if not isinstance(grid, torch.Tensor) or tuple(grid.shape) != (C, J) or not grid.is_floating_point():
        raise _fail(where, f"table {name}: grid must be ({C}, {J}) float")
    if not _finite(grid) or bool((grid < 0).any()) or not bool((grid.double().sum(1) > 0).all()):
        raise _fail(where, f"table {name}: grid values must be finite, non-negative, rows with mass")


def validate(d: dict, where: str) -> None:
    """Raise BadCheckpoint (one line) unless ``d`` has the checkpoint structure."""
    model = d.get("model")
    if not isinstance(model, str):
        raise _fail(where, "field 'model' is missing or not a name")
    try:
        models.entry(model)
    except CodecError as e:
        raise _fail(where, str(e)) from None
    for key in ("config", "state_dict"):
        if key not in d:
            raise _fail(where, f"lacks field '{key}'")
    check_config(d["config"], where)
    check_state_dict(d["state_dict"], where)
    check_tables(d.get("tables") or {}, d["state_dict"], where)
    for key in ("card", "meta"):
        if d.get(key) is not None and not isinstance(d[key], dict):
            raise _fail(where, f"field '{key}' is a {type(d[key]).__name__}, not a dict")
    if d.get("train_state") is not None and not isinstance(d["train_state"], dict):
        raise _fail(where, "field 'train_state' is not a dict")
