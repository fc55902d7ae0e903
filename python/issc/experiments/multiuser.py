# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user experiments (the seed's Figs. 7 and 8) measured through the streaming link (docs/multiuser.md
"Experiments").

Every point (scheme, sensing on or off, ``P_T``, user weights) is one run of
:class:`~gnuradio.issc.flowgraphs.multiuser_link.IsscMultiUserLink` at a fixed power: every user's images or
digits go through its source encoder, the slot framer, the superposition beamformer, its own channel and
receiver, and the monitor's ledger joins what was sent with what arrived. The point's numbers:

- ``weighted_distortion``: the mean over slots of ``sum_k beta_k D_k`` (a lost frame counts ``D = 1``), with
  its 95 % interval over the slots; ``predicted_weighted_distortion``: the decision's;
- ``ms_ssim``: the data users' mean MS-SSIM over their frames (a lost frame counts 0), ``accuracy``: the
  semantic users' mean accuracy against the true labels (a lost frame counts wrong), each with the decision's
  prediction (``predicted_*``: the user's model at its designed SINR and code rate);
- ``hcrb_trace``: ``tr HCRB`` of the design (m^2; empty without a target), ``sensing_rmse_m``: the sensing
  estimator's position error on the sensed blocks;
- ``frames``: user frames sent (slots x users), ``frames_lost``: those whose receiver delivered nothing;
- per user ``u<k>_*``: model, code rate, measured and predicted SINR and metric, frames received, bit errors.

Schemes (:data:`SCHEMES`): ``mu-ascc`` (the ``sdr`` optimiser with the learned family), ``mu-ascc-mixed``
(``sdr`` with learned + HEVC intra operating points), ``zf-wf-bpg`` (ZF beams, water-filling, the data users
on the HEVC point that fits 1 bit per channel use, the semantic users at that rate too) and ``zf-wf-djscc``
(the same beams, the data users sending the deep JSCC model trained at 10 dB as analog frames). A scheme
marked ``link: False`` would be predicted only (the decision's numbers, ``through_link`` false); none is now.

``mu-power`` sweeps ``P_T`` per scheme, with the scenario's sensing target and with ``sensing: none``;
``mu-region`` sweeps the weight ``a`` shared by the data users against ``1 - a`` for the semantic users (each
side split in the proportion of the scenario's weights) for the optimising schemes, and runs each benchmark
once at the scenario's weights (ZF-WF's beams, powers and models do not depend on the weights).
"""

from __future__ import annotations

import csv
import math
import time

import numpy as np

from .figures import pyplot, save_panels, save_single
from .stats import mean_and_ci

SCHEMES = {
    "mu-ascc": {"solver": "sdr", "family": "learned", "link": True},
    "mu-ascc-mixed": {"solver": "sdr", "family": "mixed", "link": True},
    "zf-wf-bpg": {"solver": "zf-wf-bpg", "family": "", "link": True},
    "zf-wf-djscc": {"solver": "zf-wf-djscc", "family": "", "link": True},
}
"""Scheme -> the multi-user optimiser's solver and data family, and whether the link carries it."""
REGION_SWEPT = ("mu-ascc", "mu-ascc-mixed")
"""Schemes whose decisions depend on the weights (swept in ``mu-region``); the others are one point each."""
SENSING = ("target", "none")
CSV_COLUMNS = (
    "experiment",
    "scheme",
    "sensing",
    "power_dbm",
    "data_weight",
    "weights",
    "through_link",
    "feasible",
    "weighted_distortion",
    "weighted_distortion_ci",
    "predicted_weighted_distortion",
    "ms_ssim",
    "predicted_ms_ssim",
    "accuracy",
    "predicted_accuracy",
    "hcrb_trace",
    "hcrb_threshold_m2",
    "sensing_rmse_m",
    "slots",
    "frames",
    "frames_lost",
    "bit_errors",
    "models",
    "end_reason",
    "seconds",
)
USER_COLUMNS = (
    "task",
    "weight",
    "model",
    "code_rate",
    "sinr_db",
    "predicted_sinr_db",
    "metric",
    "predicted_metric",
    "frames_received",
    "bit_errors",
)
QUICK = {"powers": [28.0, 40.0], "frames": 2, "size": 64, "weights": [0.2, 0.8]}
FULL = {"powers": [24.0, 26.0, 28.0, 30.0, 32.0, 36.0], "frames": 8, "size": 0, "weights": None}
REGION_WEIGHTS = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]


def scenario_for(scenario, sensing: str = "target", data_weight: float | None = None):
    """The point's scenario: ``scenario`` with ``sensing: none`` when asked, and with the data users sharing
    ``data_weight`` and the semantic users ``1 - data_weight`` in the proportion of their own weights.

    Args:
        scenario: name, path or Scenario.
        sensing: 'target' (the scenario's; it must have one) or 'none'.
        data_weight: the data users' total weight in (0, 1) (None: the scenario's weights).
    """
    from ..errors import IsscInputError
    from ..scenario import load_scenario

    scn = load_scenario(scenario)
    if not scn.users:
        raise IsscInputError(f"scenario '{scn.name}' has no users list: the multi-user experiments need one")
    if sensing not in SENSING:
        raise IsscInputError(f"sensing must be one of {', '.join(SENSING)}, got {sensing!r}")
    if sensing == "target" and scn.sensing != "target":
        raise IsscInputError(f"scenario '{scn.name}' has no sensing target (sensing: {scn.sensing})")
    changes = {}
    if sensing == "none" and scn.sensing != "none":
        changes["sensing"] = "none"
    if data_weight is not None:
        if not 0.0 < data_weight < 1.0:
            raise IsscInputError(f"the data users' weight must be in (0, 1), got {data_weight!r}")
        tasks = {u.task for u in scn.users}
        if tasks != {"data", "semantic"}:
            raise IsscInputError(f"scenario '{scn.name}': a weight sweep needs data and semantic users")
        users = scn.to_dict()["users"]
        for task, share in (("data", data_weight), ("semantic", 1.0 - data_weight)):
            total = sum(u["weight"] for u in users if u["task"] == task)
            for u in users:
                if u["task"] == task:
                    u["weight"] = share * u["weight"] / total
        changes["users"] = users
    return scn.replace(**changes) if changes else scn


def power_points(scenario: str, schemes, powers, sensings, frames: int, seed: int = 0, size: int = 0, **common):
    """The ``mu-power`` points (sensing, then scheme, then power); one seed per power, shared by the schemes and
    both sensing settings (the same noise draws)."""
    return [
        _point("mu-power", scenario, scheme, sensing, power, None, frames, seed + 10 * p, size, **common)
        for sensing in sensings
        for scheme in schemes
        for p, power in enumerate(powers)
    ]


def region_points(scenario: str, schemes, power: float, weights, frames: int, seed: int = 0, size: int = 0, **common):
    """The ``mu-region`` points: each swept scheme (:data:`REGION_SWEPT`) at every data weight, each other scheme
    once at the scenario's weights; one seed per weight, shared by the schemes."""
    points = []
    for scheme in schemes:
        if scheme in REGION_SWEPT:
            for w, weight in enumerate(weights):
                points.append(
                    _point("mu-region", scenario, scheme, None, power, weight, frames, seed + 10 * w, size, **common)
                )
        else:
            points.append(_point("mu-region", scenario, scheme, None, power, None, frames, seed + 7, size, **common))
    return points


def _point(
    experiment, scenario, scheme, sensing, power, weight, frames, seed, size, sensing_every=4, ber_model="calibrated"
):
    return {
        "experiment": experiment,
        "scenario": str(scenario),
        "scheme": scheme,
        "sensing": sensing,
        "power_dbm": float(power),
        "data_weight": None if weight is None else float(weight),
        "frames": int(frames),
        "seed": int(seed),
        "size": int(size),
        "sensing_every": int(sensing_every),
        "ber_model": str(ber_model),
    }


def point_task(point: dict, timeout_s: float = 1800.0) -> dict:
    """One point (run on a worker): the CSV row (:data:`CSV_COLUMNS` and ``u<k>_*``) plus ``rows``, the
    monitor's per-user and per-slot rows, as a JSON-able dict."""
    from ..optim.multiuser import MultiUserOptimizer
    from ..scenario import load_scenario

    started = time.monotonic()
    base = load_scenario(point["scenario"])
    sensing = point["sensing"] or base.sensing
    scn = scenario_for(base, sensing, point["data_weight"])
    spec = SCHEMES[point["scheme"]]
    weights = [float(u.weight) for u in scn.users]
    if spec["link"]:
        from ..flowgraphs.multiuser_link import IsscMultiUserLink

        link = IsscMultiUserLink(
            scn,
            point["frames"],
            seed=point["seed"],
            solver=spec["solver"],
            family=spec["family"],
            size=point["size"],
            sensing_every=point["sensing_every"],
            ber_model=point["ber_model"],
            power_dbm=point["power_dbm"],
        )
        summary = link.run_frames(timeout_s=timeout_s)
        decision, rows = link.controller.decision, list(link.monitor.ledger.rows)
    else:
        optimizer = MultiUserOptimizer(
            scn, solver=spec["solver"], family=spec["family"] or None, ber_model=point["ber_model"]
        )
        decision, rows, summary = optimizer.decide(power_dbm=point["power_dbm"]), [], None
    result = summarise(point, scn, weights, decision, rows, summary, time.monotonic() - started)
    result["rows"] = rows
    return result


def _finite_mean(values) -> float:
    values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def summarise(point: dict, scn, weights, decision, rows, summary, seconds: float) -> dict:
    """The CSV row of a point from the decision and the monitor's rows (``summary`` None: predicted only)."""
    tasks = [u.task for u in scn.users]
    predicted = [u.predictions for u in decision.users]
    metric = ["predicted_ms_ssim" if t == "data" else "predicted_accuracy" for t in tasks]
    out = {
        "experiment": point["experiment"],
        "scheme": point["scheme"],
        "sensing": scn.sensing,
        "power_dbm": point["power_dbm"],
        "data_weight": sum(w for w, t in zip(weights, tasks) if t == "data")
        if point["data_weight"] is not None or point["experiment"] == "mu-region"
        else math.nan,
        "weights": "/".join(f"{w:.4g}" for w in weights),
        "through_link": summary is not None,
        "feasible": bool(decision.feasible),
        "predicted_weighted_distortion": float(decision.weighted_distortion),
        "predicted_ms_ssim": _finite_mean(p.get(m) for p, m, t in zip(predicted, metric, tasks) if t == "data"),
        "predicted_accuracy": _finite_mean(p.get(m) for p, m, t in zip(predicted, metric, tasks) if t == "semantic"),
        "hcrb_trace": math.nan if decision.hcrb_trace is None else float(decision.hcrb_trace),
        "hcrb_threshold_m2": math.nan if decision.hcrb_threshold_m2 is None else float(decision.hcrb_threshold_m2),
        "models": "/".join(str(u.model) for u in decision.users),
        "seconds": float(seconds),
    }
    user_rows = [r for r in rows if r.get("kind") == "user"]
    slot_rows = [r for r in rows if r.get("kind") == "slot"]
    wd, wd_ci = mean_and_ci(r.get("weighted_distortion") for r in slot_rows)
    out.update(
        weighted_distortion=wd,
        weighted_distortion_ci=wd_ci,
        ms_ssim=_finite_mean(r.get("task_metric") for r in user_rows if r["task"] == "data"),
        accuracy=_finite_mean(r.get("task_metric") for r in user_rows if r["task"] == "semantic"),
        sensing_rmse_m=math.nan if not summary or summary.get("sensing_rmse_m") is None else summary["sensing_rmse_m"],
        slots=len(slot_rows),
        frames=len(user_rows),
        frames_lost=sum(not r.get("received") for r in user_rows),
        bit_errors=sum(int(r.get("bit_errors") or 0) for r in user_rows),
        end_reason="" if summary is None else str(summary.get("end_reason")),
    )
    for k, (task, user) in enumerate(zip(tasks, decision.users)):
        mine = [r for r in user_rows if r["user"] == k]
        out.update(
            {
                f"u{k}_task": task,
                f"u{k}_weight": weights[k],
                f"u{k}_model": str(user.model),
                f"u{k}_code_rate": float(user.code_rate),
                f"u{k}_sinr_db": _finite_mean(r.get("sinr_db") for r in mine),
                f"u{k}_predicted_sinr_db": float(user.sinr_db),
                f"u{k}_metric": _finite_mean(r.get("task_metric") for r in mine),
                f"u{k}_predicted_metric": float(predicted[k].get(metric[k], math.nan)),
                f"u{k}_frames_received": sum(bool(r.get("received")) for r in mine),
                f"u{k}_bit_errors": sum(int(r.get("bit_errors") or 0) for r in mine),
            }
        )
    return out


def run_points_for(points, journal=None, workers=None, scheduler=None, progress=None) -> list[dict]:
    """Every point on :func:`gnuradio.issc.parallel.run_points` (journal ``journal``: a rerun skips the points in
    it); ``progress`` is called with each new result.

    Raises:
        gnuradio.issc.parallel.PointsInterrupted: Ctrl-C; its ``results`` are the finished points' dicts.
    """
    from ..parallel import run_points

    def report(_index, _point, result):
        if progress is not None:
            progress(result)

    return run_points(
        points, point_task, out=journal, workers=workers, scheduler=scheduler, desc="points", on_result=report
    )


def columns(results) -> list[str]:
    """:data:`CSV_COLUMNS` then the per-user columns of the most users any result has."""
    users = max((sum(1 for k in r if k.startswith("u") and k.endswith("_task")) for r in results), default=0)
    return list(CSV_COLUMNS) + [f"u{k}_{c}" for k in range(users) for c in USER_COLUMNS]


def write_csv(results, path) -> None:
    import io

    from ..files import atomic_write_text

    names = columns(results)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerow({k: _csv_value(result.get(k)) for k in names})
    atomic_write_text(path, buffer.getvalue())


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return value


def write_frames(results, path) -> None:
    """Every monitor row of every point (JSON lines) with the point's scheme, sensing, power and weights."""
    import json

    from ..files import atomic_write_text
    from ..jsonutil import jsonable

    lines = []
    for r in results:
        keys = {k: r[k] for k in ("experiment", "scheme", "sensing", "power_dbm", "weights")}
        lines += [json.dumps(jsonable({**keys, **row}), allow_nan=False) for row in r.get("rows", [])]
    atomic_write_text(path, "".join(line + "\n" for line in lines))


COLOURS = {"mu-ascc": "tab:blue", "mu-ascc-mixed": "tab:purple", "zf-wf-bpg": "tab:orange", "zf-wf-djscc": "tab:red"}


def plot_power(results, path, title: str = "") -> None:
    """Fig. 7: weighted distortion against ``P_T`` per scheme, measured (solid, 95 % intervals over the slots)
    and predicted (dashed); one panel per sensing setting."""
    plt = pyplot()
    sensings = [s for s in SENSING if any(r["sensing"] == s for r in results)]
    fig, axes = plt.subplots(1, len(sensings), figsize=(5.2 * len(sensings), 4.2), sharey=True, squeeze=False)
    for ax, sensing in zip(axes[0], sensings):
        for scheme in SCHEMES:
            cells = sorted((r for r in results if r["scheme"] == scheme and r["sensing"] == sensing), key=_power)
            if not cells:
                continue
            power, colour = [c["power_dbm"] for c in cells], COLOURS[scheme]
            if any(c["through_link"] for c in cells):
                ax.errorbar(
                    power,
                    [_nan(c["weighted_distortion"]) for c in cells],
                    yerr=[np.nan_to_num(_nan(c["weighted_distortion_ci"])) for c in cells],
                    fmt="o-",
                    color=colour,
                    capsize=3,
                    label=f"{scheme} measured",
                )
            label = f"{scheme} predicted" + ("" if cells[0]["through_link"] else " (not through the link)")
            ax.plot(
                power, [c["predicted_weighted_distortion"] for c in cells], "--", color=colour, alpha=0.75, label=label
            )
        ax.set_title("with the sensing target (HCRB constraint)" if sensing == "target" else "without sensing")
        ax.set_xlabel("P_T (dBm)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    save_panels(fig, axes, path, "weighted distortion sum_k beta_k D_k", title)


def plot_region(results, path, title: str = "") -> None:
    """Fig. 8: the data users' MS-SSIM against the semantic users' accuracy, the swept schemes' points joined
    in weight order (measured solid, predicted dashed), the benchmarks' points alone."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    for scheme in SCHEMES:
        cells = sorted((r for r in results if r["scheme"] == scheme), key=lambda r: _nan(r["data_weight"]))
        if not cells:
            continue
        colour, style = COLOURS[scheme], "-" if scheme in REGION_SWEPT else ""
        if any(c["through_link"] for c in cells):
            ax.plot(
                [c["accuracy"] for c in cells],
                [c["ms_ssim"] for c in cells],
                "o" + style,
                color=colour,
                label=f"{scheme} measured",
            )
        ax.plot(
            [c["predicted_accuracy"] for c in cells],
            [c["predicted_ms_ssim"] for c in cells],
            "x" + ("--" if style else ""),
            color=colour,
            alpha=0.75,
            label=f"{scheme} predicted" + ("" if cells[0]["through_link"] else " (not through the link)"),
        )
    ax.set_xlabel("semantic users' accuracy")
    ax.set_ylabel("data users' MS-SSIM")
    ax.grid(True, alpha=0.3)
    save_single(fig, ax, path, title)


def _power(r):
    return r["power_dbm"]


def _nan(value):
    return math.nan if value is None else value
