# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Classification error versus BER from real bit flips of real bitstreams, and its logistic fit.

Measurement (as the data users' ``codec/fit.py``): every held-out image is encoded to its real payload;
at each BER ``rho`` each payload bit flips independently with probability ``rho``. The expected error is
taken without wasting trials at low BER: with ``K ~ Binomial(n, rho)`` flips of an ``n``-bit payload,
``E[D] = P(K = 0) D_0 + P(K >= 1) E[D | K >= 1]`` per image, with ``D_0`` the error-free 0/1 error and
the conditional mean estimated by ``repetitions`` decodes with ``K`` drawn from the zero-truncated
binomial and that many distinct bits flipped (:func:`~gnuradio.issc.codec.fit.flip_bits`).

Fit (docs/semantic.md): ``D = d_s + d_c / (1 + exp(-a1 (log10 rho - a0)))`` with ``d_s`` the measured
error-free error rate (as the model's source distortion is defined: measured without channel errors)
and ``d_c, a1, a0`` by least squares. The data users' ``codec.fit.fit_logistic`` fits all four
parameters of the same function to log10 distortions, so it is not reused for the fit itself.

:func:`simulate_error` is the independent check: plain Bernoulli flips of every bit, no conditioning.
"""

from __future__ import annotations

import io

import numpy as np
from scipy.optimize import curve_fit
from scipy.stats import binom

from ..codec.fit import flip_bits
from ..files import atomic_write_bytes
from .profile import FORMAT, semantic_distortion

DEFAULT_BERS = tuple(float(10.0**e) for e in np.arange(-5.0, -0.49, 0.25))
DEFAULT_REPETITIONS = 16


def zero_truncated_binomial(n, p: float, rng: np.random.Generator) -> np.ndarray:
    """Draws of ``K ~ Binomial(n_i, p)`` conditioned on ``K >= 1``, one per entry of ``n``.

    The inverse-CDF method of ``codec.fit.zero_truncated_binomial`` on arrays: that one draws one value
    per call (about a millisecond each in SciPy), and a fit needs hundreds of thousands.
    """
    n = np.asarray(n, dtype=np.int64)
    p0 = binom.pmf(0, n, p)
    u = rng.uniform(p0, 1.0)
    return np.maximum(1, binom.ppf(u, n, p)).astype(np.int64)


def encode_split(family, model_id: str, images) -> tuple[list, list]:
    """``(headers, payloads)`` of the images, encoded in batches."""
    headers, payloads = [], []
    for start in range(0, len(images), 512):
        for header, payload in family.encode_batch(images[start : start + 512], model_id):
            headers.append(header)
            payloads.append(payload)
    return headers, payloads


def _classify(family, model_id, headers, payloads) -> np.ndarray:
    out = []
    for start in range(0, len(headers), 512):
        out.append(family.classify_parts(headers[start : start + 512], payloads[start : start + 512]))
    return np.concatenate(out)


def measure_curve(family, model_id, images, labels, bers=DEFAULT_BERS, repetitions=DEFAULT_REPETITIONS, seed=0):
    """``{"bers", "error", "d_s", "R_s_bits", "bpp"}`` of one model on labelled images."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, sum(map(ord, model_id))])
    headers, payloads = encode_split(family, model_id, images)
    wrong0 = (_classify(family, model_id, headers, payloads) != labels).astype(float)
    sizes = np.array([8 * len(p) for p in payloads])
    errors = []
    for ber in bers:
        p_none = binom.pmf(0, sizes, ber)
        flipped = np.zeros(len(labels))
        for _ in range(repetitions):
            counts = zero_truncated_binomial(sizes, ber, rng)
            corrupted = [flip_bits(p, int(k), rng) for p, k in zip(payloads, counts)]
            flipped += (_classify(family, model_id, headers, corrupted) != labels) / repetitions
        errors.append(float(np.mean(p_none * wrong0 + (1 - p_none) * flipped)))
    height, width = np.asarray(images).shape[-2:]
    return {
        "bers": [float(b) for b in bers],
        "error": errors,
        "d_s": float(wrong0.mean()),
        "R_s_bits": float(sizes.mean()),
        "bpp": float(sizes.mean() / (height * width)),
    }


def flip_independently(payload: bytes, ber: float, rng: np.random.Generator) -> bytes:
    """``payload`` with every bit flipped independently with probability ``ber``."""
    bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    bits ^= (rng.random(bits.size) < ber).astype(np.uint8)
    return np.packbits(bits).tobytes()


def simulate_error(family, model_id, images, labels, ber: float, repetitions: int = 4, seed: int = 1) -> float:
    """Classification error at ``ber`` by plain Monte Carlo: every bit of every payload flipped
    independently with probability ``ber``, ``repetitions`` times, decoded and classified."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    headers, payloads = encode_split(family, model_id, images)
    wrong = 0.0
    for _ in range(repetitions):
        corrupted = [flip_independently(p, ber, rng) for p in payloads] if ber > 0 else payloads
        wrong += float(np.mean(_classify(family, model_id, headers, corrupted) != labels))
    return wrong / repetitions


def fit_semantic_logistic(log10_bers, errors, d_s: float) -> dict:
    """Least-squares ``(d_c, a1, a0)`` with ``d_s`` fixed; also the residuals (RMS, max) and R^2."""
    x = np.asarray(log10_bers, float)
    y = np.asarray(errors, float)
    dc0 = max(float(y.max()) - d_s, 1e-3)
    mid = float(x[np.argmin(np.abs(y - (d_s + dc0 / 2)))])

    def model(xx, d_c, a1, a0):
        return semantic_distortion(xx, d_s, d_c, a1, a0)

    best = None
    for a1_start in (1.0, 2.0, 4.0, 8.0):
        try:
            params, _ = curve_fit(
                model, x, y, p0=[dc0, a1_start, mid], bounds=([0.0, 1e-3, -15.0], [1.0, 50.0, 2.0]), maxfev=20000
            )
        except RuntimeError:
            continue
        residual = float(np.sum((model(x, *params) - y) ** 2))
        if best is None or residual < best[1]:
            best = (params, residual)
    if best is None:
        raise RuntimeError("logistic fit did not converge")
    params, residual = best
    deviations = model(x, *params) - y
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "d_s": float(d_s),
        "d_c": float(params[0]),
        "a1": float(params[1]),
        "a0": float(params[2]),
        "rms_residual": float(np.sqrt(np.mean(deviations**2))),
        "max_residual": float(np.max(np.abs(deviations))),
        "r2": float(1.0 - residual / total) if total > 0 else 1.0,
    }


def profile_from_curves(curves: dict, manifest: dict, image_shape, test_images: int, made_by: str, **meta) -> dict:
    """The semantic-profile dict (see profile.py) from measured curves ``{model id: measure_curve(...)}``."""
    entries = {e["id"]: e for e in manifest.get("models", [])}
    models = []
    bers = None
    for model_id, curve in curves.items():
        bers = curve["bers"]
        fit = fit_semantic_logistic(np.log10(curve["bers"]), curve["error"], curve["d_s"])
        entry = entries.get(model_id, {})
        models.append(
            {
                "id": model_id,
                "channels": int(entry.get("channels", 1)),
                "lambda": float(entry.get("lambda", 0.0)),
                "R_s_bits": curve["R_s_bits"],
                "bpp": curve["bpp"],
                "accuracy": 1.0 - curve["d_s"],
                **fit,
                "measured": curve["error"],
            }
        )
    models.sort(key=lambda m: m["R_s_bits"])
    return {
        "format": FORMAT,
        "task": "classification",
        "metric": "error rate (Hamming distortion of the class label)",
        "image_shape": [int(s) for s in image_shape],
        "classes": len(manifest.get("classes", [])),
        "test_images": int(test_images),
        "bers": bers,
        "made_by": made_by,
        **meta,
        "models": models,
    }


def plot_profile(profile: dict, path) -> None:
    """Measured error (points) and fitted logistic (lines) per model versus log10 BER."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    grid = np.linspace(np.log10(min(profile["bers"])) - 0.3, np.log10(max(profile["bers"])) + 0.2, 300)
    count = len(profile["models"])
    for i, m in enumerate(profile["models"]):
        colour = plt.cm.viridis(i / max(count - 1, 1))
        ax.plot(np.log10(profile["bers"]), m["measured"], "o", color=colour, ms=4)
        ax.plot(
            grid,
            semantic_distortion(grid, m["d_s"], m["d_c"], m["a1"], m["a0"]),
            "-",
            color=colour,
            label=f"{m['id']}: C={m['channels']}, {m['R_s_bits']:.0f} bits, acc {m['accuracy']:.3f}, "
            f"rms {m['rms_residual']:.3f}",
        )
    ax.set_xlabel("log10 BER of the payload")
    ax.set_ylabel("classification error rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Semantic models: measured error (points) and fitted logistic (lines)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
