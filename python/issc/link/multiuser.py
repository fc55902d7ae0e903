# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user link's core (docs/multiuser.md "The GNU Radio link"): frame slots, the superposition, the
semantic users' labels and the per-user ledger. The blocks ``multiuser_frame_encoder``,
``multiuser_beamformer``, ``task_decoder`` and ``multiuser_monitor`` are thin adapters over it.

- :class:`SlotFramer`: the ``K`` users' frames go on the air in *slots*: one frame per user, all starting
  at the same sample, each zero-padded to the slot's longest frame, so ``x = sum_k w_k s_k + W_0 s_0`` is
  defined frame by frame (the beams switch at the slot's first sample). A slot goes out once every user has
  a frame waiting. Each frame carries its user's id (:mod:`.framing`: the user's preamble and CRC mask).
- :func:`superpose`: the transmitted antenna samples of a slot piece.
- :func:`classify_payload`: a semantic user's class and confidence from its received bitstream.
- :class:`MultiUserLedger`: what each user was sent joined with what its receiver got: one row per user and
  frame (bit errors, measured and predicted SINR, model, ``R_c``, the task metric: MS-SSIM for a data user,
  correct or not against the true label for a semantic user, and whether its class is the one the clean
  image gives) and one row per slot (the weighted sum of the users' distortions,
  measured and predicted).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IsscInputError
from ..files import append_json_line, atomic_write_json, atomic_write_text
from ..jsonutil import jsonable
from ..metrics import bit_error_rate, ms_ssim, psnr
from .framing import FrameFormat, FrameHeader, build_analog_frame, build_frame

TASKS = ("data", "semantic")
MAX_EARLY = 64
"""Frames per user whose results may wait for their 'sent' record."""


@functools.lru_cache(maxsize=1)
def _standard_model_ids() -> tuple:
    from ..codec.profile import FAMILY_PROFILES, load_profile
    from ..codec.standard import is_standard, parse_model_id

    ids = {m.id for name in ("mixed", "hevc", "jpeg") for m in load_profile(FAMILY_PROFILES[name]).models}
    return tuple(sorted((m for m in ids if is_standard(m)), key=parse_model_id))


def standard_model_ids() -> list[str]:
    """The standard-codec operating points a data user of the multi-user link can be sent: every ``hevc-q..`` /
    ``jpeg-q..`` model of the shipped ``mixed``, ``hevc`` and ``jpeg`` profiles, by codec then quality.

    The frame header's model index counts the learned family's models first (their indices are the single-user
    link's), then these: both ends build the same list (:func:`data_model_ids`), so the index a transmitter
    writes names the same model at every receiver."""
    return list(_standard_model_ids())


def data_model_ids(learned_ids) -> list[str]:
    """A data user's model-index space: the learned family's ids, then :func:`standard_model_ids`."""
    learned = list(learned_ids)
    return learned + [m for m in standard_model_ids() if m not in learned]


def parse_tasks(tasks) -> list[str]:
    """The users' tasks from a list or a comma-separated string (``'data,data,semantic'``)."""
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    tasks = list(tasks)
    if not tasks:
        raise IsscInputError("need at least one user (tasks: e.g. 'data,semantic')")
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise IsscInputError(f"unknown task(s) {', '.join(map(repr, bad))} (known: {', '.join(TASKS)})")
    return tasks


def superpose(beams: np.ndarray, w_0: np.ndarray, streams: np.ndarray, sensing: np.ndarray) -> np.ndarray:
    """``x = sum_k w_k s_k + W_0 s_0``: ``N_T x n`` antenna samples.

    Args:
        beams: ``N_T x K``, column ``k`` is user ``k``'s beam ``w_k``.
        w_0: ``N_T x r_0`` sensing beams.
        streams: ``K x n`` user symbols.
        sensing: ``r_0 x n`` sensing symbols.
    """
    return np.asarray(beams) @ np.asarray(streams) + np.asarray(w_0) @ np.asarray(sensing)


@dataclass
class Slot:
    """One slot: ``symbols`` (``K x n``, each user's frame then zeros), and per user its frame's
    configuration (a PMT or any object the caller gave), sequence number and metadata."""

    number: int
    symbols: np.ndarray
    configs: list
    seqs: list
    metas: list
    frame_lengths: list


class SlotFramer:
    """Per-user frame queues and the slots made from them.

    Args:
        fmt: the frame format (every user's).
        users: ``K``.
        max_queue: frames waiting per user at most (the oldest is dropped beyond).
    """

    def __init__(self, fmt: FrameFormat, users: int, max_queue: int = 8):
        if int(users) != users or users < 1:
            raise IsscInputError(f"users must be an integer >= 1, got {users!r}")
        self.fmt, self.users, self.max_queue = fmt, int(users), int(max_queue)
        self._queues = [collections.deque() for _ in range(self.users)]
        self.slots = 0
        self.dropped = 0

    def add(self, user: int, header: FrameHeader, payload, config=None, meta: dict | None = None) -> bool:
        """Frame ``payload`` for ``user`` (the header's ``user`` is set to it): bytes, or the complex symbols of
        an analog frame (a header with ``info_bits = 0``, deep JSCC); False if the user's queue was full and its
        oldest frame was dropped."""
        if not 0 <= user < self.users:
            raise IsscInputError(f"user {user} outside [0, {self.users - 1}]")
        if header.user != user:
            header = dataclasses.replace(header, user=user)
        if header.analog:
            symbols = build_analog_frame(self.fmt, header, np.asarray(payload, np.complex64))
        else:
            symbols = build_frame(self.fmt, header, payload)
        queue = self._queues[user]
        kept = True
        if len(queue) >= self.max_queue:
            queue.popleft()
            self.dropped += 1
            kept = False
        queue.append((symbols, config, header.seq, dict(meta or {})))
        return kept

    def ready(self) -> bool:
        """Every user has a frame waiting."""
        return all(self._queues)

    def queued(self) -> int:
        """Complete slots waiting."""
        return min(len(q) for q in self._queues)

    def pop(self) -> Slot | None:
        """The next slot (None until every user has a frame)."""
        if not self.ready():
            return None
        frames = [q.popleft() for q in self._queues]
        length = max(f[0].size for f in frames)
        symbols = np.zeros((self.users, length), np.complex64)
        for k, frame in enumerate(frames):
            symbols[k, : frame[0].size] = frame[0]
        slot = Slot(
            self.slots,
            symbols,
            [f[1] for f in frames],
            [f[2] for f in frames],
            [f[3] for f in frames],
            [f[0].size for f in frames],
        )
        self.slots += 1
        return slot


def classify_payload(family, model_id: str, payload: bytes) -> tuple[int, float]:
    """A semantic user's ``(class, confidence)`` from its received feature bitstream (bit errors, short or
    long payloads included: decoded best-effort, :meth:`~gnuradio.issc.semantic.family.SemanticFamily.
    decode_features`); the confidence is the class's softmax probability."""
    import torch

    from ..semantic.container import FeatureHeader

    shape = family.model(model_id).feature_shape
    header = FeatureHeader(model_id, *shape, len(payload))
    features = family.decode_features([header], [payload])
    probabilities = torch.softmax(family.logits(features, model_id).double(), dim=1)[0].numpy()
    label = int(np.argmax(probabilities))
    return label, float(probabilities[label])


# the columns of a user row and of a slot row, in order
USER_ROW_KEYS = (
    "kind",
    "slot",
    "user",
    "task",
    "weight",
    "seq",
    "received",
    "model",
    "code_rate",
    "predicted_sinr_db",
    "sinr_db",
    "bit_errors",
    "ber",
    "psnr",
    "ms_ssim",
    "label",
    "clean_class",
    "predicted_class",
    "confidence",
    "correct",
    "matches_clean",
    "task_metric",
    "distortion",
    "predicted_distortion",
)
SLOT_ROW_KEYS = (
    "kind",
    "slot",
    "users_received",
    "weighted_distortion",
    "predicted_weighted_distortion",
    "hcrb_trace_predicted",
)


@dataclass
class _UserFrame:
    slot: int
    seq: int
    payload: bytes
    info: dict
    received_payload: bytes | None = None
    received_meta: dict = field(default_factory=dict)
    image: np.ndarray | None = None  # the decoded image (data user)
    label: tuple | None = None  # (class, confidence) (semantic user)
    lost: bool = False


class MultiUserLedger:
    """Joins each user's sent frames with what its receiver delivered.

    Results may come before the frame's 'sent' record (the monitor handles its ports in no set order): they
    wait for it. A user's frame is closed when its received bitstream and its result (image or class) are in, when its
    receiver reports it lost (a truncated frame names its ``seq``), when a later frame of that user has
    closed (a frame whose header failed cannot say which it was), or at :meth:`flush`. A slot's row follows
    once all its users' rows are out. A lost frame counts with distortion 1 (MS-SSIM 0, or a wrong class).

    Args:
        tasks: the users' tasks.
        weights: the users' weights ``beta_k``.
        references: per user, ``seq -> original image`` for a data user (None: no MS-SSIM).
        out_dir: where to append ``frames.jsonl`` and write ``summary.json`` at :meth:`flush` (None: nowhere).
        on_row: called with each row (e.g. to publish it).
    """

    def __init__(self, tasks, weights, references=None, out_dir=None, on_row=None):
        self.tasks = parse_tasks(tasks)
        self.weights = [float(w) for w in weights]
        if len(self.weights) != len(self.tasks):
            raise IsscInputError(f"{len(self.tasks)} users but {len(self.weights)} weights")
        self.references = list(references) if references is not None else [None] * len(self.tasks)
        self.out_dir = Path(out_dir) if out_dir else None
        self.on_row = on_row
        self.rows = []
        self._lock = threading.RLock()
        self._frames = [dict() for _ in self.tasks]  # user -> {seq: _UserFrame}
        # what arrived for a frame before its 'sent' record (a block handles its ports in no set order)
        self._early = [dict() for _ in self.tasks]
        self._slots = {}  # slot -> {"rows": {user: row}, "predicted": ..., "hcrb": ...}
        self._totals = [collections.defaultdict(float) for _ in self.tasks]
        self._models = [collections.Counter() for _ in self.tasks]
        self._slot_totals = collections.defaultdict(float)
        self.frames_sent = [0] * len(self.tasks)
        self.other_user_headers = 0
        self.headers_failed = [0] * len(self.tasks)
        self._sensing = collections.defaultdict(float)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out_dir / "frames.jsonl", "")  # a new run starts a new table

    @property
    def users(self) -> int:
        return len(self.tasks)

    def _check_user(self, user) -> int:
        if isinstance(user, bool) or not isinstance(user, (int, np.integer)) or not 0 <= user < self.users:
            raise IsscInputError(f"user must be an integer in [0, {self.users - 1}], got {user!r}")
        return int(user)

    # -- what came in ------------------------------------------------------------------------------------
    def sent(self, user: int, seq: int, slot: int, payload: bytes, info: dict):
        """User ``user``'s frame ``seq`` went out in slot ``slot`` with ``payload``; ``info``: ``model``,
        ``code_rate``, the prediction (``sinr_db``, ``distortion``, ``weighted_distortion``, ``hcrb_trace``)
        and, for a semantic user, ``label`` and ``clean_class``."""
        user = self._check_user(user)
        with self._lock:
            frame = self._frames[user][int(seq)] = _UserFrame(int(slot), int(seq), bytes(payload), dict(info))
            for key, value in self._early[user].pop(int(seq), {}).items():
                setattr(frame, key, value)
            self.frames_sent[user] += 1
            entry = self._slots.setdefault(int(slot), {"rows": {}})
            entry.setdefault("predicted", info.get("weighted_distortion"))
            entry.setdefault("hcrb", info.get("hcrb_trace"))
            self._close_ready(user)

    def _update(self, user: int, seq: int, **values):
        """Set ``values`` on user ``user``'s frame ``seq``, or keep them until its 'sent' record comes."""
        with self._lock:
            frame = self._frames[user].get(int(seq))
            if frame is None:
                early = self._early[user]
                early.setdefault(int(seq), {}).update(values)
                while len(early) > MAX_EARLY:  # never sent (or long closed): forget the oldest
                    early.pop(min(early))
                return
            for key, value in values.items():
                setattr(frame, key, value)
            self._close_ready(user)

    def received_bits(self, user: int, seq: int, payload: bytes, meta: dict):
        self._update(self._check_user(user), seq, received_payload=bytes(payload), received_meta=dict(meta))

    def received_image(self, user: int, seq: int, image: np.ndarray):
        self._update(self._check_user(user), seq, image=np.asarray(image))

    def received_label(self, user: int, seq: int, label: int, confidence: float):
        self._update(self._check_user(user), seq, label=(int(label), float(confidence)))

    def header_failed(self, user: int, seq: int | None = None, reason: str = ""):
        """A failure at user ``user``'s receiver; with ``seq`` (a truncated frame) that frame is lost."""
        user = self._check_user(user)
        with self._lock:
            if reason.startswith("user"):
                self.other_user_headers += 1
                return
            self.headers_failed[user] += 1
            if seq is not None:
                self._update(user, seq, lost=True)

    def sensing_estimate(self, error_m: float | None):
        """A sensing estimate's position error (None: flagged by the estimator, not an error sample)."""
        with self._lock:
            self._sensing["estimates"] += 1
            if error_m is not None and math.isfinite(error_m):
                self._sensing["ok"] += 1
                self._sensing["squared"] += float(error_m) ** 2

    # -- closing -----------------------------------------------------------------------------------------
    def _complete(self, user: int, frame: _UserFrame) -> bool:
        if frame.lost:
            return True
        result = frame.image if self.tasks[user] == "data" else frame.label
        return frame.received_payload is not None and result is not None

    def _close_ready(self, user: int):
        frames = self._frames[user]
        done = [seq for seq, f in frames.items() if self._complete(user, f)]
        if not done:
            return
        latest = max(done)
        for seq in sorted(frames):
            if seq in done or seq < latest:  # an earlier frame still open now never comes
                self._close(user, frames.pop(seq))

    def flush(self) -> dict:
        """Close every open frame (lost if incomplete), write ``summary.json``; returns the summary."""
        with self._lock:
            for user in range(self.users):
                for seq in sorted(self._frames[user]):
                    self._close(user, self._frames[user].pop(seq))
            summary = self.summary()
        if self.out_dir is not None:
            atomic_write_json(self.out_dir / "summary.json", jsonable(summary))
        return summary

    def _close(self, user: int, frame: _UserFrame):
        row = self._user_row(user, frame)
        self._emit(row)
        totals = self._totals[user]
        totals["frames"] += 1
        totals["received"] += bool(row["received"])
        if row["bit_errors"] is not None:
            totals["bit_errors"] += row["bit_errors"]
            totals["bits"] += 8 * len(frame.payload)
        for key in ("sinr_db", "predicted_sinr_db", "task_metric", "code_rate", "distortion", "ms_ssim"):
            if isinstance(row[key], (int, float)) and math.isfinite(row[key]):
                totals[key + "_sum"] += row[key]
                totals[key + "_n"] += 1
        if row["model"]:
            self._models[user][row["model"]] += 1
        entry = self._slots.setdefault(frame.slot, {"rows": {}})
        entry["rows"][user] = row
        if len(entry["rows"]) == self.users:
            self._slots.pop(frame.slot)
            self._emit(self._slot_row(frame.slot, entry))

    def _user_row(self, user: int, frame: _UserFrame) -> dict:
        task, info, meta = self.tasks[user], frame.info, frame.received_meta
        received = not frame.lost and frame.received_payload is not None
        bit_errors = ber = None
        if received and frame.payload:  # an analog (deep JSCC) frame has no bits
            bit_errors, bits = bit_error_rate(frame.payload, frame.received_payload)
            ber = bit_errors / bits if bits else 0.0
        row = dict.fromkeys(USER_ROW_KEYS)
        row.update(
            kind="user",
            slot=frame.slot,
            user=user,
            task=task,
            weight=self.weights[user],
            seq=frame.seq,
            received=bool(received and (frame.image is not None or frame.label is not None)),
            model=info.get("model"),
            code_rate=info.get("code_rate"),
            predicted_sinr_db=info.get("sinr_db"),
            sinr_db=meta.get("sinr_db"),
            bit_errors=bit_errors,
            ber=ber,
            predicted_distortion=info.get("distortion"),
        )
        if task == "data":
            reference = self.references[user](frame.seq) if self.references[user] is not None else None
            metric = 0.0
            if row["received"] and reference is not None and frame.image.shape == reference.shape:
                row["psnr"] = psnr(reference, frame.image)
                try:
                    row["ms_ssim"] = metric = ms_ssim(reference, frame.image)
                except ValueError:  # too small for MS-SSIM
                    metric = None
            elif row["received"]:
                metric = None
            row["task_metric"] = metric
        else:
            row["label"], row["clean_class"] = info.get("label"), info.get("clean_class")
            if row["received"]:
                row["predicted_class"], row["confidence"] = frame.label
            # scored against the true label, as the optimiser's error rate (the model's own mistakes count); the
            # class a perfect channel gives is the link's own reference
            truth = row["label"] if row["label"] is not None else row["clean_class"]
            correct = bool(row["received"] and truth is not None and row["predicted_class"] == truth)
            row["correct"] = correct
            if row["clean_class"] is not None:
                row["matches_clean"] = bool(row["received"] and row["predicted_class"] == row["clean_class"])
            row["task_metric"] = float(correct)
        row["distortion"] = None if row["task_metric"] is None else 1.0 - row["task_metric"]
        return row

    def _slot_row(self, slot: int, entry: dict) -> dict:
        rows = entry["rows"]
        parts = [self.weights[u] * rows[u]["distortion"] for u in rows if rows[u]["distortion"] is not None]
        weighted = float(sum(parts)) if len(parts) == self.users else None
        row = dict.fromkeys(SLOT_ROW_KEYS)
        row.update(
            kind="slot",
            slot=slot,
            users_received=sum(bool(r["received"]) for r in rows.values()),
            weighted_distortion=weighted,
            predicted_weighted_distortion=entry.get("predicted"),
            hcrb_trace_predicted=entry.get("hcrb"),
        )
        if weighted is not None:
            self._slot_totals["weighted_sum"] += weighted
            self._slot_totals["weighted_n"] += 1
        if isinstance(entry.get("predicted"), (int, float)):
            self._slot_totals["predicted_sum"] += entry["predicted"]
            self._slot_totals["predicted_n"] += 1
        self._slot_totals["slots"] += 1
        return row

    def _emit(self, row: dict):
        row = jsonable(row)
        self.rows.append(row)
        if self.out_dir is not None:
            append_json_line(self.out_dir / "frames.jsonl", row)
        if self.on_row is not None:
            self.on_row(row)

    # -- the summary -------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """Per user: frames sent, closed and received, bit errors and BER, mean measured and predicted SINR,
        mean task metric (MS-SSIM or accuracy), models used, mean ``R_c``; and the mean weighted distortion
        per slot, measured and predicted."""

        def mean(totals, key):
            n = totals.get(key + "_n", 0)
            return totals[key + "_sum"] / n if n else None

        with self._lock:
            users = []
            for k, totals in enumerate(self._totals):
                bits = totals.get("bits", 0)
                users.append(
                    {
                        "user": k,
                        "task": self.tasks[k],
                        "weight": self.weights[k],
                        "frames_sent": self.frames_sent[k],
                        "frames": int(totals.get("frames", 0)),
                        "frames_received": int(totals.get("received", 0)),
                        "bit_errors": int(totals.get("bit_errors", 0)),
                        "ber": totals.get("bit_errors", 0) / bits if bits else None,
                        "sinr_db": mean(totals, "sinr_db"),
                        "predicted_sinr_db": mean(totals, "predicted_sinr_db"),
                        "task_metric": mean(totals, "task_metric"),
                        "metric_name": "ms_ssim" if self.tasks[k] == "data" else "accuracy",
                        "code_rate": mean(totals, "code_rate"),
                        "models": dict(self._models[k]),
                        "headers_failed": self.headers_failed[k],
                    }
                )
            st = self._slot_totals
            return {
                "users": users,
                "slots": int(st.get("slots", 0)),
                "weighted_distortion": st["weighted_sum"] / st["weighted_n"] if st.get("weighted_n") else None,
                "predicted_weighted_distortion": st["predicted_sum"] / st["predicted_n"]
                if st.get("predicted_n")
                else None,
                "other_user_headers": self.other_user_headers,
                "sensing_estimates": int(self._sensing.get("estimates", 0)),
                "sensing_rmse_m": math.sqrt(self._sensing["squared"] / self._sensing["ok"])
                if self._sensing.get("ok")
                else None,
                "frames_delivered": sum(u["frames_received"] for u in users),
            }
