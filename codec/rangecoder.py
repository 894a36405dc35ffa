"""Thin adapter over constriction's range coder (no torch here).

Symbols are int32 numpy arrays, model parameters float64 numpy arrays, the
output is bytes (constriction's uint32 words, little-endian). The coder is a
queue: the decoder must read sections in the order they were written, with the
same models, which is what `FrozenFactorized` / `FrozenGaussian` in
``codec.entropy`` guarantee.

Two model families are used:

* categorical tables (factorized latents): one probability row per channel, or
  one row per symbol for universal quantization. constriction quantizes a row
  to fixed point deterministically (``perfect=False``) and gives every symbol
  of the alphabet at least its smallest nonzero probability (2**-24), which is
  how values outside a learned table are still codable (see ``codec.entropy``).
* quantized Gaussians (conditional latents): per-symbol mean and standard
  deviation over a per-section alphabet [lo, hi].
"""
from __future__ import annotations

import numpy as np
import constriction

from .errors import CorruptFile

_model = constriction.stream.model


class Encoder:
    """Accumulates symbols of one section and returns its bytes."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def categorical(self, symbols: np.ndarray, probabilities: np.ndarray) -> None:
        """Code ``symbols`` (n,) with one row (L,) or per-symbol rows (n, L)."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
        if probabilities.ndim == 1:
            self._enc.encode(symbols, _model.Categorical(probabilities, perfect=False))
        else:
            self._enc.encode(symbols, _model.Categorical(perfect=False), probabilities)

    def gaussian(self, symbols: np.ndarray, means: np.ndarray, stds: np.ndarray,
                 lo: int, hi: int) -> None:
        """Code ``symbols`` (n,) in [lo, hi] with per-symbol quantized Gaussians."""
        self._enc.encode(np.ascontiguousarray(symbols, dtype=np.int32),
                         _model.QuantizedGaussian(int(lo), int(hi)),
                         np.ascontiguousarray(means, dtype=np.float64),
                         np.ascontiguousarray(stds, dtype=np.float64))

    def finish(self) -> bytes:
        return self._enc.get_compressed().astype("<u4").tobytes()


class Decoder:
    """Reads back the symbols of one section, in the order they were coded."""

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise CorruptFile("coded section length is not a multiple of 4 bytes")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        self._dec = constriction.stream.queue.RangeDecoder(words)

    def categorical(self, n: int, probabilities: np.ndarray) -> np.ndarray:
        probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
        if probabilities.ndim == 1:
            out = self._dec.decode(_model.Categorical(probabilities, perfect=False), int(n))
        else:
            out = self._dec.decode(_model.Categorical(perfect=False), probabilities)
        return np.asarray(out, dtype=np.int32)

    def gaussian(self, means: np.ndarray, stds: np.ndarray, lo: int, hi: int) -> np.ndarray:
        out = self._dec.decode(_model.QuantizedGaussian(int(lo), int(hi)),
                               np.ascontiguousarray(means, dtype=np.float64),
                               np.ascontiguousarray(stds, dtype=np.float64))
        return np.asarray(out, dtype=np.int32)

    def check_exhausted(self) -> None:
        """Raise unless every coded word was consumed (catches padding/tampering)."""
        if not self._dec.maybe_exhausted():
            raise CorruptFile("coded data has trailing bytes the model did not consume")
