"""The whole ISSC link as one top block (docs/link.md "How a frame flows"), shared by the headless example,
``issc bench link`` and the experiments.

::

    image_source --> semantic_encoder --> frame_encoder --> beamformer --+--> comm_channel --> frame_decoder
        ^   |              ^ config            |  sent       ^ s_0       |                        |
        |   |          controller <------------+             sensing_    +--> echo_channel        semantic_decoder
        +---|------------------------------------+ next      source           (N_R streams)          |
            +------------------------------------------> link_monitor <-------------------------------+

The frame encoder's ``sent`` message paces the image source (one new image per frame on the air) and
drives the controller's power/threshold schedule. The run ends when every frame has been decoded or
reported lost (or on a timeout / Ctrl-C); the monitor then writes ``frames.jsonl`` and ``summary.json``.
"""
from __future__ import annotations

import math
import threading
import time

from gnuradio import blocks, gr

from ..blocks.beamformer import beamformer
from ..blocks.channels import channels
from ..blocks.controller import controller
from ..blocks.djscc_decoder import djscc_decoder
from ..blocks.djscc_encoder import djscc_encoder
from ..blocks.frame_decoder import frame_decoder
from ..blocks.frame_encoder import frame_encoder
from ..blocks.image_source import image_source
from ..blocks.link_monitor import link_monitor
from ..blocks.semantic_decoder import semantic_decoder
from ..blocks.semantic_encoder import semantic_encoder
from ..blocks.sensing_estimator import sensing_estimator
from ..blocks.sensing_source import sensing_source
from ..scenario import load_scenario


class IsscLink(gr.top_block):
    """The closed-loop link. When the scenario sets ``tracking.enabled``, the controller runs in mode
    ``tracking``: the estimator's reports feed its tracker and its track messages centre the estimator's
    search (``estimator --estimate--> controller --track--> estimator``); else mode ``known-geometry``.

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

    def __init__(self, scenario="tradeoff", frames: int = 8, images="", out_dir: str = "", seed: int = 0,
                 solver: str = "sdr", metric: str = "mse", schedule=None, profile: str = "", codec_dir: str = "",
                 size: int = 0, echo_sink: bool = False, sensing_every: int = 4, ber_model: str = "calibrated",
                 scheme: str = "ascc", abr: float | None = None, djscc_dir: str = ""):
        gr.top_block.__init__(self, "issc_link")
        self.scenario = load_scenario(scenario)
        self.frames = int(frames)
        scn = self.scenario
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        self.tracking = bool(scn.tracking.enabled)
        if self.tracking and not sensing_every:
            raise ValueError("the scenario asks for tracking, which needs the sensing estimator (sensing_every >= 1)")
        self.scheme = scheme
        self.controller = controller(scn, profile, solver, metric, abr=float("nan") if abr is None else abr,
                                          schedule=schedule, ber_model=ber_model,
                                          mode="tracking" if self.tracking else "known-geometry", scheme=scheme,
                                          djscc_dir=djscc_dir)
        streams = self.controller.current.sensing_streams
        self.image_source = image_source(images, frames, preload=2, size=size)
        # the source encoder/decoder pair of the scheme (the attribute names are the ASCC ones)
        self.semantic_encoder = (djscc_encoder(djscc_dir) if scheme == "djscc"
                                 else semantic_encoder(codec_dir))
        self.frame_encoder = frame_encoder(scn.signal.blocklength)
        self.sensing_source = sensing_source(streams, seed)
        self.beamformer = beamformer(n_tx, streams)
        self.channels = channels(scn, seed=seed + 1)
        self.frame_decoder = frame_decoder(scn.signal.blocklength)
        self.estimator = (sensing_estimator(scn, sensing_every, scn.tracking.search_halfwidth_m)
                          if sensing_every else None)
        self.semantic_decoder = (djscc_decoder(djscc_dir) if scheme == "djscc"
                                 else semantic_decoder(codec_dir))
        self.monitor = link_monitor(out_dir, expect_sensing=bool(sensing_every))
        self.sent_images = blocks.message_debug()
        self.received_images = blocks.message_debug()
        self.echo_sinks = [blocks.vector_sink_c(1) if echo_sink else blocks.null_sink(gr.sizeof_gr_complex)
                           for _ in range(n_rx)]

        self.msg_connect(self.image_source, "out", self.semantic_encoder, "image")
        self.msg_connect(self.image_source, "out", self.monitor, "sent_image")
        self.msg_connect(self.image_source, "out", self.sent_images, "store")
        self.msg_connect(self.controller, "config", self.semantic_encoder, "config")
        self.msg_connect(self.semantic_encoder, "out", self.frame_encoder, "in")
        self.msg_connect(self.semantic_encoder, "out", self.monitor, "sent_bits")
        self.msg_connect(self.frame_encoder, "sent", self.image_source, "next")
        self.msg_connect(self.frame_encoder, "sent", self.controller, "feedback")
        self.connect(self.frame_encoder, (self.beamformer, 0))
        for k in range(streams):
            self.connect((self.sensing_source, k), (self.beamformer, 1 + k))
        for k in range(n_tx):
            self.connect((self.beamformer, k), (self.channels, k))
        self.connect((self.channels, 0), self.frame_decoder)
        for k in range(n_rx):
            self.connect((self.channels, 1 + k), self.echo_sinks[k])
        if self.estimator is not None:
            for k in range(n_tx):
                self.connect((self.beamformer, k), (self.estimator, k))
            for k in range(n_rx):
                self.connect((self.channels, 1 + k), (self.estimator, n_tx + k))
            self.msg_connect(self.estimator, "estimate", self.monitor, "sensing")
            self.msg_connect(self.estimator, "estimate", self.controller, "estimate")
            if self.tracking:
                self.msg_connect(self.controller, "track", self.estimator, "track")
        self.msg_connect(self.frame_decoder, "out", self.semantic_decoder, "in")
        self.msg_connect(self.frame_decoder, "out", self.monitor, "received_bits")
        self.msg_connect(self.frame_decoder, "header_failed", self.monitor, "header_failed")
        self.msg_connect(self.semantic_decoder, "out", self.monitor, "received_image")
        self.msg_connect(self.semantic_decoder, "out", self.received_images, "store")
        self._interrupted = threading.Event()

    def finished(self) -> bool:
        """Every frame sent and every transmitted sample through the receiver, and every message the
        decoders published handled by the monitor (a frame whose preamble was never detected leaves no
        other trace)."""
        handled = self.monitor.messages_handled
        receiver = self.frame_decoder.receiver
        return (self.frame_encoder.frames_sent >= self.frames and self.frame_encoder.idle_now
                and receiver.samples_pushed >= self.frame_encoder.symbols_sent
                and self.semantic_decoder.frames_decoded >= receiver.frames_decoded
                and handled.get("received_bits", 0) >= receiver.frames_decoded
                and handled.get("received_image", 0) >= self.semantic_decoder.frames_decoded
                and handled.get("header_failed", 0) >= receiver.headers_failed
                and handled.get("sent_bits", 0) >= self.semantic_encoder.frames_encoded
                and (self.estimator is None or (self.estimator.samples_seen >= self.frame_encoder.symbols_sent
                                                and handled.get("sensing", 0) >= self.estimator.estimates)))

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
