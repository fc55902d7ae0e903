#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measured SER and EVM of the RRC waveform and its synchroniser against the ideal AWGN channel.

QPSK frame (256-symbol preamble + random symbols) -> RRC (roll-off 0.35, span 12) at ``sps`` -> receiver
impairments (CFO, sample-rate offset, 0.37-sample timing offset, Wiener phase noise) -> AWGN at Es/N0 ->
:class:`gnuradio.issc.link.waveform.FrameSynchroniser` -> symbols. SER counts hard-decision errors on the
random symbols, EVM is after the best complex scale; the ideal is ``2Q(sqrt g) - Q(sqrt g)^2`` and ``1/g``.

.venv/bin/python scripts/waveform_figures.py [--symbols 100000] [--esn0 10] [--linewidth 1e-5]
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

import gnuradio
import numpy as np
from scipy.special import erfc

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
from gnuradio.issc.link.framing import preamble, qpsk_map  # noqa: E402
from gnuradio.issc.link.waveform import FrameSynchroniser, Waveform, shape  # noqa: E402
from gnuradio.issc.physics.channels import complex_noise  # noqa: E402
from gnuradio.issc.physics.impairments import Impairments, ImpairmentSettings  # noqa: E402


def measure(sps, cfo, ppm, esn0_db, linewidth, count, seed):
    rng = np.random.default_rng(seed)
    p = 256
    symbols = np.concatenate([preamble(p), qpsk_map(rng.integers(0, 2, 2 * (count - p)))]).astype(complex)
    w = Waveform(sps)
    x = np.concatenate([np.zeros(137), shape(symbols, w), np.zeros(100)])
    settings = ImpairmentSettings(cfo=cfo / sps, linewidth=linewidth / sps, timing_offset=0.37, sro_ppm=ppm)
    noise_rng = np.random.default_rng(seed + 1)
    sigma2 = sps / 10 ** (esn0_db / 10)
    received = Impairments(settings, seed=seed).process(x, lambda s: complex_noise(noise_rng, s, sigma2))
    started = time.perf_counter()
    sync = FrameSynchroniser(w, preamble(p))
    acq = sync.acquire(received, search=2000)
    result = sync.track(received, acq, count)
    elapsed = time.perf_counter() - started
    y, s = result.symbols[p:], symbols[p:]
    z = y / acq.gain
    ser = float(np.mean(np.abs((np.sign(z.real) + 1j * np.sign(z.imag)) / np.sqrt(2) - s) > 1e-6))
    g = np.vdot(s, y) / np.vdot(s, s)
    evm_db = 10 * np.log10(np.mean(np.abs(y - g * s) ** 2) / abs(g) ** 2)
    return ser, evm_db, acq.cfo * sps, result.sro_ppm(sps), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100000)
    parser.add_argument("--esn0", type=float, default=10.0, help="Es/N0 in dB")
    parser.add_argument("--linewidth", type=float, default=1e-5, help="phase-noise linewidth x symbol period")
    parser.add_argument("--sps", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    snr = 10 ** (args.esn0 / 10)
    q = 0.5 * erfc(np.sqrt(snr / 2))
    print(f"Es/N0 {args.esn0:g} dB, {args.symbols} symbols, phase noise 2 pi {args.linewidth:g} rad^2/symbol")
    print(f"ideal: SER {2 * q - q * q:.3e}, EVM {-args.esn0:.2f} dB")
    print("sps  CFO(%)  SRO(ppm)   SER        EVM(dB)  CFO est(%)  SRO est(ppm)  time(s)")
    for seed, (sps, cfo, ppm) in enumerate(itertools.product(args.sps, (0.0, 0.005, 0.01), (0.0, 50.0, 100.0))):
        ser, evm_db, cfo_est, ppm_est, elapsed = measure(sps, cfo, ppm, args.esn0, args.linewidth, args.symbols, seed)
        print(
            f"{sps:3d}  {100 * cfo:6.1f}  {ppm:8.0f}   {ser:.3e}  {evm_db:7.2f}  {100 * cfo_est:10.4f}  "
            f"{ppm_est:12.1f}  {elapsed:7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
