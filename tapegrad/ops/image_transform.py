"""``tf.image`` geometry and colour: flips, rotations, crops, pads, dtype conversion, brightness,
contrast, greyscale and standardisation, composed of tapegrad ops (so differentiable and
traceable). Images are ``[h, w, c]`` or ``[batch, h, w, c]``; random ops draw from ``tf.random``.
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor, convert_to_tensor
from .array import concat, pad, reverse, transpose
from .image import resize
from .math import cast, clip_by_value, maximum, multiply, sqrt
from .reduce import reduce_mean, reduce_sum

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "central_crop",
    "convert_image_dtype",
    "crop_to_bounding_box",
    "flip_left_right",
    "flip_up_down",
    "grayscale_to_rgb",
    "pad_to_bounding_box",
    "per_image_standardization",
    "random_brightness",
    "random_contrast",
    "random_crop",
    "random_flip_left_right",
    "random_flip_up_down",
    "resize_with_crop_or_pad",
    "resize_with_pad",
    "rgb_to_grayscale",
    "rot90",
    "transpose_image",
]


def _image(x, what: str) -> Tensor:
    t = convert_to_tensor(x)
    if t.ndim not in (3, 4):
        raise ValueError(f"{what}: 'image' (shape {t.shape}) must have either 3 or 4 dimensions.")
    return t


def flip_left_right(image) -> Tensor:
    """The image mirrored left to right (along width).

    >>> import tapegrad as tf
    >>> tf.image.flip_left_right([[[1], [2], [3]]]).numpy()[0, :, 0].tolist()
    [3, 2, 1]
    """
    return reverse(_image(image, "flip_left_right"), [-2])


def flip_up_down(image) -> Tensor:
    """The image mirrored top to bottom (along height).

    >>> import tapegrad as tf
    >>> tf.image.flip_up_down([[[1]], [[2]]]).numpy()[:, 0, 0].tolist()
    [2, 1]
    """
    return reverse(_image(image, "flip_up_down"), [-3])


def _random_flip(image, axis: int, seed, what: str) -> Tensor:
    from .. import random
    from .math import where

    image = _image(image, what)
    if image.ndim == 3:
        flip = random.uniform([], seed=seed) < 0.5
        return where(flip, reverse(image, [axis]), image)
    flip = random.uniform([image.shape[0], 1, 1, 1], seed=seed) < 0.5
    return where(flip, reverse(image, [axis]), image)


def random_flip_left_right(image, seed=None) -> Tensor:
    """Each image mirrored left to right with probability 1/2.

    >>> import tapegrad as tf
    >>> tf.image.random_flip_left_right(tf.ones([2, 2, 1])).shape
    TensorShape([2, 2, 1])
    """
    return _random_flip(image, -2, seed, "random_flip_left_right")


def random_flip_up_down(image, seed=None) -> Tensor:
    """Each image mirrored top to bottom with probability 1/2.

    >>> import tapegrad as tf
    >>> tf.image.random_flip_up_down(tf.ones([3, 2, 2, 1])).shape
    TensorShape([3, 2, 2, 1])
    """
    return _random_flip(image, -3, seed, "random_flip_up_down")


def _swap_hw(image: Tensor) -> Tensor:
    return transpose(image, [1, 0, 2] if image.ndim == 3 else [0, 2, 1, 3])


def rot90(image, k=1, name=None) -> Tensor:
    """The image rotated counter-clockwise by `k` quarter turns.

    >>> import tapegrad as tf
    >>> tf.image.rot90([[[1], [2]], [[3], [4]]]).numpy()[..., 0].tolist()
    [[2, 4], [1, 3]]
    """
    image = _image(image, "rot90")
    k = int(k.numpy() if isinstance(k, Tensor) else k) % 4
    if k == 1:
        return _swap_hw(reverse(image, [-2]))
    if k == 2:
        return reverse(image, [-3, -2])
    if k == 3:
        return reverse(_swap_hw(image), [-2])
    return image


def transpose_image(image, name=None) -> Tensor:
    """Height and width swapped (``tf.image.transpose``).

    >>> import tapegrad as tf
    >>> tf.image.transpose(tf.zeros([2, 3, 1])).shape
    TensorShape([3, 2, 1])
    """
    return _swap_hw(_image(image, "transpose"))


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width) -> Tensor:
    """The box of size `target_*` whose top-left corner is at `offset_*`.

    >>> import tapegrad as tf
    >>> tf.image.crop_to_bounding_box(tf.zeros([4, 4, 1]), 1, 1, 2, 3).shape
    TensorShape([2, 3, 1])
    """
    image = _image(image, "crop_to_bounding_box")
    oh, ow, th, tw = (int(v) for v in (offset_height, offset_width, target_height, target_width))
    h, w = image.shape[-3], image.shape[-2]
    if oh < 0 or ow < 0:
        raise ValueError("offset_height and offset_width must be >= 0 (crop_to_bounding_box)")
    if th <= 0 or tw <= 0:
        raise ValueError("target_width and target_height must be > 0 (crop_to_bounding_box)")
    if oh + th > h:
        raise ValueError(f"height must be >= target + offset: {h} < {th} + {oh} (crop_to_bounding_box)")
    if ow + tw > w:
        raise ValueError(f"width must be >= target + offset: {w} < {tw} + {ow} (crop_to_bounding_box)")
    return image[..., oh : oh + th, ow : ow + tw, :]


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width) -> Tensor:
    """The image placed at `offset_*` in zeros of size `target_*`.

    >>> import tapegrad as tf
    >>> tf.image.pad_to_bounding_box(tf.ones([1, 1, 1]), 1, 0, 2, 2).numpy()[..., 0].tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    image = _image(image, "pad_to_bounding_box")
    oh, ow, th, tw = (int(v) for v in (offset_height, offset_width, target_height, target_width))
    h, w = image.shape[-3], image.shape[-2]
    if oh < 0 or ow < 0:
        raise ValueError("offset_height and offset_width must be >= 0 (pad_to_bounding_box)")
    if th - oh - h < 0:
        raise ValueError("height must be <= target - offset (pad_to_bounding_box)")
    if tw - ow - w < 0:
        raise ValueError("width must be <= target - offset (pad_to_bounding_box)")
    pads = [[oh, th - oh - h], [ow, tw - ow - w], [0, 0]]
    return pad(image, ([[0, 0]] if image.ndim == 4 else []) + pads)


def resize_with_crop_or_pad(image, target_height, target_width) -> Tensor:
    """Centre-cropped and/or zero-padded (evenly) to `target_height` x `target_width`.

    >>> import tapegrad as tf
    >>> tf.image.resize_with_crop_or_pad(tf.ones([4, 2, 1]), 2, 4).numpy()[..., 0].tolist()
    [[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]]
    """
    image = _image(image, "resize_with_crop_or_pad")
    th, tw = int(target_height), int(target_width)
    h, w = image.shape[-3], image.shape[-2]
    cropped = crop_to_bounding_box(
        image, max((h - th) // 2, 0), max((w - tw) // 2, 0), min(th, h), min(tw, w)
    )
    return pad_to_bounding_box(cropped, max((th - h) // 2, 0), max((tw - w) // 2, 0), th, tw)


def resize_with_pad(image, target_height, target_width, method="bilinear", antialias=False) -> Tensor:
    """Resized keeping the aspect ratio to fit, then zero-padded evenly to the target size.

    >>> import tapegrad as tf
    >>> tf.image.resize_with_pad(tf.ones([2, 4, 1]), 4, 4).numpy()[..., 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
    """
    image = _image(image, "resize_with_pad")
    th, tw = int(target_height), int(target_width)
    h, w = image.shape[-3], image.shape[-2]
    ratio = max(np.float32(w) / np.float32(tw), np.float32(h) / np.float32(th))
    fh, fw = np.float32(h) / ratio, np.float32(w) / ratio
    resized = resize(image, [int(np.floor(fh)), int(np.floor(fw))], method=method, antialias=antialias)
    # TF centres by the unrounded resized size
    top, left = (max(0, int(np.floor((np.float32(t) - f) / 2))) for t, f in ((th, fh), (tw, fw)))
    return pad_to_bounding_box(resized, top, left, th, tw)


def central_crop(image, central_fraction) -> Tensor:
    """The central `central_fraction` (0 < f <= 1) of the image along height and width.

    >>> import tapegrad as tf
    >>> tf.image.central_crop(tf.zeros([10, 10, 3]), 0.5).shape  # TF's rounding: 2 off each side
    TensorShape([6, 6, 3])
    """
    image = _image(image, "central_crop")
    if central_fraction <= 0.0 or central_fraction > 1.0:
        raise ValueError("central_fraction must be within (0, 1]")
    if central_fraction == 1.0:
        return image
    h, w = image.shape[-3], image.shape[-2]
    top = int((h - h * central_fraction) / 2)
    left = int((w - w * central_fraction) / 2)
    return (
        image[..., top : h - top, left : w - left, :]
        if image.ndim == 3
        else image[:, top : h - top, left : w - left, :]
    )


def random_crop(value, size, seed=None, name=None) -> Tensor:
    """A crop of shape `size` at a uniformly random offset (``tf.image.random_crop``).

    >>> import tapegrad as tf
    >>> tf.image.random_crop(tf.zeros([5, 5, 3]), [2, 3, 3]).shape
    TensorShape([2, 3, 3])
    """
    from .. import random

    value = convert_to_tensor(value)
    size = [int(s) for s in np.asarray(size.numpy() if isinstance(size, Tensor) else size).reshape(-1)]
    if len(size) != value.ndim or any(s > d for s, d in zip(size, value.shape)):
        raise ValueError(f"Need value.shape >= size, got {list(value.shape)} and {size} (random_crop)")
    offsets = [
        int(random.uniform([], 0, d - s + 1, dtype=dtypes.int32, seed=seed)) if d > s else 0
        for d, s in zip(value.shape, size)
    ]
    return value[tuple(slice(o, o + s) for o, s in zip(offsets, size))]


def convert_image_dtype(image, dtype, saturate=False, name=None) -> Tensor:
    """Between integer images (0..MAX) and float images (0..1), scaling as TF.

    >>> import tapegrad as tf
    >>> tf.image.convert_image_dtype(tf.constant([0, 255], tf.uint8), tf.float32).numpy().tolist()
    [0.0, 1.0]
    """
    image = convert_to_tensor(image)
    dtype = dtypes.as_dtype(dtype)
    src = image.dtype
    if not (dtype.is_floating or dtype.is_integer) or not (src.is_floating or src.is_integer):
        raise AttributeError(
            f"convert_image_dtype: only integer and float images, got {src.name} -> {dtype.name}"
        )
    if src == dtype:
        return image
    if src.is_integer and dtype.is_integer:
        in_max, out_max = int(src.max), int(dtype.max)
        if in_max > out_max:
            scale = (in_max + 1) // (out_max + 1)
            return cast(image // scale, dtype)
        scale = (out_max + 1) // (in_max + 1)
        return cast(image, dtype) * scale
    if src.is_floating and dtype.is_floating:
        return cast(image, dtype)
    if src.is_integer:
        return multiply(cast(image, dtype), np.array(1.0 / float(src.max), dtype._np))
    scaled = image * np.array(float(dtype.max) + 0.5, src._np)
    if saturate:
        scaled = clip_by_value(scaled, float(dtype.min), float(dtype.max))
    return cast(scaled, dtype)


def _as_float(image: Tensor):
    return image if image.dtype.is_floating else convert_image_dtype(image, dtypes.float32)


def _back(result: Tensor, original: Tensor) -> Tensor:
    return (
        result if original.dtype.is_floating else convert_image_dtype(result, original.dtype, saturate=True)
    )


def adjust_brightness(image, delta) -> Tensor:
    """`delta` added to every pixel (of the image as floats in [0, 1] for integer images).

    >>> import tapegrad as tf
    >>> tf.image.adjust_brightness([[[0.5]]], 0.25).numpy().item()
    0.75
    """
    image = convert_to_tensor(image)
    x = _as_float(image)
    return _back(x + cast(convert_to_tensor(delta), x.dtype), image)


def adjust_contrast(images, contrast_factor) -> Tensor:
    """Each channel's distance from its mean over the image scaled by `contrast_factor`.

    >>> import tapegrad as tf
    >>> tf.image.adjust_contrast([[[0.0], [1.0]]], 2.0).numpy()[..., 0].tolist()
    [[-0.5, 1.5]]
    """
    images = convert_to_tensor(images)
    x = _as_float(images)
    mean = reduce_mean(x, axis=[-3, -2], keepdims=True)
    return _back((x - mean) * cast(convert_to_tensor(contrast_factor), x.dtype) + mean, images)


def random_brightness(image, max_delta, seed=None) -> Tensor:
    """``adjust_brightness`` by a delta drawn uniformly from [-max_delta, max_delta).

    >>> import tapegrad as tf
    >>> tf.image.random_brightness(tf.zeros([2, 2, 1]), 0.1).shape
    TensorShape([2, 2, 1])
    """
    from .. import random

    if max_delta < 0:
        raise ValueError("max_delta must be non-negative.")
    return adjust_brightness(image, random.uniform([], -max_delta, max_delta, seed=seed))


def random_contrast(image, lower, upper, seed=None) -> Tensor:
    """``adjust_contrast`` by a factor drawn uniformly from [lower, upper).

    >>> import tapegrad as tf
    >>> tf.image.random_contrast(tf.zeros([2, 2, 1]), 0.5, 1.5).shape
    TensorShape([2, 2, 1])
    """
    from .. import random

    if upper <= lower:
        raise ValueError("upper must be > lower.")
    if lower < 0:
        raise ValueError("lower must be non-negative.")
    return adjust_contrast(image, random.uniform([], lower, upper, seed=seed))


def rgb_to_grayscale(images, name=None) -> Tensor:
    """One channel: the ITU-R 601 luma of RGB (``0.2989 R + 0.587 G + 0.114 B``).

    >>> import tapegrad as tf
    >>> round(float(tf.image.rgb_to_grayscale([[[1.0, 1.0, 1.0]]])[0, 0, 0]), 4)
    0.9999
    """
    images = convert_to_tensor(images)
    x = _as_float(images)
    gray = reduce_sum(x * np.array([0.2989, 0.5870, 0.1140], x.dtype._np), axis=-1, keepdims=True)
    return _back(gray, images)


def grayscale_to_rgb(images, name=None) -> Tensor:
    """The one channel repeated as three.

    >>> import tapegrad as tf
    >>> tf.image.grayscale_to_rgb(tf.zeros([2, 2, 1])).shape
    TensorShape([2, 2, 3])
    """
    images = convert_to_tensor(images)
    return concat([images, images, images], axis=-1)


def per_image_standardization(image) -> Tensor:
    """Each image scaled to mean 0 and variance 1 (stddev at least 1/sqrt(pixels)), as float32
    for integer images.

    >>> import tapegrad as tf
    >>> tf.image.per_image_standardization([[[0.0], [2.0]]]).numpy()[..., 0].tolist()
    [[-1.0, 1.0]]
    """
    image = convert_to_tensor(image)
    x = image if image.dtype.is_floating else cast(image, dtypes.float32)
    n = int(np.prod(x.shape[-3:]))
    mean = reduce_mean(x, axis=[-3, -2, -1], keepdims=True)
    std = sqrt(reduce_mean((x - mean) * (x - mean), axis=[-3, -2, -1], keepdims=True))
    return (x - mean) / maximum(std, np.array(1.0 / np.sqrt(n), x.dtype._np))
