# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""metrics.ms_ssim (NumPy) against pytorch_msssim itself, and against closed forms."""

import numpy as np
import pytest

from gnuradio.issc.metrics import ms_ssim, ms_ssim_reference


@pytest.mark.parametrize("shape", [(256, 256, 3), (197, 203, 3), (162, 170, 3), (64, 64, 3), (33, 40, 3)])
def test_ms_ssim_equals_pytorch_msssim(shape):
    """Square and odd sides (the zero-padded pooling), the full 11-tap window and the reduced ones of small
    images: the NumPy MS-SSIM equals the library's float64 value to 1e-12 relative."""
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, shape), 0, 255).astype(np.uint8)
    assert ms_ssim(a, b) == pytest.approx(ms_ssim_reference(a, b), rel=1e-12, abs=0)


def test_ms_ssim_closed_forms():
    """Identical images give 1; the value is symmetric; white noise against its negative ``1 - a``
    (``sigma_xy = -sigma^2``: every contrast-structure mean is negative, clipped to 0) gives exactly 0; a
    smaller side of 32 pixels is refused."""
    rng = np.random.default_rng(3)
    a = rng.random((96, 80, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    assert ms_ssim(a, a) == 1.0
    assert ms_ssim(a, b) == pytest.approx(ms_ssim(b, a), rel=1e-14)
    assert ms_ssim(a, 1.0 - a) == 0.0
    with pytest.raises(ValueError, match="too small"):
        ms_ssim(a[:32], b[:32])
