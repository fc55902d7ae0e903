"""``issc experiment ...``: Monte Carlo experiments that regenerate the figures in ``docs/``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_scenario_argument, fail, positive_int, print_json
from .optim import power_range

QUICK = {"powers": [10.0, 20.0, 30.0, 40.0], "sigmas": None, "trials": 30}
FULL = {"powers": [float(p) for p in range(0, 45, 5)], "sigmas": [1.0, 10.0, 100.0], "trials": 200}


def sigma_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated nanoseconds, got {text!r}") from None
    if not values or any(not (0 <= v < 1e6) for v in values):
        raise argparse.ArgumentTypeError(f"sync-error spreads must be in [0, 1e6) ns, got {text!r}")
    return values


def register(subparsers):
    p = subparsers.add_parser("experiment", help="Monte Carlo experiments (CSV + PNG)")
    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=type(p))
    sub.required = True
    est = sub.add_parser("estimator", help="estimator RMSE against sqrt(tr HCRB) and sqrt(tr CRB)",
                         description="Sweep the transmit power (echo SNR) and the sync-error spread, Monte Carlo "
                                     "the MAP estimator, write estimator.csv and estimator.png.")
    add_scenario_argument(est)
    est.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sweep = est.add_argument_group("sweep")
    sweep.add_argument("--power-dbm", type=power_range, default=None, metavar="START:STOP:STEP",
                       help="transmit powers, all steered at the target (default 0:40:5; quick 10:40:10)")
    sweep.add_argument("--sigma-ns", type=sigma_list, default=None, metavar="S1,S2,...",
                       help="sync-error spreads sigma_dt (default 1,10,100; quick: the scenario's)")
    sweep.add_argument("--trials", type=positive_int, default=None, help="blocks per cell (default 200; quick 30)")
    sweep.add_argument("--quick", action="store_true", help="fewer powers, the scenario's spread, 30 trials (under a minute here)")
    sweep.add_argument("--seed", type=int, default=0)
    est.set_defaults(handler=cmd_estimator)


def cmd_estimator(args):
    from ..estimator_experiment import plot, run_experiment, write_csv
    from ..scenario import load_scenario
    scenario = load_scenario(args.scenario)
    preset = QUICK if args.quick else FULL
    powers = args.power_dbm or preset["powers"]
    sigmas = args.sigma_ns or preset["sigmas"] or [scenario.sync.sigma_ns]
    trials = args.trials or preset["trials"]
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out '{out}': cannot create ({exc})")

    def progress(point):
        sys.stderr.write(f"sigma_dt {point.sigma_ns:g} ns, P_T {point.power_dbm:g} dBm: RMSE {point.rmse_m:.3g} m, "
                         f"sqrt(tr HCRB) {point.hcrb_rmse_m:.3g} m, MSE/HCRB {point.mse_over_hcrb:.3f}\n")

    points = run_experiment(scenario, powers, sigmas, trials, args.seed, progress)
    write_csv(points, out / "estimator.csv")
    plot(points, out / "estimator.png", f"MAP estimator, scenario '{scenario.name}', {trials} blocks per point")
    print_json({"csv": str(out / "estimator.csv"), "plot": str(out / "estimator.png"),
                "points": [vars(p) for p in points]})
    return 0
