"""The pairs ``tapegrad gan pix2pix`` learns from, offline: outlines of the bundled digits and the digits
filled in (``digit_pairs``), or a folder of side-by-side image pairs as TensorFlow's facades data set
has them (``load_folder_pairs``, with Pillow); see ``tapegrad.apps.pix2pix``.
"""
from __future__ import annotations

import glob
import os

import numpy as np

import tapegrad as tf

from . import gan

DIGITS_SIZE = 32
FOLDER_SIZE = 64
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The (size_out, size_in) matrix of bilinear resizing along one axis, with half-pixel centres (as
    ``tf.image.resize(..., "bilinear")``): each row's weights sum to 1.

    >>> resize_matrix(2, 4)
    array([[1.  , 0.  ],
           [0.75, 0.25],
           [0.25, 0.75],
           [0.  , 1.  ]], dtype=float32)
    """
    centres = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    centres = np.clip(centres, 0, size_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    weight = centres - low
    matrix = np.zeros((size_out, size_in), np.float32)
    matrix[np.arange(size_out), low] += 1 - weight
    matrix[np.arange(size_out), high] += weight
    return matrix


def resize(images, size: int) -> np.ndarray:
    """Bilinear resize of (n, h, w) images to (n, size, size).

    >>> resize(np.ones((1, 8, 8)), 32).shape
    (1, 32, 32)
    """
    images = np.asarray(images, np.float32)
    rows, cols = resize_matrix(images.shape[1], size), resize_matrix(images.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, images, cols).astype(np.float32)


def outline(mask) -> np.ndarray:
    """The boundary pixels of the boolean shapes `mask` (n, h, w): in the shape, with one of their four
    neighbours outside it (or at the border).

    >>> outline(np.ones((1, 4, 4), bool))[0].astype(int)
    array([[1, 1, 1, 1],
           [1, 0, 0, 1],
           [1, 0, 0, 1],
           [1, 1, 1, 1]])
    """
    mask = np.asarray(mask, bool)
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)), constant_values=False)
    interior = mask & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    return mask & ~interior


def digit_pairs(images, size: int = DIGITS_SIZE) -> tuple:
    """``(inputs, targets)`` from uint8 digits (n, h, w): targets are the digits upsampled to `size`
    (bilinear), inputs their outlines (``outline`` of the pixels above half intensity); both float32
    (n, size, size, 1) in [-1, 1], the range of the generator's tanh.

    >>> inputs, targets = digit_pairs(np.full((1, 8, 8), 255, np.uint8), 16)
    >>> inputs.shape, float(targets.min()), float(inputs[0, 0, 0, 0]), float(inputs[0, 8, 8, 0])
    ((1, 16, 16, 1), 1.0, 1.0, -1.0)
    """
    filled = resize(np.asarray(images, np.float32) / 255.0, size)
    edges = outline(filled > 0.5)
    return ((edges.astype(np.float32) * 2 - 1)[..., None], (filled * 2 - 1)[..., None].astype(np.float32))


def load_digit_pairs(size: int = DIGITS_SIZE) -> tuple:
    """``(train_inputs, train_targets), (test_inputs, test_targets)`` from the bundled digits' split."""
    (x_train, _), (x_test, _) = tf.keras.datasets.digits.load_data()
    return digit_pairs(x_train, size), digit_pairs(x_test, size)


def split_pair(image: np.ndarray) -> tuple:
    """A side-by-side pair (h, 2w, c) as ``(input, target)``: the target is the left half, the input the
    right (the facades layout, as the tutorial's ``load`` splits it).

    >>> pair = np.concatenate([np.zeros((2, 2, 3)), np.ones((2, 2, 3))], axis=1)
    >>> [float(half.mean()) for half in split_pair(pair)]
    [1.0, 0.0]
    """
    w = image.shape[1] // 2
    return image[:, w:2 * w], image[:, :w]


def read_pair(path: str, size: int) -> tuple:
    """The image file `path`, split into ``(input, target)`` and each resized to `size`×`size`: float32
    (size, size, 3) in [-1, 1].  Needs Pillow."""
    from PIL import Image
    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        if width < 2:
            raise ValueError(f"{path} is not a side-by-side pair ({width}x{height} pixels)")
        half = width // 2
        halves = [image.crop((half, 0, 2 * half, height)), image.crop((0, 0, half, height))]
        pair = [np.asarray(h.resize((size, size), Image.BILINEAR), np.float32) / 127.5 - 1 for h in halves]
    return pair[0], pair[1]


def _image_files(folder: str) -> list:
    return sorted(p for p in glob.glob(os.path.join(glob.escape(folder), "*"))
                  if os.path.isfile(p) and p.lower().endswith(IMAGE_SUFFIXES))


def load_folder_pairs(folder: str, size: int = FOLDER_SIZE) -> tuple:
    """``(train_inputs, train_targets), (test_inputs, test_targets)`` from a folder of side-by-side pairs:
    ``train/`` with ``test/`` (or ``val/``), or all in `folder` with every tenth pair held out."""
    if not gan.have_pillow():
        raise OSError(f"Reading the images in {folder} needs Pillow: pip install 'tapegrad[images]'")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"No folder {folder} (--data DIR wants a folder of side-by-side image pairs)")
    train = _image_files(os.path.join(folder, "train"))
    test = _image_files(os.path.join(folder, "test")) or _image_files(os.path.join(folder, "val"))
    if not train or not test:
        everything = _image_files(folder)
        if len(everything) < 2:
            raise FileNotFoundError(
                f"No image pairs in {folder}: expected train/ and test/ (or val/) subfolders of side-by-side "
                f"pairs (target left, input right), or at least two such images in the folder itself")
        test = everything[::10]
        train = [p for i, p in enumerate(everything) if i % 10]

    def read(paths):
        inputs, targets = zip(*(read_pair(p, size) for p in paths))
        return np.stack(inputs), np.stack(targets)
    return read(train), read(test)


def check_size(size: int) -> int:
    """`size` if the U-Net can take it: a power of two, at least 8.

    >>> check_size(32)
    32
    >>> check_size(24)
    Traceback (most recent call last):
    ...
    ValueError: --image-size must be a power of two, at least 8, not 24
    """
    if size < 8 or size & (size - 1):
        raise ValueError(f"--image-size must be a power of two, at least 8, not {size}")
    return size


def data_key(data: str) -> str:
    """The data `data` names, as a run's record keeps it: ``digits`` or the folder's absolute path.

    >>> data_key("digits"), data_key("/data/facades/")
    ('digits', '/data/facades')
    """
    return data if data == "digits" else os.path.abspath(os.path.expanduser(data))


def load_pairs(data: str, image_size=None) -> tuple:
    """The training and held-out pairs `data` names (``digits`` or a folder), and the image size."""
    if data == "digits":
        size = check_size(image_size or DIGITS_SIZE)
        return load_digit_pairs(size), size
    size = check_size(image_size or FOLDER_SIZE)
    return load_folder_pairs(data, size), size
