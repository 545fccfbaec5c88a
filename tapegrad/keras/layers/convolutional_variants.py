"""Conv1D, Conv1DTranspose, SeparableConv1D and SeparableConv2D, on ``tf.nn``'s 2-D convolutions.

1-D layers take (batch, steps, channels) inputs and run as 2-D convolutions over a height of 1
(``tf.nn.conv1d`` does the same), so their gradients are the 2-D ops' own.  Weights have Keras 3's
names and layouts: Conv1D's kernel is (kernel_size, in_channels // groups, filters); a separable
layer holds ``depthwise_kernel`` (..., in_channels, depth_multiplier), then ``pointwise_kernel``
(1, ..., in_channels * depth_multiplier, filters), then ``bias`` (filters,).
"""
from __future__ import annotations

from ... import nn
from ...core.aval import dims
from ...ops.array import concat, expand_dims, pad, split, squeeze
from ._utils import (conv_output_length, deconv_output_length, lookup, normalize_data_format,
                     normalize_tuple, positive_int, serialize, window_output_shape)
from .convolutional import _Conv2DBase
from .core import KernelLayer
from .input_spec import InputSpec

__all__ = ["Conv1D", "Conv1DTranspose", "SeparableConv1D", "SeparableConv2D"]


def _padding_1d(value, causal_allowed: bool) -> str:
    """'valid', 'same' (and 'causal' for Conv1D), case-insensitive."""
    allowed = ("causal", "valid", "same") if causal_allowed else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        names = ", ".join(f"'{p}'" for p in allowed)
        raise ValueError(f"The `padding` argument must be a list/tuple or one of {{{names}}}. Received: {value}")
    return padding


def _sequence_shape(layer, input_shape) -> tuple:
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: expected ndim=3 "
                         f"(batch, steps, channels), found ndim={len(input_shape)}. Full shape received: "
                         f"{input_shape}")
    if input_shape[-1] is None:
        raise ValueError(f"The channel dimension of the inputs should be defined. The input_shape received "
                         f"is {input_shape}, where axis -1 (0-based) is the channel dimension, which found "
                         f"to be `None`.")
    return input_shape


def _steps_out(layer, input_shape, channels) -> tuple:
    """(batch, steps, channels) after a 1-D window; a ValueError naming the layer if it is empty."""
    padding = "same" if layer.padding == "causal" else layer.padding  # causal: same length as "same"
    steps = conv_output_length(input_shape[1], layer.kernel_size[0], layer.strides[0], padding,
                               layer.dilation_rate[0])
    if steps is not None and steps <= 0:
        raise ValueError(f"Layer '{layer.name}': the input of shape {input_shape} is too small for a window "
                         f"of size {layer.kernel_size} with strides {layer.strides}, dilation "
                         f"{layer.dilation_rate} and padding '{layer.padding}': the output would have shape "
                         f"{(input_shape[0], steps, channels)}.")
    return input_shape[0], steps, channels


class _Conv1DBase(KernelLayer):
    """The window arguments of the 1-D convolutions, and the lift of inputs to a height of 1."""

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, causal_allowed=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = normalize_tuple(kernel_size, 1, "kernel_size")
        self.strides = normalize_tuple(strides, 1, "strides")
        self.padding = _padding_1d(padding, causal_allowed)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 1, "dilation_rate")
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.input_spec = InputSpec(ndim=3)

    def _lifted(self, inputs):
        """inputs (batch, steps, channels) as (batch, 1, steps', channels), left-padded when causal."""
        if self.padding == "causal":
            inputs = pad(inputs, [[0, 0], [self.dilation_rate[0] * (self.kernel_size[0] - 1), 0], [0, 0]])
        return expand_dims(inputs, 1)

    def _nn_window(self) -> dict:
        return dict(strides=(1,) + self.strides, padding="SAME" if self.padding == "same" else "VALID",
                    dilations=(1,) + self.dilation_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate}


class Conv1D(_Conv1DBase):
    """1-D convolution over (batch, steps, channels): kernel (kernel_size, channels // groups, filters).

    ``padding="causal"`` pads only on the left (by ``dilation_rate * (kernel_size - 1)``), so output
    step t sees inputs up to t.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Conv1D(4, 3, padding="causal", dilation_rate=2)
    >>> layer(tf.ones([2, 10, 3])).shape, tuple(layer.kernel.shape)
    (TensorShape([2, 10, 4]), (3, 3, 4))
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        filters, groups = positive_int(filters, "filters"), positive_int(groups, "groups")
        if filters % groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={groups}, filters={filters}.")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, causal_allowed=True,
                         activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)
        self.filters, self.groups = filters, groups

    def build(self, input_shape) -> None:
        input_shape = _sequence_shape(self, input_shape)
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of "
                             f"groups. Received groups={self.groups}, but the input has {channels} channels "
                             f"(full input shape is {input_shape}).")
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})
        self.compute_output_shape(input_shape)
        self._add_kernel_and_bias(self.kernel_size + (channels // self.groups, self.filters), self.filters)
        self.built = True

    def call(self, inputs):
        x, kernel = self._lifted(inputs), expand_dims(self.kernel, 0)
        if self.groups == 1:
            y = nn.conv2d(x, kernel, **self._nn_window())
        else:
            y = concat([nn.conv2d(xg, kg, **self._nn_window())
                        for xg, kg in zip(split(x, self.groups, axis=-1), split(kernel, self.groups, axis=-1))],
                       axis=-1)
        return self._finish(squeeze(y, 1))

    def compute_output_shape(self, input_shape):
        return _steps_out(self, _sequence_shape(self, input_shape), self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


class Conv1DTranspose(_Conv1DBase):
    """Transposed 1-D convolution: kernel (kernel_size, filters, in_channels); Keras 3's output lengths.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Conv1DTranspose(4, 3, strides=2, padding="same")
    >>> layer(tf.ones([1, 5, 2])).shape, tuple(layer.kernel.shape)
    (TensorShape([1, 10, 4]), (3, 4, 2))
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        filters = positive_int(filters, "filters")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)
        self.filters = filters
        self.output_padding = None if output_padding is None else \
            normalize_tuple(output_padding, 1, "output_padding", allow_zero=True)
        if self.output_padding is not None and self.output_padding[0] >= self.strides[0]:
            raise ValueError(f"Strides must be greater than output padding. Received strides={self.strides}, "
                             f"output_padding={self.output_padding}.")

    def build(self, input_shape) -> None:
        channels = int(_sequence_shape(self, input_shape)[-1])
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})
        self._add_kernel_and_bias(self.kernel_size + (self.filters, channels), self.filters)
        self.built = True

    def _steps(self, steps):
        return deconv_output_length(steps, self.kernel_size[0], self.strides[0], self.padding,
                                    None if self.output_padding is None else self.output_padding[0],
                                    self.dilation_rate[0])

    def call(self, inputs):
        batch, steps, _ = dims(inputs)
        y = nn.conv2d_transpose(expand_dims(inputs, 1), expand_dims(self.kernel, 0),
                                (batch, 1, self._steps(steps), self.filters), **self._nn_window())
        return self._finish(squeeze(y, 1))

    def compute_output_shape(self, input_shape):
        batch, steps, _ = _sequence_shape(self, input_shape)
        return batch, self._steps(steps), self.filters

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "output_padding": self.output_padding}


class _Separable:
    """What both separable convolutions add to their base: the depthwise and pointwise weights'
    arguments (Keras 3 names), their creation in Keras' order, and their config."""

    def _separable_args(self, filters, depth_multiplier, depthwise_initializer, pointwise_initializer,
                        depthwise_regularizer, pointwise_regularizer, depthwise_constraint,
                        pointwise_constraint) -> None:
        self.filters = positive_int(filters, "filters")
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")
        self.depthwise_initializer = lookup("initializers", depthwise_initializer)
        self.pointwise_initializer = lookup("initializers", pointwise_initializer)
        self.depthwise_regularizer = lookup("regularizers", depthwise_regularizer)
        self.pointwise_regularizer = lookup("regularizers", pointwise_regularizer)
        self.depthwise_constraint = lookup("constraints", depthwise_constraint)
        self.pointwise_constraint = lookup("constraints", pointwise_constraint)

    def _add_separable_weights(self, channels: int, rank: int) -> None:
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (channels, self.depth_multiplier), initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint, name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * rank + (channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, name="pointwise_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def _separable_config(self, config: dict) -> dict:
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            config.pop(key)
        return {**config, "filters": self.filters, "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": serialize("initializers", self.depthwise_initializer),
                "pointwise_initializer": serialize("initializers", self.pointwise_initializer),
                "depthwise_regularizer": serialize("regularizers", self.depthwise_regularizer),
                "pointwise_regularizer": serialize("regularizers", self.pointwise_regularizer),
                "depthwise_constraint": serialize("constraints", self.depthwise_constraint),
                "pointwise_constraint": serialize("constraints", self.pointwise_constraint)}


class SeparableConv2D(_Separable, _Conv2DBase):
    """Depthwise 2-D convolution (depthwise_kernel (kh, kw, in, depth_multiplier)), then a 1x1 one
    (pointwise_kernel (1, 1, in * depth_multiplier, filters)), then bias and activation.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.SeparableConv2D(5, 3, depth_multiplier=2, padding="same")
    >>> layer(tf.ones([1, 6, 6, 3])).shape, [tuple(w.shape) for w in layer.weights]
    (TensorShape([1, 6, 6, 5]), [(3, 3, 3, 2), (1, 1, 6, 5), (5,)])
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                         use_bias=use_bias, bias_initializer=bias_initializer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         bias_constraint=bias_constraint, **kwargs)
        self._separable_args(filters, depth_multiplier, depthwise_initializer, pointwise_initializer,
                             depthwise_regularizer, pointwise_regularizer, depthwise_constraint,
                             pointwise_constraint)

    def build(self, input_shape) -> None:
        channels = self._input_channels(input_shape)
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.compute_output_shape(input_shape)
        self._add_separable_weights(channels, rank=2)
        self.built = True

    def call(self, inputs):
        y = nn.separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel, self.strides,
                                self._nn_padding, dilations=self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        return window_output_shape(self, input_shape, self.filters, self.kernel_size, self.strides,
                                   self.padding, self.dilation_rate)

    def get_config(self) -> dict:
        return self._separable_config(super().get_config())


class SeparableConv1D(_Separable, _Conv1DBase):
    """Depthwise 1-D convolution (depthwise_kernel (k, in, depth_multiplier)), then a pointwise one
    (pointwise_kernel (1, in * depth_multiplier, filters)), then bias and activation.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.SeparableConv1D(4, 3, padding="same")
    >>> layer(tf.ones([2, 7, 3])).shape, [tuple(w.shape) for w in layer.weights]
    (TensorShape([2, 7, 4]), [(3, 3, 1), (1, 3, 4), (4,)])
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation=activation,
                         use_bias=use_bias, bias_initializer=bias_initializer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         bias_constraint=bias_constraint, **kwargs)
        self._separable_args(filters, depth_multiplier, depthwise_initializer, pointwise_initializer,
                             depthwise_regularizer, pointwise_regularizer, depthwise_constraint,
                             pointwise_constraint)

    def build(self, input_shape) -> None:
        channels = int(_sequence_shape(self, input_shape)[-1])
        self.input_spec = InputSpec(ndim=3, axes={-1: channels})
        self.compute_output_shape(input_shape)
        self._add_separable_weights(channels, rank=1)
        self.built = True

    def call(self, inputs):
        y = nn.separable_conv2d(self._lifted(inputs), expand_dims(self.depthwise_kernel, 0),
                                expand_dims(self.pointwise_kernel, 0), **self._nn_window())
        return self._finish(squeeze(y, 1))

    def compute_output_shape(self, input_shape):
        return _steps_out(self, _sequence_shape(self, input_shape), self.filters)

    def get_config(self) -> dict:
        return self._separable_config(super().get_config())
