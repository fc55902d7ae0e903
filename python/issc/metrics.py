# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image-quality and bit-error metrics shared by the codec evaluation and the link monitor.

Images are float arrays ``H x W x 3`` in [0, 1] (uint8 is accepted and scaled). MS-SSIM comes from
``pytorch_msssim`` (installed with CompressAI): 5 scales, 11-tap Gaussian window, data range 1. It
needs more than ``16 (win - 1)`` pixels per side, i.e. 161 for the standard window; smaller images
(tests, thumbnails) use the largest odd window that fits, down to 3 (images of at least 33 pixels).
"""

from __future__ import annotations

import numpy as np

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11


def as_float_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    return np.clip(np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def mse(reference, test) -> float:
    a, b = as_float_image(reference), as_float_image(test)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    return float(np.mean((a - b) ** 2))


def psnr(reference, test) -> float:
    """PSNR in dB for [0, 1] images (inf for identical images)."""
    error = mse(reference, test)
    return float("inf") if error == 0 else float(-10.0 * np.log10(error))


def ms_ssim(reference, test) -> float:
    """MS-SSIM of two RGB images (1 for identical images)."""
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    a, b = as_float_image(reference), as_float_image(test)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    side = min(a.shape[:2])
    win = WIN_SIZE
    while win > 3 and side <= 16 * (win - 1):
        win -= 2
    if side <= 16 * (win - 1):
        raise ValueError(f"images of {side} pixels per side are too small for MS-SSIM (need >= 33)")
    to_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None]).double()  # noqa: E731
    with torch.no_grad():
        value = _ms_ssim(to_tensor(a), to_tensor(b), data_range=1.0, win_size=win, weights=list(MS_SSIM_WEIGHTS))
    return float(value)


def bit_error_rate(sent: bytes, received: bytes) -> tuple[int, int]:
    """``(bit errors, bits compared)``; a length mismatch counts the missing bits as errors."""
    a = np.frombuffer(bytes(sent), dtype=np.uint8)
    b = np.frombuffer(bytes(received), dtype=np.uint8)
    common = min(len(a), len(b))
    errors = int(np.unpackbits(a[:common] ^ b[:common]).sum()) + 8 * abs(len(a) - len(b))
    return errors, 8 * max(len(a), len(b))
