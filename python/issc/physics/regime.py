# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The regime map: what the scenario's power sweep can give each task on its own.

For every ``P_T`` of the sweep: the CRE SNR when all power goes to communication (MRT, no sensing
interference), and ``tr(HCRB)`` / ``tr(CRB)`` of the position for isotropic transmission
(``Sigma = P_T/N_T I``) and for all power steered at the target (``Sigma = P_T/N_T a a^H``).
A user reads it to pick HCRB thresholds and power budgets where the trade-off is alive.
"""

from __future__ import annotations

import numpy as np

from ..scenario import load_scenario
from ..units import dbm_to_w, lin_to_db
from .geometry import Geometry, noise_powers_w
from .hcrb import FisherModel

COLUMNS = (
    "power_dbm",
    "snr_mrt_db",
    "hcrb_trace_isotropic_m2",
    "crb_trace_isotropic_m2",
    "hcrb_trace_steered_m2",
    "crb_trace_steered_m2",
)


def sensing_covariances(geometry: Geometry, power_w: float) -> dict[str, np.ndarray]:
    """The two reference transmit covariances with trace ``power_w``."""
    steer = geometry.a_tx(geometry.theta)
    return {
        "isotropic": power_w / geometry.n_tx * np.eye(geometry.n_tx, dtype=complex),
        "steered": power_w / geometry.n_tx * np.outer(steer, steer.conj()),
    }


def regime_map(scenario) -> dict:
    """The regime map of a scenario (name or :class:`Scenario`) as a JSON-ready dict."""
    scn = load_scenario(scenario)
    geometry = Geometry.from_scenario(scn)
    fisher = FisherModel.from_scenario(scn)
    comm_noise_w, _ = noise_powers_w(scn)
    channel_gain = float(np.linalg.norm(geometry.h_c) ** 2)
    rows = []
    for power_dbm in scn.power_sweep_dbm():
        power_w = float(dbm_to_w(power_dbm))
        cov = sensing_covariances(geometry, power_w)
        rows.append(
            {
                "power_dbm": float(power_dbm),
                "snr_mrt_db": float(lin_to_db(power_w * channel_gain / comm_noise_w)),
                "hcrb_trace_isotropic_m2": fisher.hcrb_trace(cov["isotropic"]),
                "crb_trace_isotropic_m2": fisher.crb_trace(cov["isotropic"]),
                "hcrb_trace_steered_m2": fisher.hcrb_trace(cov["steered"]),
                "crb_trace_steered_m2": fisher.crb_trace(cov["steered"]),
            }
        )
    return {
        "scenario": scn.name,
        "hcrb_threshold_m2": scn.budget.hcrb_threshold_m2,
        "theta_deg": float(np.degrees(geometry.theta)),
        "varphi_c_deg": float(np.degrees(geometry.varphi_c)),
        "rows": rows,
    }


def format_table(regime: dict) -> str:
    """Human-readable regime map (``make demo``)."""
    pi = regime["hcrb_threshold_m2"]
    lines = [
        f"Regime map of scenario '{regime['scenario']}'  (target at {regime['theta_deg']:.1f} deg, "
        f"CRE at {regime['varphi_c_deg']:.1f} deg from the TR; threshold Pi = {pi:g} m^2)",
        "",
        f"{'P_T':>6}  {'CRE SNR':>9}  {'tr HCRB':>11}  {'tr CRB':>11}  {'tr HCRB':>11}  {'tr CRB':>11}  steered",
        f"{'dBm':>6}  {'MRT, dB':>9}  {'isotr. m^2':>11}  {'isotr. m^2':>11}  {'steer. m^2':>11}  "
        f"{'steer. m^2':>11}  meets Pi",
        "-" * 84,
    ]
    for row in regime["rows"]:
        meets = "yes" if row["hcrb_trace_steered_m2"] <= pi else "no"
        lines.append(
            f"{row['power_dbm']:6.1f}  {row['snr_mrt_db']:9.2f}  {row['hcrb_trace_isotropic_m2']:11.4g}  "
            f"{row['crb_trace_isotropic_m2']:11.4g}  {row['hcrb_trace_steered_m2']:11.4g}  "
            f"{row['crb_trace_steered_m2']:11.4g}  {meets}"
        )
    lines += [
        "",
        "CRE SNR: all power to communication (MRT). tr HCRB: position bound with the sync error;",
        "tr CRB: the same without sync error. 'steered' = all power beamed at the target.",
    ]
    return "\n".join(lines)
