# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ASCC optimiser (docs/model.md §7): beam solvers (``sdr`` exact, ``paper`` AO, ``zf-wf``
benchmark), the exact per-model code-rate choice, and frame decisions. Needs CVXPY."""

from .decision import SOLVER_NAMES, FrameDecision, Optimizer
from .problem import DesignProblem

__all__ = ["FrameDecision", "Optimizer", "SOLVER_NAMES", "DesignProblem"]
