# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finite-blocklength BER model (docs/model.md §3): monotone, finite in the log domain, and equal
to a direct evaluation of the formula wherever that does not underflow."""

import json

import numpy as np
import pytest
from scipy.stats import norm

from gnuradio.issc import IsscInputError, log10_ber

L = 256


def direct_ber(sinr, rate, blocklength):
    c = np.log2(1 + sinr)
    v = 1 - 1 / (1 + sinr) ** 2
    eps = norm.sf(np.sqrt(blocklength) * (c - rate) * np.log(2) / np.sqrt(v))
    return eps / (rate * blocklength)


def test_matches_direct_evaluation_where_it_does_not_underflow():
    sinr = 10 ** (np.linspace(-10, 30, 81) / 10)
    for rate in (0.1, 0.5, 1.0, 1.5, 2.0, 3.0):
        direct = direct_ber(sinr, rate, L)
        ok = direct > 1e-290
        np.testing.assert_allclose(log10_ber(sinr[ok], rate, L), np.log10(direct[ok]), rtol=1e-9, atol=1e-12)


def test_decreasing_in_sinr_increasing_in_rate():
    sinr = 10 ** (np.linspace(-10, 40, 501) / 10)
    for rate in (0.25, 1.0, 2.0):
        values = log10_ber(sinr, rate, L)
        assert np.all(np.diff(values) <= 0)
        # strictly decreasing once the block error leaves its saturation at 1 (deep below capacity)
        live = values + np.log10(rate * L) < -1e-12
        assert live.sum() > 300 and np.all(np.diff(values)[live[:-1]] < 0)
    for sinr_db in (-5, 0, 5, 10, 20):
        # over the feasible rates 0 < R_c <= C(gamma) (the optimiser's constraint). Above capacity
        # eps_b saturates at 1 and rho_b = eps_b / (R_c L) falls again as 1/R_c: a property of the model.
        capacity = np.log2(1 + 10 ** (sinr_db / 10))
        rates = np.linspace(0.01, capacity, 400)
        assert np.all(np.diff(log10_ber(10 ** (sinr_db / 10), rates, L)) > 0)


def test_finite_log_values_far_below_underflow():
    lb = log10_ber(10 ** (30 / 10), 0.5, L)
    assert np.isfinite(lb) and lb < -300
    assert np.all(np.isfinite(log10_ber(10 ** (np.linspace(-40, 60, 200) / 10), 1.0, 1024)))


def test_zero_sinr_means_every_block_fails():
    assert log10_ber(0.0, 1.0, L) == pytest.approx(np.log10(1 / L))


@pytest.mark.parametrize("args", [(-1.0, 1.0, L), (1.0, 0.0, L), (1.0, 1.0, 0), (np.nan, 1.0, L), (1.0, 1.0, 2.5)])
def test_bad_arguments_raise_input_error(args):
    with pytest.raises(IsscInputError):
        log10_ber(*args)


def test_ber_cli(run_cli):
    code, out, _ = run_cli("ber", "--sinr-db", 3, "--rate", 1.0, "--blocklength", 256)
    data = json.loads(out)
    assert code == 0 and data["log10_ber"] == pytest.approx(np.log10(direct_ber(10**0.3, 1.0, 256)))
    code, out, _ = run_cli("ber", "--sinr-db", 40, "--rate", 0.25)
    assert code == 0 and json.loads(out)["ber"] == 0.0 and json.loads(out)["log10_ber"] < -300
    for bad in (
        ["--sinr-db", "x", "--rate", "1"],
        ["--sinr-db", "3", "--rate", "-1"],
        ["--sinr-db", "inf", "--rate", "1"],
        ["--sinr-db", "3", "--rate", "1", "--blocklength", "0"],
        ["--rate", "1"],
    ):
        code, out, err = run_cli("ber", *bad)
        assert code == 2 and out == "" and err.count("\n") == 1, (bad, err)


# -- domain: at least one information bit per block, BER at most 1/2, finite everywhere --------------------
def test_fewer_than_one_information_bit_per_block_is_refused():
    """rho_b = eps_b / (R_c L) counts one wrong bit among K = R_c L; K < 1 gave 'BERs' of 205 and 3e280."""
    for rate, length in ((0.002, 1), (1e-320, 256), (0.5, 1), (1 / 512, 256)):
        with pytest.raises(IsscInputError, match="rate \\* blocklength must be >= 1"):
            log10_ber(10**-1.0, rate, length)
    # K = 1 exactly (a rate K / L) is in the domain, also when K / L rounds a hair low
    assert np.isfinite(log10_ber(1.0, 1 / 256, 256))
    assert np.isfinite(log10_ber(1.0, np.array([3 / 768, 0.5]), 256)).all()


@pytest.mark.parametrize("sinr_db", [-10.0, -3.0, 0.0, 3.0, 10.0])
@pytest.mark.parametrize("info_bits,blocklength", [(1, 1), (3, 2), (1, 256), (7, 4), (2, 2)])
def test_ber_is_the_closed_form_capped_at_one_half(sinr_db, info_bits, blocklength):
    """For 1 <= K < 2 the quotient eps_b / K exceeds 1/2 where eps_b > K/2: capped there (a receiver that
    guesses gets 1/2), equal to the closed form everywhere else (scipy's Q, independent of log_ndtr)."""
    sinr, rate = 10 ** (sinr_db / 10), info_bits / blocklength
    direct = direct_ber(sinr, rate, blocklength)
    value = 10 ** float(log10_ber(sinr, rate, blocklength))
    assert 0 < value <= 0.5
    assert value == pytest.approx(min(direct, 0.5), rel=1e-9)
    if info_bits >= 2:
        assert direct <= 0.5  # the cap never binds for two or more information bits


def test_huge_rates_and_sinrs_stay_finite_with_the_right_limits():
    """A rate far above capacity: eps_b = 1 and rho_b = 1 / (R_c L) exactly (log(R_c) + log(L), no
    overflow of R_c L); the largest SINR the CLI takes: finite and astronomically small."""
    assert float(log10_ber(1.0, 1e308, 256)) == pytest.approx(-np.log10(1e308) - np.log10(256), rel=1e-12)
    assert float(log10_ber(1.0, 1e6, 10**9)) == pytest.approx(-15.0, rel=1e-12)
    deep = float(log10_ber(1e300, 1.0, 256))
    assert np.isfinite(deep) and deep < -1e6
    assert float(log10_ber(1e-300, 1.0, 256)) == pytest.approx(-np.log10(256), rel=1e-12)  # eps_b = 1


def test_dispersion_and_capacity_are_accurate_at_tiny_sinr():
    """V = 1 - 1/(1+g)^2 cancels catastrophically for small g; the expm1/log1p form does not (mpmath at
    50 digits is the reference)."""
    import mpmath

    from gnuradio.issc.physics.ber import capacity, dispersion

    mpmath.mp.dps = 50
    for g in (1e-15, 1e-9, 1e-4, 0.3, 10.0, 1e8, 1e300):
        exact_v = 1 - 1 / (1 + mpmath.mpf(g)) ** 2
        exact_c = mpmath.log(1 + mpmath.mpf(g), 2)
        assert float(dispersion(g)) == pytest.approx(float(exact_v), rel=1e-14)
        assert float(capacity(g)) == pytest.approx(float(exact_c), rel=1e-14)


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--sinr-db=-10", "--rate", "0.002", "--blocklength", "1"], "R_c L = 0.002"),
        (["--sinr-db", "0", "--rate", "1e-320"], "rate * blocklength must be >= 1"),
        (["--sinr-db", "0", "--rate", "1e308"], "--rate"),
        (["--sinr-db", "1e308", "--rate", "1"], "--sinr-db"),
        (["--sinr-db", "-1e308", "--rate", "1"], "--sinr-db"),
        (["--sinr-db=-1e308", "--rate", "1"], "--sinr-db"),
        (["--sinr-db", "-inf", "--rate", "1"], "--sinr-db"),
        (["--sinr-db", "3", "--rate", "1", "--blocklength", "9" * 40], "--blocklength"),
    ],
)
def test_ber_cli_refuses_out_of_domain_inputs(run_cli, argv, words):
    """Every input outside the documented ranges: exit 2 and one line naming it, never a number."""
    code, out, err = run_cli("ber", *argv)
    assert code == 2 and out == "" and err.startswith("issc") and err.count("\n") == 1
    assert words in err, err


def test_ber_cli_takes_negative_sinrs_in_any_notation(run_cli):
    """'-1e1' and '-10' are values, not options, in both spellings, and give the closed form."""
    expected = np.log10(direct_ber(0.1, 2 / 256, 256))
    for argv in (["--sinr-db", "-1e1"], ["--sinr-db=-10"], ["--sinr-db", "-10.0"]):
        code, out, err = run_cli("ber", *argv, "--rate", 2 / 256)
        assert code == 0, err
        data = json.loads(out)
        assert data["log10_ber"] == pytest.approx(expected, rel=1e-9) and 0 <= data["ber"] <= 0.5
