"""TensorFlow's own initializers (``tf.zeros_initializer``, ``tf.random_normal_initializer``, ...): callables
``(shape, dtype=tf.float32) -> Tensor`` that guides use to make ``tf.Variable`` values.  Unlike Keras 3's
initializers, an unseeded random one draws new values at every call (TF's stateful draws); a seeded one
gives the same values at every call.
"""
from __future__ import annotations

import numpy as np

from .core import dtypes
from .core.tensor import Tensor, convert_to_tensor
from .ops import random as _random

__all__ = ["Initializer", "zeros_initializer", "ones_initializer", "constant_initializer",
           "random_normal_initializer", "random_uniform_initializer"]


def _shape(shape) -> tuple:
    return tuple(int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape))


class Initializer:
    """Base class of TF's initializers: subclasses implement ``__call__(shape, dtype=None, **kwargs)``.

    >>> import tapegrad as tf
    >>> class Twos(Initializer):
    ...     def __call__(self, shape, dtype=None, **kwargs):
    ...         return tf.fill(shape, 2.0)
    >>> Twos()((2,)).numpy()
    array([2., 2.], dtype=float32)
    """

    def __call__(self, shape, dtype=None, **kwargs):
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """``cls(**config)``."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_config()}>"


def _numeric(dtype) -> dtypes.DType:
    dt = dtypes.as_dtype(dtype)
    if not (dt.is_floating or dt.is_integer or dt.is_bool or dt.is_complex):
        raise ValueError(f"Argument `dtype` expected to be numeric or boolean. Received {dt!r}.")
    return dt


def _floating(dtype) -> dtypes.DType:
    dt = dtypes.as_dtype(dtype)
    if not dt.is_floating:
        raise ValueError(f"Argument `dtype` is expected to be floating point. Received: {dt!r}.")
    return dt


class Zeros(Initializer):
    """All zeros (``tf.zeros_initializer``).

    >>> import tapegrad as tf
    >>> tf.zeros_initializer()((2,), dtype=tf.int32).numpy()
    array([0, 0], dtype=int32)
    """

    def __call__(self, shape, dtype=dtypes.float32, **kwargs):
        return Tensor(np.zeros(_shape(shape), _numeric(dtype)._np))


class Ones(Initializer):
    """All ones (``tf.ones_initializer``).

    >>> import tapegrad as tf
    >>> tf.ones_initializer()((2,)).numpy()
    array([1., 1.], dtype=float32)
    """

    def __call__(self, shape, dtype=dtypes.float32, **kwargs):
        return Tensor(np.ones(_shape(shape), _numeric(dtype)._np))


class Constant(Initializer):
    """`value` (a scalar, or as many values as the shape holds) (``tf.constant_initializer``); without a
    dtype, the value's own.

    >>> import tapegrad as tf
    >>> tf.constant_initializer([1.0, 2.0, 3.0, 4.0])((2, 2)).numpy()
    array([[1., 2.],
           [3., 4.]], dtype=float32)
    """

    def __init__(self, value=0):
        if isinstance(value, Tensor) or not (np.isscalar(value) or isinstance(value, (list, tuple, np.ndarray))):
            raise TypeError(f"Invalid type for initial value: {type(value).__name__}. Expected Python scalar, "
                            "list or tuple of values, or numpy.ndarray.")
        self.value = value

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _shape(shape)
        value = convert_to_tensor(self.value, dtype=None if dtype is None else dtypes.as_dtype(dtype))._value
        if value.size == 1:
            return Tensor(np.full(shape, value.reshape(()), value.dtype))
        if value.size != int(np.prod(shape)):
            raise TypeError(f"Eager execution of tf.constant with unsupported shape. Tensor {value} (converted "
                            f"from {self.value}) has {value.size} elements, but got `shape` {shape} with "
                            f"{int(np.prod(shape))} elements).")
        return Tensor(value.reshape(shape).copy())

    def get_config(self) -> dict:
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal samples with `mean` and `stddev` (``tf.random_normal_initializer``).

    >>> import tapegrad as tf
    >>> init = tf.random_normal_initializer(mean=1.0, stddev=0.0)
    >>> init((2,)).numpy()
    array([1., 1.], dtype=float32)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=dtypes.float32, **kwargs):
        dt = _floating(dtype)
        if self.seed is None:
            return _random.normal(_shape(shape), self.mean, self.stddev, dtype=dt)
        return _random.stateless_normal(_shape(shape), seed=(self.seed, 0), mean=self.mean,
                                        stddev=self.stddev, dtype=dt)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform samples in ``[minval, maxval)`` (``tf.random_uniform_initializer``); integer dtypes too.

    >>> import tapegrad as tf
    >>> x = tf.random_uniform_initializer(-1.0, 1.0, seed=3)((100,)).numpy()
    >>> bool(x.min() >= -1.0 and x.max() < 1.0)
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=dtypes.float32, **kwargs):
        dt = _numeric(dtype)
        if self.seed is None:
            return _random.uniform(_shape(shape), self.minval, self.maxval, dtype=dt)
        return _random.stateless_uniform(_shape(shape), seed=(self.seed, 0), minval=self.minval,
                                         maxval=self.maxval, dtype=dt)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


# TF's public names are the lowercase ones; the classes keep TF's class names (Zeros, RandomNormal, ...)
zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_normal_initializer = RandomNormal
random_uniform_initializer = RandomUniform
