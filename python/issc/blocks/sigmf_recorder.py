# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sigmf_recorder: complex streams to SigMF recordings, one per input, annotated from the frame tags."""

from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..files import check_output_dir
from ..link.config import FRAME_TAG, LinkConfig
from ..link.pdus import meta_seq, meta_to_dict
from ..link.recording import ROLES, RecordingWriter, recording_paths
from ..scenario import load_scenario
from ._util import RateLimitedLog


class sigmf_recorder(gr.sync_block):
    """Records each input stream as a SigMF recording (:mod:`gnuradio.issc.link.recording`): the samples
    as ``cf32_le`` in ``DIR/NAME.sigmf-data``, streamed to disk as they come, and ``DIR/NAME.sigmf-meta``
    with the sample rate, the carrier, the scenario (``issc:scenario``), the stream's role and index, and
    one annotation per frame from the ``issc_frame`` tags on the stream (``issc:seq``, ``issc:model``,
    ``issc:code_rate``). ``NAME`` is the role, followed by the input's index when there are several
    inputs (``tx0`` .. ``tx3``, ``comm_rx``, ``echo0`` ..). The metadata is rewritten atomically every
    ``meta_interval_s`` and when the flowgraph stops, so a killed run leaves a valid recording of what was
    written. Streams without tags (the channels strip them) get no frame annotations.

    Record the transmitted antenna streams (role 'tx', ``N_T`` inputs: the sensing replay's reference),
    the communication receiver's input (role 'comm_rx': ``issc replay`` decodes it) and the echo streams
    (role 'echo', ``N_R`` inputs).

    Args:
        directory: output folder (created if needed).
        role: 'tx', 'comm_rx', 'echo' or 'other'; also the recordings' name.
        streams: number of inputs.
        scenario: shipped scenario name or YAML path, stored in the recordings (and its bandwidth and
            carrier are the defaults of the two next arguments).
        sample_rate: samples per second (NaN: the scenario's bandwidth).
        center_freq: carrier frequency, Hz (NaN: the scenario's).
        scheme: the link's scheme ('ascc' or 'djscc'), stored for the replay's receiver.
        run_id: names the run, so the recordings of one run are found together ('' for none).
        meta_interval_s: rewrite the metadata at most this often while recording (0: only at stop).
    """

    def __init__(
        self,
        directory: str = ".",
        role: str = "other",
        streams: int = 1,
        scenario="paper",
        sample_rate: float = math.nan,
        center_freq: float = math.nan,
        scheme: str = "ascc",
        run_id: str = "",
        meta_interval_s: float = 2.0,
    ):
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if int(streams) != streams or streams < 1:
            raise ValueError(f"streams must be an integer >= 1, got {streams!r}")
        try:
            scn = load_scenario(scenario)
            folder = check_output_dir(directory, "sigmf_recorder directory")
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.streams = int(streams)
        gr.sync_block.__init__(self, name="sigmf_recorder", in_sig=[np.complex64] * self.streams, out_sig=None)
        rate = scn.signal.bandwidth_hz if math.isnan(sample_rate) else float(sample_rate)
        carrier = scn.signal.carrier_hz if math.isnan(center_freq) else float(center_freq)
        names = [role] if self.streams == 1 else [f"{role}{k}" for k in range(self.streams)]
        extra = {"issc:scheme": str(scheme), "issc:blocklength": int(scn.signal.blocklength)}
        try:
            self.writers = [
                RecordingWriter(
                    folder / name,
                    rate,
                    carrier,
                    scn,
                    role=role,
                    stream_index=k,
                    streams=self.streams,
                    run_id=run_id,
                    description=f"gr-issc {role} stream {k} of {self.streams}, scenario {scn.name}",
                    extra=extra,
                    meta_interval_s=meta_interval_s,
                )
                for k, name in enumerate(names)
            ]
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.paths = [recording_paths(w.meta_path)[0] for w in self.writers]
        self._log = RateLimitedLog(self.logger)

    @property
    def samples_written(self) -> int:
        """Samples of the first input written so far."""
        return self.writers[0].samples

    def start(self):
        for writer in self.writers:
            writer.open()
        return True

    def stop(self):
        for writer in self.writers:
            writer.close()
        return True

    def _annotate(self, k: int, n: int):
        for tag in self.get_tags_in_window(k, 0, n, pmt.intern(FRAME_TAG)):
            try:
                config = LinkConfig.from_pmt(tag.value)
                self.writers[k].frame(tag.offset, config.seq, config.model, config.code_rate, config.info_bits)
            except IsscInputError:
                try:  # not a whole configuration: the frame's sequence number is still worth keeping
                    self.writers[k].frame(tag.offset, meta_seq(meta_to_dict(tag.value), f"{FRAME_TAG} tag"))
                except IsscInputError as exc:
                    self._log.warn("tag", f"input {k}: ignoring the {FRAME_TAG} tag at {tag.offset}: {exc}")

    def work(self, input_items, output_items):
        n = len(input_items[0])
        for k in range(self.streams):
            self.writers[k].write(input_items[k][:n])  # the samples before their tags: see RecordingWriter
            self._annotate(k, n)
        return n
