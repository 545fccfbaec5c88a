"""SGD: gradient descent, optionally with (Nesterov) momentum, as Keras 3's."""
from __future__ import annotations

import numpy as np

from .base import Optimizer, fused

__all__ = ["SGD"]


class SGD(Optimizer):
    """``w -= lr * g``; with momentum ``m = momentum * m - lr * g; w += m``;
    Nesterov: ``w += momentum * m - lr * g`` (with the updated m).

    Without momentum an IndexedSlices gradient updates only its rows.

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0, 2.0])
    >>> opt = tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     _ = opt.apply_gradients([(tf.constant([1.0, 1.0]), w)])
    >>> w.numpy()  # steps of 0.1, then 0.9 * 0.1 + 0.1
    array([0.71, 1.71], dtype=float32)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        # as Keras 3: a float, so `momentum=0` (an int) is refused too
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum, self.nesterov = momentum, nesterov

    def _slot_specs(self) -> list:
        return [("momentum", "zeros")] if self.momentum != 0 else []

    def _step_factors(self, lr: float) -> tuple:
        return lr, self.momentum

    def _fused_arguments(self, slots, factors) -> tuple:
        return (slots[0] if slots else None, *factors, bool(slots), bool(self.nesterov))

    @fused("sgd")
    def _update_dense(self, w, g, slots, s, factors) -> None:
        lr, mu = factors
        np.multiply(g, lr, out=s)
        if not slots:
            w -= s
            return
        m = slots[0]
        m *= mu
        m -= s
        if self.nesterov:
            w -= s
            np.multiply(m, mu, out=s)
            w += s
        else:
            w += m

    def _update_rows(self, w, rows, values, slots, factors) -> bool:
        if slots:
            return False  # momentum decays every row: dense
        w[rows] -= factors[0] * values
        return True

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
