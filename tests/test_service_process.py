# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""ServiceProcess, the child process the estimator and the polar decoder run in: answers in order, an
exception in the service comes back as an error naming it (and the child keeps serving), a child that is
slow, dead or closed raises the process's error instead of hanging."""

import math
import os
import time

import pytest

from gnuradio.issc import service_process
from gnuradio.issc.service_process import ServiceProcess, ServiceProcessError


def test_answers_come_back_in_order_whatever_the_window():
    with ServiceProcess(math.sqrt, "square root", timeout_s=60) as child:
        squares = [float(k * k) for k in range(40)]
        assert child.call_many(squares, window=3) == [float(k) for k in range(40)]
        assert child.call_many(squares[:5], window=1) == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert child.call(2.25) == 1.5
        assert child.call_many([]) == []


def test_an_exception_in_the_service_is_reported_and_the_child_keeps_serving():
    with ServiceProcess(math.sqrt, "square root", timeout_s=60) as child:
        with pytest.raises(ServiceProcessError, match="square root process: ValueError: math domain error"):
            child.call_many([4.0, -1.0, 9.0])
        assert child.alive
        assert child.call(16.0) == 4.0
        with pytest.raises(ServiceProcessError, match="TypeError"):
            child.call("not a number")


def test_a_slow_child_times_out_a_dead_one_is_gone_a_closed_one_is_not_running():
    child = ServiceProcess(time.sleep, "sleeper", timeout_s=60)
    try:
        assert child.call(0.0) is None  # the child's imports are done
        child.timeout_s = 0.2
        started = time.monotonic()
        with pytest.raises(ServiceProcessError, match="sleeper process did not answer within 0.2 s"):
            child.call(30.0)
        assert time.monotonic() - started < 10
        child._process.kill()
        child._process.wait()
        with pytest.raises(ServiceProcessError, match="not running"):
            child.call(0.0)
    finally:
        child.close()
    assert child.pid is None and not child.alive
    child.close()  # idempotent
    with pytest.raises(ServiceProcessError, match="sleeper process is not running"):
        child.call(0.0)


def test_a_child_killed_while_answering_raises_instead_of_hanging():
    child = ServiceProcess(time.sleep, "sleeper", timeout_s=60)
    try:
        child.call(0.0)
        child._child.send.send(5.0)  # the child is busy with this one when it is killed
        child._process.kill()
        # whether the call still sees the child running (then its pipe ends) or not is a race: either way
        # an error, not a wait for the killed request's answer
        with pytest.raises(ServiceProcessError, match="sleeper process (is gone|is not running)"):
            child.call_many([0.0])
    finally:
        child.close()


def test_a_healthy_closed_child_serves_the_next_service_and_a_busy_or_dead_one_is_not_reused():
    """Closing keeps a healthy child idle: the next ServiceProcess gets it (same pid, `reused`) and its own
    service answers; a child left with a request in flight (timed out) or killed is stopped instead."""
    service_process._stop_idle_children()  # none left by other tests
    first = ServiceProcess(math.sqrt, "square root", timeout_s=60)
    assert first.call(9.0) == 3.0
    pid = first.pid
    first.close()
    second = ServiceProcess(abs, "absolute value", timeout_s=60)
    try:
        assert second.reused and second.pid == pid
        assert second.call(-4) == 4  # the new service, not the old one
        second.timeout_s = 0.2
        second._child.send.send(-1.0)  # an answer the parent no longer waits for...
        second._in_flight += 1  # ...as after a timeout
    finally:
        second.close()
    third = ServiceProcess(time.sleep, "sleeper", timeout_s=60)
    try:
        assert not third.reused and third.pid != pid
        assert third.call(0.0) is None
        third._process.kill()
        third._process.wait()
    finally:
        third.close()
    fourth = ServiceProcess(math.sqrt, "square root", timeout_s=60)
    with fourth:
        assert not fourth.reused and fourth.call(4.0) == 2.0


def test_a_forked_process_does_not_take_its_parents_idle_children():
    with ServiceProcess(math.sqrt, "square root", timeout_s=60) as child:
        child.call(1.0)
    assert service_process._idle  # kept for reuse here
    pid = os.fork()
    if pid == 0:  # the forked process: nothing idle to take (its parent's children are not its own)
        os._exit(0 if not service_process._idle else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert service_process._idle  # the parent keeps its own
    with ServiceProcess(math.sqrt, "square root", timeout_s=60) as again:
        assert again.reused and again.call(16.0) == 4.0


def test_the_childs_cpu_time_on_the_requests_is_counted_and_its_imports_are_not():
    """`cpu_s` adds the child's CPU time per request (`time.process_time` around the service call): a
    CPU-bound request counts about its duration, an idle child nothing, a sleeping one almost nothing."""
    with ServiceProcess(sum, "sum", timeout_s=60) as child:
        assert child.call(range(3)) == 3
        idle = child.cpu_s
        assert 0 <= idle < 0.05  # the imports came before the first request
        started = time.perf_counter()
        assert child.call(range(5_000_000)) == 12_499_997_500_000
        elapsed = time.perf_counter() - started
        busy = child.cpu_s - idle
        assert 0.2 * elapsed < busy <= elapsed + 0.01
    with ServiceProcess(time.sleep, "sleeper", timeout_s=60) as child:
        child.call(0.3)
        assert child.cpu_s < 0.05


def test_a_child_that_died_while_idle_is_dropped_not_reused():
    """An idle child found dead when the next ServiceProcess looks for one is not handed out: it leaves the
    pool with its pipes closed (no descriptor leak) and a new child serves."""
    service_process._stop_idle_children()
    first = ServiceProcess(math.sqrt, "square root", timeout_s=60)
    first.call(1.0)
    first.close()
    idle = service_process._idle[-1]
    idle.process.kill()
    idle.process.wait()
    with ServiceProcess(math.sqrt, "square root", timeout_s=60) as second:
        assert not second.reused and second.pid != idle.process.pid and second.call(9.0) == 3.0
    assert idle.send.closed and idle.recv.closed
    assert not any(c is idle for c in service_process._idle)
