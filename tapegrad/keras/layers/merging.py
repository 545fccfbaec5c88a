"""Merge layers: combine a list of tensors (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
Dot), and their lowercase functional forms (``keras.layers.add(inputs)``, ...)."""
from __future__ import annotations

import functools

import numpy as np

from ...core import dtypes
from ...ops import math as _math
from ...ops.array import concat, expand_dims
from ...ops.linalg import einsum
from ...ops.math import cast
from .base import Layer


def _common_dtype(inputs):
    """The dtype Keras 3 merges mixed inputs in: the widest float among the floating inputs (integers
    never widen a float: int64 with float32 gives float32), else NumPy's promotion of the integers."""
    kinds = [np.dtype(dtypes.as_dtype(x.dtype).as_numpy_dtype) for x in inputs]
    floats = [d for d in kinds if d.kind in "fc"]
    return np.result_type(*(floats or kinds))


def _same_dtype(inputs) -> list:
    """`inputs` cast to their common dtype where they differ (Keras promotes; TF's ops would refuse)."""
    inputs = list(inputs)
    if len({dtypes.as_dtype(x.dtype) for x in inputs}) < 2:
        return inputs
    target = _common_dtype(inputs)
    return [cast(x, target) for x in inputs]


def _broadcast_shapes(layer, shapes) -> tuple:
    """The broadcast of `shapes` (None: unknown), as elementwise merges combine them."""
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d not in (None, 1)}
        if len(known) > 1:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {[tuple(s) for s in shapes]} "
                             f"(layer '{layer.name}').")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


class _Merge(Layer):
    """Base of the merge layers: called on a list of tensors, which it folds with `_merge`."""

    _min_inputs = 1

    def _check_inputs(self, input_shape) -> list:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"A merge layer should be called on a list of inputs. Received: "
                             f"input_shape={input_shape} (not a list of shapes)")
        if len(input_shape) < self._min_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer should be called on a list of at least "
                             f"{self._min_inputs} inputs. Received: input_shape={input_shape}")
        return [tuple(s) for s in input_shape]

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return functools.reduce(self._merge, _same_dtype(inputs))

    def compute_output_shape(self, input_shape):
        return _broadcast_shapes(self, self._check_inputs(input_shape))


class Add(_Merge):
    """Elementwise sum of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Add()([tf.ones([2]), tf.ones([2])]).numpy()
    array([2., 2.], dtype=float32)
    """

    _merge = staticmethod(_math.add)


class Subtract(_Merge):
    """inputs[0] - inputs[1] (exactly two inputs).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Subtract()([tf.ones([2]), tf.ones([2])]).numpy()
    array([0., 0.], dtype=float32)
    """

    _merge = staticmethod(_math.subtract)

    def _check_inputs(self, input_shape) -> list:
        shapes = super()._check_inputs(input_shape)
        if len(shapes) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                             f"input_shape={input_shape}")
        return shapes


class Multiply(_Merge):
    """Elementwise product of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Multiply()([tf.fill([2], 2.0), tf.fill([2], 3.0)]).numpy()
    array([6., 6.], dtype=float32)
    """

    _merge = staticmethod(_math.multiply)


class Average(Add):
    """Elementwise mean of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Average()([tf.ones([2]), tf.zeros([2])]).numpy()
    array([0.5, 0.5], dtype=float32)
    """

    def call(self, inputs):
        total = super().call(inputs)
        if not dtypes.as_dtype(total.dtype).is_floating:  # TF's truediv: small ints to float32
            small = np.dtype(dtypes.as_dtype(total.dtype).as_numpy_dtype).itemsize <= 2
            total = cast(total, "float32" if small else "float64")
        return total / len(inputs)


class Maximum(_Merge):
    """Elementwise maximum of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Maximum()([tf.constant([1.0, 4.0]), tf.constant([3.0, 2.0])]).numpy()
    array([3., 4.], dtype=float32)
    """

    _merge = staticmethod(_math.maximum)


class Minimum(_Merge):
    """Elementwise minimum of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Minimum()([tf.constant([1.0, 4.0]), tf.constant([3.0, 2.0])]).numpy()
    array([1., 2.], dtype=float32)
    """

    _merge = staticmethod(_math.minimum)


class Concatenate(_Merge):
    """Join the inputs along `axis`; every other axis must match.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Concatenate()([tf.ones([2, 3]), tf.ones([2, 1])]).shape
    TensorShape([2, 4])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        return concat(_same_dtype(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = self._check_inputs(input_shape)
        rank = len(shapes[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis is None or any(len(s) != rank for s in shapes) or any(
                len({s[a] for s in shapes} - {None}) > 1 for a in range(rank) if a != axis):
            raise ValueError(f"A `Concatenate` layer requires inputs with matching shapes except for the "
                             f"concatenation axis. Received: input_shape={shapes}")
        sizes = [s[axis] for s in shapes]
        joined = None if None in sizes else sum(sizes)
        first = [next((s[a] for s in shapes if s[a] is not None), None) for a in range(rank)]
        return tuple(joined if a == axis else first[a] for a in range(rank))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """The dot product of two batches of tensors, summed over `axes` (one int for both inputs, or a
    pair); `normalize=True` L2-normalises both along those axes first (a cosine similarity).  A
    result with only the batch axis left gets a trailing axis of 1, as Keras' ``batch_dot``.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Dot(axes=1)([tf.ones([2, 3]), tf.fill([2, 3], 2.0)]).numpy()
    array([[6.],
           [6.]], dtype=float32)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int) and not (isinstance(axes, (list, tuple)) and len(axes) == 2
                                              and all(isinstance(a, int) for a in axes)):
            raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. "
                            f"Received: axes={axes}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes_for(self, shapes) -> list:
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        return [a % len(s) if a < 0 else a for a, s in zip(axes, shapes)]

    def _check_inputs(self, input_shape) -> list:
        shapes = super()._check_inputs(input_shape)
        if len(shapes) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={shapes}")
        a1, a2 = self._axes_for(shapes)
        if None not in (shapes[0][a1], shapes[1][a2]) and shapes[0][a1] != shapes[1][a2]:
            raise ValueError(f"Incompatible input shapes: axis values {shapes[0][a1]} (at axis {a1}) != "
                             f"{shapes[1][a2]} (at axis {a2}). Full input shapes: {shapes[0]}, {shapes[1]}")
        return shapes

    def call(self, inputs):
        from ...ops.nn import l2_normalize
        x1, x2 = _same_dtype(inputs)
        a1, a2 = self._axes_for([x1.shape, x2.shape])
        if self.normalize:
            x1, x2 = l2_normalize(x1, axis=a1), l2_normalize(x2, axis=a2)
        letters = iter("bcdefghijklmnopqrstuvwxyz")
        s1 = ["a"] + [next(letters) for _ in range(len(x1.shape) - 1)]
        s2 = ["a"] + [s1[a1] if i == a2 else next(letters) for i in range(1, len(x2.shape))]
        rest = [c for i, c in enumerate(s1) if i not in (0, a1)] + [c for i, c in enumerate(s2)
                                                                     if i not in (0, a2)]
        out = einsum(f"{''.join(s1)},{''.join(s2)}->a{''.join(rest)}", x1, x2)
        return expand_dims(out, -1) if not rest else out

    def compute_output_shape(self, input_shape):
        s1, s2 = self._check_inputs(input_shape)
        a1, a2 = self._axes_for([s1, s2])
        rest = [d for i, d in enumerate(s1) if i not in (0, a1)] + [d for i, d in enumerate(s2)
                                                                     if i not in (0, a2)]
        return (s1[0],) + tuple(rest or [1])

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the elementwise sum.

    >>> import tapegrad as tf
    >>> tf.keras.layers.add([tf.ones([2]), tf.ones([2])]).numpy()
    array([2., 2.], dtype=float32)
    """
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: inputs[0] - inputs[1].

    >>> import tapegrad as tf
    >>> tf.keras.layers.subtract([tf.ones([2]), tf.ones([2])]).numpy()
    array([0., 0.], dtype=float32)
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product.

    >>> import tapegrad as tf
    >>> tf.keras.layers.multiply([tf.fill([2], 2.0), tf.fill([2], 3.0)]).numpy()
    array([6., 6.], dtype=float32)
    """
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean.

    >>> import tapegrad as tf
    >>> tf.keras.layers.average([tf.ones([2]), tf.zeros([2])]).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum.

    >>> import tapegrad as tf
    >>> tf.keras.layers.maximum([tf.constant([1.0, 4.0]), tf.constant([3.0, 2.0])]).numpy()
    array([3., 4.], dtype=float32)
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum.

    >>> import tapegrad as tf
    >>> tf.keras.layers.minimum([tf.constant([1.0, 4.0]), tf.constant([3.0, 2.0])]).numpy()
    array([1., 2.], dtype=float32)
    """
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``: the inputs joined along `axis`.

    >>> import tapegrad as tf
    >>> tf.keras.layers.concatenate([tf.ones([2, 3]), tf.ones([2, 1])]).shape
    TensorShape([2, 4])
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``: the batched dot product of two inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.dot([tf.ones([2, 3]), tf.ones([2, 3])], axes=1).shape
    TensorShape([2, 1])
    """
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
