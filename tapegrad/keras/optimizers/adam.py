"""The Adam family, as Keras 3's: Adam, AdamW (Adam + decoupled weight decay), Adamax, Nadam."""
from __future__ import annotations

import math

import numpy as np

from .base import Optimizer, fused

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]


def _moving_average(average, g, s, rate: float) -> None:
    """average += (g - average) * rate: an exponential moving average of g, in place."""
    np.subtract(g, average, out=s)
    s *= rate
    average += s


def _moving_square_average(average, g, s, rate: float) -> None:
    """average += (g * g - average) * rate."""
    np.multiply(g, g, out=s)
    s -= average
    s *= rate
    average += s


class Adam(Optimizer):
    """Adam with Keras 3's "epsilon hat" (epsilon is not bias-corrected).

    ``m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2)`` (``amsgrad``: v_hat = max(v_hat, v)
    replaces v); ``w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)``.

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0, -1.0])
    >>> opt = tf.keras.optimizers.Adam(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(tf.constant([3.0, -0.5]), w)])
    >>> w.numpy().round(4)  # the first step moves each weight by about lr
    array([ 0.9, -0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _slot_specs(self) -> list:
        slots = [("momentum", "zeros"), ("velocity", "zeros")]
        return slots + [("velocity_hat", "zeros")] if self.amsgrad else slots

    def _step_factors(self, lr: float) -> tuple:
        t = self._local_step()
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        return alpha, 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon

    def _fused_arguments(self, slots, factors) -> tuple:
        return (slots[0], slots[1], slots[2] if self.amsgrad else None, *factors, bool(self.amsgrad))

    @fused("adam")
    def _update_dense(self, w, g, slots, s, factors) -> None:
        alpha, rate_1, rate_2, epsilon = factors
        m, v = slots[0], slots[1]
        _moving_average(m, g, s, rate_1)
        _moving_square_average(v, g, s, rate_2)
        if self.amsgrad:
            np.maximum(slots[2], v, out=slots[2])
            v = slots[2]
        np.sqrt(v, out=s)
        s += epsilon
        # alpha / (sqrt(v) + eps) first: m / eps alone overflows float16 where v underflowed to 0
        np.divide(alpha, s, out=s)
        s *= m
        w -= s

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``w -= w * weight_decay * lr`` before each update).

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0])
    >>> opt = tf.keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    >>> _ = opt.apply_gradients([(tf.constant([1.0]), w)])  # decay to 0.95, then about lr less
    >>> round(float(w[0]), 4)
    0.85
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adamw", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, name=name, weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")


class Adamax(Adam):
    """Adam with the infinity norm: ``u = max(beta_2 u, |g|); w -= lr / (1 - beta_1^t) * m / (u + eps)``.

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0])
    >>> opt = tf.keras.optimizers.Adamax(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(tf.constant([2.0]), w)])
    >>> round(float(w[0]), 5)
    0.9
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="adamax",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         name=name, **kwargs)

    def _slot_specs(self) -> list:
        return [("momentum", "zeros"), ("norm", "zeros")]

    def _step_factors(self, lr: float) -> tuple:
        t = self._local_step()
        return lr / (1.0 - self.beta_1 ** t), 1.0 - self.beta_1, self.beta_2, self.epsilon

    def _update_dense(self, w, g, slots, s, factors) -> None:
        step, rate_1, beta_2, epsilon = factors
        m, u = slots
        _moving_average(m, g, s, rate_1)
        u *= beta_2
        np.abs(g, out=s)
        np.maximum(u, s, out=u)
        np.add(u, epsilon, out=s)
        np.divide(m, s, out=s)
        s *= step
        w -= s

    def get_config(self) -> dict:
        config = super().get_config()
        del config["amsgrad"]
        return config


class Nadam(Adam):
    """Adam with Nesterov momentum (Dozat), with Keras 3's momentum schedule
    ``u_t = beta_1 (1 - 0.5 * 0.96^t)`` and its running product.

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0])
    >>> opt = tf.keras.optimizers.Nadam(learning_rate=0.1)
    >>> _ = opt.apply_gradients([(tf.constant([2.0]), w)])
    >>> round(float(w[0]), 4)
    0.8937
    """

    _SCRATCH_BLOCKS = 2  # numerator and denominator of the step

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="nadam",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         name=name, **kwargs)

    def build(self, var_list) -> None:
        """Slots (momentum, velocity) and the running product of the momentum schedule."""
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        dtype = var_list[0].dtype if var_list else "float32"
        self._u_product = self._new_variable(1.0, "u_product", dtype)

    def _momentum_at(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _backend_update_step(self, grads, variables, learning_rate) -> None:
        # the product includes this step's factor before any variable is updated, as Keras
        self._u_product.assign(float(self._u_product._value) * self._momentum_at(self._local_step()))
        super()._backend_update_step(grads, variables, learning_rate)

    def _step_factors(self, lr: float) -> tuple:
        t = self._local_step()
        u_t, u_next = self._momentum_at(t), self._momentum_at(t + 1)
        product = float(self._u_product._value)
        # w -= lr * (c_m m + c_g g) / (sqrt(v) * k + epsilon), k undoing v's bias
        c_m = u_next / (1.0 - product * u_next)
        c_g = (1.0 - u_t) / (1.0 - product)
        k = 1.0 / math.sqrt(1.0 - self.beta_2 ** t)
        return lr, c_m, c_g, k, 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon

    def _update_dense(self, w, g, slots, scratch, factors) -> None:
        lr, c_m, c_g, k, rate_1, rate_2, epsilon = factors
        m, v = slots
        n = len(w)
        s, step = scratch[:n], scratch[n:]
        _moving_average(m, g, s, rate_1)
        _moving_square_average(v, g, s, rate_2)
        np.multiply(m, c_m, out=step)
        np.multiply(g, c_g, out=s)
        step += s
        np.sqrt(v, out=s)
        s *= k
        s += epsilon
        np.divide(step, s, out=step)
        step *= lr
        w -= step

    def get_config(self) -> dict:
        config = super().get_config()
        del config["amsgrad"]
        return config
