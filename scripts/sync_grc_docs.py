#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Copy each block's docstring into its GRC YAML ``documentation:`` field, so the two say the same.

.venv/bin/python scripts/sync_grc_docs.py          (tests/test_grc.py checks they match)
"""

import inspect
import re
import sys
from pathlib import Path

import gnuradio

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
from gnuradio import issc  # noqa: E402


def main() -> int:
    for path in sorted((ROOT / "grc").glob("issc_*.block.yml")):
        block_id = path.name[: -len(".block.yml")]
        doc = inspect.cleandoc(getattr(issc, block_id.removeprefix("issc_")).__doc__)
        text = path.read_text()
        indented = "\n".join(("  " + line) if line else "" for line in doc.splitlines())
        new = re.sub(
            r"documentation: \|-\n(?:(?:  .*)?\n)*?(?=\nfile_format)",
            lambda m, indented=indented: f"documentation: |-\n{indented}\n",
            text,
        )
        if new != text:
            path.write_text(new)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
