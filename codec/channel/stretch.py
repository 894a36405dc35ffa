r"""The stretch function of greedy Poisson rejection sampling, derived and tabulated.

Setting.  Target Q, proposal P, density ratio r = dQ/dP <= r* < inf.  Let
(T_n, X_n) be a Poisson process on (0, inf) x X with mean measure Leb x P:
T_n = E_1 + ... + E_n (E_i ~ Exp(1)) and X_n ~ P i.i.d.  GPRS returns the
first point under the graph of phi = sigma o r, i.e. the first n with
T_n <= sigma(r(X_n)), for an increasing sigma with sigma(0) = 0.

Derivation of sigma.  Points under the graph form a Poisson process; the first
of them in time has joint density p(x) exp(-L(t)) on {t <= phi(x)}, where
L(t) = int_0^t P(phi(X) >= s) ds is the mean number of points under the graph
before time t.  Its x-marginal is p(x) int_0^{phi(x)} exp(-L(t)) dt, and this
must equal q(x) = r(x) p(x) for every x, i.e. for every level h = r(x):

    int_0^{sigma(h)} exp(-L(t)) dt = h.                                  (1)

Differentiating, sigma'(h) exp(-L(sigma(h))) = 1.  Write v(h) = exp(-L(sigma(h)))
= 1 / sigma'(h).  Since phi(X) >= sigma(eta) iff r(X) >= eta,
L(sigma(h)) = int_0^h w_P(eta) sigma'(eta) d eta with w_P(eta) = P(r(X) >= eta),
so v'(h) = -v(h) w_P(h) sigma'(h) = -w_P(h) and v(0) = 1:

    v(h) = 1 - int_0^h w_P = 1 - E_P[min(r(X), h)] = w_Q(h) - h w_P(h),

with w_Q(h) = Q(r(X) >= h) (split E_P[min(r, h)] into {r < h} and {r >= h}).
Equivalently v(h) = E_P[(r(X) - h)_+] >= 0.  Hence

    sigma(h) = int_0^h d eta / (w_Q(eta) - eta w_P(eta)).               (2)

v(h) <= r* - h, so sigma(h) -> inf as h -> r*: every run stops with probability
one and its accepted point has law Q exactly; E[N] = r* (Flamich 2023), which
is why the global search is refused when r* exceeds its proposal cap.

Tabulation.  `PiecewiseIntegral` stores F(v) = int_{v_0}^v f at knots
(10-point Gauss-Legendre per segment) and evaluates between knots by one more
10-point rule from the knot below, so F is exact to quadrature error (~1e-13
relative for the smooth integrands used here), not interpolated.  ``bracket``
gives the two knot values around a point, which decides most accept/reject
tests without any quadrature.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)


def gauss_legendre(f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int_lo^hi f elementwise (vectors lo, hi) with one 10-point rule each."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    half, centre = (hi - lo) / 2.0, (hi + lo) / 2.0
    x = centre[..., None] + half[..., None] * _GL_X
    return half * (f(x) @ _GL_W)


class PiecewiseIntegral:
    """F(v) = int_{knots[0]}^v f(t) dt for knots[0] <= v <= knots[-1], f >= 0."""

    def __init__(self, f: Callable[[np.ndarray], np.ndarray], knots: np.ndarray) -> None:
        self.f = f
        self.knots = np.asarray(knots, np.float64)
        seg = gauss_legendre(f, self.knots[:-1], self.knots[1:])
        self.values = np.concatenate([[0.0], np.cumsum(seg)])

    def segment(self, v: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.knots, v, side="right") - 1
        return np.clip(k, 0, len(self.knots) - 2)

    def bracket(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F at the knot below v, F at the knot above v)."""
        k = self.segment(v)
        return self.values[k], self.values[k + 1]

    def __call__(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, np.float64)
        k = self.segment(v)
        return self.values[k] + gauss_legendre(self.f, self.knots[k], v)
