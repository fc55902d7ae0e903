# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reports of a link run: the per-frame table, side-by-side images and the summary figure.

Every file is written atomically (:mod:`gnuradio.issc.files`): a run killed while it reports leaves the
previous file or the new one, never half an image.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ..files import atomic_write_bytes, read_json_lines

COLUMNS = (
    ("seq", "{:>4d}", 4),
    ("power_dbm", "{:>6.1f}", 6),
    ("model", "{:>5s}", 5),
    ("rate", "{:>5.3f}", 5),
    ("predicted_sinr_db", "{:>7.2f}", 7),
    ("sinr_db", "{:>7.2f}", 7),
    ("ber", "{:>8.1e}", 8),
    ("header_ok", "{!s:>6s}", 6),
    ("psnr", "{:>6.2f}", 6),
    ("ms_ssim", "{:>6.3f}", 6),
    ("predicted_psnr_db", "{:>6.2f}", 6),
    ("hcrb_rmse_m", "{:>6.2f}", 6),
    ("sensing_error_m", "{:>6.2f}", 6),
)
HEADINGS = {
    "seq": "seq",
    "power_dbm": "P_T",
    "model": "model",
    "rate": "R_c",
    "predicted_sinr_db": "SINRp",
    "sinr_db": "SINRm",
    "ber": "BER",
    "header_ok": "hdr",
    "psnr": "PSNR",
    "ms_ssim": "MSSSIM",
    "predicted_psnr_db": "PSNRp",
    "hcrb_rmse_m": "sqHCRB",
    "sensing_error_m": "err_m",
    "true_x": "x_true",
    "true_y": "y_true",
    "tracking_error_m": "trk_m",
    "hcrb_rmse_true_m": "sqHCRBt",
    "track_lost": "lost",
    "payload_snr_db": "SNRpay",
}
ANALOG_COLUMNS = (("payload_snr_db", "{:>6.2f}", 6),)
TRACKING_COLUMNS = (
    ("true_x", "{:>6.1f}", 6),
    ("true_y", "{:>6.1f}", 6),
    ("tracking_error_m", "{:>6.2f}", 6),
    ("hcrb_rmse_true_m", "{:>7.2f}", 7),
    ("track_lost", "{!s:>5s}", 5),
)


def format_table(rows: list[dict]) -> str:
    """Fixed-width per-frame table (P_T dBm; SINR predicted/measured dB; sqrt(tr HCRB) m); in tracking mode
    also the true position, the tracking error (design position to truth, m), sqrt(tr HCRB) at the true
    position and whether the track was lost; for analog (deep JSCC) frames the measured payload SNR."""
    width = max([5] + [len(str(r.get("model") or "")) for r in rows])
    columns = tuple((key, f"{{:>{width}s}}", width) if key == "model" else (key, fmt, w) for key, fmt, w in COLUMNS)
    columns += ANALOG_COLUMNS if any(r.get("payload_snr_db") is not None for r in rows) else ()
    columns += TRACKING_COLUMNS if any(r.get("track_lost") is not None for r in rows) else ()
    lines = [" ".join(f"{HEADINGS[key]:>{width}s}" for key, _, width in columns)]
    for row in rows:
        cells = []
        for key, fmt, width in columns:
            value = row.get(key)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                cells.append(f"{'-':>{width}s}")
            else:
                cells.append(fmt.format(value))
        lines.append(" ".join(cells))
    return "\n".join(lines)


def load_rows(path: str | Path) -> list[dict]:
    """The rows of a run's ``frames.jsonl``, sorted by ``seq``; a torn last row (a run killed while
    writing it) is skipped (:func:`gnuradio.issc.files.read_json_lines`)."""
    rows = [r for r in read_json_lines(path) if isinstance(r.get("seq"), int)]
    return sorted(rows, key=lambda r: r["seq"])


def side_by_side(original: np.ndarray, received: np.ndarray | None) -> np.ndarray:
    """``original | 4 white columns | received`` (black where nothing, or nothing of that shape, arrived)."""
    original = np.asarray(original, np.uint8)
    if received is None or np.shape(received) != original.shape:
        received = np.zeros_like(original)
    received = np.asarray(received)
    if received.dtype != np.uint8:  # a decoder's float image in [0, 1]
        received = np.clip(np.rint(received.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    gap = np.full((original.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([original, gap, received], axis=1)


def side_by_side_png(original: np.ndarray, received: np.ndarray | None) -> bytes:
    """:func:`side_by_side` as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(side_by_side(original, received)).save(buffer, format="PNG")
    return buffer.getvalue()


def save_side_by_side(pairs: dict, out_dir: str | Path) -> list[Path]:
    """``{seq: (original, received)}`` images -> ``frame_SEQ.png`` (original left, received right)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for seq, (original, received) in sorted(pairs.items()):
        path = out_dir / f"frame_{seq:04d}.png"
        atomic_write_bytes(path, side_by_side_png(original, received))
        paths.append(path)
    return paths


def plot_summary(rows: list[dict], path: str | Path) -> None:
    """Per frame: quality (PSNR measured and predicted, MS-SSIM), chosen model and power, SINR (predicted
    and measured), and the sensing error against sqrt(tr HCRB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def col(key):
        return np.array([r.get(key) if isinstance(r.get(key), (int, float)) else np.nan for r in rows], float)

    seq = col("seq")
    fig, axes = plt.subplots(4, 1, figsize=(8, 10), sharex=True)
    ax = axes[0]
    ax.plot(seq, col("psnr"), "o-", label="PSNR measured")
    ax.plot(seq, col("predicted_psnr_db"), "x--", label="PSNR predicted")
    ax.set_ylabel("PSNR (dB)")
    twin = ax.twinx()
    twin.plot(seq, col("ms_ssim"), "s:", color="tab:green", label="MS-SSIM")
    twin.set_ylabel("MS-SSIM")
    ax.legend(loc="lower left")
    ax = axes[1]
    models = [r.get("model") or "-" for r in rows]
    names = sorted(set(models))
    ax.step(seq, [names.index(m) for m in models], where="mid", label="model")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylabel("codec model")
    twin = ax.twinx()
    twin.plot(seq, col("power_dbm"), "d-", color="tab:red")
    twin.set_ylabel("P_T (dBm)", color="tab:red")
    ax = axes[2]
    ax.plot(seq, col("predicted_sinr_db"), "x--", label="predicted")
    ax.plot(seq, col("sinr_db"), "o-", label="measured (preamble)")
    ax.set_ylabel("CRE SINR (dB)")
    ax.legend()
    ax = axes[3]
    ax.plot(seq, col("hcrb_rmse_m"), "x--", label="sqrt(tr HCRB) of the design")
    ax.plot(seq, col("sensing_error_m"), "o-", label="sensing error (RMS)")
    ax.set_ylabel("position (m)")
    ax.set_xlabel("frame")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
