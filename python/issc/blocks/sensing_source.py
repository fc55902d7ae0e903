# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sensing_source: the sensing streams ``s_0``."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

QPSK = (np.array([1 + 1j, -1 + 1j, 1 - 1j, -1 - 1j]) / np.sqrt(2)).astype(np.complex64)


class sensing_source(gr.sync_block):
    """``r_0`` independent unit-power pseudo-random QPSK streams, one output each.

    The sensing receiver gets the transmitted waveform as its reference, so the streams only need to
    be white and known at the transmitter; a seed makes runs reproducible.

    Args:
        sensing_streams: number of streams ``r_0`` (outputs).
        seed: seed of the generator.
    """

    def __init__(self, sensing_streams: int = 1, seed: int = 0):
        if int(sensing_streams) != sensing_streams or sensing_streams < 1:
            raise ValueError(f"sensing_streams must be an integer >= 1, got {sensing_streams!r}")
        gr.sync_block.__init__(self, name="sensing_source", in_sig=None, out_sig=[np.complex64] * int(sensing_streams))
        self.sensing_streams = int(sensing_streams)
        # one generator per stream: each stream's sequence is then independent of how the scheduler
        # chunks the work calls
        self._rngs = [
            np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(self.sensing_streams)
        ]

    def work(self, input_items, output_items):
        n = len(output_items[0])
        for rng, out in zip(self._rngs, output_items):
            out[:n] = QPSK[rng.integers(0, 4, size=n)]
        return n
