# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped codec family: weights, manifest and profile agree, and the profile is good enough."""

import numpy as np
import pytest
import yaml

from gnuradio.issc.codec.codec import SemanticCodec
from gnuradio.issc.codec.images import load_rgb, shipped_images
from gnuradio.issc.codec.models import sha256_of
from gnuradio.issc.codec.profile import DATA_DIR, load_profile

MANIFEST = yaml.safe_load((DATA_DIR / "manifest.yml").read_text())


def test_manifest_matches_the_weights_and_the_size_budget():
    total = 0
    for entry in MANIFEST["models"]:
        path = DATA_DIR / entry["file"]
        assert sha256_of(path) == entry["sha256"], entry["id"]
        total += path.stat().st_size
    assert total <= 25 * 1024 * 1024
    assert len(MANIFEST["models"]) >= 6


def test_profile_matches_the_manifest_and_fits_well():
    profile = load_profile()
    assert sorted(m.id for m in profile.models) == sorted(e["id"] for e in MANIFEST["models"])
    lambdas = {e["id"]: e["lambda"] for e in MANIFEST["models"]}
    for model in profile.models:
        assert model.lam == pytest.approx(lambdas[model.id])
        for metric in ("mse", "ms_ssim"):
            assert model.fits[metric].r2 >= 0.98, (model.id, metric)
    rates = [m.r_s_bits for m in profile.models]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)
    assert profile.image_shape == (3, 256, 256)


def test_profile_rates_are_the_measured_payload_sizes():
    """R_s in the profile is the mean payload size of the shipped images, re-measured here."""
    codec = SemanticCodec.load()
    images = [load_rgb(p) for p in shipped_images()]
    profile = load_profile()
    for model in profile.models:
        bits = np.mean([8 * len(codec.encode_parts(im, model.id)[1]) for im in images])
        assert bits == pytest.approx(model.r_s_bits, rel=1e-9)
