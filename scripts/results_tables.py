#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Markdown tables of docs/results.md from the experiments' CSVs (so the numbers in the text are the
CSVs' own, never retyped).

    .venv/bin/python scripts/results_tables.py docs/results/fig3/results.csv docs/results/fig4/results.csv
"""

import csv
import math
import sys
from collections import defaultdict
from fractions import Fraction

SCHEMES = ("ascc-sdr", "ascc-paper", "djscc-wf-zf")


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def number(text):
    return float(text) if text not in ("", None) else math.nan


def quality(ms_ssim, ci, lost, frames):
    if int(lost) == int(frames):
        return "no frame"
    text = f"{number(ms_ssim):.3f} ± {number(ci):.3f}"
    return text + (f" ({lost} lost)" if int(lost) else "")


def _predicted(row):
    value = number(row["predicted_ms_ssim"])
    return "(no prediction)" if math.isnan(value) else f"({value:.3f})"


def fig3_table(rows):
    out = []
    for abr in sorted({r["abr_label"] for r in rows}, key=lambda a: -float(Fraction(a))):
        out.append(f"\nABR {abr}: measured MS-SSIM ± 95 % interval (predicted) per scheme\n")
        out.append("| P_T dBm | " + " | ".join(SCHEMES) + " | ASCC-sdr minus DJSCC |")
        out.append("|---" * (len(SCHEMES) + 2) + "|")
        cells = defaultdict(dict)
        for r in rows:
            if r["abr_label"] == abr:
                cells[number(r["power_dbm"])][r["scheme"]] = r
        for power in sorted(cells):
            line = [f"{power:g}"]
            for s in SCHEMES:
                r = cells[power].get(s)
                line.append(
                    ""
                    if r is None
                    else f"{quality(r['ms_ssim'], r['ms_ssim_ci'], r['frames_lost'], r['frames'])} " + _predicted(r)
                )
            a, d = cells[power].get("ascc-sdr"), cells[power].get("djscc-wf-zf")
            gap = number(a["ms_ssim"]) - number(d["ms_ssim"]) if a and d else math.nan
            line.append("" if math.isnan(gap) else f"{gap:+.3f}")
            out.append("| " + " | ".join(line) + " |")
    return "\n".join(out)


def fig4_table(rows):
    out = [
        "| P_T dBm | " + " | ".join(f"{s}: tr HCRB / tr CRB / MSE" for s in SCHEMES) + " |",
        "|---" * (len(SCHEMES) + 1) + "|",
    ]
    cells = defaultdict(dict)
    for r in rows:
        cells[number(r["power_dbm"])][r["scheme"]] = r
    for power in sorted(cells):
        line = [f"{power:g}"]
        for s in SCHEMES:
            r = cells[power].get(s)
            line.append(
                ""
                if r is None
                else f"{number(r['hcrb_trace']):.3g} / {number(r['crb_trace']):.3g} / "
                f"{number(r['sensing_mse_m2']):.3g} ± {number(r['sensing_mse_ci']):.2g}"
            )
        out.append("| " + " | ".join(line) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print("## Fig. 3\n" + fig3_table(read(sys.argv[1])))
    if len(sys.argv) > 2:
        print("\n## Fig. 4\n" + fig4_table(read(sys.argv[2])))
