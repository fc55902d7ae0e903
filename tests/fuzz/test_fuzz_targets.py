# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based tests of every input surface (the fuzz targets of ``issc fuzz``, docs/reliability.md).

Each target gets a few hundred hypothesis inputs at most: its real seeds (shipped bitstreams, real
frames, valid messages), the seeds with random edits (the long-run fuzzer's mutator), and raw bytes.
Derandomized, so a run is reproducible; the long runs (``issc fuzz TARGET --seconds S``) go much further.
Each check is shown to fail on a broken implementation (the ``test_*_catches_*`` tests).
"""

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.issc.cli import fuzz_targets as ft
from gnuradio.issc.cli.fuzz import mutate, run_one

EXAMPLES = {"header": 300, "container": 300, "codec": 80, "standard": 200, "receiver": 80, "djscc": 150,
            "blocks": 200, "scenario": 200, "cli": 120}  # fmt: skip


def inputs(target):
    """A seed as it is, a seed with 1-8 random edits, or raw bytes."""
    seeds = target.seeds()
    edited = st.builds(
        lambda seed, r: mutate(seed, random.Random(r), seeds, target.max_len),
        st.sampled_from(seeds),
        st.integers(0, 2**32 - 1),
    )
    return st.one_of(st.sampled_from(seeds), edited, edited, st.binary(max_size=min(target.max_len, 1024)))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_target_keeps_its_promise(name):
    """Any input to the target gives a result or a documented refusal: never another exception, a NaN,
    an image of the wrong shape, a dropped-and-unlogged message or a multi-line error."""
    target = ft.TARGETS[name]

    @settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(target))
    def run(data):
        target.check(data)

    run()


def test_every_target_is_tested_and_its_seeds_pass():
    """The table above covers every target, and every seed runs clean (a seed that fails would hide the
    mutations around it)."""
    assert set(EXAMPLES) == set(ft.TARGETS)
    for name in ("header", "container", "codec", "scenario"):
        target = ft.TARGETS[name]
        for seed in target.seeds():
            label, failure = run_one(target, seed)
            assert failure is None, failure


def test_draw_is_deterministic_and_bounded():
    """The same bytes give the same choices; ranges hold; exhausted input gives the first option."""
    data = bytes(range(256))
    first, again = ft.Draw(data), ft.Draw(data)
    assert [first.int(-5, 300) for _ in range(50)] == [again.int(-5, 300) for _ in range(50)]
    d = ft.Draw(bytes([255, 255, 7]))
    values = [d.int(3, 9) for _ in range(3)]
    assert all(3 <= v <= 9 for v in values)
    assert d.int(3, 9) == 3 and d.choice("abc") == "a" and d.bytes(4) == b""


def test_header_check_catches_a_header_that_does_not_round_trip(monkeypatch):
    """A header unpacker that loses a field is caught."""
    from gnuradio.issc.link import framing

    original = framing.FrameHeader.unpack.__func__

    def lossy(cls, data):
        header = original(cls, data)
        return None if header is None else cls(header.seq, 0, *list(header.__dict__.values())[2:])

    monkeypatch.setattr(framing.FrameHeader, "unpack", classmethod(lossy))
    seed = ft.TARGETS["header"].seeds()[1]  # model index 3
    with pytest.raises(ft.FuzzFailure, match="pack back"):
        ft.check_header(seed)


def test_standard_check_catches_nan_pixels_and_a_wrong_shape(monkeypatch):
    """A standard-codec decoder that returns NaN pixels, or an image of another shape, fails the standard
    target; the real decoder passes on the same seed (an HEVC payload under its real header)."""
    from gnuradio.issc.codec.standard import StandardCodec

    seed = ft.TARGETS["standard"].seeds()[1]  # payload mode, the HEVC point
    assert ft.check_standard(seed).startswith("parts-")
    real = StandardCodec.decode_parts
    monkeypatch.setattr(StandardCodec, "decode_parts", lambda self, h, p: real(self, h, p) * np.nan)
    with pytest.raises(ft.FuzzFailure):
        ft.check_standard(seed)
    monkeypatch.setattr(StandardCodec, "decode_parts", lambda self, h, p: real(self, h, p)[:-1])
    with pytest.raises(ft.FuzzFailure):
        ft.check_standard(seed)


def test_codec_check_catches_nan_pixels_and_a_wrong_shape(monkeypatch):
    """A decoder that returns NaN pixels, or an image of another shape, fails the codec target."""
    from gnuradio.issc.codec.codec import SemanticCodec

    seed = ft.TARGETS["codec"].seeds()[1]  # payload mode
    ft.check_codec(seed)
    monkeypatch.setattr(SemanticCodec, "decode_parts", lambda self, h, p: np.full((h.height, h.width, 3), np.nan))
    with pytest.raises(ft.FuzzFailure, match="non-finite"):
        ft.check_codec(seed)
    monkeypatch.setattr(SemanticCodec, "decode_parts", lambda self, h, p: np.zeros((h.height + 1, h.width, 3)))
    with pytest.raises(ft.FuzzFailure, match="shape"):
        ft.check_codec(seed)


def test_receiver_check_catches_a_receiver_that_keeps_everything(monkeypatch):
    """A receiver that never drops searched samples (unbounded memory) fails the receiver target."""
    from gnuradio.issc.link.framing import FrameReceiver

    monkeypatch.setattr(FrameReceiver, "samples_buffered", property(lambda self: self.samples_pushed + 10**9))
    with pytest.raises(ft.FuzzFailure, match="holds"):
        ft.check_receiver(ft.TARGETS["receiver"].seeds()[0])


def test_djscc_check_catches_a_silently_dropped_pdu(monkeypatch):
    """A decoder that publishes nothing and logs nothing for a valid PDU is caught ("nothing lost
    silently")."""
    h = ft.harness("djscc_decoder")
    seed = ft.TARGETS["djscc"].seeds()[0]
    assert ft.check_djscc(seed) == "decoded"
    monkeypatch.setattr(h.block, "message_port_pub", lambda port, msg: None)
    with pytest.raises(ft.FuzzFailure, match="0 images and 0 warnings"):
        ft.check_djscc(seed)


def test_scenario_check_catches_an_error_without_file_or_key(monkeypatch):
    """A ScenarioError that names neither the file nor the key fails the scenario target."""
    from gnuradio.issc import scenario
    from gnuradio.issc.errors import ScenarioError

    def vague(*args, **kwargs):
        raise ScenarioError("something is wrong")

    monkeypatch.setattr(scenario.Scenario, "from_dict", classmethod(vague))
    with pytest.raises(ft.FuzzFailure, match="name the file"):
        ft.check_scenario(bytes([0, 1, 1, 0, 0]))


def test_cli_check_catches_a_traceback(monkeypatch):
    """A command that raises something other than IsscInputError escapes main() and is a failure."""
    from gnuradio.issc.cli import physics

    def broken(args):
        raise RuntimeError("boom")

    argv = ["ber", "--sinr-db", "3", "--rate", "0.5"]
    code, out, err = ft.run_cli(argv)
    assert code == 0 and err == ""
    monkeypatch.setattr(physics, "cmd_ber", broken)  # main() builds its parser per call: the patch is seen
    label, failure = run_one(ft.Target("one", "", list, lambda data: ft.run_cli(argv)[0]), b"")
    assert failure is not None and failure[0].startswith("RuntimeError")


def good_command_lines() -> dict:
    """A command line that works, per command the cli target runs."""
    files = ft._command_files()
    return {
        "scenario": ["scenario", "-s", "paper"],
        "regime": ["regime", "-s", "paper"],
        "hcrb": ["hcrb", "-s", "paper", "--cov", files["cov4"]],
        "codec info": ["codec", "info"],
        "codec decode": ["codec", "decode", "--in", files["container"], "--out", files["new"] + ".png"],
        "codec encode": ["codec", "encode", "--model", "hp1", "--image", files["png"], "--out", files["new"]],
        "optimize": ["optimize", "-s", "paper"],
    }


PATH_OPTIONS = [  # (command, option, the option reads a file)
    ("scenario", "-s", True),
    ("regime", "-s", True),
    ("hcrb", "-s", True),
    ("hcrb", "--cov", True),
    ("codec info", "--dir", True),
    ("codec decode", "--in", True),
    ("codec decode", "--out", False),
    ("codec decode", "--dir", True),
    ("codec encode", "--image", True),
    ("codec encode", "--out", False),
    ("codec encode", "--dir", True),
    ("optimize", "-s", True),
    ("optimize", "--profile", True),
    ("optimize --ber-model calibrated", "--calibration", True),
]


@pytest.mark.parametrize(
    "command,option,reads", PATH_OPTIONS, ids=[c.split(" --")[0].replace(" ", "-") + o for c, o, r in PATH_OPTIONS]
)
def test_a_path_too_long_or_a_file_with_a_nul_byte_is_a_one_line_error(command, option, reads):
    """Every path option of the commands the cli target runs: a name too long for the file system (an
    OSError from the first stat) and, for an input, a file with a NUL byte are one-line errors with exit
    code 2, never a traceback."""
    name, _, extra = command.partition(" --")
    argv = good_command_lines()[name] + (["--" + extra.split()[0], extra.split()[1]] if extra else [])
    code, out, err = ft.run_cli(argv)
    assert code == 0, err
    nul = ft._scratch() / "nul.yml"
    nul.write_bytes(b"name: x\x00\n")
    for value in ("n" * 3000, str(nul)) if reads else ("n" * 3000,):
        code, out, err = ft.run_cli([*argv, option, value])
        assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err[-400:]


@pytest.mark.parametrize("raw", [{"arrays": {"x\ny": 1}}, {"x\ny": {}}, {"arrays": {"n_tx": "4\n5"}}])
def test_a_scenario_key_or_value_with_a_newline_is_named_on_one_line(raw):
    """Found by the scenario target: what the file says is quoted in the error, so a newline in a key or
    a value cannot break the one-line error in two."""
    from gnuradio.issc.errors import ScenarioError
    from gnuradio.issc.scenario import Scenario

    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(raw, source="s.yml")
    assert "\n" not in str(info.value) and str(info.value).startswith("scenario 's.yml'")
