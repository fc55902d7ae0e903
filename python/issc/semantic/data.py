# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Labelled image data for the semantic models: scikit-learn's digits and any labelled folder.

* ``digits``: scikit-learn's bundled handwritten digits (``sklearn.datasets.load_digits``: 1797 grey
  8 x 8 images with values 0..16, 10 classes; installed with scikit-learn, no download), scaled to [0, 1].
* a labelled folder: one sub-folder per class (its name is the class name), images of any size and
  format that Pillow reads, converted to grey or RGB and resized to ``size x size`` (CIFAR-10 or CUB-200
  unpacked this way work as they are).

The held-out split is fixed: per class, a ``test_fraction`` of the images (at least one where the class
has two or more) chosen by a seeded permutation (NumPy's PCG64, stable across versions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IsscInputError

DIGITS = "digits"
TEST_FRACTION = 0.2
SPLIT_SEED = 0
MAX_FOLDER_IMAGES = 200_000


@dataclass
class LabelledData:
    """Images ``N x C x S x S`` (float32 in [0, 1]) with labels, split into train and test.

    Args:
        train_x, train_y, test_x, test_y: the split.
        classes: class names (label ``i`` is ``classes[i]``).
        spec: how the data was made (goes into the manifest, and lets ``fit``/``eval`` rebuild it).
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list
    spec: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple:
        return tuple(self.train_x.shape[1:])


def split_indices(labels, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED):
    """``(train, test)`` index arrays: per class a seeded ``test_fraction`` goes to test (stratified)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(members.size)]
        count = int(round(test_fraction * members.size))
        if members.size >= 2:
            count = min(max(count, 1), members.size - 1)
        else:
            count = 0
        test.extend(members[:count])
        train.extend(members[count:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def load_digits(test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> LabelledData:
    """scikit-learn's digits as ``N x 1 x 8 x 8`` in [0, 1], split per :func:`split_indices`."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise IsscInputError("the digits data set needs scikit-learn (pip install scikit-learn)") from None
    import sklearn

    digits = sk_load_digits()
    images = (digits.images.astype(np.float32) / 16.0)[:, None]
    labels = digits.target.astype(np.int64)
    train, test = split_indices(labels, test_fraction, seed)
    spec = {
        "kind": DIGITS,
        "source": "sklearn.datasets.load_digits (bundled with scikit-learn)",
        "scikit_learn": sklearn.__version__,
        "images": int(labels.size),
        "scale": "pixel / 16",
        "split": {"test_fraction": test_fraction, "seed": seed, "train": int(train.size), "test": int(test.size)},
    }
    classes = [str(c) for c in digits.target_names]
    return LabelledData(images[train], labels[train], images[test], labels[test], classes, spec)


def load_image(path: str | Path, size: int, in_channels: int) -> np.ndarray:
    """One image file as ``in_channels x size x size`` float32 in [0, 1] (bilinear resize)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if in_channels == 1 else "RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise IsscInputError(f"image '{path}': cannot read ({exc})") from None
    return array[None] if in_channels == 1 else np.ascontiguousarray(array.transpose(2, 0, 1))


def load_folder(
    folder: str | Path,
    size: int,
    in_channels: int = 3,
    test_fraction: float = TEST_FRACTION,
    seed: int = SPLIT_SEED,
    what: str = "--data",
) -> LabelledData:
    """A labelled folder (one sub-folder per class, sorted by name) as :class:`LabelledData`."""
    from ..codec.images import IMAGE_SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise IsscInputError(
            f"{what} '{folder}': not a folder (give a folder with one sub-folder per class, or 'digits')"
        )
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels, classes = [], [], []
    for class_dir in class_dirs:
        members = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not members:
            continue
        labels.extend([len(classes)] * len(members))
        classes.append(class_dir.name)
        files.extend(members)
    if len(classes) < 2:
        raise IsscInputError(
            f"{what} '{folder}': needs at least two sub-folders (one per class) with images "
            f"({', '.join(IMAGE_SUFFIXES)}), found {len(classes)}"
        )
    if len(files) > MAX_FOLDER_IMAGES:
        raise IsscInputError(
            f"{what} '{folder}': {len(files)} images, more than the {MAX_FOLDER_IMAGES} held in memory"
        )
    images = np.stack([load_image(p, size, in_channels) for p in files])
    labels = np.asarray(labels, dtype=np.int64)
    train, test = split_indices(labels, test_fraction, seed)
    spec = {
        "kind": "folder",
        "path": str(folder),
        "images": int(labels.size),
        "size": size,
        "in_channels": in_channels,
        "split": {"test_fraction": test_fraction, "seed": seed, "train": int(train.size), "test": int(test.size)},
    }
    return LabelledData(images[train], labels[train], images[test], labels[test], classes, spec)


def load_data(source, size: int | None = None, in_channels: int | None = None, what: str = "--data") -> LabelledData:
    """``'digits'`` or a labelled folder (``size`` default 32, ``in_channels`` default 3 for folders)."""
    if str(source) == DIGITS:
        if size not in (None, 8) or in_channels not in (None, 1):
            raise IsscInputError(f"{what} digits: the digits are 1 x 8 x 8; --size and --gray do not apply")
        return load_digits()
    return load_folder(source, size or 32, in_channels or 3, what=what)


def data_from_spec(spec: dict, what: str = "manifest data") -> LabelledData:
    """Rebuild the data a family was trained on from its manifest's ``data`` entry."""
    if not isinstance(spec, dict):
        raise IsscInputError(f"{what}: must be a mapping")
    split = spec.get("split", {})
    split = split if isinstance(split, dict) else {}
    fraction, seed = split.get("test_fraction", TEST_FRACTION), split.get("seed", SPLIT_SEED)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise IsscInputError(f"{what}: split.test_fraction must be in [0, 1), got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise IsscInputError(f"{what}: split.seed must be an integer in [0, 2^32), got {seed!r}")
    if spec.get("kind") == DIGITS:
        return load_digits(fraction, seed)
    if spec.get("kind") == "folder":
        path, size, channels = spec.get("path"), spec.get("size"), spec.get("in_channels")
        if not isinstance(path, str) or not isinstance(size, int) or not 2 <= size <= 1024 or channels not in (1, 3):
            raise IsscInputError(f"{what}: a folder needs path, size (2..1024) and in_channels (1 or 3)")
        return load_folder(path, size, channels, fraction, seed, what=what)
    raise IsscInputError(f"{what}: unknown kind {spec.get('kind')!r} (digits or folder)")
