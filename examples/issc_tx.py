#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ISSC transmitter as a process of its own: image source, controller and transmitter; the N_T
antenna streams go out on a ZeroMQ PUSH socket (docs/hardware.md "Separate processes (ZeroMQ)").

    python examples/issc_rx.py --frames 4 --out results_rx &
    python examples/issc_channel.py &
    python examples/issc_tx.py --frames 4

Ends when its frames are sent and the receiver acknowledged them (or --drain runs out); prints a JSON
summary. Exit codes: 0 done, 1 ended short, 2 bad arguments, 130 Ctrl-C.
"""

import sys

from gnuradio.issc.flowgraphs.processes import tx_main


def main(argv=None):
    return tx_main(argv, prog="issc_tx.py")


if __name__ == "__main__":
    sys.exit(main())
