"""Merge layers: combine a list of tensors (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate)."""
from __future__ import annotations

import functools

from ...ops.array import concat
from ...ops.math import add, maximum, minimum, multiply, subtract
from .base import Layer


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
        return functools.reduce(self._merge, inputs)

    def compute_output_shape(self, input_shape):
        return _broadcast_shapes(self, self._check_inputs(input_shape))


class Add(_Merge):
    """Elementwise sum of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Add()([tf.ones([2]), tf.ones([2])]).numpy()
    array([2., 2.], dtype=float32)
    """

    _merge = staticmethod(add)


class Subtract(_Merge):
    """inputs[0] - inputs[1] (exactly two inputs).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Subtract()([tf.ones([2]), tf.ones([2])]).numpy()
    array([0., 0.], dtype=float32)
    """

    _merge = staticmethod(subtract)

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

    _merge = staticmethod(multiply)


class Average(Add):
    """Elementwise mean of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Average()([tf.ones([2]), tf.zeros([2])]).numpy()
    array([0.5, 0.5], dtype=float32)
    """

    def call(self, inputs):
        return super().call(inputs) * (1.0 / len(inputs))


class Maximum(_Merge):
    """Elementwise maximum of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Maximum()([tf.constant([1.0, 4.0]), tf.constant([3.0, 2.0])]).numpy()
    array([3., 4.], dtype=float32)
    """

    _merge = staticmethod(maximum)


class Minimum(_Merge):
    """Elementwise minimum of the inputs.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Minimum()([tf.constant([1.0, 4.0]), tf.constant([3.0, 2.0])]).numpy()
    array([1., 2.], dtype=float32)
    """

    _merge = staticmethod(minimum)


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
        return concat(list(inputs), axis=self.axis)

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
