"""SSIMULACRA 2: our numpy implementation gives the reference tool's scores.

The pinned values are what the reference binary (cloudinary/ssimulacra2,
built from its repository; see scripts/check_ssimulacra2.py --synthetic)
printed for these synthetic pairs; they are built with numpy only so they
do not move with a Pillow version.
"""
import math

import numpy as np
import pytest

from codec.evaluation import ssimulacra2 as s2


def _base(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([np.sin(xx / 7.0 + c) * np.cos(yy / 11.0 - 2 * c) for c in range(3)], -1)
    img = 128 + 70 * img + rng.normal(0, 10, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _noisy():
    a = _base(96, 128, 1)
    n = np.random.default_rng(2).normal(0, 6, a.shape)
    return a, np.clip(a + n, 0, 255).astype(np.uint8)


def _box_blurred():
    a = _base(96, 128, 3)
    p = np.pad(a.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    b = sum(p[i:i + 96, j:j + 128] for i in range(3) for j in range(3)) / 9
    return a, np.round(b).astype(np.uint8)


def _posterized():
    a = _base(96, 128, 4)
    return a, ((a // 24) * 24 + 12).astype(np.uint8)


def _blocky():
    a = _base(96, 128, 5)
    m = a.reshape(12, 8, 16, 8, 3).astype(np.float64).mean(axis=(1, 3), keepdims=True)
    b = np.broadcast_to(m, (12, 8, 16, 8, 3)).reshape(96, 128, 3)
    return a, np.round(0.5 * a + 0.5 * b).astype(np.uint8)


def _odd_size_tinted():
    a = _base(53, 77, 6)
    b = a.astype(np.int32) + np.array([9, -4, 6])
    return a, np.clip(b, 0, 255).astype(np.uint8)


PAIRS = {"noise": _noisy, "box blur": _box_blurred, "posterized": _posterized, "blocky": _blocky,
         "odd size, tinted": _odd_size_tinted}

# reference binary's output for each pair (scripts/check_ssimulacra2.py --synthetic)
# (SSIMULACRA 2.1, cloudinary/ssimulacra2 @ 81feacf, x86-64 AVX2 build)
REFERENCE = {"noise": 66.059630, "box blur": 42.068917, "posterized": 61.621649, "blocky": 52.993170,
             "odd size, tinted": 87.641313}


@pytest.mark.parametrize("name", list(PAIRS))
def test_scores_match_the_reference_tool_on_synthetic_pairs(name):
    a, b = PAIRS[name]()
    # the reference computes in float32: near-lossless pairs differ most (0.04 here, up to 0.12 on Kodak)
    assert s2.ssimulacra2(a, b) == pytest.approx(REFERENCE[name], abs=0.05)


def test_identical_images_score_100_and_distortion_lowers_the_score():
    a, b = _noisy()
    assert s2.ssimulacra2(a, a) == pytest.approx(100.0)
    assert s2.ssimulacra2(a, b) < 100.0


def test_the_blur_is_the_recursive_gaussian_run_as_a_recursion():
    """blur() applies the recursion's impulse response; it equals running
    libjxl's recursion on the rows and columns (zero outside the image)."""
    x = np.random.default_rng(0).random((2, 23, 31))
    rg = s2.recursive_gaussian(1.5)
    slow = s2.iir_blur_axis(s2.iir_blur_axis(x, -1, rg), -2, rg)
    assert np.abs(s2.blur(x) - slow).max() < 1e-5
    assert rg.radius == 5 and s2.kernel().sum() == pytest.approx(1.0, abs=1e-5)


def test_too_small_or_mismatched_images():
    a = np.zeros((7, 40, 3), np.uint8)
    assert math.isnan(s2.ssimulacra2(a, a))
    with pytest.raises(ValueError):
        s2.ssimulacra2(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
