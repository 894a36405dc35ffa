"""One checkpoint schema for every model and purpose.

A checkpoint is a ``torch.save`` of plain containers and tensors, loaded with
``weights_only=True`` (no pickled code runs):

    schema        int, CHECKPOINT_SCHEMA
    model         registry name
    config        the resolved config (dict of dicts)
    state_dict    weights (fp16 in shipped checkpoints, fp32 while training)
    tables        frozen coding tables, or {} before freezing
    card          model card: data, steps, lambda, measured Kodak figures
    train_state   optional: optimizers, scheduler, step, RNG states
    meta          package version, git commit; shipped checkpoints also
                  their digest (hex), for cheap lookup (codec.shipped)

The model is rebuilt from ``config`` (never guessed from weight shapes). The
digest written into files is SHA-256 over the stored weights and tables, so a
file made with other weights is recognised before decoding.
"""
from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import checkpoint_schema, models
from .entropy import FrozenTables
from .errors import BadCheckpoint, CodecError
from .fsio import atomic_open
from .version import __version__

CHECKPOINT_SCHEMA = 1


@dataclass
class Checkpoint:
    model: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    tables: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> bytes:
        """8-byte SHA-256 prefix over weights and tables, in key order."""
        h = hashlib.sha256()
        for prefix, d in (("w", self.state_dict), *((f"t.{k}", v) for k, v in sorted(self.tables.items()))):
            for k in sorted(d):
                t = d[k].detach().cpu().contiguous()
                h.update(f"{prefix}.{k}:{t.dtype}:{tuple(t.shape)}".encode())
                h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        return h.digest()[:8]

    def model_config(self) -> models.ModelConfig:
        """The family's config dataclass, from ``config["model"]`` (name from ``model``)."""
        try:
            return models.config_from_dict({**(self.config.get("model") or {}), "name": self.model})
        except BadCheckpoint:
            raise
        except (CodecError, TypeError, AttributeError) as e:
            raise BadCheckpoint(f"checkpoint model config is invalid: {e}") from None

    def build_model(self) -> models.CodecModel:
        """Rebuild the model from the config, load weights (as fp32) and tables."""
        net = models.build(self.model_config())
        sd = {k: v.float() if v.is_floating_point() else v for k, v in self.state_dict.items()}
        sd = {k: v for k, v in sd.items() if k in net.state_dict()}
        missing = [k for k in net.state_dict() if k not in sd and not k.split(".")[-1].startswith("_")]
        if missing:
            raise BadCheckpoint(f"checkpoint lacks weights for {missing[0]} (and {len(missing) - 1} more)")
        try:
            net.load_state_dict(sd, strict=False)
        except RuntimeError as e:
            raise BadCheckpoint(f"checkpoint weights do not fit model '{self.model}': {str(e).splitlines()[0]}") from None
        if self.tables:
            try:
                net.load_tables(FrozenTables.from_dict(self.tables))
            except (KeyError, AttributeError, TypeError) as e:
                raise BadCheckpoint(f"checkpoint tables do not fit model '{self.model}' ({e})") from None
        return net.eval()


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_meta() -> dict[str, str]:
    return {"version": __version__, "commit": git_commit()}


def save(ckpt: Checkpoint, path: str | Path) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"schema": CHECKPOINT_SCHEMA, "model": ckpt.model, "config": ckpt.config,
               "state_dict": ckpt.state_dict, "tables": ckpt.tables, "card": ckpt.card,
               "train_state": ckpt.train_state, "meta": ckpt.meta}
    with atomic_open(path) as f:
        torch.save(payload, f)


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint without executing pickled code; BadCheckpoint on any problem."""
    path = Path(path)
    if not path.is_file():
        raise BadCheckpoint(f"checkpoint not found: {path}")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for damaged files
        raise BadCheckpoint(f"checkpoint {path} is unreadable or corrupt ({type(e).__name__})") from None
    if not isinstance(d, dict) or d.get("schema") != CHECKPOINT_SCHEMA:
        raise BadCheckpoint(f"checkpoint {path} is not of schema {CHECKPOINT_SCHEMA}")
    checkpoint_schema.validate(d, str(path))   # every field typed and bounded before building
    try:
        models.entry(d["model"])
        return Checkpoint(d["model"], d["config"], d["state_dict"], d.get("tables") or {},
                          d.get("card") or {}, d.get("train_state"), d.get("meta") or {})
    except (KeyError, TypeError) as e:
        raise BadCheckpoint(f"checkpoint {path} lacks field {e}") from None


def for_inference(ckpt: Checkpoint, half: bool = True) -> Checkpoint:
    """Strip training state, round weights to fp16 and freeze tables from the
    rounded weights (so coding tables match exactly what is shipped)."""
    sd = {k: (v.half() if half and v.is_floating_point() else v).clone()
          for k, v in ckpt.state_dict.items() if not k.split(".")[-1].startswith("_")}
    tmp = Checkpoint(ckpt.model, ckpt.config, sd)
    net = tmp.build_model()
    tables = net.freeze().to_dict()
    out = Checkpoint(ckpt.model, ckpt.config, sd, tables, dict(ckpt.card), None, dict(ckpt.meta))
    out.meta["digest"] = out.digest().hex()   # read by codec.shipped without hashing (verified there)
    return out
