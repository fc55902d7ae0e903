# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands on the physics core: ``scenario``, ``hcrb``, ``ber``, ``regime``."""

from __future__ import annotations

import math

import numpy as np

from ..physics.ber import MAX_BLOCKLENGTH, capacity, log10_ber
from ..physics.hcrb import FisherModel
from ..physics.regime import format_table, regime_map
from ..scenario import load_scenario, reference_markdown, shipped_scenarios
from ..units import db_to_lin
from .common import (
    add_scenario_argument,
    fail,
    finite_float,
    float_in,
    guarded,
    int_in,
    print_json,
    read_input_bytes,
)

HERMITIAN_TOL = 1e-9
MAX_COV_BYTES = 2 << 20
"""Largest ``--cov`` file: a 256 x 256 complex128 covariance (the largest n_tx) is 1 MiB plus its header."""
SINR_DB_RANGE = (-3000.0, 3000.0)
"""``--sinr-db`` of ``issc ber``: linear SINRs 1e-300..1e300, every one a finite double."""
MAX_SYNC_NS = 1.0e6
"""``--sync-ns``: the scenario's own range for ``sync.sigma_ns``."""


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
    p.set_defaults(handler=guarded(cmd_scenario))

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
        "--sync-ns",
        type=float_in(0.0, MAX_SYNC_NS, "ns"),
        default=None,
        help=f"override the scenario's sync-error std (ns, 0..{MAX_SYNC_NS:g} as in a scenario)",
    )
    p.set_defaults(handler=guarded(cmd_hcrb))

    p = subparsers.add_parser(
        "ber",
        help="finite-blocklength BER model",
        description="BER rho_b = min(eps_b / (R_c L), 1/2) of the normal approximation (docs/model.md "
        "section 3), evaluated in the log domain. Valid inputs: SINR in [-3000, 3000] dB, 0 < R_c <= 1e6 "
        "bits per channel use, L in [1, 1e9], and R_c L >= 1 (at least one information bit per block).",
    )
    p.add_argument(
        "--sinr-db", type=float_in(*SINR_DB_RANGE, "dB"), required=True, help="SINR gamma in dB, -3000..3000"
    )
    p.add_argument(
        "--rate", type=rate_value, required=True, help="code rate R_c, bits per channel use (0 < R_c <= 1e6)"
    )
    p.add_argument("--blocklength", type=int_in(1, MAX_BLOCKLENGTH), default=256, help="blocklength L (default 256)")
    p.set_defaults(handler=guarded(cmd_ber))

    p = subparsers.add_parser(
        "regime",
        help="CRE SNR and position bounds over the power sweep",
        description="The regime map: over the scenario's power sweep, the CRE SNR with MRT "
        "and tr(HCRB) with isotropic and target-steered transmission.",
    )
    add_scenario_argument(p, required=False)
    p.add_argument("--format", choices=("json", "table"), default="json")
    p.set_defaults(handler=guarded(cmd_regime))


MAX_RATE = 1.0e6


def rate_value(text: str) -> float:
    """``--rate``: a code rate in (0, MAX_RATE] bits per channel use."""
    import argparse

    value = finite_float(text)
    if not 0 < value <= MAX_RATE:
        raise argparse.ArgumentTypeError(f"must be in (0, {MAX_RATE:g}] bits per channel use, got {text!r}")
    return value


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


def read_npy_header(data: bytes, path: str):
    """``(shape, dtype, offset)`` of a ``.npy`` file's header, checked against the file's size before any
    array is allocated: a header that claims more data than the file holds is refused."""
    import io

    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    try:
        version = npy.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(stream)
        else:
            fail(f"--cov '{path}': unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError, EOFError, OverflowError) as exc:
        fail(f"--cov '{path}': not a readable .npy array ({' '.join(str(exc).split())[:200]})")
    if dtype.hasobject or dtype.kind not in "iufc" or dtype.fields is not None or dtype.subdtype is not None:
        fail(f"--cov '{path}': must hold a numeric array, got {dtype}")
    if len(shape) > 32 or any(not isinstance(n, int) or n < 0 for n in shape):
        fail(f"--cov '{path}': invalid shape {shape!r} in the header")
    count = 1
    for n in shape:
        count *= n
    available = len(data) - stream.tell()
    if count * dtype.itemsize != available:
        fail(
            f"--cov '{path}': the header says shape {shape} of {dtype} ({count * dtype.itemsize} bytes), "
            f"the file holds {available} bytes of data"
        )
    return shape, dtype, stream.tell(), fortran


def load_covariance(path: str, n_tx: int) -> np.ndarray:
    """Read and check a transmit covariance file; every problem is an IsscInputError naming the file.

    The file is read with a size cap and its header checked (shape, dtype, data size) before the array is
    built; the Hermitian and PSD checks run on ``Sigma / p`` for a power of two ``p`` (exact), so a valid
    covariance of any finite scale (1e300 W included) passes and an overflow cannot fake a failure."""
    data = read_input_bytes(path, "--cov", MAX_COV_BYTES)
    shape, dtype, offset, fortran = read_npy_header(data, path)
    if shape != (n_tx, n_tx):
        fail(f"--cov '{path}': shape must be ({n_tx}, {n_tx}) for the scenario's n_tx = {n_tx}, got {shape}")
    flat = np.frombuffer(data, dtype=dtype, offset=offset, count=n_tx * n_tx)
    sigma = flat.reshape(shape, order="F" if fortran else "C").astype(complex)
    if not np.all(np.isfinite(sigma)):
        fail(f"--cov '{path}': contains NaN or inf")
    largest = float(np.abs(sigma).max())
    if largest > 0:
        sigma_n = sigma / math.ldexp(1.0, math.frexp(largest)[1] - 1)
        if np.abs(sigma_n - sigma_n.conj().T).max() > HERMITIAN_TOL:
            fail(f"--cov '{path}': must be Hermitian (Sigma = Sigma^H)")
        if np.linalg.eigvalsh(0.5 * (sigma_n + sigma_n.conj().T))[0] < -HERMITIAN_TOL:
            fail(f"--cov '{path}': must be positive semidefinite")
    with np.errstate(over="ignore"):
        if not math.isfinite(float(np.trace(sigma).real)):
            fail(f"--cov '{path}': the total power tr(Sigma) exceeds the floating-point range")
    return sigma


def cmd_hcrb(args):
    scn = load_scenario(args.scenario)
    sigma = load_covariance(args.cov, scn.arrays.n_tx)
    fisher = FisherModel.from_scenario(scn, sync_sigma_ns=args.sync_ns)
    scaled_hcrb, scaled_crb, p = fisher.scaled_bounds(sigma)
    identifiable = bool(np.all(np.isfinite(scaled_hcrb)))
    with np.errstate(over="ignore"):
        hcrb, crb_trace = scaled_hcrb / p, float(np.trace(scaled_crb)) / p
    trace = float(np.trace(hcrb))
    if identifiable and not (np.all(np.isfinite(hcrb)) and math.isfinite(trace)):
        fail(f"--cov '{args.cov}': the HCRB of so small a power ({p:.3g} W scale) exceeds the floating-point range")
    print_json(
        {
            "hcrb_pos": hcrb if identifiable else None,
            "trace": trace if identifiable else None,
            "crb_trace": crb_trace if math.isfinite(crb_trace) else None,
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
