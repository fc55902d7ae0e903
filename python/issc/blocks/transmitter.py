"""transmitter: the ISSC transmitter as one hier block."""
from __future__ import annotations

import numpy as np
from gnuradio import gr

from .beamformer import beamformer
from .frame_encoder import frame_encoder
from .semantic_encoder import semantic_encoder
from .sensing_source import sensing_source


class transmitter(gr.hier_block2):
    """Semantic encoder -> frame encoder -> beamformer, with the sensing streams, as one block.

    ::

        image, config --> semantic_encoder --> frame_encoder --> beamformer --> N_T antenna streams
                                  |                  |              ^
                                  +--> bits          +--> sent      sensing_source (r_0 streams)

    Message ports:
        image (in): image PDUs.  config (in): frame configurations from the controller.
        bits (out): the bitstream PDUs as sent (for the monitor).  sent (out): ``{seq, queued}`` per frame.

    Args:
        n_tx: transmit antennas ``N_T``.
        sensing_streams: ``r_0``.
        codec_dir: codec family directory ('' for the shipped family).
        blocklength: ``L`` channel uses per codeword.
        idle: frame encoder idle mode, 'wait' or 'zeros'.
        seed: seed of the sensing streams.
    """

    def __init__(self, n_tx: int = 4, sensing_streams: int = 1, codec_dir: str = "", blocklength: int = 256,
                 idle: str = "wait", seed: int = 0):
        gr.hier_block2.__init__(self, "transmitter", gr.io_signature(0, 0, 0),
                                gr.io_signature(n_tx, n_tx, gr.sizeof_gr_complex))
        # children live on self: an unreferenced Python block is garbage-collected (docs/install.md)
        self.semantic_encoder = semantic_encoder(codec_dir)
        self.frame_encoder = frame_encoder(blocklength, idle=idle)
        self.sensing_source = sensing_source(sensing_streams, seed)
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
