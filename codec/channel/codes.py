"""Entropy codes for channel-simulation codes, range-coded with constriction.

Two kinds of symbol occur:

* a positive integer n (a PFR / GPRS index, or a branch-and-bound depth):
  coded by `IntegerPrior`, a discretized Zeta law on the bucket
  k = floor(log2 n) -- P(k) = (k+1)^-s / Z for k = 0..63 -- followed by the k
  bits of n below its leading one, uniform.  Its length is
  k + s log2(k+1) + log2 Z bits, i.e. log2 n + s log2(log2 n + 1) + O(1): the
  shape of the I + log2(I + 1) + O(1) bound, for any I, without the decoder
  knowing I (a Zeta law on n itself would need s tuned to I).
* a branching direction of the branch-and-bound search, coded with the
  P-mass split the decoder already knows: P(left) = u, the uniform that placed
  the split point (see codec.channel.bnb).

`bits` figures are information contents under these laws (what an exact
arithmetic coder spends); the range-coded stream rounds a whole message up to
32-bit words and quantizes probabilities to 24 bits (at least 2^-24 each),
which costs at most a few bits per message.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import constriction
import numpy as np

from .errors import BadParameter, CorruptCode

MAX_BUCKET = 63
_CHUNK = 16
_model = constriction.stream.model


@dataclass(frozen=True)
class IntegerPrior:
    """Law on n >= 1 through the bucket k = floor(log2 n); ``s`` > 0 is its Zeta exponent."""

    s: float = 1.2

    def __post_init__(self) -> None:
        if not (np.isfinite(self.s) and self.s > 0):
            raise BadParameter(f"Zeta exponent must be positive and finite, got {self.s}")

    @cached_property
    def bucket_probs(self) -> np.ndarray:
        w = np.arange(1, MAX_BUCKET + 2, dtype=np.float64) ** -self.s
        return w / w.sum()

    def bits(self, n: int) -> float:
        k = _bucket(n)
        return float(k - np.log2(self.bucket_probs[k]))


def _bucket(n: int) -> int:
    n = int(n)
    if n < 1 or n >= 2 ** (MAX_BUCKET + 1):
        raise BadParameter(f"integer {n} outside [1, 2**64)")
    return n.bit_length() - 1


def direction_bits(right: bool, p_left: float) -> float:
    return float(-np.log2(1.0 - p_left if right else p_left))


class StreamEncoder:
    """One range-coded message holding any sequence of integers and directions."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def integer(self, n: int, prior: IntegerPrior) -> None:
        k = _bucket(n)
        self._enc.encode(np.array([k], np.int32), _model.Categorical(prior.bucket_probs, perfect=False))
        rest, bits = int(n) - (1 << k), k
        while bits > 0:
            c = min(bits, _CHUNK)
            bits -= c
            self._enc.encode(np.array([(rest >> bits) & ((1 << c) - 1)], np.int32), _model.Uniform(1 << c))

    def direction(self, right: bool, p_left: float) -> None:
        self._enc.encode(np.array([int(bool(right))], np.int32),
                         _model.Categorical(np.array([p_left, 1.0 - p_left]), perfect=False))

    def finish(self) -> bytes:
        return self._enc.get_compressed().astype("<u4").tobytes()


class StreamDecoder:
    """Reads back what `StreamEncoder` wrote, in the same order, with the same laws."""

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise CorruptCode("channel code length is not a multiple of 4 bytes")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        self._dec = constriction.stream.queue.RangeDecoder(words)

    def _read(self, model) -> int:
        try:
            return int(self._dec.decode(model, 1)[0])
        except Exception as e:  # constriction raises its own error types on garbage
            raise CorruptCode(f"channel code cannot be decoded: {e}") from None

    def integer(self, prior: IntegerPrior) -> int:
        k = self._read(_model.Categorical(prior.bucket_probs, perfect=False))
        n, bits = 1, k
        while bits > 0:
            c = min(bits, _CHUNK)
            bits -= c
            n = (n << c) | self._read(_model.Uniform(1 << c))
        return n

    def direction(self, p_left: float) -> bool:
        return bool(self._read(_model.Categorical(np.array([p_left, 1.0 - p_left]), perfect=False)))

    def check_exhausted(self) -> None:
        """Raise unless every word was consumed (catches padding and trailing data)."""
        if not self._dec.maybe_exhausted():
            raise CorruptCode("channel code has trailing words the codes did not consume")
