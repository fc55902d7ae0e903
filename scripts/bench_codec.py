# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start-up and coding times of the learned codec, for docs/performance.md.

    .venv/bin/python scripts/bench_codec.py [--tree python] [--reps 7] [--threads 1]

Each start-up figure is measured in a fresh process (cold imports): ``issc codec encode`` of one
shipped image (wall, as ``/usr/bin/time -f %e`` reports it), the time from constructing a
``semantic_encoder`` and a ``semantic_decoder`` block (imports included) until both are ready, and the
import of ``gnuradio.issc.cli``. Then encode and decode ms per 256 x 256 image per model, in-process.
``--tree`` picks the source tree (another checkout's ``python/`` to compare); medians are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRELUDE = "import sys, time, gnuradio; gnuradio.__path__.insert(0, {tree!r}); t0 = time.perf_counter()\n"

BLOCKS = """
from gnuradio.issc.blocks.semantic_encoder import semantic_encoder
from gnuradio.issc.blocks.semantic_decoder import semantic_decoder
enc, dec = semantic_encoder(), semantic_decoder()
print(time.perf_counter() - t0)
"""

CLI_IMPORT = """
import gnuradio.issc.cli.main
print(time.perf_counter() - t0)
"""

CODING = """
import numpy as np, torch
if {threads}: torch.set_num_threads({threads})
from gnuradio.issc.codec.codec import SemanticCodec
from gnuradio.issc.codec.images import load_rgb, shipped_images
codec = SemanticCodec.load()
image = load_rgb(shipped_images()[0])
rows = {{}}
for model in codec.model_ids:
    enc, dec = [], []
    for _ in range({reps}):
        t = time.perf_counter(); data = codec.encode(image, model); enc.append(time.perf_counter() - t)
        t = time.perf_counter(); codec.decode(data); dec.append(time.perf_counter() - t)
    rows[model] = (1e3 * sorted(enc)[len(enc) // 2], 1e3 * sorted(dec)[len(dec) // 2])
import json; print(json.dumps(rows))
"""


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", help="source tree(s) to compare, interleaved (default: this one)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the coding times (0: default)")
    args = parser.parse_args(argv)
    trees = [str(Path(t).resolve()) for t in args.tree or [Path(__file__).resolve().parents[1] / "python"]]
    startup = {tree: {"codec_encode_s": [], "blocks_ready_s": [], "cli_import_s": []} for tree in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.reps):
            for tree in trees:  # interleaved: the machine's load drifts alike for every tree
                prelude = PRELUDE.format(tree=tree)
                image = sorted((Path(tree) / "issc" / "data" / "images").glob("*.png"))[0]
                cli = f"{prelude}from gnuradio.issc.cli.main import main; sys.exit(main(sys.argv[1:]))"
                cmd = ["codec", "encode", "--model", "hp4", "--image", str(image), "--out", f"{tmp}/x.isc"]
                t = time.perf_counter()
                subprocess.run([sys.executable, "-W", "ignore", "-c", cli, *cmd], capture_output=True, check=True)
                startup[tree]["codec_encode_s"].append(time.perf_counter() - t)
                startup[tree]["blocks_ready_s"].append(float(run_python(prelude + BLOCKS)))
                startup[tree]["cli_import_s"].append(float(run_python(prelude + CLI_IMPORT)))
    for tree in trees:
        result = {key: round(statistics.median(values), 3) for key, values in startup[tree].items()}
        code = PRELUDE.format(tree=tree) + CODING.format(threads=args.threads, reps=args.reps)
        result["coding_ms"] = {k: [round(v, 1) for v in ms] for k, ms in json.loads(run_python(code)).items()}
        print(json.dumps({"tree": tree, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
