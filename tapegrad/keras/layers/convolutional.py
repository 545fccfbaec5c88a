"""Conv2D, Conv2DTranspose and DepthwiseConv2D over NHWC images, on ``tf.nn``'s convolutions."""
from __future__ import annotations

from ... import nn
from ...core.aval import dims
from ...ops.array import concat, split
from ._utils import (deconv_output_length, image_shape, normalize_data_format, normalize_padding,
                     normalize_tuple, positive_int, window_output_shape)
from .core import KernelLayer
from .input_spec import InputSpec


class _Conv2DBase(KernelLayer):
    """The window arguments every 2-D convolution takes, checked once here; tf.nn's forms kept for call."""

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self._nn_padding = self.padding.upper()
        # NHWC images only: rank 4 exactly (Keras' min_ndim=4 accepts what its backends then refuse)
        self.input_spec = InputSpec(ndim=4)

    def _input_channels(self, input_shape) -> int:
        input_shape = image_shape(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"The channel dimension of the inputs should be defined. The input_shape "
                             f"received is {input_shape}, where axis -1 (0-based) is the channel dimension, "
                             f"which found to be `None`.")
        return int(input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate}


class Conv2D(_Conv2DBase):
    """2-D convolution: kernel (kh, kw, in_channels // groups, filters), then bias and activation.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    >>> layer(tf.ones([2, 9, 9, 3])).shape, tuple(layer.kernel.shape)
    (TensorShape([2, 5, 5, 8]), (3, 3, 3, 8))
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        filters, groups = positive_int(filters, "filters"), positive_int(groups, "groups")
        if filters % groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={groups}, filters={filters}.")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)
        self.filters, self.groups = filters, groups

    def build(self, input_shape) -> None:
        channels = self._input_channels(input_shape)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        if channels % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of "
                             f"groups. Received groups={self.groups}, but the input has {channels} channels "
                             f"(full input shape is {tuple(input_shape)}).")
        self.compute_output_shape(input_shape)  # an input too small for the window fails here, by name
        self._add_kernel_and_bias(self.kernel_size + (channels // self.groups, self.filters), self.filters)
        self.built = True

    def call(self, inputs):
        if self.groups == 1:
            y = nn.conv2d(inputs, self.kernel, self.strides, self._nn_padding, dilations=self.dilation_rate)
        else:
            # tf.nn.conv2d takes no groups here: convolve each channel group with its filters
            y = concat([nn.conv2d(x, k, self.strides, self._nn_padding, dilations=self.dilation_rate)
                        for x, k in zip(split(inputs, self.groups, axis=-1),
                                        split(self.kernel, self.groups, axis=-1))], axis=-1)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        return window_output_shape(self, input_shape, self.filters, self.kernel_size, self.strides,
                                   self.padding, self.dilation_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


class Conv2DTranspose(_Conv2DBase):
    """Transposed 2-D convolution: kernel (kh, kw, filters, in_channels); Keras 3's output sizes.

    Each spatial output size is ``in * stride + max(k - stride, 0)`` ("valid") or
    ``in * stride`` ("same"); with ``output_padding`` it is
    ``(in - 1) * stride + k - 2 * pad + output_padding`` with pad = k // 2 for "same", else 0
    (k the dilated kernel size).

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    >>> layer(tf.ones([1, 5, 5, 2])).shape, tuple(layer.kernel.shape)
    (TensorShape([1, 10, 10, 4]), (3, 3, 4, 2))
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        filters = positive_int(filters, "filters")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)
        self.filters = filters
        self.output_padding = None if output_padding is None else \
            normalize_tuple(output_padding, 2, "output_padding", allow_zero=True)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"Strides must be greater than output padding. Received strides={self.strides}, "
                             f"output_padding={self.output_padding}.")

    def build(self, input_shape) -> None:
        channels = self._input_channels(input_shape)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self._add_kernel_and_bias(self.kernel_size + (self.filters, channels), self.filters)
        self.built = True

    def _output_hw(self, rows, cols) -> tuple:
        pads = self.output_padding or (None, None)
        return tuple(deconv_output_length(n, self.kernel_size[a], self.strides[a], self.padding, pads[a],
                                          self.dilation_rate[a]) for a, n in enumerate((rows, cols)))

    def call(self, inputs):
        batch, rows, cols, _ = dims(inputs)
        output_shape = (batch,) + self._output_hw(rows, cols) + (self.filters,)
        y = nn.conv2d_transpose(inputs, self.kernel, output_shape, self.strides, self._nn_padding,
                                dilations=self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        self._input_channels(input_shape)
        batch, rows, cols, _ = tuple(input_shape)
        return (batch,) + self._output_hw(rows, cols) + (self.filters,)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "output_padding": self.output_padding}


class DepthwiseConv2D(_Conv2DBase):
    """Each input channel convolved with its own `depth_multiplier` filters: kernel (kh, kw, in, multiplier).

    Output channel ``c * depth_multiplier + m`` comes from kernel[..., c, m].  The kernel's arguments
    are named ``depthwise_initializer``, ``depthwise_regularizer``, ``depthwise_constraint``.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    >>> layer(tf.ones([1, 6, 6, 4])).shape, tuple(layer.kernel.shape)
    (TensorShape([1, 6, 6, 8]), (3, 3, 4, 2))
    """

    kernel_arg = "depthwise"

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=depthwise_constraint, bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = depth_multiplier

    def build(self, input_shape) -> None:
        channels = self._input_channels(input_shape)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.compute_output_shape(input_shape)
        self._add_kernel_and_bias(self.kernel_size + (channels, self.depth_multiplier),
                                  channels * self.depth_multiplier)
        self.built = True

    def call(self, inputs):
        y = nn.depthwise_conv2d(inputs, self.kernel, self.strides, self._nn_padding,
                                dilations=self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        return window_output_shape(self, input_shape, channels * self.depth_multiplier, self.kernel_size,
                                   self.strides, self.padding, self.dilation_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}
