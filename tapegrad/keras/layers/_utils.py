"""What the built-in layers share: argument normalisation (once, for convolutions and pooling alike),
window output sizes, and lookup/serialization of initializers, regularizers and constraints."""
from __future__ import annotations

import importlib
import numbers


def normalize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """An int or n ints as a tuple of n ints, each > 0 (>= 0 with allow_zero), as Keras checks them."""
    message = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message) from None
        if len(values) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                       for v in values):
            raise ValueError(message)
        values = tuple(int(v) for v in values)
    bad = sorted({v for v in values if v < 0 or (v == 0 and not allow_zero)})
    if bad:
        raise ValueError(f"{message}, including values {set(bad)} that do not satisfy "
                         f"`value {'>= 0' if allow_zero else '> 0'}`")
    return values


def normalize_padding(value) -> str:
    """'valid' or 'same', case-insensitive."""
    padding = value.lower() if isinstance(value, str) else value
    if padding not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: padding={value}")
    return padding


def normalize_data_format(value) -> str:
    """'channels_last' (also for None); tapegrad's images are NHWC only."""
    data_format = "channels_last" if value is None else str(value).lower()
    if data_format == "channels_first":
        raise ValueError("tapegrad supports only data_format='channels_last' (NHWC images); got "
                         "data_format='channels_first'. Transpose the input to NHWC, e.g. "
                         "tf.transpose(x, [0, 2, 3, 1]).")
    if data_format != "channels_last":
        raise ValueError(f"The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. "
                         f"Received: data_format={value}")
    return data_format


def positive_int(value, name: str) -> int:
    """`value` if it is a positive int (not a bool, not a float), else Keras' ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive integer. "
                         f"Received: {name}={value}")
    return int(value)


def conv_output_length(length, kernel: int, stride: int, padding: str, dilation: int = 1):
    """Output size of a convolution or pooling window along one axis (None stays None)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return (length + stride - 1) // stride
    return (length - effective) // stride + 1  # may be <= 0: the caller says which input was too small


def deconv_output_length(length, kernel: int, stride: int, padding: str, output_padding=None,
                         dilation: int = 1):
    """Output size of a transposed convolution along one axis, by Keras 3's rules."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(effective - stride, 0)
        return length * stride
    pad = effective // 2 if padding == "same" else 0
    return (length - 1) * stride + effective - 2 * pad + output_padding


def image_shape(layer, input_shape) -> tuple:
    """`input_shape` as a tuple, checked to be (batch, rows, cols, channels)."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 4:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: expected ndim=4 "
                         f"(batch, rows, cols, channels), found ndim={len(input_shape)}. Full shape "
                         f"received: {input_shape}")
    return input_shape


def window_output_shape(layer, input_shape, channels, kernel, strides, padding, dilation=(1, 1)) -> tuple:
    """(batch, rows, cols, channels) after a 2-D window op; a ValueError naming `layer` if it is empty."""
    input_shape = image_shape(layer, input_shape)
    spatial = tuple(conv_output_length(input_shape[1 + a], kernel[a], strides[a], padding, dilation[a])
                    for a in range(2))
    if any(d is not None and d <= 0 for d in spatial):
        raise ValueError(f"Layer '{layer.name}': the input of shape {input_shape} is too small for a window "
                         f"of size {tuple(kernel)} with strides {tuple(strides)}, dilation "
                         f"{tuple(dilation)} and padding '{padding}': the output would have shape "
                         f"{(input_shape[0],) + spatial + (channels,)}.")
    return (input_shape[0],) + spatial + (channels,)


def lookup(kind: str, identifier):
    """``tf.keras.<kind>.get(identifier)`` for kind 'initializers', 'regularizers' or 'constraints';
    None stays None, so the module is imported only when a layer uses one."""
    if identifier is None:
        return None
    if callable(identifier) and not isinstance(identifier, type):
        return identifier  # what every get returns for a callable, without importing its module
    return importlib.import_module(f"tapegrad.keras.{kind}").get(identifier)


def serialize(kind: str, obj):
    """``tf.keras.<kind>.serialize(obj)``, None for None."""
    if obj is None:
        return None
    return importlib.import_module(f"tapegrad.keras.{kind}").serialize(obj)
