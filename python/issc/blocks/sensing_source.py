# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sensing_source: the sensing streams ``s_0``."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..errors import IsscInputError
from ..link.waveform import PulseShaper, Waveform

QPSK = (np.array([1 + 1j, -1 + 1j, 1 - 1j, -1 - 1j]) / np.sqrt(2)).astype(np.complex64)


class sensing_source(gr.sync_block):
    """``r_0`` independent unit-power pseudo-random QPSK streams, one output each.

    The sensing receiver gets the transmitted waveform as its reference, so the streams only need to
    be white and known at the transmitter; a seed makes runs reproducible.

    With ``samples_per_symbol > 1`` each stream's symbols go through the same root-raised-cosine
    interpolator as the frame encoder's (unit power per sample), so the whole transmitted signal has one
    spectrum (the sensing bound's bandwidth terms assume it, :mod:`gnuradio.issc.physics.hcrb`).

    Args:
        sensing_streams: number of streams ``r_0`` (outputs).
        seed: seed of the generator.
        samples_per_symbol: samples per symbol (1: one QPSK symbol per sample, white).
        rolloff: RRC roll-off (``samples_per_symbol > 1``).
        rrc_span: RRC length in symbols, even (``samples_per_symbol > 1``).
    """

    def __init__(
        self,
        sensing_streams: int = 1,
        seed: int = 0,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
        rrc_span: int = 12,
    ):
        if int(sensing_streams) != sensing_streams or sensing_streams < 1:
            raise ValueError(f"sensing_streams must be an integer >= 1, got {sensing_streams!r}")
        try:
            self.waveform = Waveform(samples_per_symbol, rolloff, rrc_span)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        gr.sync_block.__init__(self, name="sensing_source", in_sig=None, out_sig=[np.complex64] * int(sensing_streams))
        self.sensing_streams = int(sensing_streams)
        # one generator per stream: each stream's sequence is then independent of how the scheduler
        # chunks the work calls
        self._rngs = [
            np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(self.sensing_streams)
        ]
        self._shapers = [PulseShaper(self.waveform) for _ in range(self.sensing_streams)]
        self._held = [np.zeros(0, np.complex64) for _ in range(self.sensing_streams)]  # shaped, not yet out

    def work(self, input_items, output_items):
        n = len(output_items[0])
        if not self.waveform.shaped:
            for rng, out in zip(self._rngs, output_items):
                out[:n] = QPSK[rng.integers(0, 4, size=n)]
            return n
        sps = self.waveform.sps
        for k, (rng, shaper, out) in enumerate(zip(self._rngs, self._shapers, output_items)):
            held = self._held[k]
            if held.size < n:
                # whole symbols, drawn and shaped in the order they are sent whatever the chunking
                symbols = QPSK[rng.integers(0, 4, size=-(-(n - held.size) // sps))]
                held = np.concatenate([held, shaper.process(symbols).astype(np.complex64)])
            out[:n] = held[:n]
            self._held[k] = held[n:]
        return n
