"""The UCI optical-recognition handwritten digits (8×8, 1,797 images), shipped with tapegrad.

See DIGITS_ATTRIBUTION.md beside this file for its source and licence (CC BY 4.0).
"""
from __future__ import annotations

import os

import numpy as np

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.npz")


def load_data(test_split: float = 0.2, seed: int = 113):
    """Return ``(x_train, y_train), (x_test, y_test)`` like ``keras.datasets.mnist.load_data``.

    Images are uint8 of shape (n, 8, 8) scaled to 0-255 (the original counts 0-16 × 255/16,
    rounded), so MNIST code that divides by 255 works unchanged; labels are uint8 digits.
    The split is a fixed shuffle by `seed` (1,438 train / 359 test by default).

    >>> from tapegrad.keras.datasets import digits
    >>> (x_train, y_train), (x_test, y_test) = digits.load_data()
    >>> x_train.shape, x_test.shape, x_train.dtype, int(x_train.max())
    ((1438, 8, 8), (359, 8, 8), dtype('uint8'), 255)
    """
    if not 0 < test_split < 1:
        raise ValueError(f"test_split must be in (0, 1), got {test_split}")
    images, labels = _load(_PATH)
    x = np.rint(images.astype(np.float32) * (255.0 / 16.0)).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_split))
    test, train = order[:n_test], order[n_test:]
    return (x[train], labels[train]), (x[test], labels[test])


def _load(path: str):
    try:
        with np.load(path, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError, KeyError) as e:
        raise OSError(f"The bundled digits file {path} is missing or corrupt ({e}); reinstall tapegrad.") \
            from None
    if images.shape != (1797, 8, 8) or labels.shape != (1797,) or images.max() > 16 or labels.max() > 9:
        raise OSError(f"The bundled digits file {path} has unexpected contents; reinstall tapegrad.")
    return images, labels
