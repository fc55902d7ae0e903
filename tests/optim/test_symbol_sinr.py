# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The optimiser's SINR is the symbol SINR the receiver measures after its matched filter.

With ``signal.samples_per_symbol = sps`` every stream is RRC-shaped at unit power per sample; the matched
filter lowers the white noise by ``sps`` but not the sensing streams (same pulse, same symbol clock). The
prediction of :class:`~gnuradio.issc.optim.problem.DesignProblem` is checked against a simulation through
the link's own pulse shaper and matched filter: the CRE's received samples ``h^H (w_c s_c + w_0 s_0) + n``
with the scenario's noise, the symbol-instant outputs compared with the sent symbols.
"""

import numpy as np
import pytest

from gnuradio.issc.link.waveform import Waveform, matched_filter, shape
from gnuradio.issc.optim.problem import DesignProblem
from gnuradio.issc.scenario import load_scenario
from gnuradio.issc.units import lin_to_db

SYMBOLS = 20000
EDGE = 64  # symbols left out at each end (the pulses' tails)


def qpsk(rng, n):
    return (rng.choice([-1.0, 1.0], n) + 1j * rng.choice([-1.0, 1.0], n)) / np.sqrt(2.0)


def problem_at(sps):
    scn = load_scenario("tradeoff").replace(signal={"samples_per_symbol": sps})
    return DesignProblem.from_scenario(scn)


def beams(problem, sample_snr, sample_inr):
    """Beams along ``h_c`` giving a per-sample SNR ``sample_snr`` and sensing INR ``sample_inr``."""
    gain = float(np.linalg.norm(problem.h_c) ** 2)
    u = problem.h_c / np.linalg.norm(problem.h_c)
    w_c = u * np.sqrt(sample_snr * problem.sample_noise_w / gain)
    w_0 = (u * np.sqrt(sample_inr * problem.sample_noise_w / gain)).reshape(-1, 1)
    return w_c, w_0


def measured_sinr(problem, w_c, w_0, seed):
    """The symbol SINR at the matched filter's symbol instants (the filter has unit gain on the symbol)."""
    rng = np.random.default_rng(seed)
    waveform = Waveform.from_scenario(problem.scenario)
    data, sensing = qpsk(rng, SYMBOLS), qpsk(rng, SYMBOLS)
    a = complex(np.vdot(problem.h_c, w_c))  # h^H w_c
    b = complex(np.vdot(problem.h_c, w_0[:, 0]))
    x = a * shape(data, waveform) + b * shape(sensing, waveform)
    sigma = np.sqrt(problem.sample_noise_w / 2)
    y = x + sigma * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    z = matched_filter(y, waveform)[np.arange(SYMBOLS) * waveform.sps + waveform.group_delay]
    error = (z - a * data)[EDGE:-EDGE]
    return abs(a) ** 2 / float(np.mean(np.abs(error) ** 2))


@pytest.mark.parametrize("sps", [1, 2, 4])
@pytest.mark.parametrize("sample_inr", [0.0, 0.5, 2.0])
def test_predicted_sinr_is_the_measured_symbol_sinr(sps, sample_inr):
    """Predicted and measured symbol SINR agree within 0.2 dB, with and without sensing interference;
    at sps > 1 the prediction is not the per-sample SINR (the check can fail)."""
    problem = problem_at(sps)
    assert problem.symbol_snr_gain == sps
    w_c, w_0 = beams(problem, 2.0, sample_inr)
    predicted = problem.sinr(w_c, w_0)
    assert predicted == pytest.approx(sps * 2.0 / (sps * sample_inr + 1.0), rel=1e-9)
    measured = measured_sinr(problem, w_c, w_0, seed=sps * 10 + int(4 * sample_inr))
    assert abs(lin_to_db(measured) - lin_to_db(predicted)) < 0.2
    per_sample = 2.0 / (sample_inr + 1.0)
    if sps > 1:
        assert lin_to_db(measured) - lin_to_db(per_sample) > 0.5


def test_mrt_snr_is_the_symbol_snr_and_sps_1_is_unchanged():
    """``mrt_snr`` scales with sps (the matched filter's gain on white noise); at sps 1 the problem's noise
    is the scenario's per-sample noise, exactly."""
    one, two = problem_at(1), problem_at(2)
    assert one.comm_noise_w == one.sample_noise_w
    assert two.sample_noise_w == one.sample_noise_w
    assert two.mrt_snr == pytest.approx(2 * one.mrt_snr, rel=1e-12)
    # the channel-use budget counts code symbols, not samples
    assert two.channel_use_budget == one.channel_use_budget


def test_multi_user_sinrs_are_symbol_sinrs_too():
    """The multi-user problem uses the same noise at the symbol instant: at sps = 2 every user's MRT SNR
    is twice the sps = 1 figure (the matched filter halves the white noise), with the same channels."""
    from gnuradio.issc.optim.multiuser import MultiUserProblem

    one = MultiUserProblem.from_scenario("multiuser")
    two = MultiUserProblem.from_scenario(load_scenario("multiuser").replace(signal={"samples_per_symbol": 2}))
    np.testing.assert_allclose(two.noise_w, one.noise_w / 2, rtol=1e-12)
    np.testing.assert_allclose(two.mrt_snr(), 2 * one.mrt_snr(), rtol=1e-12)
