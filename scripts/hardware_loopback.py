#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run examples/usrp_tx.grc and examples/usrp_rx.grc without radios: the loopback of docs/hardware.md.

    xvfb-run -a .venv/bin/python scripts/hardware_loopback.py [--frames 4] [--out DIR] [--screenshot PNG]

Both flowgraphs are compiled with grcc and run as two processes, exactly as generated, except that
``gnuradio.uhd`` is replaced by a stand-in (the "radios"):

- the transmitter's ``usrp_sink`` undoes the flowgraph's DAC scale and passes its antenna streams through
  ``issc.channels`` (the scenario's CRE and echo channels), then sends the CRE signal and the echo over
  two more ZeroMQ sockets;
- the receiver's ``usrp_source`` blocks read them (address ``loopback=comm`` or ``loopback=echo``).

The backhaul between the two flowgraphs is theirs (real ZeroMQ on localhost), and so are the PPS and
start-time code paths (the stand-in's PPS ticks with the PC clock). The receiver runs until ``--frames``
frames are in its monitor, prints a summary, saves its window (``--screenshot``) and both end.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import gnuradio

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
DIGITAL_SCALE = 0.1  # the flowgraphs' digital_scale variable


def fake_uhd(scenario: str, port: int):
    """A ``gnuradio.uhd`` stand-in whose radios are the scenario's channels over ZeroMQ (ports ``port``:
    the CRE signal, ``port + 1``: the echo streams as one vector)."""
    import numpy as np
    from gnuradio import blocks, gr, issc, zeromq

    from gnuradio.issc.scenario import load_scenario

    scn = load_scenario(scenario)
    n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx

    class TimeSpec:
        def __init__(self, secs=0.0):
            self.secs = float(secs)

        def get_real_secs(self):
            return self.secs

        def to_int(self):
            return int(self.secs)

    class Radio:
        """The radio controls the generated code calls: accepted and ignored (the PPS ticks with the PC)."""

        def get_time_last_pps(self, *args):
            return TimeSpec(np.floor(time.time()))

        def get_mboard_sensor(self, *args):
            return TimeSpec(np.floor(time.time()))

        def __getattr__(self, name):  # first in the MRO, before hier_block2's delegation to its C++ block
            if name.startswith("set_"):
                return lambda *args, **kwargs: None
            return super().__getattr__(name)

    class usrp_sink(Radio, gr.hier_block2):
        def __init__(self, address, stream_args, length_tag_name=""):
            nchan = len(stream_args.channels)
            gr.hier_block2.__init__(
                self, "loopback_sink", gr.io_signature(nchan, nchan, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0)
            )
            if nchan != n_tx:
                raise ValueError(f"the loopback sink has {nchan} channels, the scenario {n_tx} antennas")
            self.unscale = [blocks.multiply_const_cc(1.0 / DIGITAL_SCALE) for _ in range(nchan)]
            self.channels = issc.channels(scn, seed=1, n_tx=n_tx, n_rx=n_rx)
            self.comm = zeromq.push_sink(gr.sizeof_gr_complex, 1, f"tcp://127.0.0.1:{port}", 100, False, -1)
            self.echo_vector = blocks.streams_to_vector(gr.sizeof_gr_complex, n_rx)
            self.echo = zeromq.push_sink(gr.sizeof_gr_complex * n_rx, 1, f"tcp://127.0.0.1:{port + 1}", 100, True, -1)
            for k in range(nchan):
                self.connect((self, k), self.unscale[k], (self.channels, k))
            self.connect((self.channels, 0), self.comm)
            for k in range(n_rx):
                self.connect((self.channels, 1 + k), (self.echo_vector, k))
            self.connect(self.echo_vector, self.echo)

    class usrp_source(Radio, gr.hier_block2):
        def __init__(self, address, stream_args):
            nchan = len(stream_args.channels)
            gr.hier_block2.__init__(
                self, "loopback_source", gr.io_signature(0, 0, 0), gr.io_signature(nchan, nchan, gr.sizeof_gr_complex)
            )
            if "comm" in address:
                self.pull = zeromq.pull_source(gr.sizeof_gr_complex, 1, f"tcp://127.0.0.1:{port}", 100, False, -1)
                self.connect(self.pull, self)
            else:
                if nchan != n_rx:
                    raise ValueError(f"the loopback sensing source has {nchan} channels, the scenario {n_rx}")
                self.pull = zeromq.pull_source(
                    gr.sizeof_gr_complex * n_rx, 1, f"tcp://127.0.0.1:{port + 1}", 100, True, -1
                )
                self.split = blocks.vector_to_streams(gr.sizeof_gr_complex, n_rx)
                self.connect(self.pull, self.split)
                for k in range(nchan):
                    self.connect((self.split, k), (self, k))

    def stream_args(cpu_format="fc32", otw_format="", args="", channels=()):
        return types.SimpleNamespace(cpu_format=cpu_format, channels=list(channels))

    module = types.ModuleType("gnuradio.uhd")
    module.usrp_sink, module.usrp_source, module.stream_args, module.time_spec = (
        usrp_sink,
        usrp_source,
        stream_args,
        TimeSpec,
    )
    module.ALL_MBOARDS, module.ALL_LOS = -1, "all"
    return module


def run_role(role: str, workdir: Path, args) -> int:
    """Build and run one generated flowgraph with the stand-in radios (a child process)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5 import QtWidgets

    module = fake_uhd(str(ROOT / "examples" / "hardware_2x2.yml"), args.radio_port)
    gnuradio.uhd = module
    sys.modules["gnuradio.uhd"] = module
    sys.path.insert(0, str(workdir))
    os.chdir(ROOT / "examples")  # as GRC runs a flowgraph: next to the .grc (scenario path)
    app = QtWidgets.QApplication(sys.argv[:1])
    generated = __import__(f"usrp_{role}")
    options = generated.argument_parser().parse_args(
        ["--start-time", str(args.start_time), "--backhaul-port", str(args.backhaul_port)]
        + (["--dev-addr", "loopback"] if role == "tx" else ["--sensing-addr", "loopback=echo"])
        + ([] if role == "tx" else ["--comm-addr", "loopback=comm", "--frames", str(args.frames)])
        + ([] if role == "tx" else ["--out-dir", str(args.out)])
    )
    tb = getattr(generated, f"usrp_{role}")(**{k: v for k, v in vars(options).items()})
    tb.resize(1300, 1100)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    tb.start()
    tb.show()
    started = time.monotonic()
    try:
        while not stop and time.monotonic() - started < args.timeout:
            app.processEvents()
            time.sleep(0.02)
            if role == "rx" and len(tb.monitor.ledger.rows) >= args.frames:
                break
        if role == "rx":
            for _ in range(20):  # the views' last redraw
                app.processEvents()
                time.sleep(0.02)
            if args.screenshot:
                sys.path.insert(0, str(ROOT / "scripts"))
                from gui_screenshots import save_png

                print(f"screenshot: {save_png(tb, Path(args.screenshot), 1000)} bytes")
            rows = list(tb.monitor.ledger.rows)
            keys = ("seq", "model", "rate", "sinr_db", "header_ok", "ber", "psnr", "ms_ssim", "sensing_error_m")
            print(json.dumps({"seconds": round(time.monotonic() - started, 1), "estimates": tb.estimator.estimates,
                              "sensing_samples": tb.estimator.samples_seen,
                              "rows": [{k: r.get(k) for k in keys} for r in rows]}, indent=1))  # fmt: skip
    finally:
        tb.stop()
        tb.wait()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", default="", help="the receiver's monitor directory (default: a temporary one)")
    parser.add_argument("--screenshot", default="", help="save the receiver's window here (PNG)")
    parser.add_argument("--backhaul-port", type=int, default=5555)
    parser.add_argument("--radio-port", type=int, default=5565)
    parser.add_argument("--role", choices=("tx", "rx"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--start-time", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        return run_role(args.role, Path(args.workdir), args)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GRC_BLOCKS_PATH=str(ROOT / "grc"))
        for name in ("usrp_tx", "usrp_rx"):
            subprocess.run(["grcc", "-o", tmp, str(ROOT / "examples" / f"{name}.grc")], check=True, env=env,
                           capture_output=True)  # fmt: skip
        out = args.out or str(Path(tmp) / "results")
        common = [__file__, "--workdir", tmp, "--start-time", str(int(time.time()) + 8), "--frames", str(args.frames),
                  "--timeout", str(args.timeout), "--backhaul-port", str(args.backhaul_port),
                  "--radio-port", str(args.radio_port)]  # fmt: skip
        receiver = subprocess.Popen(
            [sys.executable, *common, "--role", "rx", "--out", out]
            + (["--screenshot", str(Path(args.screenshot).resolve())] if args.screenshot else [])
        )
        time.sleep(2)  # the receiver's PULL sockets connect first (a PUSH socket without a peer blocks)
        transmitter = subprocess.Popen([sys.executable, *common, "--role", "tx"])
        try:
            deadline = time.monotonic() + args.timeout + 120
            while receiver.poll() is None and time.monotonic() < deadline:
                if transmitter.poll() not in (None, 0):  # the transmitter failed: nothing will arrive
                    receiver.send_signal(signal.SIGTERM)
                time.sleep(0.5)
            code = receiver.wait(timeout=60) or (transmitter.poll() or 0)
        finally:
            transmitter.send_signal(signal.SIGTERM)
            try:
                transmitter.wait(timeout=60)
            except subprocess.TimeoutExpired:
                transmitter.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
