#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Copy trained DJSCC models into the package and record how they were made and how they score.

    .venv/bin/python scripts/ship_djscc.py TRAIN_OUT_DIR           # the AE benchmark set (replaces all)
    .venv/bin/python scripts/ship_djscc.py TRAIN_OUT_DIR --vscc    # the VSCC paper's set (added)

Reads TRAIN_OUT_DIR/manifest.yml (written by ``issc train-djscc`` or ``scripts/train_vscc.py``), copies the
fp16 weights to python/issc/data/djscc/, evaluates every model on the shipped held-out images over AWGN
from -10 to 25 dB in 5 dB steps (``issc djscc eval``'s code, the received symbols decoded as they are; the
link's DJSCC predictions interpolate this table) and writes python/issc/data/djscc/manifest.yml with the
evaluation.

``--vscc`` keeps the models already shipped and adds (or replaces) the ones of TRAIN_OUT_DIR, and marks
the link's models: of each training SNR's VSCC ``d`` sweep the ``d`` with the best held-out MS-SSIM at the
training SNR (``best_cmc: true``, ``link: true``), every VAE model, and no new AE model (the AE models the
link picks stay the benchmark's, trained at 0, 10 and 20 dB).
"""

import shutil
import sys
from pathlib import Path

import gnuradio
import yaml

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
from gnuradio.issc.codec.images import load_rgb, shipped_images  # noqa: E402
from gnuradio.issc.djscc.codec import DjsccCodec, evaluate_awgn  # noqa: E402
from gnuradio.issc.djscc.models import DATA_DIR, load_manifest  # noqa: E402

TEST_SNRS_DB = (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
AE_MADE_BY = (
    "issc train-djscc --images DATA --out DIR --loss ae --filters 64 --patch 64 --batch 16 --base-steps 3000 "
    "--steps 800 (2 CPU cores); DATA = the codec family's offline training set, "
    "gnuradio.issc.codec.images.write_offline_training_set(procedural=300) (scikit-image photos plus 300 "
    "procedural images, the held-out photos excluded); then scripts/ship_djscc.py DIR"
)
VSCC_MADE_BY = (
    "ABR 1/16, losses ae, vae, vscc (d in 1, 2, 5, 10, 15) at -5, 5, 15 dB: scripts/train_vscc.py DATA DIR "
    "(one base per loss at 5 dB, vscc with d 5, then fine-tuned per SNR and d; each entry's command has the "
    "steps), DATA as above, one CPU thread; then scripts/ship_djscc.py DIR --vscc. Entries with link: false "
    "are for docs/vscc.md (issc experiment vscc) only; best_cmc marks the d of each SNR with the best "
    "held-out MS-SSIM at the training SNR (decoded as received)."
)


def evaluate(entries, images) -> None:
    by_id = {info.id: info for info in load_manifest(DATA_DIR)}
    for entry in entries:
        rows = evaluate_awgn(DjsccCodec(by_id[entry["id"]], DATA_DIR), images, TEST_SNRS_DB)
        entry["held_out"] = {
            f"snr{r['snr_db']:g}": {"psnr": round(r["psnr"], 3), "ms_ssim": round(r["ms_ssim"], 4)} for r in rows
        }
        print(entry["id"], entry["held_out"], flush=True)


def mark_link_models(entries) -> None:
    """``link`` and ``best_cmc`` of the VSCC set (see the module docstring)."""
    for entry in entries:
        entry["link"] = entry["loss"] == "vae"
        entry["best_cmc"] = False
    for snr in sorted({e["snr_db"] for e in entries if e["loss"] == "vscc"}):
        sweep = [e for e in entries if e["loss"] == "vscc" and e["snr_db"] == snr]
        best = max(sweep, key=lambda e: (e["held_out"][f"snr{snr:g}"]["ms_ssim"], -e["cmc"]))
        best["link"] = best["best_cmc"] = True


def main(source: str, *flags: str) -> int:
    source = Path(source)
    vscc = "--vscc" in flags
    manifest = yaml.safe_load((source / "manifest.yml").read_text())
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    new = manifest["models"]
    for entry in new:
        shutil.copy2(source / entry["file"], DATA_DIR / entry["file"])
    images = [load_rgb(p) for p in shipped_images()]
    held_out = {
        "images": [p.name for p in shipped_images()],
        "channel": "AWGN, unit-power symbols",
        "snrs_db": list(TEST_SNRS_DB),
    }
    if vscc:
        shipped = yaml.safe_load((DATA_DIR / "manifest.yml").read_text())
        ids = {e["id"] for e in new}
        kept = [e for e in shipped["models"] if e["id"] not in ids]
        for entry in new:  # none for the link until marked (a run reading the manifest meanwhile keeps the AE set)
            entry["link"] = entry["best_cmc"] = False
        shipped["models"] = kept + new
        (DATA_DIR / "manifest.yml").write_text(yaml.safe_dump(shipped, sort_keys=False))
        evaluate(new, images)
        mark_link_models(new)
        shipped["made_by"] = AE_MADE_BY
        shipped["vscc_made_by"] = VSCC_MADE_BY
        shipped["held_out"] = held_out
        (DATA_DIR / "manifest.yml").write_text(yaml.safe_dump(shipped, sort_keys=False))
        return 0
    (DATA_DIR / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    evaluate(new, images)
    manifest["made_by"] = AE_MADE_BY
    manifest["held_out"] = held_out
    manifest["data"]["images"] = "write_offline_training_set(procedural=300), see made_by"
    (DATA_DIR / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
