# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""comm_channel: the transmitter-to-CRE channel ``y_c = h_c^H x + n``."""

from __future__ import annotations

import math

import numpy as np
from gnuradio import gr

from ..errors import IsscInputError
from ..physics.channels import CommChannel
from ..physics.geometry import Geometry, noise_powers_w
from ..scenario import load_scenario
from ..units import dbm_to_w
from ._util import RateLimitedLog, check_antennas, stacked_finite_inputs


class comm_channel(gr.sync_block):
    """The communication channel of docs/model.md §3: ``N_T`` antenna streams in, one out,
    ``y_c[n] = h_c^H x[n] + n[n]`` with ``h_c = sqrt(eta_c) a_NT(varphi_c)`` from the scenario's geometry
    and ``n ~ CN(0, sigma_n^2)``. Non-finite input samples are replaced by 0 and logged.

    Args:
        scenario: shipped scenario name or YAML path.
        noise_dbm: noise power (NaN: the scenario's ``comm_noise_dbm``; -inf: noise-free).
        seed: noise seed.
        n_tx: number of inputs; must match the scenario's ``N_T`` (0: take it from the scenario).
    """

    def __init__(self, scenario="paper", noise_dbm: float = float("nan"), seed: int = 0, n_tx: int = 0):
        try:
            scn = load_scenario(scenario)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        geometry = Geometry.from_scenario(scn)
        check_antennas("n_tx", n_tx, geometry.n_tx, scn)
        noise_w = noise_powers_w(scn)[0] if math.isnan(noise_dbm) else float(dbm_to_w(noise_dbm))
        gr.sync_block.__init__(self, name="comm_channel", in_sig=[np.complex64] * geometry.n_tx, out_sig=[np.complex64])
        self.channel = CommChannel(geometry.h_c, noise_w, seed)
        # a channel carries no stream tags: the receivers must work from the air alone
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._log = RateLimitedLog(self.logger)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        x = stacked_finite_inputs(input_items, n, self._log)
        output_items[0][:n] = self.channel.process(x)
        return n
