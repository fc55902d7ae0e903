# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""channels: the communication and echo channels of one scene as one hier block."""

from __future__ import annotations

import math

from gnuradio import gr

from ..scenario import load_scenario
from ._util import check_antennas
from .comm_channel import comm_channel
from .echo_channel import echo_channel


class channels(gr.hier_block2):
    """The transmitted antenna streams through both channels of the scenario.

    ::

        N_T streams --+--> comm_channel --> output 0 (CRE)
                      +--> echo_channel --> outputs 1..N_R (sensing receiver antennas)

    Args:
        scenario: shipped scenario name or YAML path.
        comm_noise_dbm: CRE noise (NaN: the scenario's).
        sensing_noise_dbm: sensing receiver noise per antenna (NaN: the scenario's).
        sigma_ns: sync error standard deviation (NaN: the scenario's).
        seed: seed of the noises and sync errors.
        n_tx: number of inputs; must match the scenario's ``N_T`` (0: the scenario's).
        n_rx: echo outputs; must match the scenario's ``N_R`` (0: the scenario's).
        cfo_hz, linewidth_hz, timing_offset, sro_ppm, iq_gain_db, iq_phase_deg: the CRE's front-end
            impairments (``comm_channel``; all off by default).
        echo_cfo_hz, echo_linewidth_hz: the sensing receiver's carrier impairments (``echo_channel``; off
            by default).
    """

    def __init__(
        self,
        scenario="paper",
        comm_noise_dbm: float = math.nan,
        sensing_noise_dbm: float = math.nan,
        sigma_ns: float = math.nan,
        seed: int = 0,
        n_tx: int = 0,
        n_rx: int = 0,
        cfo_hz: float = 0.0,
        linewidth_hz: float = 0.0,
        timing_offset: float = 0.0,
        sro_ppm: float = 0.0,
        iq_gain_db: float = 0.0,
        iq_phase_deg: float = 0.0,
        echo_cfo_hz: float = 0.0,
        echo_linewidth_hz: float = 0.0,
    ):
        scn = load_scenario(scenario)
        check_antennas("n_tx", n_tx, scn.arrays.n_tx, scn)
        check_antennas("n_rx", n_rx, scn.arrays.n_rx, scn)
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        gr.hier_block2.__init__(
            self,
            "channels",
            gr.io_signature(n_tx, n_tx, gr.sizeof_gr_complex),
            gr.io_signature(1 + n_rx, 1 + n_rx, gr.sizeof_gr_complex),
        )
        self.comm_channel = comm_channel(
            scn, comm_noise_dbm, seed, 0, cfo_hz, linewidth_hz, timing_offset, sro_ppm, iq_gain_db, iq_phase_deg
        )
        self.echo_channel = echo_channel(
            scn, sensing_noise_dbm, sigma_ns, seed + 1, 0, 0, echo_cfo_hz, echo_linewidth_hz
        )
        for k in range(n_tx):
            self.connect((self, k), (self.comm_channel, k))
            self.connect((self, k), (self.echo_channel, k))
        self.connect(self.comm_channel, (self, 0))
        for k in range(n_rx):
            self.connect((self.echo_channel, k), (self, 1 + k))
