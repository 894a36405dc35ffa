"""SSIMULACRA 2, the JPEG XL project's perceptual metric, in numpy.

Written from the definition in cloudinary/ssimulacra2 (``ssimulacra2.cc``,
April 2023 weights) and libjxl's helpers it calls; the arithmetic follows
that code so the score is the reference tool's score (checked against a
binary built from that repository: ``scripts/check_ssimulacra2.py``).
Scores: 100 for identical images, about 90 "visually lossless", 70 high,
50 medium, 30 low quality; it can go negative.

Steps, for an original A and a distorted B, (H, W, 3) uint8 sRGB:

1. sRGB -> linear RGB (the sRGB transfer function) in [0, 1].
2. Six scales (1:1 .. 1:32, while both sides are >= 8): each halves the
   linear image by 2x2 box means (the last row/column repeated for odd
   sizes), then converts to XYB (libjxl's opsin absorbance, cube root) made
   positive (X*14 + 0.42, Y + 0.01, B - Y + 0.55).
3. Per scale and channel: a Gaussian blur of sigma 1.5 -- libjxl's
   recursive (IIR) Gaussian, *not* an exact Gaussian: the pure-Python PyPI
   port uses a truncated exact kernel and is off by up to ~4 points -- of
   A, B, A², B², AB; then three error maps: 1 - SSIM without the luminance
   denominator, "ringing" (B has edges where A is smooth) and "blurring"
   (the reverse); the 1-norm and 4-norm of each map.
4. A weighted sum of the 108 norms, mapped through a fixed polynomial and
   power to the 0..100 scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NUM_SCALES = 6
SIGMA = 1.5
C2 = 0.0009

# Opsin absorbance (libjxl opsin_params.h): rows mix linear R, G, B into L, M, S.
_OPSIN = np.array([[0.30, 1.0 - 0.078 - 0.30, 0.078],
                   [0.23, 1.0 - 0.078 - 0.23, 0.078],
                   [0.24342268924547819, 0.20476744424496821, 1.0 - 0.24342268924547819 - 0.20476744424496821]])
_OPSIN_BIAS = 0.0037930732552754493

# The 108 weights of the April 2023 model: for channel X, Y, B; scale 0..5;
# norm 1, 4; map SSIM, ringing, blurring (that nesting order).
_WEIGHTS = np.array([
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0, 0.0004371155730107379, 0.0,
    1.1041726426657346, 0.00066284834129271, 0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0,
    1.8422455520539298, 11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072, 0.9677937080626833, 0.0,
    0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0,
    0.0013648766163243398, 0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262,
    0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296, 1.027889937768264,
    225.20515300849274, 0.0, 0.0, 19.213238186143016, 0.0011401524586618361, 0.001237755635509985,
    176.39317598450694, 0.0, 0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0,
    0.0, 34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0, 0.00016533814161379112,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336, 0.0017290828234722833, 0.0, 0.0020827005846636437,
    0.0, 0.0, 8.826982764996862, 23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682,
    0.9834382792465353, 0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537])


@dataclass(frozen=True)
class RecursiveGaussian:
    """Coefficients of libjxl's IIR Gaussian (Charalampidis 2016): three
    second-order sections k = 1, 3, 5, each
    ``y[n] = n2 * (x[n-N-1] + x[n+N-1]) - d1 * y[n-1] - y[n-2]``, summed."""

    radius: int                  # N
    n2: tuple[float, float, float]
    d1: tuple[float, float, float]


@lru_cache(maxsize=4)
def recursive_gaussian(sigma: float) -> RecursiveGaussian:
    """The filter for ``sigma``, solved as libjxl's CreateRecursiveGaussian does."""
    radius = float(round(3.2795 * sigma + 0.2546))
    omega = np.pi / (2.0 * radius) * np.array([1.0, 3.0, 5.0])
    p = np.array([1.0, -1.0, 1.0]) / np.tan(0.5 * omega)
    r = np.array([1.0, -1.0, 1.0]) * p * p / np.sin(omega)
    rho = np.exp(-0.5 * sigma * sigma * omega * omega) / radius
    d13 = p[0] * r[1] - r[0] * p[1]
    zeta15 = (p[1] * r[2] - r[1] * p[2]) / d13
    zeta35 = (p[2] * r[0] - r[2] * p[0]) / d13
    a = np.array([p, r, [zeta15, zeta35, 1.0]])
    gamma = np.array([1.0, radius * radius - sigma * sigma, zeta15 * rho[0] + zeta35 * rho[1] + rho[2]])
    beta = np.linalg.solve(a, gamma)
    n2 = -beta * np.cos(omega * (radius + 1.0))
    d1 = -2.0 * np.cos(omega)
    # libjxl stores the coefficients as float32
    return RecursiveGaussian(int(radius), tuple(float(np.float32(v)) for v in n2),
                             tuple(float(np.float32(v)) for v in d1))


def iir_blur_axis(x: np.ndarray, axis: int, rg: RecursiveGaussian) -> np.ndarray:
    """The recursion itself along one axis of ``x``, zero outside the image,
    as libjxl runs it (from n = -N+1, zero state). Slow-ish; ``blur`` uses
    its impulse response instead, which is the same linear map."""
    from scipy.signal import lfilter
    x = np.moveaxis(x, axis, -1)
    n, big_n = x.shape[-1], rg.radius
    # xp[j] = x[j - 2N]; s[m] = x[m-N-1] + x[m+N-1] for m = -N+1 .. n-1
    xp = np.zeros(x.shape[:-1] + (n + 3 * big_n,), dtype=np.float64)
    xp[..., 2 * big_n:2 * big_n + n] = x
    s = xp[..., 0:n + big_n - 1] + xp[..., 2 * big_n:n + 3 * big_n - 1]
    out = sum(lfilter([n2], [1.0, d1, 1.0], s, axis=-1) for n2, d1 in zip(rg.n2, rg.d1))
    return np.moveaxis(out[..., big_n - 1:], -1, axis)


@lru_cache(maxsize=4)
def kernel(sigma: float = SIGMA) -> np.ndarray:
    """The recursive Gaussian's impulse response, 2N+1 taps.

    Each section's input is x[n-N-1] + x[n+N-1]: the second tap cancels the
    oscillation the first starts (omega_k (2N) is an odd multiple of pi), so
    the filter is finite; outside 2N+1 taps only float32 rounding of its
    coefficients is left (< 2e-7). As a convolution the blur costs one pass
    of C code instead of a recursion per row.
    """
    rg = recursive_gaussian(sigma)
    impulse = np.zeros(4 * rg.radius + 1)
    impulse[2 * rg.radius] = 1.0
    return iir_blur_axis(impulse, 0, rg)[rg.radius:3 * rg.radius + 1].copy()


def blur(planes: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """(..., H, W) -> the same shape: libjxl's recursive Gaussian, horizontal
    then vertical, zero outside the image (no renormalisation at the borders)."""
    from scipy.ndimage import correlate1d
    k = kernel(sigma)
    # float32 as libjxl; the vertical pass on the transposed planes (contiguous rows)
    k = k.astype(np.float32)
    out = correlate1d(planes.astype(np.float32, copy=False), k, axis=-1, mode="constant", cval=0.0)
    out = correlate1d(np.ascontiguousarray(out.swapaxes(-1, -2)), k, axis=-1, mode="constant", cval=0.0)
    return out.swapaxes(-1, -2)


def srgb_to_linear(rgb8: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 linear RGB in [0, 1] (float32 as libjxl)."""
    v = np.arange(256) / 255.0
    lut = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return lut[np.moveaxis(rgb8, -1, 0)]


def positive_xyb(lin: np.ndarray) -> np.ndarray:
    """(3, H, W) linear RGB -> (3, H, W) XYB rescaled to about 0..1, B as B - Y."""
    f = np.float32
    mixed = np.tensordot(_OPSIN.astype(f), lin, axes=1) + f(_OPSIN_BIAS)
    lms = np.cbrt(np.maximum(mixed, f(0))) - f(math.cbrt(_OPSIN_BIAS))
    x = f(0.5) * (lms[0] - lms[1])
    y = f(0.5) * (lms[0] + lms[1])
    return np.stack([x * f(14) + f(0.42), y + f(0.01), (lms[2] - y) + f(0.55)])


def downsample2(lin: np.ndarray) -> np.ndarray:
    """(3, H, W) -> (3, ceil(H/2), ceil(W/2)) 2x2 means, edge pixels repeated."""
    _, h, w = lin.shape
    padded = np.pad(lin, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    return np.float32(0.25) * (padded[:, 0::2, 0::2] + padded[:, 1::2, 0::2] + padded[:, 0::2, 1::2] + padded[:, 1::2, 1::2])


def _norms(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel of (3, H, W): the mean and the 4-norm (mean of d^4)^(1/4),
    summed in float64 as the reference does."""
    d2 = d * d
    return (d.mean(axis=(1, 2), dtype=np.float64),
            np.sqrt(np.sqrt((d2 * d2).mean(axis=(1, 2), dtype=np.float64))))


def scale_norms(img1: np.ndarray, img2: np.ndarray) -> np.ndarray:
    """One scale's 18 norms as (3 channels, 2 norms, 3 maps): SSIM, ringing, blurring."""
    b = blur(np.stack([img1 * img1, img2 * img2, img1 * img2, img1, img2]))
    s11, s22, s12, mu1, mu2 = b
    f = np.float32
    num_m = f(1) - (mu1 - mu2) ** 2
    num_s = f(2) * (s12 - mu1 * mu2) + f(C2)
    den_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + f(C2)
    ssim = np.maximum(f(1) - num_m * num_s / den_s, f(0))
    d1 = (f(1) + np.abs(img2 - mu2)) / (f(1) + np.abs(img1 - mu1)) - f(1)
    out = np.empty((3, 2, 3))
    for k, m in enumerate((ssim, np.maximum(d1, f(0)), np.maximum(-d1, f(0)))):
        out[:, 0, k], out[:, 1, k] = _norms(m)
    return out


def score_from_norms(norms: list[np.ndarray]) -> float:
    """The weighted sum of every scale's norms, mapped to the 0..100 scale.

    The weights are taken in order, channel by channel, over the scales that
    exist: with fewer than six scales (an image under 256 pixels a side) the
    reference shifts the Y and B channels onto weights tuned for other
    scales, and so do we -- the score is the tool's, not a corrected one."""
    flat = np.concatenate([np.abs(n[c]).ravel() for c in range(3) for n in norms])
    s = float(np.dot(_WEIGHTS[:len(flat)], flat))
    s *= 0.9562382616834844
    s = 2.326765642916932 * s - 0.020884521182843837 * s * s + 6.248496625763138e-05 * s * s * s
    return 100.0 - 10.0 * s ** 0.6276336467831387 if s > 0 else 100.0


def ssimulacra2(original: np.ndarray, distorted: np.ndarray) -> float:
    """SSIMULACRA 2 score of two (H, W, 3) uint8 sRGB images (higher is better,
    100 when equal). NaN when a side is below 8 pixels (no scale is defined)."""
    if original.shape != distorted.shape:
        raise ValueError(f"shapes differ: {original.shape} vs {distorted.shape}")
    if original.ndim != 3 or original.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got {original.shape}")
    lin1, lin2 = srgb_to_linear(original), srgb_to_linear(distorted)
    norms = []
    for scale in range(NUM_SCALES):
        if min(lin1.shape[1:]) < 8:
            break
        if scale:
            lin1, lin2 = downsample2(lin1), downsample2(lin2)
        norms.append(scale_norms(positive_xyb(lin1), positive_xyb(lin2)))
    return score_from_norms(norms) if norms else math.nan
