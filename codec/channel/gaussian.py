r"""A one-dimensional Gaussian pair in standardized form, with its exact stretch.

Coordinates are standardized by P: P = N(0, 1), Q = N(mu, s^2) with s < 1 (a Q
at least as wide as P has an unbounded ratio, refused).  Then

    log r(x) = log r* - z^2 / 2,   z = (x - x*) / tau,
    x* = mu / (1 - s^2),  tau = s / sqrt(1 - s^2),
    log r* = D_inf = -log s + mu^2 / (2 (1 - s^2))          (nats),
    D_KL[Q || P] = -log s + (s^2 + mu^2 - 1) / 2             (nats),

so r is unimodal and its superlevel sets {r >= h} are the intervals
|x - x*| <= tau rho with h = r* exp(-rho^2 / 2).  In the variable rho the GPRS
stretch (codec.channel.stretch, eq. 2) becomes, with dh = -h rho d rho,

    S(rho) = sigma(r* e^{-rho^2/2}) = int_rho^inf rho' h(rho') / v(rho') d rho',
    v(rho) = w_Q - h w_P = Q(|X - x*| <= tau rho) - h P(|X - x*| <= tau rho).

v is computed in closed form (normal interval masses) except where that
subtraction cancels (v < 1e-3 w_Q: small rho), where it is integrated as
tau int_{-rho}^{rho} q(x* + tau z) (1 - e^{(z^2 - rho^2)/2}) dz by 64-point
Gauss-Legendre (16-point where rho < 0.05 sqrt(1 - s^2), far inside q's
scale).  As rho -> 0, v ~ (2/3) tau q(x*) rho^3 and S ~ C / rho with
C = 3 / (2 tau p(x*)): below rho = 1e-8 that asymptote (relative error
O(rho^2)) continues the table.  Above rho_hi, where h < e^{-740}, S < 1e-300
is taken as 0.  The accept test T <= S(|z|) is decided from the two knot
values around |z| when T falls outside them, else by exact quadrature.

Limits (BadParameter): finite parameters, D_inf <= 600 nats (exp stays finite),
and tau >= 1e-9 max(1, |x*|) (narrower Q is below float64 resolution for the
interval search).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from . import normal
from .errors import BadParameter, UnboundedRatio
from .stretch import PiecewiseIntegral

LN2 = np.log(2.0)
MAX_DINF_NATS = 600.0
_RHO_LO = 1e-8
_TAIL_LOG_H = -740.0
_GL64 = np.polynomial.legendre.leggauss(64)
_GL16 = np.polynomial.legendre.leggauss(16)


def _finite(name: str, v: float) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError) as e:
        raise BadParameter(f"{name} must be a real number") from e
    if not np.isfinite(v):
        raise BadParameter(f"{name} must be finite, got {v}")
    return v


class GaussianPair:
    """Q = N(mu, s^2) against P = N(0, 1) (standardized coordinates)."""

    def __init__(self, mu: float, s: float) -> None:
        mu, s = _finite("mu", mu), _finite("s", s)
        if s <= 0:
            raise BadParameter(f"standard deviation must be positive, got {s}")
        if s >= 1.0:
            raise UnboundedRatio(f"Q = N({mu:g}, {s:g}^2) is not narrower than P = N(0, 1): "
                                 "dQ/dP is unbounded, no channel simulation with this P")
        self.mu, self.s = mu, s
        one_m = (1.0 - s) * (1.0 + s)
        self.x_star = mu / one_m
        self.tau = s / np.sqrt(one_m)
        self.log_rstar = -np.log(s) + mu * mu / (2.0 * one_m)
        self.kl_nats = -np.log(s) + ((s - 1.0) * (s + 1.0) + mu * mu) / 2.0
        if self.log_rstar > MAX_DINF_NATS:
            raise BadParameter(f"D_inf = {self.log_rstar:.0f} nats exceeds the supported {MAX_DINF_NATS:.0f}")
        if self.tau < 1e-9 * max(1.0, abs(self.x_star)):
            raise BadParameter(f"Q's width {s:g} is below float64 resolution at {mu:g}")

    @classmethod
    def standardize(cls, q_mean: float, q_std: float, p_mean: float, p_std: float) -> "GaussianPair":
        """The pair for Q = N(q_mean, q_std^2) against P = N(p_mean, p_std^2)."""
        p_mean, p_std = _finite("P mean", p_mean), _finite("P std", p_std)
        if p_std <= 0:
            raise BadParameter(f"P's standard deviation must be positive, got {p_std}")
        return cls((_finite("Q mean", q_mean) - p_mean) / p_std, _finite("Q std", q_std) / p_std)

    @property
    def kl_bits(self) -> float:
        return float(self.kl_nats / LN2)

    @property
    def dinf_bits(self) -> float:
        return float(self.log_rstar / LN2)

    # --- densities --------------------------------------------------------
    def sample_p(self, u: np.ndarray) -> np.ndarray:
        return normal.truncated_ppf(-np.inf, np.inf, u)

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.x_star) / self.tau
        return self.log_rstar - 0.5 * z * z

    def ratio(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_ratio(x))

    def _log_q(self, x: np.ndarray) -> np.ndarray:
        return normal.log_pdf((x - self.mu) / self.s) - np.log(self.s)

    # --- stretch ----------------------------------------------------------
    def v(self, rho: np.ndarray) -> np.ndarray:
        """v(rho) = E_P[(r - h)_+] at level h = r* exp(-rho^2/2), rho > 0."""
        rho = np.asarray(rho, np.float64)
        lo, hi = self.x_star - self.tau * rho, self.x_star + self.tau * rho
        w_p = normal.interval_mass(lo, hi)
        w_q = normal.interval_mass((lo - self.mu) / self.s, (hi - self.mu) / self.s)
        out = w_q - np.exp(self.log_rstar - 0.5 * rho * rho) * w_p
        cancels = ~(out > 1e-3 * w_q)
        if np.any(cancels):
            out = np.array(out, copy=True)
            # q varies on the z-scale sqrt(1 - s^2); far below it 16 nodes are exact to rounding
            tiny = cancels & (rho < 0.05 * np.sqrt((1.0 - self.s) * (1.0 + self.s)))
            for sel, (gx, gw) in ((tiny, _GL16), (cancels & ~tiny, _GL64)):
                if np.any(sel):
                    r = rho[sel]
                    z = r[:, None] * gx
                    f = np.exp(self._log_q(self.x_star + self.tau * z)) * -np.expm1(0.5 * (z * z - (r * r)[:, None]))
                    out[sel] = self.tau * r * (f @ gw)
        return out

    def _g(self, rho: np.ndarray) -> np.ndarray:
        return rho * np.exp(self.log_rstar - 0.5 * rho * rho) / self.v(rho)

    @cached_property
    def _rho_hi(self) -> float:
        return float(np.sqrt(2.0 * (self.log_rstar - _TAIL_LOG_H)))

    @cached_property
    def _table(self) -> PiecewiseIntegral:
        # knots dense where searches stop (relative steps of 1/16), so that the
        # two knot values decide most accept tests without quadrature
        rho = np.concatenate([np.exp(np.arange(np.log(_RHO_LO), 0.0, 1 / 16)), np.arange(1.0, 8.0, 1 / 16),
                              np.arange(8.0, self._rho_hi, 0.25), [self._rho_hi]])
        # F(v) = int_{-rho_hi}^{v} g(-t) dt, so S(rho) = F(-rho)
        return PiecewiseIntegral(lambda v: self._g(-v), -rho[::-1])

    @cached_property
    def _asymptote(self) -> tuple[float, float]:
        s_lo = float(self._table(np.array(-_RHO_LO)))
        return s_lo, float(self._g(np.array(_RHO_LO)) * _RHO_LO ** 2)

    def stretch_at(self, rho: np.ndarray) -> np.ndarray:
        """S(rho) = sigma(r(x)) for |x - x*| = tau rho (vectorized)."""
        rho = np.asarray(rho, np.float64)
        out = np.zeros(rho.shape)                      # rho > rho_hi: S < 1e-300
        small = rho < _RHO_LO
        if np.any(small):
            s_lo, c = self._asymptote
            with np.errstate(divide="ignore"):
                out[small] = s_lo + c * (1.0 / rho[small] - 1.0 / _RHO_LO)
        inside = ~small & (rho <= self._rho_hi)
        if np.any(inside):
            out[inside] = self._table(-rho[inside])
        return out

    def threshold(self, x: np.ndarray) -> np.ndarray:
        """sigma(r(x)): a proposal (t, x) is accepted iff t <= threshold(x)."""
        return self.stretch_at(np.abs((np.asarray(x, np.float64) - self.x_star) / self.tau))

    def accepts(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """t <= sigma(r(x)) elementwise, quadrature only where the knots do not decide."""
        t = np.asarray(t, np.float64)
        rho = np.abs((np.asarray(x, np.float64) - self.x_star) / self.tau)
        inside = (rho >= _RHO_LO) & (rho <= self._rho_hi)
        below, above = self._table.bracket(-np.clip(rho, _RHO_LO, self._rho_hi))
        out = inside & (t <= below)
        undecided = (rho < _RHO_LO) | (inside & (t > below) & (t <= above))
        if np.any(undecided):
            out[undecided] = t[undecided] <= self.stretch_at(rho[undecided])
        return out
