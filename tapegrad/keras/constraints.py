"""Keras 3 weight constraints (``tf.keras.constraints``): projections applied after each optimizer step.

An optimizer calls ``variable.assign(variable.constraint(variable))`` after its update.
"""
from __future__ import annotations

from .. import ops  # noqa: F401  (registers every op)
from ..core.tensor import convert_to_tensor
from ..ops.math import clip_by_value, maximum, sqrt, square
from ..ops.reduce import reduce_sum
from .initializers import Registry

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "get", "serialize", "deserialize"]

_EPSILON = 1e-7  # keras.backend.epsilon()


def _norms(w, axis):
    return sqrt(reduce_sum(square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weights (here `w` unchanged).

    >>> import tapegrad as tf
    >>> class Clip(tf.keras.constraints.Constraint):
    ...     def __call__(self, w):
    ...         return tf.clip_by_value(w, -1.0, 1.0)
    >>> Clip()(tf.constant([-3.0, 0.5])).numpy()
    array([-1. ,  0.5], dtype=float32)
    """

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """``cls(**config)``."""
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale the weight vectors along `axis` whose L2 norm exceeds `max_value`.

    >>> import tapegrad as tf
    >>> tf.keras.constraints.MaxNorm(1.0)(tf.constant([[3.0], [4.0]])).numpy().round(4)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        norms = _norms(w, self.axis)
        desired = clip_by_value(norms, 0.0, float(self.max_value))
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become 0.

    >>> import tapegrad as tf
    >>> tf.keras.constraints.NonNeg()(tf.constant([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    """

    def __call__(self, w):
        return maximum(convert_to_tensor(w), 0.0)


class UnitNorm(Constraint):
    """Weight vectors along `axis` rescaled to unit L2 norm.

    >>> import tapegrad as tf
    >>> tf.keras.constraints.UnitNorm()(tf.constant([[3.0], [4.0]])).numpy().round(4)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms along `axis` moved towards [min_value, max_value]: ``rate`` 1 clips them, less moves part way.

    >>> import tapegrad as tf
    >>> c = tf.keras.constraints.MinMaxNorm(min_value=1.0, max_value=2.0)
    >>> c(tf.constant([[0.3], [0.4]])).numpy().round(4)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        w = convert_to_tensor(w)
        norms = _norms(w, self.axis)
        clipped = clip_by_value(norms, float(self.min_value), float(self.max_value))
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_REGISTRY = Registry("keras.constraints", "constraint", [Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm])


def get(identifier):
    """A constraint from a name ("max_norm", "NonNeg", ...), config dict, class or callable.

    >>> import tapegrad as tf
    >>> type(tf.keras.constraints.get("non_neg")).__name__
    'NonNeg'
    """
    return _REGISTRY.get(identifier)


def serialize(constraint) -> dict:
    """The config dict of a constraint.

    >>> import tapegrad as tf
    >>> tf.keras.constraints.serialize(tf.keras.constraints.UnitNorm(axis=1))["config"]
    {'axis': 1}
    """
    return _REGISTRY.serialize(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from ``serialize``'s dict.

    >>> import tapegrad as tf
    >>> tf.keras.constraints.deserialize({"class_name": "MaxNorm", "config": {"max_value": 3}}).max_value
    3
    """
    return _REGISTRY.deserialize(config, custom_objects)
