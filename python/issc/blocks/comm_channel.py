# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""comm_channel: the transmitter-to-CRE channel ``y_c = h_c^H x + n``, with optional receiver impairments."""

from __future__ import annotations

import math

import numpy as np
from gnuradio import gr

from ..errors import IsscInputError
from ..physics.channels import CommChannel
from ..physics.geometry import Geometry, noise_powers_w
from ..physics.impairments import ImpairmentSettings
from ..scenario import load_scenario
from ..units import dbm_to_w
from ._util import RateLimitedLog, check_antennas, stacked_finite_inputs


class comm_channel(gr.basic_block):
    """The communication channel of docs/model.md §3: ``N_T`` antenna streams in, one out,
    ``y_c[n] = h_c^H x[n] + n[n]`` with ``h_c = sqrt(eta_c) a_NT(varphi_c)`` from the scenario's geometry
    and ``n ~ CN(0, sigma_n^2)``. Non-finite input samples are replaced by 0 and logged.

    Optional impairments of the CRE's front end (all off by default, seeded from ``seed``;
    :mod:`gnuradio.issc.physics.impairments`): carrier frequency offset and Wiener phase noise (in Hz at
    the scenario's sample rate ``bandwidth_hz``), a timing offset and a sample-rate offset (the output then
    runs at ``1 / (1 + ppm 1e-6)`` of the input rate, after a latency of 48 samples), IQ imbalance. With
    none set, one sample comes out per input sample, exactly as without them.

    Args:
        scenario: shipped scenario name or YAML path.
        noise_dbm: noise power (NaN: the scenario's ``comm_noise_dbm``; -inf: noise-free).
        seed: noise seed (and the phase noise's).
        n_tx: number of inputs; must match the scenario's ``N_T`` (0: take it from the scenario).
        cfo_hz: carrier frequency offset (Hz).
        linewidth_hz: phase-noise 3 dB linewidth (Hz; 0: none).
        timing_offset: sampling delay in samples (>= 0, fractional).
        sro_ppm: sample-rate offset (ppm; positive: the receiver samples slower).
        iq_gain_db: IQ gain imbalance (dB).
        iq_phase_deg: IQ phase imbalance (degrees).
        user: -1: the CRE (``h_c``, the scenario's ``comm_noise_dbm``); ``k >= 0``: user ``k`` of the
            scenario's ``users`` list (its channel ``h_k`` and noise; docs/multiuser.md, ``user_channels``).
    """

    def __init__(
        self,
        scenario="paper",
        noise_dbm: float = float("nan"),
        seed: int = 0,
        n_tx: int = 0,
        cfo_hz: float = 0.0,
        linewidth_hz: float = 0.0,
        timing_offset: float = 0.0,
        sro_ppm: float = 0.0,
        iq_gain_db: float = 0.0,
        iq_phase_deg: float = 0.0,
        user: int = -1,
    ):
        try:
            scn = load_scenario(scenario)
            impairments = ImpairmentSettings.physical(
                scn.signal.bandwidth_hz, cfo_hz, linewidth_hz, timing_offset, sro_ppm, iq_gain_db, iq_phase_deg
            )
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        geometry = Geometry.from_scenario(scn)
        check_antennas("n_tx", n_tx, geometry.n_tx, scn)
        h, noise_w = geometry.h_c, noise_powers_w(scn)[0]
        if int(user) != user or not -1 <= user < len(scn.users):
            raise ValueError(f"user must be -1 (the CRE) or in [0, {len(scn.users) - 1}], got {user!r}")
        if user >= 0:  # a user of the multi-user scenario: its line-of-sight channel and its noise
            entry = scn.users[int(user)]
            h = geometry.channel_to(entry.position)
            if entry.noise_dbm is not None:
                noise_w = float(dbm_to_w(entry.noise_dbm))
        noise_w = noise_w if math.isnan(noise_dbm) else float(dbm_to_w(noise_dbm))
        # a general block: a sample-rate offset changes the number of output samples
        gr.basic_block.__init__(
            self, name="comm_channel", in_sig=[np.complex64] * geometry.n_tx, out_sig=[np.complex64]
        )
        self.channel = CommChannel(h, noise_w, seed, impairments)
        # a channel carries no stream tags: the receivers must work from the air alone
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._log = RateLimitedLog(self.logger)

    def forecast(self, noutput_items, ninputs):
        return [max(1, self.channel.inputs_for_outputs(noutput_items))] * ninputs

    def general_work(self, input_items, output_items):
        out = output_items[0]
        take = min(min(len(x) for x in input_items), self.channel.inputs_for_outputs(len(out)))
        if take <= 0:
            return 0
        y = self.channel.process(stacked_finite_inputs(input_items, take, self._log))
        out[: y.size] = y
        self.consume_each(take)
        return y.size
