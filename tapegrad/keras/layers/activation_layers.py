"""Activation layers with arguments: ReLU, LeakyReLU, Softmax (plain ``Activation`` is in core)."""
from __future__ import annotations

import warnings

from ...ops.math import exp
from ...ops.reduce import reduce_logsumexp
from .. import activations
from .base import Layer


def _non_negative(layer: str, name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if value is None or value < 0:
        raise ValueError(f"{name} of a {layer} layer cannot be a negative value. Received: {name}={value}")
    return float(value)


class ReLU(Layer):
    """``activations.relu`` with its arguments: `max_value` caps, `negative_slope` leaks below `threshold`.

    >>> import tapegrad as tf
    >>> tf.keras.layers.ReLU(max_value=1.0)(tf.constant([-1.0, 0.5, 2.0])).numpy()
    array([0. , 0.5, 1. ], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """x where positive, negative_slope * x elsewhere (Keras 3 default slope 0.3).

    >>> import tapegrad as tf
    >>> tf.keras.layers.LeakyReLU()(tf.constant([-1.0, 2.0])).numpy()
    array([-0.3,  2. ], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"The negative_slope value of a Leaky ReLU layer cannot be None or negative "
                             f"value. Expected a float. Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """Softmax along `axis` (an int, or several axes normalised together).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Softmax()(tf.constant([[0.0, 0.0]])).numpy()
    array([[0.5, 0.5]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs):
        if isinstance(self.axis, int):
            return activations.softmax(inputs, axis=self.axis)
        if len(self.axis) == 1:
            return activations.softmax(inputs, axis=self.axis[0])
        return exp(inputs - reduce_logsumexp(inputs, axis=tuple(self.axis), keepdims=True))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
