# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""link_monitor: what was sent versus what arrived, per frame."""

from __future__ import annotations

import threading

import pmt
from gnuradio import gr

from ..jsonutil import jsonable
from ..link.config import LinkConfig
from ..link.ledger import FrameLedger
from ..link.pdus import (
    dict_to_meta,
    is_real,
    is_symbol_pdu,
    meta_seq,
    meta_to_dict,
    nested_pmt,
    pdu_to_image,
    require_real,
    split_pdu,
    split_symbol_pdu,
)
from ._util import RateLimitedLog, register_message_handlers


class link_monitor(gr.basic_block):
    """Joins the transmitter's and the receiver's view of every frame and reports it.

    Per frame: sequence, configuration (model, code rate), measured SINR (receiver's estimate), measured
    payload BER (sent versus received bitstream; for an analog deep JSCC frame, whose PDUs carry
    symbols, the measured SNR of the equalised payload symbols instead, ``payload_snr_db``), header status,
    PSNR and MS-SSIM of the received image
    against the original, the optimiser's predictions (distortion, SINR, PSNR/MS-SSIM), the sensing
    error (RMS of the estimates reported for that frame, null until an estimator reports) and
    ``sqrt(tr HCRB)`` of the frame's design. Rows go to ``frames.jsonl`` in the output directory as
    frames complete (appended and flushed row by row), and out of the ``frame`` port; ``summary.json``
    is written (atomically) when the flowgraph stops. Malformed messages are logged and dropped. Memory
    does not grow with the run beyond the rows kept (``ledger.configure(keep_rows=...)`` bounds them):
    a frame's images and payloads are dropped once its row is built.

    Message ports:
        sent_image (in): image PDUs from the image source.
        sent_bits (in): bitstream (or symbol) PDUs from the source encoder (metadata ``seq`` and ``config``).
        received_bits (in): bitstream (or symbol) PDUs from the frame decoder (``seq``, ``header_ok``,
            ``sinr_db``).
        received_image (in): image PDUs from the semantic decoder.
        header_failed (in): any message; counts frames whose header failed its CRC.
        sensing (in): dicts with ``seq`` and ``error_m`` (position error of an estimate); reports with
            ``ok`` false (flagged by the estimator) are counted, not averaged. With ``true_x``, ``true_y``
            and ``hcrb_trace_true`` (the echo channel's truth) the row also gets the true position, the
            tracking error (distance from the position the frame's beams were designed for, ``design_x``,
            ``design_y`` in the configuration) and ``sqrt(tr HCRB)`` at the true position.
        frame (out): each completed row as a PMT dict.

    Args:
        out_dir: output directory ('' keeps the rows in memory only).
        expect_sensing: an estimator reports on ``sensing`` for every frame: hold each complete frame until
            a report for a later frame arrives, so late reports are not lost.
    """

    def __init__(self, out_dir: str = "", expect_sensing: bool = False):
        gr.basic_block.__init__(self, name="link_monitor", in_sig=None, out_sig=None)
        # rows (PSNR, MS-SSIM) are built in the ledger's worker thread, off this block's message thread,
        # and published from there, in row order (one worker)
        self.rows_published = 0
        self._publish_lock = threading.Lock()
        self.ledger = FrameLedger(out_dir or None, expect_sensing, background=True, on_row=self._on_row)
        self._log = RateLimitedLog(self.logger)
        handlers = {
            "sent_image": self._on_sent_image,
            "sent_bits": self._on_sent_bits,
            "received_bits": self._on_received_bits,
            "received_image": self._on_received_image,
            "header_failed": self._on_header_failed,
            "sensing": self._on_sensing,
        }
        self.messages_handled = {}
        self.sensing_rejected = 0
        register_message_handlers(self, handlers, self._log, counter=self.messages_handled)
        self.message_port_register_out(pmt.intern("frame"))

    def _on_sent_image(self, msg):
        meta, image = pdu_to_image(msg)
        self.ledger.sent_image(meta["seq"], image)

    def _on_sent_bits(self, msg):
        analog = is_symbol_pdu(msg)
        meta, payload = split_symbol_pdu(msg) if analog else split_pdu(msg)
        seq = meta_seq(meta, "bitstream PDU")
        config = nested_pmt(meta, "config")
        summary = {}
        if config is not None:
            link = LinkConfig.from_pmt(config)
            summary = {"model": link.model, "code_rate": link.code_rate, **link.predicted}
        if analog:
            self.ledger.sent_symbols(seq, payload, summary)
        else:
            self.ledger.sent_bitstream(seq, payload, summary)

    def _on_received_bits(self, msg):
        analog = is_symbol_pdu(msg)
        meta, payload = split_symbol_pdu(msg) if analog else split_pdu(msg)
        seq = meta_seq(meta, "received bitstream PDU")
        if analog:
            self.ledger.received_symbols(seq, payload, meta)
        else:
            self.ledger.received_bitstream(seq, payload, meta)

    def _on_received_image(self, msg):
        meta, image = pdu_to_image(msg)
        model = meta.get("model")
        self.ledger.received_image(meta["seq"], image, model if isinstance(model, str) else None)

    def _on_header_failed(self, msg):
        self.ledger.header_failed()

    def _on_sensing(self, msg):
        values = meta_to_dict(msg)
        truth = {k: values[k] for k in ("true_x", "true_y", "hcrb_trace_true") if is_real(values.get(k))}
        seq = meta_seq(values, "sensing report")
        if values.get("ok") is False:
            self.sensing_rejected += 1  # the estimator flagged it (outlier or bad block): not an error sample
            self.ledger.sensing_error(seq, None, truth)
            return
        self.ledger.sensing_error(seq, require_real(values, "error_m", "sensing report"), truth)

    @property
    def background_busy_s(self) -> float:
        """Seconds spent building rows in the ledger's worker thread (``issc bench link --profile``)."""
        return self.ledger.worker_busy_s

    def _on_row(self, row):
        with self._publish_lock:
            self.message_port_pub(pmt.intern("frame"), dict_to_meta(jsonable(row)))
            self.rows_published += 1

    def stop(self):
        self.summary = self.ledger.flush()
        self.ledger.close()
        return True
