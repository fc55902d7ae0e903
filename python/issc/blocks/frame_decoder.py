# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""frame_decoder: received samples -> decoded bitstream PDUs (no tags needed)."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.framing import FrameFormat, FrameLimits, FrameReceiver
from ..link.pdus import dict_to_meta, make_pdu, make_symbol_pdu
from ..link.waveform import Waveform
from ._util import RateLimitedLog, SeparateProcess


class frame_decoder(SeparateProcess, gr.sync_block):
    """The communication receiver's physical layer (:class:`~gnuradio.issc.link.framing.FrameReceiver`).

    Works on the raw sample stream, with every tag stripped: preamble detection by normalised
    correlation, timing at the correlation peak, the complex gain and the noise-plus-interference power
    from the preamble (the SINR estimate), header LLRs and polar list decoding with a CRC-32 check, then
    the payload codewords with exact QPSK LLRs. A frame whose header fails its CRC, or announces what no
    transmitter of this link sends (a model index ``>= model_count``, more than ``max_payload_bytes`` or
    ``max_payload_symbols``, an image side outside ``[1, 8192]``, more than 24 bits per pixel:
    :class:`~gnuradio.issc.link.framing.FrameLimits`), is reported on ``header_failed`` and dropped; the
    search resumes right after its preamble start. A frame cut short by the next frame's preamble is
    reported there too (``reason`` 'truncated', with its ``seq``) and the next frame is decoded. Memory
    is bounded (``max(L, 2P + H)`` samples between calls plus one payload).

    With ``samples_per_symbol > 1`` the input is the RRC-shaped waveform of the frame encoder with the
    same parameters: the receiver matched-filters it and synchronises every frame itself (timing, carrier
    frequency and phase, sample-rate offset; :mod:`gnuradio.issc.link.waveform`), so it works through the
    channel's impairments. ``sinr_db`` is then per symbol (``samples_per_symbol`` times the per-sample
    SNR in white noise) and ``start`` the sample of the preamble's first pulse peak.

    With ``separate_process`` (the default) the polar list decoding runs in a child Python process
    (:class:`~gnuradio.issc.link.polar.PolarProcess`, started with the flowgraph, stopped with it): the
    same frames, but gr-fec's decoder, which keeps the interpreter lock through a call (about 20 ms a
    frame of the link), no longer stops the other Python blocks (on 2 cores, `issc bench link`:
    docs/performance.md). A child that cannot start or dies is logged and the decoding goes on in the
    block's thread.

    Output PDU metadata: ``seq``, ``header_ok`` (true), ``sinr_db``, ``model_index``, ``info_bits``,
    ``code_rate`` (``K / L``), ``z_bytes``, ``y_bytes``, ``height``, ``width``, ``start`` (sample index
    of the preamble); the payload is the decoded strings (residual bit errors included). An analog frame
    (header ``K = 0``, deep JSCC) goes out on the same port as a symbol PDU: ``analog`` true,
    ``code_rate`` 0, ``symbols``, ``symbol_noise_var`` (noise plus interference per equalised symbol,
    ``1 / SINR``) and the zero-forcing equalised symbols (``c32vector``).

    Message ports:
        out (out): received bitstream PDUs.
        header_failed (out): ``{start, sinr_db, reason, user}`` for every detected preamble whose header failed
            (``reason`` 'crc' or the limit it broke) and every frame lost to truncation (``reason``
            'truncated', plus its ``seq``).

    Args:
        blocklength: ``L`` channel uses per payload codeword.
        preamble_length: preamble symbols.
        header_symbols: header symbols.
        threshold: detection threshold of the normalised preamble correlation (0..1; 0: the waveform's
            default, 0.08 unshaped, about 0.21 shaped).
        list_size: SCL list size.
        max_payload_bytes: largest payload a header may announce (analog: ``max_payload_bytes / 8``
            symbols).
        max_payload_symbols: most payload channel symbols a header may announce.
        model_count: model indices accepted (``0 .. model_count - 1``; 256: any).
        samples_per_symbol: samples per symbol (1: unshaped).
        rolloff: RRC roll-off (``samples_per_symbol > 1``).
        rrc_span: RRC length in symbols, even (``samples_per_symbol > 1``).
        max_cfo: largest carrier offset searched, cycles per symbol (``samples_per_symbol > 1``).
        max_ppm: largest sample-rate offset expected, ppm (``samples_per_symbol > 1``).
        user: the user whose frames to decode (0: the single-user link; docs/multiuser.md): its preamble
            is searched for and a header of another user is refused (``header_failed``, ``reason``
            'user N'). The output metadata carry ``user``.
        separate_process: polar-decode in a child process (True) or in the block's thread (False).
    """

    def __init__(
        self,
        blocklength: int = 256,
        preamble_length: int = 256,
        header_symbols: int = 1024,
        threshold: float = 0.0,
        list_size: int = 8,
        max_payload_bytes: int = 4 << 20,
        max_payload_symbols: int = 1 << 27,
        model_count: int = 256,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
        rrc_span: int = 12,
        max_cfo: float = 0.02,
        max_ppm: float = 200.0,
        user: int = 0,
        separate_process: bool = True,
    ):
        gr.sync_block.__init__(self, name="frame_decoder", in_sig=[np.complex64], out_sig=None)
        try:
            fmt = FrameFormat(int(blocklength), int(preamble_length), int(header_symbols), int(list_size))
            limits = FrameLimits(int(max_payload_bytes), int(max_payload_symbols), int(model_count))
            waveform = Waveform(samples_per_symbol, rolloff, rrc_span)
            self.receiver = FrameReceiver(
                fmt,
                float(threshold) if threshold else None,
                limits=limits,
                waveform=waveform,
                max_cfo=float(max_cfo),
                max_ppm=float(max_ppm),
                user=int(user),
            )
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.separate_process = bool(separate_process)
        self._log = RateLimitedLog(self.logger)
        self._process_owner, self._process_doing = self.receiver, "polar decoding"
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_out(pmt.intern("header_failed"))

    def work(self, input_items, output_items):
        samples = input_items[0]
        if not np.all(np.isfinite(samples)):
            self._log.warn("nonfinite", "non-finite input samples replaced by 0")
        for frame in self.receiver.push(samples):
            if frame.header is None:
                failure = {"start": frame.start, "sinr_db": frame.sinr_db, "reason": frame.reason}
                failure["user"] = self.receiver.user
                if frame.lost_header is not None:
                    failure["seq"] = frame.lost_header.seq
                self.message_port_pub(pmt.intern("header_failed"), dict_to_meta(failure))
                continue
            h = frame.header
            meta = {
                "seq": h.seq,
                "header_ok": True,
                "sinr_db": frame.sinr_db,
                "model_index": h.model_index,
                "info_bits": h.info_bits,
                "code_rate": h.info_bits / self.receiver.fmt.blocklength,
                "height": h.height,
                "width": h.width,
                "start": frame.start,
                "user": h.user,
            }
            if h.analog:
                meta.update(
                    analog=True,
                    symbols=h.payload_symbols,
                    symbol_noise_var=frame.noise_var / max(abs(frame.gain) ** 2, 1e-30),
                )
                self.message_port_pub(pmt.intern("out"), make_symbol_pdu(meta, frame.symbols))
                continue
            meta.update(z_bytes=h.z_bytes, y_bytes=h.y_bytes)
            self.message_port_pub(pmt.intern("out"), make_pdu(meta, frame.payload))
        self._report_process_failure()
        return len(samples)
