"""The ASCC optimiser (docs/model.md §7): beam solvers (``sdr`` exact, ``paper`` AO, ``zf-wf``
benchmark), the exact per-model code-rate choice, and frame decisions. Needs CVXPY."""
from .decision import FrameDecision, Optimizer, SOLVER_NAMES
from .problem import DesignProblem

__all__ = ["FrameDecision", "Optimizer", "SOLVER_NAMES", "DesignProblem"]
