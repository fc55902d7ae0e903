# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The block plumbing shared by the single- and multi-user blocks (blocks/_util.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gnuradio.issc.blocks._util import PacedSource, frame_header_of_pdu
from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.config import LinkConfig
from gnuradio.issc.link.framing import FrameFormat, FrameHeader
from gnuradio.issc.link.pdus import make_pdu, make_symbol_pdu

FORMAT = FrameFormat(64, 64, 256)


def _meta(info_bits: int, **extra) -> dict:
    config = LinkConfig("m", info_bits / 64, info_bits, np.ones(2), np.zeros((2, 1)))
    return {"seq": 5, "config": config.to_pmt(), "model_index": 1, "height": 8, "width": 12, **extra}


def test_frame_header_of_a_bitstream_pdu_is_the_header_built_by_hand():
    """A bitstream PDU's header has its fields, K capped at the format's and the user's id (0 single-user)."""
    for user in (None, 3):
        msg = make_pdu(_meta(10_000, z_bytes=2, y_bytes=7), b"\x01" * 9)
        header, payload, config, meta, analog = frame_header_of_pdu(msg, FORMAT, user)
        expected = FrameHeader(5, 1, FORMAT.max_info_bits, 2, 7, 8, 12, user or 0)
        assert header == expected and bytes(payload) == b"\x01" * 9
        assert not analog and config.info_bits == 10_000 and meta["seq"] == 5


def test_frame_header_of_a_symbol_pdu_is_an_analog_frame_and_a_user_needs_an_analog_config():
    """A symbol PDU gives ``K = 0`` with its symbol count; a multi-user one with a digital configuration is
    refused (the single-user encoder sends it as it is), and a PDU without a configuration names the user."""
    symbols = np.arange(6, dtype=np.complex64)
    header, payload, _, _, analog = frame_header_of_pdu(make_symbol_pdu(_meta(0), symbols), FORMAT)
    assert analog and header == FrameHeader.analog_frame(5, 1, 6, 8, 12) and np.array_equal(payload, symbols)
    frame_header_of_pdu(make_symbol_pdu(_meta(10), symbols), FORMAT)
    with pytest.raises(IsscInputError, match="user 2's symbol PDU needs an analog configuration"):
        frame_header_of_pdu(make_symbol_pdu(_meta(10), symbols), FORMAT, 2)
    meta = _meta(10, z_bytes=0, y_bytes=1)
    del meta["config"]
    with pytest.raises(IsscInputError, match="user 4's bitstream PDU needs a 'config'"):
        frame_header_of_pdu(make_pdu(meta, b"\x00"), FORMAT, 4)
    with pytest.raises(IsscInputError, match="info_bits >= 1"):
        frame_header_of_pdu(make_pdu(_meta(0, z_bytes=0, y_bytes=1), b"\x00"), FORMAT)


class _Source(PacedSource):
    def __init__(self, count, preload):
        self._lock, self.count, self.preload, self.sent, self.published = threading.Lock(), count, preload, 0, []

    def _send_next(self):
        seq = self._take_seq()
        if seq is not None:
            self.published.append(seq)


@pytest.mark.parametrize("count, preload, nexts", [(3, 2, 5), (0, 1, 4), (2, 0, 1)])
def test_paced_source_hands_out_each_sequence_number_once_up_to_count(count, preload, nexts):
    """``preload`` at start, one per ``next``, never beyond ``count`` (0: no end); ``exhausted`` once all are out."""
    source = _Source(count, preload)
    source.start()
    for _ in range(nexts):
        source._on_next(None)
    total = preload + nexts if not count else min(count, preload + nexts)
    assert source.published == list(range(total))
    assert source.exhausted == (bool(count) and total == count)
