# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The garbage-collection regression of docs/install.md: a Python block that is
connected but not referenced from Python is collected and the flowgraph crashes at start. Our hier
blocks keep every child on ``self``; this builds them, drops every outside reference, forces a
collection and runs the flowgraph, in a subprocess so that a segfault is a test failure, not a crash."""

import subprocess
import sys
import textwrap

from conftest import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import gc, sys
    import gnuradio
    gnuradio.__path__.insert(0, sys.argv[1])
    import numpy as np
    from gnuradio import blocks, gr, issc

    def build():
        tb = gr.top_block()
        source = blocks.vector_source_c([0.5 + 0.5j] * 4096, False)
        sensing = issc.sensing_source(1, 0)
        beams = issc.beamformer(4, 1, [0.5] * 4, [0.1] * 4)
        channels = issc.channels("tradeoff", seed=1)   # hier: comm + echo children, held on self only
        tb.connect(source, (beams, 0))
        tb.connect(sensing, (beams, 1))
        for k in range(4):
            tb.connect((beams, k), (channels, k))
        sinks = [blocks.vector_sink_c() for _ in range(5)]
        for k in range(5):
            tb.connect((channels, k), sinks[k])
        # only the top block, the hier block and the sinks stay referenced
        tb.keep = (beams, sensing, source, channels, sinks)
        return tb, sinks

    tb, sinks = build()
    gc.collect()
    tb.run()
    assert len(sinks[0].data()) == 4096 and len(sinks[4].data()) == 4096
    print("ok")
""")


def test_hier_blocks_survive_garbage_collection(tmp_path):
    script = tmp_path / "gc_run.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(REPO_ROOT / "python")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
