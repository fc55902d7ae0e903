# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped DJSCC benchmark models: complete (three ABRs x three training SNRs of AE models the link
picks, plus the VSCC paper's set, tests/djscc/test_vscc_models.py), intact (sha256), compact, exact in rate
and power on a full-size image, and their recorded held-out scores reproducible."""

import hashlib

import numpy as np
import pytest

from gnuradio.issc.codec.images import load_rgb, shipped_images
from gnuradio.issc.djscc.codec import DjsccCodec, evaluate_awgn
from gnuradio.issc.djscc.models import DATA_DIR, load_manifest

MODELS = load_manifest(DATA_DIR)


def test_every_abr_and_snr_is_shipped_intact_and_compact():
    benchmark = {(round(1 / m.abr), m.snr_db) for m in MODELS if m.loss == "ae" and m.link}
    assert benchmark == {(a, s) for a in (48, 32, 16) for s in (0.0, 10.0, 20.0)}
    total = 0
    for m in MODELS:
        data = (DATA_DIR / m.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == m.sha256, m.id
        total += len(data)
    assert total < 1.4e6 * len(MODELS)  # fp16: about 1.3 MB a model


@pytest.mark.parametrize("info", MODELS, ids=[m.id for m in MODELS])
def test_rate_and_power_are_exact_on_a_held_out_image(info):
    image = load_rgb(shipped_images()[0])
    codec = DjsccCodec(info, DATA_DIR)
    symbols = codec.encode(image)
    assert symbols.size == pytest.approx(info.abr * image.size, abs=1e-9)
    assert np.mean(np.abs(symbols.astype(np.complex128)) ** 2) == pytest.approx(1.0, abs=1e-6)
    assert codec.decode(symbols, *image.shape[:2]).shape == image.shape


def test_recorded_held_out_score_reproduces():
    import yaml

    manifest = yaml.safe_load((DATA_DIR / "manifest.yml").read_text())
    entry = next(e for e in manifest["models"] if e["id"] == "ae-abr16-snr20")
    images = [load_rgb(p) for p in shipped_images()]
    row = evaluate_awgn(DjsccCodec.load("ae-abr16-snr20", DATA_DIR), images, [20.0])[0]
    assert row["psnr"] == pytest.approx(entry["held_out"]["snr20"]["psnr"], abs=2e-3)
