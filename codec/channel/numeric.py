"""A general one-dimensional pair (Q, P) given as scipy.stats distributions and a ratio bound.

For global PFR / GPRS on pairs without a closed form: Q and P are frozen
continuous scipy.stats distributions (anything with ``pdf``, ``logpdf``,
``cdf``, ``ppf``, ``support``), ``ratio_bound`` a number with dQ/dP <= bound.

Checks (before any search): the bound is finite and >= 1 (a density ratio's
supremum is at least 1); Q puts no mass outside P's support, and q > 0 nowhere
where p = 0 on a grid over Q's bulk (NotAbsolutelyContinuous); the ratio on
that grid stays under the bound (BoundViolated).  The search also checks every
proposal against the bound.

The stretch (codec.channel.stretch, eq. 2) is computed numerically:
v(h) = int (q - h p)_+ dx by the trapezoid rule on a grid of 2^14 + 1 points
over Q's bulk (the quantiles 1e-12 and 1 - 1e-12: the integrand vanishes where
q does, so at most 2e-12 is lost), and sigma(h) = int_0^h d eta / v(eta) by the
trapezoid rule in y = -log(1 - h / r*) (knots every 1/32 up to y = 40, which
resolves v -> 0 at the bound), interpolated linearly in y.  So, unlike
`GaussianPair`, a NumericPair's sample law is Q only up to these grid errors
(about 1e-6 in total variation for smooth densities) -- good for checking
and research, documented as approximate.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .errors import BadParameter, BoundViolated, NotAbsolutelyContinuous

LN2 = np.log(2.0)
_GRID = 2 ** 14 + 1
_TAIL = 1e-12
_Y_MAX, _Y_STEP = 40.0, 1.0 / 32


class NumericPair:
    """Q against P, both frozen scipy.stats continuous distributions, dQ/dP <= ratio_bound."""

    def __init__(self, q, p, ratio_bound: float) -> None:
        try:
            bound = float(ratio_bound)
        except (TypeError, ValueError) as e:
            raise BadParameter("ratio bound must be a number") from e
        if not np.isfinite(bound) or bound < 1.0:
            raise BadParameter(f"ratio bound must be finite and >= 1, got {ratio_bound}")
        self.q, self.p, self.bound = q, p, bound
        self.log_rstar = float(np.log(bound))
        lo, hi = (float(v) for v in p.support())
        outside = float(q.cdf(lo)) + float(q.sf(hi))
        if outside > 0:
            raise NotAbsolutelyContinuous(f"Q puts mass {outside:.3g} outside P's support [{lo:g}, {hi:g}]")
        x = self.grid
        qd, pd = q.pdf(x), p.pdf(x)
        if not (np.all(np.isfinite(qd)) and np.all(np.isfinite(pd))):
            raise BadParameter("a density is not finite on the grid")
        if np.any((qd > 0) & (pd <= 0)):
            raise NotAbsolutelyContinuous("q > 0 where p = 0: Q is not absolutely continuous w.r.t. P")
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(qd > 0, qd / pd, 0.0)
        if r.max() > bound * (1 + 1e-9):
            raise BoundViolated(f"dQ/dP reaches {r.max():.6g} on the grid, above the stated bound {bound:g}")

    @cached_property
    def grid(self) -> np.ndarray:
        lo, hi = (float(v) for v in self.p.support())
        return np.linspace(max(lo, self.q.ppf(_TAIL)), min(hi, self.q.ppf(1 - _TAIL)), _GRID)

    @property
    def kl_bits(self) -> float:
        x = self.grid
        qd = self.q.pdf(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(qd > 0, qd * (self.q.logpdf(x) - self.p.logpdf(x)), 0.0)
        return float(np.trapz(f, x) / LN2)

    @property
    def dinf_bits(self) -> float:
        return self.log_rstar / LN2

    def sample_p(self, u: np.ndarray) -> np.ndarray:
        return self.p.ppf(u)

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        return self.q.logpdf(x) - self.p.logpdf(x)

    @cached_property
    def _sigma_table(self) -> tuple[np.ndarray, np.ndarray]:
        x = self.grid
        qd, pd = self.q.pdf(x), self.p.pdf(x)
        y = np.arange(0.0, _Y_MAX + _Y_STEP / 2, _Y_STEP)
        h = self.bound * -np.expm1(-y)
        v = np.array([np.trapz(np.maximum(qd - hh * pd, 0.0), x) for hh in h])
        with np.errstate(divide="ignore"):
            f = np.where(v > 0, self.bound * np.exp(-y) / v, np.inf)
        sigma = np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * _Y_STEP)])
        return y, sigma

    def threshold(self, x: np.ndarray) -> np.ndarray:
        r = np.exp(self.log_ratio(np.asarray(x, np.float64)))
        with np.errstate(divide="ignore"):
            y = -np.log1p(-np.minimum(r / self.bound, 1.0))
        ys, sig = self._sigma_table
        return np.where(y > ys[-1], np.inf, np.interp(y, ys, sig))

    def accepts(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.asarray(t) <= self.threshold(x)
