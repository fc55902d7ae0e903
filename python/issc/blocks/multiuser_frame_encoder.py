# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""multiuser_frame_encoder: K users' bitstream PDUs -> K frame-synchronous symbol streams (one slot per frame)."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import FRAME_TAG
from ..link.framing import FrameFormat
from ..link.multiuser import SlotFramer
from ..link.pdus import dict_to_meta, make_pdu
from ._util import FrameLimit, RateLimitedLog, frame_header_of_pdu, register_message_handlers

IDLE_MODES = ("wait", "zeros")
IDLE_WAIT_S = 0.05
MAX_IDLE_CHUNK = 4096
PASSED_ON = ("model", "label", "clean_class", "name")


class multiuser_frame_encoder(FrameLimit, gr.sync_block):
    """Frames the ``K`` users' bitstream PDUs (:mod:`gnuradio.issc.link.framing`, the single-user frame
    with the user's id: its preamble and CRC mask) and sends them in slots
    (:class:`~gnuradio.issc.link.multiuser.SlotFramer`): a slot starts once every user has a frame waiting;
    output ``k`` carries user ``k``'s frame, all ``K`` frames start on the same sample and the shorter ones
    are followed by zeros up to the longest, so the superposition ``x = sum_k w_k s_k + W_0 s_0`` is defined
    frame by frame. A symbol PDU (``c32vector`` payload, ``djscc_encoder``'s) becomes an analog frame (header
    ``K = 0``, the symbols sent as they are), as in the single-user ``frame_encoder``.

    Each output's first sample of a slot carries an ``issc_frame`` tag whose value is that user's
    configuration (``w_c`` is the user's beam ``w_k``, ``w_0`` the sensing beams; ``seq`` the slot number):
    ``multiuser_beamformer`` switches there. When a slot starts, ``{seq, queued}`` goes out on ``sent``
    (``seq``: the slot number; pace the sources and drive the controller with it) and each user's PDU, with
    ``user``, ``slot`` and the configuration's prediction added to its metadata, on ``bits`` (for the
    monitor). Between slots the outputs wait for the next slot (``idle='wait'``) or send zeros
    (``idle='zeros'``). Unshaped symbols only (one sample per symbol). PDUs without a valid configuration
    or header fields are logged and dropped.

    Message ports:
        in0 .. in{K-1} (in): user ``k``'s bitstream PDUs (metadata ``seq``, ``config``, ``model_index``,
            ``height``, ``width``, ``z_bytes``, ``y_bytes``), as ``semantic_encoder`` and ``task_encoder``
            make them (``K = 1``: also ``in``), or symbol PDUs (``djscc_encoder``: ``seq``, ``config``,
            ``model_index``, ``height``, ``width``).
        sent (out): ``{seq, queued}`` when a slot starts.
        bits (out): each user's PDU as sent, metadata ``user``, ``slot``, ``seq``, ``model``, ``code_rate``,
            ``predicted_*`` and what the encoder passed on (``label``, ``clean_class``); an analog frame's has
            ``analog`` true and an empty payload.

    Args:
        users: ``K``.
        blocklength: ``L`` channel uses per payload codeword (a power of two).
        preamble_length: preamble symbols.
        header_symbols: header symbols (a power of two).
        idle: 'wait' or 'zeros'.
        max_queue: frames waiting per user at most (older ones are dropped with a warning).
    """

    def __init__(
        self,
        users: int = 2,
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        idle: str = "wait",
        max_queue: int = 8,
    ):
        if idle not in IDLE_MODES:
            raise ValueError(f"idle must be one of {', '.join(IDLE_MODES)}, got {idle!r}")
        if int(users) != users or not 1 <= users <= 64:
            raise ValueError(f"users must be an integer in [1, 64], got {users!r}")
        if int(max_queue) != max_queue or max_queue < 1:
            raise ValueError(f"max_queue must be an integer >= 1, got {max_queue!r}")
        self.users = int(users)
        gr.sync_block.__init__(self, name="multiuser_frame_encoder", in_sig=None, out_sig=[np.complex64] * self.users)
        try:
            self.format = FrameFormat(int(blocklength), int(preamble_length), int(header_symbols))
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.idle = idle
        self.framer = SlotFramer(self.format, self.users, int(max_queue))
        self._cond = threading.Condition()
        self._current = None  # (K x n symbols, position)
        self._stopping = False
        self._frame_limit = 0
        self.frames_sent = 0  # slots
        self.symbols_sent = 0
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("sent"))
        self.message_port_register_out(pmt.intern("bits"))
        handlers = {f"in{k}": (lambda msg, k=k: self._on_pdu(k, msg)) for k in range(self.users)}
        if self.users == 1:  # GRC names a message port of multiplicity 1 without the index
            handlers["in"] = handlers["in0"]
        register_message_handlers(self, handlers, self._log)

    @property
    def idle_now(self) -> bool:
        with self._cond:
            return self._current is None and not self.framer.ready()

    def _on_pdu(self, user: int, msg):
        header, payload, config, meta, analog = frame_header_of_pdu(msg, self.format, user)
        extra = {k: meta[k] for k in PASSED_ON if isinstance(meta.get(k), (bool, int, float, str))}
        if analog:
            extra.update(analog=True, payload=b"")
        else:
            extra["payload"] = payload
        with self._cond:
            if not self.framer.add(user, header, payload, config, extra):
                self._log.warn("queue", f"user {user}'s frame queue full: dropped its oldest frame")
            self._cond.notify_all()

    def _next_slot(self, wait: bool, produced: int):
        with self._cond:
            if self._limit_reached():
                return None
            if not self.framer.ready() and wait and not self._stopping:
                self._cond.wait(IDLE_WAIT_S)
            if self._limit_reached():
                return None
            slot = self.framer.pop()
            if slot is None:
                return None
            queued = self.framer.queued()
        offset = self.nitems_written(0) + produced
        for k, (config, seq, meta) in enumerate(zip(slot.configs, slot.seqs, slot.metas)):
            config = config.for_frame(slot.number)
            self.add_item_tag(k, offset, pmt.intern(FRAME_TAG), config.to_pmt())
            info = {
                "user": k,
                "slot": slot.number,
                "seq": seq,
                "model": config.model,
                "code_rate": config.info_bits / self.format.blocklength,
                "frame_symbols": slot.frame_lengths[k],
                **{key: v for key, v in meta.items() if key != "payload"},
                **{f"predicted_{key}": v for key, v in config.predicted.items()},
            }
            self.message_port_pub(pmt.intern("bits"), make_pdu(info, meta["payload"]))
        self.frames_sent += 1
        self.message_port_pub(pmt.intern("sent"), dict_to_meta({"seq": slot.number, "queued": queued}))
        return [slot.symbols, 0]

    def work(self, input_items, output_items):
        n = len(output_items[0])
        produced = 0
        while produced < n:
            if self._current is None:
                self._current = self._next_slot(produced == 0 and self.idle == "wait", produced)
                if self._current is None:
                    break
            symbols, position = self._current
            take = min(n - produced, symbols.shape[1] - position)
            for k in range(self.users):
                output_items[k][produced : produced + take] = symbols[k, position : position + take]
            produced += take
            self._current[1] += take
            if self._current[1] == symbols.shape[1]:
                self._current = None
        if produced == 0 and self._current is None and self._limit_reached():
            return -1  # WORK_DONE
        if produced == 0 and self.idle == "zeros":
            produced = min(n, MAX_IDLE_CHUNK)
            for k in range(self.users):
                output_items[k][:produced] = 0
        self.symbols_sent += produced
        return produced
