# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The codec profile's burst curves: validated loading, round trip, and the measurement (codec/bursts.py)."""

import copy

import numpy as np
import pytest
import yaml

from gnuradio.issc.codec.bursts import corrupt_block, non_increasing
from gnuradio.issc.codec.profile import BURST_FORMAT, ProfileError, load_profile


def _with_bursts(profile) -> dict:
    data = profile.to_dict()
    fractions = [0.0, 0.25, 0.5, 0.75]
    data["bursts"] = {"format": BURST_FORMAT, "block_bits": 384, "fractions": fractions, "made_by": "t", "images": []}
    for model in data["models"]:
        model["burst"] = {
            "clean": {"mse": 0.004, "ms_ssim": 0.1},
            "mse": [0.2, 0.1, 0.05, 0.01],
            "ms_ssim": [0.9, 0.6, 0.3, 0.15],
        }
    return data


def test_burst_curves_load_and_round_trip(synthetic_profile, tmp_path):
    """A profile with burst curves loads, every model has its curve, and to_dict/from_dict keeps them."""
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump(_with_bursts(synthetic_profile)))
    profile = load_profile(path)
    assert profile.has_bursts and profile.bursts["block_bits"] == 384
    assert profile.models[0].burst.values["ms_ssim"] == (0.9, 0.6, 0.3, 0.15)
    path.write_text(profile.to_yaml())
    again = load_profile(path)
    assert again.models == profile.models and again.bursts == profile.bursts
    assert not synthetic_profile.has_bursts  # profiles without the key load as before


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda d: d["bursts"].update(format="issc-burst-profile/9"), "bursts.format"),
        (lambda d: d["bursts"].update(fractions=[0.1, 0.5]), "bursts.fractions"),
        (lambda d: d["bursts"].update(fractions=[0.0, 0.5, 0.5, 0.9]), "bursts.fractions"),
        (lambda d: d["bursts"].update(block_bits=0), "bursts.block_bits"),
        (lambda d: d["bursts"].update(colour="red"), "bursts.colour"),
        (lambda d: d["models"][1].pop("burst"), "models[1].burst"),
        (lambda d: d["models"][0]["burst"].update(ms_ssim=[0.9, 0.6, 0.7, 0.1]), "models[0].burst.ms_ssim"),
        (lambda d: d["models"][0]["burst"].update(mse=[0.2, 0.1]), "models[0].burst.mse"),
        (lambda d: d["models"][0]["burst"].update(ms_ssim=[1.5, 0.6, 0.3, 0.1]), "models[0].burst.ms_ssim"),
        (lambda d: d["models"][0]["burst"].update(mse=[0.2, "x", 0.1, 0.1]), "models[0].burst.mse"),
        (lambda d: d["models"][0]["burst"]["clean"].pop("mse"), "models[0].burst.clean.mse"),
        (lambda d: d["models"][0]["burst"].update(psnr=[1, 2, 3, 4]), "models[0].burst.psnr"),
        (lambda d: d.pop("bursts"), "models[0].burst"),
    ],
)
def test_bad_burst_keys_are_refused_naming_file_and_key(synthetic_profile, tmp_path, edit, key):
    """Every malformed burst entry raises ProfileError naming the file and the key."""
    data = copy.deepcopy(_with_bursts(synthetic_profile))
    edit(data)
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(path) in str(info.value) and f"'{key}'" in str(info.value)


def test_corrupt_block_and_non_increasing():
    """corrupt_block changes only the block's bits (clipped to the payload); non_increasing is the
    pool-adjacent-violators fit: non-increasing, the same mean, unchanged when already sorted."""
    rng = np.random.default_rng(1)
    payload = bytes(rng.integers(0, 256, 100, dtype=np.uint8))
    out = corrupt_block(payload, 100, 64, rng)
    diff = np.unpackbits(np.frombuffer(payload, np.uint8)) != np.unpackbits(np.frombuffer(out, np.uint8))
    assert len(out) == len(payload) and diff[100:164].any() and not diff[:100].any() and not diff[164:].any()
    assert corrupt_block(payload, 790, 64, rng)[:98] == payload[:98]  # clipped at the end
    values = np.array([0.9, 0.5, 0.7, 0.3, 0.4, 0.1])
    fitted = non_increasing(values)
    assert np.all(np.diff(fitted) <= 0) and fitted.mean() == pytest.approx(values.mean())
    assert np.array_equal(non_increasing([3.0, 2.0, 1.0]), [3.0, 2.0, 1.0])


def test_fit_bursts_command_adds_curves_to_a_profile(tiny_family, run_cli, tmp_path, synthetic_profile):
    """issc fit --bursts on a tiny family: the written profile loads with a non-increasing curve per model,
    every value at least the clean distortion; the base profile's fits are kept."""
    from gnuradio.issc.codec.images import save_rgb

    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    save_rgb(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), tmp_path / "imgs" / "a.png")
    base = synthetic_profile.to_dict()
    base["models"] = base["models"][:2]
    base["models"][0]["id"], base["models"][1]["id"] = "t1", "t2"
    (tmp_path / "base.yml").write_text(yaml.safe_dump(base))
    code, out, err = run_cli(
        "fit", "--bursts", "--base", tmp_path / "base.yml", "--images", tmp_path / "imgs", "--bins", "3",
        "--repetitions", "1", "--out", tmp_path / "p.yml", "--dir", tiny_family,
    )  # fmt: skip
    assert code == 0, err
    profile = load_profile(tmp_path / "p.yml")
    assert profile.has_bursts and profile.bursts["fractions"] == [0.0, 1 / 3, 2 / 3]
    assert "issc fit --bursts" in profile.bursts["made_by"]
    for model, raw in zip(profile.models, base["models"]):
        assert model.fits["mse"].ds == raw["fits"]["mse"]["Ds"]
        for metric, values in model.burst.values.items():
            assert all(b <= a for a, b in zip(values, values[1:])) and min(values) >= model.burst.clean[metric]
