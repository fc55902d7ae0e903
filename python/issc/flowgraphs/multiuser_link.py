# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user ISSC link as one top block (docs/multiuser.md "The GNU Radio link"): ``K`` users served by
superposition, ``x = sum_k w_k s_k + W_0 s_0``, each user's frames found and decoded from the air alone::

    source_0 (image_source | labelled_source) --image0-->+
    ...                                                  | multiuser_transmitter ==N_T==> user_channels
    source_K-1 --------------------------------image{K-1}+   ^ config0..K-1  | sent, bits    | y_0 .. y_K-1
                                                             |               |               v
                       multiuser_controller <---feedback-----+---------------+     user_receiver 0 .. K-1
                                                                             |       | bits, out, header_failed
                                                   (target) echo (N_R) ---> sensing_estimator
                                                                             v       v
                                                                          multiuser_monitor

A data user's source is an ``image_source`` (the images rotated by the user's index, so the users send
different bits) and its receiver decodes images (``semantic_decoder``, scored by MS-SSIM); a semantic
user's source is a ``labelled_source`` (the digits' held-out images) and its receiver outputs the class
and its confidence (``task_decoder``, scored correct when it is the class the model gives on the clean
image). The transmitter's ``sent`` (one per slot) paces every source and drives the controller, which
publishes every user's configuration for the next frame. The run ends when every slot has been decoded
or reported lost at every receiver, or, short, on a timeout, a stall or Ctrl-C (``end_reason``), as
:class:`~gnuradio.issc.flowgraphs.link.IsscLink`.
"""

from __future__ import annotations

from gnuradio import gr

from ..blocks.image_source import image_source
from ..blocks.labelled_source import labelled_source
from ..blocks.multiuser_controller import multiuser_controller
from ..blocks.multiuser_monitor import multiuser_monitor, user_images
from ..blocks.multiuser_transmitter import multiuser_transmitter
from ..blocks.sensing_estimator import sensing_estimator
from ..blocks.user_channels import user_channels
from ..blocks.user_receiver import user_receiver
from ..errors import IsscInputError
from ..link.waveform import Waveform
from ..scenario import load_scenario
from .link import DEFAULT_STALL_S, _connect_estimator, _Runner, widen_buffers


class IsscMultiUserLink(gr.top_block, _Runner):
    """The closed-loop multi-user link of a scenario with a ``users`` list.

    Args:
        scenario: multi-user scenario name, YAML path or Scenario (e.g. 'multiuser', 'multiuser-sensing').
        frames: slots to send (one frame per user each).
        images: the data users' image folder, list of files, or '' for the shipped test images.
        out_dir: where the monitor writes ``frames.jsonl`` / ``summary.json`` ('' for none).
        seed: seed of the sensing streams and noises.
        solver: multi-user optimiser ('sdr', 'paper', 'zf-wf', 'zf-wf-bpg', 'zf-wf-jpeg', or 'zf-wf-djscc': the
            data users send analog deep JSCC frames, ``djscc_encoder`` / ``djscc_decoder``).
        schedule: ``[(first_frame, power_dbm, hcrb_threshold_m2), ...]`` for the controller.
        profile: data codec profile ('' for the shipped one).
        codec_dir: data codec family ('' for the shipped one).
        semantic_dir: semantic family ('' for the shipped one).
        semantic_profile: semantic profile ('' for the shipped one).
        size: crop the data users' images to ``size x size`` (0: as they are).
        sensing_every: with a target, estimate one sensing block in this many (0: no echo, no estimator).
        ber_model: the optimiser's BER model, 'calibrated' (this link's polar code) or 'normal'.
        power_dbm: the power budget (None: the scenario's).
        data: the semantic users' labelled data ('digits' or a labelled folder).
        noise_dbm: every user's noise (None: each user's own; e.g. -60 for a high-SINR check).
        family: the data users' family ('learned', 'mixed', 'hevc', 'jpeg'; '': learned or the solver's): a
            data user's frames carry whichever model the decision names, a learned one or a standard operating
            point (HEVC / JPEG, decoded best-effort), the receiver learns which from the header.
    """

    def __init__(
        self,
        scenario="multiuser",
        frames: int = 4,
        images="",
        out_dir: str = "",
        seed: int = 0,
        solver: str = "sdr",
        schedule=None,
        profile: str = "",
        codec_dir: str = "",
        semantic_dir: str = "",
        semantic_profile: str = "",
        size: int = 0,
        sensing_every: int = 4,
        ber_model: str = "calibrated",
        power_dbm: float | None = None,
        data: str = "digits",
        noise_dbm: float | None = None,
        family: str = "",
    ):
        gr.top_block.__init__(self, "issc_multiuser_link")
        self._init_runner()
        self.scenario = scn = load_scenario(scenario)
        if not scn.users:
            raise IsscInputError(f"scenario '{scn.name}' has no users list: use the single-user link")
        if Waveform.from_scenario(scn).shaped:
            raise IsscInputError("the multi-user link sends unshaped symbols (signal.samples_per_symbol 1)")
        if int(frames) != frames or frames < 1:
            raise IsscInputError(f"frames must be an integer >= 1, got {frames!r}")
        self.frames = int(frames)
        self.tasks = [u.task for u in scn.users]
        self.weights = [float(u.weight) for u in scn.users]
        k = len(self.tasks)
        n_tx, n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        blocklength = scn.signal.blocklength
        self.controller = multiuser_controller(
            scn,
            profile,
            semantic_profile,
            solver,
            ber_model,
            float("nan") if power_dbm is None else float(power_dbm),
            schedule=schedule,
            family=family,
        )
        streams = self.controller.sensing_streams
        self.sources = [
            image_source(user_images(images, u), self.frames, preload=2, size=size)
            if task == "data"
            else labelled_source(data, self.frames, preload=2, offset=7 * u)
            for u, task in enumerate(self.tasks)
        ]
        # zf-wf-djscc's data users send deep JSCC symbols as analog frames (their configurations have R_c = 0)
        data_scheme = "djscc" if solver == "zf-wf-djscc" else "ascc"
        self.transmitter = multiuser_transmitter(
            n_tx, self.tasks, streams, codec_dir, semantic_dir, blocklength, seed=seed, scheme=data_scheme
        )
        sensing = scn.sensing == "target" and bool(sensing_every)
        self.channels = user_channels(
            scn, seed + 1, echo=sensing, noise_dbm=float("nan") if noise_dbm is None else float(noise_dbm)
        )
        self.receivers = [
            user_receiver(task, u, codec_dir, semantic_dir, blocklength, scheme=data_scheme)
            for u, task in enumerate(self.tasks)
        ]
        self.estimator = sensing_estimator(scn, sensing_every, scn.tracking.search_halfwidth_m) if sensing else None
        self.monitor = multiuser_monitor(self.tasks, self.weights, images, size, out_dir)

        for u, source in enumerate(self.sources):
            self.msg_connect(source, "out", self.transmitter, f"image{u}")
            self.msg_connect(self.controller, f"config{u}", self.transmitter, f"config{u}")
            self.msg_connect(self.transmitter, "sent", source, "next")
        self.msg_connect(self.transmitter, "sent", self.controller, "feedback")
        self.msg_connect(self.transmitter, "bits", self.monitor, "sent")
        for antenna in range(n_tx):
            self.connect((self.transmitter, antenna), (self.channels, antenna))
        widen_buffers(self)
        for u, receiver in enumerate(self.receivers):
            self.connect((self.channels, u), receiver)
            self.msg_connect(receiver, "bits", self.monitor, "received_bits")
            self.msg_connect(receiver, "out", self.monitor, "received")
            self.msg_connect(receiver, "header_failed", self.monitor, "header_failed")
        if self.estimator is not None:
            _connect_estimator(self, n_tx, n_rx, first_echo=k)
            self.msg_connect(self.estimator, "estimate", self.monitor, "sensing")

    frame_encoder = property(lambda self: self.transmitter.frame_encoder, doc="the transmitter's slot framer")
    beamformer = property(lambda self: self.transmitter.beamformer, doc="the transmitter's beamformer")

    @property
    def frames_expected(self) -> int:
        """Slots that will go on the air: those asked for, less images that failed to load when due."""
        return self.frames - max(source.failed for source in self.sources)

    def _decoders(self):
        return [(r.frame_decoder.receiver, r.decoder) for r in self.receivers]

    def finished(self) -> bool:
        """Every slot sent, every transmitted sample through every user's channel and receiver, every message
        the receivers published handled by the monitor."""
        encoder = self.frame_encoder
        if encoder.frames_sent < self.frames_expected or not encoder.idle_now:
            return False
        handled = self.monitor.messages_handled
        decoded = failed = results = 0
        for channel, (receiver, decoder) in zip(self.channels.comm_channels, self._decoders()):
            if channel.nitems_read(0) < encoder.symbols_sent or receiver.samples_pushed < channel.nitems_written(0):
                return False
            if decoder.frames_decoded < receiver.frames_decoded:
                return False
            decoded += receiver.frames_decoded
            failed += receiver.headers_failed + receiver.frames_lost
            results += decoder.frames_decoded
        if self.estimator is not None and self.estimator.samples_seen < encoder.symbols_sent:
            return False
        return (
            handled.get("sent", 0) >= encoder.frames_sent * len(self.tasks)
            and handled.get("received_bits", 0) >= decoded
            and handled.get("received", 0) >= results
            and handled.get("header_failed", 0) >= failed
            and (self.estimator is None or handled.get("sensing", 0) >= self.estimator.estimates)
        )

    def _progress(self) -> tuple:
        return (
            tuple(source.sent for source in self.sources),
            self.frame_encoder.frames_sent,
            self.frame_encoder.symbols_sent,
            tuple(r.samples_pushed + r.frames_decoded + r.headers_failed for r, _ in self._decoders()),
            tuple(d.frames_decoded for _, d in self._decoders()),
            sum(self.monitor.messages_handled.values()),
            self.monitor.rows_published,
            None if self.estimator is None else self.estimator.samples_seen,
        )

    def run_frames(self, timeout_s: float | None = None, stall_s: float | None = DEFAULT_STALL_S, on_poll=None) -> dict:
        """Run until every slot is accounted for at every receiver, or Ctrl-C, ``timeout_s`` or ``stall_s``
        seconds in which nothing moved; returns the monitor's summary (``users``: per user frames sent and
        received, bit errors, measured and predicted SINR, task metric, models, ``R_c``; the mean weighted
        distortion, measured and predicted) plus ``frames_requested``, ``frames_sent`` (slots),
        ``samples``, ``elapsed_s``, ``end_reason``, ``complete``, ``interrupted``, ``decision`` (the
        controller's last decision, as ``issc optimize --json``)."""
        return self._run_to_summary(
            timeout_s,
            stall_s,
            on_poll,
            complete=lambda: self.frames_expected == self.frames,
            head={"scenario": self.scenario.name},
            tail=lambda: {"controller_solves": self.controller.solves, "decision": self.controller.decision.to_json()},
        )
