"""The decoded samples of every channel-simulation method are distributed as Q.

Level: each Kolmogorov-Smirnov and Cramer-von Mises test rejects at
ALPHA = 0.001.  Seeds are fixed, so the outcome is deterministic; a correct
method fails a given check with probability 0.001 over the choice of seeds.
The power check shows the same tests, on the same number of samples, reject a
plausible wrong algorithm (GPRS with the stretch of a neighbouring pair).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from codec.channel import GaussianPair, IntegerPrior, Method, SharedRandomness, decode, encode
from codec.channel import search
from codec.channel.numeric import NumericPair

ALPHA = 1e-3
N_DEFAULT = 400


def p_values(samples: np.ndarray, cdf) -> tuple[float, float]:
    return stats.kstest(samples, cdf).pvalue, stats.cramervonmises(samples, cdf).pvalue


def decoded_gaussian_samples(mu: float, s: float, method: Method, n: int, seed: int = 11,
                             p_mean: float = 0.0, p_std: float = 1.0) -> np.ndarray:
    """n i.i.d. samples of Q sent as n dimensions of one message, then decoded."""
    q_mean, q_std = p_mean + p_std * mu, p_std * s
    msg = encode(np.full(n, q_mean), np.full(n, q_std), np.full(n, p_mean), np.full(n, p_std), seed, method)
    out = decode(msg.data, np.full(n, p_mean), np.full(n, p_std), seed, method)
    assert out.tobytes() == msg.samples.tobytes()
    return out


# (mu, s) in P's standardized coordinates; KL / D_inf in bits in the comment
GLOBAL_PAIRS = [(1.0, 0.25),      # the seed's example Q = N(1, 1/16): KL 2.05, D_inf 2.77
                (3.0, 0.5)]       # KL 6.95, D_inf 9.66
BNB_PAIRS = [(1.0, 0.25),
             (1.0, 2.0 ** -14),   # KL 14.0, D_inf 14.7
             (6.0, 0.25)]         # KL 27.3, D_inf 29.7 (out of reach of global methods)


@pytest.mark.parametrize("mu,s", GLOBAL_PAIRS)
@pytest.mark.parametrize("method", [Method.PFR, Method.GPRS])
def test_global_methods_decode_samples_of_q(method, mu, s):
    x = decoded_gaussian_samples(mu, s, method, N_DEFAULT)
    assert min(p_values(x, stats.norm(mu, s).cdf)) > ALPHA


@pytest.mark.parametrize("mu,s", BNB_PAIRS)
def test_branch_and_bound_decodes_samples_of_q(mu, s):
    x = decoded_gaussian_samples(mu, s, Method.BNB, N_DEFAULT)
    assert min(p_values(x, stats.norm(mu, s).cdf)) > ALPHA


def test_exactness_holds_in_unstandardized_coordinates():
    p_mean, p_std = -3.0, 5.0
    x = decoded_gaussian_samples(0.7, 0.1, Method.BNB, 300, p_mean=p_mean, p_std=p_std)
    assert min(p_values(x, stats.norm(p_mean + p_std * 0.7, p_std * 0.1).cdf)) > ALPHA


@pytest.mark.parametrize("encoder", [search.gprs_encode, pytest.param(search.pfr_encode, marks=pytest.mark.slow)])
def test_numeric_pair_samples_are_distributed_as_q(encoder):
    q = stats.beta(2, 5)
    pair = NumericPair(q, stats.uniform(0, 1), ratio_bound=2.5)
    x = np.array([encoder(pair, SharedRandomness(k), IntegerPrior()).sample for k in range(N_DEFAULT)])
    assert min(p_values(x, q.cdf)) > ALPHA


class _WrongStretch(GaussianPair):
    """GPRS that uses the graph sigma o r of N(1, 0.35^2) for the target N(1, 0.25^2)."""

    other = GaussianPair(1.0, 0.35)

    def accepts(self, t, x):
        return self.other.accepts(t, x)


def test_power_a_wrong_stretch_is_rejected_at_the_stated_level():
    wrong = _WrongStretch(1.0, 0.25)
    n = 1000
    x = np.array([search.gprs_encode(wrong, SharedRandomness(k), IntegerPrior()).sample for k in range(n)])
    ks, cvm = p_values(x, stats.norm(1.0, 0.25).cdf)
    assert ks < ALPHA and cvm < ALPHA
    pair = GaussianPair(1.0, 0.25)
    right = np.array([search.gprs_encode(pair, SharedRandomness(k), IntegerPrior()).sample for k in range(n)])
    assert min(p_values(right, stats.norm(1.0, 0.25).cdf)) > ALPHA


@pytest.mark.slow
@pytest.mark.parametrize("method,mu,s", [(Method.PFR, 0.0, 0.5), (Method.GPRS, 0.0, 0.5), (Method.BNB, 0.0, 0.5),
                                         (Method.PFR, 3.0, 0.5), (Method.GPRS, 3.0, 0.5),
                                         (Method.PFR, 1.0, 2.0 ** -10), (Method.GPRS, 1.0, 2.0 ** -10),
                                         (Method.BNB, 1.0, 2.0 ** -20), (Method.BNB, 1.0, 2.0 ** -28),
                                         (Method.BNB, 10.0, 0.25)])
def test_many_samples_are_distributed_as_q(method, mu, s):
    """5000 samples per pair; KL up to 29 bits narrowing and 74 bits shifted (BNB)."""
    x = decoded_gaussian_samples(mu, s, method, 5000, seed=5)
    assert min(p_values(x, stats.norm(mu, s).cdf)) > ALPHA
