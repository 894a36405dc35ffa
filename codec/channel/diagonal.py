"""Diagonal Gaussians in several dimensions: one range-coded message, dimension by dimension.

Q = N(q_means, diag q_stds^2) against P = N(p_means, diag p_stds^2), both of
shape (n,).  Dimension i is an independent 1-D channel simulation in P's
standardized coordinates with its own stream of shared randomness
(``SharedRandomness(seed, stream=i)``); its code (an index, or a depth and
directions) is appended to one constriction range-coded message.  The decoder
needs P, the seed, the method and the prior -- never Q -- and returns exactly
the encoder's samples (same float64 operations on the same words).

A joint code over blocks of dimensions would share one integer's O(log I)
overhead among several dimensions; it is not implemented (the global methods
cannot afford the product's D_inf anyway).
"""
from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from . import bnb, normal, search
from .codes import IntegerPrior, StreamDecoder, StreamEncoder
from .errors import BadParameter, CorruptCode
from .gaussian import GaussianPair
from .randomness import SharedRandomness


class Method(enum.IntEnum):
    PFR = 0          # Poisson functional representation, index code
    GPRS = 1         # global greedy Poisson rejection sampling, index code
    BNB = 2          # branch-and-bound GPRS, path code


DEFAULT_PRIOR = IntegerPrior()


class Message(NamedTuple):
    data: bytes                 # the range-coded codes of all dimensions
    samples: np.ndarray         # (n,) float64, what the decoder reproduces
    bits: np.ndarray            # (n,) information content per dimension
    examined: np.ndarray        # (n,) proposals / nodes examined per dimension
    kl_bits: np.ndarray         # (n,) D_KL[Q_i || P_i] in bits


def _std_normal(u: np.ndarray) -> np.ndarray:
    return normal.truncated_ppf(-np.inf, np.inf, u)


def _vector(name: str, v, n: int | None = None) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(v)):
        raise BadParameter(f"{name} has non-finite entries")
    if n is not None and v.size != n:
        raise BadParameter(f"{name} has {v.size} entries, expected {n}")
    return v


def encode_one(pair: GaussianPair, rng: SharedRandomness, method: Method,
               prior: IntegerPrior = DEFAULT_PRIOR):
    """One standardized dimension: an IndexCode (PFR, GPRS) or a PathCode (BNB)."""
    if method is Method.PFR:
        return search.pfr_encode(pair, rng, prior)
    if method is Method.GPRS:
        return search.gprs_encode(pair, rng, prior)
    return bnb.bnb_encode(pair, rng, prior)


def _write(enc: StreamEncoder, code, method: Method, prior: IntegerPrior) -> None:
    if method is Method.BNB:
        enc.integer(code.depth, prior)
        for right, p in zip(code.directions, code.p_left):
            enc.direction(right, p)
    else:
        enc.integer(code.index, prior)


def _read(dec: StreamDecoder, rng: SharedRandomness, method: Method, prior: IntegerPrior) -> float:
    n = dec.integer(prior)
    if method is not Method.BNB:
        if n > search.MAX_PROPOSALS:
            raise CorruptCode(f"index {n} beyond the search cap")
        return search.proposal(_std_normal, rng, n)
    if n > bnb.MAX_DEPTH:
        raise CorruptCode(f"depth {n} beyond the search cap")
    a, b, cache = -np.inf, np.inf, {}
    for depth in range(1, n):
        x, p_left = bnb.bnb_split(rng, depth, cache, a, b)
        a, b = (x, b) if dec.direction(p_left) else (a, x)
    return bnb.bnb_split(rng, n, cache, a, b)[0]


def encode(q_means, q_stds, p_means, p_stds, seed: int, method: Method = Method.BNB,
           prior: IntegerPrior = DEFAULT_PRIOR) -> Message:
    """Send one sample of Q through the channel; see the module docstring."""
    qm = _vector("Q means", q_means)
    n = qm.size
    qs, pm, ps = (_vector(nm, v, n) for nm, v in (("Q stds", q_stds), ("P means", p_means), ("P stds", p_stds)))
    if np.any(ps <= 0):
        raise BadParameter("P standard deviations must be positive")
    enc = StreamEncoder()
    samples, bits, examined, kl = (np.empty(n) for _ in range(4))
    pairs: dict[tuple[float, float], GaussianPair] = {}   # repeated pairs share one stretch table
    for i in range(n):
        std = GaussianPair.standardize(qm[i], qs[i], pm[i], ps[i])
        pair = pairs.setdefault((std.mu, std.s), std)
        code = encode_one(pair, SharedRandomness(seed, i), method, prior)
        _write(enc, code, method, prior)
        samples[i] = pm[i] + ps[i] * code.sample
        bits[i], examined[i], kl[i] = code.bits, code.examined, pair.kl_bits
    return Message(enc.finish(), samples, bits, examined, kl)


def decode(data: bytes, p_means, p_stds, seed: int, method: Method = Method.BNB,
           prior: IntegerPrior = DEFAULT_PRIOR) -> np.ndarray:
    """The encoder's samples, (n,) float64, from the message and P alone."""
    pm = _vector("P means", p_means)
    ps = _vector("P stds", p_stds, pm.size)
    if np.any(ps <= 0):
        raise BadParameter("P standard deviations must be positive")
    if pm.size and not data:
        raise CorruptCode(f"empty channel code for {pm.size} dimensions")
    dec = StreamDecoder(data)
    out = np.empty(pm.size)
    for i in range(pm.size):
        out[i] = pm[i] + ps[i] * _read(dec, SharedRandomness(seed, i), method, prior)
    dec.check_exhausted()
    return out
