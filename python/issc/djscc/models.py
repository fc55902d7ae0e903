# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DJSCC network, its power normalisation and its shipped weights.

Geometry: two stride-2 convolutions, so an ``H x W`` image gives ``c`` real feature maps of
``H/4 x W/4``, i.e. ``c H W / 32`` complex symbols; the bandwidth ratio over the ``3 H W`` source
dimensions is ``ABR = c / 96`` (``c = 2, 3, 6`` for ABR 1/48, 1/32, 1/16).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import IsscInputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "djscc"
DOWNSAMPLE = 4  # two stride-2 layers
REAL_PER_SYMBOL = 2
SOURCE_CHANNELS = 3
LOSSES = ("ae", "vae", "vscc")


def channels_for_abr(abr: float) -> int:
    """Latent channels ``c`` that give the bandwidth ratio ``abr`` (``c = 96 abr``, an integer)."""
    c = abr * DOWNSAMPLE**2 * REAL_PER_SYMBOL * SOURCE_CHANNELS
    if not np.isfinite(c) or c < 1 or abs(c - round(c)) > 1e-6:
        raise IsscInputError(
            f"ABR {abr_label(abr)} is not c/96 for a whole number c of latent channels (1/48, 1/32, 1/16 are)"
        )
    return int(round(c))


def abr_label(abr: float) -> str:
    return str(Fraction(abr).limit_denominator(1000))


def symbols_for_image(height: int, width: int, channels: int) -> int:
    """Complex channel symbols for one image."""
    if height % DOWNSAMPLE or width % DOWNSAMPLE:
        raise IsscInputError(f"image size {height}x{width} is not a multiple of {DOWNSAMPLE}")
    real = channels * (height // DOWNSAMPLE) * (width // DOWNSAMPLE)
    if real % REAL_PER_SYMBOL:
        raise IsscInputError(f"{real} real latent values do not pair into complex symbols")
    return real // REAL_PER_SYMBOL


def _conv(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 5, stride, 2), nn.PReLU(cout))


def _deconv(cin, cout, stride):
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 5, stride, 2, output_padding=stride - 1), nn.PReLU(cout))


class DeepJSCC(nn.Module):
    """Conv encoder/decoder; the encoder also predicts a log-variance (used by the VAE/VSCC losses).

    Args:
        channels: latent channels ``c`` (see :func:`channels_for_abr`).
        filters: width of the hidden layers.
    """

    def __init__(self, channels: int, filters: int = 48):
        super().__init__()
        self.channels = channels
        self.encoder = nn.Sequential(
            _conv(3, filters, 2), _conv(filters, filters, 2), _conv(filters, filters, 1), _conv(filters, filters, 1)
        )
        self.mean_head = nn.Conv2d(filters, channels, 5, 1, 2)
        self.logvar_head = nn.Conv2d(filters, channels, 5, 1, 2)
        self.decoder = nn.Sequential(
            _deconv(channels, filters, 1),
            _deconv(filters, filters, 1),
            _deconv(filters, filters, 1),
            _deconv(filters, filters, 2),
            nn.ConvTranspose2d(filters, 3, 5, 2, 2, output_padding=1),
            nn.Sigmoid(),
        )
        # the knowledge-base variance the receiver resamples with (VSCC test approach 2); 0 for AE
        self.register_buffer("kb_variance", torch.zeros(()))

    def encode(self, x: torch.Tensor):
        """Images ``(B,3,H,W)`` in [0,1] -> power-normalised mean and the log-variance."""
        features = self.encoder(x)
        mean = self.mean_head(features)
        # the variance is predicted in the units of the normalised symbols (it is never transmitted)
        logvar = self.logvar_head(features).clamp(-20.0, 5.0)
        return mean * power_scale(mean), logvar

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)


def power_scale(latent: torch.Tensor) -> torch.Tensor:
    """Per-image factor that gives unit average power per complex symbol (1/2 per real value)."""
    per_image = latent.flatten(1).pow(2).mean(dim=1).clamp_min(1e-12)
    return torch.rsqrt(2 * per_image).view(-1, *([1] * (latent.dim() - 1)))


def latent_to_symbols(latent: torch.Tensor) -> np.ndarray:
    """Real latent (any shape, C order) -> complex64 symbols (pairs of consecutive values: I then Q)."""
    flat = latent.detach().reshape(-1).cpu().numpy().astype(np.float64)
    return (flat[0::2] + 1j * flat[1::2]).astype(np.complex64)


@dataclass(frozen=True)
class DjsccModelInfo:
    """One shipped DJSCC model (a manifest row)."""

    id: str
    abr: float
    snr_db: float
    loss: str
    channels: int
    filters: int
    file: str
    sha256: str
    tile: int = 64
    held_out: tuple = ()  # ((snr_db, psnr, ms_ssim), ...) on the held-out images, sorted by SNR
    cmc: float | None = None  # VSCC's channel-matching constant d (None for AE and VAE)
    link: bool = True  # whether the link's DJSCC-WF-ZF may pick it (False: a model for docs/vscc.md only)

    def predicted_quality(self, snr_db: float) -> dict:
        """PSNR and MS-SSIM expected at ``snr_db``: the held-out AWGN evaluation, linearly interpolated in
        dB between the measured SNRs and held flat above them; empty below the lowest measured SNR (no
        prediction there) or if the manifest has none."""
        if not self.held_out or not np.isfinite(snr_db) or snr_db < self.held_out[0][0]:
            return {}
        snrs, psnrs, ssims = (np.array(v, float) for v in zip(*self.held_out))
        return {
            "predicted_psnr_db": float(np.interp(snr_db, snrs, psnrs)),
            "predicted_ms_ssim": float(np.interp(snr_db, snrs, ssims)),
        }


def save_fp16(model: DeepJSCC, path: str | Path) -> str:
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(state, path)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return digest


def load_model(path: str | Path, channels: int, filters: int) -> DeepJSCC:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = DeepJSCC(channels, filters)
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    model.eval()
    return model


def load_manifest(directory: str | Path = DATA_DIR) -> list[DjsccModelInfo]:
    import yaml

    path = Path(directory) / "manifest.yml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise IsscInputError(f"no DJSCC manifest in '{directory}'") from None
    rows = []
    for entry in data.get("models", []) if isinstance(data, dict) else []:
        try:
            held_out = tuple(
                sorted(
                    (float(key[3:]), float(v["psnr"]), float(v["ms_ssim"]))
                    for key, v in (entry.get("held_out") or {}).items()
                    if key.startswith("snr")
                )
            )
            rows.append(
                DjsccModelInfo(
                    str(entry["id"]),
                    float(entry["abr"]),
                    float(entry["snr_db"]),
                    str(entry["loss"]),
                    int(entry["channels"]),
                    int(entry["filters"]),
                    str(entry["file"]),
                    str(entry["sha256"]),
                    int(entry.get("patch", 64)),
                    held_out,
                    None if entry.get("cmc") is None else float(entry["cmc"]),
                    bool(entry.get("link", True)),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IsscInputError(f"{path}: bad model entry {entry!r} ({exc})") from None
    return rows


def select_model(models: list[DjsccModelInfo], abr: float, snr_db: float, loss: str | None = None) -> DjsccModelInfo:
    """The model for ``abr`` trained at the SNR closest to ``snr_db`` (the benchmark's adaptation), among
    the models the link may pick (``link``; of the VSCC ``d`` sweep only the best ``d`` per SNR is) and of
    ``loss`` unless None."""
    candidates = [m for m in models if abs(m.abr - abr) < 1e-9 and m.link and (loss is None or m.loss == loss)]
    if not candidates:
        have = sorted({abr_label(m.abr) for m in models if m.link and (loss is None or m.loss == loss)})
        raise IsscInputError(
            f"no DJSCC model for ABR {abr_label(abr)}"
            + (f" and loss {loss}" if loss else "")
            + f" (have {', '.join(have) or 'none'})"
        )
    return min(candidates, key=lambda m: (abs(m.snr_db - snr_db), m.snr_db))
