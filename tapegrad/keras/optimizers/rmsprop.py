"""RMSprop (optionally centered, optionally with momentum) and Adagrad, as Keras 3's."""
from __future__ import annotations

import numpy as np

from .base import Optimizer, fused

__all__ = ["RMSprop", "Adagrad"]


class RMSprop(Optimizer):
    """``v = rho v + (1 - rho) g^2``; centered: ``a = rho a + (1 - rho) g``, denominator
    ``v - a^2 + eps`` (else ``v + eps``); ``inc = lr g / sqrt(denominator)``; with momentum
    ``m = momentum m + inc; w -= m``, else ``w -= inc``.

    Without momentum and centering an IndexedSlices gradient updates only the variable's rows.

    >>> import tapegrad as tf
    >>> w = tf.Variable(10.0)
    >>> opt = tf.keras.optimizers.RMSprop(learning_rate=0.1)
    >>> _ = opt.minimize(lambda: w * w / 2.0, [w])
    >>> round(float(w), 5)
    9.68377
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _slot_specs(self) -> list:
        slots = [("velocity", "zeros")]
        if self.momentum > 0:
            slots.append(("momentum", "zeros"))
        if self.centered:
            slots.append(("average_gradient", "zeros"))
        return slots

    def _step_factors(self, lr: float) -> tuple:
        return lr, self.rho, 1.0 - self.rho, self.momentum, self.epsilon

    def _fused_arguments(self, slots, factors) -> tuple:
        lr, rho, rate, momentum, epsilon = factors
        return (slots[0], slots[1] if momentum > 0 else None, slots[-1] if self.centered else None,
                lr, rho, rate, momentum, epsilon, momentum > 0, bool(self.centered))

    @fused("rmsprop")
    def _update_dense(self, w, g, slots, s, factors) -> None:
        lr, rho, rate, momentum, epsilon = factors
        v = slots[0]
        v *= rho
        np.multiply(g, rate, out=s)
        s *= g
        v += s
        if self.centered:
            a = slots[-1]
            a *= rho
            np.multiply(g, rate, out=s)
            a += s
            np.multiply(a, a, out=s)
            np.subtract(v, s, out=s)
            s += epsilon
        else:
            np.add(v, epsilon, out=s)
        np.sqrt(s, out=s)
        np.divide(g, s, out=s)
        s *= lr
        if momentum > 0:
            m = slots[1]
            m *= momentum
            m += s
            w -= m
        else:
            w -= s

    def _update_rows(self, w, rows, values, slots, factors) -> bool:
        lr, rho, rate, momentum, epsilon = factors
        if momentum > 0 or self.centered:
            return False
        v = slots[0]
        v *= rho  # every row's average decays; only the gradient's rows grow
        v[rows] += rate * values * values
        w[rows] -= lr * values / np.sqrt(v[rows] + epsilon)
        return True

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """``acc += g^2; w -= lr g / sqrt(acc + epsilon)``, acc starting at `initial_accumulator_value`.

    An IndexedSlices gradient updates only its rows (of the variable and the accumulator).

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0])
    >>> opt = tf.keras.optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0)
    >>> _ = opt.apply_gradients([(tf.constant([2.0]), w)])
    >>> round(float(w[0]), 5)
    0.9
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _slot_specs(self) -> list:
        from ..initializers import Constant
        return [("accumulator", Constant(self.initial_accumulator_value))]

    def _step_factors(self, lr: float) -> tuple:
        return lr, self.epsilon

    def _update_dense(self, w, g, slots, s, factors) -> None:
        lr, epsilon = factors
        accumulator = slots[0]
        np.multiply(g, g, out=s)
        accumulator += s
        np.add(accumulator, epsilon, out=s)
        np.sqrt(s, out=s)
        np.divide(g, s, out=s)
        s *= lr
        w -= s

    def _update_rows(self, w, rows, values, slots, factors) -> bool:
        lr, epsilon = factors
        accumulator = slots[0]
        accumulator[rows] += values * values
        w[rows] -= lr * values / np.sqrt(accumulator[rows] + epsilon)
        return True

    def get_config(self) -> dict:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
