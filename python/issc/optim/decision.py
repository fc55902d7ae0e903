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
from .rate import DEFAULT_SINR_SIGMA_DB, BurstAwareBer, choose_model, link_error_model
from .rate import _choice as _fixed_rate_choice
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
        distortion_model: ``burst`` (a failed codeword loses the rest of the stream: the frame's expected
            distortion from the calibrated block error rate and the profile's burst curves, averaged over the
            SINR spread, :mod:`.rate`) or ``ber`` (the eq. 7 profile at the scattered BER). None: ``burst``
            with the calibrated code and a profile that has burst curves, else ``ber``.
        sinr_sigma_db: ``burst``: the frame's SINR spread around the prediction (dB).
        sensing_surplus: with the ``sdr`` solver, the second stage (optim/surplus.py): keep the chosen model
            and rate, and minimise ``tr HCRB`` subject to the SINR they need for the same predicted
            quality (within ``surplus.REL_TOL``). The other solvers ignore it (``paper`` is the paper's
            algorithm, ``zf-wf`` the benchmark's beams).
    """

    def __init__(
        self,
        scenario,
        profile=None,
        solver: str = "sdr",
        metric: str = "mse",
        ber_model: str = "normal",
        calibration=None,
        distortion_model: str | None = None,
        sinr_sigma_db: float = DEFAULT_SINR_SIGMA_DB,
        sensing_surplus: bool = True,
    ):
        self.scenario = load_scenario(scenario)
        self.sensing_surplus = bool(sensing_surplus)
        self._surplus_solver = None  # surplus.SurplusSolver, compiled on first use
        self.profile = profile if isinstance(profile, CodecProfile) else load_profile(profile)
        classes = solver_classes()
        if solver not in classes:
            raise IsscInputError(f"unknown solver '{solver}' (choose from {', '.join(SOLVER_NAMES)})")
        if metric not in self.profile.metrics:
            raise IsscInputError(f"metric '{metric}' is not in the profile (has: {', '.join(self.profile.metrics)})")
        self.solver_name = solver
        self.beam_solver = classes[solver]()
        self.metric = metric
        self.ber_model_name = ber_model
        self.ber, self.distortion_model = link_error_model(
            ber_model, calibration, self.scenario.signal.blocklength, distortion_model, self.profile, sinr_sigma_db
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
        if self.sensing_surplus and self.solver_name == "sdr" and not widen_sensing_antennas:
            decision = self._sensing_surplus(problem, beams, decision)
        decision.predictions["crb_trace"] = problem.fisher.crb_trace(problem.covariance(decision.w_c, decision.w_0))
        decision.solve_ms = 1e3 * (time.perf_counter() - start)
        return decision

    def fixed_choice(self, problem: DesignProblem, model_id: str, code_rate: float, sinr: float):
        """The rate module's :class:`~gnuradio.issc.optim.rate.RateChoice` of ``model_id`` at ``code_rate`` and
        SINR ``sinr`` (linear): the second stage's prediction at its lower SINR. It must be the prediction
        :meth:`_source_decision` minimises (with whatever SINR margin that builds in)."""
        model = self.profile.model(model_id)
        return _fixed_rate_choice(model, code_rate, sinr, problem.blocklength, self.metric, self.ber)

    def fixed_choice_distortion(self, problem: DesignProblem, model_id: str, code_rate: float):
        """:meth:`fixed_choice`'s predicted distortion (linear, the optimiser's metric) as a function of the
        SINR (linear): what the second stage keeps within ``surplus.REL_TOL`` while it lowers the SINR."""

        def distortion(sinr: float) -> float:
            return float(10.0 ** self.fixed_choice(problem, model_id, code_rate, sinr).log10_distortion)

        return distortion

    def _sensing_surplus(self, problem: DesignProblem, beams: BeamDesign, decision: FrameDecision) -> FrameDecision:
        """Second stage of the ``sdr`` decision (optim/surplus.py): the same model and rate at the least SINR
        that keeps their predicted distortion within ``REL_TOL`` of ``decision``'s, and the beams with the
        least ``tr HCRB`` at that SINR. ``decision`` is returned unchanged (plus the stage-1 numbers) when
        the decision is infeasible, or stage 2 fails a check or gains nothing."""
        from dataclasses import replace

        from .surplus import REL_TOL, SurplusSolver, required_sinr

        surplus = {"sensing_surplus": False, "stage1_hcrb_trace": beams.hcrb_trace, "stage1_sinr_db": beams.sinr_db}
        if not decision.feasible or not decision.code_rate > 0:  # (an analog DJSCC decision has no code rate)
            decision.predictions.update(surplus)
            return decision
        try:
            distortion = self.fixed_choice_distortion(problem, decision.model, decision.code_rate)
            sinr_required = required_sinr(distortion, beams.sinr, REL_TOL)
            surplus["required_sinr_db"] = float(lin_to_db(sinr_required)) if sinr_required > 0 else float("nan")
            if self._surplus_solver is None:
                self._surplus_solver = SurplusSolver()
            stage2 = self._surplus_solver.design(problem, beams, sinr_required)
        except Exception as exc:  # a bug in the second stage must not stall the link: keep stage 1
            beams.info["surplus"] = {"applied": False, "why": f"stage 2 raised {type(exc).__name__}: {exc}"}
            stage2 = beams
        if stage2 is beams:
            decision.predictions.update(surplus)
            return decision
        choice = self.fixed_choice(problem, decision.model, decision.code_rate, stage2.sinr)
        distortion_2 = float(10.0**choice.log10_distortion)
        if not distortion_2 <= decision.distortion * (1 + REL_TOL) * (1 + 1e-9):
            beams.info["surplus"] = dict(stage2.info.get("surplus", {}), applied=False, why="quality check failed")
            decision.predictions.update(surplus)
            return decision
        surplus["sensing_surplus"] = True
        return replace(
            decision,
            sinr=stage2.sinr,
            log10_ber=choice.log10_ber,
            distortion=distortion_2,
            hcrb_trace=stage2.hcrb_trace,
            power_w=stage2.power_w,
            w_c=stage2.w_c,
            w_0=stage2.w_0,
            predictions={
                **self._predictions(decision.model, choice.log10_ber, decision.code_rate, stage2.sinr),
                **surplus,
            },
            beam_info=stage2.info,
        )

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
            predictions=self._predictions(choice.model, choice.log10_ber, choice.code_rate, beams.sinr),
            beam_info=beams.info,
        )

    def _predictions(self, model_id: str, log10_ber: float, code_rate=None, sinr=None) -> dict:
        """Predicted MS-SSIM and PSNR of the model: the burst-aware expectations at ``code_rate`` and ``sinr``
        (linear) under the ``burst`` distortion model (with ``predicted_frame_error``), else the eq. 7
        profile at ``log10_ber``."""
        model = self.profile.model(model_id)
        out = {}
        burst = isinstance(self.ber, BurstAwareBer) and code_rate is not None and sinr is not None
        for metric in ("ms_ssim", "mse"):
            if metric not in model.fits:
                continue
            expected = self.ber.expected(model, metric, sinr, code_rate) if burst else None
            if expected is not None:
                log_d = float(np.log10(max(float(expected[0]), 1e-300)))
                out["predicted_frame_error"] = float(expected[1])
            else:
                log_d = float(model.log10_distortion(log10_ber, metric))
            if metric == "ms_ssim":
                out["predicted_ms_ssim"] = float(1.0 - 10.0**log_d)
            else:
                out["predicted_psnr_db"] = float(-10.0 * log_d)
        return out


def _emergency_design(problem: DesignProblem, reason: str) -> BeamDesign:
    from .beams import mrt_design

    design = mrt_design(problem, "emergency")
    design.feasible = False
    design.reason = reason + "; fallback: MRT"
    return design
