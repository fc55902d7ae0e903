# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame decisions: beams from a solver, then the exact rate and model choice from the codec
profile. :class:`Optimizer` is what the controller block and the CLI call between frames."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..codec.profile import CodecProfile, load_profile
from ..errors import IsscInputError
from ..jsonutil import jsonable
from ..scenario import load_scenario
from ..units import lin_to_db
from .beams import BeamDesign
from .problem import DesignProblem
from .rate import choose_model
from .sdr import SdrBeamSolver
from .zfwf import ZfWfBeamSolver


def solver_classes() -> dict:
    from .paper_ao import PaperAoBeamSolver

    return {"sdr": SdrBeamSolver, "paper": PaperAoBeamSolver, "zf-wf": ZfWfBeamSolver}


SOLVER_NAMES = ("sdr", "paper", "zf-wf")


@dataclass
class FrameDecision:
    """One frame configuration and what the models predict for it."""

    feasible: bool
    reason: str
    solver: str
    model: str
    r_s_bits: float
    code_rate: float
    info_bits_per_block: int
    sinr: float
    log10_ber: float
    distortion: float
    metric: str
    hcrb_trace: float
    power_w: float
    w_c: np.ndarray
    w_0: np.ndarray
    bound_sinr: float | None
    solve_ms: float
    predictions: dict = field(default_factory=dict)
    beam_info: dict = field(default_factory=dict)

    @property
    def sinr_db(self) -> float:
        return float(lin_to_db(self.sinr)) if self.sinr > 0 else float("-inf")

    def to_json(self) -> dict:
        """The ``issc optimize --json`` object (non-finite numbers become null)."""
        return jsonable(
            {
                "feasible": self.feasible,
                "reason": self.reason,
                "solver": self.solver,
                "model": self.model,
                "R_s": self.r_s_bits,
                "R_c": self.code_rate,
                "info_bits_per_block": self.info_bits_per_block,
                "sinr_db": self.sinr_db,
                "log10_ber": self.log10_ber,
                "distortion": self.distortion,
                "metric": self.metric,
                **self.predictions,
                "hcrb_trace": self.hcrb_trace,
                "power_w": self.power_w,
                "w_c": {"re": self.w_c.real.tolist(), "im": self.w_c.imag.tolist()},
                "W_0": {"re": self.w_0.real.tolist(), "im": self.w_0.imag.tolist()},
                "bound_sinr_db": None if self.bound_sinr is None else float(lin_to_db(self.bound_sinr)),
                "solve_ms": self.solve_ms,
            }
        )


class Optimizer:
    """Frame decisions for one scenario and codec profile, with solvers compiled once.

    Args:
        scenario: name, path or Scenario.
        profile: CodecProfile, path, or None for the shipped profile.
        solver: ``sdr`` (exact, default), ``paper`` (the paper's AO) or ``zf-wf`` (the benchmark's beams).
        metric: distortion metric of the profile to minimise (``mse`` or ``ms_ssim``).
        ber_model: ``normal`` (finite-blocklength approximation) or ``calibrated`` (the measured table of
            the link's polar code, :mod:`gnuradio.issc.link.calibration`).
        calibration: calibration table path for ``calibrated`` (None: the shipped one).
    """

    def __init__(
        self,
        scenario,
        profile=None,
        solver: str = "sdr",
        metric: str = "mse",
        ber_model: str = "normal",
        calibration=None,
    ):
        self.scenario = load_scenario(scenario)
        self.profile = profile if isinstance(profile, CodecProfile) else load_profile(profile)
        classes = solver_classes()
        if solver not in classes:
            raise IsscInputError(f"unknown solver '{solver}' (choose from {', '.join(SOLVER_NAMES)})")
        if metric not in self.profile.metrics:
            raise IsscInputError(f"metric '{metric}' is not in the profile (has: {', '.join(self.profile.metrics)})")
        self.solver_name = solver
        self.beam_solver = classes[solver]()
        self.metric = metric
        from ..link.calibration import ber_model as make_ber_model

        self.ber_model_name = ber_model
        self.ber = make_ber_model(ber_model, calibration)
        if ber_model == "calibrated" and self.ber.blocklength != self.scenario.signal.blocklength:
            raise IsscInputError(
                f"the code calibration is for L = {self.ber.blocklength}, the scenario has "
                f"L = {self.scenario.signal.blocklength}"
            )

    def problem(
        self, power_dbm=None, hcrb_threshold_m2=None, abr=None, sensing_streams=None, target=None
    ) -> DesignProblem:
        return DesignProblem.from_scenario(
            self.scenario, power_dbm, hcrb_threshold_m2, abr, sensing_streams, self.profile.source_dimensions, target
        )

    def decide(
        self,
        power_dbm=None,
        hcrb_threshold_m2=None,
        abr=None,
        sensing_streams=None,
        target=None,
        widen_sensing_antennas: int = 0,
    ) -> FrameDecision:
        """One frame decision; arguments left at None take the scenario's budget values.

        ``target`` is the position the beams are designed for; ``widen_sensing_antennas`` > 0 replaces the
        designed sensing beam by the wider sub-array beam of that many antennas (a lost track)."""
        problem = self.problem(power_dbm, hcrb_threshold_m2, abr, sensing_streams, target)
        return self.decide_problem(problem, widen_sensing_antennas)

    def decide_problem(self, problem: DesignProblem, widen_sensing_antennas: int = 0) -> FrameDecision:
        start = time.perf_counter()
        beams = self.design_beams(problem, widen_sensing_antennas)
        decision = self._source_decision(problem, beams)
        decision.predictions["crb_trace"] = problem.fisher.crb_trace(problem.covariance(beams.w_c, beams.w_0))
        decision.solve_ms = 1e3 * (time.perf_counter() - start)
        return decision

    def design_beams(self, problem: DesignProblem, widen_sensing_antennas: int = 0) -> BeamDesign:
        """The solver's beams (an emergency MRT design if the solver raises), widened if asked."""
        try:
            beams = self.beam_solver.design(problem)
        except Exception as exc:  # a solver bug must not stall the link: report and fall back
            beams = _emergency_design(problem, f"{self.solver_name} solver raised {type(exc).__name__}: {exc}")
        if widen_sensing_antennas:
            from .beams import widened_sensing_design

            beams = widened_sensing_design(problem, beams, int(widen_sensing_antennas))
        return beams

    def _source_decision(self, problem: DesignProblem, beams: BeamDesign) -> FrameDecision:
        """The codec model and code rate for the beams' SINR (ASCC: the exact choice over the profile)."""
        choice, _ = choose_model(
            self.profile,
            beams.sinr,
            problem.channel_use_budget,
            problem.blocklength,
            problem.max_code_rate,
            self.metric,
            self.ber,
        )
        feasible = beams.feasible and choice.feasible
        reasons = [
            r
            for r in (
                beams.reason,
                "" if choice.feasible else f"no codec model fits: the most robust one ({choice.model}) {choice.reason}",
            )
            if r
        ]
        info_bits = int(np.ceil(choice.code_rate * problem.blocklength - 1e-9))
        return FrameDecision(
            feasible=feasible,
            reason="; ".join(reasons),
            solver=self.solver_name,
            model=choice.model,
            r_s_bits=choice.r_s_bits,
            code_rate=choice.code_rate,
            info_bits_per_block=info_bits,
            sinr=beams.sinr,
            log10_ber=choice.log10_ber,
            distortion=float(10.0**choice.log10_distortion),
            metric=self.metric,
            hcrb_trace=beams.hcrb_trace,
            power_w=beams.power_w,
            w_c=beams.w_c,
            w_0=beams.w_0,
            bound_sinr=beams.bound_sinr,
            solve_ms=0.0,
            predictions=self._predictions(choice.model, choice.log10_ber),
            beam_info=beams.info,
        )

    def _predictions(self, model_id: str, log10_ber: float) -> dict:
        model = self.profile.model(model_id)
        out = {}
        if "ms_ssim" in model.fits:
            out["predicted_ms_ssim"] = float(1.0 - 10.0 ** model.log10_distortion(log10_ber, "ms_ssim"))
        if "mse" in model.fits:
            out["predicted_psnr_db"] = float(-10.0 * model.log10_distortion(log10_ber, "mse"))
        return out


def _emergency_design(problem: DesignProblem, reason: str) -> BeamDesign:
    from .beams import mrt_design

    design = mrt_design(problem, "emergency")
    design.feasible = False
    design.reason = reason + "; fallback: MRT"
    return design
