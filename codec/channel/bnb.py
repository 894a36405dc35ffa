"""Branch-and-bound GPRS for a one-dimensional Gaussian pair (Flamich 2023, alg. 3).

The Poisson process restricted to an interval B is again a Poisson process,
with mean measure Leb x P|_B, and its parts on disjoint intervals are
independent.  The search keeps an interval B = (a, b) that contains the mode
x* of r, starting from the real line at time t = 0.  At depth d:

    t <- t + E_d / P(B)                 (the next arrival in B)
    X_d = P|_B^-1(U_d)                  (its position)
    accept if t <= sigma(r(X_d))        (the GPRS rule, same sigma as global)
    else B <- the part of B on x*'s side of X_d.

On the other side r < r(X_d) everywhere (r is unimodal), so every later point
there has time > t >= sigma(r(X_d)) > its own threshold: none can be accepted
and that side is dropped.  The accepted point is therefore the same first point
under the graph as in global GPRS: its law is Q exactly.  The depth grows
linearly in D_KL (about 1.3 nodes per bit measured), instead of 2^D_inf.

Randomness is addressed by depth (block d-1 of `SharedRandomness`: U[0] for
E_d, U[1] for X_d); blocks at different depths are independent, which is all
the argument needs.  The code is the depth D (`IntegerPrior`) and the D-1
directions, each coded with the split the decoder knows:
P(B_left) / P(B) = U_d[1].  The decoder replays the splits and returns X_D.

Cap: MAX_DEPTH = 256 nodes; a search that reaches it (or whose interval
underflows float64) raises SearchCapExceeded.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import normal
from .codes import IntegerPrior, direction_bits
from .errors import SearchCapExceeded
from .gaussian import GaussianPair
from .randomness import SharedRandomness

MAX_DEPTH = 256
_PREFETCH = 32


class PathCode(NamedTuple):
    """A branch-and-bound code: depth and directions (True = right)."""

    depth: int
    directions: tuple[bool, ...]
    p_left: tuple[float, ...]       # split masses, known to the decoder
    sample: float
    bits: float

    @property
    def examined(self) -> int:
        return self.depth


def _uniforms(rng: SharedRandomness, depth: int, cache: dict) -> np.ndarray:
    """Block depth-1, fetched _PREFETCH at a time."""
    start = (depth - 1) // _PREFETCH * _PREFETCH
    if start not in cache:
        cache[start] = rng.uniforms(start, _PREFETCH)
    return cache[start][depth - 1 - start]


def bnb_encode(pair: GaussianPair, rng: SharedRandomness, prior: IntegerPrior) -> PathCode:
    a, b, t, cache = -np.inf, np.inf, 0.0, {}
    dirs: list[bool] = []
    p_left: list[float] = []
    for depth in range(1, MAX_DEPTH + 1):
        u = _uniforms(rng, depth, cache)
        mass = normal.interval_mass1(a, b)
        x = normal.truncated_ppf1(a, b, float(u[1]))
        if not mass > 0 or not a < x < b:
            raise SearchCapExceeded(f"branch-and-bound interval below float64 resolution at depth {depth}")
        t += float(-np.log(u[0])) / mass
        if pair.accepts(np.array([t]), np.array([x]))[0]:
            bits = prior.bits(depth) + sum(direction_bits(d, p) for d, p in zip(dirs, p_left))
            return PathCode(depth, tuple(dirs), tuple(p_left), x, bits)
        right = x < pair.x_star
        dirs.append(right)
        p_left.append(float(u[1]))
        a, b = (x, b) if right else (a, x)
    raise SearchCapExceeded(f"branch-and-bound reached its cap of {MAX_DEPTH} nodes")


def bnb_split(rng: SharedRandomness, depth: int, cache: dict, a: float, b: float) -> tuple[float, float]:
    """(X_depth, P(left)/P(B)) in the interval (a, b): what the decoder needs per node."""
    u = _uniforms(rng, depth, cache)
    return normal.truncated_ppf1(a, b, float(u[1])), float(u[1])
