#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ISSC receiver as a process of its own: samples from a ZeroMQ PULL socket, the communication
receiver (configuration from the air only) and the link monitor; writes frames.jsonl, summary.json and
rx_summary.json to --out and sends each frame's acknowledgement back to the transmitter
(docs/hardware.md "Separate processes (ZeroMQ)").

    python examples/issc_rx.py --frames 4 --out results_rx

Ends when the --frames frames are in, or no sample came for --idle seconds, or --timeout; prints a JSON
summary (frames_expected, frames_received, frames_lost, samples_dropped, ...). Exit codes: 0 every frame
received and no sample lost, 1 otherwise, 2 bad arguments, 130 Ctrl-C.
"""

import sys

from gnuradio.issc.flowgraphs.processes import rx_main


def main(argv=None):
    return rx_main(argv, prog="issc_rx.py")


if __name__ == "__main__":
    sys.exit(main())
