# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Streaming sensing: per-block estimates from the reference and echo streams, in chunks of any size.

:class:`StreamingEstimator` is the sensing estimator block's core, without GNU Radio types: NumPy chunks
in, report dicts out. It decides which blocks to estimate (one in ``every``), keeps the reference history
the estimate of the next block needs, names the frame on the air at each block's start (from the frame
starts the transmitter tagged), takes each block's truth from the echo channel's tags, and centres the
search region on the latest track's prediction. Every estimate sees exactly ``history`` reference
samples before its block (zeros before the stream began), so the reports do not depend on how the
streams were cut into chunks.
"""

from __future__ import annotations

import numpy as np

from ..errors import IsscInputError
from ..physics.channels import EchoChannel
from ..physics.motion import scenario_trajectory
from ..scenario import load_scenario
from ..service_process import UsesServiceProcess
from ..units import SPEED_OF_LIGHT
from .estimator import TargetEstimator
from .policy import TrackState
from .worker import EstimatorProcess, EstimatorProcessError, evaluate_block

ECHO_TAG = "issc_echo"
"""Stream tag key on the first sample of each sensing block of the echo channel's outputs; its value is
``{block, delay_s, sync_error_s, nominal_delay_s, target_x, target_y}`` (the block's truth)."""


class StreamingEstimator(UsesServiceProcess):
    """Estimates one sensing block in ``every`` from the reference and echo streams, in chunks.

    Feed each chunk's frame starts (:meth:`frame_started`) and echo tags (:meth:`echo_tag`) before the
    chunk itself (:meth:`process`), which returns the reports of the blocks the chunk completes, as
    dicts: ``seq`` (the frame on the air at the block start, -1 before the first frame start), ``block``,
    ``ok``, ``glrt``, ``hcrb_trace``, ``centre_x``, ``centre_y``; with an estimate ``x``, ``y``,
    ``sync_error_m``, ``error_m`` (distance to the true position, or to the scenario's target without
    truth), without one ``reason``; with the block's truth ``true_x``, ``true_y``, ``true_sync_error_m``
    and ``hcrb_trace_true``. Non-finite values are left out of a report.

    Args:
        estimator: the per-block estimator (its geometry's target is the default search centre and the
            default truth).
        block: sensing block length ``N``, samples.
        every: estimate one block in ``every``.
        block_interval_s: target time per block (a track's prediction for block ``b`` is at
            ``b * block_interval_s``).
        history: reference samples each estimate gets before its block (default: what the estimator
            needs around its geometry's target, :meth:`TargetEstimator.required_history`).
    """

    def __init__(
        self,
        estimator: TargetEstimator,
        block: int,
        every: int = 1,
        block_interval_s: float = 0.0,
        history: int | None = None,
    ):
        if int(block) != block or block < 1:
            raise IsscInputError(f"sensing block must be an integer >= 1, got {block!r}")
        if int(every) != every or every < 1:
            raise IsscInputError(f"every must be an integer >= 1, got {every!r}")
        self.estimator = estimator
        self.block = int(block)
        self.every = int(every)
        self.block_interval_s = float(block_interval_s)
        self.history = estimator.required_history() if history is None else int(history)
        self.target = np.asarray(estimator.geometry.target, float)
        self.n_tx, self.n_rx = estimator.geometry.n_tx, estimator.geometry.n_rx
        self.track: TrackState | None = None
        self._reference = np.zeros((self.n_tx, 0), np.complex128)
        self._echo = np.zeros((self.n_rx, 0), np.complex128)
        self._base = 0  # absolute index of column 0 of the buffers
        self._truth = {}  # block -> (true sync error s, true position)
        self._frame_starts = []  # (offset, seq) of frame starts not yet behind the estimates
        self._last_done = -1
        self.estimates = 0
        self.samples_seen = 0
        self.process_estimates = 0  # of `estimates`, those the child process made

    def _new_process(self, timeout_s: float) -> EstimatorProcess:
        return EstimatorProcess(self.estimator, timeout_s)

    @classmethod
    def from_scenario(cls, scenario, every: int = 4, search_halfwidth_m: float = 20.0) -> StreamingEstimator:
        """The estimator of a scenario: its geometry, noise, sync prior and block length, the echo
        channel's delay filter, and a history long enough for a search region anywhere on the target's
        path (the region moves with the track)."""
        scn = load_scenario(scenario)
        half_taps = EchoChannel.from_scenario(scn).half_taps
        estimator = TargetEstimator.from_scenario(
            scn, search_halfwidth_m=float(search_halfwidth_m), half_taps=half_taps
        )
        path = scenario_trajectory(scn).waypoints
        history = max(estimator.required_history(p) for p in path) + int(
            np.ceil(2 * estimator.halfwidth * estimator.samples_per_metre)
        ) * (len(path) > 1)
        return cls(estimator, scn.signal.sensing_block, every, scn.block_interval_s(), history)

    # -- side information -------------------------------------------------------------------------------
    def frame_started(self, offset: int, seq: int) -> None:
        """Frame ``seq`` starts at absolute sample ``offset`` of the reference."""
        self._frame_starts.append((int(offset), int(seq)))

    def echo_tag(self, info: dict) -> None:
        """An echo tag's value (:data:`ECHO_TAG`): the truth of its block.

        Raises:
            IsscInputError: no integer ``block`` or no real ``sync_error_s``, or a non-real position.
        """
        block, sync_error_s = info.get("block"), info.get("sync_error_s")
        position = [info.get("target_x", self.target[0]), info.get("target_y", self.target[1])]
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
            raise IsscInputError(f"echo tag needs an integer 'block', got {block!r}")
        if not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in [sync_error_s] + position
        ):
            raise IsscInputError("echo tag needs a real 'sync_error_s' and real 'target_x', 'target_y'")
        self._truth[int(block)] = (float(sync_error_s), np.array(position, float))

    def set_track(self, track: TrackState | None) -> None:
        """Centre the following searches on ``track``'s prediction (None: on the scenario's target)."""
        self.track = track

    def search_centre(self, block: int) -> np.ndarray:
        """The search region's centre for ``block``: the track's prediction for the block's time, else
        the estimator's target."""
        track = self.track
        if track is None:
            return self.target
        return track.position_at(block * self.block_interval_s)

    # -- streaming --------------------------------------------------------------------------------------
    def next_block(self) -> int:
        """The next block to estimate."""
        block = self._last_done + 1
        return block + (-block) % self.every

    def process(self, reference: np.ndarray, echo: np.ndarray) -> list[dict]:
        """Take the next chunk (``N_T x n`` reference, ``N_R x n`` echo, sample-aligned); returns the
        reports of the blocks it completes, in block order."""
        reference, echo = np.asarray(reference), np.asarray(echo)
        if (
            reference.ndim != 2
            or echo.ndim != 2
            or reference.shape[0] != self.n_tx
            or echo.shape[0] != self.n_rx
            or reference.shape[1] != echo.shape[1]
        ):
            raise IsscInputError(
                f"a chunk must be {self.n_tx} x n reference and {self.n_rx} x n echo samples, "
                f"got {reference.shape} and {echo.shape}"
            )
        self._reference = np.concatenate([self._reference, reference], axis=1)
        self._echo = np.concatenate([self._echo, echo], axis=1)
        end = self._base + self._reference.shape[1]
        blocks = []
        while (self.next_block() + 1) * self.block <= end:
            blocks.append(self.next_block())
            self._last_done = blocks[-1]
        reports = self._estimate_blocks(blocks)
        self.samples_seen = end
        # keep what the next estimate needs: its block and the reference history before it
        keep_from = min(max(self.next_block() * self.block - self.history, self._base), end)
        count = keep_from - self._base
        self._reference, self._echo = self._reference[:, count:], self._echo[:, count:]
        self._base = keep_from
        return reports

    def _frame_at(self, start: int) -> int:
        """The latest frame that began at or before sample ``start`` (-1 if none); forgets older ones."""
        started = [(offset, seq) for offset, seq in self._frame_starts if offset <= start]
        seq = max(started)[1] if started else -1
        self._frame_starts = [(o, s) for o, s in self._frame_starts if o > start] + ([(start, seq)] if seq >= 0 else [])
        return seq

    def _request(self, block: int) -> tuple:
        """Block ``block``'s estimator input: ``(echo, reference, block_start, centre, true_position or
        None)``, with exactly ``history`` reference samples before the block (zeros before the stream
        began: nothing was sent)."""
        start = block * self.block
        col = start - self._base
        echo = self._echo[:, col : col + self.block]
        first = col - self.history
        reference = self._reference[:, max(first, 0) : col + self.block]
        if first < 0:
            reference = np.concatenate([np.zeros((self.n_tx, -first)), reference], axis=1)
        truth = self._truth.get(block)
        return echo, reference, self.history, self.search_centre(block), None if truth is None else truth[1]

    def _evaluate(self, requests: list[tuple]) -> list[tuple]:
        """The blocks' estimates and the HCRB at their truths: in the child process when there is one (a
        failed child is closed and the estimation goes on here, the failure kept in ``worker_failure``)."""
        if self.worker is not None and requests:
            try:
                answers = self.worker.evaluate_many(requests)
                self.process_estimates += len(answers)
                return answers
            except EstimatorProcessError as exc:
                self._process_failed(exc)
        return [evaluate_block(self.estimator, *request) for request in requests]

    def _estimate_blocks(self, blocks: list[int]) -> list[dict]:
        requests = [self._request(block) for block in blocks]
        return [
            self._report(block, request, answer)
            for block, request, answer in zip(blocks, requests, self._evaluate(requests))
        ]

    def _report(self, block: int, request: tuple, answer: tuple) -> dict:
        _, _, _, centre, _ = request
        result, hcrb_true = answer
        report = {
            "seq": self._frame_at(block * self.block),
            "block": block,
            "ok": bool(result.ok and result.position is not None),
            "glrt": result.glrt,
            "hcrb_trace": result.hcrb_trace,
            "centre_x": float(centre[0]),
            "centre_y": float(centre[1]),
        }
        true_position = self.target
        truth = self._truth.pop(block, None)
        if truth is not None:
            true_position = truth[1]
            report.update(
                true_sync_error_m=truth[0] * SPEED_OF_LIGHT,
                true_x=float(true_position[0]),
                true_y=float(true_position[1]),
            )
            if hcrb_true is not None:
                report["hcrb_trace_true"] = hcrb_true
        if result.position is not None:
            report.update(
                x=float(result.position[0]),
                y=float(result.position[1]),
                sync_error_m=float(result.sync_error_m),
                error_m=float(np.linalg.norm(result.position - true_position)),
            )
        else:
            report["reason"] = result.reason
        for old in [b for b in self._truth if b < block]:
            del self._truth[old]
        self.estimates += 1
        return {k: v for k, v in report.items() if not (isinstance(v, float) and not np.isfinite(v))}
