# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""frame_encoder: bitstream PDU -> framed, polar-coded QPSK symbols with a frame-start tag
(or a symbol PDU -> an analog frame), optionally RRC pulse-shaped at several samples per symbol."""

from __future__ import annotations

import collections
import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import FRAME_TAG
from ..link.framing import FrameFormat, build_analog_frame, build_frame
from ..link.pdus import dict_to_meta
from ..link.waveform import PulseShaper, Waveform
from ._util import FrameLimit, RateLimitedLog, frame_header_of_pdu, register_message_handlers

IDLE_MODES = ("wait", "zeros")
IDLE_WAIT_S = 0.05
MAX_IDLE_CHUNK = 4096
SHAPED_GUARD = 128
"""Zero samples after a burst's last pulse tails (shaped, idle 'wait'): the receiver's interpolator reads
24 samples beyond a symbol's matched-filter support and a resampling channel lags its input by 48 plus
the timing offset, so the last frame of a burst reaches the receiver whole for offsets up to ~50 samples."""


class frame_encoder(FrameLimit, gr.sync_block):
    """Frames each bitstream PDU for the air (:mod:`gnuradio.issc.link.framing`): preamble, CRC-protected
    low-rate polar header, payload in polar codewords of ``2L`` bits with ``K`` (the configuration's
    ``info_bits``) information bits each, Gray QPSK.

    The frame's first symbol carries an ``issc_frame`` tag whose value is the frame's configuration
    (beams included), so the beamformer switches exactly there. When a frame starts, a message
    ``{seq, queued}`` goes out on ``sent`` (pace the image source and drive the controller's schedule
    with it). Between frames the output either waits for the next frame (``idle='wait'``: frames back to
    back, for simulation) or sends zeros (``idle='zeros'``: a continuous stream, for hardware).
    A PDU whose payload is a ``c32vector`` (a deep JSCC encoder's symbols) becomes an analog frame: the
    same preamble and coded header (``K = 0``, the symbol count, the model, the image shape), then the
    symbols as they are. PDUs without a valid configuration or header fields are logged and dropped.

    :meth:`set_frame_limit` makes the stream end (``WORK_DONE``) once that many frames are on the air:
    a flowgraph of the transmitter alone then ends by itself (``tb.run()`` returns) when its frames are
    sent, e.g. to record them to a file.

    Pulse shaping (``samples_per_symbol > 1``, :mod:`gnuradio.issc.link.waveform`): the symbols go
    through a root-raised-cosine interpolator (``rrc_span`` symbols long, unit power per sample), one
    continuous stream across frames, and the output is in samples: the frame tag sits on the sample where
    the frame's first pulse begins (``k sps`` for symbol ``k`` of the stream; it peaks ``rrc_span sps /
    2`` samples later). With ``idle='wait'``, when the queue runs empty the pulses' tails are flushed
    and ``guard`` zero samples follow, so a burst's last frame reaches a receiver whole; with
    ``idle='zeros'`` the interpolator runs on zero symbols between frames. :attr:`symbols_sent` (also
    :attr:`samples_sent`) counts output samples.

    Message ports:
        in (in): bitstream PDUs (metadata ``seq``, ``config``, ``model_index``, ``height``, ``width``,
            ``z_bytes``, ``y_bytes``), or symbol PDUs (``seq``, ``config``, ``model_index``, ``height``,
            ``width``).
        sent (out): ``{seq, queued}`` when a frame starts.

    Args:
        blocklength: ``L`` channel uses per payload codeword (a power of two).
        preamble_length: preamble symbols.
        header_symbols: header symbols (a power of two).
        idle: 'wait' or 'zeros'.
        max_queue: frames waiting at most (older ones are dropped with a warning).
        samples_per_symbol: samples per symbol (1: no pulse shaping, today's symbols).
        rolloff: RRC roll-off (``samples_per_symbol > 1``).
        rrc_span: RRC length in symbols, even (``samples_per_symbol > 1``).
        guard: zero samples after a burst's last frame in idle 'wait' (-1: 128 when shaped, 0 unshaped;
            a link whose channel resamples needs its latency here also at one sample per symbol).
    """

    def __init__(
        self,
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        idle: str = "wait",
        max_queue: int = 8,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
        rrc_span: int = 12,
        guard: int = -1,
    ):
        gr.sync_block.__init__(self, name="frame_encoder", in_sig=None, out_sig=[np.complex64])
        if idle not in IDLE_MODES:
            raise ValueError(f"idle must be one of {', '.join(IDLE_MODES)}, got {idle!r}")
        if int(max_queue) != max_queue or max_queue < 1:
            raise ValueError(f"max_queue must be an integer >= 1, got {max_queue!r}")
        if int(guard) != guard or guard < -1:
            raise ValueError(f"guard must be an integer >= 0 (or -1: the default), got {guard!r}")
        try:
            self.format = FrameFormat(int(blocklength), int(preamble_length), int(header_symbols))
            self.waveform = Waveform(samples_per_symbol, rolloff, rrc_span)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.guard = int(guard) if guard >= 0 else (SHAPED_GUARD if self.waveform.shaped else 0)
        self._shaper = PulseShaper(self.waveform)
        self._samples = np.zeros(0, np.complex64)  # shaped samples not yet output
        self._sample_position = 0
        self._burst_open = False  # shaped 'wait': a frame went out since the last flush
        self.idle, self.max_queue = idle, int(max_queue)
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._current = None  # (symbols, position, config pmt, seq)
        self._stopping = False
        self._frame_limit = 0  # end the stream after this many frames (0: never)
        self.frames_sent = 0
        self.symbols_sent = 0
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("sent"))
        register_message_handlers(self, {"in": self._on_pdu}, self._log)

    @property
    def idle_now(self) -> bool:
        """True when no frame is being sent or waiting (and, shaped, the last pulses are out)."""
        with self._cond:
            return (
                self._current is None
                and not self._queue
                and self._sample_position >= self._samples.size
                and not self._burst_open
            )

    @property
    def samples_sent(self) -> int:
        """Output samples so far (``symbols_sent`` is the same count)."""
        return self.symbols_sent

    def _on_pdu(self, msg):
        header, payload, config, _, analog = frame_header_of_pdu(msg, self.format)
        symbols = (build_analog_frame if analog else build_frame)(self.format, header, payload)
        config.seq = header.seq
        with self._cond:
            if len(self._queue) >= self.max_queue:
                dropped = self._queue.popleft()
                self._log.warn("queue", f"frame queue full: dropped frame {dropped[3]}")
            self._queue.append((symbols, 0, config.to_pmt(), header.seq))
            self._cond.notify_all()

    def _next_frame(self, wait: bool):
        with self._cond:
            if self._limit_reached():
                return None
            if not self._queue and wait and not self._stopping:
                self._cond.wait(IDLE_WAIT_S)
            if not self._queue or self._limit_reached():
                return None
            frame = self._queue.popleft()
            queued = len(self._queue)
        symbols, _, config, seq = frame
        self.add_item_tag(0, self.nitems_written(0) + self._produced, pmt.intern(FRAME_TAG), config)
        self.frames_sent += 1
        self.message_port_pub(pmt.intern("sent"), dict_to_meta({"seq": seq, "queued": queued}))
        return [symbols, 0, config, seq]

    def work(self, input_items, output_items):
        if self.waveform.shaped or self.guard:
            return self._work_shaped(output_items[0])
        out = output_items[0]
        n = len(out)
        self._produced = 0
        while self._produced < n:
            if self._current is None:
                self._current = self._next_frame(wait=self._produced == 0 and self.idle == "wait")
                if self._current is None:
                    break
            symbols, position = self._current[0], self._current[1]
            take = min(n - self._produced, symbols.size - position)
            out[self._produced : self._produced + take] = symbols[position : position + take]
            self._produced += take
            self._current[1] += take
            if self._current[1] == symbols.size:
                self._current = None
        if self._produced == 0 and self._current is None and self._limit_reached():
            return -1  # WORK_DONE: every frame asked for is on the air
        if self._produced == 0 and self.idle == "zeros":
            self._produced = min(n, MAX_IDLE_CHUNK)
            out[: self._produced] = 0
        self.symbols_sent += self._produced
        return self._produced

    def _work_shaped(self, out):
        """Pulse-shaped output: frame symbols through the interpolator a piece at a time (at most the
        output's room), so what is held between calls is less than one call's samples."""
        n, sps = len(out), self.waveform.sps
        self._produced = 0
        while self._produced < n:
            if self._sample_position < self._samples.size:
                take = min(n - self._produced, self._samples.size - self._sample_position)
                out[self._produced : self._produced + take] = self._samples[
                    self._sample_position : self._sample_position + take
                ]
                self._produced += take
                self._sample_position += take
                continue
            if self._current is None:
                # the tag goes where the frame's first pulse begins: here, every earlier sample being out
                self._current = self._next_frame(wait=self._produced == 0 and self.idle == "wait")
                if self._current is None:
                    if self._burst_open:
                        # the queue ran empty: the pulses' tails (what zero symbols would give), and in
                        # 'wait' the guard, before waiting for frames
                        tail = self._shaper.flush()
                        guard = np.zeros(self.guard if self.idle == "wait" else 0)
                        self._set_samples(np.concatenate([tail, guard]))
                        self._burst_open = False
                        continue
                    break
                self._burst_open = True
            symbols, position = self._current[0], self._current[1]
            take = min(symbols.size - position, -(-(n - self._produced) // sps))
            self._set_samples(self._shaper.process(symbols[position : position + take]))
            self._current[1] += take
            if self._current[1] == symbols.size:
                self._current = None
        if self._produced == 0 and self._current is None and self._limit_reached() and not self._burst_open:
            return -1  # WORK_DONE: every frame asked for is on the air, tails and guard included
        if self._produced == 0 and self.idle == "zeros":
            # zero symbols through the interpolator: the last frame's tails, then zeros
            self._set_samples(self._shaper.process(np.zeros(-(-min(n, MAX_IDLE_CHUNK) // sps))))
            take = min(n, self._samples.size)
            out[:take] = self._samples[:take]
            self._sample_position = take
            self._produced = take
        self.symbols_sent += self._produced
        return self._produced

    def _set_samples(self, samples: np.ndarray):
        self._samples = samples.astype(np.complex64)
        self._sample_position = 0
