"""Checkpoint discovery: which trained models ship, and which one a file needs.

The shipped checkpoints live in ``checkpoints/`` of the repository, or in the
folder named by ``$CODEC_CHECKPOINTS``. A fixed-rate model is
``<model>-q<quality>.pt``; any other ``<name>.pt`` (a variable-rate model, one
file for a whole curve) is found too and named by its stem.

A file's header names its weights by an 8-byte digest (``codec.checkpoint``).
Finding the checkpoint a file needs must not build every candidate model (that
costs a second or more per candidate, and would run every candidate's weights
through ``load_state_dict``): ``index()`` reads each candidate's model name,
quality and digest from the stored dict only. ``Checkpoint.digest`` is a hash
of the stored tensors, computed without building anything; shipped
checkpoints also carry it in ``meta["digest"]`` (written at export), which is
trusted only for the lookup: the chosen checkpoint's digest is recomputed
before it is used, so a stale field can cost a miss, never a wrong decode.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as ckpt_io
from .errors import BadCheckpoint

_FIXED_RATE = re.compile(r"(.+)-q(\d+)")


def checkpoint_dir() -> Path:
    """The folder of shipped checkpoints ($CODEC_CHECKPOINTS, else the repository's)."""
    env = os.environ.get("CODEC_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


def checkpoint_path(model: str, quality: int | None = None) -> Path:
    """Where the shipped checkpoint of a fixed-rate model/quality (or, with no
    quality, the one-file model ``<model>.pt``) lives."""
    stem = model if quality is None else f"{model}-q{quality}"
    return checkpoint_dir() / f"{stem}.pt"


@dataclass(frozen=True)
class ShippedCheckpoint:
    """What discovery knows of one shipped file, without building its model."""

    path: Path
    model: str            # registry name, from the file name's stem
    quality: int | None   # the -q<Q> of a fixed-rate file name, None for one-file models


def shipped_checkpoints() -> list[ShippedCheckpoint]:
    """Every ``*.pt`` in the checkpoint folder, sorted by name (files only)."""
    d = checkpoint_dir()
    out = []
    for p in sorted(d.glob("*.pt")) if d.is_dir() else []:
        if not p.is_file():
            continue
        m = _FIXED_RATE.fullmatch(p.stem)
        out.append(ShippedCheckpoint(p, m.group(1), int(m.group(2))) if m else ShippedCheckpoint(p, p.stem, None))
    return out


def stored_digest(c: ckpt_io.Checkpoint) -> bytes:
    """The digest a checkpoint claims (meta["digest"]) or, lacking it, its hash."""
    claimed = c.meta.get("digest")
    if isinstance(claimed, str) and re.fullmatch(r"[0-9a-f]{16}", claimed):
        return bytes.fromhex(claimed)
    return c.digest()


def find(model: str, digest: bytes, quality_hint: int | None = None) -> Path | None:
    """The shipped checkpoint of registry model ``model`` whose weights digest
    is ``digest``; None if none. Files named for that model (and the hinted
    quality) are tried first; one-file models may be named freely, so every
    other file is tried after them.

    Candidates are loaded as stored dicts (schema-checked, never built); one
    that is unreadable is skipped: it cannot be the one that made the file.
    """
    def order(s: ShippedCheckpoint):
        return (s.model != model, s.quality != quality_hint, s.path.name)

    for s in sorted(shipped_checkpoints(), key=order):
        try:
            c = ckpt_io.load(s.path)
        except BadCheckpoint:
            continue
        if c.model == model and stored_digest(c) == digest and c.digest() == digest:
            return s.path
    return None
