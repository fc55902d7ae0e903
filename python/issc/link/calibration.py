# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration of the link's real channel code: measured bit and block error rates of the polar code
over a grid of SINR and code rate, and the "calibrated" BER model built on them (docs/model.md §3).

The simulation is the receiver's own chain: random information bits, gr-fec polar encoding at
``N = 2L``, Gray QPSK, complex AWGN at the SINR, the exact QPSK LLRs of
:func:`gnuradio.issc.link.framing.qpsk_llrs` and the same SCL decoder. Each grid point runs until it has
``target_block_errors`` block errors or ``max_blocks`` blocks; a row stops early once two successive
SINRs show no error at all (higher SINRs are then recorded as 0 errors in 0 blocks: not measured).
Each rate (row) is one task of :func:`gnuradio.issc.parallel.run_points`, seeded by ``[seed, K]``.

:class:`CalibratedBer` interpolates ``log10 BER`` bilinearly in (SINR dB, R_c). Where a point saw no
error, it uses the normal approximation capped by the measurement's 95 % upper bound
(``3 / bits``); outside the grid it clamps to the edge in rate and falls back to the normal
approximation above the SINR range. :class:`CalibratedBler` does the same with the block error rate
(``block_errors / blocks``), what the burst-aware distortion of the optimiser needs (docs/model.md §7).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from ..errors import IsscInputError
from ..physics.ber import log10_ber as normal_log10_ber
from .framing import FrameFormat, qpsk_llrs, qpsk_map

FORMAT = "issc-code-calibration/1"
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "codes"
SHIPPED_CALIBRATION = DATA_DIR / "polar_L256_scl8.yml"
DEFAULT_INFO_BITS = (16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 448, 496)
DEFAULT_SINR_DB = tuple(float(v) for v in np.arange(-8.0, 16.5, 1.0))
MAX_BLOCKLENGTH = 4096
"""Longest blocklength calibrated: polar N = 8192; at L = 4096 one SCL-8 block takes about 70 ms here and
the cost grows as N log N per list path, so longer codes are refused rather than simulated for hours."""
MAX_CHANNEL_USES = 2 * 10**9
"""Most channel uses a calibration grid may simulate at worst (every point to --max-blocks): about 25 times
the default grid's, hours on one core."""


@dataclass
class PointResult:
    bit_errors: int
    block_errors: int
    blocks: int
    info_bits: int

    @property
    def bits(self) -> int:
        return self.blocks * self.info_bits


def simulate_point(
    fmt: FrameFormat,
    info_bits: int,
    sinr_db: float,
    rng: np.random.Generator,
    target_block_errors: int = 50,
    max_blocks: int = 1000,
    batch: int = 25,
) -> PointResult:
    """Bit and block errors of the payload code at one (SINR, K) point."""
    code = fmt.payload_code(info_bits)
    noise_var = 10.0 ** (-sinr_db / 10.0)
    bit_errors = block_errors = blocks = 0
    while blocks < max_blocks and block_errors < target_block_errors:
        count = min(batch, max_blocks - blocks)
        bits = rng.integers(0, 2, (count, info_bits), dtype=np.uint8)
        symbols = qpsk_map(code.encode(bits).reshape(-1))
        noise = np.sqrt(noise_var / 2) * (rng.standard_normal(symbols.size) + 1j * rng.standard_normal(symbols.size))
        decoded = code.decode(qpsk_llrs(symbols + noise, 1.0, noise_var).reshape(count, -1))
        wrong = decoded != bits
        bit_errors += int(wrong.sum())
        block_errors += int(wrong.any(axis=1).sum())
        blocks += count
    return PointResult(bit_errors, block_errors, blocks, info_bits)


def calibration_row(point: dict) -> dict:
    """One rate (``K`` information bits) over the SINR grid, on a worker: a point of :func:`calibrate`.

    The row's generator is ``[seed, K]`` (the same numbers whatever else is in the grid or which worker
    runs it); the row stops once two successive SINRs show no error (the rest: 0 errors in 0 blocks).
    """
    fmt = FrameFormat(**point["format"])
    k = int(point["info_bits"])
    rng = np.random.default_rng([int(point["seed"]), k])
    row = {key: [0] * len(point["sinr_db"]) for key in ("bit_errors", "block_errors", "blocks")}
    clean_in_a_row = 0
    for j, s in enumerate(point["sinr_db"]):
        if clean_in_a_row >= 2:
            break
        result = simulate_point(fmt, k, float(s), rng, point["target_block_errors"], point["max_blocks"])
        row["bit_errors"][j], row["block_errors"][j], row["blocks"][j] = (
            result.bit_errors,
            result.block_errors,
            result.blocks,
        )
        clean_in_a_row = clean_in_a_row + 1 if result.block_errors == 0 else 0
    return row


def calibrate(
    fmt: FrameFormat = FrameFormat(),
    info_bits=DEFAULT_INFO_BITS,
    sinr_db=DEFAULT_SINR_DB,
    seed: int = 0,
    target_block_errors: int = 50,
    max_blocks: int = 1000,
    progress=None,
    workers: int | None = None,
    scheduler: str | None = None,
    journal=None,
) -> dict:
    """Run the grid, one rate per task of :func:`gnuradio.issc.parallel.run_points`; returns the
    calibration table as a dict (see :func:`save_calibration`).

    Args:
        progress: called ``(K, row)`` as each rate finishes (``row``: lists over the SINRs).
        workers, scheduler: the cluster (see :func:`~gnuradio.issc.parallel.run_points`).
        journal: JSON lines file of the finished rates; a rerun skips them.
    """
    from ..parallel import run_points

    info_bits = [int(k) for k in info_bits]
    sinr_db = [float(s) for s in sinr_db]
    if fmt.blocklength > MAX_BLOCKLENGTH:
        raise IsscInputError(f"--blocklength must be at most {MAX_BLOCKLENGTH} (polar N = {2 * MAX_BLOCKLENGTH})")
    if any(not 1 <= k <= fmt.max_info_bits for k in info_bits):
        raise IsscInputError(f"info bits must be in [1, {fmt.max_info_bits}]")
    if len(set(info_bits)) != len(info_bits):
        raise IsscInputError("info bits must not repeat")
    if not sinr_db or not all(math.isfinite(s) and abs(s) <= 1000 for s in sinr_db):
        raise IsscInputError("the SINR grid must be finite values in [-1000, 1000] dB")
    worst = len(info_bits) * len(sinr_db) * int(max_blocks) * fmt.blocklength
    if worst > MAX_CHANNEL_USES:
        raise IsscInputError(
            f"the grid could simulate {worst:.3g} channel uses ({len(info_bits)} rates x {len(sinr_db)} SINRs x "
            f"{max_blocks} blocks x L = {fmt.blocklength}), more than {MAX_CHANNEL_USES:.0e}: reduce --max-blocks "
            "or the grid"
        )
    points = [
        {
            "format": asdict(fmt),
            "info_bits": k,
            "sinr_db": sinr_db,
            "seed": int(seed),
            "target_block_errors": int(target_block_errors),
            "max_blocks": int(max_blocks),
        }
        for k in info_bits
    ]

    def report(_index, point, row):
        if progress is not None:
            progress(point["info_bits"], row)

    rows = run_points(
        points, calibration_row, out=journal, workers=workers, scheduler=scheduler, desc="rates", on_result=report
    )
    return {
        "format": FORMAT,
        "code": "gr-fec polar, SCL list decoding, BEC construction (polar.design_erasure)",
        "modulation": "qpsk",
        "blocklength": fmt.blocklength,
        "list_size": fmt.list_size,
        "info_bits": info_bits,
        "sinr_db": sinr_db,
        "seed": seed,
        "target_block_errors": target_block_errors,
        "max_blocks": max_blocks,
        **{key: [row[key] for row in rows] for key in ("bit_errors", "block_errors", "blocks")},
    }


def save_calibration(table: dict, path: str | Path, made_by: str = "") -> None:
    """Write the table as YAML, atomically (a killed run leaves the previous file or the new one)."""
    from ..files import atomic_write_text

    table = dict(table)
    if made_by:
        table["made_by"] = made_by
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump(table, sort_keys=False, width=200))


MAX_FILE_BYTES = 4 << 20


def load_calibration(path: str | Path | None = None) -> dict:
    """Read and validate a calibration table (default: the shipped one); every problem is an
    :class:`IsscInputError` naming the file: not a regular file or too large, not UTF-8 YAML (duplicate
    keys included), a wrong format, or values of the wrong type, size or range."""
    from ..scenario import load_yaml_text

    path = Path(path) if path else SHIPPED_CALIBRATION
    where = f"code calibration '{path}'"
    if not path.is_file():
        raise IsscInputError(f"{where}: " + ("no such file" if not path.exists() else "not a regular file"))
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise IsscInputError(f"{where}: larger than {MAX_FILE_BYTES} bytes, not a calibration table")
        table = load_yaml_text(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise IsscInputError(f"{where}: cannot read ({' '.join(str(exc).split())[:200]})") from None
    except yaml.YAMLError as exc:
        raise IsscInputError(f"{where}: not YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(table, dict) or table.get("format") != FORMAT:
        raise IsscInputError(f"{where}: 'format' must be {FORMAT}")
    validate_table(table, where)
    return table


def _integers(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_table(table: dict, where: str = "code calibration") -> None:
    """Check a calibration table's fields (types, shapes, ranges); :class:`IsscInputError` naming the key."""
    length = table.get("blocklength")
    if not (_integers(length) and 8 <= length <= MAX_BLOCKLENGTH and length & (length - 1) == 0):
        raise IsscInputError(f"{where}: 'blocklength' must be a power of two in [8, {MAX_BLOCKLENGTH}]")
    info_bits, sinr_db = table.get("info_bits"), table.get("sinr_db")
    if not (isinstance(info_bits, list) and all(_integers(k) and 1 <= k < 2 * length for k in info_bits)):
        raise IsscInputError(f"{where}: 'info_bits' must be a list of integers in [1, {2 * length - 1}]")
    if not (
        isinstance(sinr_db, list)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= 1000 for v in sinr_db)
    ):
        raise IsscInputError(f"{where}: 'sinr_db' must be a list of numbers in [-1000, 1000] dB")
    n_k, n_s = len(info_bits), len(sinr_db)
    if n_k < 2 or n_s < 2:
        raise IsscInputError(f"{where}: needs at least 2 rates and 2 SINRs")
    if any(b <= a for a, b in zip(info_bits, info_bits[1:])) or any(b <= a for a, b in zip(sinr_db, sinr_db[1:])):
        raise IsscInputError(f"{where}: 'info_bits' and 'sinr_db' must be increasing")
    for key in ("bit_errors", "block_errors", "blocks"):
        rows = table.get(key)
        if not (
            isinstance(rows, list)
            and len(rows) == n_k
            and all(isinstance(r, list) and len(r) == n_s and all(_integers(v) and v >= 0 for v in r) for r in rows)
        ):
            raise IsscInputError(f"{where}: '{key}' must be {n_k} x {n_s} non-negative integers")
    for i, k in enumerate(info_bits):
        for j in range(n_s):
            blocks, block_errors, bit_errors = (table[key][i][j] for key in ("blocks", "block_errors", "bit_errors"))
            if block_errors > blocks or bit_errors > blocks * k or bit_errors < block_errors:
                raise IsscInputError(
                    f"{where}: rate {k}, SINR {sinr_db[j]:g} dB: counts are inconsistent (need "
                    "block_errors <= blocks and block_errors <= bit_errors <= blocks * K)"
                )


WATERFALL_POINTS = 3
"""Measured points of a row the BLER waterfall line is fitted to (:class:`CalibratedBler`)."""
MIN_WATERFALL_SLOPE = -0.5
"""Shallowest waterfall slope (log10 BLER per dB) :class:`CalibratedBler` continues a row with."""


class _CalibratedTable:
    """Bilinear interpolation of a ``log10`` table over (SINR dB, R_c), clamped to the rate range, with
    ``above(sinr_linear, rate)`` (the normal approximation) capping it above the SINR range."""

    def __init__(self, table: dict):
        self.table = table
        self.blocklength = int(table["blocklength"])
        self.rates = np.asarray(table["info_bits"], float) / self.blocklength
        self.sinr_db = np.asarray(table["sinr_db"], float)
        self.log10_table = np.zeros((len(self.rates), len(self.sinr_db)))

    def _normal(self, sinr, rate):
        raise NotImplementedError

    @classmethod
    def load(cls, path=None):
        return cls(load_calibration(path))

    def __call__(self, sinr, rate, blocklength=None):
        """Same signature as :func:`gnuradio.issc.physics.ber.log10_ber` (``blocklength`` must match the table's)."""
        if blocklength is not None and int(blocklength) != self.blocklength:
            raise IsscInputError(f"the code calibration is for L = {self.blocklength}, not {blocklength}")
        sinr_db = 10.0 * np.log10(np.maximum(np.asarray(sinr, float), 1e-30))
        rate = np.clip(np.asarray(rate, float), self.rates[0], self.rates[-1])
        sinr_db, rate = np.broadcast_arrays(sinr_db, rate)
        out = np.empty(sinr_db.shape)
        inside = sinr_db <= self.sinr_db[-1]
        s = np.clip(sinr_db, self.sinr_db[0], self.sinr_db[-1])
        i = np.clip(np.searchsorted(self.rates, rate) - 1, 0, len(self.rates) - 2)
        j = np.clip(np.searchsorted(self.sinr_db, s) - 1, 0, len(self.sinr_db) - 2)
        tr = (rate - self.rates[i]) / (self.rates[i + 1] - self.rates[i])
        ts = (s - self.sinr_db[j]) / (self.sinr_db[j + 1] - self.sinr_db[j])
        t = self.log10_table
        value = (
            (1 - tr) * (1 - ts) * t[i, j]
            + tr * (1 - ts) * t[i + 1, j]
            + (1 - tr) * ts * t[i, j + 1]
            + tr * ts * t[i + 1, j + 1]
        )
        out[inside] = value[inside]
        if np.any(~inside):
            above = self._normal(10.0 ** (sinr_db[~inside] / 10.0), rate[~inside])
            out[~inside] = np.minimum(above, value[~inside])
        return out if out.ndim else float(out)


class CalibratedBer(_CalibratedTable):
    """``log10 BER(sinr, R_c)`` of the real code, from a calibration table (module doc).

    Args:
        table: a calibration dict (:func:`load_calibration`).
    """

    def __init__(self, table: dict):
        super().__init__(table)
        bits = np.asarray(table["blocks"], float) * np.asarray(table["info_bits"], float)[:, None]
        errors = np.asarray(table["bit_errors"], float)
        measured = np.where(errors > 0, np.log10(np.maximum(errors, 1) / np.maximum(bits, 1)), np.nan)
        grid_s, grid_r = np.meshgrid(self.sinr_db, self.rates)
        normal = self._normal(10.0 ** (grid_s / 10.0), grid_r)
        # no error seen: the normal approximation, but never above the measurement's 95 % upper bound
        bound = np.where(bits > 0, np.log10(3.0 / np.maximum(bits, 1)), np.inf)
        self.log10_table = np.where(np.isnan(measured), np.minimum(normal, bound), measured)
        self.log10_table = np.minimum(self.log10_table, math.log10(0.5))

    def _normal(self, sinr, rate):
        return normal_log10_ber(sinr, rate, self.blocklength)


class CalibratedBler(_CalibratedTable):
    """``log10 BLER(sinr, R_c)``: the probability that a payload codeword decodes wrong, from the same
    calibration table's ``block_errors / blocks``, interpolated like :class:`CalibratedBer` (bilinear in
    SINR dB and ``R_c`` on the log10 values, the rate clamped to the table's range).

    A point without a block error continues the row's measured waterfall: the straight line in
    (SINR dB, log10 BLER) fitted to the row's last :data:`WATERFALL_POINTS` measured points (slope at most
    :data:`MIN_WATERFALL_SLOPE` decades per dB), capped by the measurement's 95 % upper bound ``3 / blocks``
    (a point not simulated: capped at 1 only). The normal approximation is no estimate there: it is a
    bound for good codes, and the SCL polar code's waterfall is about 2 dB to its right and a quarter as
    steep, so between a measured rate and a clean one it would promise BLERs of 1e-50 where the code
    loses one block in a hundred. Above the SINR range the line goes on. At most 1 (``log10 <= 0``).

    Args:
        table: a calibration dict (:func:`load_calibration`).
    """

    def __init__(self, table: dict):
        super().__init__(table)
        blocks = np.asarray(table["blocks"], float)
        errors = np.asarray(table["block_errors"], float)
        measured = np.where(errors > 0, np.log10(np.maximum(errors, 1) / np.maximum(blocks, 1)), np.nan)
        bound = np.where(blocks > 0, np.log10(3.0 / np.maximum(blocks, 1)), 0.0)
        self.slopes = np.full(len(self.rates), MIN_WATERFALL_SLOPE)
        self.anchors = np.zeros((len(self.rates), 2))  # (SINR dB, log10 BLER) of each row's last measured point
        estimate = np.zeros_like(measured)
        for i, row in enumerate(measured):
            seen = np.flatnonzero(~np.isnan(row))
            if seen.size == 0:  # no error anywhere in the row: only the bounds
                estimate[i] = bound[i]
                self.anchors[i] = (self.sinr_db[0], 0.0)
                continue
            last = seen[-WATERFALL_POINTS:]
            if last.size >= 2:
                fitted = np.polyfit(self.sinr_db[last], row[last], 1)[0]
                self.slopes[i] = min(float(fitted), MIN_WATERFALL_SLOPE)
            self.anchors[i] = (self.sinr_db[seen[-1]], row[seen[-1]])
            line = row[seen[-1]] + self.slopes[i] * (self.sinr_db - self.sinr_db[seen[-1]])
            estimate[i] = np.minimum(line, bound[i])
        self.log10_table = np.minimum(np.where(np.isnan(measured), estimate, measured), 0.0)

    def _normal(self, sinr, rate):
        """Above the SINR range: each row's waterfall line, interpolated in rate like the table."""
        sinr_db = 10.0 * np.log10(np.maximum(np.asarray(sinr, float), 1e-30))
        sinr_db, rate = np.broadcast_arrays(sinr_db, np.clip(np.asarray(rate, float), self.rates[0], self.rates[-1]))
        i = np.clip(np.searchsorted(self.rates, rate) - 1, 0, len(self.rates) - 2)
        tr = (rate - self.rates[i]) / (self.rates[i + 1] - self.rates[i])

        def line(row):
            return self.anchors[row, 1] + self.slopes[row] * (sinr_db - self.anchors[row, 0])

        return np.minimum((1 - tr) * line(i) + tr * line(i + 1), 0.0)


def ber_model(name: str, calibration=None):
    """The ``log10 BER`` function of a BER model name: 'normal' or 'calibrated'."""
    if name == "normal":
        return normal_log10_ber
    if name == "calibrated":
        return CalibratedBer.load(calibration)
    raise IsscInputError(f"unknown BER model '{name}' (choose normal or calibrated)")
