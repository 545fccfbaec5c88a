"""DTypes as objects, as TensorFlow has them (``tf.float32.name == 'float32'``).

A DType wraps a NumPy dtype; ``as_dtype`` accepts a DType, a NumPy dtype or
type, or a name.  ``tf.float32 == np.float32`` is True, as in TensorFlow.
"""
from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type.

    >>> import tapegrad as tf
    >>> tf.float32.name, tf.float32.is_floating, tf.int32.is_integer
    ('float32', True, True)
    """

    __slots__ = ("name", "as_numpy_dtype", "_np")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self._np = np.dtype(np_dtype)
        self.as_numpy_dtype = self._np.type

    @property
    def is_floating(self) -> bool:
        return self._np.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_unsigned(self) -> bool:
        return self._np.kind == "u"

    @property
    def is_complex(self) -> bool:
        return self._np.kind == "c"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def is_differentiable(self) -> bool:
        """Gradients flow only through real and complex floating types (TF's IsTrainable)."""
        return self._np.kind in "fc"

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def as_datatype_enum(self) -> int:
        """TensorFlow's DataType enum value (tf.float32: 1)."""
        return _ENUM_OF[self]

    @property
    def base_dtype(self) -> "DType":
        return self

    @property
    def real_dtype(self) -> "DType":
        return as_dtype(np.empty(0, self._np).real.dtype) if self.is_complex else self

    @property
    def min(self):
        return np.finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def __eq__(self, other) -> bool:
        if other is self:
            return True
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
bool_ = DType("bool", np.bool_)
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)
string = DType("string", np.bytes_)  # UTF-8 bytes, as TF holds text
half, double = float16, float64

ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32,
       uint64, bool_, complex64, complex128)
_BY_NP = {d._np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL + (string,)}
_BY_NAME.update(half=float16, double=float64, float=float32)
# TensorFlow's DataType enum values (types.proto): tf.as_dtype(1) is tf.float32
_BY_ENUM = {1: float32, 2: float64, 3: int32, 4: uint8, 5: int16, 6: int8, 7: string, 8: complex64, 9: int64,
            10: bool_, 17: uint16, 18: complex128, 19: float16, 22: uint32, 23: uint64}
_ENUM_OF = {d: e for e, d in _BY_ENUM.items()}


def from_numpy(np_dtype: np.dtype) -> DType:
    """The DType of a NumPy dtype (fast path for arrays' ``.dtype``)."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        if np_dtype.kind in "US":
            return string
        raise TypeError(f"tapegrad has no dtype for NumPy dtype {np_dtype}") from None


def as_dtype(value) -> DType:
    """Convert a DType, NumPy dtype/type, name or TF DataType enum value to a DType.

    >>> import numpy as np, tapegrad as tf
    >>> tf.as_dtype(np.float64), tf.as_dtype("int32"), tf.as_dtype(1)
    (tf.float64, tf.int32, tf.float32)
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        try:
            return _BY_ENUM[int(value)]
        except KeyError:
            raise TypeError(f"Cannot convert the DataType enum value {value!r} to a tapegrad DType.") from None
    if isinstance(value, str):
        try:
            return _BY_NAME[value]
        except KeyError:
            raise TypeError(f"Cannot convert {value!r} to a tapegrad DType.") from None
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"Cannot convert {value!r} to a tapegrad DType.") from None
    return from_numpy(np_dtype)
