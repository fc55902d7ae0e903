#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decode rate and payload BER of the RRC-shaped link through the receiver's impairments, against the
calibrated table of the polar code (docs/link.md "The hardware waveform").

    .venv/bin/python scripts/waveform_link_rates.py --sps 2 4 --sinr 4.5 5.5 6.5 --frames 16

The real GNU Radio chain: frame_encoder (shaped) -> beamformer (MRT, all power on the communication
beam, a shaped sensing stream with a zero beam) -> comm_channel (CFO, phase noise, timing offset,
sample-rate offset, AWGN at the symbol SINR) -> frame_decoder. Random payloads, every frame queued
before the start (frames back to back); one row per (sps, SINR): frames decoded / sent, headers failed,
the SINR the receiver measured, the payload BER and the table's BER at the set SINR, and the SINR at
which the table has the measured BER (the implementation loss is the difference).
"""

import argparse
import sys
import time
from pathlib import Path

import gnuradio
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
from gnuradio import blocks, gr, issc  # noqa: E402

from gnuradio.issc.link.calibration import CalibratedBer  # noqa: E402
from gnuradio.issc.link.config import LinkConfig  # noqa: E402
from gnuradio.issc.link.pdus import make_pdu, split_pdu  # noqa: E402
from gnuradio.issc.physics.geometry import Geometry  # noqa: E402
from gnuradio.issc.scenario import load_scenario  # noqa: E402
from gnuradio.issc.units import w_to_dbm  # noqa: E402

SCENARIO = "tradeoff"
VERBOSE = False


def run_point(sps, sinr_db, frames, payload_bytes, info_bits, impairments, seed):
    scn = load_scenario(SCENARIO)
    geo = Geometry.from_scenario(scn)
    gain = float(np.linalg.norm(geo.h_c) ** 2)
    noise_dbm = float(w_to_dbm(gain * sps / 10 ** (sinr_db / 10)))  # symbol SNR = sps x sample SNR
    tb = gr.top_block()
    framer = issc.frame_encoder(samples_per_symbol=sps, max_queue=frames)
    sensing = issc.sensing_source(1, seed + 3, samples_per_symbol=sps)
    beamformer = issc.beamformer(geo.n_tx, 1)
    channel = issc.comm_channel(SCENARIO, noise_dbm, seed, **impairments)
    decoder = issc.frame_decoder(samples_per_symbol=sps)
    out, failed = blocks.message_debug(), blocks.message_debug()
    tb.connect(framer, (beamformer, 0))
    tb.connect(sensing, (beamformer, 1))
    for k in range(geo.n_tx):
        tb.connect((beamformer, k), (channel, k))
    tb.connect(channel, decoder)
    tb.msg_connect(decoder, "out", out, "store")
    tb.msg_connect(decoder, "header_failed", failed, "store")
    rng = np.random.default_rng([seed, sps])
    payloads = [rng.integers(0, 256, payload_bytes, np.uint8).tobytes() for _ in range(frames)]
    w_c = geo.h_c / np.linalg.norm(geo.h_c)
    for seq, payload in enumerate(payloads):
        config = LinkConfig("m", info_bits / 256, info_bits, w_c, np.zeros((geo.n_tx, 1)), seq)
        meta = {"seq": seq, "config": config.to_pmt(), "model_index": 0, "height": 64, "width": 64}
        meta.update(z_bytes=100, y_bytes=payload_bytes - 100)
        framer._on_pdu(make_pdu(meta, payload))
    receiver = decoder.receiver
    tb.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if (
            framer.idle_now
            and channel.nitems_read(0) >= framer.samples_sent
            and receiver.samples_pushed >= channel.nitems_written(0)
            and out.num_messages() + failed.num_messages()
            >= receiver.frames_decoded + receiver.headers_failed + receiver.frames_lost
        ):
            break
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    errors = bits = 0
    measured, per_frame = [], []
    for i in range(out.num_messages()):
        meta, payload = split_pdu(out.get_message(i))
        sent = np.frombuffer(payloads[meta["seq"]], np.uint8)
        frame_errors = int(np.count_nonzero(np.unpackbits(np.frombuffer(bytes(payload), np.uint8) ^ sent)))
        errors += frame_errors
        per_frame.append(frame_errors)
        bits += 8 * sent.size
        measured.append(meta["sinr_db"])
    if VERBOSE:
        print("  bit errors per frame:", per_frame)
    return out.num_messages(), failed.num_messages(), measured, errors, bits


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sps", type=int, nargs="+", default=[2, 4])
    p.add_argument("--sinr", type=float, nargs="+", default=[4.5, 5.5, 6.5], help="symbol SINR, dB")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--payload-bytes", type=int, default=1500)
    p.add_argument("--info-bits", type=int, default=400, help="K per codeword of L = 256 channel uses")
    p.add_argument("--cfo", type=float, default=0.01, help="cycles per symbol")
    p.add_argument("--ppm", type=float, default=100.0)
    p.add_argument("--timing", type=float, default=0.37, help="samples")
    p.add_argument("--linewidth", type=float, default=1e-5, help="phase-noise linewidth, of the symbol rate")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", action="store_true", help="print the bit errors of every frame")
    args = p.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    table = CalibratedBer.load()
    rate = args.info_bits / 256
    grid = np.arange(-8.0, 16.0, 0.01)
    curve = table(10 ** (grid / 10), rate)
    bandwidth = load_scenario(SCENARIO).signal.bandwidth_hz
    print("sps  SINR  decoded  failed  SINR_meas   BER       table     SINR_eq  loss_dB")
    for sps in args.sps:
        symbol_rate = bandwidth / sps
        impairments = {
            "cfo_hz": args.cfo * symbol_rate,
            "linewidth_hz": args.linewidth * symbol_rate,
            "timing_offset": args.timing,
            "sro_ppm": args.ppm,
        }
        for sinr in args.sinr:
            decoded, failed, measured, errors, bits = run_point(
                sps, sinr, args.frames, args.payload_bytes, args.info_bits, impairments, args.seed
            )
            ber = errors / bits if bits else float("nan")
            expected = 10 ** table(10 ** (sinr / 10), rate)
            # the SINR where the table's BER equals the measured one (the curve falls with the SINR)
            equivalent = float(grid[np.argmin(np.abs(curve - np.log10(max(ber, 1e-12))))]) if errors else float("nan")
            print(
                f"{sps:>3} {sinr:5.1f}  {decoded:>3}/{args.frames:<3} {failed:>5}   {np.mean(measured):7.2f}  "
                f"{ber:9.2e} {expected:9.2e}  {equivalent:7.2f}  {sinr - equivalent:6.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
