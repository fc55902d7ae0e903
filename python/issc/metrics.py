# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image-quality and bit-error metrics shared by the codec evaluation and the link monitor.

Images are float arrays ``H x W x 3`` in [0, 1] (uint8 is accepted and scaled). MS-SSIM is
``pytorch_msssim``'s (installed with CompressAI), computed in NumPy (:func:`ms_ssim`; equal to the library,
:func:`ms_ssim_reference`, to rounding): 5 scales, 11-tap Gaussian window, data range 1. It
needs more than ``16 (win - 1)`` pixels per side, i.e. 161 for the standard window; smaller images
(tests, thumbnails) use the largest odd window that fits, down to 3 (images of at least 33 pixels).
"""

from __future__ import annotations

import functools

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


def _window_size(side: int) -> int:
    win = WIN_SIZE
    while win > 3 and side <= 16 * (win - 1):
        win -= 2
    if side <= 16 * (win - 1):
        raise ValueError(f"images of {side} pixels per side are too small for MS-SSIM (need >= 33)")
    return win


def ms_ssim(reference, test) -> float:
    """MS-SSIM of two RGB images (1 for identical images): pytorch_msssim's algorithm (5 scales, Gaussian
    window of sigma 1.5, K = (0.01, 0.03), 2 x 2 average pooling with its zero padding of odd sides) in
    NumPy float64, several times faster than the library's float64 convolutions on a CPU and equal to it to
    rounding (1e-12; tests/test_metrics.py). :func:`ms_ssim_reference` calls the library."""
    a, b = as_float_image(reference), as_float_image(test)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    win = _gauss_window(_window_size(min(a.shape[:2])))
    c1, c2 = 0.01**2, 0.03**2
    x, y = np.ascontiguousarray(a.transpose(2, 0, 1)), np.ascontiguousarray(b.transpose(2, 0, 1))
    levels = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        mu1, mu2, xx, yy, xy = _gaussian_filter(np.stack([x, y, x * x, y * y, x * y]), win)
        mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
        cs_map = (2 * (xy - mu1_mu2) + c2) / ((xx - mu1_sq) + (yy - mu2_sq) + c2)
        ssim_map = ((2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
        if level < len(MS_SSIM_WEIGHTS) - 1:
            levels.append(np.maximum(cs_map.reshape(cs_map.shape[0], -1).mean(-1), 0.0))
            x, y = _average_pool(x), _average_pool(y)
        else:
            levels.append(np.maximum(ssim_map.reshape(ssim_map.shape[0], -1).mean(-1), 0.0))
    weights = np.asarray(MS_SSIM_WEIGHTS)[:, None]
    return float(np.mean(np.prod(np.stack(levels) ** weights, axis=0)))


@functools.lru_cache(maxsize=8)
def _gauss_window(size: int, sigma: float = 1.5) -> np.ndarray:
    """pytorch_msssim's window, computed the same way (float32, then used as float64)."""
    import torch

    coords = torch.arange(size, dtype=torch.float)
    coords -= size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g /= g.sum()
    window = g.double().numpy().copy()
    window.setflags(write=False)
    return window


def _gaussian_filter(maps: np.ndarray, win: np.ndarray) -> np.ndarray:
    """'valid' correlation with ``win`` along the last two axes, rows first (an axis shorter than the window
    is left unfiltered, as pytorch_msssim does); one matrix product per axis over a sliding-window view
    (few, large NumPy calls: the monitor's worker thread then seldom waits for the GIL)."""
    from numpy.lib.stride_tricks import sliding_window_view

    for axis in (-2, -1):
        if maps.shape[axis] >= win.size:
            maps = sliding_window_view(maps, win.size, axis=axis) @ win
    return maps


def _average_pool(x: np.ndarray) -> np.ndarray:
    """2 x 2 average pooling, stride 2, a zero row/column padded on both sides of an odd side, the padding
    counted in the average (``torch.nn.functional.avg_pool2d(x, 2, padding=side % 2)``)."""
    pad = [(0, 0)] + [(s % 2, s % 2) for s in x.shape[1:]]
    if any(p for p, _ in pad):
        x = np.pad(x, pad)
    h, w = x.shape[1] // 2, x.shape[2] // 2
    x = x[:, : 2 * h, : 2 * w]
    return (((x[:, 0::2, 0::2] + x[:, 0::2, 1::2]) + x[:, 1::2, 0::2]) + x[:, 1::2, 1::2]) / 4


def ms_ssim_reference(reference, test) -> float:
    """MS-SSIM by pytorch_msssim itself (float64 tensors): the reference :func:`ms_ssim` is tested against."""
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    a, b = as_float_image(reference), as_float_image(test)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    win = _window_size(min(a.shape[:2]))
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
