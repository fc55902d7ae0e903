#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plot a semantic profile: measured classification error (points) and fitted logistic (lines) per model.

    .venv/bin/python scripts/plot_semantic_fit.py [PROFILE.json [OUT.png]]

Defaults: the shipped profile (python/issc/data/semantic/profile.json) and docs/semantic_fit.png.
The measured points are the ones stored in the profile by ``issc semantic fit``; nothing is re-measured.
"""

import json
import sys
from pathlib import Path

import gnuradio

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
from gnuradio.issc.semantic.fit import plot_profile  # noqa: E402
from gnuradio.issc.semantic.profile import SHIPPED_PROFILE, load_semantic_profile  # noqa: E402


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else SHIPPED_PROFILE
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "semantic_fit.png"
    load_semantic_profile(source)  # validates
    plot_profile(json.loads(source.read_text(encoding="utf-8")), out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
