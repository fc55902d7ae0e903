# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Codec profiles: the logistic model of docs/model.md eq. 7, round trips, and validation errors that
name the file and the key."""

import numpy as np
import pytest
import yaml

from gnuradio.issc.codec.profile import CodecProfile, ProfileError, load_profile, logistic_log10_distortion


def test_logistic_matches_the_formula_and_its_limits():
    x = np.linspace(-12, 0, 50)
    direct = -2.5 + 1.7 / (1 + np.exp(-2.2 * (x + 4.0)))
    np.testing.assert_allclose(logistic_log10_distortion(x, -2.5, 1.7, 2.2, -4.0), direct, rtol=1e-12)
    # no overflow warning at absurdly small BERs: the error-free distortion Ds
    with np.errstate(over="raise"):
        assert logistic_log10_distortion(-400.0, -2.5, 1.7, 2.2, -4.0) == pytest.approx(-2.5)


def test_profile_round_trip(synthetic_profile, tmp_path):
    path = tmp_path / "p.yml"
    path.write_text(synthetic_profile.to_yaml())
    again = load_profile(path)
    assert again.to_dict() == synthetic_profile.to_dict()
    assert [m.id for m in again.models] == sorted((m.id for m in again.models), key=lambda i: again.model(i).r_s_bits)
    assert again.metrics == ("mse", "ms_ssim") and again.source_dimensions == 3 * 256 * 256


@pytest.mark.parametrize(
    "mutate,key",
    [
        (lambda d: d.update(format="v0"), "format"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.update(image_shape=[3, 256]), "image_shape"),
        (lambda d: d.update(models=[]), "models"),
        (lambda d: d["models"][1].update(id=d["models"][0]["id"]), "models[1].id"),
        (lambda d: d["models"][2].update(R_s_bits=-5), "models[2].R_s_bits"),
        (lambda d: d["models"][1]["fits"].update(psnr={}), "models[1].fits.psnr"),
        (lambda d: d["models"][1]["fits"]["mse"].pop("E1"), "models[1].fits.mse"),
        (lambda d: d["models"][1]["fits"]["mse"].update(Dc=float("nan")), "models[1].fits.mse.Dc"),
    ],
)
def test_bad_profiles_name_the_file_and_key(synthetic_profile, tmp_path, mutate, key):
    data = synthetic_profile.to_dict()
    mutate(data)
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert "bad.yml" in str(err.value) and f"'{key}'" in str(err.value)


def test_unreadable_profiles(tmp_path):
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "missing.yml")
    (tmp_path / "x.yml").write_text("models: [\n")
    with pytest.raises(ProfileError, match="x.yml"):
        load_profile(tmp_path / "x.yml")
    with pytest.raises(ProfileError):
        CodecProfile.from_dict([1, 2])
