"""Lion (Chen et al., 2023), as Keras 3's."""
from __future__ import annotations

import numpy as np

from .adam import _moving_average
from .base import Optimizer

__all__ = ["Lion"]


class Lion(Optimizer):
    """``w -= lr * sign(beta_1 m + (1 - beta_1) g)``, then ``m = beta_2 m + (1 - beta_2) g``.

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0, 1.0])
    >>> opt = tf.keras.optimizers.Lion(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(tf.constant([5.0, -0.01]), w)])
    >>> w.numpy()
    array([0.9, 1.1], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, name="lion", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2 = beta_1, beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(f"Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                             f"degenerates to SignSGD. Received: beta_1={beta_1}.")

    def _slot_specs(self) -> list:
        return [("momentum", "zeros")]

    def _step_factors(self, lr: float) -> tuple:
        return lr, 1.0 - self.beta_1, 1.0 - self.beta_2

    def _update_dense(self, w, g, slots, s, factors) -> None:
        lr, rate_1, rate_2 = factors
        m = slots[0]
        np.subtract(g, m, out=s)  # m + (g - m)(1 - beta_1) = beta_1 m + (1 - beta_1) g
        s *= rate_1
        s += m
        np.sign(s, out=s)
        s *= lr
        w -= s
        _moving_average(m, g, s, rate_2)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
