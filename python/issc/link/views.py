# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""View models of the link's Qt GUI blocks: what ``issc_image_sink`` and ``issc_link_status`` draw.

The blocks are thin: their message handlers hand each message to a view model here, and a Qt timer
in the GUI thread takes a :meth:`snapshot` whenever the ``version`` changed. The models parse the
messages strictly (a malformed one raises :class:`~gnuradio.issc.errors.IsscInputError` and changes
nothing; the block logs and drops it), keep a bounded history, and are safe to feed from GNU Radio's
message threads while the GUI thread reads. No Qt here: the tests run without a display.

- :class:`ImagePairs`: sent and received image PDUs (:mod:`~gnuradio.issc.link.pdus`) paired by
  sequence number, each pair scored with PSNR and MS-SSIM (:mod:`~gnuradio.issc.metrics`).
- :class:`FrameTable`: the latest rows of ``issc_link_monitor`` (keys
  :data:`~gnuradio.issc.link.ledger.ROW_KEYS`) as table cells.
"""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass

import numpy as np
import pmt

from ..errors import IsscInputError
from ..metrics import ms_ssim, psnr
from .ledger import ROW_KEYS
from .pdus import is_int, is_real, meta_to_dict, pdu_to_image

MAX_HISTORY = 10_000


def check_history(history, what: str = "history") -> int:
    """``history`` as an int in ``[1, MAX_HISTORY]``.

    Raises:
        IsscInputError: not an integer in that range.
    """
    if not is_int(history) or not 1 <= history <= MAX_HISTORY:
        raise IsscInputError(f"{what} must be an integer in [1, {MAX_HISTORY}], got {history!r}")
    return int(history)


def as_dict(msg, where: str) -> dict:
    """A message as a Python dict: a PMT dict through :func:`~gnuradio.issc.link.pdus.meta_to_dict`, a dict
    as it is (both forms reach the views: PMT from a flowgraph, dicts from scripts and tests)."""
    if isinstance(msg, dict):
        return dict(msg)
    if isinstance(msg, pmt.pmt_base) and pmt.is_dict(msg):
        return meta_to_dict(msg)
    raise IsscInputError(f"{where} must be a dict")


def _optional_real(meta: dict, key: str, where: str) -> float | None:
    """``meta[key]`` as a float, None when absent or None; IsscInputError for anything but a number."""
    value = meta.get(key)
    if value is None:
        return None
    if not is_real(value):
        raise IsscInputError(f"{where}: '{key}' must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ImagePair:
    """One frame as the image sink shows it.

    Args:
        seq: frame sequence number.
        sent: the sent image, ``H x W x 3`` uint8.
        received: the received image, ``H x W x 3`` uint8.
        name: the sent image's name (image source metadata ``name``), or None.
        model: the codec model the receiver decoded with (metadata ``model``), or None.
        code_rate: ``R_c`` from the received header, or None.
        sinr_db: the receiver's SINR estimate, or None.
        psnr: PSNR of the received against the sent image, dB (inf when equal; None for a size mismatch).
        ms_ssim: MS-SSIM of the pair (None for a size mismatch or images under 33 pixels a side).
    """

    seq: int
    sent: np.ndarray
    received: np.ndarray
    name: str | None
    model: str | None
    code_rate: float | None
    sinr_db: float | None
    psnr: float | None
    ms_ssim: float | None


def score_pair(sent: np.ndarray, received: np.ndarray) -> tuple[float | None, float | None]:
    """``(PSNR dB, MS-SSIM)`` of a received image against the sent one; ``(None, None)`` when the shapes
    differ, MS-SSIM None for images too small for it."""
    if sent.shape != received.shape:
        return None, None
    quality = psnr(sent, received)
    try:
        structural = ms_ssim(sent, received)
    except ValueError:
        structural = None
    return quality, structural


class ImagePairs:
    """Sent and received image PDUs paired by sequence number, for ``issc_image_sink``.

    Either side may come first (the two ports are handled in no set order); an image waits for its
    partner, at most ``history`` per side (the oldest is dropped: a frame that never arrives must not
    hold memory forever). Completed pairs are scored once (:func:`score_pair`) and the last ``history``
    kept.

    Args:
        history: pairs kept, and images waiting per side.
    """

    def __init__(self, history: int = 16):
        self.history = check_history(history)
        self._lock = threading.Lock()
        self._sent: collections.OrderedDict[int, tuple[dict, np.ndarray]] = collections.OrderedDict()
        self._received: collections.OrderedDict[int, tuple[dict, np.ndarray]] = collections.OrderedDict()
        self.pairs: collections.deque[ImagePair] = collections.deque(maxlen=self.history)
        self.version = 0
        self.dropped = 0  # waiting images dropped for room

    def sent(self, msg) -> ImagePair | None:
        """An image PDU from the transmitter's side (``issc_image_source``); returns the pair it completes."""
        meta, image = pdu_to_image(msg)
        return self._add(self._sent, self._received, meta, image, sent_side=True)

    def received(self, msg) -> ImagePair | None:
        """A decoded image PDU (``issc_comm_receiver``'s ``image``); returns the pair it completes.

        Raises:
            IsscInputError: not an image PDU, or ``code_rate``/``sinr_db`` present but not numbers.
        """
        meta, image = pdu_to_image(msg)
        for key in ("code_rate", "sinr_db"):
            _optional_real(meta, key, "received image PDU")
        return self._add(self._received, self._sent, meta, image, sent_side=False)

    def _add(self, own, other, meta, image, sent_side: bool) -> ImagePair | None:
        seq = int(meta["seq"])
        with self._lock:
            partner = other.pop(seq, None)
            if partner is None:
                own[seq] = (meta, np.array(image))
                own.move_to_end(seq)
                while len(own) > self.history:
                    own.popitem(last=False)
                    self.dropped += 1
                return None
        (sent_meta, sent), (received_meta, received) = (
            ((meta, image), partner) if sent_side else (partner, (meta, image))
        )
        quality, structural = score_pair(sent, received)  # outside the lock: MS-SSIM takes milliseconds
        model = received_meta.get("model")
        name = sent_meta.get("name")
        pair = ImagePair(
            seq,
            np.array(sent),
            np.array(received),
            name if isinstance(name, str) else None,
            model if isinstance(model, str) else None,
            _optional_real(received_meta, "code_rate", "received image PDU"),
            _optional_real(received_meta, "sinr_db", "received image PDU"),
            quality,
            structural,
        )
        with self._lock:
            self.pairs.append(pair)
            self.version += 1
        return pair

    def snapshot(self) -> tuple[int, ImagePair | None]:
        """``(version, latest pair)``; the pair is immutable (the GUI thread may keep it)."""
        with self._lock:
            return self.version, (self.pairs[-1] if self.pairs else None)

    def waiting(self) -> tuple[int, int]:
        """``(sent, received)`` images waiting for their partner."""
        with self._lock:
            return len(self._sent), len(self._received)


def format_number(value, digits: int) -> str:
    """A table cell: ``value`` with ``digits`` decimals, '∞' for +inf, '—' for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}f}"


# (row key, header, decimals or None for text) of the status table, in display order
COLUMNS = (
    ("seq", "seq", None),
    ("model", "model", None),
    ("rate", "R_c", 3),
    ("predicted_sinr_db", "SINR pred.\n(dB)", 2),
    ("sinr_db", "SINR meas.\n(dB)", 2),
    ("status", "decoded", None),
    ("psnr", "PSNR\n(dB)", 2),
    ("ms_ssim", "MS-SSIM", 4),
    ("sensing_error_m", "sensing\nerror (m)", 2),
    ("hcrb_rmse_m", "√tr HCRB\n(m)", 2),
)
NUMERIC_KEYS = (
    "power_dbm",
    "rate",
    "sinr_db",
    "predicted_sinr_db",
    "ber",
    "bit_errors",
    "payload_snr_db",
    "psnr",
    "ms_ssim",
    "predicted_distortion",
    "predicted_psnr_db",
    "predicted_ms_ssim",
    "sensing_error_m",
    "hcrb_rmse_m",
    "crb_rmse_m",
    "true_x",
    "true_y",
    "design_x",
    "design_y",
    "tracking_error_m",
    "hcrb_rmse_true_m",
)
BOOL_KEYS = ("received", "header_ok", "track_lost")
TEXT_KEYS = ("model", "metric")


def frame_status(row: dict) -> str:
    """'ok' (decoded, no payload bit errors known), 'errors' (decoded with payload bit errors), 'header'
    (an image arrived but the header was flagged bad) or 'lost' (never arrived: a frame whose header
    failed cannot even name its sequence number, so it shows as lost)."""
    if not row.get("received"):
        return "lost"
    if row.get("header_ok") is False:
        return "header"
    return "errors" if (row.get("bit_errors") or 0) > 0 else "ok"


def parse_row(msg) -> dict:
    """A link monitor row (PMT dict or dict) as a dict with every key of ``ROW_KEYS`` (None where absent:
    the monitor's messages leave out None values) plus ``status`` (:func:`frame_status`).

    Raises:
        IsscInputError: no integer ``seq``, a numeric field that is not a number, a flag that is not a
            bool, or a ``model``/``metric`` that is not a string.
    """
    values = as_dict(msg, "link monitor row")
    if not is_int(values.get("seq")):
        raise IsscInputError(f"link monitor row needs an integer 'seq', got {values.get('seq')!r}")
    row = {key: values.get(key) for key in ROW_KEYS}
    for key in NUMERIC_KEYS:
        row[key] = _optional_real(row, key, "link monitor row")
    for key in BOOL_KEYS:
        if row[key] is not None and not isinstance(row[key], (bool, np.bool_)):
            raise IsscInputError(f"link monitor row: '{key}' must be a bool, got {row[key]!r}")
    for key in TEXT_KEYS:
        if row[key] is not None and not isinstance(row[key], str):
            raise IsscInputError(f"link monitor row: '{key}' must be a string, got {row[key]!r}")
    row["seq"] = int(row["seq"])
    row["status"] = frame_status(row)
    return row


STATUS_TEXT = {"ok": "ok", "errors": "bit errors", "header": "header failed", "lost": "lost"}


def row_cells(row: dict) -> list[str]:
    """The status table's cells of one parsed row, in :data:`COLUMNS` order."""
    cells = []
    for key, _, digits in COLUMNS:
        value = row.get(key)
        if key == "status":
            text = STATUS_TEXT[value]
            if value == "errors" and row.get("ber") is not None:
                text += f" (BER {row['ber']:.1e})"
            cells.append(text)
        elif digits is None:
            cells.append("—" if value is None else str(value))
        else:
            cells.append(format_number(value, digits))
    return cells


class FrameTable:
    """The latest ``rows`` link monitor rows, newest first, for ``issc_link_status``.

    A row for a sequence number already shown replaces it (a frame is reported once, but a replayed
    recording may repeat one).

    Args:
        rows: rows kept.
    """

    def __init__(self, rows: int = 12):
        self.rows = check_history(rows, "rows")
        self._lock = threading.Lock()
        self._rows: collections.OrderedDict[int, dict] = collections.OrderedDict()
        self.version = 0

    def add(self, msg) -> dict:
        """One row from the monitor's ``frame`` port; returns it parsed (:func:`parse_row`)."""
        row = parse_row(msg)
        with self._lock:
            self._rows.pop(row["seq"], None)
            self._rows[row["seq"]] = row
            while len(self._rows) > self.rows:
                self._rows.pop(min(self._rows))  # the oldest frame goes, whatever the arrival order
            self.version += 1
        return row

    def snapshot(self) -> tuple[int, list[dict]]:
        """``(version, rows newest first)`` (copies: the GUI thread may keep them)."""
        with self._lock:
            return self.version, [dict(self._rows[seq]) for seq in sorted(self._rows, reverse=True)]
