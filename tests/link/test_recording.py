# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings (python/issc/link/recording.py): what the writer streams out reads back exactly, with
our reader and with the ``sigmf`` package itself, validates (the ``issc:`` namespace declared), and a
recording cut short (a killed run, a truncated copy) is either a named error or read as far as it goes."""

import json

import numpy as np
import pytest
import sigmf
from hypothesis import given, settings
from hypothesis import strategies as st

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.recording import (
    FrameAnnotation,
    RecordingWriter,
    find_recordings,
    read_recording,
    recording_paths,
    validate_metadata,
)
from gnuradio.issc.scenario import load_scenario


def samples(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)


def write(path, chunks, frames=(), **kwargs):
    """Write ``chunks`` with frame annotations ``(start, seq, model, rate, bits)`` placed after the chunk
    that contains their start (as the recorder block does)."""
    kwargs.setdefault("scenario", load_scenario("tradeoff"))
    writer = RecordingWriter(path, 1e8, 3.5e9, role="tx", streams=4, run_id="r1", **kwargs).open()
    pending, written = sorted(frames), 0
    for chunk in chunks:
        writer.write(chunk)
        written += len(chunk)
        while pending and pending[0][0] < written:
            writer.frame(*pending.pop(0))
    return writer


def test_round_trip_with_our_reader_and_the_sigmf_package(tmp_path):
    """Samples, sample rate, carrier, scenario and one annotation per frame (each running to the next
    frame's start, the last to the end) read back exactly, by both readers."""
    x = samples(5000)
    frames = [(0, 0, "t1", 0.5, 128), (1792, 1, "t2", 0.25, 64), (3100, 2, "t2", 0.25, 64)]
    write(tmp_path / "tx0", [x[:1000], x[1000:1001], x[1001:]], frames).close()
    rec = read_recording(tmp_path / "tx0.sigmf-meta", verify_checksum=True)
    np.testing.assert_array_equal(rec.samples, x)
    assert rec.sample_rate == 1e8 and rec.center_freq_hz == 3.5e9 and rec.complete and rec.missing_samples == 0
    assert (rec.role, rec.stream_index, rec.run_id) == ("tx", 0, "r1")
    assert rec.scenario().to_dict() == load_scenario("tradeoff").to_dict()  # the whole scenario, validated again
    assert rec.frames == [
        FrameAnnotation(0, 1792, 0, "t1", 0.5, 128),
        FrameAnnotation(1792, 1308, 1, "t2", 0.25, 64),
        FrameAnnotation(3100, 1900, 2, "t2", 0.25, 64),
    ]
    other = sigmf.sigmffile.fromfile(str(tmp_path / "tx0.sigmf-meta"))  # checks core:sha512 too
    other.validate()
    np.testing.assert_array_equal(other.read_samples(), x)
    assert [a["issc:seq"] for a in other.get_annotations()] == [0, 1, 2]
    assert other.get_global_field("issc:scenario")["name"] == "tradeoff"
    # the data file is the samples as little-endian float32 pairs, nothing else
    raw = np.fromfile(tmp_path / "tx0.sigmf-data", dtype="<f4")
    np.testing.assert_array_equal(raw[0::2] + 1j * raw[1::2], x)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(cuts=st.lists(st.integers(0, 300), max_size=6))
def test_any_chunking_writes_the_same_recording(tmp_path_factory, cuts):
    """However the stream is cut into writes (empty writes included), the data file holds the samples in
    order and the metadata counts them."""
    x = samples(300, seed=1)
    bounds = [0, *sorted(cuts), 300]
    path = tmp_path_factory.mktemp("chunks") / "s"
    write(path, [x[a:b] for a, b in zip(bounds, bounds[1:])], scenario=None).close()
    rec = read_recording(path)
    np.testing.assert_array_equal(rec.samples, x)
    assert rec.global_info["issc:sample_count"] == 300 and "issc:scenario" not in rec.global_info


def test_metadata_validates_and_an_undeclared_namespace_does_not(tmp_path):
    """The writer's metadata passes ``sigmf``'s schema with the ``issc`` extension declared; without the
    declaration, or with annotations out of order, validation fails with a named error."""
    writer = write(tmp_path / "a", [samples(100)], [(10, 0, "t1", 0.5, 128)])
    writer.close()
    meta = writer.metadata()
    validate_metadata(meta)
    assert meta["global"]["core:extensions"] == [{"name": "issc", "version": "1.0.0", "optional": True}]
    undeclared = json.loads(json.dumps(meta))
    undeclared["global"].pop("core:extensions")
    with pytest.raises(IsscInputError, match="undeclared extensions"):
        validate_metadata(undeclared)
    unordered = json.loads(json.dumps(meta))
    unordered["annotations"] = [{"core:sample_start": 50}, {"core:sample_start": 10}]
    with pytest.raises(IsscInputError, match="ordering"):
        validate_metadata(unordered)


def test_a_killed_run_leaves_a_valid_recording_of_what_was_written(tmp_path):
    """A writer never closed (the process killed): the metadata on disk is the last periodic one, valid,
    marked incomplete, and every sample appended since is still read (best effort is not needed: the
    data file is longer than the metadata says, not shorter)."""
    x = samples(4000, seed=2)
    writer = write(tmp_path / "k", [x[:1000]], [(0, 0, "t1", 0.5, 128)], meta_interval_s=0)
    writer.write(x[1000:2500])
    writer.write_metadata()  # the periodic rewrite
    writer.write(x[2500:])  # appended after the last metadata write: the "kill" comes now
    writer._file.flush()
    rec = read_recording(tmp_path / "k")
    assert not rec.complete and rec.global_info["issc:sample_count"] == 2500
    np.testing.assert_array_equal(rec.samples, x)
    assert rec.frames == [FrameAnnotation(0, 2500, 0, "t1", 0.5, 128)]  # the open frame, as far as described
    sigmf.sigmffile.fromfile(str(tmp_path / "k.sigmf-meta")).validate()  # no checksum until the close
    writer.close()
    assert read_recording(tmp_path / "k").complete


def test_truncated_data_file_is_a_named_error_or_read_as_far_as_it_goes(tmp_path):
    """A data file cut inside a sample and short of the metadata: strict reading names the counts; best
    effort returns the whole samples there, with the frames past them dropped and the one across cut."""
    x = samples(3000, seed=3)
    write(tmp_path / "t", [x], [(0, 0, "t1", 0.5, 128), (1000, 1, "t1", 0.5, 128), (2500, 2, "t1", 0.5, 128)]).close()
    data = tmp_path / "t.sigmf-data"
    data.write_bytes(data.read_bytes()[: 1800 * 8 + 5])
    with pytest.raises(IsscInputError, match=r"data file has 1800 samples .* describes 3000 \(truncated\?\)"):
        read_recording(tmp_path / "t")
    rec = read_recording(tmp_path / "t", strict=False)
    np.testing.assert_array_equal(rec.samples, x[:1800])
    assert rec.missing_samples == 1200 and not rec.complete
    assert [(f.seq, f.sample_start, f.sample_count) for f in rec.frames] == [(0, 0, 1000), (1, 1000, 800)]
    with pytest.raises(IsscInputError, match="core:sha512"):
        read_recording(tmp_path / "t", strict=False, verify_checksum=True)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda m, d: m.unlink(), "no such file"),
        (lambda m, d: d.unlink(), "data file .* is missing"),
        (lambda m, d: m.write_text("{not json"), "cannot read the metadata"),
        (lambda m, d: m.write_text("[]"), "not SigMF metadata"),
        (lambda m, d: m.write_text(m.read_text().replace('"cf32_le"', '"ci16_le"')), "only cf32_le"),
        (
            lambda m, d: m.write_text(
                m.read_text().replace('"core:sample_rate": 100000000.0', '"core:sample_rate": -1')
            ),
            "sample_rate",
        ),
    ],
)
def test_missing_or_invalid_recordings_are_named_errors(tmp_path, damage, message):
    write(tmp_path / "r", [samples(10)]).close()
    meta, data = recording_paths(tmp_path / "r")
    damage(meta, data)
    with pytest.raises(IsscInputError, match=message):
        read_recording(meta)


def test_writer_checks_its_arguments_and_output_before_writing(tmp_path):
    with pytest.raises(IsscInputError, match="sample rate"):
        RecordingWriter(tmp_path / "a", 0.0)
    with pytest.raises(IsscInputError, match="role"):
        RecordingWriter(tmp_path / "a", 1.0, role="rx")
    with pytest.raises(IsscInputError, match="namespace"):
        RecordingWriter(tmp_path / "a", 1.0, extra={"scheme": "ascc"})
    with pytest.raises(IsscInputError, match="does not exist"):
        RecordingWriter(tmp_path / "no" / "a", 1.0)
    assert not list(tmp_path.iterdir())
    writer = RecordingWriter(tmp_path / "b", 1.0).open()
    writer.frame(10, 0)
    with pytest.raises(IsscInputError, match="before the previous frame"):
        writer.frame(5, 1)
    writer.close()
    with pytest.raises(IsscInputError, match="after close"):
        writer.write(samples(1))


def test_find_recordings_groups_a_run(tmp_path):
    """The recordings of one run are found by run id, sorted by role and index; unreadable files are skipped."""
    for name, role, k, run in (
        ("tx1", "tx", 1, "a"),
        ("tx0", "tx", 0, "a"),
        ("echo0", "echo", 0, "a"),
        ("x", "tx", 0, "b"),
    ):
        RecordingWriter(tmp_path / name, 1.0, role=role, stream_index=k, run_id=run).open().close()
    (tmp_path / "bad.sigmf-meta").write_text("{")
    assert [r.meta_path.name for r in find_recordings(tmp_path, "a")] == [
        "echo0.sigmf-meta",
        "tx0.sigmf-meta",
        "tx1.sigmf-meta",
    ]
    assert len(find_recordings(tmp_path)) == 4


KILLED_WRITER = """
import sys, gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
import numpy as np
from gnuradio.issc.link.recording import RecordingWriter
writer = RecordingWriter(sys.argv[2], 1e6, role="comm_rx", meta_interval_s=0.001).open()
chunk = 0
while True:
    writer.write(np.arange(chunk * 1000, (chunk + 1) * 1000).astype(np.complex64))
    if chunk % 10 == 0:
        writer.frame(chunk * 1000, chunk // 10)
    chunk += 1
    if chunk == 50:
        print("go", flush=True)
"""


def test_a_writer_killed_with_sigkill_leaves_a_readable_valid_recording(tmp_path):
    """A process writing a recording is SIGKILLed mid-stream: the files it leaves validate with ``sigmf``,
    read strictly, and hold a prefix of the stream (every sample the metadata describes, at least)."""
    import signal
    import subprocess
    import sys

    from conftest import REPO_ROOT

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(REPO_ROOT / "python"), str(tmp_path / "k")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "go"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    rec = read_recording(tmp_path / "k")
    n = rec.samples.size
    assert n >= 50_000 and n >= rec.global_info["issc:sample_count"] and not rec.complete
    np.testing.assert_array_equal(rec.samples, np.arange(n).astype(np.complex64))
    assert [f.seq for f in rec.frames] == list(range(len(rec.frames))) and all(f.sample_start < n for f in rec.frames)
    sigmf.sigmffile.fromfile(str(tmp_path / "k.sigmf-meta")).validate()
