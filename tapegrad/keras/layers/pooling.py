"""Max and average pooling, windowed and global, over NHWC images and (batch, steps, channels) sequences."""
from __future__ import annotations

from ... import nn
from ...ops.array import expand_dims
from ...ops.math import cast
from ...ops.reduce import reduce_max, reduce_mean, reduce_sum
from ._utils import (image_shape, normalize_data_format, normalize_padding, normalize_tuple,
                     window_output_shape)
from .base import Layer
from .input_spec import InputSpec


class _Pooling2D(Layer):
    """Window arguments of the pooling layers: `strides` defaults to `pool_size`."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self._nn_padding = self.padding.upper()
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)  # wrong rank or too small an input fails here, by name
        self.built = True

    def compute_output_shape(self, input_shape):
        return window_output_shape(self, input_shape, tuple(input_shape)[-1], self.pool_size, self.strides,
                                   self.padding)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Maximum over each `pool_size` window (strides default to pool_size).

    >>> import tapegrad as tf
    >>> x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    >>> tf.keras.layers.MaxPooling2D()(x)[0, :, :, 0].numpy()
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """

    def call(self, inputs):
        return nn.max_pool2d(inputs, self.pool_size, self.strides, self._nn_padding)


class AveragePooling2D(_Pooling2D):
    """Mean over each `pool_size` window; with "same" padding only the pixels inside the image count.

    >>> import tapegrad as tf
    >>> tf.keras.layers.AveragePooling2D(3, strides=2, padding="same")(tf.ones([1, 5, 5, 2])).shape
    TensorShape([1, 3, 3, 2])
    """

    def call(self, inputs):
        return nn.avg_pool2d(inputs, self.pool_size, self.strides, self._nn_padding)


class _GlobalPooling2D(Layer):
    """Reduce over the spatial axes; `keepdims` keeps them with length 1."""

    _reduce = None  # reduce_mean or reduce_max, as a staticmethod

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return self._reduce(inputs, axis=(1, 2), keepdims=self.keepdims)

    def build(self, input_shape) -> None:
        image_shape(self, input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        batch, _, _, channels = image_shape(self, input_shape)
        return (batch, 1, 1, channels) if self.keepdims else (batch, channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over rows and columns: (batch, rows, cols, channels) -> (batch, channels).

    >>> import tapegrad as tf
    >>> tf.keras.layers.GlobalAveragePooling2D(keepdims=True)(tf.ones([2, 4, 4, 3])).shape
    TensorShape([2, 1, 1, 3])
    """

    _reduce = staticmethod(reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over rows and columns: (batch, rows, cols, channels) -> (batch, channels).

    >>> import tapegrad as tf
    >>> tf.keras.layers.GlobalMaxPooling2D()(tf.reshape(tf.range(8.0), [2, 2, 2, 1])).numpy()
    array([[3.],
           [7.]], dtype=float32)
    """

    _reduce = staticmethod(reduce_max)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


# -- 1-D: (batch, steps, channels), through the 2-D ops over a height of 1 -----------------------

def _sequence_shape(layer, input_shape) -> tuple:
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: expected ndim=3 "
                         f"(batch, steps, channels), found ndim={len(input_shape)}. Full shape received: "
                         f"{input_shape}")
    return input_shape


class _Pooling1D(Layer):
    """Window arguments of the 1-D pooling layers: `strides` defaults to `pool_size`."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 1, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 1, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return self._pool(inputs, self.pool_size, self.strides, self.padding.upper())

    def compute_output_shape(self, input_shape):
        batch, steps, channels = _sequence_shape(self, input_shape)
        out = window_output_shape(self, (batch, 1, steps, channels), channels, (1,) + self.pool_size,
                                  (1,) + self.strides, self.padding)
        return batch, out[2], channels

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """Maximum over each `pool_size` window of (batch, steps, channels) inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.MaxPooling1D()(tf.reshape(tf.range(6.0), [1, 6, 1]))[0, :, 0].numpy()
    array([1., 3., 5.], dtype=float32)
    """

    _pool = staticmethod(nn.max_pool1d)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling1D):
    """Mean over each `pool_size` window; with "same" padding only the steps inside the input count.

    >>> import tapegrad as tf
    >>> tf.keras.layers.AveragePooling1D(2)(tf.reshape(tf.range(6.0), [1, 6, 1]))[0, :, 0].numpy()
    array([0.5, 2.5, 4.5], dtype=float32)
    """

    _pool = staticmethod(nn.avg_pool1d)


class _GlobalPooling1D(Layer):
    """Reduce over the steps axis; `keepdims` keeps it with length 1."""

    _reduce = None  # reduce_mean or reduce_max, as a staticmethod

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape) -> None:
        _sequence_shape(self, input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        batch, _, channels = _sequence_shape(self, input_shape)
        return (batch, 1, channels) if self.keepdims else (batch, channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over steps: (batch, steps, channels) -> (batch, channels); with a `mask` (batch, steps),
    the mean of the unmasked steps only.

    >>> import tapegrad as tf
    >>> x = tf.reshape(tf.range(6.0), [1, 3, 2])
    >>> layer = tf.keras.layers.GlobalAveragePooling1D()
    >>> layer(x).numpy(), layer(x, mask=tf.constant([[True, True, False]])).numpy()
    (array([[2., 3.]], dtype=float32), array([[1., 2.]], dtype=float32))
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return reduce_mean(inputs, axis=1, keepdims=self.keepdims)
        weights = expand_dims(cast(mask, inputs.dtype), -1)
        return (reduce_sum(inputs * weights, axis=1, keepdims=self.keepdims)
                / reduce_sum(weights, axis=1, keepdims=self.keepdims))


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over steps: (batch, steps, channels) -> (batch, channels).

    >>> import tapegrad as tf
    >>> tf.keras.layers.GlobalMaxPooling1D(keepdims=True)(tf.reshape(tf.range(6.0), [1, 3, 2])).numpy()
    array([[[4., 5.]]], dtype=float32)
    """

    def call(self, inputs):
        return reduce_max(inputs, axis=1, keepdims=self.keepdims)


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
