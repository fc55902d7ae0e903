# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""multiuser_transmitter: the K-user ISSC transmitter (x = sum_k w_k s_k + W_0 s_0) as one hier block."""

from __future__ import annotations

from gnuradio import gr

from ..errors import IsscInputError
from ..link.multiuser import data_model_ids, parse_tasks
from .djscc_encoder import djscc_encoder
from .multiuser_beamformer import multiuser_beamformer
from .multiuser_frame_encoder import multiuser_frame_encoder
from .semantic_encoder import semantic_encoder
from .sensing_source import sensing_source
from .task_encoder import task_encoder

SCHEMES = ("ascc", "djscc")


def with_standard_codecs(block):
    """``block`` (a ``semantic_encoder`` or ``semantic_decoder``) coding the standard operating points too: its
    codec becomes a :class:`~gnuradio.issc.codec.standard.FamilyCodec` over its learned family and its model
    list :func:`~gnuradio.issc.link.multiuser.data_model_ids` (the learned models' indices unchanged, the
    standard ones after them), the same at both ends of the multi-user link. Returns ``block``."""
    from ..codec.standard import FamilyCodec

    ids = data_model_ids(block.codec.model_ids)
    block.codec = FamilyCodec(block.codec, ids[len(block.codec.model_ids) :])
    block.model_ids = ids
    return block


class multiuser_transmitter(gr.hier_block2):
    """Per-user source encoders -> the slot framer -> the multi-user beamformer, with the sensing streams.

    ::

        image0, config0 --> source encoder 0 --+
        ...                                    +--> multiuser_frame_encoder ==K streams==> multiuser_beamformer
        image{K-1}, config{K-1} --> encoder K-1+         |  sent, bits                          ^   |
                                                                     sensing_source (r_0) --+   +==> N_T streams

    User ``k``'s source encoder is its task's: ``semantic_encoder`` (a data user: the hyperprior codec, or the
    HEVC / JPEG operating point the configuration names, ``codec/standard.py``) or ``task_encoder`` (a
    semantic user: the semantic family's features), or with ``scheme='djscc'`` a data user's is
    ``djscc_encoder`` (deep JSCC symbols sent as analog frames); each codes its images with its own
    configuration (``config{k}``, from ``multiuser_controller``: the model, the code rate, the beam ``w_k``
    and ``W_0``). The frame encoder sends one frame per user per slot, all starting together
    (``multiuser_frame_encoder``), and the beamformer switches every beam at the slot's first sample. Feed the
    outputs to ``user_channels`` and, for sensing, to ``sensing_estimator`` (its first ``N_T`` inputs).

    Message ports:
        image0 .. image{K-1} (in): user ``k``'s image PDUs.  config0 .. config{K-1} (in): its configurations
            (``K = 1``: also ``image``, ``config``).
        sent (out): ``{seq, queued}`` per slot.  bits (out): each user's PDU as sent (``user``, ``slot``...).

    Args:
        n_tx: transmit antennas ``N_T``.
        tasks: the users' tasks, e.g. 'data,data,semantic' (or a list); ``K`` is their number.
        sensing_streams: ``r_0`` (at least 1; a zero beam when the scenario has no target).
        codec_dir: data codec family directory ('' for the shipped family).
        semantic_dir: semantic family directory ('' for the shipped family).
        blocklength: ``L`` channel uses per codeword.
        preamble_length: preamble symbols.
        header_symbols: header symbols (a power of two).
        idle: 'wait' or 'zeros' (``multiuser_frame_encoder``).
        max_queue: frames waiting per user at most.
        seed: seed of the sensing streams.
        scheme: the data users' source: 'ascc' (digital: the codec family, learned or standard, and the polar
            code) or 'djscc' (``djscc_encoder``: analog frames of deep JSCC symbols, the ZF-WF-DJSCC benchmark).
        djscc_dir: DJSCC model directory ('' for the shipped models; scheme 'djscc').
    """

    def __init__(
        self,
        n_tx: int = 2,
        tasks="data,semantic",
        sensing_streams: int = 1,
        codec_dir: str = "",
        semantic_dir: str = "",
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        idle: str = "wait",
        max_queue: int = 8,
        seed: int = 0,
        scheme: str = "ascc",
        djscc_dir: str = "",
    ):
        try:
            self.tasks = parse_tasks(tasks)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        k, n_tx, sensing_streams = len(self.tasks), int(n_tx), int(sensing_streams)
        gr.hier_block2.__init__(
            self,
            "multiuser_transmitter",
            gr.io_signature(0, 0, 0),
            gr.io_signature(n_tx, n_tx, gr.sizeof_gr_complex),
        )
        self.users = k
        # children live on self: an unreferenced Python block is garbage-collected (docs/install.md)
        self.scheme = scheme
        self.encoders = [
            task_encoder(semantic_dir)
            if task != "data"
            else djscc_encoder(djscc_dir)
            if scheme == "djscc"
            else with_standard_codecs(semantic_encoder(codec_dir))
            for task in self.tasks
        ]
        self.frame_encoder = multiuser_frame_encoder(
            k, blocklength, preamble_length, header_symbols, idle=idle, max_queue=max_queue
        )
        self.sensing_source = sensing_source(sensing_streams, seed)
        self.beamformer = multiuser_beamformer(n_tx, k, sensing_streams)
        for u, encoder in enumerate(self.encoders):
            for port in ("image", "config"):
                self.message_port_register_hier_in(f"{port}{u}")
                self.msg_connect(self, f"{port}{u}", encoder, port)
            self.msg_connect(encoder, "out", self.frame_encoder, f"in{u}")
        if k == 1:  # GRC names a message port of multiplicity 1 without the index
            for port in ("image", "config"):
                self.message_port_register_hier_in(port)
                self.msg_connect(self, port, self.encoders[0], port)
        self.message_port_register_hier_out("sent")
        self.message_port_register_hier_out("bits")
        self.msg_connect(self.frame_encoder, "sent", self, "sent")
        self.msg_connect(self.frame_encoder, "bits", self, "bits")
        for u in range(k):
            self.connect((self.frame_encoder, u), (self.beamformer, u))
        for r in range(sensing_streams):
            self.connect((self.sensing_source, r), (self.beamformer, k + r))
        for antenna in range(n_tx):
            self.connect((self.beamformer, antenna), (self, antenna))
