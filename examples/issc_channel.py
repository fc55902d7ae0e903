#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ISSC channels as a process of its own: the transmitted streams from a ZeroMQ PULL socket through
the scenario's communication and echo channels; the communication receiver's samples out on a PUSH
socket (docs/hardware.md "Separate processes (ZeroMQ)"). --sigmf DIR records every stream.

    python examples/issc_channel.py --scenario tradeoff --sigmf recordings

Ends on the receiver's 'done', Ctrl-C or --timeout; prints a JSON summary (samples in and out, samples
lost on the way from the transmitter). Exit codes: 0 done, 1 ended short, 2 bad arguments, 130 Ctrl-C.
"""

import sys

from gnuradio.issc.flowgraphs.processes import channel_main


def main(argv=None):
    return channel_main(argv, prog="issc_channel.py")


if __name__ == "__main__":
    sys.exit(main())
