# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Independent Monte Carlo points as tasks on a Dask distributed cluster, journalled and resumable.

:func:`run_points` runs ``task(point)`` for every point (a JSON-able dict that names everything the
result depends on, its seed included) on a local cluster of ``workers`` processes (one thread each) or
on an existing cluster (``scheduler='tcp://host:port'``, docs/cluster.md). Each result is appended to a
JSON lines journal as soon as it arrives; a rerun with the same journal skips the points already in it.
Results always come back through JSON, so a resumed run and a clean one give identical numbers.

The seeds belong to the points (:func:`point_rng`), never to the workers: the numbers do not depend on
how many workers there are or which one ran a point. Dask is imported only when a command runs points.

This module is in the bottom layer (it imports nothing of the package but :mod:`.errors`) so that the
code calibration (``link``) and the experiments (``experiments``, ``cli``) share one engine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .errors import IsscInputError

JOURNAL_FORMAT = "issc-points/1"


class PointsInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_points`: the cluster is shut down; ``results`` has None for the points
    not done (those done are in the journal too)."""

    def __init__(self, results):
        super().__init__("interrupted")
        self.results = results


def point_rng(seed: int, *coordinates: int) -> np.random.Generator:
    """The generator of one point: from the command's seed and the point's integer coordinates."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(int(c) for c in coordinates)]))


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plain(value):
    """NumPy values to plain Python (non-finite floats stay floats: the journal writes NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def point_key(point: dict) -> str:
    return json.dumps(plain(point), sort_keys=True)


def read_journal(path) -> dict[str, object]:
    """``{point key: result}`` of a journal (a missing file is empty; a torn last line is ignored)."""
    done = {}
    path = Path(path)
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if isinstance(entry, dict) and entry.get("format") == JOURNAL_FORMAT and "point" in entry:
                done[point_key(entry["point"])] = entry.get("result")
    return done


def limit_blas_threads() -> None:
    """One BLAS thread for this process (NumPy's OpenBLAS), as the codec blocks take one torch thread.

    GNU Radio runs every block in its own thread, so a BLAS thread pool per call only oversubscribes the
    cores: OpenBLAS's idle workers spin on ``sched_yield`` between the blocks' small matrix products.
    Measured on 2 cores (`issc bench link --scenario tradeoff --size 256 --frames 32 --sensing-every 1`):
    system time 3.8 -> 1.4 s, throughput +5 %, docs/performance.md. The limit stays for the process.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an install without it still runs, only slower
        return
    threadpool_limits(limits=1, user_api="blas")


MALLOC_MMAP_THRESHOLD_BYTES = 8 << 20
MALLOC_TRIM_THRESHOLD_BYTES = 64 << 20


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed memory for reuse (blocks up to 8 MB from the heap, the heap trimmed
    only above 64 MB free) instead of mapping fresh pages for every large array and returning them.

    The link's blocks allocate arrays of 100 KB to a few MB per call; with glibc's defaults many of them
    went through mmap/munmap, each page zeroed on its first touch: the estimator's child process took 320
    page faults a block and 2.5 instead of 1.8 ms (64 blocks of `tradeoff`; tests/sensing/test_worker.py
    counts the faults). A no-op where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    mallopt(m_mmap_threshold, MALLOC_MMAP_THRESHOLD_BYTES)
    mallopt(m_trim_threshold, MALLOC_TRIM_THRESHOLD_BYTES)


def _worker_preload(package_parent: str) -> str:
    """Python run by every local worker before any task: the parent's ``gnuradio.issc`` (e.g. the
    working tree the tests put first on ``gnuradio.__path__``) and one thread for torch."""
    return (
        "import gnuradio\n"
        f"_path = {package_parent!r}\n"
        "if _path not in gnuradio.__path__:\n"
        "    gnuradio.__path__.insert(0, _path)\n"
        "def dask_setup(worker):\n"
        "    import sys\n"
        "    if 'torch' in sys.modules:\n"
        "        sys.modules['torch'].set_num_threads(1)\n"
    )


def _call(task, point):
    """Runs on a worker: one thread for torch, then the task; the result as JSON text."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return json.dumps(plain(task(point)), allow_nan=True)


def one_thread_env() -> dict:
    """Environment variables giving a new process one BLAS/OpenMP thread (read when the libraries load)."""
    return {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")}


def package_parent() -> str:
    """The folder ``gnuradio.issc`` is imported from, as an entry for ``gnuradio.__path__`` in a new process
    (the working tree when the tests put it first, the install otherwise)."""
    import gnuradio.issc as package

    return str(Path(package.__file__).resolve().parents[1])


def _check_reachable(address: str) -> None:
    """Fails at once (not after the client's retries) when nothing listens at a ``tcp://host:port``."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        raise IsscInputError(f"--scheduler {address}: expected tcp://HOST:PORT")
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except OSError as exc:
        raise IsscInputError(f"--scheduler {address}: cannot connect ({exc})") from None


# third-party modules the tasks need that take seconds to import: the fork server imports them once and
# every local worker is forked from it, instead of each worker importing them again. Not CompressAI: its
# package __init__ is what the codec avoids (codec/models.py::_compressai_core: it pulls in the point-cloud
# stack and prints torch.jit deprecation warnings), and the light path the codec takes costs a worker
# about a second.
HEAVY_MODULES = (
    "distributed",
    "numpy",
    "scipy.signal",
    "scipy.stats",
    "torch",
    "cvxpy",
    "gnuradio.gr",
    "gnuradio.blocks",
    "gnuradio.fec",
)


def _fork_workers_from_a_warm_server() -> None:
    """Local workers from a fork server that has imported :data:`HEAVY_MODULES` (never the package
    itself: each worker's preload then puts the parent's ``gnuradio.issc`` first)."""
    import dask

    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    from distributed.utils import get_mp_context

    get_mp_context().set_forkserver_preload(list(HEAVY_MODULES))  # no effect once the server runs


class _environ:
    """Sets environment variables for a ``with`` block, then restores them."""

    def __init__(self, values: dict):
        self.values, self.saved = values, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def open_client(workers: int | None = None, scheduler: str | None = None):
    """``(client, cluster)``: a client of ``scheduler``, or of a new local cluster (cluster None otherwise)."""
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler:
        _check_reachable(scheduler)
        try:
            return Client(scheduler, timeout="20s", set_as_default=False), None
        except (OSError, TimeoutError) as exc:
            raise IsscInputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    workers = workers or default_workers()
    _fork_workers_from_a_warm_server()
    with _environ(one_thread_env()):  # the fork server starts with it (BLAS reads it when it loads)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",  # nothing of it listens beyond this machine
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},  # no fixed port to collide
            silence_logs=logging.ERROR,
            preload=[_worker_preload(package_parent())],
            env=one_thread_env(),  # set in each worker process before it imports anything
        )
    return Client(cluster, set_as_default=False), cluster


def run_points(
    points: list[dict],
    task,
    out=None,
    workers: int | None = None,
    scheduler: str | None = None,
    desc: str = "points",
    on_result=None,
    quiet: bool = False,
) -> list:
    """``task(point)`` for every point, in parallel; returns the results in the order of ``points``.

    Args:
        points: JSON-able dicts; a point's key is its JSON text, so it must hold every input of its
            result (the seed included) for the journal to be trusted.
        task: a picklable callable (a module-level function or a :func:`functools.partial` of one)
            returning a JSON-able value.
        out: journal path (JSON lines); None: no journal. Points already in it are not run again.
        workers: local worker processes (default: the cores); ignored with ``scheduler``.
        scheduler: address of an existing Dask scheduler (``tcp://host:port``).
        desc: label of the progress bar (stderr, only on a terminal).
        on_result: called ``(index, point, result)`` after each new result.

    Raises:
        IsscInputError: a task failed (the message names the point and the error), or the scheduler
            cannot be reached.
        PointsInterrupted: Ctrl-C (after shutting the cluster down).
    """
    keys = [point_key(p) for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError("run_points: two points are identical")
    done = read_journal(out) if out is not None else {}
    results = [json.loads(json.dumps(done[k], allow_nan=True)) if k in done else None for k in keys]
    todo = [i for i, k in enumerate(keys) if k not in done]
    if out is not None and len(todo) < len(points):
        sys.stderr.write(f"resuming from {out}: {len(points) - len(todo)} of {len(points)} points already done\n")
    if not todo:
        return results
    from tqdm import tqdm

    bar = tqdm(
        total=len(points),
        initial=len(points) - len(todo),
        desc=desc,
        unit="point",
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )
    journal = open(out, "a", encoding="utf-8") if out is not None else None  # noqa: SIM115
    client = cluster = None
    futures = {}
    try:
        from dask.distributed import as_completed

        client, cluster = open_client(workers, scheduler)
        futures = {client.submit(_call, task, points[i], pure=False): i for i in todo}
        for future in as_completed(list(futures), loop=client.loop):
            i = futures[future]
            if future.status == "error":
                exc = future.exception()
                hint = (
                    " (is this gr-issc installed on every worker? see docs/cluster.md)"
                    if isinstance(exc, ImportError)
                    else ""
                )
                raise IsscInputError(f"point {keys[i]}: {type(exc).__name__}: {exc}{hint}")
            text = future.result()
            results[i] = json.loads(text)
            if journal is not None:
                entry = {"format": JOURNAL_FORMAT, "point": plain(points[i]), "result": results[i]}
                journal.write(json.dumps(entry, allow_nan=True) + "\n")
                journal.flush()
            bar.update(1)
            if on_result is not None:
                on_result(i, points[i], results[i])
    except KeyboardInterrupt:
        raise PointsInterrupted(results) from None
    finally:
        bar.close()
        if journal is not None:
            journal.close()
        _shutdown(client, cluster, list(futures))
    return results


def _shutdown(client, cluster, futures) -> None:
    """Cancels what is left (a shared cluster stops running our points) and closes what we opened."""
    import contextlib

    if client is not None:
        with contextlib.suppress(Exception):
            client.cancel(futures, force=True)
        with contextlib.suppress(Exception):
            if cluster is not None:
                client.shutdown()  # our own cluster: scheduler and workers go at once (faster than close)
            else:
                client.close(timeout=10)  # a shared cluster stays up
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)
