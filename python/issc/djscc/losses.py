# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The three training losses (the VSCC paper, [VSCC] in docs/model.md), per image, averaged over the batch.

Every loss is ``reconstruction + weight * regulariser``; the reconstruction term ``-log q(x|z)`` of a
Gaussian decoder with variance ``recon_variance`` is ``sum (x - x_hat)^2 / (2 recon_variance)`` up to a
constant. Sums run over an image's pixels and latent values and are divided by the number of pixels,
so the scale does not depend on the crop size.
"""

from __future__ import annotations

import torch


def gaussian_kl(mean, var_p, var_q):
    """Elementwise ``KL(N(mean, var_p) || N(0, var_q))``."""
    return 0.5 * (torch.log(var_q / var_p) + (mean**2 + var_p) / var_q - 1.0)


def vscc_channel_matching(mean, encoder_var, noise_var, cmc):
    """Eq. 9: ``KL(N(mu1, s1^2 + s2^2) || N(0, s2^2 + d))`` elementwise."""
    return gaussian_kl(mean, encoder_var + noise_var, noise_var + cmc)


def vae_regulariser(mean, encoder_var):
    """Eq. 11's KL term ``1/2 (-log s^2 + s^2 + mu^2 - 1)`` elementwise."""
    return gaussian_kl(mean, encoder_var, torch.ones_like(encoder_var))


def reconstruction(x, x_hat, recon_variance):
    return (x - x_hat).pow(2).flatten(1).sum(dim=1) / (2 * recon_variance)


def djscc_loss(
    kind: str,
    x,
    x_hat,
    mean,
    logvar,
    noise_var: float,
    cmc: float = 1.0,
    recon_variance: float = 1e-3,
    weight: float = 1.0,
):
    """Training loss of ``kind`` (``ae`` = eq. 12 MSE, ``vae`` = eq. 11, ``vscc`` = eq. 10)."""
    pixels = x[0].numel()
    if kind == "ae":
        return (x - x_hat).pow(2).mean()
    recon = reconstruction(x, x_hat, recon_variance)
    encoder_var = logvar.exp()
    if kind == "vae":
        reg = vae_regulariser(mean, encoder_var)
    elif kind == "vscc":
        reg = vscc_channel_matching(mean, encoder_var, torch.as_tensor(noise_var, dtype=mean.dtype), cmc)
    else:
        raise ValueError(f"unknown DJSCC loss {kind!r}")
    return ((recon + weight * reg.flatten(1).sum(dim=1)) / pixels).mean()
