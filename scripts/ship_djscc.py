#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Copy trained DJSCC models into the package and record how they were made and how they score.

    .venv/bin/python scripts/ship_djscc.py TRAIN_OUT_DIR

Reads TRAIN_OUT_DIR/manifest.yml (written by ``issc train-djscc``), copies the fp16 weights to
python/issc/data/djscc/, evaluates every model on the shipped held-out images over AWGN from -10 to
25 dB in 5 dB steps (``issc djscc eval``'s code; the link's DJSCC predictions interpolate this table) and
writes python/issc/data/djscc/manifest.yml with the evaluation.
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


def main(source: str) -> int:
    source = Path(source)
    manifest = yaml.safe_load((source / "manifest.yml").read_text())
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for entry in manifest["models"]:
        shutil.copy2(source / entry["file"], DATA_DIR / entry["file"])
    (DATA_DIR / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    images = [load_rgb(p) for p in shipped_images()]
    by_id = {info.id: info for info in load_manifest(DATA_DIR)}
    for entry in manifest["models"]:
        rows = evaluate_awgn(DjsccCodec(by_id[entry["id"]], DATA_DIR), images, TEST_SNRS_DB)
        entry["held_out"] = {
            f"snr{r['snr_db']:g}": {"psnr": round(r["psnr"], 3), "ms_ssim": round(r["ms_ssim"], 4)} for r in rows
        }
        print(entry["id"], entry["held_out"], flush=True)
    manifest["made_by"] = (
        "issc train-djscc --images DATA --out DIR --loss ae --filters 64 --patch 64 --batch 16 --base-steps 3000 "
        "--steps 800 (2 CPU cores); DATA = the codec family's offline training set, "
        "gnuradio.issc.codec.images.write_offline_training_set(procedural=300) (scikit-image photos plus 300 "
        "procedural images, the held-out photos excluded); then scripts/ship_djscc.py DIR"
    )
    manifest["held_out"] = {
        "images": [p.name for p in shipped_images()],
        "channel": "AWGN, unit-power symbols",
        "snrs_db": list(TEST_SNRS_DB),
    }
    manifest["data"]["images"] = "write_offline_training_set(procedural=300), see made_by"
    (DATA_DIR / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
