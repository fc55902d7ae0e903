# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the sensing estimator: ``bench estimator``."""

from __future__ import annotations

import time

import numpy as np

from .common import add_scenario_argument, finite_float, guarded, int_in, print_json, seed_int
from .link import _bench_parser

WARMUP_BLOCKS = 3


def register(subparsers):
    b = _bench_parser(subparsers).add_parser(
        "estimator",
        help="time per block of the MAP sensing estimator",
        description="Estimate the target from simulated echo blocks (the scenario's arrays, block length, "
        "noise and sync spread; all power steered at the target, a fresh sync error, QPSK symbols and noise "
        "per block, as in 'issc experiment estimator') and report the time per block.",
    )
    add_scenario_argument(b, required=False)
    b.add_argument(
        "--blocks",
        type=int_in(1, 1_000_000),
        default=100,
        help="timed blocks, at most 1e6 (default 100; the median wants >= 50)",
    )
    b.add_argument(
        "--power-dbm", type=finite_float, default=None, help="transmit power (default: the scenario's budget)"
    )
    b.add_argument("--sigma-ns", type=finite_float, default=None, help="sync-error spread (default: the scenario's)")
    b.add_argument(
        "--sensing-noise-dbm",
        type=finite_float,
        default=None,
        help="sensing noise power sigma_s^2 per antenna (default: the scenario's)",
    )
    b.add_argument("--seed", type=seed_int, default=0)
    b.set_defaults(handler=guarded(cmd_bench_estimator))


def cmd_bench_estimator(args):
    from ..errors import IsscInputError
    from ..experiments.estimator import simulate_block
    from ..physics.channels import truncated_standard_normal
    from ..physics.geometry import noise_powers_w
    from ..physics.hcrb import FisherModel
    from ..scenario import load_scenario
    from ..sensing.estimator import TargetEstimator
    from ..units import SPEED_OF_LIGHT, dbm_to_w

    if args.sigma_ns is not None and args.sigma_ns < 0:
        raise IsscInputError(f"--sigma-ns must be >= 0, got {args.sigma_ns:g}")
    from ..parallel import limit_blas_threads

    limit_blas_threads()  # as in the link: BLAS threads only spin on these small products (CPU 2x wall)
    scenario = load_scenario(args.scenario)
    changes = {}
    if args.sigma_ns is not None:
        changes["sync"] = {"sigma_ns": args.sigma_ns}
    if args.sensing_noise_dbm is not None:
        changes["channel"] = {"sensing_noise_dbm": args.sensing_noise_dbm}
    if args.power_dbm is not None:
        changes["budget"] = {"power_dbm": args.power_dbm}
    if changes:
        scenario = scenario.replace(**changes)
    estimator = TargetEstimator.from_scenario(scenario)
    g = estimator.geometry
    block = scenario.signal.sensing_block
    power_w = float(dbm_to_w(scenario.budget.power_dbm))
    noise_std = float(np.sqrt(noise_powers_w(scenario)[1]))
    spread_m = SPEED_OF_LIGHT * scenario.sync.sigma_ns * 1e-9
    rng = np.random.default_rng(args.seed)
    # one block at a time (the same blocks as simulating all first: the estimator draws no random numbers),
    # so memory does not grow with --blocks
    blocks = (
        simulate_block(estimator, rng, g.target, truncated_standard_normal(rng) * spread_m, power_w, noise_std, block)
        for _ in range(args.blocks + WARMUP_BLOCKS)
    )
    wall, cpu, squared, evaluations, accepted = [], [], [], [], 0
    for index, (echo, reference, start) in enumerate(blocks):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = estimator.estimate(echo, reference, start)
        wall_ms, cpu_ms = 1e3 * (time.perf_counter() - wall_start), 1e3 * (time.process_time() - cpu_start)
        if index < WARMUP_BLOCKS:
            continue
        wall.append(wall_ms)
        cpu.append(cpu_ms)
        evaluations.append(result.iterations)
        accepted += int(result.ok)
        if result.position is not None:
            squared.append(float(np.sum((result.position - g.target) ** 2)))
    steer = g.a_tx(g.theta) / np.sqrt(g.n_tx)
    hcrb = FisherModel.from_scenario(scenario).hcrb_trace(power_w * np.outer(steer, steer.conj()))
    print_json(
        {
            "benchmark": "sensing estimator time per block",
            "scenario": scenario.name,
            "blocks": args.blocks,
            "n_tx": g.n_tx,
            "n_rx": g.n_rx,
            "block_length": block,
            "power_dbm": scenario.budget.power_dbm,
            "sigma_ns": scenario.sync.sigma_ns,
            "sensing_noise_dbm": scenario.channel.sensing_noise_dbm,
            "ms_per_block": float(np.median(wall)),
            "p95_ms": float(np.percentile(wall, 95)),
            "mean_ms": float(np.mean(wall)),
            # CPU time of this process: steadier than the wall clock on a shared machine
            "cpu_ms_per_block": float(np.median(cpu)),
            "evaluations_mean": float(np.mean(evaluations)),
            "accepted_fraction": accepted / args.blocks,
            "rmse_m": float(np.sqrt(np.mean(squared))) if squared else None,
            "hcrb_rmse_m": float(np.sqrt(hcrb)),
        }
    )
    return 0
