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
lost, or, short, on a timeout, a stall (nothing moved for ``stall_s``: a frame that will never come) or
Ctrl-C; the summary says which (``end_reason``). The monitor writes ``frames.jsonl`` row by row and
``summary.json`` at the end. Memory stays flat: no block keeps the images (the monitor drops each
frame's once its row is built).

The two ends can also run apart (``examples/issc_link.py --tx-to`` / ``--rx-from``):
:class:`IsscLinkTx` runs the transmitter and the channels and records the samples the communication
receiver gets to a ``cf32`` file (the flowgraph ends by itself when its frames are sent);
:class:`IsscLinkRx` runs the receiver and the monitor on such a file, with no tags and no side
channel: every frame's configuration comes from the air.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import numpy as np
from gnuradio import blocks, gr

from ..blocks.channels import channels
from ..blocks.comm_receiver import comm_receiver
from ..blocks.controller import controller
from ..blocks.frame_encoder import SHAPED_GUARD
from ..blocks.image_source import image_source
from ..blocks.link_monitor import link_monitor
from ..blocks.sensing_estimator import sensing_estimator
from ..blocks.transmitter import transmitter
from ..errors import IsscInputError
from ..files import check_output_file
from ..link.waveform import Waveform
from ..parallel import keep_freed_memory, limit_blas_threads
from ..physics.impairments import ImpairmentSettings
from ..scenario import load_scenario
from .receive_only import ReceiveOnly

DEFAULT_STALL_S = 300.0
"""A run in which nothing moves (no frame, sample or message) for this long is over: whatever it
waits for will not come. Generous: on a loaded machine one frame takes seconds, not minutes."""
POLL_S = 0.02
CF32_BYTES = 8  # one complex64 sample


class _Runner:
    """Start, poll until done, stop: the run loop the top blocks share (timeouts, stalls, Ctrl-C)."""

    def _init_runner(self):
        limit_blas_threads()
        keep_freed_memory()
        self._interrupted = threading.Event()
        self.end_reason = None
        self.elapsed_s = 0.0

    def interrupt(self):
        """Ask the run to stop (e.g. from a SIGINT handler)."""
        self._interrupted.set()

    def _progress(self) -> tuple:
        raise NotImplementedError

    def _poll(self, done, timeout_s, stall_s, on_poll) -> str:
        """Poll ``done()`` until it holds ('complete'), or Ctrl-C ('interrupted'), ``timeout_s`` ('timeout'),
        or ``stall_s`` seconds without progress ('stalled'); the flowgraph is running."""
        now = time.monotonic()
        deadline = math.inf if timeout_s is None else now + float(timeout_s)
        stall_s = math.inf if stall_s is None else float(stall_s)
        last, moved = self._progress(), now
        while True:
            if on_poll is not None:
                on_poll(self)
            if done():
                return "complete"
            if self._interrupted.is_set():
                return "interrupted"
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            progress = self._progress()
            if progress != last:
                last, moved = progress, now
            elif now - moved >= stall_s:
                return "stalled"
            self._interrupted.wait(POLL_S)

    def _run_to_summary(self, timeout_s, stall_s, on_poll, complete, head=None, tail=None) -> dict:
        """Start, poll :meth:`finished` (see :meth:`_poll`), stop and wait: the closed-loop links' run. Returns
        the monitor's summary updated with ``head`` (a dict), ``frames_requested``, ``frames_sent``,
        ``elapsed_s``, ``end_reason``, ``complete`` (the run complete and ``complete()`` true),
        ``interrupted``, ``samples``, then ``tail()`` (a dict, read after the run)."""
        started = time.monotonic()
        self.start()
        try:
            self.end_reason = self._poll(self.finished, timeout_s, stall_s, on_poll)
        finally:
            self.stop()
            self.wait()
        self.elapsed_s = time.monotonic() - started
        summary = dict(getattr(self.monitor, "summary", {}))
        summary.update(
            **(head or {}),
            frames_requested=self.frames,
            frames_sent=self.frame_encoder.frames_sent,
            elapsed_s=self.elapsed_s,
            end_reason=self.end_reason,
            complete=self.end_reason == "complete" and complete(),
            interrupted=self.end_reason == "interrupted",
            samples=self.frame_encoder.symbols_sent,
        )
        summary.update(tail() if tail is not None else {})
        return summary


IMPAIRMENT_KEYS = ("cfo_hz", "linewidth_hz", "timing_offset", "sro_ppm", "iq_gain_db", "iq_phase_deg")


def _waveform_args(scn) -> dict:
    """The scenario's pulse shape as the blocks' keyword arguments."""
    return Waveform.from_scenario(scn).block_args()


def _impairments(scn, impairments) -> dict:
    """The communication channel's impairment arguments (``comm_channel``'s keywords), checked."""
    impairments = dict(impairments or {})
    unknown = sorted(set(impairments) - set(IMPAIRMENT_KEYS))
    if unknown:
        raise IsscInputError(f"unknown impairment(s) {', '.join(unknown)} (known: {', '.join(IMPAIRMENT_KEYS)})")
    ImpairmentSettings.physical(scn.signal.bandwidth_hz, **impairments)  # the range checks, before building
    return impairments


def _guard(scn, impairments: dict) -> int:
    """The frame encoder's zero samples after a burst: a resampling channel (timing or clock offset) holds
    back its last ``48 + timing offset`` samples until more come, so the last frame needs that many more."""
    shaped = Waveform.from_scenario(scn).shaped
    if not (impairments.get("timing_offset") or impairments.get("sro_ppm")):
        return -1  # the encoder's default: 128 shaped, none unshaped
    return (SHAPED_GUARD if shaped else 64) + math.ceil(float(impairments.get("timing_offset", 0.0)))


def _transmitter(scn, streams: int, scheme: str, codec_dir: str, djscc_dir: str, seed: int, impairments: dict):
    """The scenario's ``transmitter`` hier block (its array, blocklength and waveform; the frame encoder's
    guard for the channel's ``impairments``)."""
    return transmitter(
        scn.arrays.n_tx,
        streams,
        scheme,
        codec_dir,
        djscc_dir,
        scn.signal.blocklength,
        seed=seed,
        guard=_guard(scn, impairments),
        **_waveform_args(scn),
    )


def _tracking(scn, sensing_every) -> bool:
    """Whether the controller runs in mode ``tracking`` (the scenario's ``tracking.enabled``): it needs the
    sensing estimator."""
    tracking = bool(scn.tracking.enabled)
    if tracking and not sensing_every:
        raise ValueError("the scenario asks for tracking, which needs the sensing estimator (sensing_every >= 1)")
    return tracking


# In tracking mode the estimates steer the next frames' beams, and a simulated link has no clock: how
# many frames a track update lags behind depends on how fast the transmitter runs ahead of the estimator
# and the controller's decisions (0.03-0.34 s each in a run of the test below, on 2 cores). The link then
# keeps GNU Radio's default buffers and the estimator and the polar decoder in their blocks' threads, which
# keep the transmitter at the estimator's pace; with wide buffers and the estimator's own process (faster
# elsewhere), in one run of tests/flowgraphs/test_tracking_link.py none of the 10 frames got a re-designed
# beam.
def _connect_transmit_loop(tb, n_tx: int) -> None:
    """The transmitting side IsscLink and IsscLinkTx share: ``tb.image_source`` and ``tb.controller`` feed
    ``tb.transmitter``, whose ``sent`` paces the source and drives the controller, and whose ``n_tx``
    antennas feed ``tb.channels`` (through buffers of :data:`STREAM_BUFFER_ITEMS` samples, except in
    tracking mode: see the comment above)."""
    tb.msg_connect(tb.image_source, "out", tb.transmitter, "image")
    tb.msg_connect(tb.controller, "config", tb.transmitter, "config")
    tb.msg_connect(tb.transmitter, "sent", tb.image_source, "next")
    tb.msg_connect(tb.transmitter, "sent", tb.controller, "feedback")
    for k in range(n_tx):
        tb.connect((tb.transmitter, k), (tb.channels, k))
    if not tb.tracking:
        widen_buffers(tb)


STREAM_BUFFER_ITEMS = 65536
"""Output buffer, in samples, of the transmitter's and the channels' blocks: several frames (a 256 x 256
image at ABR 1/16 is about 14 k samples). The transmitted streams feed two branches, and the frame
decoder works a whole frame at once when its last sample arrives, the estimator a block at a time: with
GNU Radio's default buffers (32 KB, 4096 samples) the decoder's burst stalls the transmitter and so the
estimator, the estimator's blocks stall the decoder, and the blocks wake each other for every few
thousand samples. Without the estimator (`issc bench link --scenario tradeoff --size 256 --frames 32
--sensing-every 0`, docs/performance.md) +15-19 % samples/s and half the system time; with it on every
block, together with the estimator's own process, +21-28 %."""


def widen_buffers(tb) -> None:
    """``tb.transmitter``'s and ``tb.channels``' output buffers to :data:`STREAM_BUFFER_ITEMS` samples."""
    transmitter = tb.transmitter
    channels = tb.channels
    comm = getattr(channels, "comm_channels", None) or [channels.comm_channel]  # multi-user: one a user
    echo = [channels.echo_channel] if channels.echo_channel is not None else []
    for block in [transmitter.frame_encoder, transmitter.sensing_source, transmitter.beamformer, *comm, *echo]:
        level = block.log_level()
        block.set_log_level("warn")  # GNU Radio logs every buffer setting at info level, on stdout
        block.set_min_output_buffer(STREAM_BUFFER_ITEMS)
        block.set_log_level(level)


def _connect_estimator(tb, n_tx: int, n_rx: int, first_echo: int = 1) -> None:
    """``tb.estimator``'s streams: inputs ``0 .. n_tx-1`` the transmitted ones (``tb.transmitter``'s
    antennas), then the ``n_rx`` echo streams, ``tb.channels``' outputs from ``first_echo`` on."""
    for k in range(n_tx):
        tb.connect((tb.transmitter, k), (tb.estimator, k))
    for k in range(n_rx):
        tb.connect((tb.channels, first_echo + k), (tb.estimator, n_tx + k))


def _controller(
    scn,
    profile,
    solver,
    metric,
    abr,
    schedule,
    ber_model,
    tracking,
    scheme,
    djscc_dir,
    sensing_surplus=True,
    djscc_loss="ae",
):
    return controller(
        scn,
        profile,
        solver,
        metric,
        abr=float("nan") if abr is None else abr,
        schedule=schedule,
        ber_model=ber_model,
        mode="tracking" if tracking else "known-geometry",
        scheme=scheme,
        djscc_dir=djscc_dir,
        sensing_surplus=sensing_surplus,
        djscc_loss=djscc_loss,
    )


class IsscLink(gr.top_block, _Runner):
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
        keep_rows: keep only the last ``keep_rows`` rows in ``monitor.ledger.rows`` (None: all); long runs
            read them back from ``frames.jsonl``.
        frames_dir: write ``frame_SEQ.png`` (original | received) there as frames complete ('' for none).
        sigmf_dir: write SigMF recordings of the transmitted streams, the receiver's input and the echo
            streams there ('' for none; ``issc replay`` replays them, docs/hardware.md).
        impairments: the communication receiver's front-end impairments, ``comm_channel``'s keywords
            (``cfo_hz``, ``linewidth_hz``, ``timing_offset``, ``sro_ppm``, ``iq_gain_db``, ``iq_phase_deg``;
            None: none). The waveform (samples per symbol, roll-off) is the scenario's ``signal`` section.
        sensing_surplus: solver 'sdr', scheme 'ascc': the optimiser's second stage (least ``tr HCRB`` at the
            chosen model's and rate's predicted quality; docs/optimizer.md).
        djscc_loss: scheme 'djscc': the training loss of the DJSCC models, 'ae' (default), 'vae' or 'vscc'
            (docs/vscc.md).
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
        keep_rows: int | None = None,
        frames_dir: str = "",
        sigmf_dir: str = "",
        impairments: dict | None = None,
        sensing_surplus: bool = True,
        djscc_loss: str = "ae",
    ):
        gr.top_block.__init__(self, "issc_link")
        self._init_runner()
        self.scenario = load_scenario(scenario)
        self.frames = int(frames)
        scn = self.scenario
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        self.tracking = _tracking(scn, sensing_every)
        self.scheme = scheme
        self.controller = _controller(
            scn,
            profile,
            solver,
            metric,
            abr,
            schedule,
            ber_model,
            self.tracking,
            scheme,
            djscc_dir,
            sensing_surplus,
            djscc_loss,
        )
        streams = self.controller.current.sensing_streams
        blocklength = scn.signal.blocklength
        self.impairments = _impairments(scn, impairments)
        wave = _waveform_args(scn)
        self.image_source = image_source(images, frames, preload=2, size=size)
        self.transmitter = _transmitter(scn, streams, scheme, codec_dir, djscc_dir, seed, self.impairments)
        self.channels = channels(scn, seed=seed + 1, **self.impairments)
        # child processes for the polar decoder and the estimator, except in tracking mode (see widen_buffers)
        self.receiver = comm_receiver(
            scheme, codec_dir, djscc_dir, blocklength, separate_process=not self.tracking, **wave
        )
        self.estimator = (
            sensing_estimator(scn, sensing_every, scn.tracking.search_halfwidth_m, separate_process=not self.tracking)
            if sensing_every
            else None
        )
        self.monitor = link_monitor(out_dir, expect_sensing=bool(sensing_every))
        # the monitor is the one place the images go: it drops each frame's once its row is built (no
        # message_debug store here: it kept every image of the run, ~31 KB per frame)
        self.monitor.ledger.configure(keep_rows=keep_rows, frames_dir=frames_dir or None)
        self.echo_sinks = [
            blocks.vector_sink_c(1) if echo_sink else blocks.null_sink(gr.sizeof_gr_complex) for _ in range(n_rx)
        ]
        self.recorders = []
        if sigmf_dir:  # tx0.., comm_rx, echo0.. (flowgraphs/recordings.py)
            from .recordings import attach_recorders

            self.recorders = attach_recorders(self, scn, sigmf_dir, self.transmitter, self.channels, scheme)

        _connect_transmit_loop(self, n_tx)
        self.msg_connect(self.image_source, "out", self.monitor, "sent_image")
        self.msg_connect(self.transmitter, "bits", self.monitor, "sent_bits")
        self.connect((self.channels, 0), self.receiver)
        for k in range(n_rx):
            self.connect((self.channels, 1 + k), self.echo_sinks[k])
        if self.estimator is not None:
            _connect_estimator(self, n_tx, n_rx)
            self.msg_connect(self.estimator, "estimate", self.monitor, "sensing")
            self.msg_connect(self.estimator, "estimate", self.controller, "estimate")
            if self.tracking:
                self.msg_connect(self.controller, "track", self.estimator, "track")
        self.msg_connect(self.receiver, "bits", self.monitor, "received_bits")
        self.msg_connect(self.receiver, "header_failed", self.monitor, "header_failed")
        self.msg_connect(self.receiver, "image", self.monitor, "received_image")

    # the hier blocks' children, under the names the callers know (the source encoder/decoder pair of
    # the scheme keeps the ASCC names)
    semantic_encoder = property(lambda self: self.transmitter.semantic_encoder, doc="the transmitter's source encoder")
    frame_encoder = property(lambda self: self.transmitter.frame_encoder, doc="the transmitter's frame encoder")
    sensing_source = property(lambda self: self.transmitter.sensing_source, doc="the transmitter's sensing streams")
    beamformer = property(lambda self: self.transmitter.beamformer, doc="the transmitter's beamformer")
    frame_decoder = property(lambda self: self.receiver.frame_decoder, doc="the receiver's frame decoder")
    semantic_decoder = property(lambda self: self.receiver.semantic_decoder, doc="the receiver's source decoder")

    @property
    def frames_expected(self) -> int:
        """Frames that will go on the air: those asked for, less images that failed to load when due."""
        return self.frames - self.image_source.failed

    def air_through(self) -> bool:
        """Every transmitted sample through the communication channel, and all it gave out through the
        receiver (counted in samples: at several samples per symbol, and through a channel that resamples
        and lags its input, the receiver's count differs from the transmitter's)."""
        channel = self.channels.comm_channel
        return channel.nitems_read(
            0
        ) >= self.frame_encoder.samples_sent and self.frame_decoder.receiver.samples_pushed >= channel.nitems_written(0)

    def finished(self) -> bool:
        """Every frame sent and every transmitted sample through the receiver, and every message the
        decoders published handled by the monitor (a frame whose preamble was never detected leaves no
        other trace)."""
        handled = self.monitor.messages_handled
        receiver = self.frame_decoder.receiver
        return (
            self.frame_encoder.frames_sent >= self.frames_expected
            and self.frame_encoder.idle_now
            and self.air_through()
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

    def _progress(self) -> tuple:
        receiver = self.frame_decoder.receiver
        return (
            self.image_source.sent,
            self.semantic_encoder.frames_encoded,
            self.frame_encoder.frames_sent,
            self.frame_encoder.symbols_sent,
            receiver.samples_pushed,
            receiver.frames_decoded + receiver.headers_failed,
            self.semantic_decoder.frames_decoded,
            sum(self.monitor.messages_handled.values()),
            self.monitor.rows_published,
            None if self.estimator is None else self.estimator.samples_seen,
        )

    def run_frames(self, timeout_s: float | None = None, stall_s: float | None = DEFAULT_STALL_S, on_poll=None) -> dict:
        """Run until every frame is accounted for, or Ctrl-C (:meth:`interrupt`), ``timeout_s`` or
        ``stall_s`` seconds in which nothing moved; returns the summary.

        Args:
            timeout_s: give up after this long (None: no limit).
            stall_s: give up when no frame, sample or message moved for this long (None: never).
            on_poll: called with the link about every 20 ms while it runs (e.g. to sample memory).

        Returns:
            The monitor's summary plus ``frames_requested``, ``frames_sent``, ``samples``, ``elapsed_s``,
            ``end_reason`` ('complete', 'interrupted', 'timeout' or 'stalled'), ``complete`` (every frame
            asked for went on the air and was accounted for), ``interrupted``, ``images_skipped``
            (unreadable files left out of the cycle) and ``images_failed`` (images that could not be read
            when due: those frames never went out).
        """
        return self._run_to_summary(
            timeout_s,
            stall_s,
            on_poll,
            complete=lambda: self.image_source.failed == 0,
            tail=lambda: {
                "images_skipped": [str(p) for p, _ in self.image_source.skipped],
                "images_failed": self.image_source.failed,
            },
        )


class IsscLinkTx(gr.top_block, _Runner):
    """The transmitting end alone: image source, controller, transmitter and channels; the samples the
    communication receiver gets (the comm channel's output: the beams, the sensing streams'
    interference and the noise) go to ``out_file`` as raw ``cf32`` (complex64, native byte order). The
    echo goes to null sinks (in tracking mode to the sensing estimator, whose estimates steer the
    beams). The frame encoder stops after ``frames`` frames, so the flowgraph ends by itself
    (:meth:`run_frames` returns when ``tb.wait()`` does). The same arguments as :class:`IsscLink` give
    the same samples (the same seeds and configurations).

    Args:
        out_file: the ``cf32`` file to write (checked before anything is built).
        sensing_every: tracking scenarios: the estimator's block spacing (else unused).
        others: as :class:`IsscLink`.
    """

    def __init__(
        self,
        scenario="tradeoff",
        frames: int = 8,
        images="",
        out_file: str = "",
        seed: int = 0,
        solver: str = "sdr",
        metric: str = "mse",
        schedule=None,
        profile: str = "",
        codec_dir: str = "",
        size: int = 0,
        sensing_every: int = 4,
        ber_model: str = "calibrated",
        scheme: str = "ascc",
        abr: float | None = None,
        djscc_dir: str = "",
        impairments: dict | None = None,
        djscc_loss: str = "ae",
        sensing_surplus: bool = True,
    ):
        gr.top_block.__init__(self, "issc_link_tx")
        self._init_runner()
        self.out_file = check_output_file(out_file, "--tx-to")
        self.scenario = scn = load_scenario(scenario)
        self.frames = int(frames)
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        self.tracking = _tracking(scn, sensing_every)
        self.controller = _controller(
            scn,
            profile,
            solver,
            metric,
            abr,
            schedule,
            ber_model,
            self.tracking,
            scheme,
            djscc_dir,
            sensing_surplus=sensing_surplus,
            djscc_loss=djscc_loss,
        )
        streams = self.controller.current.sensing_streams
        self.image_source = image_source(images, frames, preload=2, size=size)
        self.impairments = _impairments(scn, impairments)
        self.transmitter = _transmitter(scn, streams, scheme, codec_dir, djscc_dir, seed, self.impairments)
        self.transmitter.frame_encoder.set_frame_limit(self.frames)
        self.channels = channels(scn, seed=seed + 1, **self.impairments)
        self.file_sink = blocks.file_sink(gr.sizeof_gr_complex, str(self.out_file), False)
        self.file_sink.set_unbuffered(False)
        self.estimator = (
            sensing_estimator(scn, sensing_every, scn.tracking.search_halfwidth_m, separate_process=False)
            if self.tracking
            else None
        )
        self.echo_sinks = [] if self.tracking else [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(n_rx)]
        _connect_transmit_loop(self, n_tx)
        self.connect((self.channels, 0), self.file_sink)
        if self.estimator is not None:
            _connect_estimator(self, n_tx, n_rx)
            self.msg_connect(self.estimator, "estimate", self.controller, "estimate")
            self.msg_connect(self.controller, "track", self.estimator, "track")
        else:
            for k in range(n_rx):
                self.connect((self.channels, 1 + k), self.echo_sinks[k])

    frame_encoder = property(lambda self: self.transmitter.frame_encoder, doc="the transmitter's frame encoder")
    semantic_encoder = property(lambda self: self.transmitter.semantic_encoder, doc="the transmitter's source encoder")

    def _progress(self) -> tuple:
        return (
            self.image_source.sent,
            self.semantic_encoder.frames_encoded,
            self.frame_encoder.frames_sent,
            self.frame_encoder.symbols_sent,
        )

    def run_frames(self, timeout_s: float | None = None, stall_s: float | None = DEFAULT_STALL_S, on_poll=None) -> dict:
        """Run until the flowgraph ends by itself (every frame sent and written), or Ctrl-C, a timeout or a
        stall (see :meth:`IsscLink.run_frames`); returns ``frames_requested``, ``frames_sent``,
        ``samples`` (written to the file), ``file``, ``elapsed_s``, ``end_reason``, ``complete``,
        ``interrupted``, ``images_skipped``, ``images_failed``."""
        started = time.monotonic()
        ended = threading.Event()

        def wait_for_end():
            self.wait()
            ended.set()

        def done():
            # an image that failed when due never becomes a frame: do not wait for it
            limit = self.frames - self.image_source.failed
            if limit != self.frame_encoder.frame_limit and limit > 0:
                self.frame_encoder.set_frame_limit(limit)
            return ended.is_set()

        self.start()
        waiter = threading.Thread(target=wait_for_end, name="issc-tx-wait", daemon=True)
        waiter.start()
        try:
            self.end_reason = self._poll(done, timeout_s, stall_s, on_poll)
        finally:
            if not ended.is_set():
                self.stop()
            waiter.join()
            self.file_sink.close()
        self.elapsed_s = time.monotonic() - started
        sent = self.frame_encoder.frames_sent
        return {
            "frames_requested": self.frames,
            "frames_sent": sent,
            "samples": self.frame_encoder.symbols_sent,
            "file": str(self.out_file),
            "elapsed_s": self.elapsed_s,
            "end_reason": self.end_reason,
            "complete": self.end_reason == "complete" and sent >= self.frames,
            "interrupted": self.end_reason == "interrupted",
            "images_skipped": [str(p) for p, _ in self.image_source.skipped],
            "images_failed": self.image_source.failed,
        }


class _RecordedSamples(gr.sync_block):
    """A ``cf32`` file as a stream that, unlike ``blocks.file_source``, does not end the flowgraph at the
    end of the file (an ended stream tells the message-only blocks downstream to finish, and the monitor
    would stop before the decoders' last messages): it idles, and :attr:`exhausted` says so. A torn last
    sample (a recording killed mid-write) is left out."""

    def __init__(self, path):
        gr.sync_block.__init__(self, name="recorded_samples", in_sig=None, out_sig=[np.complex64])
        self.path = Path(path)
        self.total = os.path.getsize(self.path) // CF32_BYTES
        self.produced = 0
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in stop()
        self._idle = threading.Event()

    @property
    def exhausted(self) -> bool:
        return self.produced >= self.total

    def work(self, input_items, output_items):
        out = output_items[0]
        n = min(len(out), self.total - self.produced)
        if n <= 0:
            self._idle.wait(0.05)  # nothing more will come: do not spin
            return 0
        view = memoryview(out[:n].view(np.uint8))
        got = self._file.readinto(view) // CF32_BYTES
        if got < n:  # the file shrank under us: it is over
            self.total = self.produced + got
        self.produced += got
        return got

    def stop(self):
        self._idle.set()
        return True

    def close(self):
        self._file.close()


class IsscLinkRx(ReceiveOnly, gr.top_block, _Runner):
    """The receiving end alone, on samples recorded by :class:`IsscLinkTx`: the communication receiver
    and the monitor, with no tag and no side channel (every frame's model, code rate and image shape
    come from its header on the air). The monitor writes ``frames.jsonl`` and ``summary.json`` as in a
    whole-link run; the transmitter's side of a row (power, predictions, sensing) is unknown here and
    null, and PSNR/MS-SSIM are measured against ``images`` (the originals the transmitter cycled, if
    given the same ``images`` and ``size``; a frame whose original has another shape gets none).

    Args:
        in_file: the ``cf32`` recording.
        out_dir: where the monitor writes ('' for nowhere).
        images: the transmitter's images ('' for the shipped test images, None for no reference).
        size: the transmitter's crop size.
        scenario: for the blocklength ``L`` of the frames and the waveform (``signal.samples_per_symbol``...).
        scheme, codec_dir, djscc_dir: the receiver's decoder (as the transmitter's).
        keep_rows, frames_dir: as :class:`IsscLink`.
    """

    def __init__(
        self,
        in_file: str,
        out_dir: str = "",
        images="",
        size: int = 0,
        scenario="tradeoff",
        scheme: str = "ascc",
        codec_dir: str = "",
        djscc_dir: str = "",
        keep_rows: int | None = None,
        frames_dir: str = "",
    ):
        gr.top_block.__init__(self, "issc_link_rx")
        self._init_runner()
        path = Path(in_file)
        if not path.is_file():
            raise IsscInputError(f"--rx-from {path}: no such file")
        if path.stat().st_size < CF32_BYTES:
            raise IsscInputError(f"--rx-from {path}: empty (no cf32 sample)")
        self.scenario = scn = load_scenario(scenario)
        from ..blocks.image_source import ImageCycle

        self.reference = None if images is None else ImageCycle(images, size)
        self.source = _RecordedSamples(path)
        self._wire_receive_only(
            scn,
            scheme,
            codec_dir,
            djscc_dir,
            out_dir,
            self.reference,
            keep_rows=keep_rows,
            frames_dir=frames_dir or None,
        )

    def _progress(self) -> tuple:
        receiver = self.frame_decoder.receiver
        return (
            self.source.produced,
            receiver.samples_pushed,
            receiver.frames_decoded + receiver.headers_failed,
            self.semantic_decoder.frames_decoded,
            sum(self.monitor.messages_handled.values()),
            self.monitor.rows_published,
        )

    def run_frames(self, timeout_s: float | None = None, stall_s: float | None = DEFAULT_STALL_S, on_poll=None) -> dict:
        """Run until the whole recording is decoded, or Ctrl-C, a timeout or a stall; returns the
        monitor's summary plus ``samples``, ``elapsed_s``, ``end_reason``, ``complete``, ``interrupted``."""
        started = time.monotonic()
        self.start()
        try:
            self.end_reason = self._poll(self.finished, timeout_s, stall_s, on_poll)
        finally:
            self.stop()
            self.wait()
            self.source.close()
        self.elapsed_s = time.monotonic() - started
        summary = dict(getattr(self.monitor, "summary", {}))
        summary.update(
            samples=self.source.produced,
            elapsed_s=self.elapsed_s,
            end_reason=self.end_reason,
            complete=self.end_reason == "complete",
            interrupted=self.end_reason == "interrupted",
        )
        return summary
