# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The receiving end on recorded samples, wired once for the ``--rx-from`` file run (``IsscLinkRx``) and
the SigMF replay (``ReplayComm``): the communication receiver and a receive-only monitor."""

from __future__ import annotations

from ..blocks.comm_receiver import comm_receiver
from ..blocks.link_monitor import link_monitor
from ..link.waveform import Waveform


class ReceiveOnly:
    """Mixin of a ``gr.top_block`` whose ``self.source`` plays recorded samples (``exhausted``, ``total``)."""

    def _wire_receive_only(self, scn, scheme, codec_dir, djscc_dir, out_dir, reference, **ledger_options):
        """Build ``self.receiver`` (the scenario's blocklength and pulse shape) and ``self.monitor``
        (receive-only; ``reference(seq)`` gives frame ``seq``'s original image, or None) after
        ``self.source``, and connect them.

        Args:
            scn: the validated scenario of the recording.
            scheme, codec_dir, djscc_dir: the receiver's decoder.
            out_dir: where the monitor writes ('' for nowhere).
            reference: an ``ImageCycle`` of the transmitter's images, or None.
            ledger_options: more :meth:`FrameLedger.configure` keywords (``keep_rows``, ``frames_dir``).
        """
        wave = Waveform.from_scenario(scn).block_args()
        self.receiver = comm_receiver(scheme, codec_dir, djscc_dir, scn.signal.blocklength, **wave)
        self.monitor = link_monitor(out_dir, expect_sensing=False)
        original = None if reference is None else (lambda seq: reference.image(seq)[1])
        self.monitor.ledger.configure(receive_only=True, reference=original, **ledger_options)
        self.connect(self.source, self.receiver)
        self.msg_connect(self.receiver, "bits", self.monitor, "received_bits")
        self.msg_connect(self.receiver, "header_failed", self.monitor, "header_failed")
        self.msg_connect(self.receiver, "image", self.monitor, "received_image")

    frame_decoder = property(lambda self: self.receiver.frame_decoder, doc="the receiver's frame decoder")
    semantic_decoder = property(lambda self: self.receiver.semantic_decoder, doc="the receiver's source decoder")

    def finished(self) -> bool:
        """Every recorded sample through the receiver and every message of the decoders handled."""
        handled = self.monitor.messages_handled
        receiver = self.frame_decoder.receiver
        return (
            self.source.exhausted
            and receiver.samples_pushed >= self.source.total
            and self.semantic_decoder.frames_decoded >= receiver.frames_decoded
            and handled.get("received_bits", 0) >= receiver.frames_decoded
            and handled.get("received_image", 0) >= self.semantic_decoder.frames_decoded
            and handled.get("header_failed", 0) >= receiver.headers_failed
        )
