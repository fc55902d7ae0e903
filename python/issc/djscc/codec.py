# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Using a trained DJSCC model: image -> unit-power complex symbols -> image, and its AWGN evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import IsscInputError
from ..metrics import ms_ssim, psnr
from .models import (
    DATA_DIR,
    DOWNSAMPLE,
    DjsccModelInfo,
    latent_to_symbols,
    load_manifest,
    load_model,
    symbols_for_image,
)


class DjsccCodec:
    """One DJSCC model ready to use.

    The image is coded in tiles of the training crop size (``info.tile``), each normalised to unit power
    as in training: a model trained on 64 x 64 crops learns the absolute scale of a crop's latent, and
    one normalisation over a whole 256 x 256 image rescales its regions (measured: 24.8 dB on a 64 x 64
    crop fell to 17 dB on the whole image, noise-free). Every tile has unit power, so the image does.

    Args:
        info: its manifest row.
        directory: where its weights are.
        resample_seed: seed of the receiver's resampling with the knowledge-base variance (VAE/VSCC models,
            the VSCC paper's test approach 2); None decodes the received symbols as they are.
    """

    def __init__(self, info: DjsccModelInfo, directory: str | Path = DATA_DIR, resample_seed: int | None = None):
        self.info = info
        self.model = load_model(Path(directory) / info.file, info.channels, info.filters)
        self._rng = None if resample_seed is None else torch.Generator().manual_seed(int(resample_seed))

    @classmethod
    def load(cls, model_id: str, directory: str | Path = DATA_DIR, **kwargs) -> DjsccCodec:
        for info in load_manifest(directory):
            if info.id == model_id:
                return cls(info, directory, **kwargs)
        raise IsscInputError(f"no DJSCC model '{model_id}' in '{directory}'")

    def symbols_per_image(self, height: int, width: int) -> int:
        self._tiles(height, width)
        return symbols_for_image(height, width, self.info.channels)

    def _tiles(self, height: int, width: int) -> tuple[int, int]:
        t = self.info.tile
        if height % t or width % t or height < 1 or width < 1:
            raise IsscInputError(f"image size {height}x{width} is not a multiple of the model's {t}x{t} tiles")
        return height // t, width // t

    def encode(self, image: np.ndarray) -> np.ndarray:
        """``H x W x 3`` uint8 -> complex64 symbols (tile by tile, row-major), each tile's mean power exactly 1
        (up to float rounding)."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise IsscInputError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
        rows, cols = self._tiles(*image.shape[:2])
        t = self.info.tile
        tiles = image.reshape(rows, t, cols, t, 3).transpose(0, 2, 4, 1, 3).reshape(rows * cols, 3, t, t)
        x = torch.from_numpy(np.ascontiguousarray(tiles)).float() / 255.0
        with torch.inference_mode():
            mean, _ = self.model.encode(x)
        symbols = latent_to_symbols(mean).astype(np.complex128).reshape(rows * cols, -1)
        symbols /= np.sqrt(np.mean(np.abs(symbols) ** 2, axis=1, keepdims=True))  # exact in float64
        return symbols.reshape(-1).astype(np.complex64)

    def decode(self, symbols: np.ndarray, height: int, width: int) -> np.ndarray:
        """Received (equalised) symbols -> ``H x W x 3`` uint8; non-finite symbols count as 0, so any input
        gives an image."""
        rows, cols = self._tiles(height, width)
        expected = symbols_for_image(height, width, self.info.channels)
        symbols = np.asarray(symbols, np.complex128).reshape(-1)
        if symbols.size != expected:
            raise IsscInputError(
                f"{symbols.size} symbols for a {height}x{width} image at c={self.info.channels}, expected {expected}"
            )
        real = np.empty(2 * expected, np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            real[0::2], real[1::2] = np.clip(symbols.real, -1e3, 1e3), np.clip(symbols.imag, -1e3, 1e3)
        real = np.nan_to_num(real, nan=0.0)
        side = self.info.tile // DOWNSAMPLE
        latent = torch.from_numpy(real).view(rows * cols, self.info.channels, side, side)
        if self._rng is not None and float(self.model.kb_variance) > 0:
            latent = latent + torch.randn(latent.shape, generator=self._rng) * float(self.model.kb_variance) ** 0.5
        with torch.inference_mode():
            x_hat = self.model.decode(latent)
        out = torch.nan_to_num(x_hat, nan=0.5).clamp(0, 1).mul(255).round().byte().numpy()
        t = self.info.tile
        return out.reshape(rows, cols, 3, t, t).transpose(0, 3, 1, 4, 2).reshape(height, width, 3)


class DjsccFamily:
    """The DJSCC models of one directory (its ``manifest.yml``), loaded on first use.

    Args:
        directory: model directory (None or '' for the shipped models).
    """

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else DATA_DIR
        self.models = load_manifest(self.directory)
        if not self.models:
            raise IsscInputError(f"DJSCC manifest in '{self.directory}' lists no models")
        self.model_ids = [m.id for m in self.models]
        self._codecs: dict[str, DjsccCodec] = {}

    def info(self, model_id: str) -> DjsccModelInfo:
        if model_id not in self.model_ids:
            raise IsscInputError(f"DJSCC model '{model_id}' is not in '{self.directory}' ({', '.join(self.model_ids)})")
        return self.models[self.model_ids.index(model_id)]

    def index(self, model_id: str) -> int:
        self.info(model_id)
        return self.model_ids.index(model_id)

    def codec(self, model_id: str) -> DjsccCodec:
        if model_id not in self._codecs:
            self._codecs[model_id] = DjsccCodec(self.info(model_id), self.directory)
        return self._codecs[model_id]


def awgn(symbols: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power symbols through AWGN at ``snr_db``."""
    scale = np.sqrt(0.5 * 10 ** (-snr_db / 10))
    return symbols + scale * (rng.standard_normal(symbols.shape) + 1j * rng.standard_normal(symbols.shape))


def evaluate_awgn(codec: DjsccCodec, images: list[np.ndarray], snrs_db, seed: int = 0) -> list[dict]:
    """Mean PSNR and MS-SSIM over ``images`` after AWGN at each SNR (the noise of each SNR is seeded by
    ``seed`` and the SNR alone, so one SNR's result does not depend on the others asked for)."""
    rows = []
    for snr in snrs_db:
        rng = np.random.default_rng([seed, abs(int(round(snr * 1000))), int(snr < 0)])
        scores = []
        for image in images:
            received = awgn(codec.encode(image), snr, rng)
            decoded = codec.decode(received, image.shape[0], image.shape[1])
            scores.append((psnr(image, decoded), ms_ssim(image, decoded)))
        rows.append(
            {
                "snr_db": float(snr),
                "psnr": float(np.mean([s[0] for s in scores])),
                "ms_ssim": float(np.mean([s[1] for s in scores])),
            }
        )
    return rows
