# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands on the physics core: ``scenario``, ``hcrb``, ``ber``, ``regime``."""

from __future__ import annotations

import numpy as np

from ..physics.ber import capacity, log10_ber
from ..physics.hcrb import FisherModel
from ..physics.regime import format_table, regime_map
from ..scenario import load_scenario, reference_markdown, shipped_scenarios
from ..units import db_to_lin
from .common import (
    add_scenario_argument,
    fail,
    finite_float,
    non_negative_float,
    positive_float,
    positive_int,
    print_json,
)

HERMITIAN_TOL = 1e-9


def register(subparsers):
    p = subparsers.add_parser(
        "scenario",
        help="print a validated scenario",
        description="Validate a scenario and print it with every default filled in.",
    )
    add_scenario_argument(p, required=False)
    p.add_argument("--list", action="store_true", help="list the shipped scenario names")
    p.add_argument("--reference", action="store_true", help="print the key reference (docs/scenarios.md)")
    p.add_argument("--format", choices=("json", "yaml"), default="json")
    p.set_defaults(handler=cmd_scenario)

    p = subparsers.add_parser(
        "hcrb",
        help="HCRB and CRB of the target position for a transmit covariance",
        description="Print the 2x2 HCRB of the target position (m^2), its trace, and "
        "the trace of the CRB without sync error.",
    )
    add_scenario_argument(p)
    p.add_argument(
        "--cov",
        required=True,
        metavar="FILE.npy",
        help="complex N_T x N_T transmit covariance Sigma in watts (Hermitian PSD)",
    )
    p.add_argument(
        "--sync-ns", type=non_negative_float, default=None, help="override the scenario's sync-error std (ns)"
    )
    p.set_defaults(handler=cmd_hcrb)

    p = subparsers.add_parser(
        "ber",
        help="finite-blocklength BER model",
        description="BER rho_b = eps_b / (R_c L) of the normal approximation (docs/model.md "
        "section 3), evaluated in the log domain.",
    )
    p.add_argument("--sinr-db", type=finite_float, required=True, help="SINR gamma in dB")
    p.add_argument("--rate", type=positive_float, required=True, help="code rate R_c, bits per channel use")
    p.add_argument("--blocklength", type=positive_int, default=256, help="blocklength L (default 256)")
    p.set_defaults(handler=cmd_ber)

    p = subparsers.add_parser(
        "regime",
        help="CRE SNR and position bounds over the power sweep",
        description="The regime map: over the scenario's power sweep, the CRE SNR with MRT "
        "and tr(HCRB) with isotropic and target-steered transmission.",
    )
    add_scenario_argument(p, required=False)
    p.add_argument("--format", choices=("json", "table"), default="json")
    p.set_defaults(handler=cmd_regime)


def cmd_scenario(args):
    if args.list:
        print_json(shipped_scenarios())
        return 0
    if args.reference:
        print(reference_markdown(), end="")
        return 0
    scn = load_scenario(args.scenario)
    if args.format == "yaml":
        print(scn.to_yaml(), end="")
    else:
        print_json(scn.to_dict())
    return 0


def load_covariance(path: str, n_tx: int) -> np.ndarray:
    """Read and check a transmit covariance file; every problem is an IsscInputError naming the file."""
    try:
        sigma = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        fail(f"--cov '{path}': no such file")
    except (OSError, ValueError, EOFError) as exc:
        fail(f"--cov '{path}': not a readable .npy array ({exc})")
    if not isinstance(sigma, np.ndarray) or sigma.dtype.kind not in "iufc":
        fail(f"--cov '{path}': must hold a numeric array, got {getattr(sigma, 'dtype', type(sigma))}")
    if sigma.shape != (n_tx, n_tx):
        fail(f"--cov '{path}': shape must be ({n_tx}, {n_tx}) for the scenario's n_tx = {n_tx}, got {sigma.shape}")
    sigma = sigma.astype(complex)
    if not np.all(np.isfinite(sigma)):
        fail(f"--cov '{path}': contains NaN or inf")
    scale = max(float(np.abs(sigma).max()), np.finfo(float).tiny)
    if np.abs(sigma - sigma.conj().T).max() > HERMITIAN_TOL * scale:
        fail(f"--cov '{path}': must be Hermitian (Sigma = Sigma^H)")
    if np.linalg.eigvalsh(0.5 * (sigma + sigma.conj().T))[0] < -HERMITIAN_TOL * scale:
        fail(f"--cov '{path}': must be positive semidefinite")
    return sigma


def cmd_hcrb(args):
    scn = load_scenario(args.scenario)
    sigma = load_covariance(args.cov, scn.arrays.n_tx)
    fisher = FisherModel.from_scenario(scn, sync_sigma_ns=args.sync_ns)
    hcrb = fisher.hcrb(sigma)
    identifiable = bool(np.all(np.isfinite(hcrb)))
    print_json(
        {
            "hcrb_pos": hcrb if identifiable else None,
            "trace": float(np.trace(hcrb)),
            "crb_trace": fisher.crb_trace(sigma),
            "identifiable": identifiable,
            "power_w": float(np.trace(sigma).real),
        }
    )
    return 0


def cmd_ber(args):
    sinr = float(db_to_lin(args.sinr_db))
    lb = float(log10_ber(sinr, args.rate, args.blocklength))
    print_json(
        {
            "ber": 10.0**lb,
            "log10_ber": lb,
            "sinr_db": args.sinr_db,
            "rate": args.rate,
            "blocklength": args.blocklength,
            "capacity": float(capacity(sinr)),
        }
    )
    return 0


def cmd_regime(args):
    regime = regime_map(args.scenario)
    if args.format == "table":
        print(format_table(regime))
    else:
        print_json(regime)
    return 0
