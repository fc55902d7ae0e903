# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc bench estimator``: the JSON of the time per block of the MAP sensing estimator, and bad input."""

import json
import math


def test_bench_estimator_json_keys(run_cli):
    """A few blocks of the tradeoff scene: the documented keys, the scenario's arrays and block length, a
    positive median no larger than the 95th percentile, and an error in the range of the bound (at the
    scenario's power the estimator is efficient, so RMSE is within a few sqrt(HCRB) even for 5 blocks)."""
    code, out, err = run_cli("bench", "estimator", "--scenario", "tradeoff", "--blocks", "5", "--seed", "3")
    assert code == 0, err
    data = json.loads(out)
    for key in ("ms_per_block", "p95_ms", "blocks", "scenario", "n_tx", "n_rx", "block_length", "cpu_ms_per_block"):
        assert key in data, key
    assert data["scenario"] == "tradeoff" and data["blocks"] == 5
    assert (data["n_tx"], data["n_rx"], data["block_length"]) == (4, 4, 1024)
    assert 0 < data["ms_per_block"] <= data["p95_ms"]
    assert data["accepted_fraction"] == 1.0 and data["evaluations_mean"] >= 1
    assert math.isfinite(data["rmse_m"]) and data["rmse_m"] < 4 * data["hcrb_rmse_m"]


def test_bench_estimator_overrides(run_cli):
    """The power, sync spread and sensing noise options replace the scenario's values in the report."""
    code, out, err = run_cli(
        "bench", "estimator", "--scenario", "paper", "--blocks", "2", "--power-dbm", "40", "--sigma-ns", "0",
        "--sensing-noise-dbm", "-70",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert (data["power_dbm"], data["sigma_ns"], data["sensing_noise_dbm"]) == (40.0, 0.0, -70.0)


def test_bench_estimator_bad_input(run_cli):
    """Bad arguments: exit code 2, nothing on stdout, one line on stderr."""
    for argv in (
        ["--blocks", "0"],
        ["--scenario", "nowhere"],
        ["--sigma-ns", "-1"],
        ["--power-dbm", "nan"],
        ["--power-dbm", "200"],
        ["--sensing-noise-dbm", "x"],
    ):
        code, out, err = run_cli("bench", "estimator", *argv)
        assert code == 2 and out == "", (argv, out)
        assert err.count("\n") == 1 and "error" in err, (argv, err)
