# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entry point of the ``issc`` command.

Contract: results go to stdout (JSON unless a human format is asked for); bad input gives a one-line
``issc ...: error: ...`` on stderr and exit code 2, never a traceback; Ctrl-C exits with 130.
"""

from __future__ import annotations

import os
import sys

from ..errors import IsscInputError
from . import codec, djscc, experiment, fuzz, link, optim, physics, replay, semantic, sensing, soak
from .common import ArgumentParser

# link, soak, sensing add to optim's 'bench'
COMMAND_MODULES = (physics, optim, sensing, codec, djscc, link, soak, experiment, fuzz, replay, semantic)


def build_parser() -> ArgumentParser:
    from .. import __version__

    parser = ArgumentParser(prog="issc", description="gr-issc: integrated sensing and semantic communication.")
    parser.add_argument("--version", action="version", version=f"gr-issc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv=None) -> int:
    # GNU Radio's stock configuration logs to stdout (gnuradio-runtime.conf: [LOG] log_file = stdout),
    # where the results go: its log goes to stderr unless the user set the preference otherwise. It is
    # read when GNU Radio's logging starts, at the first block, after this.
    os.environ.setdefault("GR_CONF_LOG_LOG_FILE", "stderr")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except IsscInputError as exc:
        sys.stderr.write(f"issc {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("issc: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
