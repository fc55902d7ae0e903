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
