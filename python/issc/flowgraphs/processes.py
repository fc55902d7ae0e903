# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The link as three processes joined by ZeroMQ (docs/hardware.md "Separate processes (ZeroMQ)"):
``examples/issc_tx.py``, ``examples/issc_channel.py`` and ``examples/issc_rx.py`` are thin wrappers
of :func:`tx_main`, :func:`channel_main` and :func:`rx_main`; the top blocks are :class:`TxProcess`,
:class:`ChannelProcess` and :class:`RxProcess`::

    TxProcess                      ChannelProcess                          RxProcess
    image_source -> transmitter    pull -> check -> channels -> stamp     pull -> check -> comm_receiver
      N_T streams -> stamp -> PUSH ====> (N_T vector)    | echo: null    PUSH ====>          |
       ^ controller                                         (or SigMF)                  link_monitor
       +-- SUB <======================== SUB <=========================== PUB (acks, done)  (receive-only)

Samples go over PUSH/PULL sockets (lossless: a full high-water mark blocks the sender rather than
dropping), with the tags serialised (``pass_tags``): the transmitter's ``issc_frame`` tags reach the
channel (its SigMF annotations), never the receiver (the channel strips them), which works from the air
alone. Every hop is stamped and checked by :class:`~gnuradio.issc.blocks.sample_counter.sample_counter`,
so samples lost between the processes are counted and reported, never silent. The return link is a
PUB/SUB message socket: the receiver publishes each frame's row (sequence number, measured SINR,
received or not: the acknowledgement a real return link would carry) and, at its end, ``{done}``; the
transmitter reports the acknowledgements and ends once they cover its frames, the channel ends on
``done``. PUB never blocks the receiver (a message with no subscriber is dropped: the transmitter counts
the frames it got no acknowledgement for).

Every address defaults to the loopback interface (127.0.0.1); the sample sinks and the receiver's PUB
bind, the others connect, so the processes can start in any order.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pmt
from gnuradio import blocks, gr

from ..errors import IsscInputError
from ..files import atomic_write_json, check_output_dir
from ..jsonutil import jsonable
from ..link.pdus import meta_to_dict
from ..link.waveform import Waveform
from ..scenario import load_scenario

DEFAULT_TX_ADDRESS = "tcp://127.0.0.1:5555"
"""Transmitter -> channel samples (the transmitter binds)."""
DEFAULT_CHANNEL_ADDRESS = "tcp://127.0.0.1:5556"
"""Channel -> receiver samples (the channel binds)."""
DEFAULT_FEEDBACK_ADDRESS = "tcp://127.0.0.1:5557"
"""Receiver -> transmitter and channel: acknowledgements and the end (the receiver binds)."""
ZMQ_TIMEOUT_MS = 100
STAMP_INTERVAL = 4096
POLL_S = 0.02
STOP_TIMEOUT_S = 15.0
"""A flowgraph that does not stop within this long (a sender blocked on a peer that is gone) is left to
the process exit."""


def _check_address(address: str, what: str) -> str:
    if "://" not in str(address):
        raise IsscInputError(f"{what} {address!r}: not a ZeroMQ address (e.g. tcp://127.0.0.1:5555)")
    return str(address)


def _zeromq():
    from gnuradio import zeromq

    return zeromq


def _messages(debug) -> list[dict]:
    """The dict messages a ``message_debug`` stored (others skipped)."""
    out = []
    for i in range(debug.num_messages()):
        msg = debug.get_message(i)
        if pmt.is_dict(msg):
            try:
                out.append(meta_to_dict(msg))
            except IsscInputError:
                continue
    return out


class _Process:
    """The run loop the three top blocks share: poll until done, Ctrl-C/SIGTERM, or a timeout; stop
    within a bound."""

    def _init_process(self):
        self._interrupted = threading.Event()
        self.end_reason = None
        self.elapsed_s = 0.0
        self.stopped_cleanly = True

    def interrupt(self):
        """Ask the run to end (e.g. from a signal handler)."""
        self._interrupted.set()

    def _poll(self, done, deadline: float) -> str:
        while True:
            reason = done()
            if reason:
                return reason
            if self._interrupted.is_set():
                return "interrupted"
            if time.monotonic() >= deadline:
                return "timeout"
            self._interrupted.wait(POLL_S)

    def _stop(self) -> None:
        """``stop()`` and ``wait()``, bounded: a sink blocked on a vanished peer must not hang the process."""
        worker = threading.Thread(target=lambda: (self.stop(), self.wait()), name="issc-stop", daemon=True)
        worker.start()
        worker.join(STOP_TIMEOUT_S)
        self.stopped_cleanly = not worker.is_alive()


class TxProcess(gr.top_block, _Process):
    """The transmitting end: image source, controller and transmitter; the ``N_T`` antenna streams go out
    as one vector stream on a PUSH socket (tags included). The frame encoder ends its stream after
    ``frames`` frames; the process then waits (at most ``drain_s``) for the receiver's acknowledgements
    of every frame or its ``done``, so no sample still queued in the socket is lost at exit. The
    controller runs in mode known-geometry (tracking needs the echo, which is at the channel process).

    Args:
        scenario: shipped scenario name or YAML path.
        frames: images to send.
        zmq_out: address the samples are pushed on (bound).
        feedback: the receiver's acknowledgement address (connected; '' for no return link).
        sigmf_dir: also record the ``N_T`` transmitted streams there ('' for none).
        stamp_interval: items between the sample counter's stamps.
        others: as :class:`~gnuradio.issc.flowgraphs.link.IsscLink`.
    """

    def __init__(
        self,
        scenario="tradeoff",
        frames: int = 8,
        zmq_out: str = DEFAULT_TX_ADDRESS,
        feedback: str = DEFAULT_FEEDBACK_ADDRESS,
        images="",
        size: int = 0,
        seed: int = 0,
        solver: str = "sdr",
        metric: str = "mse",
        schedule=None,
        profile: str = "",
        codec_dir: str = "",
        ber_model: str = "calibrated",
        scheme: str = "ascc",
        abr: float | None = None,
        djscc_dir: str = "",
        sigmf_dir: str = "",
        stamp_interval: int = STAMP_INTERVAL,
    ):
        gr.top_block.__init__(self, "issc_tx")
        self._init_process()
        zmq_out = _check_address(zmq_out, "--zmq-out")
        if feedback:
            _check_address(feedback, "--zmq-feedback")
        self.scenario = scn = load_scenario(scenario)
        self.frames = int(frames)
        n_tx = scn.arrays.n_tx
        from ..blocks.controller import controller
        from ..blocks.image_source import image_source
        from ..blocks.sample_counter import sample_counter
        from ..blocks.sigmf_recorder import sigmf_recorder
        from ..blocks.transmitter import transmitter

        self.controller = controller(
            scn,
            profile,
            solver,
            metric,
            abr=math.nan if abr is None else abr,
            schedule=schedule,
            ber_model=ber_model,
            mode="known-geometry",
            scheme=scheme,
            djscc_dir=djscc_dir,
        )
        streams = self.controller.current.sensing_streams
        self.image_source = image_source(images, frames, preload=2, size=size)
        wave = Waveform.from_scenario(scn).block_args()  # the scenario's pulse shape
        self.transmitter = transmitter(
            n_tx, streams, scheme, codec_dir, djscc_dir, scn.signal.blocklength, seed=seed, **wave
        )
        self._frame_limit = getattr(self.frame_encoder, "set_frame_limit", None)
        if self._frame_limit is not None:
            self._frame_limit(self.frames)  # the stream ends once the frames are on the air
        self.to_vector = blocks.streams_to_vector(gr.sizeof_gr_complex, n_tx)
        self.stamp = sample_counter("stamp", n_tx, stamp_interval)
        zeromq = _zeromq()
        self.sink = zeromq.push_sink(gr.sizeof_gr_complex, n_tx, zmq_out, ZMQ_TIMEOUT_MS, True, -1)
        self.msg_connect(self.image_source, "out", self.transmitter, "image")
        self.msg_connect(self.controller, "config", self.transmitter, "config")
        self.msg_connect(self.transmitter, "sent", self.image_source, "next")
        self.msg_connect(self.transmitter, "sent", self.controller, "feedback")
        for k in range(n_tx):
            self.connect((self.transmitter, k), (self.to_vector, k))
        self.connect(self.to_vector, self.stamp, self.sink)
        self.recorder = None
        if sigmf_dir:
            self.recorder = sigmf_recorder(sigmf_dir, "tx", n_tx, scn, scheme=scheme, run_id="issc_tx")
            for k in range(n_tx):
                self.connect((self.transmitter, k), (self.recorder, k))
        # the return link runs in a top block of its own: it must outlive the transmit stream's end
        self.feedback = None
        if feedback:
            self.feedback = gr.top_block("issc_tx_feedback")
            self.feedback_source = zeromq.sub_msg_source(feedback, ZMQ_TIMEOUT_MS, False)
            self.acks = blocks.message_debug()
            self.feedback.msg_connect(self.feedback_source, "out", self.acks, "store")

    frame_encoder = property(lambda self: self.transmitter.frame_encoder, doc="the transmitter's frame encoder")

    def feedback_messages(self) -> tuple[list[dict], bool]:
        """``(acknowledged rows, receiver done)`` received so far on the return link."""
        if self.feedback is None:
            return [], False
        messages = _messages(self.acks)
        return [m for m in messages if "seq" in m and "done" not in m], any(m.get("done") for m in messages)

    def _sent_all(self) -> bool:
        """Every frame on the air and every sample handed to the socket."""
        wanted = self.frames - self.image_source.failed
        if self._frame_limit is not None and 0 < wanted != self.frame_encoder.frame_limit:
            self._frame_limit(wanted)  # an image that failed when due never becomes a frame
        encoder = self.frame_encoder
        return (
            encoder.frames_sent >= wanted
            and encoder.idle_now
            and self.sink.nitems_read(0) >= encoder.symbols_sent
            and self.stamp.items >= encoder.symbols_sent
        )

    def run_process(self, timeout_s: float = 1800.0, drain_s: float = 60.0) -> dict:
        """Send the frames, wait for their acknowledgements (at most ``drain_s`` after the last sample
        went out), stop; returns the summary."""
        started = time.monotonic()
        deadline = started + float(timeout_s)
        if self.feedback is not None:
            self.feedback.start()
        self.start()
        try:
            reason = self._poll(lambda: "sent" if self._sent_all() else None, deadline)
            if reason == "sent":
                drain_end = min(deadline, time.monotonic() + float(drain_s))

                def acknowledged():  # without a return link: wait the whole drain
                    rows, done = self.feedback_messages()
                    acked = {r["seq"] for r in rows}
                    if self.feedback is not None and (
                        done or all(s in acked for s in range(self.frame_encoder.frames_sent))
                    ):
                        return "complete"
                    return None

                reason = self._poll(acknowledged, drain_end)
                if reason == "timeout" and time.monotonic() < deadline:
                    reason = "complete" if self.feedback is None else "unacknowledged"
        finally:
            self._stop()
            if self.feedback is not None:
                self.feedback.stop()
                self.feedback.wait()
        self.end_reason = reason
        self.elapsed_s = time.monotonic() - started
        rows, done = self.feedback_messages()
        acked = {}
        for row in rows:
            acked.setdefault(row["seq"], row)
        sent = self.frame_encoder.frames_sent
        sinrs = [r["sinr_db"] for r in acked.values() if isinstance(r.get("sinr_db"), (int, float))]
        return jsonable(
            {
                "process": "tx",
                "frames_requested": self.frames,
                "frames_sent": sent,
                "samples_sent": self.frame_encoder.symbols_sent,
                "stamps": self.stamp.stamps,
                "return_link": self.feedback is not None,
                "acks": len(acked),
                "frames_acked_received": sum(1 for r in acked.values() if r.get("received")),
                "acks_missing": [s for s in range(sent) if s not in acked] if self.feedback is not None else None,
                "ack_mean_sinr_db": sum(sinrs) / len(sinrs) if sinrs else None,
                "receiver_done": done,
                "images_failed": self.image_source.failed,
                "end_reason": reason,
                "complete": reason == "complete" and sent >= self.frames,
                "interrupted": reason == "interrupted",
                "stopped_cleanly": self.stopped_cleanly,
                "elapsed_s": self.elapsed_s,
            }
        )


class ChannelProcess(gr.top_block, _Process):
    """The channels between the processes: the ``N_T`` transmitted streams from a PULL socket through
    the scenario's communication and echo channels; the communication receiver's input goes out on a
    PUSH socket (re-stamped: the channel strips every tag), the echo streams to null sinks (or SigMF
    recordings). Ends on the receiver's ``done``, Ctrl-C/SIGTERM or the timeout.

    Args:
        scenario: shipped scenario name or YAML path (the transmitter's).
        zmq_in: the transmitter's address (connected).
        zmq_out: address the receiver's samples are pushed on (bound).
        feedback: the receiver's address (connected; '' to run until stopped).
        seed: seed of the noises and sync errors (the same as :class:`IsscLink` with ``seed - 1``).
        sigmf_dir: record the transmitted streams, the receiver's input and the echo streams there ('' none).
        stamp_interval: items between the sample counter's stamps.
    """

    def __init__(
        self,
        scenario="tradeoff",
        zmq_in: str = DEFAULT_TX_ADDRESS,
        zmq_out: str = DEFAULT_CHANNEL_ADDRESS,
        feedback: str = DEFAULT_FEEDBACK_ADDRESS,
        seed: int = 1,
        sigmf_dir: str = "",
        stamp_interval: int = STAMP_INTERVAL,
    ):
        gr.top_block.__init__(self, "issc_channel")
        self._init_process()
        zmq_in, zmq_out = _check_address(zmq_in, "--zmq-in"), _check_address(zmq_out, "--zmq-out")
        if feedback:
            _check_address(feedback, "--zmq-feedback")
        self.scenario = scn = load_scenario(scenario)
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        from ..blocks.channels import channels
        from ..blocks.sample_counter import sample_counter
        from ..blocks.sigmf_recorder import sigmf_recorder

        zeromq = _zeromq()
        self.source = zeromq.pull_source(gr.sizeof_gr_complex, n_tx, zmq_in, ZMQ_TIMEOUT_MS, True, -1)
        self.check = sample_counter("check", n_tx, stamp_interval)
        self.to_streams = blocks.vector_to_streams(gr.sizeof_gr_complex, n_tx)
        self.channels = channels(scn, seed=seed)
        self.stamp = sample_counter("stamp", 1, stamp_interval)
        self.sink = zeromq.push_sink(gr.sizeof_gr_complex, 1, zmq_out, ZMQ_TIMEOUT_MS, True, -1)
        self.connect(self.source, self.check, self.to_streams)
        for k in range(n_tx):
            self.connect((self.to_streams, k), (self.channels, k))
        self.connect((self.channels, 0), self.stamp, self.sink)
        self.msg_connect(self.check, "dropped", self.stamp, "dropped")  # the receiver learns of this hop's drops
        self.recorders = []
        if sigmf_dir:
            self.recorders = [
                sigmf_recorder(sigmf_dir, "tx", n_tx, scn, run_id="issc_channel"),
                sigmf_recorder(sigmf_dir, "comm_rx", 1, scn, run_id="issc_channel"),
                sigmf_recorder(sigmf_dir, "echo", n_rx, scn, run_id="issc_channel"),
            ]
            for k in range(n_tx):
                self.connect((self.to_streams, k), (self.recorders[0], k))
            self.connect((self.channels, 0), self.recorders[1])
            for k in range(n_rx):
                self.connect((self.channels, 1 + k), (self.recorders[2], k))
        else:
            self.echo_sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(n_rx)]
            for k in range(n_rx):
                self.connect((self.channels, 1 + k), self.echo_sinks[k])
        self.feedback = None
        if feedback:
            self.feedback = zeromq.sub_msg_source(feedback, ZMQ_TIMEOUT_MS, False)
            self.feedback_store = blocks.message_debug()
            self.msg_connect(self.feedback, "out", self.feedback_store, "store")

    def receiver_done(self) -> bool:
        return self.feedback is not None and any(m.get("done") for m in _messages(self.feedback_store))

    def run_process(self, timeout_s: float = 1800.0) -> dict:
        """Run until the receiver is done (or Ctrl-C, or the timeout); returns the summary."""
        started = time.monotonic()
        self.start()
        try:
            reason = self._poll(lambda: "complete" if self.receiver_done() else None, started + float(timeout_s))
        finally:
            self._stop()
        self.end_reason = reason
        self.elapsed_s = time.monotonic() - started
        return jsonable(
            {
                "process": "channel",
                "samples_in": self.check.items,
                "samples_out": self.stamp.items,
                "samples_dropped": self.check.dropped,
                "stamps_checked": self.check.stamps,
                "end_reason": reason,
                "complete": reason == "complete",
                "interrupted": reason == "interrupted",
                "stopped_cleanly": self.stopped_cleanly,
                "elapsed_s": self.elapsed_s,
            }
        )


class RxProcess(gr.top_block, _Process):
    """The receiving end: samples from a PULL socket, the communication receiver, and the link monitor
    in receive-only mode (``frames.jsonl``, ``summary.json``; configuration from the air only, PSNR
    against ``images``). Each row goes back on the return link (PUB) as the frame's acknowledgement.
    Ends when every frame up to ``frames`` is in, when no sample came for ``idle_s`` (the transmitter is
    done; what never came is lost), on Ctrl-C/SIGTERM or the timeout; then publishes ``{done}``.

    Args:
        scenario: shipped scenario name or YAML path (the frames' blocklength).
        frames: frames the transmitter sends.
        zmq_in: the channel's address (connected).
        feedback: address the acknowledgements are published on (bound; '' for none).
        out_dir: where the monitor writes ('' for nowhere).
        images: the transmitter's images, for PSNR ('' for the shipped test images, None for none).
        size: the transmitter's crop size.
        scheme, codec_dir, djscc_dir: the receiver's decoder (as the transmitter's).
        sigmf_dir: also record the received samples there ('' for none).
        stamp_interval: unused by the checker (it reads the stamps); kept for symmetry.
    """

    def __init__(
        self,
        scenario="tradeoff",
        frames: int = 8,
        zmq_in: str = DEFAULT_CHANNEL_ADDRESS,
        feedback: str = DEFAULT_FEEDBACK_ADDRESS,
        out_dir: str = "",
        images="",
        size: int = 0,
        scheme: str = "ascc",
        codec_dir: str = "",
        djscc_dir: str = "",
        sigmf_dir: str = "",
        stamp_interval: int = STAMP_INTERVAL,
    ):
        gr.top_block.__init__(self, "issc_rx")
        self._init_process()
        zmq_in = _check_address(zmq_in, "--zmq-in")
        if feedback:
            _check_address(feedback, "--zmq-feedback")
        self.scenario = scn = load_scenario(scenario)
        self.frames = int(frames)
        from ..blocks.comm_receiver import comm_receiver
        from ..blocks.image_source import ImageCycle
        from ..blocks.link_monitor import link_monitor
        from ..blocks.sample_counter import sample_counter
        from ..blocks.sigmf_recorder import sigmf_recorder

        reference = None if images is None else ImageCycle(images, size)
        zeromq = _zeromq()
        self.source = zeromq.pull_source(gr.sizeof_gr_complex, 1, zmq_in, ZMQ_TIMEOUT_MS, True, -1)
        self.check = sample_counter("check", 1, stamp_interval)
        wave = Waveform.from_scenario(scn).block_args()  # the scenario's pulse shape
        self.receiver = comm_receiver(scheme, codec_dir, djscc_dir, scn.signal.blocklength, **wave)
        self.monitor = link_monitor(out_dir, expect_sensing=False)
        self.monitor.ledger.configure(
            receive_only=True, reference=None if reference is None else (lambda seq: reference.image(seq)[1])
        )
        self.connect(self.source, self.check, self.receiver)
        self.msg_connect(self.receiver, "bits", self.monitor, "received_bits")
        self.msg_connect(self.receiver, "header_failed", self.monitor, "header_failed")
        self.msg_connect(self.receiver, "image", self.monitor, "received_image")
        self.feedback = None
        if feedback:
            self.feedback = zeromq.pub_msg_sink(feedback, ZMQ_TIMEOUT_MS, True)
            self.msg_connect(self.monitor, "frame", self.feedback, "in")
        self.recorder = None
        if sigmf_dir:
            self.recorder = sigmf_recorder(sigmf_dir, "comm_rx", 1, scn, scheme=scheme, run_id="issc_rx")
            self.connect(self.check, self.recorder)

    frame_decoder = property(lambda self: self.receiver.frame_decoder, doc="the receiver's frame decoder")
    semantic_decoder = property(lambda self: self.receiver.semantic_decoder, doc="the receiver's source decoder")

    def received_seqs(self) -> set[int]:
        return {r["seq"] for r in list(self.monitor.ledger.rows) if r.get("received")}

    def caught_up(self) -> bool:
        """Every sample in so far through the decoder, and every decoder message handled by the monitor."""
        handled = self.monitor.messages_handled
        receiver = self.frame_decoder.receiver
        return (
            receiver.samples_pushed >= self.check.items
            and self.semantic_decoder.frames_decoded >= receiver.frames_decoded
            and handled.get("received_bits", 0) >= receiver.frames_decoded
            and handled.get("received_image", 0) >= self.semantic_decoder.frames_decoded
            and handled.get("header_failed", 0) >= receiver.headers_failed
            and self.monitor.rows_published >= self.semantic_decoder.frames_decoded
        )

    def run_process(self, timeout_s: float = 1800.0, idle_s: float = 30.0) -> dict:
        """Receive until every frame is in (or the stream went idle, Ctrl-C, the timeout); returns the summary."""
        started = time.monotonic()
        state = {"items": 0, "moved": started}

        def done():
            if self.frames and all(s in self.received_seqs() for s in range(self.frames)) and self.caught_up():
                return "complete"
            now = time.monotonic()
            if self.check.items != state["items"]:
                state["items"], state["moved"] = self.check.items, now
            elif state["items"] and now - state["moved"] >= idle_s and self.caught_up():
                return "idle"
            return None

        self.start()
        try:
            reason = self._poll(done, started + float(timeout_s))
            if self.feedback is not None:  # tell the transmitter and the channel; PUB never blocks
                self.feedback._post(pmt.intern("in"), pmt.to_pmt({"done": True}))
                flushed = time.monotonic() + 5.0  # the acknowledgements queued before it go first
                while self.feedback.nmsgs(pmt.intern("in")) and time.monotonic() < flushed:
                    time.sleep(POLL_S)
                time.sleep(0.2)  # the socket's I/O thread sends it
        finally:
            self._stop()
        self.end_reason = reason
        self.elapsed_s = time.monotonic() - started
        monitor = dict(getattr(self.monitor, "summary", {}))
        received = self.received_seqs()
        expected = range(self.frames)
        lost = [s for s in expected if s not in received]
        return jsonable(
            {
                "process": "rx",
                "frames_expected": self.frames,
                "frames_received": sum(1 for s in expected if s in received),
                "frames_lost": len(lost),
                "lost_seqs": lost,
                "headers_failed": monitor.get("headers_failed", self.frame_decoder.receiver.headers_failed),
                "samples_received": self.check.items,
                "samples_dropped": self.check.dropped,
                "samples_dropped_last_hop": self.check.hop_dropped,
                "stamps_checked": self.check.stamps,
                "mean_sinr_db": monitor.get("mean_sinr_db"),
                "mean_psnr": monitor.get("mean_psnr"),
                "models": monitor.get("models"),
                "end_reason": reason,
                "complete": reason == "complete" and not lost and self.check.dropped == 0,
                "interrupted": reason == "interrupted",
                "stopped_cleanly": self.stopped_cleanly,
                "elapsed_s": self.elapsed_s,
            }
        )


# -- command lines ----------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _abr(text: str) -> float:
    try:
        num, _, den = text.partition("/")
        value = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number or a fraction like 1/32, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def schedule_arg(text: str) -> list:
    """``'FRAME:POWER_DBM[:PI_M2],...'`` -> ``[(frame, power, pi or None), ...]`` (examples/issc_link.py's)."""
    steps = []
    for item in filter(None, text.split(",")):
        parts = item.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            steps.append((int(parts[0]), float(parts[1]), float(parts[2]) if len(parts) == 3 else None))
        except ValueError:
            raise argparse.ArgumentTypeError(f"schedule step '{item}' must be FRAME:POWER_DBM[:PI_M2]") from None
    return steps


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--scenario", default="tradeoff", help="shipped scenario name or YAML file (default tradeoff)")
    return p


def _decoder_arguments(p) -> None:
    p.add_argument("--scheme", choices=("ascc", "djscc"), default="ascc", help="ascc (default) or djscc")
    p.add_argument("--codec-dir", default="", help="codec family directory (default: shipped)")
    p.add_argument("--djscc-dir", default="", help="DJSCC model directory (default: shipped)")


def _run_arguments(p, what: str) -> None:
    p.add_argument("--timeout", type=_positive_float, default=1800.0, help=f"give up after S seconds ({what})")
    p.add_argument("--sigmf", default="", metavar="DIR", help="also write SigMF recordings of the streams to DIR")
    p.add_argument("--stamp-interval", type=_positive_int, default=STAMP_INTERVAL, help=argparse.SUPPRESS)


def tx_parser(prog: str = "issc_tx.py") -> argparse.ArgumentParser:
    p = _parser(prog, "The ISSC transmitter as a process: frames out on a ZeroMQ PUSH socket.")
    p.add_argument("--frames", type=_positive_int, default=8, help="images to send (default 8)")
    p.add_argument("--images", default="", metavar="DIR|FILE", help="images (default: shipped test images)")
    p.add_argument("--size", type=int, default=0, help="crop images to SIZE x SIZE (default: as they are)")
    p.add_argument("--seed", type=int, default=0)
    _decoder_arguments(p)
    p.add_argument("--solver", choices=("sdr", "paper", "zf-wf"), default="sdr")
    p.add_argument("--metric", choices=("mse", "ms_ssim"), default="mse")
    p.add_argument("--ber-model", choices=("calibrated", "normal"), default="calibrated")
    p.add_argument("--abr", type=_abr, default=None, help="bandwidth ratio, e.g. 1/32 (default: the scenario's)")
    p.add_argument("--schedule", type=schedule_arg, default=[], help="FRAME:POWER_DBM[:PI_M2],... (default: none)")
    p.add_argument("--profile", default="", help="codec profile (default: shipped)")
    p.add_argument("--zmq-out", default=DEFAULT_TX_ADDRESS, metavar="ADDR", help=f"bind (default {DEFAULT_TX_ADDRESS})")
    p.add_argument(
        "--zmq-feedback",
        default=DEFAULT_FEEDBACK_ADDRESS,
        metavar="ADDR",
        help=f"the receiver's acknowledgements (default {DEFAULT_FEEDBACK_ADDRESS}; '' for none)",
    )
    p.add_argument(
        "--drain",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="after the last frame, wait at most S seconds for its acknowledgement (default 60)",
    )
    _run_arguments(p, "default 1800")
    return p


def channel_parser(prog: str = "issc_channel.py") -> argparse.ArgumentParser:
    p = _parser(prog, "The ISSC channels as a process: transmitted streams in, the receiver's samples out.")
    p.add_argument("--seed", type=int, default=1, help="noise seed (default 1: issc_link.py --seed 0's)")
    p.add_argument(
        "--zmq-in", default=DEFAULT_TX_ADDRESS, metavar="ADDR", help=f"connect (default {DEFAULT_TX_ADDRESS})"
    )
    p.add_argument(
        "--zmq-out", default=DEFAULT_CHANNEL_ADDRESS, metavar="ADDR", help=f"bind (default {DEFAULT_CHANNEL_ADDRESS})"
    )
    p.add_argument(
        "--zmq-feedback",
        default=DEFAULT_FEEDBACK_ADDRESS,
        metavar="ADDR",
        help=f"end on the receiver's 'done' (default {DEFAULT_FEEDBACK_ADDRESS}; '' to run until stopped)",
    )
    _run_arguments(p, "default 1800")
    return p


def rx_parser(prog: str = "issc_rx.py") -> argparse.ArgumentParser:
    p = _parser(prog, "The ISSC receiver as a process: samples in on a ZeroMQ PULL socket, frames.jsonl out.")
    p.add_argument("--frames", type=_positive_int, default=8, help="frames the transmitter sends (default 8)")
    p.add_argument("--out", default="results_rx", metavar="DIR", help="output directory (default results_rx)")
    p.add_argument("--images", default="", metavar="DIR|FILE", help="the transmitter's images, for PSNR")
    p.add_argument("--size", type=int, default=0, help="the transmitter's crop size")
    _decoder_arguments(p)
    p.add_argument(
        "--zmq-in", default=DEFAULT_CHANNEL_ADDRESS, metavar="ADDR", help=f"connect (default {DEFAULT_CHANNEL_ADDRESS})"
    )
    p.add_argument(
        "--zmq-feedback",
        default=DEFAULT_FEEDBACK_ADDRESS,
        metavar="ADDR",
        help=f"publish acknowledgements (bind; default {DEFAULT_FEEDBACK_ADDRESS}; '' for none)",
    )
    p.add_argument(
        "--idle",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="end when no sample came for S seconds after the first (default 30)",
    )
    _run_arguments(p, "default 1800")
    return p


def _build(prog: str, build):
    try:
        return build()
    except (IsscInputError, ValueError, OSError, RuntimeError) as exc:  # RuntimeError: ZeroMQ (address in use)
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return None


def _finish(prog: str, tb, summary: dict) -> int:
    """Print the summary (JSON on stdout) and return the exit code; a flowgraph that did not stop is left
    behind with ``os._exit``."""
    sys.stdout.write(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()
    if not summary.get("complete") and not summary.get("interrupted"):
        sys.stderr.write(f"{prog}: ended short: {summary.get('end_reason')}\n")
    code = 130 if summary.get("interrupted") else (0 if summary.get("complete") else 1)
    if not tb.stopped_cleanly:
        sys.stderr.write(f"{prog}: the flowgraph did not stop within {STOP_TIMEOUT_S:g} s; exiting anyway\n")
        sys.stderr.flush()
        os._exit(code)
    return code


def _handle_signals(tb) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: tb.interrupt())


def tx_main(argv=None, prog: str = "issc_tx.py") -> int:
    args = tx_parser(prog).parse_args(argv)
    tb = _build(
        prog,
        lambda: TxProcess(
            args.scenario,
            args.frames,
            args.zmq_out,
            args.zmq_feedback,
            args.images,
            args.size,
            args.seed,
            args.solver,
            args.metric,
            args.schedule,
            args.profile,
            args.codec_dir,
            args.ber_model,
            args.scheme,
            args.abr,
            args.djscc_dir,
            args.sigmf,
            args.stamp_interval,
        ),
    )
    if tb is None:
        return 2
    _handle_signals(tb)
    return _finish(prog, tb, tb.run_process(args.timeout, args.drain))


def channel_main(argv=None, prog: str = "issc_channel.py") -> int:
    args = channel_parser(prog).parse_args(argv)
    tb = _build(
        prog,
        lambda: ChannelProcess(
            args.scenario, args.zmq_in, args.zmq_out, args.zmq_feedback, args.seed, args.sigmf, args.stamp_interval
        ),
    )
    if tb is None:
        return 2
    _handle_signals(tb)
    return _finish(prog, tb, tb.run_process(args.timeout))


def rx_main(argv=None, prog: str = "issc_rx.py") -> int:
    args = rx_parser(prog).parse_args(argv)

    def build():
        out = check_output_dir(args.out)
        return RxProcess(
            args.scenario,
            args.frames,
            args.zmq_in,
            args.zmq_feedback,
            str(out),
            args.images,
            args.size,
            args.scheme,
            args.codec_dir,
            args.djscc_dir,
            args.sigmf,
            args.stamp_interval,
        )

    tb = _build(prog, build)
    if tb is None:
        return 2
    _handle_signals(tb)
    summary = tb.run_process(args.timeout, args.idle)
    atomic_write_json(Path(args.out) / "rx_summary.json", summary)
    return _finish(prog, tb, summary)
