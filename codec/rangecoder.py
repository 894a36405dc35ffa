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

Decoding meets bytes written by anyone. Every model parameter is checked here
before it reaches constriction (whose Rust code panics, printing to stderr, on
a non-positive scale or an empty support), and anything constriction raises
while decoding -- an AssertionError for data that is invalid for the model, a
ValueError, a PanicException -- becomes one ``CorruptFile``.
"""
from __future__ import annotations

import numpy as np
import constriction

from .errors import CorruptFile
from .limits import MAX_ALPHABET

_model = constriction.stream.model
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, MemoryError, CorruptFile)


def check_alphabet(lo: int, hi: int) -> None:
    """[lo, hi] must hold 2..MAX_ALPHABET symbols (constriction needs a support of two)."""
    if not (lo < hi and hi - lo + 1 <= MAX_ALPHABET):
        raise CorruptFile(f"symbol range [{lo}, {hi}] is invalid (2..{MAX_ALPHABET} symbols allowed)")


def check_probabilities(p: np.ndarray) -> None:
    """Rows (L,) or (n, L), L >= 2: finite, non-negative, each with positive mass."""
    if p.ndim not in (1, 2) or p.shape[-1] < 2 or p.shape[-1] > MAX_ALPHABET:
        raise CorruptFile(f"probability table of shape {p.shape} is invalid")
    if not np.isfinite(p).all() or (p < 0).any() or not (p.sum(-1) > 0).all():
        raise CorruptFile("probability table has negative, non-finite or all-zero rows")


def check_gaussian(means: np.ndarray, stds: np.ndarray, lo: int, hi: int) -> None:
    """Per-symbol Gaussian parameters: same length, finite, standard deviations > 0."""
    check_alphabet(lo, hi)
    if means.shape != stds.shape or means.ndim != 1:
        raise CorruptFile("Gaussian means and scales differ in shape")
    if not (np.isfinite(means).all() and np.isfinite(stds).all() and (stds > 0).all()):
        raise CorruptFile("entropy parameters are not finite and positive (corrupt weights or latents?)")


def _guarded(decode, what: str) -> np.ndarray:
    """Run one constriction decode; whatever it raises becomes one CorruptFile."""
    try:
        return np.asarray(decode(), dtype=np.int32)
    except _PASS_THROUGH:
        raise
    except BaseException as e:  # constriction: AssertionError, ValueError, pyo3 PanicException
        first = (str(e).splitlines() or [type(e).__name__])[0].rstrip(".")
        raise CorruptFile(f"coded {what} data is invalid for its entropy model ({first})") from None


class Encoder:
    """Accumulates symbols of one section and returns its bytes."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def categorical(self, symbols: np.ndarray, probabilities: np.ndarray) -> None:
        """Code ``symbols`` (n,) with one row (L,) or per-symbol rows (n, L)."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
        check_probabilities(probabilities)
        if probabilities.ndim == 1:
            self._enc.encode(symbols, _model.Categorical(probabilities, perfect=False))
        else:
            self._enc.encode(symbols, _model.Categorical(perfect=False), probabilities)

    def gaussian(self, symbols: np.ndarray, means: np.ndarray, stds: np.ndarray,
                 lo: int, hi: int) -> None:
        """Code ``symbols`` (n,) in [lo, hi] with per-symbol quantized Gaussians."""
        means = np.ascontiguousarray(means, dtype=np.float64)
        stds = np.ascontiguousarray(stds, dtype=np.float64)
        check_gaussian(means, stds, int(lo), int(hi))
        self._enc.encode(np.ascontiguousarray(symbols, dtype=np.int32),
                         _model.QuantizedGaussian(int(lo), int(hi)), means, stds)

    def finish(self) -> bytes:
        return self._enc.get_compressed().astype("<u4").tobytes()


class Decoder:
    """Reads back the symbols of one section, in the order they were coded."""

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise CorruptFile("coded section length is not a multiple of 4 bytes")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            self._dec = constriction.stream.queue.RangeDecoder(words)
        except _PASS_THROUGH:
            raise
        except BaseException as e:
            raise CorruptFile(f"coded section cannot start a range decoder ({type(e).__name__})") from None

    def categorical(self, n: int, probabilities: np.ndarray) -> np.ndarray:
        """``n`` symbols with one row (L,), or one per symbol (n, L): int32 (n,)."""
        probabilities = np.ascontiguousarray(probabilities, dtype=np.float64)
        check_probabilities(probabilities)
        if probabilities.ndim == 1:
            model = _model.Categorical(probabilities, perfect=False)
            return _guarded(lambda: self._dec.decode(model, int(n)), "categorical")
        if probabilities.shape[0] != n:
            raise CorruptFile("per-symbol probability rows do not match the symbol count")
        return _guarded(lambda: self._dec.decode(_model.Categorical(perfect=False), probabilities),
                        "categorical")

    def gaussian(self, means: np.ndarray, stds: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """One symbol per (mean, std) pair, in [lo, hi]: int32 (n,)."""
        means = np.ascontiguousarray(means, dtype=np.float64)
        stds = np.ascontiguousarray(stds, dtype=np.float64)
        check_gaussian(means, stds, int(lo), int(hi))
        model = _model.QuantizedGaussian(int(lo), int(hi))
        return _guarded(lambda: self._dec.decode(model, means, stds), "Gaussian")

    def check_exhausted(self) -> None:
        """Raise unless every coded word was consumed (catches padding/tampering)."""
        try:
            exhausted = self._dec.maybe_exhausted()
        except _PASS_THROUGH:
            raise
        except BaseException:
            exhausted = False
        if not exhausted:
            raise CorruptFile("coded data has trailing bytes the model did not consume")
