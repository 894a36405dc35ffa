"""Global searches over one Poisson process: PFR (A* coding) and global GPRS.

Both simulate the process (T_n, X_n) of codec.channel.stretch from shared
randomness -- proposal n (1-based) uses block n-1 of `SharedRandomness`:
E_n = -log U[0], X_n = P^-1(U[1]) -- and send the index of one proposal; the
decoder regenerates X_n from that block alone.

* Poisson functional representation (Li & El Gamal 2018): the index minimizing
  T_n / r(X_n).  The minimizer's X has law Q exactly; the search stops once
  T_n / r* exceeds the best score, since no later proposal can beat it.  A*
  coding (Maddison 2016; Flamich et al. 2022) with a global bound is the same
  selection written with Gumbel races (G_n = -log T_n), so it is not repeated.
* Global GPRS (Flamich 2023): the first n with T_n <= sigma(r(X_n)).

A pair supplies ``sample_p(u)``, ``log_ratio(x)``, ``log_rstar`` (its bound,
nats), ``accepts(t, x)`` (GPRS only) and ``kl_bits`` / ``dinf_bits``.

Cap: both examine on average about r* = exp(D_inf) proposals, so a pair with
r* > MAX_PROPOSALS = 2^22 is refused before searching (SearchCapExceeded), and
a search that reaches 2^22 proposals stops with the same error.  A proposal
whose ratio exceeds the stated bound raises BoundViolated.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from .codes import IntegerPrior
from .errors import BoundViolated, SearchCapExceeded
from .randomness import SharedRandomness, exponentials

MAX_PROPOSALS = 2 ** 22
_FIRST_BLOCK, _MAX_BLOCK = 256, 2 ** 16
_BOUND_SLACK = 1e-9          # relative slack on the bound, for rounding of log r


class IndexCode(NamedTuple):
    """A code that is one proposal index (PFR, global GPRS)."""

    index: int          # 1-based proposal number, what is sent
    sample: float       # X_index, what the decoder reproduces
    examined: int       # proposals the encoder generated
    bits: float         # information content of ``index`` under the prior


class _Block(NamedTuple):
    first: int           # 1-based index of row 0
    t: np.ndarray        # arrival times
    x: np.ndarray        # proposals from P
    log_ratio: np.ndarray


def check_cap(pair) -> None:
    if pair.log_rstar > np.log(MAX_PROPOSALS):
        raise SearchCapExceeded(
            f"global search refused: expected proposals 2^{pair.dinf_bits:.1f} exceed the cap 2^22 "
            "(use branch-and-bound for Gaussian pairs)")


def _blocks(pair, rng: SharedRandomness) -> Iterator[_Block]:
    n0, t0, m = 0, 0.0, _FIRST_BLOCK
    while n0 < MAX_PROPOSALS:
        m = min(m, MAX_PROPOSALS - n0)
        u = rng.uniforms(n0, m)
        t = t0 + np.cumsum(exponentials(u[:, 0]))
        x = pair.sample_p(u[:, 1])
        lr = pair.log_ratio(x)
        if np.any(lr > pair.log_rstar + _BOUND_SLACK * max(1.0, abs(pair.log_rstar))):
            raise BoundViolated(f"dQ/dP = exp({lr.max():.6g}) exceeds the stated bound exp({pair.log_rstar:.6g})")
        yield _Block(n0 + 1, t, x, lr)
        n0, t0, m = n0 + m, float(t[-1]), min(2 * m, _MAX_BLOCK)
    raise SearchCapExceeded(f"no proposal selected within the cap of {MAX_PROPOSALS} proposals")


def proposal(sample_p, rng: SharedRandomness, index: int) -> float:
    """X_index = sample_p(U), what either decoder returns (needs P only)."""
    return float(sample_p(rng.uniforms(index - 1, 1)[:, 1])[0])


def pfr_encode(pair, rng: SharedRandomness, prior: IntegerPrior) -> IndexCode:
    """Poisson functional representation: argmin_n T_n / r(X_n)."""
    check_cap(pair)
    best, best_n = np.inf, 0
    for b in _blocks(pair, rng):
        score = np.log(b.t) - b.log_ratio
        prev_best = np.minimum.accumulate(np.concatenate([[best], score[:-1]]))
        stop = np.log(b.t) - pair.log_rstar >= prev_best
        if stop.any():
            j = int(np.argmax(stop))
            score = score[:j]
            if j and score.min() < best:
                k = int(np.argmin(score))
                best, best_n = float(score[k]), b.first + k
            return IndexCode(best_n, proposal(pair.sample_p, rng, best_n), b.first + j, prior.bits(best_n))
        k = int(np.argmin(score))
        if score[k] < best:
            best, best_n = float(score[k]), b.first + k
    raise AssertionError("unreachable")


def gprs_encode(pair, rng: SharedRandomness, prior: IntegerPrior) -> IndexCode:
    """Global greedy Poisson rejection sampling: first n with T_n <= sigma(r(X_n))."""
    check_cap(pair)
    for b in _blocks(pair, rng):
        acc = pair.accepts(b.t, b.x)
        if acc.any():
            j = int(np.argmax(acc))
            n = b.first + j
            return IndexCode(n, float(b.x[j]), n, prior.bits(n))
    raise AssertionError("unreachable")
