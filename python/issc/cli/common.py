# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the ``issc`` subcommands: argument types, JSON output, the error contract.

Every value a command reads from its command line or from a file is checked here or by the command
before any work: a bad one is an :class:`~gnuradio.issc.errors.IsscInputError` (or an argparse error)
naming the option and the value, which the entry point turns into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import re
import stat
import sys
from pathlib import Path

from ..errors import IsscInputError
from ..jsonutil import jsonable

# argparse treats an argument starting with '-' as an option unless it matches its negative-number
# pattern, which knows '-3' and '-.5' but not '-1e308', '-inf', '-8:16:1' or '-1/32'. No issc option
# starts with '-' followed by a digit, a dot or inf/nan, so all of these are values: they reach the type
# function (which accepts or refuses them with a message), in both the '--opt -1e308' and '--opt=-1e308'
# spellings.
NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)

MAX_COUNT = 10**9
"""Upper end of every count option (frames, steps, repetitions, ...) without a tighter one of its own."""
MAX_SEED = 2**32 - 1
POWER_DBM_RANGE = (-30.0, 80.0)
"""Transmit powers accepted on the command line: the scenario's ``budget.power_dbm`` range."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (``issc <cmd>: error: ...``), exit code 2, and negative numbers
    in any notation (``-1e308``, ``-inf``, ``-8:16:1``) taken as values."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_VALUE

    def error(self, message):
        message = " ".join(str(message).split())  # one line, whatever argparse composed
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


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


def float_in(lo: float, hi: float, unit: str = ""):
    """Argument type: a finite number in ``[lo, hi]`` (the message names the range and ``unit``)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> float:
        value = finite_float(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{_fmt(lo)}, {_fmt(hi)}]{suffix}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # also Python's limit on the digits of an int
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(f"not an integer: {shown!r}") from None


def int_in(lo: int, hi: int):
    """Argument type: an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        value = _integer(text)
        if not lo <= value <= hi:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}], got {shown!r}")
        return value

    parse.__name__ = "integer"
    return parse


def positive_int(text: str) -> int:
    """A count: an integer in ``[1, MAX_COUNT]``."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_COUNT}, got {text[:40]!r}")
    return value


seed_int = int_in(0, MAX_SEED)
"""Argument type of every ``--seed``: NumPy's and torch's generators take seeds in [0, 2^32 - 1]."""


def power_dbm(text: str) -> float:
    """A transmit power in dBm within :data:`POWER_DBM_RANGE`."""
    return float_in(*POWER_DBM_RANGE, "dBm")(text)


def add_scenario_argument(parser, required: bool = True):
    parser.add_argument(
        "--scenario",
        "-s",
        required=required,
        default=None if required else "paper",
        metavar="S",
        help="shipped scenario name (e.g. 'paper') or path to a YAML file",
    )


def guarded(handler):
    """A command handler whose file-system errors about a path (``OSError`` with a file name: too long, no
    permission, no space left, a folder where a file was expected, ...) end as a one-line
    :class:`IsscInputError` naming the path, like every other bad input; other errors pass unchanged."""

    @functools.wraps(handler)
    def run(args):
        try:
            return handler(args)
        except IsscInputError:
            raise
        except OSError as exc:
            if exc.filename is None:
                raise
            name = str(exc.filename)
            shown = name if len(name) <= 200 else name[:197] + "..."
            raise IsscInputError(f"'{shown}': {exc.strerror or exc}") from None

    return run


def print_json(value) -> None:
    json.dump(jsonable(value), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def fail(message: str):
    raise IsscInputError(message)


def max_workers() -> int:
    """Most local worker processes ``--workers`` accepts: four per core (more only thrash)."""
    return max(4, 4 * (os.cpu_count() or 1))


def workers_int(text: str) -> int:
    return int_in(1, max_workers())(text)


def add_parallel_arguments(parser) -> None:
    """``--workers N`` / ``--scheduler tcp://HOST:PORT`` of the commands that run points on Dask (docs/cluster.md)."""
    group = parser.add_argument_group("parallel (Dask distributed, docs/cluster.md)")
    group.add_argument(
        "--workers",
        type=workers_int,
        default=None,
        metavar="N",
        help=f"local worker processes, at most {max_workers()} (default: the cores)",
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


# -- files given on the command line ---------------------------------------------------------------------
def output_file(path, what: str = "--out") -> Path:
    """Check, before any work, that ``path`` can be written as a file (:func:`files.check_output_file`)."""
    from ..files import check_output_file

    return check_output_file(path, what)


def output_dir(path, what: str = "--out") -> Path:
    """Check, before any work, that ``path`` is or can become a writable folder, and create it."""
    from ..files import check_output_dir

    return check_output_dir(path, what)


def plot_file(path, what: str = "--plot") -> Path:
    """:func:`output_file` for a figure: also its suffix must name a format matplotlib writes (or none: PNG)."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = output_file(path, what)
    suffix = path.suffix.lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        fail(f"{what} '{path}': unknown figure format '.{suffix}' (use one of {', '.join(sorted(formats))})")
    return path


def input_dir(path, what: str = "--dir") -> Path:
    """An existing folder given on the command line, else a clean error naming ``what``."""
    path = Path(path)
    if not path.exists():
        fail(f"{what} '{path}': no such folder")
    if not path.is_dir():
        fail(f"{what} '{path}': not a folder")
    return path


def regular_file(path, what: str, max_bytes: int) -> Path:
    """An existing regular file of at most ``max_bytes`` bytes: no folder, device (``/dev/zero``), FIFO or
    a file too large to be what ``what`` names; else a clean error."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        fail(f"{what} '{path}': no such file")
    except OSError as exc:
        fail(f"{what} '{path}': cannot read ({exc.strerror or exc})")
    if stat.S_ISDIR(info.st_mode):
        fail(f"{what} '{path}': is a folder, expected a file")
    if not stat.S_ISREG(info.st_mode):
        fail(f"{what} '{path}': not a regular file")
    if info.st_size > max_bytes:
        fail(f"{what} '{path}': {info.st_size} bytes, more than the {max_bytes} such a file can have")
    return path


def read_input_bytes(path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (checked before and while reading, so a file
    that grows is still bounded)."""
    path = regular_file(path, what, max_bytes)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        fail(f"{what} '{path}': cannot read ({exc.strerror or exc})")
    if len(data) > max_bytes:
        fail(f"{what} '{path}': more than {max_bytes} bytes")
    return data


@contextlib.contextmanager
def reading(what: str):
    """Turn the errors of parsing a user-supplied file (missing, unreadable, not YAML, wrong structure)
    into a clean :class:`IsscInputError` naming ``what``; an IsscInputError passes unchanged."""
    import yaml

    try:
        yield
    except IsscInputError:
        raise
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, KeyError):
            text = f"missing key {exc}"
        fail(f"{what}: cannot use it ({text[:300]})")


def unique(values: list, what: str) -> list:
    """``values`` if no value repeats, else an argparse error naming the repeated one."""
    seen = set()
    for value in values:
        if value in seen:
            raise argparse.ArgumentTypeError(f"{what} {value!r} is given twice")
        seen.add(value)
    return values
