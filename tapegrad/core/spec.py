"""TensorSpec: the shape and dtype of a tensor, as ``tf.TensorSpec``.

A dataset's ``element_spec`` and a function's ``input_signature`` are made of them.
"""
from __future__ import annotations

from . import dtypes
from .shape import TensorShape, as_shape


class TensorSpec:
    """Describes a tensor: a (possibly partly unknown) shape, a dtype and an optional name.

    >>> import tapegrad as tf
    >>> spec = tf.TensorSpec(shape=(None, 28), dtype=tf.float32)
    >>> spec
    TensorSpec(shape=(None, 28), dtype=tf.float32, name=None)
    >>> spec.is_compatible_with(tf.zeros([5, 28])), spec.is_compatible_with(tf.zeros([5, 3]))
    (True, False)
    """

    __slots__ = ("_dtype", "_name", "_shape")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name

    @property
    def shape(self) -> TensorShape:
        """The shape, None where a dim is unknown.

        >>> import tapegrad as tf
        >>> tf.TensorSpec([None, 3]).shape
        TensorShape([None, 3])
        """
        return self._shape

    @property
    def dtype(self) -> dtypes.DType:
        """The dtype (float32 unless given).

        >>> import tapegrad as tf
        >>> tf.TensorSpec([2]).dtype
        tf.float32
        """
        return self._dtype

    @property
    def name(self):
        """The optional name (TF uses it to name function inputs).

        >>> import tapegrad as tf
        >>> tf.TensorSpec([2], name="x").name
        'x'
        """
        return self._name

    @classmethod
    def from_tensor(cls, tensor, name=None) -> TensorSpec:
        """The spec of a tensor or array.

        >>> import tapegrad as tf
        >>> tf.TensorSpec.from_tensor(tf.constant([1, 2]))
        TensorSpec(shape=(2,), dtype=tf.int32, name=None)
        """
        return cls(tensor.shape, tensor.dtype, name)

    def is_compatible_with(self, spec_or_value) -> bool:
        """Same dtype, and every dim either equal or unknown on one side.

        >>> import tapegrad as tf
        >>> tf.TensorSpec([None], tf.int64).is_compatible_with(tf.TensorSpec([3], tf.int64))
        True
        """
        return (dtypes.as_dtype(spec_or_value.dtype) == self._dtype
                and self._shape.is_compatible_with(as_shape(spec_or_value.shape)))

    def __eq__(self, other):
        if not isinstance(other, TensorSpec):
            return NotImplemented
        return (self._dtype == other._dtype and self._name == other._name
                and self._shape.rank == other._shape.rank and self._shape == other._shape)

    def __hash__(self):
        return hash((tuple(self._shape), self._dtype, self._name))

    def __repr__(self):
        return f"TensorSpec(shape={self._shape}, dtype={self._dtype!r}, name={self._name!r})"


def spec_of(element):
    """The nest of TensorSpecs describing an element (a nest of ndarrays)."""
    from ..data import _nest
    return _nest.map_structure(lambda a: TensorSpec(a.shape, dtypes.from_numpy(a.dtype)), element)


def describe(element) -> str:
    """An element's structure, shapes and dtypes, for error messages."""
    return repr(spec_of(element))
