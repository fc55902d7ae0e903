# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Codec evaluation (``issc codec eval``): rate and quality per model, and JPEG at the same rate.

JPEG (Pillow, 4:2:0, optimised Huffman tables) quality is searched per image for the file size closest
to the model's bpp without exceeding it; where even quality 1 exceeds it, JPEG cannot reach that rate
and its row says so (``jpeg_psnr`` null, ``jpeg_min_bpp`` given).
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import IsscInputError
from ..metrics import ms_ssim, psnr

MIN_SIDE = 33
"""Smallest image side the evaluation takes: MS-SSIM's five scales with its smallest window need it."""
MAX_SIDE = 4096
"""Largest image side the codec codes (``codec.container.MAX_SIDE``)."""


def check_images(images, names, what: str = "--images") -> None:
    """Refuse, before any coding, an image the evaluation cannot score: a side below :data:`MIN_SIDE`
    (MS-SSIM) or above :data:`MAX_SIDE` (the codec). The message names the image and the limits."""
    for image, name in zip(images, names):
        height, width = np.asarray(image).shape[:2]
        if min(height, width) < MIN_SIDE or max(height, width) > MAX_SIDE:
            raise IsscInputError(
                f"{what}: image '{name}' is {height} x {width}; the evaluation needs sides in "
                f"[{MIN_SIDE}, {MAX_SIDE}] pixels (MS-SSIM needs at least {MIN_SIDE})"
            )


def jpeg_at_bpp(image: np.ndarray, target_bpp: float):
    """``(bpp, decoded image)`` of the highest-quality JPEG at or below ``target_bpp``, or
    ``(min_bpp, None)`` if even quality 1 is larger."""
    from PIL import Image

    pixels = image.shape[0] * image.shape[1]

    def encode(quality):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality), optimize=True)
        return buffer.getvalue()

    lo, hi = 1, 95
    smallest = encode(lo)
    if 8 * len(smallest) / pixels > target_bpp:
        return 8 * len(smallest) / pixels, None
    while hi - lo > 1:  # file size grows with quality
        mid = (lo + hi) // 2
        if 8 * len(encode(mid)) / pixels <= target_bpp:
            lo = mid
        else:
            hi = mid
    best = encode(hi) if 8 * len(encode(hi)) / pixels <= target_bpp else encode(lo)
    decoded = np.asarray(Image.open(io.BytesIO(best)).convert("RGB"))
    return 8 * len(best) / pixels, decoded


def evaluate(codec, images: list[np.ndarray], with_jpeg: bool = True) -> list[dict]:
    """Per model: mean bpp, mean payload bits ``R_s``, PSNR, MS-SSIM, and JPEG at the same bpp."""
    rows = []
    for model_id in codec.model_ids:
        bpps, bits, psnrs, ssims, jpeg_psnrs, jpeg_bpps, jpeg_min = [], [], [], [], [], [], []
        for image in images:
            header, payload = codec.encode_parts(image, model_id)
            decoded = codec.decode_parts(header, payload)
            pixels = image.shape[0] * image.shape[1]
            bits.append(8 * len(payload))
            bpps.append(8 * len(payload) / pixels)
            psnrs.append(psnr(image, decoded))
            ssims.append(ms_ssim(image, decoded))
            if with_jpeg:
                jbpp, jimg = jpeg_at_bpp(image, bpps[-1])
                if jimg is None:
                    jpeg_min.append(jbpp)
                else:
                    jpeg_bpps.append(jbpp)
                    jpeg_psnrs.append(psnr(image, jimg))
        row = {
            "id": model_id,
            "lambda": codec.lambdas.get(model_id),
            "bpp": float(np.mean(bpps)),
            "R_s_bits": float(np.mean(bits)),
            "psnr": float(np.mean(psnrs)),
            "ms_ssim": float(np.mean(ssims)),
            "images": len(images),
        }
        if with_jpeg:
            reached = len(jpeg_psnrs)
            row.update(
                {
                    "jpeg_images_reached": reached,
                    "jpeg_psnr": float(np.mean(jpeg_psnrs)) if reached == len(images) else None,
                    "jpeg_bpp": float(np.mean(jpeg_bpps)) if reached == len(images) else None,
                    "jpeg_min_bpp": float(np.mean(jpeg_min)) if jpeg_min else None,
                }
            )
        rows.append(row)
    return rows
