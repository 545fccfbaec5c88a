"""Dropout."""
from __future__ import annotations

import numbers

from ... import nn
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: while training, zero each input with probability `rate`, scale the rest by
    1 / (1 - rate); the identity otherwise (``training`` falsy, as it is by default).

    ``noise_shape`` (None entries taken from the input) shares one draw across axes of length 1;
    ``seed`` makes the sequence of masks repeatable.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Dropout(0.5, seed=1)
    >>> x = tf.ones([1000])
    >>> bool(tf.reduce_all(layer(x) == x)), sorted(set(layer(x, training=True).numpy().tolist()))
    (True, [0.0, 2.0])
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between "
                             f"0 and 1. Received: rate={rate}")
        super().__init__(**kwargs)
        self.rate = rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return inputs * 0.0  # everything dropped (tf.nn.dropout refuses rate 1); gradient zero
        return nn.dropout(inputs, self.rate, noise_shape=self.noise_shape, seed=self.seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
