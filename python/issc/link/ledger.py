# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The link ledger: joins what was sent with what arrived, frame by frame (the link monitor's core).

Frames are keyed by sequence number. A frame is complete when its sent image and bitstream and its
received bitstream and image are all in; messages on different ports may be handled in any order, so
nothing is closed on arrival order alone. A frame that never arrives (its header failed, so the
receiver could not even say which frame it was) is closed as lost once a later frame has completed,
or when the ledger is flushed. Rows are JSON-ready dicts with exactly the keys :data:`ROW_KEYS`, in
that order, for every frame (None where a value does not apply), so ``frames.jsonl`` is one table.

Memory stays flat over a long run: a closed frame's images and payloads are dropped once its row is
built, the summary is kept as running totals, and ``rows`` can be bounded (:meth:`FrameLedger.configure`;
``frames.jsonl`` keeps them all, appended and flushed one row at a time, so a killed run leaves every
finished row readable with :func:`gnuradio.issc.files.read_json_lines`).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import append_json_line, atomic_write_bytes, atomic_write_json, atomic_write_text
from ..jsonutil import jsonable
from ..metrics import bit_error_rate, ms_ssim, psnr

# the columns of a row, in the order FrameLedger._row builds them (tests/link pin the two together)
ROW_KEYS = (
    "seq",
    "received",
    "power_dbm",
    "model",
    "rate",
    "sinr_db",
    "predicted_sinr_db",
    "ber",
    "bit_errors",
    "payload_snr_db",
    "header_ok",
    "psnr",
    "ms_ssim",
    "predicted_distortion",
    "metric",
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
    "track_lost",
)


# frames held open (waiting for their pieces) at most, and how far behind a completed frame an image
# whose bitstream never came is closed as lost: the ledger's memory is bounded by these, not by the run
MAX_OPEN_FRAMES = 64
STALE_FRAMES = 8


@dataclass
class _Frame:
    seq: int
    image: np.ndarray | None = None
    payload: bytes | None = None
    config: dict = field(default_factory=dict)
    received_payload: bytes | None = None
    received_meta: dict = field(default_factory=dict)
    received_image: np.ndarray | None = None
    sensing_errors: list = field(default_factory=list)
    truths: list = field(default_factory=list)
    symbols: np.ndarray | None = None  # analog frames: the sent and the received symbols
    received_symbols: np.ndarray | None = None
    received_model: str | None = None  # the model the receiver decoded with (from the air)


class _Totals:
    """The summary's running sums, so it needs no row kept in memory."""

    MEANS = (
        "psnr",
        "ms_ssim",
        "sinr_db",
        "ber",
        "hcrb_rmse_m",
        "sensing_error_m",
        "tracking_error_m",
    )

    def __init__(self):
        self.frames = self.received = self.headers_ok = self.bit_errors = self.track_lost = 0
        self.sums = dict.fromkeys(self.MEANS, 0.0)
        self.counts = dict.fromkeys(self.MEANS, 0)
        self.max_tracking_error = None
        self.models = set()

    def add(self, row: dict) -> None:
        self.frames += 1
        self.received += bool(row["received"])
        self.headers_ok += bool(row["header_ok"])
        self.bit_errors += row["bit_errors"] or 0
        self.track_lost += bool(row.get("track_lost"))
        for key in self.MEANS:
            value = row.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                self.sums[key] += float(value)
                self.counts[key] += 1
        error = row.get("tracking_error_m")
        if error is not None:
            self.max_tracking_error = error if self.max_tracking_error is None else max(self.max_tracking_error, error)
        if row["model"]:
            self.models.add(row["model"])

    def mean(self, key: str) -> float | None:
        return self.sums[key] / self.counts[key] if self.counts[key] else None


class FrameLedger:
    """Per-frame join of the transmitter's and the receiver's view.

    Args:
        out_dir: where ``frames.jsonl`` (one row per frame, appended and flushed as frames complete) and
            ``summary.json`` (written atomically) go; None keeps the rows in memory only.
        expect_sensing: sensing reports come for every frame (in frame order): a complete frame is then
            closed only once a report for a later frame has arrived (or at flush), so its own reports,
            which may arrive after its image, are counted.
        background: build the rows of closed frames (their PSNR and MS-SSIM: tens of milliseconds for
            large images) in one worker thread, off the caller's thread, in closing order; ``rows`` and
            ``frames.jsonl`` then grow when a row is done, ``on_row`` (optional, ``row -> None``) is called
            from the worker for each row, and :meth:`flush` waits for all of them. The rows are the
            same as without (the same function on the same frames).
    """

    def __init__(
        self, out_dir: str | Path | None = None, expect_sensing: bool = False, background: bool = False, on_row=None
    ):
        self.out_dir = Path(out_dir) if out_dir else None
        self.frames: dict[int, _Frame] = {}
        self.rows: list[dict] | collections.deque = []
        self.headers_failed = 0
        self.expect_sensing = bool(expect_sensing)
        self._latest_sensing_seq = -1
        # closed frames: every seq below _closed_floor, and those in _closed (compacted into the floor)
        self._closed: set[int] = set()
        self._closed_floor = 0
        self._totals = _Totals()
        self.receive_only = False
        self.reference = None
        self.frames_dir: Path | None = None
        self._jsonl = None
        self.on_row = on_row
        self._rows_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="issc-ledger") if background else None
        self._pending = []  # the worker's futures not yet known to be done
        self.worker_busy_s = 0.0  # seconds the worker spent building rows (for issc bench link --profile)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = self.out_dir / "frames.jsonl"
            atomic_write_text(self._jsonl, "")  # a new run starts a new table

    def configure(self, keep_rows: int | None = None, frames_dir=None, receive_only: bool = False, reference=None):
        """Options of a long or a split run (call before the first frame).

        Args:
            keep_rows: keep only the last ``keep_rows`` rows in :attr:`rows` (None: all; ``frames.jsonl``
                and the summary always have all).
            frames_dir: write ``frame_SEQ.png`` (original | received) for every closed frame with an
                original image, from the row-building thread (None: no images).
            receive_only: the receiver's side alone (a run from recorded samples): no sent images or
                bitstreams come; a frame is complete when its received bitstream and image are in, and
                its model and code rate are the ones the receiver read from the air.
            reference: ``seq -> uint8 image`` (or None): the original of frame ``seq`` when no sent image
                comes (receive-only runs), for PSNR, MS-SSIM and the side-by-side image.
        """
        if keep_rows is not None:
            if int(keep_rows) != keep_rows or keep_rows < 0:
                raise ValueError(f"keep_rows must be an integer >= 0 or None, got {keep_rows!r}")
            self.rows = collections.deque(self.rows, maxlen=int(keep_rows))
        self.frames_dir = Path(frames_dir) if frames_dir else None
        if self.frames_dir is not None:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.receive_only = bool(receive_only)
        self.reference = reference

    def _is_closed(self, seq: int) -> bool:
        return seq < self._closed_floor or seq in self._closed

    def _frame(self, seq: int) -> _Frame:
        if self._is_closed(seq):
            return _Frame(seq)  # a late message for a frame already reported: nothing left to join
        if seq not in self.frames:
            self.frames[seq] = _Frame(seq)
        return self.frames[seq]

    # -- inputs -------------------------------------------------------------------------------------------
    def sent_image(self, seq: int, image: np.ndarray):
        self._frame(seq).image = np.asarray(image)
        self._close_ready()

    def sent_bitstream(self, seq: int, payload: bytes, config: dict):
        frame = self._frame(seq)
        frame.payload, frame.config = bytes(payload), dict(config)
        self._close_ready()

    def sent_symbols(self, seq: int, symbols: np.ndarray, config: dict):
        """An analog (deep JSCC) frame's sent symbols: the row reports the measured payload SNR instead of
        a BER."""
        frame = self._frame(seq)
        frame.symbols = np.asarray(symbols, np.complex64)
        self.sent_bitstream(seq, b"", config)

    def received_symbols(self, seq: int, symbols: np.ndarray, meta: dict):
        frame = self._frame(seq)
        frame.received_symbols = np.asarray(symbols, np.complex64)
        self.received_bitstream(seq, b"", meta)

    def received_bitstream(self, seq: int, payload: bytes, meta: dict):
        frame = self._frame(seq)
        frame.received_payload, frame.received_meta = bytes(payload), dict(meta)
        self._close_ready()  # the ports arrive in no set order: this may be the frame's last piece

    def header_failed(self):
        self.headers_failed += 1

    def sensing_error(self, seq: int, error_m: float | None, truth: dict | None = None):
        """A sensing report for frame ``seq``: the position error of an accepted estimate (None for a
        rejected one) and, when known, the truth of its block (``true_x``, ``true_y``, ``hcrb_trace_true``)."""
        frame = self._frame(seq)
        if error_m is not None:
            frame.sensing_errors.append(float(error_m))
        if truth:
            frame.truths.append(dict(truth))
        self._latest_sensing_seq = max(self._latest_sensing_seq, seq)
        self._close_ready()

    def received_image(self, seq: int, image: np.ndarray, model: str | None = None):
        """Frame ``seq``'s decoded image (and the model the receiver decoded it with, if known)."""
        frame = self._frame(seq)
        frame.received_image = np.asarray(image)
        frame.received_model = model
        if frame.image is None and self.reference is not None:
            try:
                original = self.reference(seq)
            except Exception:  # noqa: BLE001 - a missing original only costs the quality columns
                original = None
            frame.image = None if original is None else np.asarray(original)
        self._close_ready()

    def _complete(self, frame: _Frame) -> bool:
        if self.receive_only:
            return frame.received_image is not None and frame.received_payload is not None
        return (
            frame.image is not None
            and frame.payload is not None
            and frame.received_image is not None
            and frame.received_payload is not None
            and (not self.expect_sensing or self._latest_sensing_seq > frame.seq)
        )

    def _close_ready(self):
        """Close complete frames, and frames older than a completed one that were sent but never arrived."""
        # memory stays bounded whatever arrives: past MAX_OPEN_FRAMES the oldest open frames close as lost
        while len(self.frames) > MAX_OPEN_FRAMES:
            self._close(min(self.frames))
        completed = [seq for seq, f in self.frames.items() if self._complete(f)]
        if not completed:
            return
        newest = max(completed)
        for seq in sorted(self.frames):
            frame = self.frames[seq]
            sent_never_arrived = seq < newest and frame.payload is not None and frame.received_image is None
            # an image the encoder never sent (a refused configuration): its bitstream cannot come once
            # frames well after it have completed (ports may lag each other by a few messages, not more)
            never_encoded = seq < newest - STALE_FRAMES and frame.payload is None and frame.received_image is None
            if self._complete(frame) or sent_never_arrived or never_encoded:
                self._close(seq)

    def flush(self) -> dict:
        """Close every open frame (as lost if it never arrived) and write the summary (atomically)."""
        for seq in sorted(self.frames):
            self._close(seq)
        self.wait()
        summary = self.summary()
        if self.out_dir is not None:
            atomic_write_json(self.out_dir / "summary.json", jsonable(summary))
        return summary

    def wait(self):
        """Wait until every closed frame's row is in ``rows`` (background mode; re-raises a worker error)."""
        while self._pending:
            self._pending.pop(0).result()

    def close(self):
        self.wait()
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    # -- rows -----------------------------------------------------------------------------------------------
    def _close(self, seq: int):
        frame = self.frames.pop(seq, None)
        if frame is None:
            return
        self._closed.add(seq)
        while self._closed_floor in self._closed:  # keep the closed set small: frames close mostly in order
            self._closed.discard(self._closed_floor)
            self._closed_floor += 1
        if self._worker is None:
            self._add_row(frame)
        else:
            running = []
            for future in self._pending:
                if future.done():
                    future.result()  # a worker error surfaces here, in the caller's thread
                else:
                    running.append(future)
            self._pending = running
            self._pending.append(self._worker.submit(self._add_row, frame))

    def _add_row(self, frame: _Frame):
        started = time.perf_counter()
        row = self._row(frame)
        with self._rows_lock:
            self.rows.append(row)
            self._totals.add(row)
            if self._jsonl is not None:
                append_json_line(self._jsonl, jsonable(row))
        if self.frames_dir is not None and frame.image is not None:
            from .report import side_by_side_png

            atomic_write_bytes(
                self.frames_dir / f"frame_{frame.seq:04d}.png", side_by_side_png(frame.image, frame.received_image)
            )
        if self.on_row is not None:
            self.on_row(row)
        if self._worker is not None:
            self.worker_busy_s += time.perf_counter() - started

    @staticmethod
    def _row(frame: _Frame) -> dict:
        cfg = frame.config
        arrived = frame.received_image is not None
        header_ok = bool(frame.received_meta.get("header_ok", arrived)) if (arrived or frame.received_meta) else False
        ber = bit_errors = payload_snr_db = None
        if frame.symbols is not None:
            payload_snr_db = _symbol_snr_db(frame.symbols, frame.received_symbols)
        elif frame.payload is not None and frame.received_payload is not None:
            bit_errors, bits = bit_error_rate(frame.payload, frame.received_payload)
            ber = bit_errors / bits if bits else None
        quality_psnr = quality_ms_ssim = None
        if arrived and frame.image is not None and frame.received_image.shape == frame.image.shape:
            quality_psnr = psnr(frame.image, frame.received_image)
            try:
                quality_ms_ssim = ms_ssim(frame.image, frame.received_image)
            except ValueError:
                quality_ms_ssim = None
        hcrb = cfg.get("hcrb_trace")
        truth = frame.truths[0] if frame.truths else {}
        true_x, true_y = truth.get("true_x"), truth.get("true_y")
        design_x, design_y = cfg.get("design_x"), cfg.get("design_y")
        tracking_error = None
        if all(isinstance(v, (int, float)) for v in (true_x, true_y, design_x, design_y)):
            tracking_error = math.hypot(design_x - true_x, design_y - true_y)
        bounds = [
            t["hcrb_trace_true"]
            for t in frame.truths
            if isinstance(t.get("hcrb_trace_true"), (int, float))
            and math.isfinite(t["hcrb_trace_true"])
            and t["hcrb_trace_true"] >= 0
        ]
        return {
            "seq": frame.seq,
            "received": arrived,
            "power_dbm": cfg.get("power_budget_dbm"),
            # a receive-only run knows the model and the rate from the air only
            "model": cfg.get("model", frame.received_model),
            "rate": cfg.get("code_rate", frame.received_meta.get("code_rate")),
            "sinr_db": frame.received_meta.get("sinr_db"),
            "predicted_sinr_db": cfg.get("sinr_db"),
            "ber": ber,
            "bit_errors": bit_errors,
            "payload_snr_db": payload_snr_db,
            "header_ok": header_ok,
            "psnr": quality_psnr,
            "ms_ssim": quality_ms_ssim,
            "predicted_distortion": cfg.get("distortion"),
            "metric": cfg.get("metric"),
            "predicted_psnr_db": cfg.get("predicted_psnr_db"),
            "predicted_ms_ssim": cfg.get("predicted_ms_ssim"),
            "sensing_error_m": float(np.sqrt(np.mean(np.square(frame.sensing_errors))))
            if frame.sensing_errors
            else None,
            "hcrb_rmse_m": _root(hcrb),
            "crb_rmse_m": _root(cfg.get("crb_trace")),  # the same beams with perfect synchronisation
            # the target at the frame's first sensed block, where the beams pointed, and the distance between
            "true_x": true_x,
            "true_y": true_y,
            "design_x": design_x,
            "design_y": design_y,
            "tracking_error_m": tracking_error,
            "hcrb_rmse_true_m": math.sqrt(float(np.mean(bounds))) if bounds else None,
            "track_lost": cfg.get("track_lost"),
        }

    def summary(self) -> dict:
        """Totals over every row so far (kept as running sums: the rows themselves may be gone)."""
        with self._rows_lock:
            t = self._totals
            return {
                "frames": t.frames,
                "frames_received": t.received,
                "headers_ok": t.headers_ok,
                "headers_failed": self.headers_failed,
                "mean_psnr": t.mean("psnr"),
                "mean_ms_ssim": t.mean("ms_ssim"),
                "mean_sinr_db": t.mean("sinr_db"),
                "total_bit_errors": t.bit_errors,
                "mean_ber": t.mean("ber"),
                "mean_hcrb_rmse_m": t.mean("hcrb_rmse_m"),
                "mean_sensing_error_m": t.mean("sensing_error_m"),
                "mean_tracking_error_m": t.mean("tracking_error_m"),
                "max_tracking_error_m": t.max_tracking_error,
                "frames_track_lost": t.track_lost,
                "models": sorted(t.models),
            }


def _root(trace) -> float | None:
    """``sqrt`` of a bound's trace, None unless it is a finite number >= 0."""
    if isinstance(trace, (int, float)) and not isinstance(trace, bool) and math.isfinite(trace) and trace >= 0:
        return math.sqrt(trace)
    return None


def _symbol_snr_db(sent: np.ndarray, received: np.ndarray | None) -> float | None:
    """Measured SNR of equalised analog symbols: sent power over the mean squared error (None if they
    do not line up, e.g. a frame that never arrived)."""
    if received is None or received.shape != sent.shape or sent.size == 0:
        return None
    error = float(np.mean(np.abs(received.astype(np.complex128) - sent) ** 2))
    power = float(np.mean(np.abs(sent.astype(np.complex128)) ** 2))
    if not (math.isfinite(error) and power > 0):
        return None
    return float(10 * np.log10(power / max(error, 1e-30)))
