# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame decisions of the deep JSCC benchmark (docs/model.md §8): the beams of a solver (``zf-wf`` for
DJSCC-WF-ZF), then the DJSCC model of the frame's ABR and training loss (AE by default; VAE and VSCC,
docs/vscc.md) trained at the SNR nearest the predicted SINR.
There is no rate to adapt: the model maps the image straight to its ``ABR * 3 H W`` channel symbols."""

from __future__ import annotations

import math

from ..djscc.models import DATA_DIR, LOSSES, load_manifest, select_model
from ..errors import IsscInputError
from ..units import lin_to_db
from .beams import BeamDesign
from .decision import FrameDecision, Optimizer
from .problem import DesignProblem


class DjsccOptimizer(Optimizer):
    """Decisions for the DJSCC benchmark, with the same interface as :class:`Optimizer`.

    The prediction of a frame's quality is the model's held-out AWGN evaluation (manifest) interpolated
    at the predicted SINR; ``distortion`` is ``1 - MS-SSIM`` of that prediction.

    Args:
        scenario: name, path or Scenario.
        djscc_dir: DJSCC model directory (None for the shipped models).
        solver: beam solver (``zf-wf``, the benchmark's, by default).
        loss: only models trained with this loss: 'ae' (default), 'vae' or 'vscc' (the best ``d`` per
            training SNR; shipped at ABR 1/16 only); None: any the link may pick.
        profile: the ASCC codec profile, for the source dimensions (None: the shipped one).
    """

    def __init__(self, scenario, djscc_dir=None, solver: str = "zf-wf", loss: str | None = "ae", profile=None):
        super().__init__(scenario, profile, solver=solver, metric="ms_ssim", ber_model="normal")
        if loss is not None and loss not in LOSSES:
            raise IsscInputError(f"DJSCC loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.models = load_manifest(djscc_dir or DATA_DIR)
        self.loss = loss
        if not self.models:
            raise IsscInputError(f"no DJSCC models in '{djscc_dir or DATA_DIR}'")
        if loss is not None and not any(m.loss == loss and m.link for m in self.models):
            raise IsscInputError(f"no DJSCC model trained with the {loss} loss in '{djscc_dir or DATA_DIR}'")

    def _source_decision(self, problem: DesignProblem, beams: BeamDesign) -> FrameDecision:
        sinr_db = float(lin_to_db(beams.sinr)) if beams.sinr > 0 else -math.inf
        model = select_model(self.models, problem.abr, sinr_db if math.isfinite(sinr_db) else -100.0, self.loss)
        predictions = model.predicted_quality(sinr_db if math.isfinite(sinr_db) else -100.0)
        distortion = 1.0 - predictions["predicted_ms_ssim"] if predictions else math.nan
        return FrameDecision(
            feasible=beams.feasible,
            reason=beams.reason,
            solver=self.solver_name,
            model=model.id,
            r_s_bits=0.0,
            code_rate=0.0,
            info_bits_per_block=0,
            sinr=beams.sinr,
            log10_ber=math.nan,
            distortion=distortion,
            metric="ms_ssim",
            hcrb_trace=beams.hcrb_trace,
            power_w=beams.power_w,
            w_c=beams.w_c,
            w_0=beams.w_0,
            bound_sinr=beams.bound_sinr,
            solve_ms=0.0,
            predictions=dict(predictions),
            beam_info=beams.info,
        )
