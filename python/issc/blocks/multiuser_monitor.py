# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""multiuser_monitor: per-user rows (task metric, SINR predicted and measured, model, R_c) and the weighted sum."""

from __future__ import annotations

import threading

import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.multiuser import MultiUserLedger, parse_tasks
from ..link.pdus import (
    dict_to_meta,
    is_symbol_pdu,
    meta_seq,
    meta_to_dict,
    pdu_to_image,
    require_int,
    split_pdu,
    split_symbol_pdu,
)
from ._util import RateLimitedLog, register_message_handlers
from .image_source import ImageCycle, resolve_images


def user_images(images, user: int) -> list:
    """Data user ``user``'s image list: ``images`` (a folder, files, or '' for the shipped ones) rotated by
    ``user``, so the data users send different images (and bits) in a slot."""
    paths, _ = resolve_images(images)
    if not paths:
        raise IsscInputError("no images")
    shift = int(user) % len(paths)
    return paths[shift:] + paths[:shift]


def _numbers(values, what: str) -> list[float]:
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers, got {values!r}") from None


class multiuser_monitor(gr.basic_block):
    """The multi-user link's monitor (:class:`~gnuradio.issc.link.multiuser.MultiUserLedger`): every user's
    frames joined with what its receiver delivered, one row per user and frame (``kind`` 'user': ``slot``,
    ``user``, ``task``, ``received``, ``model``, ``code_rate``, ``predicted_sinr_db``, ``sinr_db`` (measured
    on the frame's preamble: the other users and the sensing streams count as interference),
    ``bit_errors``, ``ber``, the task metric (``ms_ssim`` and ``psnr`` for a data user against its original
    image; ``predicted_class``, ``confidence``, ``label``, ``clean_class`` (the class a perfect channel
    gives), ``correct`` (against the label, the optimiser's error rate) and ``matches_clean`` for a semantic
    user), ``distortion`` and ``predicted_distortion``) and one per
    slot (``kind`` 'slot': the ``weighted_distortion`` ``sum_k beta_k D_k``, measured and predicted).
    Rows are appended to ``frames.jsonl`` and published on ``row``; ``summary.json`` is written when the
    flowgraph stops (:attr:`summary`).

    Message ports:
        sent (in): the transmitter's ``bits`` (each user's PDU as sent, metadata ``user``, ``slot``...).
        received_bits (in): the receivers' ``bits`` (metadata ``user``, ``seq``, ``sinr_db``; a symbol PDU of an
            analog frame counts as received with no bits to compare).
        received (in): the receivers' ``out``: image PDUs (data users) or class PDUs (semantic users), with
            ``user`` and ``seq``.
        header_failed (in): the receivers' failures (``user``; ``seq`` of a truncated frame).
        sensing (in): the sensing estimator's reports (``error_m``, ``ok``): their count and RMSE go into
            the summary.
        row (out): every row as a dict.

    Args:
        tasks: the users' tasks, e.g. 'data,data,semantic'.
        weights: the users' weights, e.g. '0.4,0.3,0.3'.
        images: the data users' images, as given to their sources ('' for the shipped ones; user ``k``'s
            are rotated by ``k``, ``user_images``).
        size: the sources' crop size (0: none).
        out_dir: where to write ``frames.jsonl`` and ``summary.json`` ('' for nowhere).
    """

    def __init__(self, tasks="data,semantic", weights="0.8,0.2", images="", size: int = 0, out_dir: str = ""):
        gr.basic_block.__init__(self, name="multiuser_monitor", in_sig=None, out_sig=None)
        try:
            tasks = parse_tasks(tasks)
            references = [
                ImageCycle(user_images(images, k), int(size)).image if task == "data" else None
                for k, task in enumerate(tasks)
            ]
            self.ledger = MultiUserLedger(
                tasks,
                _numbers(weights, "weights"),
                [None if r is None else (lambda seq, r=r: r(seq)[1]) for r in references],
                out_dir or None,
                on_row=self._on_row,
            )
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.tasks = tasks
        self.summary = {}
        self.rows_published = 0
        self._lock = threading.Lock()
        self._log = RateLimitedLog(self.logger)
        self.messages_handled = {}
        handlers = {
            "sent": self._on_sent,
            "received_bits": self._on_received_bits,
            "received": self._on_received,
            "header_failed": self._on_header_failed,
            "sensing": self._on_sensing,
        }
        register_message_handlers(self, handlers, self._log, counter=self.messages_handled)
        self.message_port_register_out(pmt.intern("row"))

    def _on_sent(self, msg):
        meta, payload = split_pdu(msg)
        user = require_int(meta, "user", "sent PDU")
        info = {
            "model": meta.get("model"),
            "code_rate": meta.get("code_rate"),
            "sinr_db": meta.get("predicted_sinr_db"),
            "distortion": meta.get("predicted_distortion"),
            "weighted_distortion": meta.get("predicted_weighted_distortion"),
            "hcrb_trace": meta.get("predicted_hcrb_trace"),
            "label": meta.get("label"),
            "clean_class": meta.get("clean_class"),
        }
        self.ledger.sent(user, meta_seq(meta, "sent PDU"), require_int(meta, "slot", "sent PDU"), payload, info)

    def _on_received_bits(self, msg):
        if is_symbol_pdu(msg):  # an analog (deep JSCC) frame: no bits to compare
            meta, payload = split_symbol_pdu(msg)[0], b""
        else:
            meta, payload = split_pdu(msg)
        self.ledger.received_bits(
            require_int(meta, "user", "received PDU"), meta_seq(meta, "received PDU"), payload, meta
        )

    def _on_received(self, msg):
        if pmt.is_pair(msg) and not pmt.is_dict(msg):  # an image PDU
            meta, image = pdu_to_image(msg)
            self.ledger.received_image(require_int(meta, "user", "image PDU"), meta["seq"], image)
            return
        values = meta_to_dict(msg)
        user, seq = require_int(values, "user", "class PDU"), meta_seq(values, "class PDU")
        confidence = values.get("confidence")
        if not isinstance(confidence, float):
            raise IsscInputError("class PDU needs a float 'confidence'")
        self.ledger.received_label(user, seq, require_int(values, "class", "class PDU"), confidence)

    def _on_header_failed(self, msg):
        values = meta_to_dict(msg)
        seq = values.get("seq")
        reason = values.get("reason")
        self.ledger.header_failed(
            require_int(values, "user", "failure"),
            seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            reason if isinstance(reason, str) else "",
        )

    def _on_sensing(self, msg):
        values = meta_to_dict(msg)
        error = values.get("error_m")
        ok = values.get("ok") is not False and isinstance(error, float)
        self.ledger.sensing_estimate(error if ok else None)

    def _on_row(self, row):
        with self._lock:
            self.message_port_pub(pmt.intern("row"), dict_to_meta(row))
            self.rows_published += 1

    def stop(self):
        self.summary = self.ledger.flush()
        return True
