"""Mean code length <= I + log2(I + 1) + 4 bits, with I = D_KL[Q || P] in bits.

I is the KL divergence of the pair itself (one sample, one-shot), computed in
closed form.  The check is on the mean over fixed seeds plus 3 standard errors,
over a grid of pairs: narrowing Q = N(1/2, s^2) (D_inf ~ KL + 0.7 bits) and
shifted Q = N(mu, 1/16) (D_inf growing faster than KL).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from codec.channel import GaussianPair, IntegerPrior, Method, SharedRandomness, encode
from codec.channel.diagonal import encode_one

N_SEEDS = 200


def narrowing_pair(kl_bits: float, mu: float = 0.5) -> GaussianPair:
    """Q = N(mu, s^2) with D_KL = kl_bits (the narrowing family of the benchmark)."""
    kl = lambda s: (-np.log(s) + (s * s + mu * mu - 1) / 2) / np.log(2) - kl_bits  # noqa: E731
    return GaussianPair(mu, brentq(kl, 1e-8, 1 - 1e-9, xtol=1e-15))


def bound(kl_bits: float) -> float:
    return kl_bits + np.log2(kl_bits + 1) + 4


def mean_bits_upper(pair: GaussianPair, method: Method) -> float:
    bits = np.array([encode_one(pair, SharedRandomness(k, 3), method, IntegerPrior()).bits for k in range(N_SEEDS)])
    return bits.mean() + 3 * bits.std(ddof=1) / np.sqrt(N_SEEDS)


@pytest.mark.parametrize("kl", [0.5, 1, 2, 4, 8, 12, 16, 20])
def test_branch_and_bound_code_length_within_bound(kl):
    pair = narrowing_pair(kl)
    assert mean_bits_upper(pair, Method.BNB) <= bound(kl)


@pytest.mark.parametrize("mu", [1.0, 2.0, 4.0])
def test_branch_and_bound_code_length_within_bound_for_shifted_pairs(mu):
    pair = GaussianPair(mu, 0.25)
    assert mean_bits_upper(pair, Method.BNB) <= bound(pair.kl_bits)


@pytest.mark.parametrize("kl", [0.5, 2, 4, 8])
@pytest.mark.parametrize("method", [Method.PFR, Method.GPRS])
def test_global_code_length_within_bound(method, kl):
    pair = narrowing_pair(kl)
    assert mean_bits_upper(pair, method) <= bound(kl)


@pytest.mark.slow
@pytest.mark.parametrize("kl", [12, 16])
@pytest.mark.parametrize("method", [Method.PFR, Method.GPRS])
def test_global_code_length_within_bound_at_large_kl(method, kl):
    pair = narrowing_pair(kl)
    assert mean_bits_upper(pair, method) <= bound(kl)


def test_range_coded_message_costs_the_information_content_plus_a_flush():
    """The real stream of 20 dimensions is within 64 bits + 0.1 % of the summed bits."""
    rng = np.random.default_rng(0)
    n = 20
    qm, qs = rng.normal(0, 1, n), np.exp(rng.uniform(-6, -0.5, n))
    for method in Method:
        if method is not Method.BNB:
            qs = np.maximum(qs, 0.05)
        msg = encode(qm, qs, np.zeros(n), np.ones(n), 9, method)
        assert 8 * len(msg.data) <= msg.bits.sum() * 1.001 + 64
        assert 8 * len(msg.data) >= msg.bits.sum() * 0.99 - 64
