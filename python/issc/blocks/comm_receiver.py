# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""comm_receiver: the communication receiver (frame decoder + source decoder) as one hier block."""

from __future__ import annotations

from gnuradio import gr

from ._util import wire_receiver
from .djscc_decoder import djscc_decoder
from .frame_decoder import frame_decoder
from .semantic_decoder import semantic_decoder

SCHEMES = ("ascc", "djscc")


class comm_receiver(gr.hier_block2):
    """Received samples to images.

    ::

        samples --> frame_decoder --+--> source decoder --> image
                                    +--> bits, header_failed

    The source decoder is the scheme's: ``semantic_decoder`` (``scheme='ascc'``: polar-coded frames,
    hyperprior codec) or ``djscc_decoder`` (``scheme='djscc'``: analog frames, deep JSCC); either way it
    is the child ``semantic_decoder``. The frame parameters must be the transmitter's. The frame decoder
    accepts only headers naming a model of the source decoder's family (``model_count``).

    Message ports:
        bits (out): received PDUs (bitstream, or equalised symbols for 'djscc').  image (out): decoded
            image PDUs.  header_failed (out): one message per frame whose header failed or that was cut
            short by the next frame (``reason``).

    Args:
        scheme: 'ascc' or 'djscc'.
        codec_dir: codec family directory ('' for the shipped family; scheme 'ascc').
        djscc_dir: DJSCC model directory ('' for the shipped models; scheme 'djscc').
        blocklength: ``L`` channel uses per codeword.
        preamble_length: preamble symbols.
        header_symbols: header symbols (a power of two).
        threshold: preamble detection threshold (0..1; 0: the waveform's default).
        list_size: SCL list size.
        samples_per_symbol: samples per symbol of the RRC-shaped waveform (1: unshaped; the
            transmitter's).
        rolloff: RRC roll-off.
        rrc_span: RRC length in symbols (even).
        separate_process: the frame decoder's polar decoding in a child process (True) or in its thread.
    """

    def __init__(
        self,
        scheme: str = "ascc",
        codec_dir: str = "",
        djscc_dir: str = "",
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        threshold: float = 0.0,
        list_size: int = 8,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
        rrc_span: int = 12,
        separate_process: bool = True,
    ):
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        gr.hier_block2.__init__(
            self, "comm_receiver", gr.io_signature(1, 1, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0)
        )
        self.scheme = scheme
        # children live on self: an unreferenced Python block is garbage-collected (docs/install.md)
        self.semantic_decoder = djscc_decoder(djscc_dir) if scheme == "djscc" else semantic_decoder(codec_dir)
        self.frame_decoder = frame_decoder(
            blocklength,
            preamble_length,
            header_symbols,
            threshold=threshold,
            list_size=list_size,
            model_count=len(self.semantic_decoder.model_ids),
            samples_per_symbol=samples_per_symbol,
            rolloff=rolloff,
            rrc_span=rrc_span,
            separate_process=separate_process,
        )
        wire_receiver(self, self.frame_decoder, self.semantic_decoder, "image")
