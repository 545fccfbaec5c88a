"""Flatten, Reshape, UpSampling2D and ZeroPadding2D."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...core.aval import dims, prod
from ...core.tensor import Tensor
from ...ops.array import broadcast_to, pad, reshape
from ...ops.linalg import einsum
from ._utils import image_shape, normalize_data_format, normalize_tuple
from .base import Layer
from .input_spec import InputSpec


class Flatten(Layer):
    """Collapse every axis but the batch axis: (batch, ...) -> (batch, product of the rest).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Flatten()(tf.ones([2, 3, 4])).shape
    TensorShape([2, 12])
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        shape = dims(inputs)  # a traced batch size is symbolic: the reshape reads it when it runs
        return reshape(inputs, (shape[0], prod(shape[1:])))

    def compute_output_shape(self, input_shape):
        batch, *rest = input_shape
        return (batch, None if None in rest else math.prod(rest))

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape every example to `target_shape` (the batch axis stays; one entry may be -1).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Reshape((3, -1))(tf.ones([2, 12])).shape
    TensorShape([2, 3, 4])
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target = tuple(target_shape) if not isinstance(target_shape, numbers.Integral) else (target_shape,)
        if (not all(isinstance(d, numbers.Integral) and (d > 0 or d == -1) for d in target)
                or target.count(-1) > 1):
            raise ValueError(f"Invalid value for argument `target_shape`: expected a tuple of positive "
                             f"integers with at most one -1. Received: target_shape={target_shape}")
        self.target_shape = tuple(int(d) for d in target)

    def call(self, inputs):
        return reshape(inputs, (dims(inputs)[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if -1 not in self.target_shape:
            return input_shape[:1] + self.target_shape
        rest = input_shape[1:]
        known = math.prod(d for d in self.target_shape if d != -1)
        if None in rest:
            missing = None
        elif math.prod(rest) % known:
            raise ValueError(f"The total size of the input ({rest}) is not divisible by the known dims of "
                             f"target_shape={self.target_shape} of layer '{self.name}'.")
        else:
            missing = math.prod(rest) // known
        return input_shape[:1] + tuple(missing if d == -1 else d for d in self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


def _bilinear_matrix(size_in: int, scale: int) -> np.ndarray:
    """(size_in * scale, size_in) weights of half-pixel-centre linear interpolation (tf.image.resize)."""
    out = np.arange(size_in * scale)
    source = np.maximum((out + 0.5) / scale - 0.5, 0.0)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    frac = source - low
    matrix = np.zeros((size_in * scale, size_in))
    np.add.at(matrix, (out, low), 1.0 - frac)
    np.add.at(matrix, (out, high), frac)
    return matrix


class UpSampling2D(Layer):
    """Repeat rows and columns `size` times ("nearest"), or interpolate linearly ("bilinear").

    "bilinear" follows ``tf.image.resize`` (half-pixel centres), as Keras 3 does.

    >>> import tapegrad as tf
    >>> x = tf.reshape(tf.range(4.0), [1, 2, 2, 1])
    >>> tf.keras.layers.UpSampling2D(size=(1, 2))(x)[0, :, :, 0].numpy()
    array([[0., 0., 1., 1.],
           [2., 2., 3., 3.]], dtype=float32)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, "size")
        self.data_format = normalize_data_format(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"`interpolation` argument should be one of: 'nearest', 'bilinear' (tapegrad "
                             f"implements these two). Received: interpolation={interpolation!r}.")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)
        self._matrices: dict = {}  # bilinear weights per input (rows, cols): built once, reused

    def build(self, input_shape) -> None:
        image_shape(self, input_shape)
        self.built = True

    def call(self, inputs):
        n, h, w, c = dims(inputs)
        sh, sw = self.size
        if self.interpolation == "nearest":
            # a broadcast over two new unit axes: the engine sums the gradient back over them
            tiled = broadcast_to(reshape(inputs, (n, h, 1, w, 1, c)), (n, h, sh, w, sw, c))
            return reshape(tiled, (n, h * sh, w * sw, c))
        rows, cols = self._interpolation_matrices(h, w, inputs.dtype)
        return einsum("qw,npwc->npqc", cols, einsum("ph,nhwc->npwc", rows, inputs))

    def _interpolation_matrices(self, h: int, w: int, dtype):
        key = (h, w, dtype)
        if key not in self._matrices:
            np_dtype = dtype.as_numpy_dtype
            self._matrices[key] = (Tensor(_bilinear_matrix(h, self.size[0]).astype(np_dtype)),
                                   Tensor(_bilinear_matrix(w, self.size[1]).astype(np_dtype)))
        return self._matrices[key]

    def compute_output_shape(self, input_shape):
        n, h, w, c = image_shape(self, input_shape)
        return (n, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


class ZeroPadding2D(Layer):
    """Zeros around the image: `padding` is an int, (rows, cols) or ((top, bottom), (left, right)).

    >>> import tapegrad as tf
    >>> tf.keras.layers.ZeroPadding2D(((1, 0), (2, 2)))(tf.ones([1, 3, 3, 1])).shape
    TensorShape([1, 4, 7, 1])
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, numbers.Integral):
            pairs = ((padding, padding), (padding, padding))
        elif hasattr(padding, "__len__") and len(padding) == 2:
            pairs = tuple((p, p) if isinstance(p, numbers.Integral) else p for p in padding)
        else:
            raise ValueError(f"`padding` should be either an int, a tuple of 2 ints (symmetric_height_pad, "
                             f"symmetric_width_pad), or a tuple of 2 tuples of 2 ints "
                             f"((top_pad, bottom_pad), (left_pad, right_pad)). Received: padding={padding}.")
        self.padding = tuple(normalize_tuple(p, 2, "padding", allow_zero=True) for p in pairs)
        self.data_format = normalize_data_format(data_format)
        self._paddings = ((0, 0),) + self.padding + ((0, 0),)
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape) -> None:
        image_shape(self, input_shape)
        self.built = True

    def call(self, inputs):
        return pad(inputs, self._paddings)

    def compute_output_shape(self, input_shape):
        n, h, w, c = image_shape(self, input_shape)
        (top, bottom), (left, right) = self.padding
        return (n, None if h is None else h + top + bottom, None if w is None else w + left + right, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}
