# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MAP estimator in a process of its own, so that it runs beside a flowgraph instead of inside it.

Inside a GNU Radio flowgraph every Python block shares one interpreter lock: the estimator's many small
NumPy calls (about 2 ms a block, mostly call overhead) then hold up the codec, polar and monitor threads,
and on two cores the link used 1.4 of them. :class:`EstimatorProcess` runs a copy of a
:class:`~gnuradio.issc.sensing.estimator.TargetEstimator` in a child Python process (a plain
``subprocess``, so nothing of the parent, GNU Radio's threads included, is forked) and talks to it over
two pipes with :mod:`multiprocessing.connection`'s framed pickles. A call blocks the calling thread, with
the lock released, until the child answers: the streaming estimator keeps its order and its results
(they are the same numbers: the child runs the same code on the same samples).

A child that dies or does not answer within ``timeout_s`` raises :class:`EstimatorProcessError`; the
streaming estimator then goes on in-process (no block is lost).
"""

from __future__ import annotations

import os
import subprocess
import sys
from multiprocessing.connection import Connection

import numpy as np

from ..parallel import keep_freed_memory, one_thread_env, package_parent
from .estimator import SensingEstimate, TargetEstimator

_BOOTSTRAP = (
    "import sys, gnuradio\n"
    "if sys.argv[1] not in gnuradio.__path__:\n"
    "    gnuradio.__path__.insert(0, sys.argv[1])\n"
    "from gnuradio.issc.sensing.worker import serve\n"
    "serve(int(sys.argv[2]), int(sys.argv[3]))\n"
)


class EstimatorProcessError(RuntimeError):
    """The estimator's child process failed, died or did not answer."""


class EstimatorProcess:
    """A child process that estimates blocks with a copy of ``estimator``.

    Args:
        estimator: the estimator to copy (pickled once, at start).
        timeout_s: longest wait for one answer (a block takes milliseconds; the first call also waits for
            the child's imports, about a second).
    """

    def __init__(self, estimator: TargetEstimator, timeout_s: float = 30.0):
        self.timeout_s = float(timeout_s)
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, package_parent(), str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env={**os.environ, **one_thread_env()},  # the estimator's products are small
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        self._send.send(estimator)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def evaluate(
        self, echo: np.ndarray, reference: np.ndarray, block_start: int, centre, true_position=None
    ) -> tuple[SensingEstimate, float | None]:
        """``(estimate, hcrb_trace at true_position or None)`` for one block, as
        :meth:`TargetEstimator.estimate` and :meth:`TargetEstimator.hcrb_trace_at` would give them here.

        Raises:
            EstimatorProcessError: the child died, failed or did not answer within ``timeout_s``.
        """
        return self.evaluate_many([(echo, reference, block_start, centre, true_position)])[0]

    def evaluate_many(self, requests: list[tuple], window: int = 8) -> list[tuple[SensingEstimate, float | None]]:
        """:meth:`evaluate` for each ``(echo, reference, block_start, centre, true_position)``, in order, with
        up to ``window`` requests in the pipe at once: the child goes from one block to the next without
        waiting for this process to wake up and send it (a round trip per block cost more than the
        estimate on a busy machine), and its answers never fill their pipe.

        Raises:
            EstimatorProcessError: the child died, failed or did not answer within ``timeout_s``.
        """
        if not self.alive:
            raise EstimatorProcessError("the estimator process is not running")
        answers = []
        sent = 0
        try:
            while len(answers) < len(requests):
                while sent < len(requests) and sent - len(answers) < window:
                    echo, reference, block_start, centre, true_position = requests[sent]
                    self._send.send((echo, reference, int(block_start), centre, true_position))
                    sent += 1
                if not self._recv.poll(self.timeout_s):
                    raise EstimatorProcessError(f"the estimator process did not answer within {self.timeout_s:g} s")
                answers.append(self._recv.recv())
        except (OSError, EOFError) as exc:
            raise EstimatorProcessError(f"the estimator process is gone ({exc})") from None
        errors = [a for a in answers if isinstance(a, str)]  # the child's error messages
        if errors:
            raise EstimatorProcessError(errors[0])
        return answers

    def close(self) -> None:
        """Stop the child (it exits when its input closes); idempotent."""
        if self._process is None:
            return
        for conn in (self._send, self._recv):
            conn.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to do
            pass


def evaluate_block(estimator: TargetEstimator, echo, reference, block_start, centre, true_position=None):
    """One block's ``(estimate, hcrb_trace at true_position or None)``, in this process: what the child
    computes (the HCRB at the truth only for finite samples of the block)."""
    result = estimator.estimate(echo, reference, block_start, centre=centre)
    hcrb_true = None
    if true_position is not None:
        block_reference = np.asarray(reference)[:, block_start : block_start + np.asarray(echo).shape[1]]
        if np.all(np.isfinite(block_reference)):
            hcrb_true = estimator.hcrb_trace_at(true_position, block_reference)
    return result, hcrb_true


def serve(fd_in: int, fd_out: int) -> None:
    """The child's loop: the estimator first, then one answer per block until the parent closes the pipe."""
    keep_freed_memory()  # each request's arrays are new: without it 320 page faults a block (+30 % time)
    receive, send = Connection(fd_in, writable=False), Connection(fd_out, readable=False)
    try:
        estimator = receive.recv()
    except EOFError:
        return
    while True:
        try:
            request = receive.recv()
        except EOFError:
            return
        try:
            answer = evaluate_block(estimator, *request)
        except Exception as exc:  # reported to the parent, which goes on in-process
            answer = f"estimator process: {type(exc).__name__}: {exc}"
        send.send(answer)
