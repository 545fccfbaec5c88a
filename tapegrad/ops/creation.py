"""Ops that make tensors: zeros, ones, fill, eye, range, linspace, and a tensor's shape, size
and rank.  Sizes may be symbolic inside a tf.function: the tensor is then made when the program
runs.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..core import dtypes
from ..core.aval import Dim, ShapedArray, dims, is_static, prod
from ..core.op import Domain, defop, state
from ..core.tensor import Tensor, convert_to_array
from .array import _filled, _known_now, _read, _shape_arg, broadcast_to, expand_dims

__all__ = ["zeros", "ones", "zeros_like", "ones_like", "fill", "eye", "range", "linspace", "shape", "size",
           "rank"]


def zeros(shape, dtype=dtypes.float32, name=None) -> Tensor:
    """A tensor of zeros.

    >>> import tapegrad as tf
    >>> tf.zeros([2]).numpy()
    array([0., 0.], dtype=float32)
    """
    return _filled(_shape_arg(shape), 0, dtypes.as_dtype(dtype)._np)


def ones(shape, dtype=dtypes.float32, name=None) -> Tensor:
    return _filled(_shape_arg(shape), 1, dtypes.as_dtype(dtype)._np)


def _like(x, dtype):
    v = x._value if isinstance(x, Tensor) else convert_to_array(x)
    return dims(v), (v.dtype if dtype is None else dtypes.as_dtype(dtype)._np)


def zeros_like(input, dtype=None, name=None) -> Tensor:
    shape, dt = _like(input, dtype)
    return _filled(shape, 0, dt)


def ones_like(input, dtype=None, name=None) -> Tensor:
    shape, dt = _like(input, dtype)
    return _filled(shape, 1, dt)


def fill(dims, value, name=None) -> Tensor:
    """A tensor of shape `dims` filled with `value`.

    >>> import tapegrad as tf
    >>> tf.fill([2, 2], 7).numpy()
    array([[7, 7],
           [7, 7]], dtype=int32)
    """
    shape = _shape_arg(dims)
    if isinstance(value, Tensor) and not isinstance(value._value, np.ndarray) or state.graph is not None:
        value = value if isinstance(value, Tensor) else Tensor(convert_to_array(value))
        return broadcast_to(value, shape)  # a traced value (or size) is filled in when the program runs
    v = convert_to_array(value)
    return Tensor(np.full(tuple(int(d) for d in shape), v, dtype=v.dtype))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None) -> Tensor:
    """An identity matrix [num_rows, num_columns] (square by default), broadcast to `batch_shape`;
    the sizes may be tensors (read when the program runs, inside a tf.function).

    >>> import tapegrad as tf
    >>> tf.eye(2, 3, dtype=tf.int32).numpy()
    array([[1, 0, 0],
           [0, 1, 0]], dtype=int32)
    """
    dt = dtypes.as_dtype(dtype)._np
    rows = _shape_arg(num_rows)[0]
    columns = rows if num_columns is None else _shape_arg(num_columns)[0]
    batch = () if batch_shape is None else _shape_arg(batch_shape)
    if is_static((rows, columns)):
        m = Tensor(np.eye(rows, columns, dtype=dt))
    else:  # sizes known when the program runs: row index == column index
        from .math import cast, equal
        row = _iota(rows)
        column = row if num_columns is None else _iota(columns)
        m = cast(equal(expand_dims(row, 1), expand_dims(column, 0)), dt)
    if not batch:
        return m
    if is_static(batch) and isinstance(m._value, np.ndarray):
        return Tensor(np.broadcast_to(m._value, batch + m._value.shape).copy())
    return broadcast_to(m, batch + tuple(dims(m)))


def _size(d, dtype=np.int32) -> Tensor:
    """A size (an int, or while tracing a Dim) as a scalar tensor: its value when the program runs."""
    if isinstance(d, Dim):
        return state.graph.dim_tensor(d, dtype)
    return Tensor(np.array(d, dtype=dtype))


def _iota(n, dtype=np.int32) -> Tensor:
    """0, 1, ..., n - 1 for a size n (an int, or a Dim: the result's shape is (n,), that size)."""
    if isinstance(n, int):
        return Tensor(np.arange(n, dtype=dtype))
    from .reduce import cumsum
    return cumsum(broadcast_to(Tensor(np.ones((), dtype)), (n,)), exclusive=True)


def _range_type(start, limit, delta, dtype=None):
    for name, v in (("start", start), ("limit", limit), ("delta", delta)):
        if v.ndim:
            raise ValueError(f"range: {name} must be a scalar, got shape {list(v.shape)}")
    return ShapedArray((None,), dtype)  # its length depends on the values: read when it runs


@defop(nondiff="a sequence of numbers: no input to differentiate", same_dtype=(), shape=_range_type,
       name="range", cases=[dict(shapes=((), (), ()), params=dict(dtype=np.dtype(np.int32)))],
       domain=(Domain(0, 2, dtype=np.int32, integer=True), Domain(5, 9, dtype=np.int32, integer=True),
               Domain(1, 3, dtype=np.int32, integer=True)))
def _range(start, limit, delta, dtype=None):
    """np.arange(start, limit, delta) as `dtype`: tf.range when a bound is a traced tensor."""
    if delta == 0:
        raise ValueError("Requires delta != 0")
    return np.arange(start, limit, delta).astype(dtype)


def range(start, limit=None, delta=1, dtype=None, name="range") -> Tensor:
    """Like Python's range; int32 for ints and float32 for floats unless `dtype` says otherwise.

    >>> import tapegrad as tf
    >>> tf.range(5).numpy()
    array([0, 1, 2, 3, 4], dtype=int32)
    """
    if limit is None:
        start, limit = 0, start
    args = tuple(_read(v) for v in (start, limit, delta))
    arrays = [v._value if isinstance(v, Tensor) else convert_to_array(v) for v in args]
    if dtype is None:
        kinds = {a.dtype.kind for a in arrays}
        dt = np.dtype(np.float32) if "f" in kinds else np.dtype(np.int32)
        if any(a.dtype in (np.float64, np.int64) for a, v in zip(arrays, args) if isinstance(v, Tensor)):
            dt = builtins.max((a.dtype for a in arrays), key=lambda d: d.itemsize)
    else:
        dt = dtypes.as_dtype(dtype)._np
    if any(not isinstance(a, np.ndarray) for a in arrays):  # a traced bound: the length is known when it runs
        from .math import cast
        bounds = [cast(v if isinstance(v, Tensor) else Tensor(a), dt) for v, a in zip(args, arrays)]
        return _range(*bounds, dtype=dt)
    return Tensor(np.arange(arrays[0].item(), arrays[1].item(), arrays[2].item()).astype(dt))


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    """`num` evenly spaced values from start to stop (inclusive).

    >>> import tapegrad as tf
    >>> tf.linspace(0.0, 1.0, 3).numpy()
    array([0. , 0.5, 1. ], dtype=float32)
    """
    if all(_known_now(v) for v in (start, stop, num)):
        s = convert_to_array(start)
        return Tensor(np.linspace(s, convert_to_array(stop), int(num), axis=axis).astype(
            s.dtype if s.dtype.kind == "f" else np.float32))
    from .math import cast
    start = start if isinstance(start, Tensor) else Tensor(convert_to_array(start))
    dt = start.dtype if start.dtype.is_floating else dtypes.float32
    stop = stop if isinstance(stop, Tensor) else Tensor(convert_to_array(stop))
    start, stop = cast(start, dt), cast(stop, dt)
    if start.ndim or stop.ndim or axis != 0:
        raise NotImplementedError("linspace inside tf.function takes scalar start and stop (axis 0)")
    n = num if isinstance(num, Tensor) else Tensor(np.int32(num))
    steps = cast(_range(Tensor(np.int32(0)), cast(n, dtypes.int32), Tensor(np.int32(1)),
                        dtype=np.dtype(np.int32)), dt)
    from .math import maximum
    return start + steps * ((stop - start) / cast(maximum(n - 1, 1), dt))


def shape(input, out_type=dtypes.int32, name=None) -> Tensor:
    """The shape of `input` as a 1-D integer tensor (its sizes when the function runs, inside one).

    >>> import tapegrad as tf
    >>> tf.shape(tf.zeros([2, 3])).numpy()
    array([2, 3], dtype=int32)
    """
    shape = dims(input if isinstance(input, Tensor) else convert_to_array(input))
    dt = dtypes.as_dtype(out_type)._np
    if is_static(shape) and (not isinstance(input, Tensor) or isinstance(input._value, np.ndarray)):
        return Tensor(np.array(shape, dtype=dt))
    from .symbolic import shape_of
    return shape_of(input, out_type=dt)


def size(input, out_type=dtypes.int32, name=None) -> Tensor:
    n = prod(dims(input if isinstance(input, Tensor) else convert_to_array(input)))
    if isinstance(n, Dim):
        from .symbolic import dim_size
        return dim_size(dim=n, dtype=dtypes.as_dtype(out_type)._np)
    return Tensor(np.array(n, dtype=dtypes.as_dtype(out_type)._np))


def rank(input, name=None) -> Tensor:
    return Tensor(np.array(len(dims(input if isinstance(input, Tensor) else convert_to_array(input))),
                           dtype=np.int32))

