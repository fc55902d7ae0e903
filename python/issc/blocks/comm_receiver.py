"""comm_receiver: the communication receiver (frame decoder + semantic decoder) as one hier block."""
from __future__ import annotations

from gnuradio import gr

from .frame_decoder import frame_decoder
from .semantic_decoder import semantic_decoder


class comm_receiver(gr.hier_block2):
    """Received samples to images.

    ::

        samples --> frame_decoder --+--> semantic_decoder --> image
                                    +--> bits, header_failed

    Message ports:
        bits (out): received bitstream PDUs.  image (out): decoded image PDUs.
        header_failed (out): one message per frame whose header failed.

    Args:
        codec_dir: codec family directory ('' for the shipped family).
        blocklength: ``L`` channel uses per codeword.
        threshold: preamble detection threshold (0..1).
        list_size: SCL list size.
    """

    def __init__(self, codec_dir: str = "", blocklength: int = 256, threshold: float = 0.08, list_size: int = 8):
        gr.hier_block2.__init__(self, "comm_receiver", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.frame_decoder = frame_decoder(blocklength, threshold=threshold, list_size=list_size)
        self.semantic_decoder = semantic_decoder(codec_dir)
        self.connect(self, self.frame_decoder)
        for port in ("bits", "image", "header_failed"):
            self.message_port_register_hier_out(port)
        self.msg_connect(self.frame_decoder, "out", self.semantic_decoder, "in")
        self.msg_connect(self.frame_decoder, "out", self, "bits")
        self.msg_connect(self.frame_decoder, "header_failed", self, "header_failed")
        self.msg_connect(self.semantic_decoder, "out", self, "image")
