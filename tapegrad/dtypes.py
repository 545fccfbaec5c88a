"""``tf.dtypes``: the DType objects, ``as_dtype``, and the casts (re-exports)."""
from .core.dtypes import (DType, as_dtype, bool_ as bool, complex64, complex128, double, float16, float32,  # noqa: A004
                          float64, half, int8, int16, int32, int64, string, uint8, uint16, uint32, uint64)
from .ops.math import cast, saturate_cast

__all__ = ["DType", "as_dtype", "bool", "complex64", "complex128", "double", "float16", "float32", "float64",
           "half", "int8", "int16", "int32", "int64", "string", "uint8", "uint16", "uint32", "uint64", "cast",
           "saturate_cast"]

from ._compat import module_getattr as _module_getattr  # noqa: E402
__getattr__ = _module_getattr("tf.dtypes")
