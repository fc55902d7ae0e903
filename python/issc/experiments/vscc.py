# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The VSCC paper's experiments (Figs. 7-9) on the shipped ABR 1/16 models: ``issc experiment vscc``.

Every point is one model at one test SNR over AWGN on the held-out images, decoded in one of three ways
(the paper's Algorithm 2; ``resampling`` in the results):

* ``none``: the received latent ``mu + n`` is decoded as it is (the AE test, Fig. 6a; also what the link's
  DJSCC decoder does with any model);
* ``transmitted``: the encoder's variance ``sigma_1^2`` is sent too (twice the symbols) and the decoder
  gets ``mu + n + sigma_1 eps``: a draw of ``N(mu + n, sigma_1^2)``, i.e. the training-time sample
  ``mu + sigma_1 eps`` through the channel (Fig. 6b);
* ``fixed``: only ``mu`` is sent and the receiver resamples with the knowledge-base variance (the mean of
  the encoder's variances over training crops, ``kb_variance`` in the weights): ``mu + n + sigma_KB eps``
  (Fig. 6c).

``mu`` is the encoder's power-normalised mean (each 64 x 64 tile at unit power per complex symbol, as the
codec sends it), ``n`` the AWGN of the test SNR, drawn once per image and point ("100 resamplings on the
same z"); ``eps`` is standard normal, drawn anew for each of ``resamples`` resamples. Each resample is
decoded, rounded to 8-bit pixels (as the codec's decoder) and scored per image: PSNR, SSIM and MS-SSIM.
The point's ``psnr`` is the mean over images of each image's mean over resamples; ``psnr_min`` and
``psnr_max`` the mean over images of each image's minimum and maximum over resamples (the paper's
shaded "sampling error"); likewise SSIM and MS-SSIM. ``none`` has one draw and min = mean = max.

Two sets of points: ``fig7`` (the best-``d`` VSCC model per training SNR, transmitted and fixed, 100
resamples on the held-out centre crops) and ``sweep`` (every model on every held-out image: AE ``none``;
VAE and VSCC ``fixed`` with fewer resamples, and ``none``), which Figs. 8 and 9 plot. Random numbers: the
noise of a point comes from ``default_rng([seed, crc32(model id), SNR key])`` (the same for every
resampling, so transmitted and fixed see the same channel), the resampling draws from the same key plus
the resampling's index; a point does not depend on which others are run.
"""

from __future__ import annotations

import csv
import io
import math
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..djscc.models import DATA_DIR, DjsccModelInfo, abr_label, load_manifest, load_model
from ..errors import IsscInputError
from ..files import append_json_line, atomic_write_bytes, atomic_write_json, atomic_write_text, read_json_lines

ABR = 1 / 16
TRAIN_SNRS_DB = (-5.0, 5.0, 15.0)
TEST_SNRS_DB = tuple(float(s) for s in range(-10, 26, 5))
CMCS = (1.0, 2.0, 5.0, 10.0, 15.0)
RESAMPLINGS = ("none", "transmitted", "fixed")
FIG7_IMAGES = ("astronaut_c", "coffee_c")
"""Two of the held-out centre crops: Fig. 7's 100 resamples per point on all twelve crops would take hours
on the shared 2-core machine."""

FULL = {
    "train_snrs": TRAIN_SNRS_DB,
    "test_snrs": TEST_SNRS_DB,
    "fig7_resamples": 100,
    "sweep_resamples": 5,
    "fig7_images": FIG7_IMAGES,
    "sweep_images": None,
}
QUICK = {
    "train_snrs": (5.0,),
    "test_snrs": (-10.0, 5.0, 25.0),
    "fig7_resamples": 20,
    "sweep_resamples": 4,
    "fig7_images": ("astronaut_c",),
    "sweep_images": ("astronaut_c",),
}
COLUMNS = (
    "set",
    "loss",
    "model",
    "abr",
    "train_snr_db",
    "cmc",
    "best_cmc",
    "test_snr_db",
    "resampling",
    "resamples",
    "images",
    "psnr",
    "psnr_min",
    "psnr_max",
    "ssim",
    "ssim_min",
    "ssim_max",
    "ms_ssim",
    "ms_ssim_min",
    "ms_ssim_max",
    "seconds",
)
METRICS = ("psnr", "ssim", "ms_ssim")


@dataclass(frozen=True)
class Images:
    """Held-out images as the codec codes them: 64 x 64 tiles (row-major per image) and the originals."""

    names: tuple
    tiles: torch.Tensor  # (images * tiles_per_image, 3, t, t) in [0, 1]
    reference: torch.Tensor  # (images, 3, H, W) in [0, 1], the 8-bit originals
    tile: int

    @property
    def count(self) -> int:
        return self.reference.shape[0]


def load_images(paths, tile: int = 64) -> Images:
    """The images at ``paths`` (all the same size, a multiple of ``tile``) cut into ``tile`` tiles."""
    from ..codec.images import load_rgb

    arrays = [load_rgb(p) for p in paths]
    if not arrays:
        raise IsscInputError("no held-out images")
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays) or shape[0] % tile or shape[1] % tile:
        raise IsscInputError(f"held-out images must share one size, a multiple of {tile}: {[a.shape for a in arrays]}")
    rows, cols = shape[0] // tile, shape[1] // tile
    stack = np.stack(arrays)  # (N, H, W, 3)
    tiles = stack.reshape(len(arrays), rows, tile, cols, tile, 3).transpose(0, 1, 3, 5, 2, 4)
    tiles = tiles.reshape(-1, 3, tile, tile)
    return Images(
        tuple(Path(p).stem for p in paths),
        torch.from_numpy(np.ascontiguousarray(tiles)).float() / 255.0,
        torch.from_numpy(np.ascontiguousarray(stack.transpose(0, 3, 1, 2))).float() / 255.0,
        tile,
    )


def untile(tiles: torch.Tensor, count: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`load_images`' tiling: ``(count * rows * cols, 3, t, t)`` -> ``(count, 3, H, W)``."""
    t = tiles.shape[-1]
    rows, cols = height // t, width // t
    return tiles.reshape(count, rows, cols, 3, t, t).permute(0, 3, 1, 4, 2, 5).reshape(count, 3, height, width)


def image_scores(reference: torch.Tensor, decoded: torch.Tensor) -> np.ndarray:
    """Per image ``(PSNR dB, SSIM, MS-SSIM)`` of ``(N, 3, H, W)`` images in [0, 1]: PSNR from the MSE over
    all pixels and channels; MS-SSIM is :func:`gnuradio.issc.metrics.ms_ssim` (pytorch_msssim's algorithm)
    and SSIM its first scale (the mean of the full-resolution SSIM map over pixels and channels:
    pytorch_msssim's and scikit-image's Gaussian SSIM for images of more than 160 pixels a side), both
    from one pass."""
    from ..metrics import MS_SSIM_WEIGHTS, _average_pool, _gauss_window, _gaussian_filter, _window_size

    a_all, b_all = reference.double().numpy(), decoded.double().numpy()
    out = np.empty((a_all.shape[0], 3))
    c1, c2 = 0.01**2, 0.03**2
    weights = np.asarray(MS_SSIM_WEIGHTS)[:, None]
    for i, (x, y) in enumerate(zip(a_all, b_all)):
        mse = float(np.mean((x - y) ** 2))
        win = _gauss_window(_window_size(min(x.shape[1:])))
        levels, ssim = [], math.nan
        for level in range(len(MS_SSIM_WEIGHTS)):
            mu1, mu2, xx, yy, xy = _gaussian_filter(np.stack([x, y, x * x, y * y, x * y]), win)
            mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
            cs_map = (2 * (xy - mu1_mu2) + c2) / ((xx - mu1_sq) + (yy - mu2_sq) + c2)
            ssim_map = ((2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
            if level == 0:
                ssim = float(ssim_map.mean())
            if level < len(MS_SSIM_WEIGHTS) - 1:
                levels.append(np.maximum(cs_map.reshape(cs_map.shape[0], -1).mean(-1), 0.0))
                x, y = _average_pool(x), _average_pool(y)
            else:
                levels.append(np.maximum(ssim_map.reshape(ssim_map.shape[0], -1).mean(-1), 0.0))
        ms = float(np.mean(np.prod(np.stack(levels) ** weights, axis=0)))
        out[i] = (-10 * math.log10(mse) if mse > 0 else math.inf, ssim, ms)
    return out


def noise_variance(snr_db: float) -> float:
    """AWGN variance per real latent value (unit-power complex symbols)."""
    return 0.5 * 10 ** (-snr_db / 10)


def point_rngs(seed: int, model_id: str, snr_db: float, resampling: str):
    """The generators of one point: channel noise, then resampling draws (see the module docstring)."""
    key = [int(seed), zlib.crc32(model_id.encode()), int(round((snr_db + 1000) * 1000))]
    return np.random.default_rng(key), np.random.default_rng(key + [1 + RESAMPLINGS.index(resampling)])


def resample_scores(
    model, images: Images, snr_db: float, resampling: str, resamples: int, noise_rng, sample_rng
) -> np.ndarray:
    """Scores of every resample of every image: ``(resamples, images, 3)`` (PSNR, SSIM, MS-SSIM).

    Args:
        model: a :class:`~gnuradio.issc.djscc.models.DeepJSCC` (eval mode).
        images: the held-out images.
        snr_db: the test SNR.
        resampling: 'none', 'transmitted' or 'fixed' (the module docstring).
        resamples: draws of ``eps`` (1 for 'none').
        noise_rng, sample_rng: numpy generators for the channel noise and the resampling draws.
    """
    if resampling not in RESAMPLINGS:
        raise IsscInputError(f"resampling must be one of {', '.join(RESAMPLINGS)}, got {resampling!r}")
    with torch.inference_mode():
        mean, logvar = model.encode(images.tiles)
        noise = noise_rng.standard_normal(tuple(mean.shape)) * math.sqrt(noise_variance(snr_db))
        received = mean + torch.from_numpy(noise).float()
        if resampling == "transmitted":
            spread = torch.exp(0.5 * logvar)
        elif resampling == "fixed":
            spread = torch.full_like(mean, math.sqrt(max(float(model.kb_variance), 0.0)))
        else:
            spread, resamples = None, 1
        height, width = images.reference.shape[-2:]
        out = []
        for _ in range(resamples):
            latent = received
            if spread is not None:
                latent = received + spread * torch.from_numpy(sample_rng.standard_normal(tuple(mean.shape))).float()
            decoded = model.decode(latent).clamp(0, 1).mul(255).round().div(255)
            out.append(image_scores(images.reference, untile(decoded, images.count, height, width)))
    return np.stack(out)


def summarise(scores: np.ndarray) -> dict:
    """``psnr``, ``psnr_min``, ``psnr_max`` (and SSIM, MS-SSIM) from :func:`resample_scores`' array."""
    row = {}
    for k, name in enumerate(METRICS):
        per_image = scores[:, :, k]
        row[name] = float(np.mean(per_image.mean(axis=0)))
        row[f"{name}_min"] = float(np.mean(per_image.min(axis=0)))
        row[f"{name}_max"] = float(np.mean(per_image.max(axis=0)))
    return row


def experiment_models(directory=DATA_DIR, train_snrs=TRAIN_SNRS_DB) -> list[DjsccModelInfo]:
    """The ABR 1/16 models trained at ``train_snrs`` with each loss; refuses a set missing a loss."""
    models = [m for m in load_manifest(directory) if abs(m.abr - ABR) < 1e-9 and any(m.snr_db == s for s in train_snrs)]
    for snr in train_snrs:
        for loss in ("ae", "vae", "vscc"):
            if not any(m.loss == loss and m.snr_db == snr for m in models):
                raise IsscInputError(f"no {loss} model at ABR 1/16 trained at {snr:g} dB in '{directory}'")
    return models


def best_vscc(models, snr_db: float) -> DjsccModelInfo:
    """The VSCC model shipped as the best ``d`` at ``snr_db`` (the one the link may pick)."""
    candidates = [m for m in models if m.loss == "vscc" and m.snr_db == snr_db]
    chosen = [m for m in candidates if m.link]
    return (chosen or candidates)[0]


def plan(models, preset) -> list[dict]:
    """The points: ``set``, model, test SNR, resampling, resamples."""
    points = []
    for snr in preset["train_snrs"]:
        best = best_vscc(models, snr)
        for test in preset["test_snrs"]:
            for kind in ("transmitted", "fixed"):
                points.append(dict(set="fig7", model=best.id, test_snr_db=test, resampling=kind))
    for m in sorted(models, key=lambda m: (m.snr_db, m.loss, m.cmc or 0)):
        if m.snr_db not in preset["train_snrs"]:
            continue
        for test in preset["test_snrs"]:
            points.append(dict(set="sweep", model=m.id, test_snr_db=test, resampling="none"))
            if m.loss != "ae":
                points.append(dict(set="sweep", model=m.id, test_snr_db=test, resampling="fixed"))
    for p in points:
        p["resamples"] = 1 if p["resampling"] == "none" else preset[f"{p['set']}_resamples"]
    return points


def _key(point) -> tuple:
    return (point["set"], point["model"], float(point["test_snr_db"]), point["resampling"], int(point["resamples"]))


def run_experiment(
    preset: dict, directory=DATA_DIR, seed: int = 0, journal: Path | None = None, progress=None
) -> list[dict]:
    """Every point of ``preset`` (:data:`FULL` or :data:`QUICK`); rows already in ``journal`` (a rerun of
    the same command) are reused, new ones appended as they finish."""
    from ..codec.images import shipped_images

    torch.set_num_threads(1)  # one core: the machine is shared, and one tile batch gains little from more
    models = experiment_models(directory, preset["train_snrs"])
    by_id = {m.id: m for m in models}
    held_out = shipped_images()
    sets = {}
    for name in ("fig7", "sweep"):
        wanted = preset[f"{name}_images"]
        paths = [p for p in held_out if wanted is None or p.stem in wanted]
        if not paths:
            raise IsscInputError(f"none of the held-out images {wanted} is shipped")
        sets[name] = load_images(paths)
    done = {}
    if journal is not None and Path(journal).exists():
        for row in read_json_lines(journal):
            if row.get("seed") == seed:
                done[_key(row)] = row
    rows, loaded = [], {}
    for point in plan(models, preset):
        if _key(point) in done:  # the manifest's best d as it is now, whatever it was when the row was made
            info = by_id[point["model"]]
            rows.append({**done[_key(point)], "best_cmc": info.loss == "vscc" and info.link})
            continue
        info = by_id[point["model"]]
        if info.id not in loaded:
            loaded = {info.id: load_model(Path(directory) / info.file, info.channels, info.filters)}
        started = time.time()
        noise_rng, sample_rng = point_rngs(seed, info.id, point["test_snr_db"], point["resampling"])
        images = sets[point["set"]]
        scores = resample_scores(
            loaded[info.id],
            images,
            point["test_snr_db"],
            point["resampling"],
            point["resamples"],
            noise_rng,
            sample_rng,
        )
        row = {
            "set": point["set"],
            "loss": info.loss,
            "model": info.id,
            "abr": abr_label(info.abr),
            "train_snr_db": info.snr_db,
            "cmc": info.cmc,
            "best_cmc": info.loss == "vscc" and info.link,
            "test_snr_db": float(point["test_snr_db"]),
            "resampling": point["resampling"],
            "resamples": int(point["resamples"]),
            "images": images.count,
            **summarise(scores),
            "seconds": round(time.time() - started, 2),
            "seed": seed,
        }
        if journal is not None:
            append_json_line(journal, row)
        rows.append(row)
        if progress:
            progress(row)
    return rows


def write_csv(rows, path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
    atomic_write_text(path, buf.getvalue())


def _select(rows, **match):
    return sorted((r for r in rows if all(r.get(k) == v for k, v in match.items())), key=lambda r: r["test_snr_db"])


def summary(rows) -> dict:
    """The seed's claims, checked on ``rows`` (docs/vscc.md quotes these numbers).

    * ``fig7``: per training SNR, the largest |transmitted - fixed| mean PSNR and SSIM gap over the test SNRs;
    * ``best_cmc``: per training SNR, the ``d`` with the best fixed-resampling PSNR and SSIM averaged over the
      test SNRs from the training SNR to 10 dB above it (the paper's reading of Fig. 8);
    * ``ae_best_psnr``: the share of (training SNR, test SNR) where AE has the highest PSNR of the three;
    * ``vscc_above_vae``: the share where best-``d`` VSCC beats VAE (both fixed resampling), PSNR and SSIM;
    * ``vscc_ssim_low_snr``: at the lowest training SNR, test SNRs up to 5 dB: VSCC's SSIM minus AE's.
    """
    out = {"fig7": {}, "best_cmc": {}}
    train_snrs = sorted({r["train_snr_db"] for r in rows})
    for snr in train_snrs:
        t = _select(rows, set="fig7", train_snr_db=snr, resampling="transmitted")
        f = _select(rows, set="fig7", train_snr_db=snr, resampling="fixed")
        if t and f:
            out["fig7"][f"{snr:g}"] = {
                f"max_abs_{m}_gap": round(max(abs(a[m] - b[m]) for a, b in zip(t, f)), 4) for m in ("psnr", "ssim")
            }
        sweep = [
            r
            for r in rows
            if r["set"] == "sweep" and r["loss"] == "vscc" and r["resampling"] == "fixed" and r["train_snr_db"] == snr
        ]
        band = [r for r in sweep if snr <= r["test_snr_db"] <= snr + 10]
        if band:
            best = {}
            for m in ("psnr", "ssim"):
                by_d = {}
                for r in band:
                    by_d.setdefault(r["cmc"], []).append(r[m])
                best[m] = max(by_d, key=lambda d: np.mean(by_d[d]))
            out["best_cmc"][f"{snr:g}"] = best
    cells = []
    for snr in train_snrs:
        ae = {r["test_snr_db"]: r for r in _select(rows, set="sweep", loss="ae", train_snr_db=snr, resampling="none")}
        vae = {
            r["test_snr_db"]: r for r in _select(rows, set="sweep", loss="vae", train_snr_db=snr, resampling="fixed")
        }
        vscc = {
            r["test_snr_db"]: r
            for r in _select(rows, set="sweep", loss="vscc", train_snr_db=snr, resampling="fixed", best_cmc=True)
        }
        for test in sorted(set(ae) & set(vae) & set(vscc)):
            cells.append((snr, test, ae[test], vae[test], vscc[test]))
    if cells:
        out["ae_best_psnr"] = round(np.mean([a["psnr"] >= max(v["psnr"], s["psnr"]) for _, _, a, v, s in cells]), 3)
        out["ae_best_ssim"] = round(np.mean([a["ssim"] >= max(v["ssim"], s["ssim"]) for _, _, a, v, s in cells]), 3)
        out["vscc_above_vae_psnr"] = round(np.mean([s["psnr"] > v["psnr"] for _, _, _, v, s in cells]), 3)
        out["vscc_above_vae_ssim"] = round(np.mean([s["ssim"] > v["ssim"] for _, _, _, v, s in cells]), 3)
        low = min(train_snrs)
        out["vscc_ssim_low_snr"] = {
            f"{test:g}": round(s["ssim"] - a["ssim"], 4) for snr, test, a, _, s in cells if snr == low and test <= 5
        }
    return out


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _axes(train_snrs, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(train_snrs), figsize=(max(4.2 * len(train_snrs), 7.0), 6.4), squeeze=False)
    for col, snr in enumerate(train_snrs):
        axes[0, col].set_title(f"trained at {snr:g} dB")
        axes[1, col].set_xlabel("test SNR (dB)")
        for row, label in enumerate(("PSNR (dB)", "SSIM")):
            axes[row, col].grid(True, alpha=0.3)
            if col == 0:
                axes[row, col].set_ylabel(label)
    fig.suptitle(title, fontsize=10)
    return fig, axes


def _curve(ax, rows, metric, colour, marker, label, band=True):
    x = [r["test_snr_db"] for r in rows]
    ax.plot(x, [r[metric] for r in rows], marker=marker, color=colour, label=label, ms=4)
    if band:
        ax.fill_between(
            x, [r[f"{metric}_min"] for r in rows], [r[f"{metric}_max"] for r in rows], color=colour, alpha=0.2
        )


def plot_fig7(rows, path) -> None:
    """Transmitted against fixed-variance resampling of the best-``d`` VSCC models (the paper's Fig. 7)."""
    snrs = sorted({r["train_snr_db"] for r in rows if r["set"] == "fig7"})
    n = max([r["resamples"] for r in rows if r["set"] == "fig7"], default=0)
    fig, axes = _axes(snrs, f"VSCC (best d), ABR 1/16: mean and min-max over {n} resamples per image")
    for col, snr in enumerate(snrs):
        for kind, colour, marker in (("transmitted", "tab:red", "o"), ("fixed", "tab:blue", "*")):
            sel = _select(rows, set="fig7", train_snr_db=snr, resampling=kind)
            if sel:
                label = f"{kind} variance" + (f" (d {sel[0]['cmc']:g})" if kind == "fixed" else "")
                for row, metric in enumerate(("psnr", "ssim")):
                    _curve(axes[row, col], sel, metric, colour, marker, label)
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def plot_fig8(rows, path) -> None:
    """The ``d`` sweep per training SNR, fixed-variance resampling (the paper's Fig. 8)."""
    snrs = sorted({r["train_snr_db"] for r in rows if r["set"] == "sweep"})
    fig, axes = _axes(snrs, "VSCC, ABR 1/16, fixed-variance resampling: channel-matching constant d")
    colours = dict(zip(CMCS, ("tab:green", "gold", "tab:red", "tab:blue", "tab:purple")))
    for col, snr in enumerate(snrs):
        for d in sorted({r["cmc"] for r in rows if r["loss"] == "vscc" and r["train_snr_db"] == snr}):
            sel = _select(rows, set="sweep", loss="vscc", train_snr_db=snr, resampling="fixed", cmc=d)
            best = sel and sel[0]["best_cmc"]
            for row, metric in enumerate(("psnr", "ssim")):
                _curve(
                    axes[row, col],
                    sel,
                    metric,
                    colours.get(d, "k"),
                    "o",
                    f"d {d:g}" + (" (shipped)" if best else ""),
                    False,
                )
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def plot_fig9(rows, path) -> None:
    """VSCC (best ``d``) against VAE (fixed-variance resampling) against AE (the paper's Fig. 9)."""
    snrs = sorted({r["train_snr_db"] for r in rows if r["set"] == "sweep"})
    fig, axes = _axes(snrs, "ABR 1/16: VSCC (best d) and VAE with fixed-variance resampling, AE")
    for col, snr in enumerate(snrs):
        curves = (
            (
                _select(rows, set="sweep", loss="vscc", train_snr_db=snr, resampling="fixed", best_cmc=True),
                "tab:blue",
                "VSCC",
            ),
            (_select(rows, set="sweep", loss="vae", train_snr_db=snr, resampling="fixed"), "tab:red", "VAE"),
            (_select(rows, set="sweep", loss="ae", train_snr_db=snr, resampling="none"), "tab:green", "AE"),
        )
        for sel, colour, label in curves:
            if sel:
                for row, metric in enumerate(("psnr", "ssim")):
                    _curve(axes[row, col], sel, metric, colour, "o", label, label != "AE")
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def markdown_tables(rows) -> str:
    """The tables of docs/vscc.md: Fig. 7 (mean [min, max]), Fig. 8 (per ``d``) and Fig. 9, PSNR / SSIM."""
    tests = sorted({r["test_snr_db"] for r in rows})
    head = "| | " + " | ".join(f"{t:g} dB" for t in tests) + " |\n|---|" + "---|" * len(tests) + "\n"

    def line(label, sel, fmt):
        by_test = {r["test_snr_db"]: r for r in sel}
        return f"| {label} | " + " | ".join(fmt(by_test[t]) if t in by_test else "" for t in tests) + " |\n"

    def both(r):
        return f"{r['psnr']:.2f} / {r['ssim']:.3f}"

    def spread(metric, digits):
        return lambda r: f"{r[metric]:.{digits}f} [{r[metric + '_min']:.{digits}f}, {r[metric + '_max']:.{digits}f}]"

    parts = []
    train_snrs = sorted({r["train_snr_db"] for r in rows})
    fig7 = [r for r in rows if r["set"] == "fig7"]
    if fig7:
        n = max(r["resamples"] for r in fig7)
        parts.append(f"Fig. 7: best-d VSCC, mean [min, max] over {n} resamples per image\n\n" + head)
        for snr in train_snrs:
            for kind in ("transmitted", "fixed"):
                sel = _select(fig7, train_snr_db=snr, resampling=kind)
                if sel:
                    parts.append(line(f"{snr:g} dB (d {sel[0]['cmc']:g}), {kind}, PSNR", sel, spread("psnr", 2)))
                    parts.append(line(f"{snr:g} dB (d {sel[0]['cmc']:g}), {kind}, SSIM", sel, spread("ssim", 3)))
        parts.append("\n")
    parts.append("Fig. 8: VSCC per d, fixed-variance resampling, PSNR / SSIM\n\n" + head)
    for snr in train_snrs:
        for d in sorted({r["cmc"] for r in rows if r["loss"] == "vscc" and r["train_snr_db"] == snr}):
            sel = _select(rows, set="sweep", loss="vscc", train_snr_db=snr, resampling="fixed", cmc=d)
            best = " (best)" if sel and sel[0]["best_cmc"] else ""
            parts.append(line(f"{snr:g} dB, d {d:g}{best}", sel, both))
    parts.append(
        "\nFig. 9: AE (none), VAE and best-d VSCC (fixed-variance resampling; none in brackets), PSNR / SSIM\n\n"
    )
    parts.append(head)
    for snr in train_snrs:
        for loss in ("ae", "vae", "vscc"):
            match = dict(set="sweep", loss=loss, train_snr_db=snr)
            if loss == "vscc":
                match["best_cmc"] = True
            if loss == "ae":
                parts.append(line(f"{snr:g} dB, AE", _select(rows, resampling="none", **match), both))
                continue
            plain = {r["test_snr_db"]: r for r in _select(rows, resampling="none", **match)}
            sel = _select(rows, resampling="fixed", **match)
            parts.append(
                line(
                    f"{snr:g} dB, {loss.upper()}",
                    sel,
                    lambda r, plain=plain: (
                        both(r) + (f" ({plain[r['test_snr_db']]['psnr']:.2f})" if r["test_snr_db"] in plain else "")
                    ),
                )
            )
    return "".join(parts)


def write_outputs(rows, out: Path, preset_name: str, seed: int) -> dict:
    """results.csv, fig7/8/9.png, tables.md and summary.json in ``out``; returns the summary."""
    write_csv(rows, out / "results.csv")
    atomic_write_text(out / "tables.md", markdown_tables(rows))
    plot_fig7(rows, out / "fig7.png")
    plot_fig8(rows, out / "fig8.png")
    plot_fig9(rows, out / "fig9.png")
    result = {"preset": preset_name, "seed": seed, "points": len(rows), **summary(rows)}
    atomic_write_json(out / "summary.json", result)
    return result
