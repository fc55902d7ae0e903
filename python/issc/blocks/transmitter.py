# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""transmitter: the ISSC transmitter as one hier block."""

from __future__ import annotations

from gnuradio import gr

from .beamformer import beamformer
from .djscc_encoder import djscc_encoder
from .frame_encoder import frame_encoder
from .semantic_encoder import semantic_encoder
from .sensing_source import sensing_source

SCHEMES = ("ascc", "djscc")


class transmitter(gr.hier_block2):
    """Source encoder -> frame encoder -> beamformer, with the sensing streams, as one block.

    ::

        image, config --> source encoder --> frame_encoder --> beamformer --> N_T antenna streams
                                |                  |              ^
                                +--> bits          +--> sent      sensing_source (r_0 streams)

    The source encoder is the scheme's: ``semantic_encoder`` (``scheme='ascc'``: hyperprior codec,
    bitstream PDUs, polar-coded frames) or ``djscc_encoder`` (``scheme='djscc'``: deep JSCC symbols,
    analog frames); either way it is the child ``semantic_encoder``. Each output stream carries the
    frame encoder's ``issc_frame`` tag on the first sample of every frame. Feed the outputs to
    ``channels`` and, for sensing, to ``sensing_estimator`` (its first ``N_T`` inputs).

    Message ports:
        image (in): image PDUs.  config (in): frame configurations from the controller.
        bits (out): the encoder's PDUs as sent (for the monitor).  sent (out): ``{seq, queued}`` per frame.

    Args:
        n_tx: transmit antennas ``N_T``.
        sensing_streams: ``r_0``.
        scheme: 'ascc' or 'djscc'.
        codec_dir: codec family directory ('' for the shipped family; scheme 'ascc').
        djscc_dir: DJSCC model directory ('' for the shipped models; scheme 'djscc').
        blocklength: ``L`` channel uses per codeword.
        preamble_length: preamble symbols.
        header_symbols: header symbols (a power of two).
        idle: frame encoder idle mode, 'wait' or 'zeros'.
        max_queue: frames waiting in the frame encoder at most.
        seed: seed of the sensing streams.
        samples_per_symbol: samples per symbol of the RRC-shaped waveform (1: unshaped), for the frame
            encoder and the sensing streams alike (one spectrum).
        rolloff: RRC roll-off.
        rrc_span: RRC length in symbols (even).
        guard: the frame encoder's zero samples after a burst (-1: its default).
    """

    def __init__(
        self,
        n_tx: int = 4,
        sensing_streams: int = 1,
        scheme: str = "ascc",
        codec_dir: str = "",
        djscc_dir: str = "",
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        idle: str = "wait",
        max_queue: int = 8,
        seed: int = 0,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
        rrc_span: int = 12,
        guard: int = -1,
    ):
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        n_tx, sensing_streams = int(n_tx), int(sensing_streams)
        gr.hier_block2.__init__(
            self, "transmitter", gr.io_signature(0, 0, 0), gr.io_signature(n_tx, n_tx, gr.sizeof_gr_complex)
        )
        self.scheme = scheme
        # children live on self: an unreferenced Python block is garbage-collected (docs/install.md)
        self.semantic_encoder = djscc_encoder(djscc_dir) if scheme == "djscc" else semantic_encoder(codec_dir)
        self.frame_encoder = frame_encoder(
            blocklength,
            preamble_length,
            header_symbols,
            idle=idle,
            max_queue=max_queue,
            samples_per_symbol=samples_per_symbol,
            rolloff=rolloff,
            rrc_span=rrc_span,
            guard=guard,
        )
        self.sensing_source = sensing_source(sensing_streams, seed, samples_per_symbol, rolloff, rrc_span)
        self.beamformer = beamformer(n_tx, sensing_streams)
        for port in ("image", "config"):
            self.message_port_register_hier_in(port)
            self.msg_connect(self, port, self.semantic_encoder, port)
        self.message_port_register_hier_out("bits")
        self.message_port_register_hier_out("sent")
        self.msg_connect(self.semantic_encoder, "out", self.frame_encoder, "in")
        self.msg_connect(self.semantic_encoder, "out", self, "bits")
        self.msg_connect(self.frame_encoder, "sent", self, "sent")
        self.connect(self.frame_encoder, (self.beamformer, 0))
        for k in range(sensing_streams):
            self.connect((self.sensing_source, k), (self.beamformer, 1 + k))
        for k in range(n_tx):
            self.connect((self.beamformer, k), (self, k))
