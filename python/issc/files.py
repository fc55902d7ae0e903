# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash-safe output files: atomic replacement, row-by-row appends, output paths checked before the work.

Every file a long run writes goes through here, so a run killed at any instant (even SIGKILL) leaves
either the previous complete file or the new complete file, never a half-written one; JSON-lines files
are appended one flushed row at a time, and a torn last row (a kill inside ``write``) is skipped when read.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .errors import IsscInputError


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A symbolic link is followed (its target is replaced, the link stays). An existing path that is not a
    regular file (``/dev/null``, a named pipe) is written in place: replacing it would turn a device
    into a plain file.

    Args:
        path: destination file; its folder must exist.
        data: the complete content.
        mode: permission bits of the new file (``mkstemp`` makes files private).
    """
    path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file() and not path.is_dir():
        with open(path, "wb") as fh:
            fh.write(data)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """``atomic_write_bytes`` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value, indent: int = 2) -> None:
    """Write a JSON document atomically (no NaN: JSON has none)."""
    atomic_write_text(path, json.dumps(value, indent=indent, allow_nan=False) + "\n")


def append_json_line(path: str | Path, row: dict) -> None:
    """Append one JSON row and flush it to the OS, so a kill loses at most the row being written.

    A file whose last row was torn (no final newline: a run killed inside ``write``) gets a newline
    first, so the new row is not glued to the fragment and lost with it when read.
    """
    line = json.dumps(row, allow_nan=False) + "\n"  # before opening: a row JSON cannot hold writes nothing
    with open(path, "ab+") as fh:
        if fh.seek(0, os.SEEK_END):
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = "\n" + line
        fh.write(line.encode("utf-8"))
        fh.flush()


def read_json_lines(path: str | Path) -> list[dict]:
    """Rows of a JSON-lines file; a torn or garbled row (a run killed mid-write) is skipped, not fatal."""
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict):
                    rows.append(row)
    except FileNotFoundError:
        return []
    return rows


def _can_create_in(folder: Path) -> bool:
    """True if a file can really be created in ``folder`` (a probe, removed at once): ``os.access`` says
    yes to root everywhere but on read-only file systems, and an atomic write creates a file there."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".issc-probe-")
    except OSError:
        return False
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return True


def check_output_file(path: str | Path, what: str = "--out") -> Path:
    """Check, before any work, that ``path`` can be written as a file; return it as a ``Path``.

    Refuses a path that is a directory, whose parent is not a directory, or that cannot be written
    (for a new or regular file: its folder must take new files, as an atomic write needs), naming
    ``what`` (the option) in the error. Leaves nothing behind.
    """
    path = Path(path)
    try:
        return _check_output_file(path, what)
    except OSError as exc:  # a name too long, a loop of links...
        raise IsscInputError(f"{what} {_short(path)}: {exc.strerror or exc}") from None


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:200] + "..."


def _check_output_file(path: Path, what: str) -> Path:
    if path.is_dir():
        raise IsscInputError(f"{what} {path}: is a directory, expected a file")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise IsscInputError(f"{what} {path}: {parent} is not a directory")
    if not parent.exists():
        raise IsscInputError(f"{what} {path}: folder {parent} does not exist")
    if path.exists() and not path.is_file():  # a device or a pipe: written in place
        writable = os.access(path, os.W_OK)
    else:
        writable = (not path.exists() or os.access(path, os.W_OK)) and _can_create_in(
            Path(os.path.realpath(path)).parent
        )
    if not writable:
        raise IsscInputError(f"{what} {path}: not writable")
    return path


def check_output_dir(path: str | Path, what: str = "--out") -> Path:
    """Check, before any work, that ``path`` is or can become a writable directory; create it; return it."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise IsscInputError(f"{what} {path}: exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IsscInputError(f"{what} {_short(path)}: cannot create the folder ({exc.strerror or exc})") from None
    if not (os.access(path, os.W_OK | os.X_OK) and _can_create_in(path)):
        raise IsscInputError(f"{what} {path}: folder is not writable")
    return path
