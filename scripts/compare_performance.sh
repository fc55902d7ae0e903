#!/usr/bin/env bash
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
# Side-by-side speed of this checkout and another (docs/performance.md), interleaved, medians by hand:
#
#   git worktree add ../base bdb2412 && scripts/compare_performance.sh ../base [ROUNDS]
#
# Runs, for both trees, in turn: issc bench estimator (tradeoff, paper), issc bench optimizer (tradeoff,
# paper), the closed-loop link at 256x256 with the estimator on every block / one in four / none, the
# codec start-up script, and experiment fig3 --quick. The other tree gets this tree's `bench estimator`
# command if it has none (its TargetEstimator API is the same), and the link is driven through IsscLink
# directly so that trees without `bench link --sensing-every` compare too. JSON lines go to stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$(cd "${1:?usage: compare_performance.sh OTHER_CHECKOUT [ROUNDS]}" && pwd)"
ROUNDS="${2:-3}"
PY="$ROOT/.venv/bin/python"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$BASE/python" "$WORK/base"
if [ ! -f "$WORK/base/issc/cli/sensing.py" ]; then
    cp "$ROOT/python/issc/cli/sensing.py" "$WORK/base/issc/cli/"
    sed -i 's/^from \. import codec, djscc, experiment, link, optim, physics$/&, sensing/; s/COMMAND_MODULES = (physics, optim,/COMMAND_MODULES = (physics, optim, sensing,/' \
        "$WORK/base/issc/cli/main.py"
fi
issc_in() {  # TREE ARGS...: the issc command on that tree's package
    local tree="$1"; shift
    "$PY" -c "import sys, gnuradio; gnuradio.__path__.insert(0, sys.argv.pop(1)); from gnuradio.issc.cli import main; sys.exit(main(sys.argv[1:]))" "$tree" "$@"
}
link_in() {  # TREE K: samples and images per second of the closed loop
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys, time
import gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
from gnuradio.issc.flowgraphs.link import IsscLink
link = IsscLink("tradeoff", 16, size=256, sensing_every=int(sys.argv[2]))
start = time.perf_counter()
summary = link.run_frames()
seconds = time.perf_counter() - start
print(json.dumps({"tree": sys.argv[1], "sensing_every": int(sys.argv[2]), "samples_per_second": summary["samples"] / seconds,
                  "images_per_second": 16 / seconds, "frames_received": summary.get("frames_received")}))
PYEOF
}
cd "$ROOT"
for round in $(seq "$ROUNDS"); do
    for tree in "$WORK/base" "$ROOT/python"; do
        for scenario in tradeoff paper; do
            issc_in "$tree" bench estimator --scenario "$scenario" --blocks 100 | "$PY" -c "import json, sys; d = json.load(sys.stdin); print(json.dumps({'tree': '$tree', 'estimator': d['scenario'], 'ms_per_block': d['ms_per_block'], 'p95_ms': d['p95_ms']}))"
            issc_in "$tree" bench optimizer --scenario "$scenario" | "$PY" -c "import json, sys; d = json.load(sys.stdin); print(json.dumps({'tree': '$tree', 'optimizer': d['scenario'], **{s: [v['median_ms'], v['p95_ms']] for s, v in d['solvers'].items()}}))"
        done
        for k in 0 4 1; do link_in "$tree" "$k"; done
        start=$(date +%s.%N)
        issc_in "$tree" experiment fig3 --scenario tradeoff --quick --out "$WORK/fig3-$round-$(basename "$tree")" >/dev/null 2>&1
        echo "{\"tree\": \"$tree\", \"fig3_quick_s\": $(echo "$(date +%s.%N) - $start" | bc)}"
    done
done
"$PY" scripts/bench_codec.py --tree "$WORK/base" --tree python --reps 5
