"""Quality and rate metrics, and the Bjøntegaard comparison of two curves.

Pure functions on numpy arrays (MS-SSIM borrows pytorch-msssim's kernel).
Conventions, chosen to match the tables papers and CompressAI publish:

- PSNR is computed on 8-bit RGB, one number per image (MSE over all three
  channels, peak 255), and averaged over images by the caller.
- MS-SSIM is pytorch-msssim with data_range=255 on the 8-bit RGB values; its
  dB form is -10 log10(1 - MS-SSIM).
- bpp is the size of the whole file in bits over the original H * W pixels.
- BD-rate and BD-PSNR follow Bjøntegaard (VCEG-M33) with the piecewise cubic
  (PCHIP) interpolation that replaced the cubic polynomial fit in later
  common test conditions: log-rate is interpolated as a function of quality
  (or quality of log-rate), integrated over the range both curves cover, and
  the mean gap is reported as a percentage of rate (BD-rate; negative means
  the test curve needs fewer bits) or in dB (BD-PSNR; positive means better).
"""
from __future__ import annotations

import math

import numpy as np

# pytorch-msssim low-passes and halves 4 times with an 11-tap window, so every
# side must exceed (11 - 1) * 2**4 pixels.
MS_SSIM_MIN_SIDE = 161


class BDUndefined(ValueError):
    """A Bjøntegaard delta cannot be computed; ``str`` says why in a few words."""


def mse8(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error of two (H, W, 3) uint8 images, in 8-bit units²."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two (H, W, 3) uint8 RGB images, peak 255; inf when equal."""
    m = mse8(a, b)
    return math.inf if m == 0 else 10.0 * math.log10(255.0 ** 2 / m)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM (5 scales, data_range=255) of two (H, W, 3) uint8 RGB images.

    NaN when a side is below MS_SSIM_MIN_SIDE pixels: the 5-scale metric is
    not defined there, and a smaller window or fewer scales would give a
    number that is not comparable with published MS-SSIM.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if min(a.shape[:2]) < MS_SSIM_MIN_SIDE:
        return math.nan
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def t(x: np.ndarray) -> torch.Tensor:   # (H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 255]
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float()

    with torch.inference_mode():
        return float(_ms_ssim(t(a), t(b), data_range=255.0, size_average=True))


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, -10 log10(1 - v): spreads the values near 1."""
    if math.isnan(value):
        return math.nan
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def bpp(nbytes: int, height: int, width: int) -> float:
    """Bits per pixel of a file of ``nbytes`` bytes for an H x W image."""
    return 8.0 * nbytes / (height * width)


# --- piecewise cubic Hermite interpolation (PCHIP, Fritsch & Carlson) ------

def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivatives at the knots that keep the interpolant monotone where the
    data are: zero at local extrema, else a weighted harmonic mean of the
    neighbouring secants; one-sided three-point estimates at the ends."""
    h = np.diff(x)
    m = np.diff(y) / h
    if len(x) == 2:
        return np.array([m[0], m[0]])
    d = np.zeros_like(y)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same = (np.sign(m[:-1]) * np.sign(m[1:])) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = (w1 + w2) / (w1 / m[:-1] + w2 / m[1:])
    d[1:-1] = np.where(same, hm, 0.0)
    d[0] = _end_slope(h[0], h[1], m[0], m[1])
    d[-1] = _end_slope(h[-1], h[-2], m[-1], m[-2])
    return d


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3 * m0):
        return 3 * m0
    return float(d)


class Pchip:
    """Monotone piecewise cubic through (x, y), x strictly increasing.

    Each segment i is stored as y_i + d_i t + c2_i t² + c3_i t³ with
    t = x - x_i, which makes evaluation and exact integration one line each.
    """

    def __init__(self, x, y):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
            raise ValueError("need two or more (x, y) pairs")
        if not np.all(np.diff(x) > 0):
            raise ValueError("x must be strictly increasing")
        h, m = np.diff(x), np.diff(y) / np.diff(x)
        d = _pchip_slopes(x, y)
        self.x, self.y, self.d = x, y[:-1], d[:-1]
        self.c2 = (3 * m - 2 * d[:-1] - d[1:]) / h
        self.c3 = (d[:-1] + d[1:] - 2 * m) / h ** 2

    def __call__(self, xq) -> np.ndarray:
        xq = np.asarray(xq, dtype=np.float64)
        i = np.clip(np.searchsorted(self.x, xq, side="right") - 1, 0, len(self.x) - 2)
        t = xq - self.x[i]
        return self.y[i] + t * (self.d[i] + t * (self.c2[i] + t * self.c3[i]))

    def integral(self, lo: float, hi: float) -> float:
        """Exact integral over [lo, hi], a sub-range of the knots' range."""
        if not (self.x[0] <= lo <= hi <= self.x[-1]):
            raise ValueError("integration range outside the data")
        t0 = np.clip(lo - self.x[:-1], 0.0, np.diff(self.x))
        t1 = np.clip(hi - self.x[:-1], 0.0, np.diff(self.x))

        def antiderivative(t):
            return t * (self.y + t * (self.d / 2 + t * (self.c2 / 3 + t * self.c3 / 4)))
        return float(np.sum(antiderivative(t1) - antiderivative(t0)))


# --- Bjøntegaard deltas ----------------------------------------------------

def _curve(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Sort by x, average the y of repeated x, drop non-finite points."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    ux, inv = np.unique(x, return_inverse=True)
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    if len(ux) < 2:
        raise BDUndefined("one point" if len(ux) == 1 else "no points")
    return ux, uy


def _mean_gap(anchor_x, anchor_y, test_x, test_y) -> float:
    """Mean of (test - anchor) over the x range both curves cover."""
    ax, ay = _curve(anchor_x, anchor_y)
    tx, ty = _curve(test_x, test_y)
    lo, hi = max(ax[0], tx[0]), min(ax[-1], tx[-1])
    if not hi > lo:
        raise BDUndefined("no overlap")
    gap = Pchip(tx, ty).integral(lo, hi) - Pchip(ax, ay).integral(lo, hi)
    return gap / (hi - lo)


def _log_rates(rates) -> np.ndarray:
    r = np.asarray(rates, dtype=np.float64)
    if np.any(r <= 0):
        raise ValueError("rates must be positive")
    return np.log(r)


def bd_rate(anchor_rates, anchor_dist, test_rates, test_dist) -> float:
    """Average rate difference in percent at equal quality (negative: the test
    curve saves bits). Rates in any common unit (bpp); quality in dB (PSNR or
    MS-SSIM dB). Raises BDUndefined with fewer than two distinct points or no
    overlapping quality range."""
    gap = _mean_gap(anchor_dist, _log_rates(anchor_rates), test_dist, _log_rates(test_rates))
    return (math.exp(gap) - 1.0) * 100.0


def bd_psnr(anchor_rates, anchor_dist, test_rates, test_dist) -> float:
    """Average quality difference in dB at equal rate (positive: the test
    curve is better), over the overlapping log-rate range."""
    return _mean_gap(_log_rates(anchor_rates), anchor_dist, _log_rates(test_rates), test_dist)


def quality_at_rate(rates, dist, rate: float) -> float:
    """A curve's quality interpolated (PCHIP over log-rate) at ``rate``; NaN
    outside the curve's rate range -- no extrapolation. Used when the other
    curve has a single point and no BD value exists."""
    try:
        x, y = _curve(_log_rates(rates), dist)
    except BDUndefined:
        return math.nan
    lr = math.log(rate)
    if not x[0] <= lr <= x[-1]:
        return math.nan
    return float(Pchip(x, y)(lr))
