# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash-safe output files (python/issc/files.py): atomic replacement survives a crash and a SIGKILL at
any moment, JSON-lines rows survive a torn last row, and output paths are checked before the work with
an error that names the option."""

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.files import (
    append_json_line,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_output_dir,
    check_output_file,
    read_json_lines,
)

REPO = Path(__file__).resolve().parents[1]


def leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_the_whole_file_with_readable_permissions(tmp_path):
    path = tmp_path / "out.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_text(path, "second\n")
    assert path.read_text() == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError):
        atomic_write_json(path, {"x": float("nan")})  # JSON has no NaN: refused, the file kept
    assert path.read_text() == "second\n"


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_crash_inside_the_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, where):
    """An interrupt while the data is flushed, or while the file is swapped in, leaves the old content."""
    path = tmp_path / "table.csv"
    path.write_text("old,complete\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, where, crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new" * 100_000)
    monkeypatch.undo()
    assert path.read_text() == "old,complete\n"
    assert leftovers(tmp_path) == []


CHILD = """
import sys, gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
from gnuradio.issc.files import atomic_write_bytes
size = int(sys.argv[3])
atomic_write_bytes(sys.argv[2], b"a" * size)
print("ready", flush=True)
i = 0
while True:
    i += 1
    atomic_write_bytes(sys.argv[2], (b"b" if i % 2 else b"a") * (size + i % 2))
"""


def test_sigkill_at_any_moment_leaves_one_complete_version(tmp_path):
    """A writer killed with SIGKILL at 8 moments while it rewrites a 2 MB file in a loop: every time, the
    file is one complete version (all 'a' at one length or all 'b' at the other), never a mix or a cut."""
    path = tmp_path / "big.bin"
    size = 2_000_000
    for delay in (0.0, 0.01, 0.03, 0.05, 0.08, 0.13, 0.21, 0.34):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(REPO / "python"), str(path), str(size)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        data = path.read_bytes()
        assert data in (b"a" * size, b"b" * (size + 1)), (delay, len(data), data[:1], data[-1:])


def test_a_symlink_is_followed_and_a_pipe_is_written_in_place(tmp_path):
    """Writing through a symbolic link replaces its target, not the link; a named pipe (like /dev/null,
    not a regular file) gets the data and stays a pipe."""
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic_write_bytes(fifo, b"through the pipe")
    reader.join(10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_json_lines_skip_a_torn_row_and_the_next_row_is_not_lost(tmp_path):
    """A run killed mid-row leaves a fragment without a newline: reading skips it, and the next append
    starts a new line, so the resumed run's row is read back (not glued to the fragment)."""
    path = tmp_path / "journal.jsonl"
    append_json_line(path, {"point": 0, "value": 1.5})
    with open(path, "a") as fh:
        fh.write('{"point": 1, "val')  # torn: the writer died inside write()
    assert read_json_lines(path) == [{"point": 0, "value": 1.5}]
    append_json_line(path, {"point": 1, "value": 2.5})
    assert read_json_lines(path) == [{"point": 0, "value": 1.5}, {"point": 1, "value": 2.5}]


def test_json_lines_skip_garbage_and_refuse_nan(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\n[1, 2]\n"text"\n\xff\xfe garbage\n{"ok": true}\n  \n')
    assert read_json_lines(path) == [{"ok": True}]
    before = path.read_bytes()
    with pytest.raises(ValueError):
        append_json_line(path, {"x": float("nan")})
    assert path.read_bytes() == before
    assert read_json_lines(tmp_path / "missing.jsonl") == []


def test_check_output_file_refuses_bad_paths_naming_the_option(tmp_path):
    """A directory, a missing folder, a file as the folder, a folder that takes no files (/proc, also
    for root) and a name too long are refused before any work, naming the option; nothing is created."""
    (tmp_path / "afile").write_text("x")
    cases = {
        tmp_path: "is a directory",
        tmp_path / "nope" / "out.csv": "does not exist",
        tmp_path / "afile" / "out.csv": "is not a directory",
        Path("/proc/issc-out.csv"): "not writable",
        Path("/proc/version"): "not writable",
        tmp_path / ("n" * 5000): "too long",
    }
    for path, message in cases.items():
        with pytest.raises(IsscInputError, match=message) as info:
            check_output_file(path, "--csv")
        assert str(info.value).startswith("--csv ") and "\n" not in str(info.value)
    before = sorted(tmp_path.iterdir())
    assert check_output_file(tmp_path / "fresh.csv") == tmp_path / "fresh.csv"
    assert sorted(tmp_path.iterdir()) == before


def test_check_output_dir_creates_or_refuses_naming_the_option(tmp_path):
    nested = tmp_path / "a" / "b"
    assert check_output_dir(nested, "--out") == nested and nested.is_dir()
    (tmp_path / "afile").write_text("x")
    cases = {
        tmp_path / "afile": "is not a directory",
        tmp_path / "afile" / "sub": "cannot create",
        Path("/proc/issc-out"): "cannot create",
        tmp_path / ("n" * 5000): "cannot create",
    }
    for path, message in cases.items():
        with pytest.raises(IsscInputError, match=message) as info:
            check_output_dir(path, "--out")
        assert str(info.value).startswith("--out ")
    assert json.dumps(sorted(p.name for p in tmp_path.iterdir())) == json.dumps(["a", "afile"])
