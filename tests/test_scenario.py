# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario files: every shipped one validates, and each kind of bad file is rejected with a
message naming the file, the key and the allowed range (exit code 2 on the command line)."""

import json

import pytest
import yaml

from gnuradio.issc import ScenarioError, load_scenario, shipped_scenarios
from gnuradio.issc.scenario import Scenario

PAPER = {
    "geometry": {"tx": [0, 0], "target": [100, 50], "sensing_rx": [0, 50], "comm_rx": [20, 30]},
    "arrays": {"n_tx": 4, "n_rx": 4, "spacing_wavelengths": 0.5},
    "channel": {"path_loss_exponent": 3.0, "rcs_coefficient": 0.6, "comm_noise_dbm": -50, "sensing_noise_dbm": -50},
    "sync": {"sigma_ns": 100},
    "signal": {"bandwidth_hz": 100.0e6, "carrier_hz": 3.5e9, "blocklength": 256, "sensing_block": 1024},
}


@pytest.mark.parametrize("name", shipped_scenarios())
def test_every_shipped_scenario_validates_and_round_trips(name):
    scn = load_scenario(name)
    again = Scenario.from_dict(yaml.safe_load(scn.to_yaml()), source="round-trip")
    assert again.to_dict() == scn.to_dict()
    assert len(scn.power_sweep_dbm()) >= 1


def test_paper_scenario_has_the_papers_values():
    scn = load_scenario("paper")
    for section, values in PAPER.items():
        for key, value in values.items():
            got = getattr(getattr(scn, section), key)
            assert (list(got) if isinstance(got, tuple) else got) == value, (section, key)
    assert scn.power_sweep_dbm().tolist() == list(range(20, 41, 2))


def test_missing_keys_take_the_shared_defaults():
    assert Scenario.from_dict({}).to_dict()["arrays"] == PAPER["arrays"]
    assert Scenario.from_dict({"arrays": {"n_tx": 8}}).arrays.n_rx == 4


def test_yaml_scientific_notation_without_dot_is_accepted(tmp_path):
    path = tmp_path / "sci.yml"
    path.write_text("signal: {bandwidth_hz: 1e8}\n")  # PyYAML reads this as a string
    assert load_scenario(path).signal.bandwidth_hz == 1e8


BAD = [
    # (yaml text, key named in the message, words the message must contain)
    ("arrays: {n_tx: 0}", "arrays.n_tx", "integer in [1, 256]"),
    ("arrays: {n_tx: four}", "arrays.n_tx", "integer"),
    ("arrays: {n_tx: 2.5}", "arrays.n_tx", "integer"),
    ("arrays: {n_tx: true}", "arrays.n_tx", "integer"),
    ("arrays: {n_tx: 4, colour: red}", "arrays.colour", "unknown key"),
    ("radar: {x: 1}", "radar", "unknown section"),
    ("sync: {sigma_ns: -1}", "sync.sigma_ns", "[0, "),
    ("channel: {comm_noise_dbm: .nan}", "channel.comm_noise_dbm", "number in"),
    ("channel: {path_loss_exponent: 0}", "channel.path_loss_exponent", "[1, 8]"),
    ("signal: {blocklength: 0}", "signal.blocklength", "integer in [1,"),
    ("signal: {bandwidth_hz: -5}", "signal.bandwidth_hz", "number in"),
    ("signal: {modulation: 64qam}", "signal.modulation", "one of 'qpsk'"),
    ("geometry: {target: [0, 0]}", "geometry.target", "at least 1 m apart"),
    ("geometry: {comm_rx: [0.1, 0]}", "geometry.comm_rx", "at least 1 m apart"),
    ("geometry: {target: [0, 50.5]}", "geometry.target", "at least 1 m apart"),
    ("geometry: {tx: [1, 2, 3]}", "geometry.tx", "a point [x, y] in metres"),
    ("budget: {abr: 0}", "budget.abr", "(0, 1]"),
    ("budget: {sensing_streams: 5}", "budget.sensing_streams", "arrays.n_tx = 4"),
    ("budget: {power_sweep_dbm: {start: 40, stop: 20, step: 2}}", "budget.power_sweep_dbm", "start <= stop"),
    ("budget: {power_sweep_dbm: [20, 40, 2]}", "budget.power_sweep_dbm", "{start, stop, step}"),
    ("arrays: [1, 2]", "arrays", "must be a mapping"),
    ("name: 5", "name", "must be a string"),
]


@pytest.mark.parametrize("text,key,words", BAD, ids=[b[1] + ":" + b[0][:20] for b in BAD])
def test_bad_scenario_is_rejected_naming_file_key_and_range(tmp_path, run_cli, text, key, words):
    path = tmp_path / "bad.yml"
    path.write_text(text + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert str(path) in message and f"'{key}'" in message and words in message, message
    code, out, err_text = run_cli("scenario", "--scenario", path)
    assert code == 2 and out == ""
    assert err_text.count("\n") == 1 and "error" in err_text and key in err_text


@pytest.mark.parametrize(
    "text,words",
    [
        ("arrays: {n_tx: [4\n", "not valid YAML (line"),
        ("- 1\n- 2\n", "top level must be a mapping"),
    ],
)
def test_malformed_yaml_files(tmp_path, run_cli, text, words):
    path = tmp_path / "broken.yml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"broken\.yml") as err:
        load_scenario(path)
    assert words in str(err.value)
    assert run_cli("scenario", "--scenario", path)[0] == 2


def test_unknown_scenario_name_lists_the_shipped_ones(run_cli):
    code, _, err = run_cli("scenario", "--scenario", "no-such-scenario")
    assert code == 2 and "paper" in err and "no-such-scenario" in err
    assert run_cli("scenario", "--scenario", "/nonexistent/x.yml")[0] == 2


def test_scenario_cli_prints_the_validated_scenario(run_cli, tmp_path):
    code, out, _ = run_cli("scenario", "--scenario", "paper")
    assert code == 0
    data = json.loads(out)
    assert data["geometry"]["target"] == [100.0, 50.0] and data["budget"]["sensing_streams"] == 1
    # what it prints is itself a valid scenario file
    path = tmp_path / "copy.yml"
    path.write_text(run_cli("scenario", "--scenario", "paper", "--format", "yaml")[1])
    assert load_scenario(path).to_dict() | {"name": "paper"} == load_scenario("paper").to_dict()
    assert json.loads(run_cli("scenario", "--list")[1]) == shipped_scenarios()


def test_replace_validates():
    scn = load_scenario("paper").replace(budget={"power_dbm": 35})
    assert scn.budget.power_dbm == 35.0
    with pytest.raises(ScenarioError, match="budget.power_dbm"):
        load_scenario("paper").replace(budget={"power_dbm": 1000})


def test_docs_scenario_reference_is_current(repo_root, run_cli):
    code, out, _ = run_cli("scenario", "--reference")
    assert code == 0
    assert (repo_root / "docs" / "scenarios.md").read_text() == out, (
        "regenerate: issc scenario --reference > docs/scenarios.md"
    )


@pytest.mark.parametrize(
    "text,words",
    [
        ("budget:\n  power_dbm: 30\n  power_dbm: 40\n", "duplicate key 'power_dbm' "),
        ("budget: {power_dbm: 30}\nbudget: {abr: 0.5}\n", "duplicate key 'budget' "),
        ("budget: {power_dbm: 30, power_dbm: 30}\n", "duplicate key 'power_dbm' "),
        ("budget: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 20 levels"),
        ("budget: " + "{a: " * 30 + "1" + "}" * 30 + "\n", "nested deeper than 20 levels"),
    ],
)
def test_duplicate_keys_and_deep_nesting_are_refused(tmp_path, run_cli, text, words):
    """PyYAML keeps the last of two equal keys silently and composes nested collections recursively
    (100 000 '[' gave a RecursionError traceback): both are refused naming the file, the line, the key."""
    path = tmp_path / "strict.yml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"strict\.yml.*not valid YAML \(line") as err:
        load_scenario(path)
    assert words.strip() in str(err.value)
    code, out, err_text = run_cli("scenario", "--scenario", path)
    assert code == 2 and out == "" and err_text.count("\n") == 1 and "strict.yml" in err_text
    assert "Traceback" not in err_text


def test_a_merge_key_is_not_a_duplicate(tmp_path):
    """YAML's merge key '<<' may repeat keys by design (an explicit key overrides the merged one)."""
    path = tmp_path / "merge.yml"
    path.write_text("budget:\n  power_dbm: 33\n  <<: {power_dbm: 20, abr: 0.5}\n")
    scenario = load_scenario(path)
    assert scenario.budget.power_dbm == 33.0 and scenario.budget.abr == 0.5


def test_files_that_are_not_scenario_files(tmp_path, run_cli):
    """A folder, a device, a 2 MB file and binary bytes: clean refusals naming the file, read boundedly."""
    big = tmp_path / "big.yml"
    big.write_text("# " + "x" * (2 << 20) + "\n")
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\x00\xff\xfe binary")
    for path, words in (
        (tmp_path, "not a regular file"),
        ("/dev/zero", "not a regular file"),
        (big, "larger than"),
        (binary, "cannot read"),
    ):
        with pytest.raises(ScenarioError, match=words):
            load_scenario(path)
        code, out, err = run_cli("scenario", "--scenario", path)
        assert code == 2 and out == "" and str(path) in err and err.count("\n") == 1


def test_huge_values_give_the_key_and_a_short_message(tmp_path):
    """A 10^40 integer, 1e999 and a 10 000-element list: the key named, the value cut short."""
    path = tmp_path / "huge.yml"
    for text, key in (
        ("arrays: {n_tx: " + "9" * 40 + "}\n", "arrays.n_tx"),
        ("budget: {power_dbm: 1e999}\n", "budget.power_dbm"),
        ("description: [" + ", ".join(["1"] * 10000) + "]\n", "description"),
    ):
        path.write_text(text)
        with pytest.raises(ScenarioError, match=key) as err:
            load_scenario(path)
        assert len(str(err.value)) < 300


def test_yaml_reader_errors_are_one_line(tmp_path, run_cli):
    """A NUL byte is a YAML reader error whose text spans two lines: the message is still one line."""
    path = tmp_path / "nul.yml"
    path.write_bytes(b"budget: {power_dbm: 30}\x00\n")
    with pytest.raises(ScenarioError, match="not valid YAML") as err:
        load_scenario(path)
    assert "\n" not in str(err.value)
    code, out, err_text = run_cli("scenario", "--scenario", path)
    assert code == 2 and out == "" and err_text.count("\n") == 1 and "nul.yml" in err_text
