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
