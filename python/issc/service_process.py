# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""A computation in a process of its own, so that it runs beside a flowgraph instead of inside it.

Inside a GNU Radio flowgraph every Python block shares one interpreter lock: a block whose work is many
small NumPy calls (the MAP estimator) or a C++ binding that keeps the lock (gr-fec's polar decoders)
holds up the codec and monitor threads, and on two cores the link could not use both. A
:class:`ServiceProcess` runs a copy of a *service* (any picklable callable ``service(request) ->
answer``) in a child Python process, a plain ``subprocess`` (nothing of the parent, GNU Radio's threads
included, is forked), and talks to it over two pipes with :mod:`multiprocessing.connection`'s framed
pickles. A call blocks the calling thread, with the lock released, until the child answers; answers come
back in the order of the requests.

A child that dies, fails or does not answer within ``timeout_s`` raises :class:`ServiceProcessError`
(an exception inside ``service`` comes back as the error's message and the child keeps serving); the
callers go on in-process with their own copy of the service, so nothing is lost.

A closed child that is still healthy waits, idle, for the next :class:`ServiceProcess` of this process
(at most :data:`IDLE_CHILDREN` of them), which sends it its own service instead of starting a new
interpreter: a child's imports cost about 0.4 s of CPU, and an experiment runs a flowgraph (with its
children) per point. Idle children exit with this process (their input closes).

This module is in the bottom layer: it imports nothing of the package but :mod:`.parallel`.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from .parallel import keep_freed_memory, one_thread_env, package_parent

_BOOTSTRAP = (
    "import sys, gnuradio\n"
    "if sys.argv[1] not in gnuradio.__path__:\n"
    "    gnuradio.__path__.insert(0, sys.argv[1])\n"
    "from gnuradio.issc.service_process import serve\n"
    "serve(int(sys.argv[2]), int(sys.argv[3]))\n"
)


IDLE_CHILDREN = 4
"""Healthy closed children kept for reuse (the link has two: the estimator's and the polar decoder's)."""


class ServiceProcessError(RuntimeError):
    """A service's child process failed, died or did not answer."""


class _NewService:
    """Tells an idle child to serve ``service`` from now on (no answer)."""

    def __init__(self, service):
        self.service = service


class _Child:
    """One child interpreter and its two pipe ends."""

    def __init__(self):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, package_parent(), str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env={**os.environ, **one_thread_env()},  # one core's worth of work a request
            )
        except BaseException:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send = Connection(to_child_w, readable=False)
        self.recv = Connection(from_child_r, writable=False)
        self.owner_pid = os.getpid()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Close the pipes (the child exits at the end of its input) and reap it."""
        for conn in (self.send, self.recv):
            conn.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_idle: list[_Child] = []
_idle_lock = threading.Lock()


def _take_idle_child() -> _Child | None:
    dead = []
    taken = None
    with _idle_lock:
        while _idle and taken is None:
            child = _idle.pop()
            if child.alive:
                taken = child
            else:
                dead.append(child)
    for child in dead:  # died while idle: close its pipes and reap it
        child.stop()
    return taken


def _keep_idle_child(child: _Child) -> bool:
    """Keep a healthy child for reuse; False if there is no room (the caller stops it)."""
    with _idle_lock:
        if len(_idle) < IDLE_CHILDREN and child.owner_pid == os.getpid() and child.alive:
            _idle.append(child)
            return True
    return False


def _stop_idle_children() -> None:
    with _idle_lock:
        children = list(_idle)
        _idle.clear()
    for child in children:
        if child.owner_pid == os.getpid():
            child.stop()


def _forget_idle_children_after_fork() -> None:
    """A forked process (a Dask worker) must not talk to its parent's children: drop its copies of the
    pipes, leave the children to the parent; and a new lock (another thread may have held the old one
    when the process forked)."""
    global _idle_lock
    _idle_lock = threading.Lock()
    for child in _idle:
        for conn in (child.send, child.recv):
            conn.close()
    _idle.clear()


atexit.register(_stop_idle_children)
os.register_at_fork(after_in_child=_forget_idle_children_after_fork)


class _Failure:
    """An exception inside the child's service, sent back as its message (a plain string could be an
    answer)."""

    def __init__(self, message: str):
        self.message = message


class ServiceProcess:
    """A child process that answers requests with a copy of ``service``.

    Args:
        service: a picklable callable ``service(request) -> answer`` (pickled once, at start; its module
            must be importable in the child, which imports this package from the same place).
        name: what the service is, for the error messages ('estimator', 'polar decoder').
        timeout_s: longest wait for one answer (the first call also waits for the child's imports, about
            a second).
    """

    error = ServiceProcessError  # the exception raised; subclasses name their own

    def __init__(self, service, name: str, timeout_s: float = 30.0):
        self.name = str(name)
        self.timeout_s = float(timeout_s)
        child = _take_idle_child()
        if child is not None:
            try:
                child.send.send(_NewService(service))
            except OSError:  # it died while idle
                child.stop()
                child = None
        self.reused = child is not None  # an idle child, its imports done
        if child is None:
            child = _Child()
            try:
                child.send.send(_NewService(service))
            except BaseException:
                child.stop()
                raise
        self._child = child
        self._in_flight = 0  # requests sent and not answered: a child with any is not reused
        self.cpu_s = 0.0  # the child's CPU time answering this object's requests (its imports excluded)

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.process.pid

    @property
    def _process(self) -> subprocess.Popen | None:
        return None if self._child is None else self._child.process

    def call(self, request):
        """The service's answer to one request.

        Raises:
            ServiceProcessError (or the subclass's ``error``): the child died, failed or did not answer
                within ``timeout_s``.
        """
        return self.call_many([request])[0]

    def call_many(self, requests: list, window: int = 8) -> list:
        """The answers to ``requests``, in order, with up to ``window`` requests in the pipe at once: the
        child goes from one request to the next without waiting for this process to wake up and send it
        (a round trip per request can cost more than the request on a busy machine), and its answers never
        fill their pipe.

        Raises:
            ServiceProcessError (or the subclass's ``error``): the child died, failed (the first failure's
                message) or did not answer within ``timeout_s``.
        """
        if not self.alive:
            raise self.error(f"the {self.name} process is not running")
        child = self._child
        answers = []
        sent = 0
        try:
            while len(answers) < len(requests):
                while sent < len(requests) and sent - len(answers) < window:
                    child.send.send(requests[sent])
                    sent += 1
                    self._in_flight += 1
                if not child.recv.poll(self.timeout_s):
                    raise self.error(f"the {self.name} process did not answer within {self.timeout_s:g} s")
                answer, cpu_s = child.recv.recv()
                answers.append(answer)
                self.cpu_s += cpu_s
                self._in_flight -= 1
        except (OSError, EOFError) as exc:
            raise self.error(f"the {self.name} process is gone ({exc})") from None
        failures = [a for a in answers if isinstance(a, _Failure)]
        if failures:
            raise self.error(f"{self.name} process: {failures[0].message}")
        return answers

    def close(self, reuse: bool = True) -> None:
        """Let the child go: kept idle for the next :class:`ServiceProcess` if it is healthy and has no
        request in flight (``reuse``), else stopped (it exits when its input closes); idempotent."""
        child, self._child = self._child, None
        if child is None:
            return
        if reuse and self._in_flight == 0 and _keep_idle_child(child):
            return
        child.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close(reuse=False)
        except Exception:  # interpreter shutdown: nothing left to do
            pass


def serve(fd_in: int, fd_out: int) -> None:
    """The child's loop: a service, then one answer per request, with the CPU time it took (a new service
    replaces the old one, for a reused child) until the parent closes the pipe."""
    keep_freed_memory()  # each request's arrays are new: without it hundreds of page faults a request
    receive, send = Connection(fd_in, writable=False), Connection(fd_out, readable=False)
    service = None
    while True:
        try:
            request = receive.recv()
        except EOFError:
            return
        if isinstance(request, _NewService):
            service = request.service
            continue
        started = time.process_time()
        try:
            answer = service(request)
        except Exception as exc:  # reported to the parent, which goes on in-process
            answer = _Failure(f"{type(exc).__name__}: {exc}")
        send.send((answer, time.process_time() - started))


class UsesServiceProcess:
    """Mixin of an object that can hand its work to a child process (``worker``, made by
    ``_new_process(timeout_s)``) and goes on in-process when the child fails: the failure is kept in
    ``worker_failure`` for the caller to report, and ``process_cpu_s`` counts the CPU time of every child
    it had on its requests."""

    worker: ServiceProcess | None = None
    worker_failure = ""
    _closed_process_cpu_s = 0.0

    def _new_process(self, timeout_s: float) -> ServiceProcess:
        raise NotImplementedError

    def start_process(self, timeout_s: float = 30.0) -> None:
        """Do the work in a child process from now on: the same results, without holding this process's
        interpreter lock meanwhile."""
        if self.worker is None:
            self.worker = self._new_process(timeout_s)

    def close(self) -> None:
        """Let the child process go, if any (the work goes on in-process)."""
        if self.worker is not None:
            self._closed_process_cpu_s += self.worker.cpu_s
            self.worker.close()
            self.worker = None

    @property
    def process_cpu_s(self) -> float:
        """CPU seconds the child processes spent on this object's requests (their start-up excluded)."""
        return self._closed_process_cpu_s + (self.worker.cpu_s if self.worker is not None else 0.0)

    def _process_failed(self, exc: Exception) -> None:
        """The child failed: keep why, let it go, go on in-process."""
        self.worker_failure = str(exc)
        self.close()
