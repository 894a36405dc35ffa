"""Frozen scale table: integer-indexed Gaussian pmfs for integer-arithmetic files.

The integer hyper-synthesis (``codec.models.integer``) outputs a scale as an
integer v at 2^-F. Coding with a Gaussian of that scale would bring floats
back (erf in the range coder, libm-dependent); instead the scale picks a row
of this table by integer comparisons, and the row is a pmf in integer counts:

* scales s_j, j = 0..n-1, log-spaced from 0.11 (the training scale bound) to
  256; row j is the quantized Gaussian N(0, s_j) over the symbols
  [-R_j, R_j], R_j = max(1, ceil(5.5 s_j)), as counts >= 1 summing to 2^16;
* index(v) = #{ j : t_j <= v } with integer thresholds t_j = ceil(2^F *
  sqrt(s_j s_{j+1})), the geometric midpoints: the nearest scale in log.

The table is a committed file (``codec/data/scale_table_v1.npz``) pinned by
SHA-256 below, so no machine ever recomputes it; ``scripts/make_scale_table.py``
regenerates it from this module's ``generate`` and ``--check`` compares.

Coding rule for a conditional latent of integer-arithmetic files (rounding):
symbols k = round(y - mu) over the section's alphabet [lo, hi] (widened to
contain -1..1); elements are coded grouped by scale index, in increasing
index and raster order within a group, each group with its row placed in
[lo, hi] and normalized by its exact integer sum (symbols outside the row get
constriction's smallest probability, 2^-24, so nothing is ever clipped).
Universal quantization: the row depends on the dither, so the table's scale
s_j (an exact float64 from the file) and mean -u go to the range coder's
quantized Gaussian, as for float files.
"""
from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from torch import Tensor

from . import rangecoder
from .container import Section
from .entropy import CodedLatent, FrozenGaussian, _alphabet, _check_section
from .errors import CorruptFile
from .quantize import dequantize, quantize

TABLE_FILE = "data/scale_table_v1.npz"
TABLE_SHA256 = "dabeb229e8a1ab9fb18346124537ed1fb81b1317aa85218993c43c40e318c405"
NUM_SCALES = 128
SCALE_MIN, SCALE_MAX = 0.11, 256.0
PRECISION = 16                # each row's counts sum to 2^16
TAIL_SIGMAS = 5.5
FRAC_BITS = 12                # must equal codec.models.integer.FRAC_BITS


@dataclass(frozen=True)
class ScaleTable:
    """scales (n,) float64; thresholds (n-1,) int64 at 2^-F; per row j its
    first symbol start[j] (int32) and counts[offsets[j]:offsets[j+1]] (uint16)."""

    scales: np.ndarray
    thresholds: np.ndarray
    start: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    frac_bits: int

    def index(self, v: Tensor) -> Tensor:
        """Scale index (int64, same shape) of integer scales v (int64 at 2^-F)."""
        t = torch.from_numpy(self.thresholds).to(v.device)
        return torch.bucketize(v.to(torch.int64), t, right=True)

    def scale_of(self, index: Tensor) -> Tensor:
        """The table's scales (float64) at the given indices."""
        return torch.from_numpy(self.scales)[index.cpu()]

    def row(self, j: int, lo: int, hi: int) -> np.ndarray:
        """Row j placed in the alphabet [lo, hi], normalized (float64, exact-sum)."""
        c = self.counts[self.offsets[j]:self.offsets[j + 1]].astype(np.int64)
        s = int(self.start[j])
        out = np.zeros(hi - lo + 1, dtype=np.float64)
        a, b = max(lo, s), min(hi, s + len(c) - 1)
        if a > b:
            raise CorruptFile("section alphabet does not meet the scale table")
        part = c[a - s:b - s + 1]
        out[a - lo:b - lo + 1] = part
        return out / float(part.sum())

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scales": self.scales, "thresholds": self.thresholds, "start": self.start,
                "offsets": self.offsets, "counts": self.counts,
                "frac_bits": np.array(self.frac_bits, dtype=np.int64)}


def _bin_mass(k: int, s: float) -> float:
    """P(round(X) = k), X ~ N(0, s), computed on the tail side for accuracy."""
    k, r = abs(k), s * math.sqrt(2.0)
    if k == 0:
        return 1.0 - math.erfc(0.5 / r)
    return 0.5 * (math.erfc((k - 0.5) / r) - math.erfc((k + 0.5) / r))


def _counts(s: float) -> np.ndarray:
    """Integer counts >= 1 over [-R, R] summing to 2^PRECISION, largest-remainder rounding."""
    R = max(1, math.ceil(TAIL_SIGMAS * s))
    p = np.array([_bin_mass(k, s) for k in range(-R, R + 1)])
    p /= p.sum()
    total = 1 << PRECISION
    free = total - len(p)
    exact = p * free
    c = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - c), kind="stable")
    c[order[: free - int(c.sum())]] += 1
    return c + 1


def generate() -> ScaleTable:
    """Build the table from its definition (only the regeneration script calls this)."""
    scales = SCALE_MIN * (SCALE_MAX / SCALE_MIN) ** (np.arange(NUM_SCALES) / (NUM_SCALES - 1))
    thresholds = np.ceil(np.sqrt(scales[:-1] * scales[1:]) * (1 << FRAC_BITS)).astype(np.int64)
    rows = [_counts(float(s)) for s in scales]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    start = np.array([-(len(r) // 2) for r in rows], dtype=np.int32)
    counts = np.concatenate(rows)
    assert counts.max() < (1 << 16)
    return ScaleTable(scales, thresholds, start, offsets, counts.astype(np.uint16), FRAC_BITS)


def table_bytes() -> bytes:
    return resources.files("codec").joinpath(TABLE_FILE).read_bytes()


@lru_cache(maxsize=1)
def load() -> ScaleTable:
    """The committed table, refused unless its SHA-256 is the pinned one."""
    raw = table_bytes()
    if hashlib.sha256(raw).hexdigest() != TABLE_SHA256:
        raise CorruptFile(f"{TABLE_FILE} is not the pinned scale table (SHA-256 mismatch)")
    with np.load(io.BytesIO(raw)) as z:
        t = ScaleTable(z["scales"], z["thresholds"], z["start"], z["offsets"], z["counts"],
                       int(z["frac_bits"]))
    if t.frac_bits != FRAC_BITS:
        raise CorruptFile("scale table fixed-point resolution does not match the integer network")
    return t


class IndexedGaussian:
    """Coding state of a conditional latent under integer arithmetic.

    index: (1, C, H, W) int64 scale-table indices; means: (1, C, H, W) float32,
    exact (from the integer network). Same interface as ``FrozenGaussian``.
    """

    def __init__(self, table: ScaleTable | None = None):
        self.t = table or load()

    @staticmethod
    def _groups(index: Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coding order: element positions sorted by (index, raster), and the groups."""
        idx = index.reshape(-1).cpu().numpy()
        order = np.argsort(idx, kind="stable")
        js, counts = np.unique(idx[order], return_counts=True)
        return order, js, counts

    def encode(self, y: Tensor, index: Tensor, means: Tensor, offset: Tensor | None) -> CodedLatent:
        if offset is not None:
            return FrozenGaussian().encode(y, self.t.scale_of(index), means, offset)
        k = quantize(y.float().cpu(), means, None)
        ki = k.reshape(-1).to(torch.int64).numpy()
        lo, hi = _alphabet(min(int(ki.min()), -1), max(int(ki.max()), 1))
        order, js, counts = self._groups(index)
        enc, bits, pos = rangecoder.Encoder(), 0.0, 0
        for j, n in zip(js, counts):
            s = (ki[order[pos:pos + n]] - lo).astype(np.int32)
            row = self.t.row(int(j), lo, hi)
            enc.categorical(s, row)
            bits -= float(np.log2(np.maximum(row[s], 2.0 ** -24)).sum())
            pos += n
        section = Section(tuple(y.shape[1:]), lo, hi, enc.finish())
        return CodedLatent(dequantize(k, means, None), section, bits)

    def decode(self, section: Section, index: Tensor, means: Tensor, offset: Tensor | None) -> Tensor:
        if offset is not None:
            return FrozenGaussian().decode(section, self.t.scale_of(index), means, offset)
        _check_section(section, tuple(index.shape))
        order, js, counts = self._groups(index)
        dec = rangecoder.Decoder(section.payload)
        k = np.empty(order.shape[0], dtype=np.int64)
        pos = 0
        for j, n in zip(js, counts):
            k[order[pos:pos + n]] = dec.categorical(int(n), self.t.row(int(j), section.lo, section.hi))
            pos += n
        dec.check_exhausted()
        k = torch.from_numpy((k + section.lo).astype(np.float32)).reshape(index.shape)
        return dequantize(k, means, None)
