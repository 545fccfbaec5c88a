"""Learning-rate schedules (``tf.keras.optimizers.schedules``), as Keras 3's.

A schedule maps the optimizer step (its ``iterations`` before the update: 0 on the
first step) to a learning rate.  The optimizer evaluates it once per step, so the
formulas are computed in Python floats and returned as float32 scalar tensors
(Keras computes in the dtype of ``initial_learning_rate``, float32).
"""
from __future__ import annotations

import math

import numpy as np

from ...core.tensor import Tensor
from ..initializers import Registry

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize"]


def _step(step) -> float:
    """A Python float from an int, a NumPy scalar or a tensor (an optimizer's `iterations`)."""
    return float(np.asarray(step))


def _lr(value: float) -> Tensor:
    return Tensor(np.asarray(value, dtype=np.float32))


def _elementwise(call):
    """`call` (a schedule of one step) applied to each step of an array of steps, as Keras' schedules
    (written in tensor ops) are: ``schedule(np.linspace(0, 1000))`` is the curve, float32."""
    def __call__(self, step):
        if len(getattr(step, "shape", np.shape(step))) == 0:  # one step: never read here (traced)
            return call(self, step)
        steps = np.asarray(step.numpy() if isinstance(step, Tensor) else step)
        rates = [float(call(self, s).numpy()) for s in steps.reshape(-1).tolist()]
        return _lr(np.asarray(rates, dtype=np.float32).reshape(steps.shape))
    __call__.__doc__ = call.__doc__
    return __call__


def _check_decay_steps(value, name: str = "decay_steps") -> None:
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` (and ``get_config`` to be serializable).

    >>> import tapegrad as tf
    >>> class Halving(tf.keras.optimizers.schedules.LearningRateSchedule):
    ...     def __call__(self, step):
    ...         return 1.0 / 2 ** float(step)
    >>> opt = tf.keras.optimizers.SGD(learning_rate=Halving())
    >>> float(opt.learning_rate)
    1.0
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config: dict):
        """``cls(**config)``."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            return f"<{type(self).__name__} {self.get_config()}>"
        except NotImplementedError:
            return f"<{type(self).__name__}>"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored exponent if `staircase`).

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(s(10)), 6), round(float(s(5)), 6)
    (0.05, 0.070711)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    @_elementwise
    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return _lr(self.initial_learning_rate * self.decay_rate ** p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while step <= boundaries[0], ``values[i]`` on (boundaries[i-1], boundaries[i]], ...

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    >>> [float(s(k)) for k in (10, 11, 20, 21)]
    [1.0, 0.5, 0.5, 0.10000000149011612]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"The length of boundaries should be 1 less than the length of values. "
                             f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                             f"values={values} of length {len(values)}.")
        self.boundaries, self.values, self.name = boundaries, values, name

    @_elementwise
    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return _lr(value)
        return _lr(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` as ``(1 - step/decay_steps) ** power``.

    Past `decay_steps` the rate stays at the end value, or with ``cycle=True`` the decay
    restarts over the first multiple of `decay_steps` above the step.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, power=2.0)
    >>> float(s(5)), float(s(20))
    (0.25, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle, self.name = end_learning_rate, power, cycle, name

    @_elementwise
    def __call__(self, step):
        step, decay_steps = _step(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = 1.0 - step / decay_steps
        delta = self.initial_learning_rate - self.end_learning_rate
        return _lr(delta * fraction ** self.power + self.end_learning_rate)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored ratio if `staircase`).

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.5)
    >>> float(s(2))
    0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    @_elementwise
    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return _lr(self.initial_learning_rate / (1.0 + self.decay_rate * p))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


def _cosine(fraction: float, alpha: float, scale: float = 1.0) -> float:
    """(1 - alpha) * scale * (1 + cos(pi * fraction)) / 2 + alpha: the cosine factor."""
    return (1.0 - alpha) * (0.5 * scale * (1.0 + math.cos(math.pi * fraction))) + alpha


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay over `decay_steps` down to ``alpha`` times the peak.

    With ``warmup_target`` set, the rate rises linearly from `initial_learning_rate` to
    `warmup_target` over `warmup_steps`, then decays from `warmup_target`.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10)
    >>> float(s(5)), float(s(10)), round(float(s(60)), 6), float(s(500))
    (0.5, 1.0, 0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    @_elementwise
    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            step = min(step, self.decay_steps)
            return _lr(self.initial_learning_rate * _cosine(step / self.decay_steps, self.alpha))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return _lr(delta * (step / self.warmup_steps) + self.initial_learning_rate)
        fraction = (step - self.warmup_steps) / self.decay_steps
        return _lr(self.warmup_target * _cosine(fraction, self.alpha))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by `t_mul`, peaks scale by `m_mul`.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    >>> float(s(0)), float(s(10)), float(s(30))
    (1.0, 0.5, 0.25)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _check_decay_steps(first_decay_steps, "first_decay_steps")
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, first_decay_steps
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    @_elementwise
    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            # periods 1, t, t^2, ...: the restart index inverts their geometric sum
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        return _lr(self.initial_learning_rate * _cosine(fraction, self.alpha, self._m_mul ** restart))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul, "m_mul": self._m_mul,
                "alpha": self.alpha, "name": self.name}


_REGISTRY = Registry("keras.optimizers.schedules", "learning rate schedule",
                     [ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                      CosineDecay, CosineDecayRestarts])


def serialize(learning_rate_schedule) -> dict:
    """The config dict of a schedule.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.InverseTimeDecay(0.1, 1, 0.5)
    >>> tf.keras.optimizers.schedules.serialize(s)["class_name"]
    'InverseTimeDecay'
    """
    return _REGISTRY.serialize(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """A schedule from ``serialize``'s dict.

    >>> import tapegrad as tf
    >>> s = tf.keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> float(tf.keras.optimizers.schedules.deserialize(tf.keras.optimizers.schedules.serialize(s))(10))
    0.05000000074505806
    """
    return _REGISTRY.deserialize(config, custom_objects)
