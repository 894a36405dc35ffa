"""Metrics: PSNR/MS-SSIM conventions, bpp, PCHIP and the Bjøntegaard deltas."""
import math

import numpy as np
import pytest

from codec.metrics import (MS_SSIM_MIN_SIDE, BDUndefined, Pchip, bd_psnr, bd_rate, bpp, ms_ssim, ms_ssim_db,
                           psnr, quality_at_rate)
from conftest import natural_like

RATES = np.array([0.12, 0.21, 0.33, 0.52, 0.80, 1.21, 1.75])      # bpp, uneven steps
PSNRS = np.array([26.9, 28.4, 29.9, 31.6, 33.4, 35.5, 37.6])      # dB, uneven steps


def test_psnr_of_identical_images_is_infinite():
    a = natural_like(20, 30)
    assert psnr(a, a.copy()) == math.inf


def test_psnr_of_known_mse():
    a = np.full((10, 12, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 10                     # squared error 100 on one channel of three: MSE = 100 / 3
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 * 3 / 100), abs=1e-12)


def test_psnr_refuses_different_shapes():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


def test_ms_ssim_is_one_for_equal_images_and_nan_when_too_small():
    a = natural_like(MS_SSIM_MIN_SIDE, MS_SSIM_MIN_SIDE + 7)
    assert ms_ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-6)
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    assert 0.5 < ms_ssim(a, noisy) < 1.0
    small = natural_like(MS_SSIM_MIN_SIDE - 1, 300)
    assert math.isnan(ms_ssim(small, small))


def test_ms_ssim_db_scale():
    assert ms_ssim_db(0.99) == pytest.approx(20.0)
    assert ms_ssim_db(0.9) == pytest.approx(10.0)
    assert ms_ssim_db(1.0) == math.inf and math.isnan(ms_ssim_db(math.nan))


def test_bpp_counts_whole_bytes_over_original_pixels():
    assert bpp(1000, 100, 80) == 1.0
    assert bpp(3, 2, 3) == 4.0


def test_bd_rate_of_rates_scaled_by_0_9_is_exactly_minus_10_percent():
    assert bd_rate(RATES, PSNRS, 0.9 * RATES, PSNRS) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(RATES, PSNRS, 1.25 * RATES, PSNRS) == pytest.approx(25.0, abs=1e-9)
    assert bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-12)


def test_bd_rate_uses_only_the_overlapping_quality_range():
    # log-rate linear in PSNR: every PCHIP of such points is that line, so a
    # test curve at 0.9 x the rate, sampled elsewhere and reaching past the
    # anchor's top, gives exactly -10 % over the overlap (30 to 37.6 dB).
    def rate(db):
        return np.exp(-4.0 + 0.12 * np.asarray(db))
    test_db = np.array([30.0, 32.5, 36.0, 39.0, 42.0])
    assert bd_rate(rate(PSNRS), PSNRS, 0.9 * rate(test_db), test_db) == pytest.approx(-10.0, abs=1e-9)


def test_bd_psnr_sign_and_size():
    assert bd_psnr(RATES, PSNRS, RATES, PSNRS + 0.5) == pytest.approx(0.5, abs=1e-12)
    better = bd_psnr(RATES, PSNRS, 0.8 * RATES, PSNRS)   # same quality for fewer bits
    assert better > 0 and bd_rate(RATES, PSNRS, 0.8 * RATES, PSNRS) < 0
    assert bd_psnr(RATES, PSNRS, 1.3 * RATES, PSNRS) < 0


def test_bd_is_undefined_with_one_point_or_no_overlap():
    with pytest.raises(BDUndefined, match="one point"):
        bd_rate(RATES, PSNRS, [0.5], [31.0])
    with pytest.raises(BDUndefined, match="no overlap"):
        bd_rate(RATES, PSNRS, [2.0, 3.0], [45.0, 48.0])
    with pytest.raises(BDUndefined, match="one point"):
        bd_psnr(RATES, PSNRS, [0.5, 0.5], [31.0, 31.2])      # one distinct rate


def test_pchip_passes_through_points_and_stays_monotone():
    x, y = np.log(RATES), PSNRS
    f = Pchip(x, y)
    np.testing.assert_allclose(f(x), y, atol=1e-12)
    q = np.linspace(x[0], x[-1], 500)
    assert np.all(np.diff(f(q)) >= -1e-12)


def test_pchip_integral_is_exact_for_a_line():
    x = np.array([0.0, 0.5, 2.0, 3.0])
    f = Pchip(x, 2 * x + 1)
    assert f.integral(0.25, 2.5) == pytest.approx((2.5 ** 2 + 2.5) - (0.25 ** 2 + 0.25), abs=1e-12)


def test_pchip_matches_scipy():
    interpolate = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(3)
    for n in (2, 3, 4, 8):
        x = np.sort(rng.uniform(0, 10, n))
        y = rng.normal(size=n)
        ref = interpolate.PchipInterpolator(x, y)
        q = np.linspace(x[0], x[-1], 200)
        np.testing.assert_allclose(Pchip(x, y)(q), ref(q), atol=1e-10)
        assert Pchip(x, y).integral(x[0], x[-1]) == pytest.approx(ref.integrate(x[0], x[-1]), abs=1e-10)


def test_quality_at_rate_interpolates_and_never_extrapolates():
    assert quality_at_rate(RATES, PSNRS, RATES[3]) == pytest.approx(PSNRS[3])
    assert PSNRS[3] < quality_at_rate(RATES, PSNRS, 0.6) < PSNRS[4]
    assert math.isnan(quality_at_rate(RATES, PSNRS, 0.01))
