# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc fuzz TARGET``: a seeded mutational fuzzer over the targets of :mod:`.fuzz_targets`.

The loop runs the target's seeds (real bitstreams, real frames, valid messages), then mutates inputs
from its corpus (bit flips, boundary integers, inserted, deleted, duplicated and spliced byte runs,
truncation and extension); an input whose outcome label is new joins the corpus. Each input runs under
a per-input time limit (a hang is a failure). A failure is any exception other than the target's
documented refusals; the first input of each distinct failure is written as a reproducer file
(``issc fuzz TARGET --replay FILE`` runs it again). docs/reliability.md has the figures.
"""

from __future__ import annotations

import collections
import hashlib
import random
import resource
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .common import fail, positive_float, positive_int, print_json

MAX_CORPUS = 2000
MAX_REPRODUCERS = 20


class FuzzTimeout(BaseException):
    """An input ran past the per-input limit (BaseException: a target's ``except Exception`` cannot hide it)."""


def register(subparsers):
    from .fuzz_targets import TARGETS

    p = subparsers.add_parser(
        "fuzz",
        help="fuzz one input surface (or all) for a while",
        description="Run a target's seeds, then mutated inputs, for --seconds (each target, with 'all'); "
        "print {target, inputs, failures, seconds, inputs_per_second}; exit 1 if any input broke the "
        "target's promise (docs/reliability.md). Targets: "
        + "; ".join(f"{name}: {t.doc}" for name, t in TARGETS.items()),
    )
    p.add_argument("target", choices=[*TARGETS, "all"], help="what to fuzz")
    p.add_argument("--seconds", type=positive_float, default=60.0, help="time per target (default 60)")
    p.add_argument("--max-inputs", type=positive_int, default=None, metavar="N", help="stop after N inputs")
    p.add_argument("--seed", type=int, default=0, help="seed of the mutations (default 0)")
    p.add_argument("--timeout", type=positive_float, default=30.0, metavar="S", help="limit per input (default 30)")
    p.add_argument("--out", default=None, metavar="DIR", help="write a reproducer file per distinct failure here")
    p.add_argument("--replay", nargs="+", default=None, metavar="FILE", help="run these inputs once instead")
    p.add_argument("--json", action="store_true", help="JSON on stdout (default: one line per target)")
    p.set_defaults(handler=cmd_fuzz)


# -- mutations ---------------------------------------------------------------------------------------------
BOUNDARY = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random, corpus: list, max_len: int = 4096) -> bytes:
    """One to eight random edits of ``data`` (another corpus entry may be spliced in)."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4, 8))):
        op = rng.randrange(11)
        n = len(buf)
        pos = rng.randrange(n) if n else 0
        if op == 0 and n:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[pos] = rng.randrange(256)
        elif op == 2 and n:
            width = rng.choice((1, 2, 4))
            value = rng.choice(BOUNDARY) & ((1 << (8 * width)) - 1)
            buf[pos : pos + width] = value.to_bytes(width, rng.choice(("big", "little")))
        elif op == 3:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 4 and n:
            del buf[pos : pos + rng.randint(1, 32)]
        elif op == 5 and n:
            del buf[pos:]
        elif op == 6:
            buf += bytes(rng.choice((0, 0xFF, rng.randrange(256))) for _ in range(rng.randint(1, 64)))
        elif op == 7 and n:
            end = min(n, pos + rng.randint(1, 32))
            buf[pos:pos] = buf[pos:end]
        elif op == 8 and corpus:
            other = rng.choice(corpus)
            if other:
                start = rng.randrange(len(other))
                buf[pos:pos] = other[start : start + rng.randint(1, 64)]
        elif op == 9 and n:  # flip bits at a random bit error rate over the whole input (a noisy channel)
            for _ in range(max(1, int(8 * n * rng.choice((1e-3, 1e-2, 0.1))))):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
        elif op == 10:
            buf[pos : pos + 1] = bytes([rng.randrange(256)])
    return bytes(buf[:max_len])


# -- running ------------------------------------------------------------------------------------------------
class _Deadline:
    """SIGALRM-based limit on one input (main thread only; elsewhere no limit)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def __enter__(self):
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def _fire(self, signum, frame):
        raise FuzzTimeout(f"input ran past {self.seconds:g} s")

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def run_one(target, data: bytes, timeout: float = 30.0):
    """``(label, None)`` or ``(None, (signature, text))`` for one input."""
    try:
        with _Deadline(timeout):
            return target.check(data), None
    except (Exception, FuzzTimeout) as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        inside = [f for f in tb if "/issc/" in f.filename.replace("\\", "/") and f.name != "expect"] or tb
        where = f"{Path(inside[-1].filename).name}:{inside[-1].lineno}" if inside else "?"
        signature = f"{type(exc).__name__} at {where}"
        if isinstance(exc, AssertionError):  # a broken promise: which one (the message up to its details)
            signature += ": " + str(exc).split(":")[0][:80]
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return None, (signature, text)


def run_target(target, seconds: float, max_inputs: int | None = None, seed: int = 0, out: Path | None = None,
               timeout: float = 30.0) -> dict:  # fmt: skip
    """Fuzz ``target`` for ``seconds`` (or ``max_inputs``); the summary dict of ``issc fuzz``."""
    rng = random.Random(seed)
    setup = time.monotonic()
    seeds = [bytes(s) for s in target.seeds()]  # loads models, encodes the seed bitstreams: not timed
    started = time.monotonic()
    corpus = list(seeds) or [b""]
    labels: collections.Counter = collections.Counter()
    inputs = failures = 0
    distinct: dict = {}
    interrupted = False
    try:
        while time.monotonic() - started < seconds and (max_inputs is None or inputs < max_inputs):
            if inputs < len(seeds):
                data = seeds[inputs]
            else:
                data = mutate(rng.choice(corpus), rng, corpus, target.max_len)
            label, failure = run_one(target, data, timeout)
            inputs += 1
            if failure is None:
                if label not in labels and len(corpus) < MAX_CORPUS:
                    corpus.append(data)
                labels[label] += 1
                continue
            failures += 1
            signature, text = failure
            if signature not in distinct and len(distinct) < MAX_REPRODUCERS:
                entry = {
                    "signature": signature,
                    "message": text.strip().splitlines()[-1][:500],
                    "input_bytes": len(data),
                }
                if out is not None:
                    entry["reproducer"] = str(_write_reproducer(out, target.name, data, text))
                distinct[signature] = entry
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.monotonic() - started
    summary = {
        "target": target.name,
        "inputs": inputs,
        "failures": failures,
        "seconds": round(elapsed, 3),
        "inputs_per_second": round(inputs / elapsed, 2) if elapsed > 0 else None,
        "seed": seed,
        "setup_seconds": round(started - setup, 3),
        "outcomes": len(labels),
        "top_outcomes": dict(labels.most_common(8)),
        "corpus": len(corpus),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "distinct_failures": list(distinct.values()),
    }
    if interrupted:
        summary["interrupted"] = True
    return summary


def _write_reproducer(out: Path, name: str, data: bytes, text: str) -> Path:
    from ..files import atomic_write_bytes, atomic_write_text

    digest = hashlib.sha1(data).hexdigest()[:12]
    path = out / f"{name}-{digest}.bin"
    atomic_write_bytes(path, data)
    atomic_write_text(path.with_suffix(".txt"), f"issc fuzz {name} --replay {path}\n\n{text}")
    return path


def replay(target, paths: list, timeout: float = 30.0) -> dict:
    """Run saved inputs once: the summary with each file's outcome."""
    results, failures = [], 0
    started = time.monotonic()
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            fail(f"--replay {path}: {exc.strerror or exc}")
        label, failure = run_one(target, data, timeout)
        if failure is not None:
            failures += 1
            sys.stderr.write(failure[1])
        results.append({"file": str(path), "outcome": label, "failure": failure[0] if failure else None})
    elapsed = time.monotonic() - started
    rate = round(len(paths) / elapsed, 2) if elapsed > 0 else None
    return {
        "target": target.name,
        "inputs": len(paths),
        "failures": failures,
        "seconds": round(elapsed, 3),
        "inputs_per_second": rate,
        "replayed": results,
    }


def cmd_fuzz(args):
    import math

    from ..files import check_output_dir
    from .fuzz_targets import TARGETS

    if not math.isfinite(args.seconds) or not math.isfinite(args.timeout):
        fail("--seconds and --timeout must be finite")
    out = check_output_dir(args.out) if args.out else None
    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.replay is not None:
        if args.target == "all":
            fail("--replay needs one target, not 'all'")
        summaries = [replay(TARGETS[args.target], args.replay, args.timeout)]
    else:
        summaries = []
        for name in names:
            summaries.append(run_target(TARGETS[name], args.seconds, args.max_inputs, args.seed, out, args.timeout))
            if summaries[-1].get("interrupted"):
                break
    if len(summaries) == 1:
        result = summaries[0]
    else:
        seconds = sum(s["seconds"] for s in summaries)
        inputs = sum(s["inputs"] for s in summaries)
        result = {
            "target": "all",
            "inputs": inputs,
            "failures": sum(s["failures"] for s in summaries),
            "seconds": round(seconds, 3),
            "inputs_per_second": round(inputs / seconds, 2) if seconds > 0 else None,
            "targets": summaries,
        }
    if args.json:
        print_json(result)
    else:
        for s in summaries:
            sys.stdout.write(
                f"{s['target']}: {s['inputs']} inputs, {s['failures']} failures, {s['seconds']:.1f} s "
                f"({s['inputs_per_second']} inputs/s)\n"
            )
            for f in s.get("distinct_failures", []):
                sys.stdout.write(
                    f"  {f['signature']}: {f['message']}"
                    + (f" [{f['reproducer']}]" if "reproducer" in f else "")
                    + "\n"
                )
    if any(s.get("interrupted") for s in summaries):
        return 130
    return 1 if result["failures"] else 0
