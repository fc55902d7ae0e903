# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sample_counter: counts the samples a link between processes drops, with stamps on the stream."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from ..link.pdus import dict_to_meta, is_int, meta_to_dict
from ._util import RateLimitedLog, register_message_handlers

COUNT_TAG = "issc_count"
"""Stream-tag key of the stamps: value ``{count, dropped}``, the item's index at the stamping block and
the items already known lost upstream of it."""
MODES = ("stamp", "check")


class sample_counter(gr.sync_block):
    """A pass-through on each side of a link that may lose samples (e.g. ZeroMQ between processes, whose
    sink must pass tags): so a drop is counted and reported, never silent.

    Mode ``stamp`` (before the link) tags every ``interval``-th item with an ``issc_count`` tag
    ``{count, dropped}``: the item's index here and the items known lost before this point (from
    ``dropped`` messages, e.g. a previous hop's checker). Mode ``check`` (after the link) compares each
    stamp with the item's index here: the difference is the items lost on the link. Loss at the very end
    of a stream, after the last stamp, is not seen (a receiver finds it as missing frames). The total
    (this hop and upstream) goes out on ``dropped`` as ``{dropped, hop_dropped, items}`` when it changes.

    Message ports:
        dropped (in): mode stamp: ``{dropped}``, items lost upstream (carried in the next stamps).
        dropped (out): mode check: ``{dropped, hop_dropped, items}``.

    Args:
        mode: 'stamp' or 'check'.
        vlen: complex items per stream item (a vector stream of ``N_T`` antennas has ``vlen = N_T``).
        interval: items between stamps.
    """

    def __init__(self, mode: str = "stamp", vlen: int = 1, interval: int = 4096):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if int(vlen) != vlen or vlen < 1:
            raise ValueError(f"vlen must be an integer >= 1, got {vlen!r}")
        if int(interval) != interval or interval < 1:
            raise ValueError(f"interval must be an integer >= 1, got {interval!r}")
        item = np.complex64 if vlen == 1 else (np.complex64, int(vlen))
        gr.sync_block.__init__(self, name="sample_counter", in_sig=[item], out_sig=[item])
        self.mode, self.vlen, self.interval = mode, int(vlen), int(interval)
        self.upstream_dropped = 0  # stamp: lost before this point; check: as the last stamp said
        self.hop_dropped = 0  # check: lost between the stamping block and this one
        self.stamps = 0
        self.items = 0
        self._lock = threading.Lock()
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("dropped"))
        register_message_handlers(self, {"dropped": self._on_dropped}, self._log)

    @property
    def dropped(self) -> int:
        """Items lost before this block (check: this hop and the ones before; stamp: upstream)."""
        with self._lock:
            return self.upstream_dropped + self.hop_dropped

    def _on_dropped(self, msg):
        value = meta_to_dict(msg).get("dropped")
        if not is_int(value) or value < 0:
            raise ValueError(f"a 'dropped' message needs an integer 'dropped' >= 0, got {value!r}")
        with self._lock:
            self.upstream_dropped = max(self.upstream_dropped, int(value))

    def work(self, input_items, output_items):
        n = len(input_items[0])
        output_items[0][:n] = input_items[0][:n]
        start = self.nitems_written(0)
        if self.mode == "stamp":
            first = -(-start // self.interval) * self.interval
            with self._lock:
                upstream = self.upstream_dropped
            for offset in range(first, start + n, self.interval):
                value = dict_to_meta({"count": offset, "dropped": upstream})
                self.add_item_tag(0, offset, pmt.intern(COUNT_TAG), value)
                self.stamps += 1
        else:
            self._check(start, n)
        self.items = start + n
        return n

    def _check(self, start: int, n: int):
        changed = False
        for tag in self.get_tags_in_window(0, 0, n, pmt.intern(COUNT_TAG)):
            values = meta_to_dict(tag.value) if pmt.is_dict(tag.value) else {}
            count, upstream = values.get("count"), values.get("dropped", 0)
            if not (is_int(count) and is_int(upstream)):
                self._log.warn("tag", f"ignoring a malformed {COUNT_TAG} tag at {tag.offset}")
                continue
            self.stamps += 1
            hop = int(count) - int(tag.offset)
            with self._lock:
                if hop < self.hop_dropped:
                    self._log.warn("order", f"stamp {count} at item {tag.offset}: items repeated or reordered")
                    continue
                if hop != self.hop_dropped or upstream != self.upstream_dropped:
                    if hop > self.hop_dropped:
                        self._log.warn("drop", f"{hop - self.hop_dropped} items lost before item {tag.offset}")
                    self.hop_dropped, self.upstream_dropped = hop, max(self.upstream_dropped, int(upstream))
                    changed = True
        if changed:
            value = {"dropped": self.dropped, "hop_dropped": self.hop_dropped, "items": start + n}
            self.message_port_pub(pmt.intern("dropped"), dict_to_meta(value))
