# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DJSCC benchmark's network and losses: exact power constraint, a decoder that is finite for any
input, the three losses against direct evaluations of the VSCC paper's eq. 10-12, [VSCC] in docs/model.md, and training
that writes loadable fp16 weights and resumes."""

import math

import numpy as np
import pytest
import torch

from gnuradio.issc.djscc.codec import DjsccCodec, awgn, evaluate_awgn
from gnuradio.issc.djscc.losses import djscc_loss, gaussian_kl
from gnuradio.issc.djscc.models import channels_for_abr, load_manifest, select_model, symbols_for_image
from gnuradio.issc.djscc.train import train_djscc
from gnuradio.issc.errors import IsscInputError


@pytest.fixture(scope="module")
def tiny_djscc(tmp_path_factory):
    """Two tiny models (8 filters, a few steps) trained like the shipped ones on procedural images."""
    from gnuradio.issc.codec.images import procedural_image, save_rgb

    root = tmp_path_factory.mktemp("djscc")
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    for i in range(4):
        save_rgb(procedural_image(rng, 64), root / "images" / f"p{i}.png")
    train_djscc(
        root / "images",
        root / "out",
        abrs=(1 / 16,),
        snrs_db=(0.0, 10.0),
        loss="vscc",
        patch=32,
        steps=3,
        base_steps=4,
        batch=2,
        filters=8,
    )
    return root / "out"


@pytest.mark.parametrize("abr, channels", [(1 / 48, 2), (1 / 32, 3), (1 / 16, 6)])
def test_latent_channels_give_the_bandwidth_ratio(abr, channels):
    assert channels_for_abr(abr) == channels
    # complex symbols per image over the 3HW real source dimensions
    assert symbols_for_image(256, 256, channels) / (3 * 256 * 256) == pytest.approx(abr)


def test_abr_that_is_not_whole_channels_is_rejected():
    with pytest.raises(IsscInputError, match="1/40"):
        channels_for_abr(1 / 40)


def test_encoder_meets_the_power_constraint_exactly(tiny_djscc):
    codec = DjsccCodec(load_manifest(tiny_djscc)[0], tiny_djscc)
    rng = np.random.default_rng(1)
    for size in (32, 64, 96):
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        symbols = codec.encode(image)
        assert symbols.dtype == np.complex64 and symbols.size == symbols_for_image(size, size, 6)
        assert np.mean(np.abs(symbols.astype(np.complex128)) ** 2) == pytest.approx(1.0, abs=1e-6)
    flat = np.zeros((64, 64, 3), np.uint8)  # a constant image too
    assert np.mean(np.abs(codec.encode(flat).astype(np.complex128)) ** 2) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("bad", ["nan", "inf", "huge", "zeros", "noise"])
def test_decoder_is_finite_for_any_input(tiny_djscc, bad):
    codec = DjsccCodec(load_manifest(tiny_djscc)[0], tiny_djscc, resample_seed=0)
    n = codec.symbols_per_image(64, 64)
    rng = np.random.default_rng(2)
    symbols = {
        "nan": np.full(n, np.nan + 1j * np.nan),
        "inf": np.full(n, np.inf - 1j * np.inf),
        "huge": np.full(n, 1e30 + 0j),
        "zeros": np.zeros(n, complex),
        "noise": 100 * (rng.standard_normal(n) + 1j * rng.standard_normal(n)),
    }[bad]
    image = codec.decode(symbols, 64, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_decoder_names_a_wrong_symbol_count(tiny_djscc):
    codec = DjsccCodec(load_manifest(tiny_djscc)[0], tiny_djscc)
    with pytest.raises(IsscInputError, match="symbols"):
        codec.decode(np.zeros(10, complex), 64, 64)


def _direct_eq10(x, x_hat, mu, var1, var2, d, recon_var):
    """Eq. 10 for one image, element by element with plain floats, divided by the pixel count."""
    kl = sum(
        0.5 * (math.log((var2 + d) / (v1 + var2)) + (m * m + v1 + var2) / (var2 + d) - 1) for m, v1 in zip(mu, var1)
    )
    recon = sum((a - b) ** 2 for a, b in zip(x, x_hat)) / (2 * recon_var)
    return (kl + recon) / len(x)


def test_vscc_loss_is_eq10_on_known_gaussians():
    rng = np.random.default_rng(3)
    x, x_hat = rng.random((2, 3, 4, 4)), rng.random((2, 3, 4, 4))
    mu, logvar = rng.standard_normal((2, 2, 2, 2)), rng.standard_normal((2, 2, 2, 2)) - 1
    var2, d, recon_var = 0.05, 0.7, 1e-2
    got = djscc_loss(
        "vscc", *(torch.tensor(a) for a in (x, x_hat, mu, logvar)), noise_var=var2, cmc=d, recon_variance=recon_var
    )
    expected = np.mean(
        [
            _direct_eq10(x[i].ravel(), x_hat[i].ravel(), mu[i].ravel(), np.exp(logvar[i]).ravel(), var2, d, recon_var)
            for i in range(2)
        ]
    )
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_vae_and_ae_losses_are_eq11_and_eq12():
    rng = np.random.default_rng(4)
    x, x_hat = rng.random((1, 3, 4, 4)), rng.random((1, 3, 4, 4))
    mu, logvar = rng.standard_normal((1, 2, 2, 2)), rng.standard_normal((1, 2, 2, 2))
    t = [torch.tensor(a) for a in (x, x_hat, mu, logvar)]
    var = np.exp(logvar.ravel())
    kl = sum(0.5 * (-math.log(v) + v + m * m - 1) for m, v in zip(mu.ravel(), var))
    recon = float(np.sum((x - x_hat) ** 2)) / (2 * 1e-3)
    assert float(djscc_loss("vae", *t, noise_var=0.1)) == pytest.approx((kl + recon) / x.size, rel=1e-12)
    assert float(djscc_loss("ae", *t, noise_var=0.1)) == pytest.approx(float(np.mean((x - x_hat) ** 2)), rel=1e-12)


def test_gaussian_kl_matches_monte_carlo():
    """KL(N(m, p) || N(0, q)) = E_p[log p(z) - log q(z)], estimated from 400 000 draws."""
    rng = np.random.default_rng(5)
    m, p, q = 0.8, 0.3, 1.7
    z = m + math.sqrt(p) * rng.standard_normal(400_000)
    log_ratio = (-0.5 * np.log(2 * np.pi * p) - (z - m) ** 2 / (2 * p)) - (
        -0.5 * np.log(2 * np.pi * q) - z**2 / (2 * q)
    )
    closed = float(gaussian_kl(torch.tensor(m), torch.tensor(p), torch.tensor(q)))
    assert closed == pytest.approx(np.mean(log_ratio), abs=4 * np.std(log_ratio) / math.sqrt(z.size))


def test_training_writes_a_manifest_and_resumes(tiny_djscc):
    models = load_manifest(tiny_djscc)
    assert [m.id for m in models] == ["vscc-abr16-snr0", "vscc-abr16-snr10"]
    assert all(m.channels == 6 and m.loss == "vscc" for m in models)
    assert select_model(models, 1 / 16, 7.0).snr_db == 10.0 and select_model(models, 1 / 16, 4.0).snr_db == 0.0
    with pytest.raises(IsscInputError, match="no DJSCC model for ABR 1/48"):
        select_model(models, 1 / 48, 0.0)
    before = (tiny_djscc / "vscc-abr16-snr0.pt").read_bytes()
    # every checkpoint is complete: a rerun trains nothing and writes the same weights
    train_djscc(
        tiny_djscc.parent / "images",
        tiny_djscc,
        abrs=(1 / 16,),
        snrs_db=(0.0, 10.0),
        loss="vscc",
        patch=32,
        steps=3,
        base_steps=4,
        batch=2,
        filters=8,
    )
    assert (tiny_djscc / "vscc-abr16-snr0.pt").read_bytes() == before


def test_awgn_evaluation_degrades_with_noise(tiny_djscc):
    codec = DjsccCodec(load_manifest(tiny_djscc)[1], tiny_djscc)
    rng = np.random.default_rng(6)
    symbols = codec.encode(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    noisy = awgn(symbols.astype(np.complex128), 0.0, np.random.default_rng(0))
    assert np.mean(np.abs(noisy - symbols) ** 2) == pytest.approx(1.0, rel=0.2)  # SNR 0 dB
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rows = evaluate_awgn(codec, [image], [-10.0, 30.0])
    assert all(np.isfinite(r["psnr"]) for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--abrs", "1/40"], "ABR 1/40 is not c/96"),
        (["--abrs", "2"], "ABRs must be in"),
        (["--snrs", "ten"], "comma-separated numbers"),
        (["--loss", "gan"], "invalid choice"),
    ],
)
def test_train_djscc_rejects_bad_arguments_with_exit_2(tmp_path, capsys, args, message):
    from gnuradio.issc.cli.main import main

    try:
        code = main(["train-djscc", "--images", str(tmp_path), "--out", str(tmp_path / "out"), *args])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_djscc_info_lists_a_model_directory(tiny_djscc, capsys):
    import json

    from gnuradio.issc.cli.main import main

    assert main(["djscc", "info", "--dir", str(tiny_djscc)]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [(m["abr"], m["snr_db"], m["loss"]) for m in listed] == [("1/16", 0.0, "vscc"), ("1/16", 10.0, "vscc")]


def test_tiles_are_coded_independently_as_in_training(tiny_djscc):
    """A 64 x 96 image in 32 x 32 tiles: each tile of the noise-free decode equals the network applied
    to that tile alone (the crop size it was trained on); a size off the tile grid is named."""
    codec = DjsccCodec(load_manifest(tiny_djscc)[1], tiny_djscc)
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    decoded = codec.decode(codec.encode(image), 64, 96)
    t = codec.info.tile
    for r in range(2):
        for q in range(3):
            tile = image[r * t : (r + 1) * t, q * t : (q + 1) * t]
            x = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None].float() / 255
            with torch.no_grad():
                mean, _ = codec.model.encode(x)
                alone = codec.model.decode(mean)[0].permute(1, 2, 0).mul(255).round().byte().numpy()
            got = decoded[r * t : (r + 1) * t, q * t : (q + 1) * t].astype(int)
            assert np.max(np.abs(got - alone.astype(int))) <= 1  # float32 rounding at .5
    with pytest.raises(IsscInputError, match="multiple of the model's 32x32 tiles"):
        codec.encode(image[:48])
