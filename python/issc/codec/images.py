# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image data for the codecs: folders of images, the offline training set, the shipped test images.

No internet here: the shipped weights are trained on photos bundled with scikit-image plus procedural
images, and evaluated on held-out photos that are not in the training set (:data:`HELD_OUT`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import IsscInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")
MAX_IMAGE_PIXELS = 8192 * 8192
"""Largest image :func:`load_rgb` decodes by default (192 MiB as RGB): a PNG that declares more (a
decompression bomb: a few kB for 30000 x 30000) is refused from its header, before any pixel is decoded."""
MAX_FOLDER_ENTRIES = 200_000
MAX_FOLDER_IMAGES = 20_000
SHIPPED_IMAGE_DIR = Path(__file__).resolve().parents[1] / "data" / "images"
HELD_OUT = ("astronaut", "coffee", "rocket", "motorcycle_right")
"""scikit-image photos reserved for evaluation: never in the training set."""
TRAIN_PHOTOS = (
    "chelsea",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "logo",
    "motorcycle_left",
)
TRAIN_GRAY = ("camera", "coins", "moon", "page", "text", "grass", "gravel", "brick", "clock", "cell")


def list_images(folder: str | Path, what: str = "--images") -> list[Path]:
    """Image files under ``folder`` (recursive, symbolic links to folders not followed), sorted.

    The walk is bounded: a folder with more than :data:`MAX_FOLDER_ENTRIES` entries or
    :data:`MAX_FOLDER_IMAGES` images (``--images /``) is refused rather than read for minutes."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IsscInputError(f"{what} '{folder}': not a directory")
    files, seen = [], 0
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        seen += len(dirs) + len(names)
        if seen > MAX_FOLDER_ENTRIES:
            raise IsscInputError(f"{what} '{folder}': more than {MAX_FOLDER_ENTRIES} files and folders below it")
        for name in names:
            path = Path(root) / name
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                files.append(path)
        if len(files) > MAX_FOLDER_IMAGES:
            raise IsscInputError(f"{what} '{folder}': more than {MAX_FOLDER_IMAGES} images")
    if not files:
        raise IsscInputError(f"{what} '{folder}': no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return sorted(files)


def load_rgb(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """An image file as ``H x W x 3`` uint8 (grey and RGBA converted).

    Args:
        path: the file (a regular file; a folder or device is refused).
        max_pixels: refuse an image with more pixels than this, from its header, before decoding it
            (a decompression bomb).
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise IsscInputError(f"image '{path}': " + ("no such file" if not path.exists() else "not a regular file"))
    try:
        with warnings.catch_warnings():
            # PIL warns above its own limit (89 Mpx) and raises above twice that; the limit here is ours
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise IsscInputError(
                        f"image '{path}': {width} x {height} pixels, more than the {max_pixels} allowed "
                        "(refused before decoding)"
                    )
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise IsscInputError(f"image '{path}': refused before decoding ({exc})") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError) as exc:
        if isinstance(exc, IsscInputError):
            raise
        raise IsscInputError(f"image '{path}': cannot read ({' '.join(str(exc).split())[:200]})") from None


def save_rgb(image: np.ndarray, path: str | Path) -> None:
    from PIL import Image

    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Resize the short side to ``size`` (Lanczos), then crop the centre square."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = size / min(h, w)
    resized = np.asarray(
        Image.fromarray(image).resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.LANCZOS)
    )
    h, w = resized.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return resized[top : top + size, left : left + size]


def _skimage(name: str) -> np.ndarray:
    import skimage.data as data

    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = data.stereo_motorcycle()
        image = left if name == "motorcycle_left" else right
    else:
        image = getattr(data, name)()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3].astype(np.uint8)


def procedural_image(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A random synthetic RGB image: smooth gradients, 1/f noise textures and filled shapes, so the codec
    sees edges, flat regions and textures at many scales."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.zeros((size, size, 3))
    for c in range(3):
        a, b, d = rng.uniform(-1, 1, 3)
        image[..., c] = 0.5 + 0.3 * (a * xx + b * yy + d * xx * yy)
    # 1/f^alpha texture
    freq = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2)
    freq[0, 0] = 1.0
    alpha = rng.uniform(1.0, 2.2)
    for c in range(3):
        spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / freq**alpha
        texture = np.real(np.fft.ifft2(spectrum))
        image[..., c] += rng.uniform(0.05, 0.3) * texture / (np.std(texture) + 1e-12)
    for _ in range(rng.integers(3, 12)):
        colour = rng.uniform(0, 1, 3)
        cx, cy, r = rng.uniform(0, 1, 3)
        r = 0.05 + 0.25 * r
        if rng.random() < 0.5:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        else:
            mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r * rng.uniform(0.3, 1.0))
        image[mask] = 0.7 * colour + 0.3 * image[mask]
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def colourise(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grey photo mapped through a random smooth colour ramp (more colour statistics to learn)."""
    g = gray[..., 0].astype(float) / 255.0
    low, high = rng.uniform(0, 0.5, 3), rng.uniform(0.5, 1, 3)
    return (np.clip(low + (high - low) * g[..., None], 0, 1) * 255).astype(np.uint8)


def write_offline_training_set(out_dir: str | Path, procedural: int = 300, seed: int = 0) -> list[Path]:
    """Write the offline training images (no held-out photo among them) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for name in TRAIN_PHOTOS:
        path = out / f"photo_{name}.png"
        save_rgb(_skimage(name), path)
        written.append(path)
    for name in TRAIN_GRAY:
        gray = _skimage(name)
        for k in range(2):
            path = out / f"gray_{name}_{k}.png"
            save_rgb(gray if k == 0 else colourise(gray, rng), path)
            written.append(path)
    for i in range(procedural):
        path = out / f"procedural_{i:04d}.png"
        save_rgb(procedural_image(rng), path)
        written.append(path)
    return written


def write_held_out_set(out_dir: str | Path = SHIPPED_IMAGE_DIR, size: int = 256) -> list[Path]:
    """The held-out evaluation images: centre crop plus four corner crops of each held-out photo
    (resized so the short side is ``1.5 size``), ``size x size``."""
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in HELD_OUT:
        photo = _skimage(name)
        h, w = photo.shape[:2]
        scale = 1.5 * size / min(h, w)
        big = np.asarray(Image.fromarray(photo).resize((round(w * scale), round(h * scale)), Image.LANCZOS))
        h, w = big.shape[:2]
        crops = {"c": ((h - size) // 2, (w - size) // 2), "tl": (0, 0), "br": (h - size, w - size)}
        for tag, (top, left) in crops.items():
            path = out / f"{name}_{tag}.png"
            save_rgb(big[top : top + size, left : left + size], path)
            written.append(path)
    return written


def shipped_images() -> list[Path]:
    return list_images(SHIPPED_IMAGE_DIR)
