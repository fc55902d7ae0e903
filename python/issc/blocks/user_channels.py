# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""user_channels: the K users' communication channels (and the echo) of a multi-user scene as one hier block."""

from __future__ import annotations

import math

from gnuradio import gr

from ..scenario import load_scenario
from ._util import check_antennas
from .comm_channel import comm_channel
from .echo_channel import echo_channel


class user_channels(gr.hier_block2):
    """The transmitted antenna streams through every user's channel and, optionally, the echo channel.

    ::

        N_T streams --+--> comm_channel (user 0: h_0, sigma_0^2) --> output 0
                      +--> ...
                      +--> comm_channel (user K-1)               --> output K-1
                      +--> echo_channel                          --> outputs K..K+N_R-1 (echo=True)

    User ``k`` of the scenario's ``users`` list gets ``y_k = h_k^H x + n_k`` (``comm_channel`` with
    ``user=k``: its line-of-sight channel ``h_k``, its ``noise_dbm`` or the scenario's ``comm_noise_dbm``,
    its own noise seed ``seed + k``), as the multi-user optimiser models it (docs/multiuser.md). A channel
    carries no stream tags: each receiver works from the air alone.

    Args:
        scenario: multi-user scenario name or YAML path (a ``users`` list).
        seed: seed of the noises (user ``k``: ``seed + k``; the echo: ``seed + 1000``).
        users: outputs for users; must match the scenario's ``K`` (0: the scenario's).
        n_tx: number of inputs; must match the scenario's ``N_T`` (0: the scenario's).
        n_rx: echo outputs; must match the scenario's ``N_R`` (0: the scenario's).
        echo: also the echo channel to the sensing receiver (outputs after the users').
        noise_dbm: every user's noise (NaN: each user's own).
    """

    def __init__(
        self,
        scenario="multiuser",
        seed: int = 0,
        users: int = 0,
        n_tx: int = 0,
        n_rx: int = 0,
        echo: bool = False,
        noise_dbm: float = math.nan,
    ):
        scn = load_scenario(scenario)
        if not scn.users:
            raise ValueError(f"scenario '{scn.name}' has no users list (a multi-user scenario has one)")
        k = len(scn.users)
        if users and int(users) != k:
            raise ValueError(f"users = {users} but scenario '{scn.name}' has {k} users")
        check_antennas("n_tx", n_tx, scn.arrays.n_tx, scn)
        check_antennas("n_rx", n_rx, scn.arrays.n_rx, scn)
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        self.users, self.n_rx, self.echo = k, n_rx, bool(echo)
        outputs = k + (n_rx if echo else 0)
        gr.hier_block2.__init__(
            self,
            "user_channels",
            gr.io_signature(n_tx, n_tx, gr.sizeof_gr_complex),
            gr.io_signature(outputs, outputs, gr.sizeof_gr_complex),
        )
        # children live on self: an unreferenced Python block is garbage-collected (docs/install.md)
        self.comm_channels = [comm_channel(scn, noise_dbm, int(seed) + u, 0, user=u) for u in range(k)]
        self.echo_channel = echo_channel(scn, math.nan, math.nan, int(seed) + 1000) if echo else None
        for antenna in range(n_tx):
            for channel in self.comm_channels:
                self.connect((self, antenna), (channel, antenna))
            if self.echo_channel is not None:
                self.connect((self, antenna), (self.echo_channel, antenna))
        for u, channel in enumerate(self.comm_channels):
            self.connect(channel, (self, u))
        if self.echo_channel is not None:
            for r in range(n_rx):
                self.connect((self.echo_channel, r), (self, k + r))
