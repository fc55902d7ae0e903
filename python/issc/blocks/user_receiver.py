# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""user_receiver: one user's receiver of the multi-user link (its frames only) as one hier block."""

from __future__ import annotations

from gnuradio import gr

from ..link.multiuser import TASKS
from ._util import wire_receiver
from .djscc_decoder import djscc_decoder
from .frame_decoder import frame_decoder
from .multiuser_transmitter import SCHEMES, with_standard_codecs
from .semantic_decoder import semantic_decoder
from .task_decoder import task_decoder


class user_receiver(gr.hier_block2):
    """User ``user``'s received samples to its images (a data user) or classes (a semantic user).

    ::

        samples --> frame_decoder (user) --+--> semantic_ or djscc_decoder (data), task_decoder (semantic) --> out
                                           +--> bits, header_failed

    The frame decoder searches for the user's own preamble and keeps only headers with its user id
    (:mod:`gnuradio.issc.link.framing`): the other users' frames, superimposed on the same samples, are
    interference to it and are never delivered; a header of another user that decodes all the same is
    refused (``header_failed`` with ``reason`` 'user N'). Every frame's model, code rate and sizes come from
    its header on the air; a data user's model index covers the learned models and the HEVC / JPEG operating
    points (``multiuser_transmitter.with_standard_codecs``), whose payloads are decoded best-effort.

    Message ports:
        bits (out): received bitstream PDUs (metadata ``user``, ``seq``, ``sinr_db``, ``code_rate``...).
        out (out): image PDUs (data) or class PDUs (semantic: ``class``, ``confidence``).
        header_failed (out): failed, truncated or other users' headers (``reason``, ``user``).

    Args:
        task: 'data' or 'semantic'.
        user: the user id (its index in the scenario's users list).
        codec_dir: data codec family directory ('' for the shipped family).
        semantic_dir: semantic family directory ('' for the shipped family).
        blocklength: ``L`` channel uses per codeword.
        preamble_length: preamble symbols.
        header_symbols: header symbols (a power of two).
        threshold: preamble detection threshold (0..1; 0: the default).
        list_size: SCL list size.
        scheme: a data user's frames: 'ascc' (digital, ``semantic_decoder``) or 'djscc' (analog deep JSCC frames,
            ``djscc_decoder``).
        djscc_dir: DJSCC model directory ('' for the shipped models; scheme 'djscc').
        separate_process: the frame decoder's polar decoding in a child process (True) or in its thread.
    """

    def __init__(
        self,
        task: str = "data",
        user: int = 0,
        codec_dir: str = "",
        semantic_dir: str = "",
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        threshold: float = 0.0,
        list_size: int = 8,
        scheme: str = "ascc",
        djscc_dir: str = "",
        separate_process: bool = True,
    ):
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        gr.hier_block2.__init__(
            self, "user_receiver", gr.io_signature(1, 1, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0)
        )
        self.task, self.user = task, int(user)
        # children live on self: an unreferenced Python block is garbage-collected (docs/install.md)
        self.scheme = scheme
        self.decoder = (
            task_decoder(semantic_dir)
            if task != "data"
            else djscc_decoder(djscc_dir)
            if scheme == "djscc"
            else with_standard_codecs(semantic_decoder(codec_dir))
        )
        self.frame_decoder = frame_decoder(
            blocklength,
            preamble_length,
            header_symbols,
            threshold=threshold,
            list_size=list_size,
            model_count=len(self.decoder.model_ids),
            user=self.user,
            separate_process=separate_process,
        )
        wire_receiver(self, self.frame_decoder, self.decoder, "out")
