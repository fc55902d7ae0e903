# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""echo_channel: the bistatic echo at the sensing receiver, with the sync error."""

from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.pdus import dict_to_meta
from ..physics.channels import EchoChannel
from ..physics.geometry import Geometry, noise_powers_w
from ..physics.impairments import ImpairmentSettings
from ..physics.motion import scenario_trajectory
from ..scenario import load_scenario
from ..sensing.streaming import ECHO_TAG
from ..units import dbm_to_w
from ._util import RateLimitedLog, check_antennas, stacked_finite_inputs


class echo_channel(gr.sync_block):
    """The sensing channel of docs/model.md §4: ``N_T`` antenna streams in, ``N_R`` out,
    ``y_s[n] = H_0 x(n - tau_b) + n_s[n]``, ``H_0 = beta_0 a_NR(phi) a_NT(theta)^H``.

    The delay ``tau_b = (d_bo + d_or)/c + dtau_b`` holds over each sensing block of ``N`` samples, with a
    fresh sync error ``dtau_b ~ N(0, sigma_dt^2)`` (truncated at 5 sigma) per block, applied as a real
    band-limited fractional delay (:class:`~gnuradio.issc.physics.channels.EchoChannel`). The first sample of
    every block carries an ``issc_echo`` tag on every output with the true delay, sync error and target
    position, for the estimator's truth and the tests. A moving target (scenario ``motion``) is at its
    trajectory's position at the block's time ``block * motion.block_interval_s`` for the whole block.
    Non-finite input samples are replaced by 0 and logged.

    Optionally the echo carries the sensing receiver's carrier impairments, common to its antennas (one
    local oscillator), seeded from ``seed`` (:mod:`gnuradio.issc.physics.impairments`): a carrier frequency
    offset and Wiener phase noise, in Hz at the scenario's sample rate. Its timing error is the sync error.
    Both are off by default. The sensing estimator assumes a coherent echo (known ``beta_0``): with a CFO it
    sees a rotating echo and its estimates degrade (that is what the option is for).

    Args:
        scenario: shipped scenario name or YAML path.
        noise_dbm: noise power per receive antenna (NaN: the scenario's; -inf: noise-free).
        sigma_ns: sync error standard deviation in ns (NaN: the scenario's).
        seed: seed of the sync errors, the noise and the phase noise.
        n_tx: number of inputs; must match the scenario's ``N_T`` (0: take it from the scenario).
        n_rx: number of outputs; must match the scenario's ``N_R`` (0: take it from the scenario).
        cfo_hz: carrier frequency offset of the echo (Hz).
        linewidth_hz: phase-noise 3 dB linewidth of the sensing receiver's oscillator (Hz; 0: none).
    """

    def __init__(
        self,
        scenario="paper",
        noise_dbm: float = float("nan"),
        sigma_ns: float = float("nan"),
        seed: int = 0,
        n_tx: int = 0,
        n_rx: int = 0,
        cfo_hz: float = 0.0,
        linewidth_hz: float = 0.0,
    ):
        try:
            scn = load_scenario(scenario)
            geometry = Geometry.from_scenario(scn)
            check_antennas("n_tx", n_tx, geometry.n_tx, scn)
            check_antennas("n_rx", n_rx, geometry.n_rx, scn)
            noise_w = noise_powers_w(scn)[1] if math.isnan(noise_dbm) else float(dbm_to_w(noise_dbm))
            sigma_s = scn.sync.sigma_ns * 1e-9 if math.isnan(sigma_ns) else float(sigma_ns) * 1e-9
            self.channel = EchoChannel(
                geometry,
                scn.signal.bandwidth_hz,
                noise_w,
                sigma_s,
                scn.signal.sensing_block,
                seed,
                scenario_trajectory(scn) if scn.moving else None,
                scn.block_interval_s(),
                ImpairmentSettings.physical(scn.signal.bandwidth_hz, cfo_hz, linewidth_hz),
            )
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        gr.sync_block.__init__(
            self, name="echo_channel", in_sig=[np.complex64] * geometry.n_tx, out_sig=[np.complex64] * geometry.n_rx
        )
        # a channel carries no stream tags: the receivers must work from the air alone
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._log = RateLimitedLog(self.logger)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        x = stacked_finite_inputs(input_items, n, self._log)
        y, tags = self.channel.process(x)
        for k, out in enumerate(output_items):
            out[:n] = y[k]
        for offset, info in tags:
            value = dict_to_meta(info)
            for k in range(len(output_items)):
                self.add_item_tag(k, offset, pmt.intern(ECHO_TAG), value)
        return n
