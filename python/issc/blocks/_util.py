# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the blocks (logging that cannot flood, sanitising samples)."""

from __future__ import annotations

import time

import numpy as np


class RateLimitedLog:
    """Log a repeated problem at most once per ``interval_s`` seconds, with a count of suppressed ones,
    so a stream of bad samples cannot flood the log."""

    def __init__(self, logger, interval_s: float = 2.0):
        self.logger = logger
        self.interval_s = interval_s
        self._last = {}
        self._suppressed = {}

    def warn(self, key: str, message: str):
        now = time.monotonic()
        if now - self._last.get(key, -np.inf) >= self.interval_s:
            extra = self._suppressed.pop(key, 0)
            self.logger.warn(message + (f" ({extra} similar messages suppressed)" if extra else ""))
            self._last[key] = now
        else:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1


def zero_non_finite(samples: np.ndarray) -> int:
    """Replace NaN/inf samples by 0 in place; return how many there were."""
    bad = ~np.isfinite(samples)
    count = int(np.count_nonzero(bad))
    if count:
        samples[bad] = 0
    return count


def stacked_finite_inputs(input_items, n: int, log: RateLimitedLog) -> np.ndarray:
    """The first ``n`` items of every input stream as one ``streams x n`` array (a copy), with NaN/inf
    samples replaced by 0 and logged: a bad sample upstream must not poison a whole channel or beam."""
    streams = np.stack([np.asarray(x[:n]) for x in input_items])
    bad = zero_non_finite(streams)
    if bad:
        log.warn("nonfinite", f"replaced {bad} non-finite input samples by 0")
    return streams


def register_message_handlers(block, handlers: dict, log: RateLimitedLog, after=None, counter=None):
    """Register input message ports with handlers that log and drop bad messages instead of raising.

    ``handlers`` maps port name -> callable(msg). :class:`~gnuradio.issc.errors.IsscInputError` (and
    ``ValueError``/``TypeError`` from PMT conversions) are logged per port; ``after`` (optional) runs
    after every message; ``counter`` (optional dict) counts the messages handled per port. The block's
    ``message_busy_s`` accumulates the seconds spent in its handlers (GNU Radio's performance counters
    measure only ``work``, not message handlers; ``issc bench link --profile`` adds both). GR 3.10's gateway
    looks handlers up on the block by function name, so each
    wrapper gets a unique ``__name__`` and is attached to the block.
    """
    import pmt

    from ..errors import IsscInputError

    block.message_busy_s = getattr(block, "message_busy_s", 0.0)
    for port, handler in handlers.items():
        block.message_port_register_in(pmt.intern(port))

        def handle(msg, port=port, handler=handler):
            started = time.perf_counter()
            try:
                handler(msg)
            except (IsscInputError, ValueError, TypeError) as exc:
                log.warn(port, f"dropping message on '{port}': {exc}")
            if counter is not None:
                counter[port] = counter.get(port, 0) + 1
            if after is not None:
                after()
            block.message_busy_s += time.perf_counter() - started

        handle.__name__ = f"_handle_{port}"
        setattr(block, handle.__name__, handle)
        block.set_msg_handler(pmt.intern(port), handle)


def check_antennas(name: str, value: int, expected: int, scenario) -> None:
    """GRC needs port counts as numbers; they must agree with the scenario (0 means "the scenario's")."""
    if value and int(value) != expected:
        raise ValueError(f"{name} = {value} but scenario '{scenario.name}' has {expected} antennas")


class ConfiguredImages:
    """The image/configuration pairing of a source encoder block: an image is coded with the latest
    configuration from the controller, or with its own (metadata ``config``: scripted runs, whose
    messages on different ports come in no set order); images that come before any configuration wait,
    the oldest dropped beyond ``max_waiting``. Register :meth:`on_image` and :meth:`on_config` as the
    block's ``image`` and ``config`` handlers.

    Args:
        check: ``LinkConfig -> LinkConfig``, raising IsscInputError for a configuration this encoder
            cannot use.
        encode: ``(meta, image, config)`` -> None, codes one image.
        log: a RateLimitedLog.
        max_waiting: images kept while no configuration has come.
    """

    def __init__(self, check, encode, log: RateLimitedLog, max_waiting: int = 16):
        import collections

        self.check, self.encode, self.log, self.max_waiting = check, encode, log, max_waiting
        self.config = None
        self._waiting = collections.deque()

    def on_config(self, msg):
        from ..link.config import LinkConfig

        self.config = self.check(LinkConfig.from_pmt(msg))
        while self._waiting:
            meta, image = self._waiting.popleft()
            self.encode(meta, image, self.config)

    def on_image(self, msg):
        from ..link.config import LinkConfig
        from ..link.pdus import nested_pmt, pdu_to_image

        meta, image = pdu_to_image(msg)
        own = nested_pmt(meta, "config")
        if own is not None:
            self.encode(meta, image, self.check(LinkConfig.from_pmt(own)))
        elif self.config is None:
            if len(self._waiting) >= self.max_waiting:
                dropped = self._waiting.popleft()
                self.log.warn("queue", f"no configuration yet: dropped waiting image {dropped[0]['seq']}")
            self._waiting.append((meta, image))
        else:
            self.encode(meta, image, self.config)


def received_model(meta: dict, fields: tuple, model_ids: list, what: str) -> str:
    """The model id a received PDU's ``model_index`` names, after checking that every header field in
    ``fields`` is an integer (IsscInputError naming what is wrong: the block logs and drops the PDU)."""
    from ..errors import IsscInputError
    from ..link.pdus import require_int

    for key in fields:
        require_int(meta, key, f"received {what} PDU")
    if not 0 <= meta["model_index"] < len(model_ids):
        raise IsscInputError(f"model index {meta['model_index']} is not in this family ({len(model_ids)} models)")
    return model_ids[meta["model_index"]]


def image_metadata(meta: dict, model: str) -> dict:
    """The scalar metadata a decoder passes on with its image (the header fields it consumed left out)."""
    extra = {
        k: v for k, v in meta.items() if k not in ("seq", "height", "width") and isinstance(v, (bool, int, float, str))
    }
    extra["model"] = model
    return extra


def frame_header_of_pdu(msg, frame_format, user: int | None = None):
    """A frame encoder's reading of one input PDU: a bitstream PDU (digital frame, ``K`` the configuration's
    ``info_bits`` capped at the format's) or a symbol PDU (``c32vector`` payload: an analog frame, ``K = 0``).

    Args:
        msg: the PDU (metadata ``seq``, ``config``, ``model_index``, ``height``, ``width``, and for a
            bitstream ``z_bytes``, ``y_bytes``).
        frame_format: the encoder's :class:`~gnuradio.issc.link.framing.FrameFormat`.
        user: the multi-user frame's user id (None: the single-user frame); named in the errors, and a
            user's symbol PDU must come with an analog configuration.

    Returns:
        ``(header, payload, config, meta, analog)``: the :class:`~gnuradio.issc.link.framing.FrameHeader`,
        the payload (bytes or symbols), the :class:`~gnuradio.issc.link.config.LinkConfig`, the metadata
        dict and whether the frame is analog. IsscInputError naming what is wrong (the block logs and
        drops the PDU).
    """
    from ..errors import IsscInputError
    from ..link.config import LinkConfig
    from ..link.framing import FrameHeader
    from ..link.pdus import is_symbol_pdu, nested_pmt, require_int, split_pdu, split_symbol_pdu

    analog = is_symbol_pdu(msg)
    meta, payload = split_symbol_pdu(msg) if analog else split_pdu(msg)
    kind = "symbol PDU" if analog else "bitstream PDU"
    whose = "" if user is None else f"user {user}'s "
    user_id = () if user is None else (user,)
    config_pmt = nested_pmt(meta, "config")
    if config_pmt is None:
        raise IsscInputError(f"{whose}{kind} needs a 'config' (frame configuration dict)")
    config = LinkConfig.from_pmt(config_pmt)
    fields = {
        key: require_int(meta, key, kind)
        for key in ("seq", "model_index", "height", "width") + (() if analog else ("z_bytes", "y_bytes"))
    }
    if analog:
        if user is not None and not config.analog:
            raise IsscInputError(f"user {user}'s symbol PDU needs an analog configuration (info_bits 0)")
        header = FrameHeader.analog_frame(
            fields["seq"], fields["model_index"], payload.size, fields["height"], fields["width"], *user_id
        )
    else:
        info_bits = min(config.info_bits, frame_format.max_info_bits)
        if info_bits < 1:
            raise IsscInputError("a bitstream PDU needs a configuration with info_bits >= 1 (0 is analog)")
        header = FrameHeader(
            fields["seq"],
            fields["model_index"],
            info_bits,
            fields["z_bytes"],
            fields["y_bytes"],
            fields["height"],
            fields["width"],
            *user_id,
        )
    return header, payload, config, meta, analog


class FrameLimit:
    """The frame encoders' end of stream and start/stop (mixed into a block before ``gr.sync_block``):
    :meth:`set_frame_limit` ends the output once that many frames (slots) are sent; ``stop`` wakes a
    ``work`` waiting for frames. The block sets ``_cond`` (a Condition), ``_frame_limit`` 0, ``_stopping``
    False and ``frames_sent`` 0."""

    def set_frame_limit(self, frames: int) -> None:
        """End the output streams (the flowgraph's part downstream of this block finishes) once ``frames``
        frames have been sent completely; frames queued beyond that are not sent. 0: never end."""
        if int(frames) != frames or frames < 0:
            raise ValueError(f"frames must be an integer >= 0, got {frames!r}")
        with self._cond:
            self._frame_limit = int(frames)
            self._cond.notify_all()

    @property
    def frame_limit(self) -> int:
        return self._frame_limit

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return True

    def start(self):
        with self._cond:
            self._stopping = False
        return True

    def _limit_reached(self) -> bool:
        return bool(self._frame_limit) and self.frames_sent >= self._frame_limit


class PacedSource:
    """The image sources' pacing (mixed into a block before ``gr.basic_block``): ``preload``
    PDUs go out at start, then one per message on ``next``, until ``count`` sequence numbers are handed out
    (0: never stop). The block sets ``_lock``, ``count``, ``preload``, ``sent`` 0 and defines
    ``_send_next``, which takes its sequence number from :meth:`_take_seq`."""

    @property
    def exhausted(self) -> bool:
        """Every one of ``count`` sequence numbers handed out (never for ``count`` 0)."""
        with self._lock:
            return bool(self.count) and self.sent >= self.count

    def start(self):
        for _ in range(self.preload):
            self._send_next()
        return True

    def _on_next(self, msg):
        self._send_next()

    def _take_seq(self) -> int | None:
        """The next sequence number, counted as handed out (None once ``count`` are)."""
        with self._lock:
            if self.count and self.sent >= self.count:
                return None
            seq = self.sent
            self.sent += 1
            return seq


def semantic_family(semantic_dir: str):
    """The semantic family a task block loads (one torch thread: GNU Radio gives each block a thread; a bad
    family is the constructor's ValueError)."""
    from ..codec.codec import limit_torch_threads
    from ..errors import IsscInputError
    from ..semantic.family import SemanticFamily

    limit_torch_threads(1)
    try:
        return SemanticFamily.load(semantic_dir or None)
    except IsscInputError as exc:
        raise ValueError(str(exc)) from None


def check_family_model(config, model_ids, what: str):
    """``config`` back when its model is one of ``model_ids`` (IsscInputError naming the ``what`` model)."""
    from ..errors import IsscInputError

    if config.model not in model_ids:
        raise IsscInputError(
            f"configuration names {what} model '{config.model}', not in this family ({', '.join(model_ids)})"
        )
    return config


def wire_receiver(hier, frame_decoder, decoder, out_port: str) -> None:
    """A receiver hier block's wiring (the children stay on the block): its input into ``frame_decoder``,
    whose PDUs go to ``decoder`` and out on ``bits`` and whose header failures out on ``header_failed``;
    the decoder's output out on ``out_port``."""
    hier.connect(hier, frame_decoder)
    for port in ("bits", out_port, "header_failed"):
        hier.message_port_register_hier_out(port)
    hier.msg_connect(frame_decoder, "out", decoder, "in")
    hier.msg_connect(frame_decoder, "out", hier, "bits")
    hier.msg_connect(frame_decoder, "header_failed", hier, "header_failed")
    hier.msg_connect(decoder, "out", hier, out_port)


def encoded_meta(seq: int, config, model_index: int, height: int, width: int, **fields) -> dict:
    """A source encoder's output metadata, what the frame encoders read: ``seq``, ``config`` (as a PMT, for
    this frame), ``model``, ``model_index`` (the family position the header carries), the image's
    ``height`` and ``width``, then ``fields`` (``z_bytes``, ``y_bytes``; ``symbols``...) in their order."""
    return {
        "seq": seq,
        "config": config.to_pmt(),
        "model": config.model,
        "model_index": model_index,
        "height": height,
        "width": width,
        **fields,
    }


def serve_configured_images(block) -> None:
    """A source encoder's plumbing: ``frames_encoded`` 0, its rate-limited log, a :class:`ConfiguredImages`
    inbox (the block's ``_checked`` and ``_encode``) behind the ``image`` and ``config`` ports, the ``out``
    port."""
    import pmt

    block.frames_encoded = 0
    block._log = RateLimitedLog(block.logger)
    block._inbox = ConfiguredImages(block._checked, block._encode, block._log)
    block.message_port_register_out(pmt.intern("out"))
    register_message_handlers(block, {"image": block._inbox.on_image, "config": block._inbox.on_config}, block._log)


def serve_received_pdus(block, handler) -> None:
    """A source decoder's plumbing: ``frames_decoded`` 0, its rate-limited log, ``handler`` behind the ``in``
    port, the ``out`` port."""
    import pmt

    block.frames_decoded = 0
    block._log = RateLimitedLog(block.logger)
    block.message_port_register_out(pmt.intern("out"))
    register_message_handlers(block, {"in": handler}, block._log)


class SeparateProcess:
    """Mixin of a block whose core object (``self._process_owner``, a
    :class:`~gnuradio.issc.service_process.UsesServiceProcess`) can work in a child process: started with
    the flowgraph when ``self.separate_process``, let go when it stops, a failure logged once (the owner
    has gone on in-process), and the child's CPU time as ``process_busy_s`` (``issc bench link
    --profile``). The block sets ``separate_process``, ``_process_owner``, ``_process_doing`` (for the
    log: 'estimating', 'polar decoding') and ``_log`` (a :class:`RateLimitedLog`)."""

    def start(self):
        if self.separate_process:
            try:
                self._process_owner.start_process()
            except OSError as exc:  # no child: the same results in the block's thread
                self._log.warn("process", f"{self._process_doing} in-process: cannot start its process ({exc})")
        return True

    def stop(self):
        self._process_owner.close()
        return True

    @property
    def process_busy_s(self) -> float:
        """CPU seconds the block's child processes spent on its requests."""
        return self._process_owner.process_cpu_s

    def _report_process_failure(self) -> None:
        owner = self._process_owner
        if owner.worker_failure:
            self._log.warn("process", f"{self._process_doing} in-process from now on: {owner.worker_failure}")
            owner.worker_failure = ""
