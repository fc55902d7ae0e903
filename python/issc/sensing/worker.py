# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MAP estimator in a process of its own, so that it runs beside a flowgraph instead of inside it.

Inside a GNU Radio flowgraph every Python block shares one interpreter lock: the estimator's many small
NumPy calls (about 2 ms a block, mostly call overhead) then hold up the codec, polar and monitor threads,
and on two cores the link used 1.4 of them. :class:`EstimatorProcess` runs a copy of a
:class:`~gnuradio.issc.sensing.estimator.TargetEstimator` in a child Python process
(:class:`~gnuradio.issc.service_process.ServiceProcess`). A call blocks the calling thread, with the lock
released, until the child answers: the streaming estimator keeps its order and its results (they are the
same numbers: the child runs the same code on the same samples).

A child that dies or does not answer within ``timeout_s`` raises :class:`EstimatorProcessError`; the
streaming estimator then goes on in-process (no block is lost).
"""

from __future__ import annotations

import numpy as np

from ..service_process import ServiceProcess, ServiceProcessError
from .estimator import SensingEstimate, TargetEstimator


class EstimatorProcessError(ServiceProcessError):
    """The estimator's child process failed, died or did not answer."""


class BlockEstimation:
    """The child's service: one block's :func:`evaluate_block` with a copy of ``estimator``.

    Args:
        estimator: the estimator.
    """

    def __init__(self, estimator: TargetEstimator):
        self.estimator = estimator

    def __call__(self, request: tuple):
        return evaluate_block(self.estimator, *request)


class EstimatorProcess(ServiceProcess):
    """A child process that estimates blocks with a copy of ``estimator``.

    Args:
        estimator: the estimator to copy (pickled once, at start).
        timeout_s: longest wait for one answer (a block takes milliseconds; the first call also waits for
            the child's imports, about a second).
    """

    error = EstimatorProcessError

    def __init__(self, estimator: TargetEstimator, timeout_s: float = 30.0):
        super().__init__(BlockEstimation(estimator), "estimator", timeout_s)

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
        up to ``window`` requests in the pipe at once (:meth:`ServiceProcess.call_many`).

        Raises:
            EstimatorProcessError: the child died, failed or did not answer within ``timeout_s``.
        """
        return self.call_many(
            [(echo, reference, int(start), centre, truth) for echo, reference, start, centre, truth in requests], window
        )


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
