# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Burst profiles: what one failed channel codeword does to a decoded image (docs/model.md §6).

The link splits each image's payload (z string, then y string) into blocks of ``K`` information bits, one
polar codeword each (:meth:`gnuradio.issc.link.framing.FrameFormat.payload_blocks`: byte ``b`` bit ``j`` is
payload bit ``8 b + j``, block ``i`` holds bits ``[i K, (i + 1) K)``). A block the SCL decoder gets wrong
decodes to garbage bits: the rANS decoder loses its state there and everything after it decodes to
garbage too, so the damage depends on where the *first* failed block falls, not on how many fail.

The measurement: for every model, held-out image and fraction bin ``[f_j, f_{j+1})`` of the payload, the
bits of one block of ``block_bits`` starting at a uniformly drawn position in the bin are replaced by
random bits, the image is decoded best-effort and its MSE and 1 - MS-SSIM measured; the bin's value is the
mean over images and repetitions, made non-increasing in ``f`` (a later failure never hurts more: pool
adjacent violators) and never below the error-free distortion. The block size hardly matters (the stream
is lost from the first wrong bit on), so one size stands for every code rate.

Stored in the codec profile (:mod:`.profile`) under the optional top-level ``bursts`` key (its format
:data:`BURST_FORMAT`, the bin edges ``fractions``, ``block_bits``, ``made_by``) and one ``burst`` entry per
model (``clean`` and per metric the bin values).
"""

from __future__ import annotations

import numpy as np

from .fit import distortions
from .profile import BURST_FORMAT, METRICS

DEFAULT_BINS = 16
DEFAULT_BLOCK_BITS = 384
"""Bits replaced per corruption: a codeword at ``R_c = 1.5`` (``K`` of the waterfall decisions is 250-500)."""


def corrupt_block(payload: bytes, start_bit: int, block_bits: int, rng: np.random.Generator) -> bytes:
    """``payload`` with bits ``[start_bit, start_bit + block_bits)`` (clipped to the payload) replaced by
    uniformly random bits: what a failed codeword hands the source decoder."""
    bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    start = min(max(int(start_bit), 0), bits.size)
    stop = min(start + int(block_bits), bits.size)
    bits[start:stop] = rng.integers(0, 2, stop - start, dtype=np.uint8)
    return np.packbits(bits).tobytes()


def non_increasing(values, weights=None) -> np.ndarray:
    """The least-squares non-increasing fit of ``values`` (pool adjacent violators)."""
    values = np.asarray(values, float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, float)
    blocks = []  # [mean, weight, count]
    for v, w in zip(values, weights):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([np.full(c, v) for v, _, c in blocks])


def measure_bursts(
    codec,
    images,
    bins: int = DEFAULT_BINS,
    block_bits: int = DEFAULT_BLOCK_BITS,
    repetitions: int = 2,
    seed: int = 0,
    progress=None,
    model_ids=None,
) -> dict:
    """Burst curves of every model of ``codec`` (or of ``model_ids``) on ``images``.

    Args:
        codec: a :class:`~gnuradio.issc.codec.codec.SemanticCodec`, or a
            :class:`~gnuradio.issc.codec.standard.FamilyCodec` for standard operating points (HEVC's CABAC
            and JPEG's Huffman decoders lose their state at the first wrong bit too).
        images: held-out images (``H x W x 3``).
        bins: fraction bins ``[j / bins, (j + 1) / bins)`` of the payload.
        block_bits: bits replaced per corruption (one codeword's information bits).
        repetitions: corrupted decodes per image and bin (positions drawn independently in the bin).
        seed: the generator of the positions and garbage bits.
        progress: called with each model id as it finishes.
        model_ids: the models to measure (default: all of ``codec.model_ids``).

    Returns:
        ``{"fractions": [...], "block_bits": b, "models": {id: {"clean": {metric: d}, metric: [...]}}}``,
        bin values already non-increasing and at least the clean distortion.
    """
    rng = np.random.default_rng(seed)
    edges = np.arange(bins + 1) / bins
    out = {"fractions": [float(f) for f in edges[:-1]], "block_bits": int(block_bits), "models": {}}
    for model_id in codec.model_ids if model_ids is None else model_ids:
        encoded = [codec.encode_parts(image, model_id) for image in images]
        clean = {m: 0.0 for m in METRICS}
        for image, (header, payload) in zip(images, encoded):
            for metric, value in distortions(image, codec.decode_parts(header, payload)).items():
                clean[metric] += value / len(images)
        sums = {m: np.zeros(bins) for m in METRICS}
        for image, (header, payload) in zip(images, encoded):
            n_bits = 8 * len(payload)
            for j in range(bins):
                for _ in range(repetitions):
                    start = int(np.floor(rng.uniform(edges[j], edges[j + 1]) * n_bits))
                    decoded = codec.decode_parts(header, corrupt_block(payload, start, block_bits, rng))
                    for metric, value in distortions(image, decoded).items():
                        sums[metric][j] += value
        entry = {"clean": {m: float(clean[m]) for m in METRICS}}
        for metric in METRICS:
            means = sums[metric] / (len(images) * repetitions)
            entry[metric] = [float(v) for v in np.maximum(non_increasing(means), clean[metric])]
        out["models"][model_id] = entry
        if progress:
            progress(model_id)
    return out


def add_bursts(profile: dict, bursts: dict, made_by: str, images: list[str]) -> dict:
    """The profile dict with the measured burst curves added (replacing any there were)."""
    profile = dict(profile)
    profile["bursts"] = {
        "format": BURST_FORMAT,
        "made_by": made_by,
        "block_bits": int(bursts["block_bits"]),
        "fractions": list(bursts["fractions"]),
        "images": list(images),
    }
    models = []
    for model in profile["models"]:
        model = dict(model)
        if model["id"] not in bursts["models"]:
            raise KeyError(f"no burst curve measured for model '{model['id']}'")
        model["burst"] = bursts["models"][model["id"]]
        models.append(model)
    profile["models"] = models
    return profile
