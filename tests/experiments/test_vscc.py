# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc experiment vscc`` (the VSCC paper's Figs. 7-9, docs/vscc.md) on the shipped ABR 1/16 models: the
quick run's CSV (columns, one row per point, sane values), its resampling statistics against an
independent computation through the codec's own encode/decode and the metrics module, and the resume."""

import csv
import json

import numpy as np
import pytest

from gnuradio.issc.codec.images import load_rgb, shipped_images
from gnuradio.issc.djscc.codec import DjsccCodec
from gnuradio.issc.djscc.models import DATA_DIR, load_manifest
from gnuradio.issc.experiments import vscc as exp
from gnuradio.issc.metrics import ms_ssim, psnr

REQUIRED = ("loss", "train_snr_db", "test_snr_db", "cmc", "resampling", "psnr", "ssim", "ms_ssim")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick run through the CLI: (output folder, CSV rows, printed JSON)."""
    from gnuradio.issc.cli import main

    out = tmp_path_factory.mktemp("vscc")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["experiment", "vscc", "--out", str(out), "--quick"]) == 0
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return out, rows, json.loads(buf.getvalue())


def test_quick_run_writes_every_point_with_sane_values(quick):
    """Every planned point once, the columns the issue names, min <= mean <= max, SSIM and MS-SSIM in
    [0, 1], 'none' rows one draw with min = mean = max, AE only 'none', and the three figures."""
    out, rows, printed = quick
    assert set(REQUIRED) <= set(rows[0])
    models = exp.experiment_models(DATA_DIR, exp.QUICK["train_snrs"])
    planned = exp.plan(models, exp.QUICK)
    assert len(rows) == len(planned) == printed["points"]
    assert {(r["set"], r["model"], float(r["test_snr_db"]), r["resampling"]) for r in rows} == {
        (p["set"], p["model"], p["test_snr_db"], p["resampling"]) for p in planned
    }
    assert {r["loss"] for r in rows} == {"ae", "vae", "vscc"}
    assert {r["resampling"] for r in rows} == {"none", "transmitted", "fixed"}
    assert {float(r["test_snr_db"]) for r in rows} == set(exp.QUICK["test_snrs"])
    for r in rows:
        for m in ("psnr", "ssim", "ms_ssim"):
            lo, mid, hi = (float(r[k]) for k in (f"{m}_min", m, f"{m}_max"))
            assert lo <= mid + 1e-12 and mid <= hi + 1e-12, r
            if r["resampling"] == "none":
                assert lo == mid == hi and r["resamples"] == "1"
        assert 0 <= float(r["ssim"]) <= 1 and 0 <= float(r["ms_ssim"]) <= 1 and 5 < float(r["psnr"]) < 60
        assert (r["loss"] == "vscc") == (r["cmc"] != "")
        if r["loss"] == "ae":
            assert r["resampling"] == "none"
    fig7 = [r for r in rows if r["set"] == "fig7"]
    assert fig7 and all(r["resamples"] == str(exp.QUICK["fig7_resamples"]) and r["best_cmc"] == "True" for r in fig7)
    # a model decoded through a clean channel beats the same model at -10 dB
    for model in {r["model"] for r in rows}:
        by_snr = {
            float(r["test_snr_db"]): float(r["psnr"]) for r in rows if r["model"] == model and r["set"] == "sweep"
        }
        assert by_snr[25.0] > by_snr[-10.0], model
    for k in (7, 8, 9):
        assert (out / f"fig{k}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def independent_scores(info, image, snr_db, resampling, resamples, noise_rng, sample_rng):
    """Per resample (PSNR, SSIM, MS-SSIM) of one image, draw by draw through DjsccCodec.encode/decode
    (float64 power normalisation, complex symbols, uint8 output), metrics.psnr / ms_ssim and
    scikit-image's Gaussian SSIM, in the draw order the experiment documents."""
    import torch
    from skimage.metrics import structural_similarity

    codec = DjsccCodec(info, DATA_DIR)
    symbols = codec.encode(image).astype(np.complex128)
    real = np.empty(2 * symbols.size)
    real[0::2], real[1::2] = symbols.real, symbols.imag
    real += noise_rng.standard_normal(real.size) * np.sqrt(0.5 * 10 ** (-snr_db / 10))
    if resampling == "transmitted":  # the encoder's own standard deviations, in the symbols' order
        t = info.tile
        rows, cols = image.shape[0] // t, image.shape[1] // t
        tiles = image.reshape(rows, t, cols, t, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3, t, t)
        with torch.no_grad():
            _, logvar = codec.model.encode(torch.from_numpy(np.ascontiguousarray(tiles)).float() / 255)
        spread = np.exp(0.5 * logvar.double().numpy().reshape(-1))
    else:
        spread = np.sqrt(float(codec.model.kb_variance))
    scores = []
    for _ in range(resamples):
        latent = real + spread * sample_rng.standard_normal(real.size)
        decoded = codec.decode(latent[0::2] + 1j * latent[1::2], *image.shape[:2])
        ssim = structural_similarity(
            image, decoded, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        scores.append((psnr(image, decoded), ssim, ms_ssim(image, decoded)))
    return np.array(scores)


def assert_row_matches(row, scores):
    for k, m in enumerate(("psnr", "ssim", "ms_ssim")):
        tol = 1e-4 if m == "psnr" else 5e-5  # measured: within 4e-6 (float32 against float64 normalisation)
        assert float(row[m]) == pytest.approx(scores[:, k].mean(), abs=tol), m
        assert float(row[f"{m}_min"]) == pytest.approx(scores[:, k].min(), abs=tol), m
        assert float(row[f"{m}_max"]) == pytest.approx(scores[:, k].max(), abs=tol), m


def test_quick_fig7_row_matches_an_independent_computation(quick):
    """A Fig. 7 row of the quick run (transmitted variance, 5 dB) recomputed draw by draw."""
    _, rows, _ = quick
    row = next(r for r in rows if r["set"] == "fig7" and r["resampling"] == "transmitted" and r["test_snr_db"] == "5.0")
    info = next(m for m in load_manifest(DATA_DIR) if m.id == row["model"])
    image = load_rgb(next(p for p in shipped_images() if p.stem == exp.QUICK["fig7_images"][0]))
    rngs = exp.point_rngs(0, info.id, 5.0, "transmitted")
    assert_row_matches(row, independent_scores(info, image, 5.0, "transmitted", int(row["resamples"]), *rngs))


@pytest.mark.parametrize(
    "model_id, resampling",
    [("vscc-abr16-snr15-d15", "fixed"), ("vscc-abr16-snr15-d15", "transmitted"), ("vae-abr16-snr-5", "fixed")],
)
def test_resampling_statistics_match_an_independent_computation(model_id, resampling):
    """resample_scores + summarise on models with a large knowledge-base variance (0.27 and 0.12): mean,
    minimum and maximum over 6 resamples equal the draw-by-draw computation to 1e-4 dB, while the resamples
    spread over 0.016 to 0.24 dB."""
    info = next(m for m in load_manifest(DATA_DIR) if m.id == model_id)
    path = next(p for p in shipped_images() if p.stem == "coffee_c")
    images = exp.load_images([path])
    model = DjsccCodec(info, DATA_DIR).model
    row = exp.summarise(
        exp.resample_scores(model, images, 10.0, resampling, 6, *exp.point_rngs(7, info.id, 10.0, resampling))
    )
    scores = independent_scores(
        info, load_rgb(path), 10.0, resampling, 6, *exp.point_rngs(7, info.id, 10.0, resampling)
    )
    assert_row_matches(row, scores)
    assert scores[:, 0].max() - scores[:, 0].min() > 0.005  # the resamples differ (by far more than the tolerance)


def test_rerun_resumes_from_the_journal(quick, run_cli):
    """A second run into the same folder computes nothing new (the journal keeps one row per point) and
    writes the same CSV."""
    out, _, _ = quick
    before = (out / "results.csv").read_text()
    lines = (out / "points.jsonl").read_text().count("\n")
    code, _, err = run_cli("experiment", "vscc", "--out", out, "--quick")
    assert code == 0, err
    assert (out / "points.jsonl").read_text().count("\n") == lines
    assert (out / "results.csv").read_text() == before


def test_summary_statistics_are_means_of_per_image_extremes():
    """summarise: per image mean/min/max over the resamples, then the mean over images."""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(7, 3, 3))
    row = exp.summarise(scores)
    for k, m in enumerate(exp.METRICS):
        assert row[m] == pytest.approx(np.mean([scores[:, i, k].mean() for i in range(3)]))
        assert row[f"{m}_min"] == pytest.approx(np.mean([min(scores[:, i, k]) for i in range(3)]))
        assert row[f"{m}_max"] == pytest.approx(np.mean([max(scores[:, i, k]) for i in range(3)]))


def test_a_model_directory_without_a_loss_is_named(tmp_path, run_cli):
    """A --dir whose manifest lacks the VAE and VSCC models: a one-line error naming what is missing."""
    import shutil

    import yaml

    manifest = yaml.safe_load((DATA_DIR / "manifest.yml").read_text())
    manifest["models"] = [e for e in manifest["models"] if e["loss"] == "ae" and e["snr_db"] == 5.0]
    for e in manifest["models"]:
        shutil.copy(DATA_DIR / e["file"], tmp_path / e["file"])
    (tmp_path / "manifest.yml").write_text(yaml.safe_dump(manifest))
    code, _, err = run_cli("experiment", "vscc", "--out", tmp_path / "out", "--quick", "--dir", tmp_path)
    assert code == 2 and "no vae model at ABR 1/16 trained at 5 dB" in err and "Traceback" not in err


def test_image_scores_are_the_libraries_ssim_and_ms_ssim():
    """One pass gives pytorch_msssim's SSIM and MS-SSIM (float64) and the PSNR of the MSE, per image."""
    import torch
    from pytorch_msssim import ms_ssim as lib_ms_ssim
    from pytorch_msssim import ssim as lib_ssim

    gen = torch.Generator().manual_seed(5)
    a = torch.rand(2, 3, 192, 192, generator=gen, dtype=torch.float64)
    b = (a + 0.1 * torch.randn(a.shape, generator=gen, dtype=torch.float64)).clamp(0, 1)
    got = exp.image_scores(a, b)
    assert got[:, 1] == pytest.approx(lib_ssim(a, b, data_range=1.0, size_average=False).numpy(), abs=1e-12)
    assert got[:, 2] == pytest.approx(lib_ms_ssim(a, b, data_range=1.0, size_average=False).numpy(), abs=1e-12)
    mse = ((a - b) ** 2).flatten(1).mean(1).numpy()
    assert got[:, 0] == pytest.approx(-10 * np.log10(mse), abs=1e-9)
    assert exp.image_scores(a, a)[0, 0] == np.inf
