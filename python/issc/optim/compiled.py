# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compiled CVXPY problems, lent to one solver at a time and reused by the next.

Canonicalising a parameterised (DPP) problem costs more than solving it (CVXPY's matrix stuffing: tens of
milliseconds for the beam SDPs). A solver compiles its problems on first use; without this pool every new
solver (every link, every experiment point, every test) compiled them again. :func:`lend` gives an owner
exclusive use of a compiled problem for a key (a free one, or a new one from ``build``) and takes it back
when the owner is garbage-collected (:func:`weakref.finalize`): two live solvers never share one (a
problem's parameters are the state of the solve in progress), and the solvers set every parameter before
each solve, so a reused problem gives the numbers a new one would.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable

FREE_PER_KEY = 4
"""Free compiled problems kept per key (more would only be kept for owners that no longer exist)."""

_free: dict[Hashable, list] = {}
_lock = threading.Lock()


def lend(owner, key: Hashable, build: Callable[[], object]):
    """A compiled problem for ``key``, ``owner``'s alone until ``owner`` is garbage-collected.

    Args:
        owner: the solver that keeps it (any object that supports weak references).
        key: what determines the problem's structure (its class and sizes).
        build: makes and compiles a new one when none is free.
    """
    with _lock:
        free = _free.get(key)
        compiled = free.pop() if free else None
    if compiled is None:
        compiled = build()
    weakref.finalize(owner, _give_back, key, compiled)
    return compiled


def _give_back(key: Hashable, compiled) -> None:
    with _lock:
        free = _free.setdefault(key, [])
        if len(free) < FREE_PER_KEY:
            free.append(compiled)


def forget() -> None:
    """Drop the free compiled problems (the next solvers compile their own)."""
    with _lock:
        _free.clear()
