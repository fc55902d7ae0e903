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

This module is in the bottom layer: it imports nothing of the package but :mod:`.parallel`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from multiprocessing.connection import Connection

from .parallel import keep_freed_memory, one_thread_env, package_parent

_BOOTSTRAP = (
    "import sys, gnuradio\n"
    "if sys.argv[1] not in gnuradio.__path__:\n"
    "    gnuradio.__path__.insert(0, sys.argv[1])\n"
    "from gnuradio.issc.service_process import serve\n"
    "serve(int(sys.argv[2]), int(sys.argv[3]))\n"
)


class ServiceProcessError(RuntimeError):
    """A service's child process failed, died or did not answer."""


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
        self._process = None
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, package_parent(), str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env={**os.environ, **one_thread_env()},  # one core's worth of work a request
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        self._send.send(service)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

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
        answers = []
        sent = 0
        try:
            while len(answers) < len(requests):
                while sent < len(requests) and sent - len(answers) < window:
                    self._send.send(requests[sent])
                    sent += 1
                if not self._recv.poll(self.timeout_s):
                    raise self.error(f"the {self.name} process did not answer within {self.timeout_s:g} s")
                answers.append(self._recv.recv())
        except (OSError, EOFError) as exc:
            raise self.error(f"the {self.name} process is gone ({exc})") from None
        failures = [a for a in answers if isinstance(a, _Failure)]
        if failures:
            raise self.error(f"{self.name} process: {failures[0].message}")
        return answers

    def close(self) -> None:
        """Stop the child (it exits when its input closes); idempotent."""
        if self._process is None:
            return
        for conn in (self._send, self._recv):
            conn.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to do
            pass


def serve(fd_in: int, fd_out: int) -> None:
    """The child's loop: the service first, then one answer per request until the parent closes the pipe."""
    keep_freed_memory()  # each request's arrays are new: without it hundreds of page faults a request
    receive, send = Connection(fd_in, writable=False), Connection(fd_out, readable=False)
    try:
        service = receive.recv()
    except EOFError:
        return
    while True:
        try:
            request = receive.recv()
        except EOFError:
            return
        try:
            answer = service(request)
        except Exception as exc:  # reported to the parent, which goes on in-process
            answer = _Failure(f"{type(exc).__name__}: {exc}")
        send.send(answer)
