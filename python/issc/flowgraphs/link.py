# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole ISSC link as one top block (docs/link.md "How a frame flows"), shared by the headless example,
``issc bench link`` and the experiments. It composes the hier blocks a GRC user places, so the chain is
wired in one place (``transmitter``, ``channels``, ``comm_receiver``)::

    image_source --image--> transmitter ==N_T streams==+==> channels ==y_c==> comm_receiver
         ^ next               ^ config   | sent        |          || echo (N_R)
         +--------------------|----------+             v          vv
                              |          v feedback   sensing_estimator (N_T + N_R inputs)
                              +------ controller <------ estimate --+
                                         +------------- track ----> (tracking mode)

    link_monitor <-- image_source (sent_image), transmitter (bits), comm_receiver (bits, image,
                     header_failed), sensing_estimator (estimate)

The transmitter's ``sent`` message paces the image source (one new image per frame on the air) and
drives the controller's power/threshold schedule; its ``N_T`` antenna streams feed both the channels
and the sensing estimator (its reference). The run ends when every frame has been decoded or reported
lost (or on a timeout / Ctrl-C); the monitor then writes ``frames.jsonl`` and ``summary.json``.
"""

from __future__ import annotations

import math
import threading
import time

from gnuradio import blocks, gr

from ..blocks.channels import channels
from ..blocks.comm_receiver import comm_receiver
from ..blocks.controller import controller
from ..blocks.image_source import image_source
from ..blocks.link_monitor import link_monitor
from ..blocks.sensing_estimator import sensing_estimator
from ..blocks.transmitter import transmitter
from ..scenario import load_scenario


class IsscLink(gr.top_block):
    """The closed-loop link. When the scenario sets ``tracking.enabled``, the controller runs in mode
    ``tracking``: the estimator's reports feed its tracker and its track messages centre the estimator's
    search (``estimator --estimate--> controller --track--> estimator``); else mode ``known-geometry``.

    The hier blocks are ``transmitter``, ``channels`` and ``receiver`` (a ``comm_receiver``); their
    children are also reachable here under the names the callers know (``semantic_encoder`` and
    ``semantic_decoder`` are the scheme's source encoder and decoder, ``frame_encoder``,
    ``sensing_source``, ``beamformer``, ``frame_decoder``).

    Args:
        scenario: shipped scenario name or YAML path.
        frames: number of images to send.
        images: image folder, list of files, or '' for the shipped test images.
        out_dir: where the monitor writes ``frames.jsonl`` / ``summary.json`` ('' for none).
        seed: seed of the sensing streams, noises and sync errors.
        solver: optimiser ('sdr', 'paper', 'zf-wf').
        metric: 'mse' or 'ms_ssim'.
        schedule: ``[(first_frame, power_dbm, hcrb_threshold_m2), ...]`` for the controller.
        profile: codec profile path ('' for the shipped one).
        codec_dir: codec family directory ('' for the shipped one).
        size: crop images to ``size x size`` (0: as they are).
        echo_sink: keep the echo streams in vector sinks (for tests; memory grows with the run).
        sensing_every: run the sensing estimator on one block in this many (0: no estimator, the echo
            goes to null sinks).
        ber_model: the optimiser's BER of the channel code: 'calibrated' (the shipped measurements of
            this link's polar code) or 'normal' (the papers' normal approximation, optimistic here).
        scheme: 'ascc' (hyperprior codec + polar code, adapted) or 'djscc' (the deep JSCC benchmark:
            ``djscc_encoder``/``decoder`` and analog frames; with solver 'zf-wf' it is DJSCC-WF-ZF).
        abr: bandwidth ratio (None: the scenario's); sets the ASCC channel-use budget and the DJSCC model.
        djscc_dir: DJSCC model directory ('' for the shipped models).
    """

    def __init__(
        self,
        scenario="tradeoff",
        frames: int = 8,
        images="",
        out_dir: str = "",
        seed: int = 0,
        solver: str = "sdr",
        metric: str = "mse",
        schedule=None,
        profile: str = "",
        codec_dir: str = "",
        size: int = 0,
        echo_sink: bool = False,
        sensing_every: int = 4,
        ber_model: str = "calibrated",
        scheme: str = "ascc",
        abr: float | None = None,
        djscc_dir: str = "",
    ):
        gr.top_block.__init__(self, "issc_link")
        self.scenario = load_scenario(scenario)
        self.frames = int(frames)
        scn = self.scenario
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        self.tracking = bool(scn.tracking.enabled)
        if self.tracking and not sensing_every:
            raise ValueError("the scenario asks for tracking, which needs the sensing estimator (sensing_every >= 1)")
        self.scheme = scheme
        self.controller = controller(
            scn,
            profile,
            solver,
            metric,
            abr=float("nan") if abr is None else abr,
            schedule=schedule,
            ber_model=ber_model,
            mode="tracking" if self.tracking else "known-geometry",
            scheme=scheme,
            djscc_dir=djscc_dir,
        )
        streams = self.controller.current.sensing_streams
        blocklength = scn.signal.blocklength
        self.image_source = image_source(images, frames, preload=2, size=size)
        self.transmitter = transmitter(n_tx, streams, scheme, codec_dir, djscc_dir, blocklength, seed=seed)
        self.channels = channels(scn, seed=seed + 1)
        self.receiver = comm_receiver(scheme, codec_dir, djscc_dir, blocklength)
        self.estimator = (
            sensing_estimator(scn, sensing_every, scn.tracking.search_halfwidth_m) if sensing_every else None
        )
        self.monitor = link_monitor(out_dir, expect_sensing=bool(sensing_every))
        self.sent_images = blocks.message_debug()
        self.received_images = blocks.message_debug()
        self.echo_sinks = [
            blocks.vector_sink_c(1) if echo_sink else blocks.null_sink(gr.sizeof_gr_complex) for _ in range(n_rx)
        ]

        self.msg_connect(self.image_source, "out", self.transmitter, "image")
        self.msg_connect(self.image_source, "out", self.monitor, "sent_image")
        self.msg_connect(self.image_source, "out", self.sent_images, "store")
        self.msg_connect(self.controller, "config", self.transmitter, "config")
        self.msg_connect(self.transmitter, "bits", self.monitor, "sent_bits")
        self.msg_connect(self.transmitter, "sent", self.image_source, "next")
        self.msg_connect(self.transmitter, "sent", self.controller, "feedback")
        for k in range(n_tx):
            self.connect((self.transmitter, k), (self.channels, k))
        self.connect((self.channels, 0), self.receiver)
        for k in range(n_rx):
            self.connect((self.channels, 1 + k), self.echo_sinks[k])
        if self.estimator is not None:
            for k in range(n_tx):
                self.connect((self.transmitter, k), (self.estimator, k))
            for k in range(n_rx):
                self.connect((self.channels, 1 + k), (self.estimator, n_tx + k))
            self.msg_connect(self.estimator, "estimate", self.monitor, "sensing")
            self.msg_connect(self.estimator, "estimate", self.controller, "estimate")
            if self.tracking:
                self.msg_connect(self.controller, "track", self.estimator, "track")
        self.msg_connect(self.receiver, "bits", self.monitor, "received_bits")
        self.msg_connect(self.receiver, "header_failed", self.monitor, "header_failed")
        self.msg_connect(self.receiver, "image", self.monitor, "received_image")
        self.msg_connect(self.receiver, "image", self.received_images, "store")
        self._interrupted = threading.Event()

    # the hier blocks' children, under the names the callers know (the source encoder/decoder pair of
    # the scheme keeps the ASCC names)
    semantic_encoder = property(lambda self: self.transmitter.semantic_encoder, doc="the transmitter's source encoder")
    frame_encoder = property(lambda self: self.transmitter.frame_encoder, doc="the transmitter's frame encoder")
    sensing_source = property(lambda self: self.transmitter.sensing_source, doc="the transmitter's sensing streams")
    beamformer = property(lambda self: self.transmitter.beamformer, doc="the transmitter's beamformer")
    frame_decoder = property(lambda self: self.receiver.frame_decoder, doc="the receiver's frame decoder")
    semantic_decoder = property(lambda self: self.receiver.semantic_decoder, doc="the receiver's source decoder")

    def finished(self) -> bool:
        """Every frame sent and every transmitted sample through the receiver, and every message the
        decoders published handled by the monitor (a frame whose preamble was never detected leaves no
        other trace)."""
        handled = self.monitor.messages_handled
        receiver = self.frame_decoder.receiver
        return (
            self.frame_encoder.frames_sent >= self.frames
            and self.frame_encoder.idle_now
            and receiver.samples_pushed >= self.frame_encoder.symbols_sent
            and self.semantic_decoder.frames_decoded >= receiver.frames_decoded
            and handled.get("received_bits", 0) >= receiver.frames_decoded
            and handled.get("received_image", 0) >= self.semantic_decoder.frames_decoded
            and handled.get("header_failed", 0) >= receiver.headers_failed
            and handled.get("sent_bits", 0) >= self.semantic_encoder.frames_encoded
            and (
                self.estimator is None
                or (
                    self.estimator.samples_seen >= self.frame_encoder.symbols_sent
                    and handled.get("sensing", 0) >= self.estimator.estimates
                )
            )
        )

    def interrupt(self):
        """Ask :meth:`run_frames` to stop (e.g. from a SIGINT handler)."""
        self._interrupted.set()

    def run_frames(self, timeout_s: float | None = None) -> dict:
        """Run until every frame is accounted for (or timeout / interrupt); returns the summary."""
        deadline = math.inf if timeout_s is None else time.monotonic() + timeout_s
        started = time.monotonic()
        self.start()
        try:
            while not self.finished() and not self._interrupted.is_set() and time.monotonic() < deadline:
                self._interrupted.wait(0.02)
        finally:
            self.stop()
            self.wait()
        self.elapsed_s = time.monotonic() - started
        summary = dict(getattr(self.monitor, "summary", {}))
        summary["elapsed_s"] = self.elapsed_s
        summary["interrupted"] = self._interrupted.is_set()
        summary["samples"] = self.frame_encoder.symbols_sent
        return summary
