"""Building blocks of codec.channel: randomness, normal helpers, stretch, codes, errors, caps."""
from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import integrate, stats

from codec.errors import CodecError
from codec.channel import (BadParameter, BoundViolated, CorruptCode, GaussianPair, IntegerPrior, Method,
                           NotAbsolutelyContinuous, SearchCapExceeded, SharedRandomness, UnboundedRatio,
                           decode, encode)
from codec.channel import bnb, normal, search
from codec.channel.codes import StreamDecoder, StreamEncoder
from codec.channel.numeric import NumericPair


# --- shared randomness ------------------------------------------------------
def test_blocks_are_addressed_by_index_not_by_call_order():
    rng = SharedRandomness(2026, 7)
    batch = rng.uniforms(5, 40)
    for j in (0, 1, 17, 39):
        assert batch[j].tobytes() == rng.uniforms(5 + j, 1)[0].tobytes()


def test_philox_words_are_the_pinned_reference_stream():
    """Golden words of Philox-4x64 for key (2026, 7), block 0: guards against a changed stream."""
    w = SharedRandomness(2026, 7).words(0, 1)[0]
    assert w.tolist() == [4464583800282260749, 9202327227910888272, 1348907069451995232, 5023621432526323377]


def test_uniforms_are_strictly_inside_the_unit_interval_and_streams_differ():
    a, b = SharedRandomness(1, 0).uniforms(0, 1000), SharedRandomness(1, 1).uniforms(0, 1000)
    assert a.min() > 0 and a.max() < 1 and not np.array_equal(a, b)
    assert stats.kstest(a.ravel(), "uniform").pvalue > 1e-3


@pytest.mark.parametrize("seed", [-1, 2 ** 64, 1.5, True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(BadParameter):
        SharedRandomness(seed)


# --- normal helpers ---------------------------------------------------------
@pytest.mark.parametrize("a,b", [(-np.inf, np.inf), (-1, 2), (3, 3.001), (5, 9), (-9, -5), (20, np.inf),
                                 (-np.inf, -30), (0.5, 0.5 + 1e-7)])
def test_interval_mass_and_truncated_ppf_agree_with_scipy_and_scalar_forms(a, b):
    ref = stats.truncnorm(a, b)
    assert normal.interval_mass1(a, b) == normal.interval_mass(np.array([a]), np.array([b]))[0]
    mass = normal.interval_mass1(a, b)
    direct = stats.norm.sf(a) - stats.norm.sf(b) if a >= 0 else stats.norm.cdf(b) - stats.norm.cdf(a)
    assert mass == pytest.approx(direct, rel=1e-9, abs=1e-300)
    for u in (1e-9, 0.3, 0.999999):
        x = normal.truncated_ppf1(a, b, u)
        assert x == normal.truncated_ppf(a, b, u)
        assert a <= x <= b
        if np.isfinite(ref.ppf(u)) and (b - a) > 1e-3:
            assert x == pytest.approx(ref.ppf(u), rel=1e-8, abs=1e-10)


# --- stretch ----------------------------------------------------------------
@pytest.mark.parametrize("mu,s", [(1.0, 0.25), (3.0, 0.5), (0.0, 0.9), (1.0, 1e-4)])
def test_tabulated_stretch_equals_direct_integral_of_one_over_v(mu, s):
    """sigma(h) = int_0^h d eta / (w_Q - eta w_P), integrated by scipy in h, at several levels."""
    pair = GaussianPair(mu, s)

    def inv_v(h):
        rho = np.sqrt(2 * (pair.log_rstar - np.log(h)))
        return 1.0 / pair.v(np.array(rho))

    for rho in (0.05, 0.5, 2.0, 4.0):
        h = np.exp(pair.log_rstar - rho * rho / 2)
        ref = integrate.quad(inv_v, 0, h, limit=400, epsabs=0, epsrel=1e-11)[0]
        assert pair.stretch_at(np.array([rho]))[0] == pytest.approx(ref, rel=1e-7)


def test_v_is_continuous_where_closed_form_hands_over_to_quadrature():
    pair = GaussianPair(1.0, 0.25)
    rho = np.geomspace(1e-6, 3, 4000)
    v = pair.v(rho)
    assert np.all(np.diff(v) > 0)
    ref = [integrate.quad(lambda x: max(float(np.exp(pair._log_q(np.array(x)))) -
                                        np.exp(pair.log_rstar - r * r / 2) * stats.norm.pdf(x), 0.0),
                          pair.x_star - pair.tau * r, pair.x_star + pair.tau * r, epsabs=0, epsrel=1e-12)[0]
           for r in (1e-2, 0.3, 1.0)]
    assert pair.v(np.array([1e-2, 0.3, 1.0])) == pytest.approx(ref, rel=1e-6)


def test_accepts_agrees_with_threshold():
    pair = GaussianPair(1.0, 0.05)
    u = SharedRandomness(3).uniforms(0, 5000)
    x = pair.x_star + pair.tau * np.tan(np.pi * (u[:, 0] - 0.5))
    t = np.exp(20 * u[:, 1] - 10)
    assert np.array_equal(pair.accepts(t, x), t <= pair.threshold(x))


# --- codes ------------------------------------------------------------------
def test_integer_and_direction_codes_round_trip():
    prior = IntegerPrior(1.3)
    values = [1, 2, 3, 7, 8, 1000, 2 ** 22, 2 ** 40 + 12345]
    enc = StreamEncoder()
    for n in values:
        enc.integer(n, prior)
        enc.direction(n % 2 == 0, 0.37)
    dec = StreamDecoder(enc.finish())
    for n in values:
        assert dec.integer(prior) == n
        assert dec.direction(0.37) == (n % 2 == 0)


def test_integer_prior_is_a_probability_law():
    prior = IntegerPrior()
    assert prior.bucket_probs.sum() == pytest.approx(1.0)
    kraft = sum(2.0 ** -prior.bits(n) for n in range(1, 2 ** 12))
    assert 0.5 < kraft <= 1.0


# --- errors and caps --------------------------------------------------------
@pytest.mark.parametrize("mu,s,err", [(np.nan, 0.5, BadParameter), (0.0, np.inf, BadParameter),
                                      (0.0, -1.0, BadParameter), (0.0, 1.0, UnboundedRatio),
                                      (0.0, 1.5, UnboundedRatio), (40.0, 0.5, BadParameter),
                                      (1.0, 1e-12, BadParameter)])
def test_bad_gaussian_pairs_are_refused_with_codec_errors(mu, s, err):
    with pytest.raises(err) as e:
        GaussianPair(mu, s)
    assert isinstance(e.value, CodecError)


def test_wider_q_is_not_absolutely_continuous_in_the_bounded_sense():
    with pytest.raises(NotAbsolutelyContinuous):
        encode([0.0], [2.0], [0.0], [1.0], seed=0)
    with pytest.raises(BadParameter):
        encode([0.0], [0.5], [0.0], [0.0], seed=0)
    with pytest.raises(BadParameter):
        encode([0.0, 1.0], [0.5], [0.0, 0.0], [1.0, 1.0], seed=0)


@pytest.mark.parametrize("method", [Method.PFR, Method.GPRS])
def test_global_search_beyond_its_cap_is_refused_before_searching(method):
    start = time.process_time()
    with pytest.raises(SearchCapExceeded):
        encode([6.0], [0.25], [0.0], [1.0], seed=0, method=method)     # D_inf 29.7 bits > 22
    assert time.process_time() - start < 2.0


def test_branch_and_bound_stops_at_its_depth_cap(monkeypatch):
    monkeypatch.setattr(bnb, "MAX_DEPTH", 2)
    with pytest.raises(SearchCapExceeded):
        bnb.bnb_encode(GaussianPair(1.0, 1e-5), SharedRandomness(0), IntegerPrior())


def test_a_bound_that_does_not_hold_is_detected_during_the_search():
    class Understated:
        """A pair whose stated bound is e times too small."""

        def __init__(self, pair):
            self.pair, self.log_rstar, self.dinf_bits = pair, pair.log_rstar - 1.0, pair.dinf_bits

        def __getattr__(self, name):
            return getattr(self.pair, name)

    pair = Understated(GaussianPair(1.0, 0.25))
    for encoder in (search.pfr_encode, search.gprs_encode):
        with pytest.raises(BoundViolated):
            encoder(pair, SharedRandomness(0), IntegerPrior())


def test_numeric_pair_checks_support_bound_and_parameters():
    with pytest.raises(NotAbsolutelyContinuous):
        NumericPair(stats.norm(0, 1), stats.uniform(0, 1), 2.0)
    with pytest.raises(BoundViolated):
        NumericPair(stats.beta(2, 5), stats.uniform(0, 1), 2.0)       # true sup 2.4576
    for b in (np.inf, np.nan, 0.5, "x"):
        with pytest.raises(BadParameter):
            NumericPair(stats.beta(2, 5), stats.uniform(0, 1), b)


def test_corrupt_codes_raise_corrupt_code():
    with pytest.raises(CorruptCode):
        decode(b"\x01\x02\x03", [0.0], [1.0], seed=0)
    for data in (b"", b"\xff" * 16):
        with pytest.raises(CorruptCode):
            decode(data, [0.0] * 8, [1.0] * 8, seed=0, method=Method.BNB)
    msg = encode([1.0, 2.0], [0.01, 0.01], [0.0, 0.0], [1.0, 1.0], seed=0, method=Method.BNB)
    with pytest.raises(CorruptCode):
        decode(msg.data + b"\x12\x34\x56\x78" * 3, [0.0, 0.0], [1.0, 1.0], seed=0, method=Method.BNB)
