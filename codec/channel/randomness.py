"""Shared randomness: uniforms addressed by (seed, stream, index), the same everywhere.

Encoder and decoder of a channel simulation must see the same random numbers
without exchanging them.  A counter-based generator makes this cheap and
order-free: numpy's Philox-4x64 with key ``(seed, stream)`` produces one block
of four 64-bit words per counter value, so block ``i`` is a pure function of
``(seed, stream, i)``.  The decoder can jump straight to proposal ``i`` (O(1),
no replay), batches and single look-ups give the same words, and the words are
fixed by the Philox algorithm (numpy guarantees the bit stream of
``random_raw``), hence identical across processes, machines and platforms.

Numpy's Philox increments its counter *before* producing a block, so
``Philox(counter=[i, 0, 0, 0]).random_raw(4 * m)`` yields blocks ``i .. i+m-1``
of our addressing; this is checked by the tests.

Uniforms are made from the top 53 bits of a word as ``(w >> 11) + 0.5`` times
``2**-53``: exact in float64, strictly inside (0, 1), so ``log`` and ``ndtri``
never see 0 or 1.  Derived variates (exponentials, normals) go through libm
``log`` and scipy's ``ndtri``; those are deterministic on one platform and agree
to the last bit on common ones, but IEEE does not require it (documented limit).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BadParameter

WORDS_PER_BLOCK = 4
_U64 = 2 ** 64


def _check_u64(name: str, v: int) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise BadParameter(f"{name} must be an integer, got {type(v).__name__}")
    v = int(v)
    if not 0 <= v < _U64:
        raise BadParameter(f"{name} must be in [0, 2**64), got {v}")
    return v


@dataclass(frozen=True)
class SharedRandomness:
    """Blocks of four uniforms per index for one ``(seed, stream)`` pair.

    ``stream`` separates independent uses of one seed (e.g. one per latent
    dimension); ``index`` is the proposal number (PFR, global GPRS) or the
    depth (branch-and-bound).
    """

    seed: int
    stream: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", _check_u64("seed", self.seed))
        object.__setattr__(self, "stream", _check_u64("stream", self.stream))

    def words(self, start: int, count: int) -> np.ndarray:
        """Raw uint64 words, shape (count, 4): row j is block ``start + j``."""
        start, count = _check_u64("start", start), int(count)
        if count < 0 or start + count > _U64:
            raise BadParameter("block range outside [0, 2**64)")
        gen = np.random.Philox(key=[self.seed, self.stream], counter=[start, 0, 0, 0])
        return gen.random_raw(WORDS_PER_BLOCK * count).reshape(count, WORDS_PER_BLOCK)

    def uniforms(self, start: int, count: int) -> np.ndarray:
        """Uniforms in (0, 1), shape (count, 4), float64, exact multiples of 2**-54."""
        w = self.words(start, count)
        return ((w >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def exponentials(u: np.ndarray) -> np.ndarray:
    """Exp(1) variates from uniforms in (0, 1) by inversion (-log u)."""
    return -np.log(u)
