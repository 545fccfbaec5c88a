"""Keras 3 weight regularizers (``tf.keras.regularizers``): callables ``x -> scalar penalty``.

Penalties are computed with tapegrad ops, so a tape recording the loss differentiates them.
"""
from __future__ import annotations

import math

from .. import ops  # noqa: F401  (registers every op)
from ..core.tensor import convert_to_tensor
from ..ops.array import transpose
from ..ops.creation import eye
from ..ops.linalg import matmul
from ..ops.math import abs as _abs, maximum, sqrt, square
from ..ops.reduce import reduce_sum
from .initializers import Registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "get", "serialize", "deserialize"]


def _penalty_factor(value, name: str) -> float:
    """A non-negative finite float, as Keras validates l1/l2/factor."""
    if isinstance(value, bool) or not isinstance(value, (float, int)) or math.isinf(value) \
            or math.isnan(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` returns a scalar penalty (0.0 here).

    >>> import tapegrad as tf
    >>> class Sum(tf.keras.regularizers.Regularizer):
    ...     def __call__(self, x):
    ...         return tf.reduce_sum(x)
    ...     def get_config(self):
    ...         return {}
    >>> float(Sum()(tf.ones([2, 2])))
    4.0
    """

    def __call__(self, x):
        return 0.0

    def get_config(self) -> dict:
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict):
        """``cls(**config)``."""
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)`` (a term whose factor is 0 is left out).

    >>> import tapegrad as tf
    >>> float(tf.keras.regularizers.L1L2(l1=0.5, l2=0.25)(tf.constant([1.0, -2.0])))
    2.75
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _penalty_factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _penalty_factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = convert_to_tensor(x)
        penalty = convert_to_tensor(0.0, dtype=x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * reduce_sum(_abs(x))
        if self.l2:
            penalty = penalty + self.l2 * reduce_sum(square(x))
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    >>> import tapegrad as tf
    >>> float(tf.keras.regularizers.L1(0.1)(tf.constant([1.0, -2.0])))
    0.30000001192092896
    """

    def __init__(self, l1=0.01):
        self.l1 = _penalty_factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return self.l1 * reduce_sum(_abs(convert_to_tensor(x)))

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x^2)`` (no 1/2 factor, as Keras).

    >>> import tapegrad as tf
    >>> float(tf.keras.regularizers.L2(2.0)(tf.ones([5, 5])))
    50.0
    """

    def __init__(self, l2=0.01):
        self.l2 = _penalty_factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return self.l2 * reduce_sum(square(convert_to_tensor(x)))

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """``factor`` times the mean |cosine| between distinct rows (``mode="rows"``) or columns of a matrix.

    >>> import tapegrad as tf
    >>> float(tf.keras.regularizers.OrthogonalRegularizer(1.0)(tf.eye(3)))
    0.0
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _penalty_factor(factor, "factor")
        if mode not in {"rows", "columns"}:
            raise ValueError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                             f"Received: mode={mode}")
        self.mode = mode

    def __call__(self, inputs):
        x = convert_to_tensor(inputs)
        if len(x.shape) != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        if self.mode == "columns":
            x = transpose(x)
        # L2-normalise the vectors (epsilon as Keras's normalize), then their Gram matrix
        unit = x / sqrt(maximum(reduce_sum(square(x), axis=1, keepdims=True), 1e-12))
        size = int(x.shape[0])
        gram = matmul(unit, transpose(unit)) * (1.0 - eye(size, dtype=x.dtype))
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * reduce_sum(_abs(gram)) / pairs

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


# Keras 3's lowercase names are the classes themselves (keras.regularizers.l2 is L2)
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
__all__ += ["l1", "l2", "l1_l2", "orthogonal_regularizer"]

_REGISTRY = Registry("keras.regularizers", "regularizer",
                     [Regularizer, L1, L2, L1L2, OrthogonalRegularizer])


def get(identifier):
    """A regularizer from a name ("l1", "l2", "L1L2"), config dict, class or callable.

    >>> import tapegrad as tf
    >>> tf.keras.regularizers.get("l2").l2
    0.01
    """
    return _REGISTRY.get(identifier)


def serialize(regularizer) -> dict:
    """The config dict of a regularizer.

    >>> import tapegrad as tf
    >>> tf.keras.regularizers.serialize(tf.keras.regularizers.L1(0.5))["config"]
    {'l1': 0.5}
    """
    return _REGISTRY.serialize(regularizer)


def deserialize(config, custom_objects=None):
    """A regularizer from ``serialize``'s dict.

    >>> import tapegrad as tf
    >>> tf.keras.regularizers.deserialize({"class_name": "L2", "config": {"l2": 0.5}}).l2
    0.5
    """
    return _REGISTRY.deserialize(config, custom_objects)


from .._compat import module_getattr as _module_getattr  # noqa: E402
__getattr__ = _module_getattr("tf.keras.regularizers")
