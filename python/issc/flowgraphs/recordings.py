# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings of a link run, and their replay (docs/hardware.md "SigMF recordings").

:func:`attach_recorders` records a running link's streams: the ``N_T`` transmitted antenna streams
(role ``tx``, with a frame annotation per ``issc_frame`` tag), the communication receiver's input
(``comm_rx``) and the ``N_R`` echo streams (``echo``), one single-channel recording per stream, all with
the same ``issc:run_id``. :class:`ReplayComm` runs the communication receiver on a ``comm_rx``
recording, with no tags (the configuration comes from the air); :class:`ReplaySensing` runs the sensing
estimator on the echo recordings of a run, with the same run's transmitted streams as its reference
(the frame annotations name the frames of its reports). ``issc replay`` is their command line.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
from gnuradio import blocks, gr

from ..blocks.image_source import ImageCycle
from ..blocks.sensing_estimator import sensing_estimator
from ..blocks.sigmf_recorder import sigmf_recorder
from ..blocks.sigmf_source import sigmf_source
from ..errors import IsscInputError
from ..files import atomic_write_json, atomic_write_text
from ..jsonutil import jsonable
from ..link.pdus import meta_to_dict
from ..link.recording import find_recordings, read_recording
from ..scenario import load_scenario
from .receive_only import ReceiveOnly

POLL_S = 0.02


def new_run_id(prefix: str = "issc") -> str:
    """A run name from the time and the process (recordings of one run share it)."""
    import os

    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"


def attach_recorders(tb, scenario, directory, transmitter, channels, scheme: str = "ascc", run_id: str = "") -> list:
    """Record a link's streams into ``directory``: ``tx0..`` (the transmitter's outputs), ``comm_rx``
    (the channels' output 0) and ``echo0..`` (outputs 1..N_R). Returns the three recorders.

    Args:
        tb: the top block (the connections are made in it).
        scenario: the link's scenario.
        directory: output folder (created if needed).
        transmitter: the block whose ``N_T`` outputs are the antenna streams.
        channels: the block whose output 0 is the receiver's input and 1..N_R the echo.
        scheme: the link's scheme, stored for the replay.
        run_id: the run's name ('' for a new one).
    """
    scn = load_scenario(scenario)
    n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
    run_id = run_id or new_run_id()
    recorders = [
        sigmf_recorder(str(directory), "tx", n_tx, scn, scheme=scheme, run_id=run_id),
        sigmf_recorder(str(directory), "comm_rx", 1, scn, scheme=scheme, run_id=run_id),
        sigmf_recorder(str(directory), "echo", n_rx, scn, scheme=scheme, run_id=run_id),
    ]
    for k in range(n_tx):
        tb.connect((transmitter, k), (recorders[0], k))
    tb.connect((channels, 0), recorders[1])
    for k in range(n_rx):
        tb.connect((channels, 1 + k), (recorders[2], k))
    return recorders


def _recorded_scenario(recording, scenario):
    if scenario:
        return load_scenario(scenario)
    try:
        scn = recording.scenario()
    except IsscInputError as exc:
        raise IsscInputError(f"{exc} (give --scenario)") from None
    if scn is None:
        raise IsscInputError(f"recording {recording.meta_path} has no issc:scenario: give --scenario")
    return scn


class _Replay:
    def _init_replay(self):
        self._interrupted = threading.Event()
        self.end_reason = None
        self.elapsed_s = 0.0

    def interrupt(self):
        self._interrupted.set()

    def _run(self, finished, timeout_s) -> str:
        deadline = math.inf if timeout_s is None else time.monotonic() + float(timeout_s)
        started = time.monotonic()
        self.start()
        try:
            while True:
                if finished():
                    reason = "complete"
                    break
                if self._interrupted.is_set():
                    reason = "interrupted"
                    break
                if time.monotonic() >= deadline:
                    reason = "timeout"
                    break
                self._interrupted.wait(POLL_S)
        finally:
            self.stop()
            self.wait()
        self.end_reason, self.elapsed_s = reason, time.monotonic() - started
        return reason


class ReplayComm(ReceiveOnly, gr.top_block, _Replay):
    """The communication receiver and the monitor (receive-only) on a ``comm_rx`` recording: no tags,
    no side channel, every frame's configuration from its header on the air. Writes ``frames.jsonl``
    and ``summary.json`` like the link monitor (the transmitter's side of a row null; PSNR against
    ``images`` when given).

    Args:
        path: the recording.
        out_dir: output directory ('' for none).
        scenario: the scenario (None: the recording's ``issc:scenario``); only the blocklength is used.
        scheme: 'ascc' or 'djscc' (None: the recording's ``issc:scheme``, else 'ascc').
        codec_dir, djscc_dir: the decoders' models ('' for the shipped ones).
        images: the transmitter's images for PSNR ('' for the shipped test images, None for none).
        size: the transmitter's crop size.
        strict: a truncated data file is an error (else the samples there are decoded).
    """

    def __init__(
        self,
        path,
        out_dir: str = "",
        scenario=None,
        scheme: str | None = None,
        codec_dir: str = "",
        djscc_dir: str = "",
        images=None,
        size: int = 0,
        strict: bool = True,
    ):
        gr.top_block.__init__(self, "issc_replay_comm")
        self._init_replay()
        self.recording = rec = read_recording(path, strict=strict)
        if rec.role in ("tx", "echo"):
            raise IsscInputError(
                f"recording {rec.meta_path} is a{'n' if rec.role == 'echo' else ''} {rec.role} stream: the "
                "communication replay needs the receiver's input (role comm_rx)"
                + (" (an echo recording is replayed by the sensing estimator)" if rec.role == "echo" else "")
            )
        scn = _recorded_scenario(rec, scenario)
        scheme = scheme or str(rec.global_info.get("issc:scheme", "ascc"))
        if scheme not in ("ascc", "djscc"):
            raise IsscInputError(f"recording {rec.meta_path}: unknown issc:scheme {scheme!r}")
        reference = None if images is None else ImageCycle(images, size)
        self.source = sigmf_source(str(rec.meta_path), False, strict, False)
        self._wire_receive_only(scn, scheme, codec_dir, djscc_dir, out_dir, reference)

    def run_replay(self, timeout_s: float | None = None) -> dict:
        reason = self._run(self.finished, timeout_s)
        summary = dict(getattr(self.monitor, "summary", {}))
        summary.update(
            recording=str(self.recording.meta_path),
            role=self.recording.role,
            samples=self.source.position,
            recording_complete=self.recording.complete,
            missing_samples=self.recording.missing_samples,
            end_reason=reason,
            complete=reason == "complete",
            elapsed_s=self.elapsed_s,
        )
        return jsonable(summary)


class ReplaySensing(gr.top_block, _Replay):
    """The sensing estimator on the echo recordings of a run, with the run's transmitted streams as its
    reference. Given any one echo recording, the others of its run (same folder, same ``issc:run_id``)
    are found: ``N_T`` recordings of role ``tx`` (the reference; their frame annotations become the
    ``issc_frame`` tags that name the frames of the reports) and ``N_R`` of role ``echo``. Writes
    ``sensing.jsonl`` (one row per estimated block: the estimator's report) and ``summary.json``.

    Args:
        path: one echo recording of the run.
        out_dir: output directory ('' for none).
        scenario: the scenario (None: the recording's ``issc:scenario``).
        every: estimate one sensing block in ``every``.
        search_halfwidth_m: search region half-width (None: the scenario's tracking setting).
        strict: truncated data files are an error (else the common length is replayed).
    """

    def __init__(
        self,
        path,
        out_dir: str = "",
        scenario=None,
        every: int = 1,
        search_halfwidth_m: float | None = None,
        strict: bool = True,
    ):
        gr.top_block.__init__(self, "issc_replay_sensing")
        self._init_replay()
        rec = read_recording(path, strict=strict)
        if rec.role != "echo":
            raise IsscInputError(f"recording {rec.meta_path}: role {rec.role!r}, the sensing replay needs an echo")
        scn = _recorded_scenario(rec, scenario)
        self.scenario = scn
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        run = [r for r in find_recordings(rec.meta_path.parent, rec.run_id)]
        tx = {r.stream_index: r for r in run if r.role == "tx"}
        echo = {r.stream_index: r for r in run if r.role == "echo"}
        for role, found, count in (("tx", tx, n_tx), ("echo", echo, n_rx)):
            missing = [k for k in range(count) if k not in found]
            if missing:
                raise IsscInputError(
                    f"recording {rec.meta_path}: the sensing replay needs the run's {count} {role} recordings "
                    f"(issc:run_id {rec.run_id!r}) in {rec.meta_path.parent}; stream(s) "
                    f"{', '.join(map(str, missing))} are missing"
                )
        self.out_dir = Path(out_dir) if out_dir else None
        halfwidth = scn.tracking.search_halfwidth_m if search_halfwidth_m is None else float(search_halfwidth_m)
        self.sources = [sigmf_source(str(tx[k].meta_path), k == 0, strict, False) for k in range(n_tx)]
        self.sources += [sigmf_source(str(echo[k].meta_path), False, strict, False) for k in range(n_rx)]
        self.length = min(s.total for s in self.sources)
        self.estimator = sensing_estimator(scn, every, halfwidth)
        self.reports = blocks.message_debug()
        for k, source in enumerate(self.sources):
            self.connect(source, (self.estimator, k))
        self.msg_connect(self.estimator, "estimate", self.reports, "store")
        self.recording = rec

    def report_rows(self) -> list[dict]:
        rows = []
        for i in range(self.reports.num_messages()):
            report = meta_to_dict(self.reports.get_message(i))
            rows.append(jsonable({k: v for k, v in report.items() if isinstance(v, (bool, int, float, str))}))
        return rows

    def finished(self) -> bool:
        return self.estimator.samples_seen >= self.length and self.reports.num_messages() >= self.estimator.estimates

    def run_replay(self, timeout_s: float | None = None) -> dict:
        import json

        reason = self._run(self.finished, timeout_s)
        rows = self.report_rows()
        errors = [r["error_m"] for r in rows if r.get("ok") and isinstance(r.get("error_m"), (int, float))]
        summary = jsonable(
            {
                "recording": str(self.recording.meta_path),
                "role": "echo",
                "run_id": self.recording.run_id,
                "samples": self.estimator.samples_seen,
                "estimates": len(rows),
                "estimates_ok": sum(1 for r in rows if r.get("ok")),
                "rms_error_m": float(np.sqrt(np.mean(np.square(errors)))) if errors else None,
                "frames": sorted({r["seq"] for r in rows if isinstance(r.get("seq"), int) and r["seq"] >= 0}),
                "end_reason": reason,
                "complete": reason == "complete",
                "elapsed_s": self.elapsed_s,
            }
        )
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                self.out_dir / "sensing.jsonl", "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows)
            )
            atomic_write_json(self.out_dir / "summary.json", summary)
        return summary


def replay(path, out_dir: str = "", **options):
    """The replay a recording calls for: :class:`ReplaySensing` for an echo recording, else
    :class:`ReplayComm`. ``options`` go to that class (those the other class takes are ignored)."""
    rec = read_recording(path, strict=options.get("strict", True))
    if rec.role == "echo":
        keys = ("scenario", "every", "search_halfwidth_m", "strict")
        return ReplaySensing(path, out_dir, **{k: v for k, v in options.items() if k in keys})
    keys = ("scenario", "scheme", "codec_dir", "djscc_dir", "images", "size", "strict")
    return ReplayComm(path, out_dir, **{k: v for k, v in options.items() if k in keys})
