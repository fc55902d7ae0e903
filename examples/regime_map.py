#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless example: the regime map of a scenario, and the HCRB of a few transmit covariances.

    python examples/regime_map.py [SCENARIO]        (default: paper)

Shows how to use the physics core directly: load a scenario, build the Fisher model once, then
evaluate bounds for any covariance (each evaluation is six traces).
"""

import sys

import numpy as np
from gnuradio import issc

from gnuradio.issc.physics.regime import format_table, regime_map
from gnuradio.issc.units import dbm_to_w


def main(scenario_name: str) -> int:
    try:
        scenario = issc.load_scenario(scenario_name)
    except issc.ScenarioError as exc:
        sys.stderr.write(f"regime_map.py: error: {exc}\n")
        return 2
    print(format_table(regime_map(scenario)))

    geometry = issc.Geometry.from_scenario(scenario)
    fisher = issc.FisherModel.from_scenario(scenario)
    power_w = float(dbm_to_w(scenario.budget.power_dbm))
    to_target = geometry.a_tx(geometry.theta) / np.sqrt(geometry.n_tx)
    to_user = geometry.h_c / np.linalg.norm(geometry.h_c)
    print(
        f"\nAt P_T = {scenario.budget.power_dbm:g} dBm, splitting power between a beam at the target "
        f"and MRT to the CRE:"
    )
    for sensing_share in (1.0, 0.75, 0.5, 0.25):
        sigma = power_w * (
            sensing_share * np.outer(to_target, to_target.conj())
            + (1 - sensing_share) * np.outer(to_user, to_user.conj())
        )
        print(
            f"  {100 * sensing_share:5.1f} % sensing: tr HCRB = {fisher.hcrb_trace(sigma):9.1f} m^2, "
            f"tr CRB = {fisher.crb_trace(sigma):9.1f} m^2"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "paper"))
