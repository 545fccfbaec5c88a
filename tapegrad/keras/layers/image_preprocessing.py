"""Keras 3's image preprocessing and augmentation layers (channels_last): Resizing, CenterCrop,
RandomCrop, RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast and
RandomBrightness. The random layers change their inputs only when ``training=True`` (identity at
inference, as Keras 3); their draws come from ``tf.random``. Rotation, zoom and translation are
one affine resampling (bilinear or nearest, with Keras' fill modes) run on the values.
"""

from __future__ import annotations

import numpy as np

from ... import random as tf_random
from ...core import dtypes
from ...core.tensor import Tensor, convert_to_tensor
from ...ops.array import reverse, stack
from ...ops.image import resize
from ...ops.image_transform import crop_to_bounding_box
from ...ops.math import cast, clip_by_value, where
from ...ops.reduce import reduce_mean
from ...ops.script import host_call
from .base import Layer

__all__ = [
    "CenterCrop",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Resizing",
]


class _ImageLayer(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.data_format = "channels_last"

    def _float(self, x) -> Tensor:
        x = convert_to_tensor(x)
        return cast(x, self._dtype_compute) if x.dtype != self._dtype_compute else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


def _smart_size(h, w, th, tw):
    """The largest centred window of aspect th:tw in an h x w image: (top, left, height, width)."""
    ch, cw = min(h, round(w * th / tw)), min(w, round(h * tw / th))
    return (h - ch) // 2, (w - cw) // 2, ch, cw


class Resizing(_ImageLayer):
    """Images resized to `height` x `width` (``tf.image.resize``), optionally cropped or padded
    to the target aspect ratio first.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Resizing(2, 3)(tf.zeros([1, 4, 4, 3])).shape
    TensorShape([1, 2, 3, 3])
    """

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format, **kwargs)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Only one of `pad_to_aspect_ratio` and `crop_to_aspect_ratio` can be True.")
        self.height, self.width, self.interpolation = int(height), int(width), interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.fill_mode, self.fill_value, self.antialias = fill_mode, fill_value, antialias

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        h, w = x.shape[-3], x.shape[-2]
        if self.crop_to_aspect_ratio:
            top, left, ch, cw = _smart_size(h, w, self.height, self.width)
            x = crop_to_bounding_box(x, top, left, ch, cw)
        elif self.pad_to_aspect_ratio:
            from ...ops.image_transform import pad_to_bounding_box

            ph = max(h, round(w * self.height / self.width))
            pw = max(w, round(h * self.width / self.height))
            fill = np.asarray(self.fill_value, x.dtype.as_numpy_dtype)  # pad with fill_value, not zeros
            x = pad_to_bounding_box(x - fill, (ph - h) // 2, (pw - w) // 2, ph, pw) + fill
        out = resize(x, [self.height, self.width], method=self.interpolation, antialias=self.antialias)
        return cast(out, self._dtype_compute) if out.dtype != self._dtype_compute else out

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-3], self.height, self.width, tuple(input_shape)[-1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }


class CenterCrop(_ImageLayer):
    """The central `height` x `width` window (an image smaller than that is first resized to
    fit, keeping the aspect ratio, as Keras 3).

    >>> import tapegrad as tf
    >>> tf.keras.layers.CenterCrop(2, 2)(tf.zeros([4, 5, 1])).shape
    TensorShape([2, 2, 1])
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, inputs):
        x = self._float(inputs)
        h, w = x.shape[-3], x.shape[-2]
        if h >= self.height and w >= self.width:
            return crop_to_bounding_box(
                x, (h - self.height) // 2, (w - self.width) // 2, self.height, self.width
            )
        top, left, ch, cw = _smart_size(h, w, self.height, self.width)
        return resize(crop_to_bounding_box(x, top, left, ch, cw), [self.height, self.width])

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-3], self.height, self.width, tuple(input_shape)[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomCrop(_ImageLayer):
    """In training, a random `height` x `width` window (for a smaller image, the largest centred
    window of that aspect, resized); the identity at inference, as Keras 3.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomCrop(2, 3)(tf.zeros([2, 5, 5, 1]), training=True).shape
    TensorShape([2, 2, 3, 1])
    """

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(data_format, name=name, **kwargs)
        self.height, self.width, self.seed = int(height), int(width), seed

    def call(self, inputs, training=True):
        x = self._float(inputs)
        if not training:  # Keras 3: the identity at inference
            return x
        h, w = x.shape[-3], x.shape[-2]
        if h >= self.height and w >= self.width:
            corner = tf_random.uniform([2], 0, 2**30, dtype=dtypes.int32, seed=self.seed)
            th, tw = self.height, self.width

            def crop(images, corner):  # one window for the batch, as Keras 3
                top, left = (int(v) for v in np.asarray(corner._value) % [h - th + 1, w - tw + 1])
                return Tensor(np.asarray(images._value)[..., top : top + th, left : left + tw, :])

            shape = (*x._value.shape[:-3], th, tw, x._value.shape[-1])
            return host_call(crop, [x, corner], (x.dtype, shape), "RandomCrop")
        top, left, ch, cw = _smart_size(h, w, self.height, self.width)
        return resize(crop_to_bounding_box(x, top, left, ch, cw), [self.height, self.width])

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-3], self.height, self.width, tuple(input_shape)[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width, "seed": self.seed}


class RandomFlip(_ImageLayer):
    """Each image flipped with probability 1/2 (`mode`: ``"horizontal"``, ``"vertical"`` or
    ``"horizontal_and_vertical"``) in training; identity at inference.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomFlip("horizontal")(tf.ones([2, 2, 1]), training=False).numpy().sum()
    np.float32(4.0)
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode argument {mode}")
        self.mode, self.seed = mode, seed

    def call(self, inputs, training=True):
        x = self._float(inputs)
        if not training:
            return x
        batch = [x.shape[0], 1, 1, 1] if x.ndim == 4 else []
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = where(tf_random.uniform(batch, seed=self.seed) < 0.5, reverse(x, [-2]), x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = where(tf_random.uniform(batch, seed=self.seed) < 0.5, reverse(x, [-3]), x)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


def _range(factor, what: str, symmetric=True):
    lo, hi = factor if isinstance(factor, (tuple, list)) else (-factor if symmetric else 0, factor)
    if lo > hi:
        raise ValueError(f"{what}: factor lower bound {lo} is greater than the upper bound {hi}")
    return float(lo), float(hi)


def _map_coords(coords, size, mode):
    """Coordinates outside [0, size) folded back per Keras' `fill_mode` (constant: left out)."""
    if mode == "reflect":  # d c b a | a b c d | d c b a
        period = 2 * size
        c = np.mod(coords, period)
        c = np.where(c >= size, period - 1 - c, c)
        return np.clip(c, 0, size - 1)
    if mode == "wrap":
        return np.mod(coords, size)
    if mode == "mirror":  # d c b | a b c d | c b a
        if size == 1:
            return np.zeros_like(coords)
        period = 2 * (size - 1)
        c = np.abs(np.mod(coords, period))
        return np.where(c >= size, period - c, c)
    return np.clip(coords, 0, size - 1) if mode == "nearest" else coords


def affine(images: np.ndarray, matrices: np.ndarray, interpolation: str, fill_mode: str, fill_value):
    """Each ``[h, w, c]`` image resampled at ``matrix @ (x, y, 1)`` of each output pixel."""
    n, h, w, _ = images.shape
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    out = np.empty(images.shape, np.float64)
    for i in range(n):
        a = matrices[i]
        sx = a[0] * xs + a[1] * ys + a[2]
        sy = a[3] * xs + a[4] * ys + a[5]
        out[i] = _sample(images[i], sx, sy, interpolation, fill_mode, fill_value)
    return out.astype(images.dtype)


def _sample(image, sx, sy, interpolation, fill_mode, fill_value):
    h, w, _ = image.shape

    def read(yy, xx):
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w) if fill_mode == "constant" else None
        yi = _map_coords(yy, h, fill_mode).astype(np.int64)
        xi = _map_coords(xx, w, fill_mode).astype(np.int64)
        vals = image[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return vals if inside is None else np.where(inside[..., None], vals, fill_value)

    if interpolation == "nearest":
        return read(np.round(sy), np.round(sx))
    y0, x0 = np.floor(sy), np.floor(sx)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    return (1 - wy) * ((1 - wx) * read(y0, x0) + wx * read(y0, x0 + 1)) + wy * (
        (1 - wx) * read(y0 + 1, x0) + wx * read(y0 + 1, x0 + 1)
    )


class _AffineLayer(_ImageLayer):
    def __init__(self, fill_mode, interpolation, seed, fill_value, data_format, **kwargs):
        super().__init__(data_format, **kwargs)
        if fill_mode not in ("reflect", "wrap", "constant", "nearest", "mirror"):
            raise NotImplementedError(
                f"Unknown `fill_mode` {fill_mode}. Expected of one "
                f"['reflect', 'wrap', 'constant', 'nearest', 'mirror']."
            )
        if interpolation not in ("nearest", "bilinear"):
            raise NotImplementedError(
                f"Unknown `interpolation` {interpolation}. Expected of one ['nearest', 'bilinear']."
            )
        self.fill_mode, self.interpolation, self.seed, self.fill_value = (
            fill_mode,
            interpolation,
            seed,
            fill_value,
        )

    def _draw(self, n) -> Tensor:
        """The random parameters of n images, drawn with tf.random (so traced and seeded)."""
        raise NotImplementedError

    def _matrices(self, draws: np.ndarray, h, w) -> np.ndarray:
        """Per image, the output -> input map (a0 a1 a2; a3 a4 a5) from the draws."""
        raise NotImplementedError

    def call(self, inputs, training=True):
        x = self._float(inputs)
        if not training:
            return x
        batched = x if x.ndim == 4 else x[None]
        n, h, w = batched.shape[0], batched.shape[1], batched.shape[2]
        draws = self._draw(n)

        def run(images, draws):
            mats = self._matrices(np.asarray(draws._value, np.float64), h, w)
            return Tensor(
                affine(np.asarray(images._value), mats, self.interpolation, self.fill_mode, self.fill_value)
            )

        out = host_call(run, [batched, draws], (x.dtype, batched._value.shape), type(self).__name__)
        return out if x.ndim == 4 else out[0]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "fill_value": self.fill_value,
        }


class RandomRotation(_AffineLayer):
    """Each image rotated by a random ``factor * 2 pi`` (factor drawn from `factor`'s range;
    positive turns counter-clockwise) in training; identity at inference.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomRotation(0.1)(tf.ones([1, 4, 4, 1]), training=True).shape
    TensorShape([1, 4, 4, 1])
    """

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        value_range=(0, 255),
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._lo, self._hi = _range(factor, "RandomRotation")

    def _draw(self, n):
        return tf_random.uniform([n], self._lo, self._hi, seed=self.seed)

    def _matrices(self, draws, h, w):
        angles = draws * 2 * np.pi
        cx, cy = (w - 1) / 2, (h - 1) / 2
        cos, sin = np.cos(angles), np.sin(angles)
        # output (x, y) reads input: the inverse rotation about the centre
        return np.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": (self._lo, self._hi)}


class RandomZoom(_AffineLayer):
    """Each image zoomed by a random factor in training (a positive factor zooms out, a
    negative in, as Keras 3); `width_factor` None keeps the aspect ratio.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomZoom(0.2)(tf.ones([4, 4, 1]), training=True).shape
    TensorShape([4, 4, 1])
    """

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _range(height_factor, "RandomZoom")
        self._w = None if width_factor is None else _range(width_factor, "RandomZoom")

    def _draw(self, n):
        zy = tf_random.uniform([n], *self._h, seed=self.seed)
        return stack([zy, zy if self._w is None else tf_random.uniform([n], *self._w, seed=self.seed)], 1)

    def _matrices(self, draws, h, w):
        zy, zx = 1.0 + draws[:, 0], 1.0 + draws[:, 1]
        cx, cy = (w - 1) / 2, (h - 1) / 2
        zero = np.zeros(len(draws))
        return np.stack([zx, zero, cx - zx * cx, zero, zy, cy - zy * cy], axis=1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


class RandomTranslation(_AffineLayer):
    """Each image shifted by random fractions of its height and width in training.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomTranslation(0.1, 0.1)(tf.ones([4, 4, 1]), training=True).shape
    TensorShape([4, 4, 1])
    """

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h, self._w = (
            _range(height_factor, "RandomTranslation"),
            _range(width_factor, "RandomTranslation"),
        )

    def _draw(self, n):
        return stack(
            [
                tf_random.uniform([n], *self._h, seed=self.seed),
                tf_random.uniform([n], *self._w, seed=self.seed),
            ],
            1,
        )

    def _matrices(self, draws, h, w):
        dy, dx = draws[:, 0] * h, draws[:, 1] * w
        one, zero = np.ones(len(draws)), np.zeros(len(draws))
        return np.stack([one, zero, -dx, zero, one, -dy], axis=1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


class RandomContrast(_ImageLayer):
    """In training, each image's contrast scaled by a random factor in ``[1 - lower, 1 + upper]``
    about its per-channel mean, clipped to `value_range`.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomContrast(0.2)(tf.ones([2, 2, 1]), training=True).numpy().max()
    np.float32(1.0)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.factor, self.value_range, self.seed = factor, value_range, seed
        self._lo, self._hi = _range(factor, "RandomContrast")

    def call(self, inputs, training=True):
        x = self._float(inputs)
        if not training:
            return x
        shape = [x.shape[0], 1, 1, 1] if x.ndim == 4 else []
        f = 1.0 + tf_random.uniform(shape, -abs(self._lo), self._hi, seed=self.seed)
        mean = reduce_mean(x, axis=[-3, -2], keepdims=True)
        return clip_by_value((x - mean) * cast(f, x.dtype) + mean, *self.value_range)

    def get_config(self) -> dict:
        factor = self.factor if isinstance(self.factor, (tuple, list)) else (0, self.factor)  # Keras 3's form
        return {**super().get_config(), "factor": factor, "value_range": self.value_range, "seed": self.seed}


class RandomBrightness(_ImageLayer):
    """In training, a random ``factor * (value_range span)`` added to each image, clipped.

    >>> import tapegrad as tf
    >>> tf.keras.layers.RandomBrightness(0.1)(tf.zeros([2, 2, 3]), training=False).numpy().sum()
    np.float32(0.0)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.factor, self.value_range, self.seed = factor, value_range, seed
        self._lo, self._hi = _range(factor, "RandomBrightness")

    def call(self, inputs, training=True):
        x = self._float(inputs)
        if not training:
            return x
        shape = [x.shape[0], 1, 1, 1] if x.ndim == 4 else []
        lo, hi = self.value_range
        delta = tf_random.uniform(shape, self._lo, self._hi, seed=self.seed) * (hi - lo)
        return clip_by_value(x + cast(delta, x.dtype), lo, hi)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "factor": (self._lo, self._hi),
            "value_range": self.value_range,
            "seed": self.seed,
        }
