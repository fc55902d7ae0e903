# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings of the link's complex streams (docs/hardware.md "SigMF recordings").

A recording is the SigMF pair ``NAME.sigmf-data`` (the samples, ``cf32_le``) and ``NAME.sigmf-meta``
(JSON): ``core:sample_rate``, one capture with ``core:frequency`` (the carrier), and the gr-issc extension
namespace ``issc`` (declared in ``core:extensions``, so ``sigmf`` validates it) with the scenario
(``issc:scenario_name`` and the full resolved scenario as a JSON object, ``issc:scenario``), the stream's
role (``issc:role``: ``tx``, ``comm_rx``, ``echo`` or ``other``) and index, the run it belongs to, and one
annotation per frame (``core:sample_start``, ``core:sample_count``, ``issc:seq``, ``issc:model``,
``issc:code_rate``, ``issc:info_bits``) from the frame encoder's ``issc_frame`` tags.

:class:`RecordingWriter` streams: samples are appended to the data file as they come, and the metadata is
replaced atomically (``files.atomic_write_json``) every ``meta_interval_s`` and at :meth:`close`, always
after the samples it describes were flushed; so a run killed at any instant leaves a valid recording of
what was written (``issc:complete`` false, the samples after the last metadata write still readable).
:func:`read_recording` maps the samples read-only (nothing is allocated for them) after checking the data
file's size against the metadata.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IsscInputError
from ..files import atomic_write_json, check_output_file
from ..jsonutil import jsonable

DATATYPE = "cf32_le"
SAMPLE_BYTES = 8  # one cf32_le sample: two little-endian float32
NAMESPACE = "issc"
EXTENSION = {"name": NAMESPACE, "version": "1.0.0", "optional": True}
"""The ``core:extensions`` entry declaring the ``issc:`` keys (optional: a SigMF reader that does not know
them still reads the samples)."""
ROLES = ("tx", "comm_rx", "echo", "other")
META_SUFFIX, DATA_SUFFIX = ".sigmf-meta", ".sigmf-data"


def recording_paths(path: str | Path) -> tuple[Path, Path]:
    """``(NAME.sigmf-meta, NAME.sigmf-data)`` of a recording given either file or the bare ``NAME``."""
    path = Path(path)
    if path.name.endswith((META_SUFFIX, DATA_SUFFIX)):
        path = path.with_name(path.name[: -len(META_SUFFIX)])
    return path.with_name(path.name + META_SUFFIX), path.with_name(path.name + DATA_SUFFIX)


@dataclass
class FrameAnnotation:
    """One frame of a recording: its first sample and the samples up to the next frame's first (or the
    end of the recording), and what its ``issc_frame`` tag said."""

    sample_start: int
    sample_count: int | None
    seq: int
    model: str | None = None
    code_rate: float | None = None
    info_bits: int | None = None

    def to_sigmf(self) -> dict:
        out = {"core:sample_start": int(self.sample_start)}
        if self.sample_count is not None:
            out["core:sample_count"] = int(self.sample_count)
        out["core:label"] = f"frame {self.seq}"
        out["issc:seq"] = int(self.seq)
        if self.model is not None:
            out["issc:model"] = str(self.model)
        if self.code_rate is not None and math.isfinite(self.code_rate):
            out["issc:code_rate"] = float(self.code_rate)
        if self.info_bits is not None:
            out["issc:info_bits"] = int(self.info_bits)
        return out

    @classmethod
    def from_sigmf(cls, annotation: dict) -> FrameAnnotation | None:
        """The frame of a SigMF annotation, None when it is not a frame annotation (no ``issc:seq``)."""
        seq = annotation.get("issc:seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return None
        rate = annotation.get("issc:code_rate")
        bits = annotation.get("issc:info_bits")
        return cls(
            int(annotation["core:sample_start"]),
            annotation.get("core:sample_count"),
            seq,
            annotation.get("issc:model"),
            float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None,
            int(bits) if isinstance(bits, int) and not isinstance(bits, bool) else None,
        )


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RecordingWriter:
    """Writes one complex stream as a SigMF recording, streaming (see the module docstring).

    Use as a context manager, or call :meth:`open` first and :meth:`close` at the end. Thread-safe.

    Args:
        path: the recording's name (``NAME``, ``NAME.sigmf-meta`` or ``NAME.sigmf-data``); its folder
            must exist. Existing files of that name are replaced.
        sample_rate: samples per second (``core:sample_rate``).
        center_freq_hz: carrier (``core:frequency`` of the capture; None leaves it out).
        scenario: the :class:`~gnuradio.issc.scenario.Scenario` (or its dict) the stream was made with,
            stored whole as ``issc:scenario`` (None: not stored).
        role: what the stream is: 'tx' (a transmit antenna), 'comm_rx' (the communication receiver's input),
            'echo' (a sensing receive antenna) or 'other'.
        stream_index: the antenna index within the role.
        streams: how many streams the role has (``N_T`` for 'tx', ``N_R`` for 'echo').
        run_id: names the run, so the streams of one run can be found together ('' for none).
        description: ``core:description``.
        extra: more global fields, each key in the ``issc:`` namespace (e.g. ``issc:scheme``).
        meta_interval_s: rewrite the metadata at most this often while samples come (0: only at close;
            stretched to 20 times the last rewrite's duration, so a long run's growing metadata costs
            at most ~5 % of the time).
        checksum: put ``core:sha512`` of the data file in the final metadata (reads the file once at close).
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: float,
        center_freq_hz: float | None = None,
        scenario=None,
        role: str = "other",
        stream_index: int = 0,
        streams: int = 1,
        run_id: str = "",
        description: str = "",
        extra: dict | None = None,
        meta_interval_s: float = 2.0,
        checksum: bool = True,
    ):
        self.meta_path, self.data_path = recording_paths(path)
        if not (isinstance(sample_rate, (int, float)) and math.isfinite(sample_rate) and sample_rate > 0):
            raise IsscInputError(f"recording {self.meta_path}: sample rate must be a number > 0, got {sample_rate!r}")
        if center_freq_hz is not None and not math.isfinite(center_freq_hz):
            raise IsscInputError(f"recording {self.meta_path}: centre frequency must be finite, got {center_freq_hz!r}")
        if role not in ROLES:
            raise IsscInputError(f"recording role must be one of {', '.join(ROLES)}, got {role!r}")
        for key in extra or {}:
            if not key.startswith(NAMESPACE + ":"):
                raise IsscInputError(f"extra recording field {key!r} must be in the '{NAMESPACE}:' namespace")
        check_output_file(self.meta_path, "recording")
        check_output_file(self.data_path, "recording")
        self.sample_rate = float(sample_rate)
        self.center_freq_hz = None if center_freq_hz is None else float(center_freq_hz)
        if scenario is not None and hasattr(scenario, "to_dict"):
            scenario = scenario.to_dict()
        self.scenario = None if scenario is None else jsonable(scenario)
        self.role, self.stream_index, self.streams = role, int(stream_index), int(streams)
        self.run_id, self.description = str(run_id), str(description)
        self.extra = jsonable(dict(extra or {}))
        self.meta_interval_s = float(meta_interval_s)
        self.checksum = bool(checksum)
        self.samples = 0
        self.frames: list[FrameAnnotation] = []
        self.annotations: list[dict] = []  # other annotations, as SigMF dicts
        self.complete = False
        self._datetime = _utc_now()
        self._file = None
        self._lock = threading.RLock()
        self._last_meta = -math.inf
        self._interval = self.meta_interval_s

    # -- life cycle -----------------------------------------------------------------------------------
    def open(self) -> RecordingWriter:
        with self._lock:
            if self._file is None:
                self._file = open(self.data_path, "wb")
                self.write_metadata()
        return self

    def close(self) -> None:
        """Flush the samples to disk and write the final metadata (``issc:complete`` true)."""
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            self.complete = True
            self.write_metadata()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # -- samples and annotations ------------------------------------------------------------------------
    def write(self, samples) -> None:
        """Append samples (anything convertible to complex64) to the data file."""
        data = np.ascontiguousarray(samples, dtype="<c8").reshape(-1)
        with self._lock:
            if self._file is None:
                raise IsscInputError(f"recording {self.meta_path}: write before open or after close")
            self._file.write(data.tobytes())
            self.samples += data.size
            if self.meta_interval_s > 0 and time.monotonic() - self._last_meta >= self._interval:
                self._file.flush()  # the samples first: the metadata never describes samples not yet written
                self.write_metadata()

    def frame(self, sample_start: int, seq: int, model=None, code_rate=None, info_bits=None) -> None:
        """Annotate a frame starting at ``sample_start`` (its length runs to the next frame's start)."""
        with self._lock:
            start = int(sample_start)
            if self.frames and start < self.frames[-1].sample_start:
                raise IsscInputError(
                    f"recording {self.meta_path}: frame {seq} starts at {start}, before the previous frame "
                    f"({self.frames[-1].sample_start})"
                )
            if self.frames:
                self.frames[-1].sample_count = start - self.frames[-1].sample_start
            self.frames.append(FrameAnnotation(start, None, int(seq), model, code_rate, info_bits))

    def annotate(self, sample_start: int, sample_count: int | None = None, label: str = "", **fields) -> None:
        """Add an annotation; ``fields`` become ``issc:<name>`` keys."""
        entry = {"core:sample_start": int(sample_start)}
        if sample_count is not None:
            entry["core:sample_count"] = int(sample_count)
        if label:
            entry["core:label"] = str(label)
        entry.update({f"{NAMESPACE}:{k}": jsonable(v) for k, v in fields.items()})
        with self._lock:
            self.annotations.append(entry)

    # -- metadata -----------------------------------------------------------------------------------------
    def metadata(self) -> dict:
        """The SigMF metadata describing the samples written so far."""
        with self._lock:
            global_ = {
                "core:datatype": DATATYPE,
                "core:sample_rate": self.sample_rate,
                "core:version": _sigmf_version(),
                "core:num_channels": 1,
                "core:recorder": _recorder(),
                "core:extensions": [dict(EXTENSION)],
                "issc:role": self.role,
                "issc:stream_index": self.stream_index,
                "issc:streams": self.streams,
                "issc:run_id": self.run_id,
                "issc:sample_count": self.samples,
                "issc:complete": self.complete,
            }
            if self.description:
                global_["core:description"] = self.description
            if self.scenario is not None:
                global_["issc:scenario_name"] = str(self.scenario.get("name", ""))
                global_["issc:scenario"] = self.scenario
            global_.update(self.extra)
            if self.complete and self.checksum:
                global_["core:sha512"] = _sha512(self.data_path)
            capture = {"core:sample_start": 0, "core:datetime": self._datetime}
            if self.center_freq_hz is not None:
                capture["core:frequency"] = self.center_freq_hz
            annotations = []
            for frame in self.frames:
                if frame.sample_start >= self.samples and not self.complete:
                    continue  # a tag ahead of the samples written: described once they are
                count = frame.sample_count
                if count is None or frame.sample_start + count > self.samples:
                    count = self.samples - frame.sample_start  # the open frame: what was written of it
                annotations.append(
                    FrameAnnotation(
                        frame.sample_start, max(count, 0), frame.seq, frame.model, frame.code_rate, frame.info_bits
                    ).to_sigmf()
                )
            annotations.extend(self.annotations)
            annotations.sort(key=lambda a: a["core:sample_start"])  # SigMF: ascending sample_start
            return {"global": global_, "captures": [capture], "annotations": annotations}

    def write_metadata(self) -> None:
        with self._lock:
            started = time.monotonic()
            atomic_write_json(self.meta_path, self.metadata())
            self._last_meta = time.monotonic()
            # a long run's metadata grows with its frames: rewriting it never takes more than ~5 % of the time
            self._interval = max(self.meta_interval_s, 20 * (self._last_meta - started))


def _sigmf_version() -> str:
    import sigmf

    return sigmf.__specification__


def _recorder() -> str:
    from .. import __version__

    return f"gr-issc {__version__}"


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validate_metadata(metadata: dict, where: str = "recording") -> None:
    """Validate SigMF metadata with the ``sigmf`` package (schema, declared extensions, annotation order).

    Raises:
        IsscInputError: naming ``where`` and what ``sigmf`` found.
    """
    import jsonschema
    import sigmf
    from sigmf import validate as sigmf_validate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # an undeclared extension is an error here
            sigmf_validate.validate(metadata, sigmf.schema.get_schema())
    except jsonschema.exceptions.ValidationError as exc:
        at = "/".join(str(p) for p in exc.absolute_path)
        raise IsscInputError(
            f"{where}: not valid SigMF metadata: {exc.message}" + (f" (at {at})" if at else "")
        ) from None
    except DeprecationWarning as exc:
        raise IsscInputError(f"{where}: not valid SigMF metadata: {exc}") from None


@dataclass
class Recording:
    """A recording as :func:`read_recording` returns it.

    Attributes:
        samples: the samples, complex64, memory-mapped read-only (an empty array for an empty recording).
        frames: the frame annotations, in order.
        complete: the writer closed the recording and the data file holds every sample it describes.
        missing_samples: samples the metadata describes that the data file lacks (best-effort reads).
    """

    meta_path: Path
    data_path: Path
    metadata: dict
    samples: np.ndarray
    frames: list[FrameAnnotation] = field(default_factory=list)
    complete: bool = True
    missing_samples: int = 0

    @property
    def global_info(self) -> dict:
        return self.metadata["global"]

    @property
    def sample_rate(self) -> float:
        return float(self.global_info["core:sample_rate"])

    @property
    def center_freq_hz(self) -> float | None:
        captures = self.metadata.get("captures") or [{}]
        value = captures[0].get("core:frequency")
        return None if value is None else float(value)

    @property
    def role(self) -> str:
        return str(self.global_info.get("issc:role", "other"))

    @property
    def stream_index(self) -> int:
        return int(self.global_info.get("issc:stream_index", 0))

    @property
    def run_id(self) -> str:
        return str(self.global_info.get("issc:run_id", ""))

    @property
    def annotations(self) -> list[dict]:
        return list(self.metadata.get("annotations", []))

    def scenario(self):
        """The recorded scenario as a :class:`~gnuradio.issc.scenario.Scenario` (None if not recorded)."""
        from ..scenario import Scenario

        data = self.global_info.get("issc:scenario")
        if data is None:
            return None
        return Scenario.from_dict(data, source=f"{self.meta_path} (issc:scenario)", name=data.get("name"))


def read_recording(path: str | Path, strict: bool = True, verify_checksum: bool = False) -> Recording:
    """Read a recording written by :class:`RecordingWriter` (or any single-channel ``cf32_le`` SigMF pair).

    The metadata is validated with ``sigmf``; the data file's size is checked against the metadata
    (``issc:sample_count``, else the end of the last annotation) before anything is mapped. A data file
    longer than the metadata says (a run killed between two metadata writes) is read whole.

    Args:
        path: ``NAME``, ``NAME.sigmf-meta`` or ``NAME.sigmf-data``.
        strict: a data file shorter than the metadata says is an error; else (best effort) the samples
            there are returned, the frames past them dropped or cut, and ``missing_samples`` set.
        verify_checksum: check ``core:sha512`` when the metadata has one (reads the whole file).

    Raises:
        IsscInputError: the files are missing or unreadable, the metadata is not valid SigMF or not a
            single-channel ``cf32_le`` recording, or (``strict``) the data file is truncated.
    """
    meta_path, data_path = recording_paths(path)
    if not meta_path.is_file():
        raise IsscInputError(f"recording {meta_path}: no such file")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IsscInputError(f"recording {meta_path}: cannot read the metadata ({exc})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("global"), dict):
        raise IsscInputError(f"recording {meta_path}: not SigMF metadata (no 'global' object)")
    metadata.setdefault("captures", [])
    metadata.setdefault("annotations", [])
    validate_metadata(metadata, f"recording {meta_path}")
    global_ = metadata["global"]
    if global_.get("core:datatype") != DATATYPE:
        raise IsscInputError(
            f"recording {meta_path}: datatype {global_.get('core:datatype')!r} is not supported (only {DATATYPE})"
        )
    if int(global_.get("core:num_channels", 1)) != 1:
        raise IsscInputError(f"recording {meta_path}: {global_['core:num_channels']} channels (only 1 is supported)")
    if not isinstance(global_.get("core:sample_rate"), (int, float)) or not global_["core:sample_rate"] > 0:
        raise IsscInputError(f"recording {meta_path}: core:sample_rate must be a number > 0")
    if not data_path.is_file():
        raise IsscInputError(f"recording {meta_path}: data file {data_path} is missing")
    size = data_path.stat().st_size
    available = size // SAMPLE_BYTES
    frames = [f for f in map(FrameAnnotation.from_sigmf, metadata["annotations"]) if f is not None]
    described = global_.get("issc:sample_count")
    if not (isinstance(described, int) and not isinstance(described, bool) and described >= 0):
        described = max(
            (a["core:sample_start"] + a.get("core:sample_count", 0) for a in metadata["annotations"]), default=0
        )
    missing = max(0, described - available)
    if missing or size % SAMPLE_BYTES:
        problem = (
            f"data file has {available} samples ({size} bytes) but the metadata describes {described}"
            if missing
            else f"data file size {size} is not a whole number of {DATATYPE} samples"
        )
        if strict and missing:
            raise IsscInputError(f"recording {meta_path}: {problem} (truncated?)")
        frames = [f for f in frames if f.sample_start < available]
        for frame in frames:
            if frame.sample_count is not None and frame.sample_start + frame.sample_count > available:
                frame.sample_count = available - frame.sample_start
    if verify_checksum and global_.get("core:sha512") and _sha512(data_path) != global_["core:sha512"]:
        raise IsscInputError(f"recording {meta_path}: data file does not match core:sha512")
    if available:
        samples = np.memmap(data_path, dtype="<c8", mode="r", shape=(available,))
    else:
        samples = np.zeros(0, np.complex64)
    complete = bool(global_.get("issc:complete", True)) and not missing
    return Recording(meta_path, data_path, metadata, samples, frames, complete, missing)


def find_recordings(directory: str | Path, run_id: str | None = None) -> list[Recording]:
    """Every readable recording in ``directory`` (best effort), optionally only those of run ``run_id``,
    sorted by role and stream index. Files that do not read are skipped."""
    found = []
    for meta in sorted(Path(directory).glob("*" + META_SUFFIX)):
        try:
            rec = read_recording(meta, strict=False)
        except IsscInputError:
            continue
        if run_id is None or rec.run_id == run_id:
            found.append(rec)
    return sorted(found, key=lambda r: (r.role, r.stream_index, r.meta_path.name))
