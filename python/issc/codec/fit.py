# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Distortion versus BER (docs/model.md §6): bit flips on the real payload and the logistic fit.

For every model, image and BER ``rho``, the payload's bits are flipped independently with probability
``rho``. The expectation is taken without wasting trials at low BER: with ``K ~ Binomial(n, rho)``
flips, ``E[D] = P(K = 0) D_0 + P(K >= 1) E[D | K >= 1]``, where ``D_0`` is the error-free distortion
and the conditional mean is estimated by Monte Carlo with ``K`` drawn from the zero-truncated binomial.
Then ``log10 D = Ds + Dc / (1 + exp(-E1 (log10 rho - E2)))`` is fitted by least squares per model and
metric (``mse``: MSE on [0, 1] pixels; ``ms_ssim``: 1 - MS-SSIM).

The same measurement profiles the standard codecs' operating points (``hevc-q10``, ``jpeg-q50``:
:class:`~gnuradio.issc.codec.standard.StandardCodec` has the learned family's ``encode_parts`` and
``decode_parts``): bits of the real HEVC or JPEG payload flipped, decoded best-effort (a rejected stream
is the mid-grey fallback). :func:`merge_profiles` puts the learned and the standard entries in one
profile (the mixed family, docs/codec.md).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit

from ..metrics import ms_ssim, mse
from .profile import METRICS, logistic_log10_distortion
from .standard import is_standard, parse_model_id

DEFAULT_BERS = tuple(10.0 ** np.arange(-7.0, -0.99, 0.5))
FLOOR = 1e-12  # distortions are floored before the log (an exact decode of a synthetic test has D = 0)


def flip_bits(payload: bytes, count: int, rng: np.random.Generator) -> bytes:
    """``payload`` with ``count`` distinct random bits flipped."""
    bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    if count:
        positions = rng.choice(bits.size, size=min(count, bits.size), replace=False)
        bits[positions] ^= 1
    return np.packbits(bits).tobytes()


def zero_truncated_binomial(n: int, p: float, rng: np.random.Generator) -> int:
    """A draw of ``K ~ Binomial(n, p)`` conditioned on ``K >= 1`` (inverse CDF on the truncated support)."""
    from scipy.stats import binom

    p0 = binom.pmf(0, n, p)
    u = rng.uniform(p0, 1.0)
    return max(1, int(binom.ppf(u, n, p)))


def distortions(reference, decoded) -> dict:
    return {"mse": mse(reference, decoded), "ms_ssim": max(0.0, 1.0 - ms_ssim(reference, decoded))}


def measure_curves(codec, images, bers=DEFAULT_BERS, repetitions: int = 8, seed: int = 0, progress=None) -> dict:
    """``{model: {"bers": [...], "mse": [...], "ms_ssim": [...], "R_s_bits": r}}`` of mean distortions."""
    from scipy.stats import binom

    rng = np.random.default_rng(seed)
    curves = {}
    for model_id in codec.model_ids:
        encoded = [codec.encode_parts(image, model_id) for image in images]
        clean = [distortions(image, codec.decode_parts(h, p)) for image, (h, p) in zip(images, encoded)]
        table = {m: [] for m in METRICS}
        for ber in bers:
            totals = {m: 0.0 for m in METRICS}
            for image, (header, payload), d0 in zip(images, encoded, clean):
                n = 8 * len(payload)
                p_none = float(binom.pmf(0, n, ber))
                flipped = {m: 0.0 for m in METRICS}
                for _ in range(repetitions):
                    count = zero_truncated_binomial(n, ber, rng)
                    decoded = codec.decode_parts(header, flip_bits(payload, count, rng))
                    for metric, value in distortions(image, decoded).items():
                        flipped[metric] += value / repetitions
                for metric in METRICS:
                    totals[metric] += (p_none * d0[metric] + (1 - p_none) * flipped[metric]) / len(images)
            for metric in METRICS:
                table[metric].append(totals[metric])
            if progress:
                progress(model_id, ber)
        curves[model_id] = {
            "bers": list(bers),
            **table,
            "R_s_bits": float(np.mean([8 * len(p) for _, p in encoded])),
            "bpp": float(np.mean([8 * len(p) / (im.shape[0] * im.shape[1]) for im, (_, p) in zip(images, encoded)])),
        }
    return curves


def fit_logistic(log10_bers, log10_distortion) -> tuple[dict, float]:
    """Least-squares fit of ``(Ds, Dc, E1, E2)``; returns the parameters and R^2."""
    x = np.asarray(log10_bers, float)
    y = np.asarray(log10_distortion, float)
    ds0, dc0 = y.min(), max(y.max() - y.min(), 1e-3)
    mid = x[np.argmin(np.abs(y - (ds0 + dc0 / 2)))]
    best = None
    for e1_start in (1.0, 2.0, 4.0):
        try:
            params, _ = curve_fit(
                logistic_log10_distortion,
                x,
                y,
                p0=[ds0, dc0, e1_start, mid],
                bounds=([-20, -20, 1e-3, -30], [5, 20, 50, 5]),
                maxfev=20000,
            )
        except RuntimeError:
            continue
        residual = np.sum((logistic_log10_distortion(x, *params) - y) ** 2)
        if best is None or residual < best[1]:
            best = (params, residual)
    if best is None:
        raise RuntimeError("logistic fit did not converge")
    params, residual = best
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - residual / total if total > 0 else 1.0
    return dict(zip(("Ds", "Dc", "E1", "E2"), map(float, params))), float(r2)


def profile_from_curves(curves: dict, lambdas: dict, image_shape, made_by: str, data: dict) -> dict:
    """The codec-profile dict (see profile.py) from measured curves."""
    models = []
    for model_id, curve in curves.items():
        fits = {}
        for metric in METRICS:
            values = np.log10(np.maximum(np.asarray(curve[metric]), FLOOR))
            params, r2 = fit_logistic(np.log10(curve["bers"]), values)
            fits[metric] = {**params, "r2": r2}
        entry = {
            "id": model_id,
            "R_s_bits": curve["R_s_bits"],
            "bpp": curve["bpp"],
            "lambda": float(lambdas.get(model_id, 0.0)),
            "fits": fits,
        }
        if is_standard(model_id):
            entry["codec"] = parse_model_id(model_id)[0]
        models.append(entry)
    models.sort(key=lambda m: m["R_s_bits"])
    return {
        "format": "issc-codec-profile/1",
        "image_shape": list(image_shape),
        "made_by": made_by,
        "data": data,
        "models": models,
    }


def plot_curves(curves: dict, profile: dict, path) -> None:
    """Fig.-2-style plot: measured points and fitted curves per model, one panel per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    fits = {m["id"]: m["fits"] for m in profile["models"]}
    grid = np.linspace(-7.2, -0.9, 200)
    for ax, metric, label in zip(axes, METRICS, ("MSE", "1 - MS-SSIM")):
        for i, (model_id, curve) in enumerate(curves.items()):
            colour = plt.cm.viridis(i / max(len(curves) - 1, 1))
            ax.plot(np.log10(curve["bers"]), np.log10(np.maximum(curve[metric], FLOOR)), "o", color=colour, ms=4)
            f = fits[model_id][metric]
            ax.plot(
                grid,
                logistic_log10_distortion(grid, f["Ds"], f["Dc"], f["E1"], f["E2"]),
                "-",
                color=colour,
                label=f"{model_id} ({curve['bpp']:.3f} bpp, R$^2$={f['r2']:.3f})",
            )
        ax.set_xlabel("log10 BER")
        ax.set_ylabel(f"log10 {label}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Distortion versus payload bit-error rate: measured (points) and fitted (lines)")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def save_figure(fig, path, dpi: int = 110) -> None:
    """``fig`` at ``path`` in the format its suffix names (PNG without one), written atomically (a killed
    run leaves the previous file or the new one, never a torn image)."""
    import io
    from pathlib import Path

    from ..files import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format=Path(path).suffix.lstrip(".").lower() or "png")
    atomic_write_bytes(path, buffer.getvalue())


def merge_profiles(parts: list, made_by: str) -> dict:
    """One profile dict with the models of every profile dict in ``parts`` (e.g. the learned family's and the
    HEVC operating points'); each part's ``made_by`` and ``data`` are kept under ``data.parts``. The image
    shapes must agree and the ids be unique; burst curves are left out."""
    from .profile import CodecProfile, ProfileError

    shapes = {tuple(p.get("image_shape", (3, 256, 256))) for p in parts}
    if len(shapes) != 1:
        raise ProfileError(f"the profiles to merge have different image shapes: {sorted(shapes)}")
    # burst curves (codec/bursts.py) are measured per profile with its own bins: not merged
    models = [{k: v for k, v in m.items() if k != "burst"} for p in parts for m in p["models"]]
    ids = [m["id"] for m in models]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ProfileError(f"the profiles to merge both have model {', '.join(duplicates)}")
    merged = {
        "format": "issc-codec-profile/1",
        "image_shape": list(shapes.pop()),
        "made_by": made_by,
        "data": {"parts": [{"made_by": p.get("made_by", ""), "data": p.get("data", {})} for p in parts]},
        "models": sorted(models, key=lambda m: m["R_s_bits"]),
    }
    CodecProfile.from_dict(merged, source="<merged>")  # what is returned must load
    return merged
