# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the ``issc`` subcommands: argument types, JSON output, the error contract."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..errors import IsscInputError
from ..jsonutil import jsonable


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (``issc <cmd>: error: ...``) and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def add_scenario_argument(parser, required: bool = True):
    parser.add_argument(
        "--scenario",
        "-s",
        required=required,
        default=None if required else "paper",
        metavar="S",
        help="shipped scenario name (e.g. 'paper') or path to a YAML file",
    )


def print_json(value) -> None:
    json.dump(jsonable(value), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def fail(message: str):
    raise IsscInputError(message)


def add_parallel_arguments(parser) -> None:
    """``--workers N`` / ``--scheduler tcp://HOST:PORT`` of the commands that run points on Dask (docs/cluster.md)."""
    group = parser.add_argument_group("parallel (Dask distributed, docs/cluster.md)")
    group.add_argument(
        "--workers", type=positive_int, default=None, metavar="N", help="local worker processes (default: the cores)"
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the points on this existing Dask cluster instead of a local one",
    )


def parallel_options(args) -> dict:
    """The keyword arguments of :func:`gnuradio.issc.parallel.run_points` from the parsed options."""
    return {"workers": args.workers, "scheduler": args.scheduler}


def message(text: str) -> None:
    """One line on stderr that does not break the progress bar."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)
