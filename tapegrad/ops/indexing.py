"""Ops that read and write elements by index: ``x[...]``, slice, boolean_mask, repeat, gather,
gather_nd, scatter_nd, unsorted_segment_sum and one_hot.
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from ..core import dtypes
from ..core.aval import Dim, ShapedArray, broadcast_shapes, dims
from ..core.op import REAL, Domain, defop, method, state
from ..core.sparse import IndexedSlices
from ..core.tensor import Tensor, convert_to_array
from .array import (_INDEX, _axis, _check_broadcast, _differ, _dim, _dims, _lead, _read, _shape_arg, _static,
                    _value, broadcast_to, expand_dims, reshape, transpose)
from .creation import _range, _size

__all__ = ["gather", "gather_nd", "scatter_nd", "unsorted_segment_sum", "one_hot", "slice", "boolean_mask",
           "repeat", "getitem", "where_indices"]


# -- indexing ---------------------------------------------------------------------------

def _is_basic(key) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (int, builtins.slice)) for k in key)


def _slice_length(size, s):
    """How many elements slice s takes from an axis of `size`; None when a symbolic size or bound
    leaves it unknown (x[1:k] is max(min(k, n) - 1, 0): not a Dim)."""
    start, stop, step = (v if v is None or isinstance(v, Dim) else operator.index(v)
                         for v in (s.start, s.stop, s.step))
    if step == 0:
        raise ValueError("slice step cannot be zero")
    if isinstance(size, int) and not any(isinstance(v, Dim) for v in (start, stop, step)):
        return len(builtins.range(*builtins.slice(start, stop, step).indices(size)))
    step = 1 if step is None else step
    if stop is None and isinstance(step, int) and (start is None or (start == 0 and step > 0)):
        return (size + builtins.abs(step) - 1) // builtins.abs(step)  # every step-th of the whole axis
    return None


def _index_entry(k):
    """(kind, axes it takes, index shape) of one entry of a key: kind is "new", "ellipsis",
    "slice", "int" (a scalar) or "array" (integer array; a boolean one as its np.nonzero)."""
    if k is None:
        return "new", 0, None
    if k is Ellipsis:
        return "ellipsis", 0, None
    if isinstance(k, builtins.slice):
        return "slice", 1, None
    if isinstance(k, (bool, np.bool_, list, np.ndarray)):
        k = np.asarray(k)
        if k.dtype.kind == "b":
            return "array", k.ndim, (int(np.count_nonzero(k)),)
        if k.dtype.kind in "iu":  # NumPy takes a 0-d one as an int
            return ("array" if k.ndim else "int"), 1, k.shape
    elif isinstance(k, (int, np.integer, Dim)):
        return "int", 1, ()
    raise IndexError("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer "
                     "or boolean arrays are valid indices")


def _check_index(k, axis: int, size) -> None:
    """IndexError, as NumPy's, for an integer (array) or boolean-array index outside a static axis."""
    if isinstance(k, (bool, np.bool_, list, np.ndarray)) and np.asarray(k).dtype.kind == "b":
        for j, (n, d) in enumerate(zip(np.shape(k), size)):
            if _differ(n, d):
                raise IndexError(f"boolean index did not match indexed array along axis {axis + j}; size of "
                                 f"axis is {d} but size of corresponding boolean axis is {n}")
    elif isinstance(size[0], int) and not isinstance(k, Dim) and np.size(k):
        for i in (np.min(k), np.max(k)):
            if not -size[0] <= i < size[0]:
                raise IndexError(f"index {int(i)} is out of bounds for axis {axis} with size {size[0]}")


def _getitem_type(tensor, key=()):
    """NumPy's indexing.  Ints and slices take an axis each, None adds one, Ellipsis stands for the
    axes nothing else takes.  With integer or boolean arrays in the key, those and the ints are
    advanced indices: their broadcast shape replaces the axes they take where they stand when
    they are adjacent in the key, else it comes first."""
    key = key if isinstance(key, tuple) else (key,)
    entries = [_index_entry(k) for k in key]
    if sum(kind == "ellipsis" for kind, _, _ in entries) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    taken = sum(n for _, n, _ in entries)
    if taken > tensor.ndim:
        raise IndexError(f"too many indices for array: array is {tensor.ndim}-dimensional, but {taken} "
                         f"were indexed")
    advanced = any(kind == "array" for kind, _, _ in entries)
    shape, axis, where, places, index_shapes, checks = [], 0, None, [], [], []
    for i, (k, (kind, n, index_shape)) in enumerate(zip(key, entries)):
        if kind == "new":
            shape.append(1)
        elif kind == "ellipsis":
            n = tensor.ndim - taken
            shape += tensor.shape[axis:axis + n]
        elif kind == "slice":
            shape.append(_slice_length(tensor.shape[axis], k))
        else:
            checks.append((k, axis, tensor.shape[axis:axis + n]))
            if advanced:
                where = len(shape) if where is None else where
                places.append(i)
                index_shapes.append(index_shape)
        axis += n
    shape += tensor.shape[axis:]
    index_shape = []
    if index_shapes:
        try:
            index_shape = list(np.broadcast_shapes(*index_shapes))
        except ValueError:
            raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with shapes "
                             f"{' '.join(map(str, index_shapes))}") from None
        adjacent = places == list(builtins.range(places[0], places[-1] + 1))
        shape = shape[:where] + index_shape + shape[where:] if adjacent else index_shape + shape
    for k, at, size in checks:  # NumPy bounds-checks only the array indices it uses
        if not (0 in index_shape and isinstance(k, np.ndarray) and k.ndim and k.dtype.kind in "iu"):
            _check_index(k, at, size)
    return ShapedArray(tuple(shape), tensor.dtype)


def _getitem_vjp(g, out, x, key):
    lead = _lead(g, out.ndim)
    return _scatter_slice(g, key=(builtins.slice(None),) * len(lead) + key, shape=lead + tuple(x.shape))


@defop(vjp=(_getitem_vjp,), jvp=(lambda t, out, x, key: getitem(t, key),), saves="",
       domain=(REAL,), batch_vjp=lambda params: _is_basic(params["key"]), shape=_getitem_type, result="view",
       cases=[dict(shapes=((4, 5),), params=dict(key=(builtins.slice(1, 3),))),
              dict(shapes=((4, 5),), params=dict(key=(builtins.slice(None), 2))),
              dict(shapes=((4, 5),), params=dict(key=(-1,))),
              dict(shapes=((2, 3, 4),), params=dict(key=(Ellipsis, None, builtins.slice(None, None, -2)))),
              dict(shapes=((4, 5),), params=dict(key=(np.array([0, 2, 2]),))),
              dict(shapes=((4, 5),), params=dict(key=(np.array([0, 3]), np.array([1, 1]))))])
def getitem(tensor, key=()):
    """tensor[key] with NumPy's indexing (basic and integer-array)."""
    return tensor[key]


def _scatter_slice_type(updates, key=(), shape=()):
    shape = _dims(shape)
    target = _getitem_type(ShapedArray(shape, updates.dtype), key).shape
    _check_broadcast(updates.shape, target, f"could not broadcast updates of shape {tuple(updates.shape)} "
                                            f"into the slice of shape {target}", extra_ones=_is_basic(key))
    return ShapedArray(shape, updates.dtype)


@defop(vjp=(lambda g, out, x, key, shape: getitem(g, (builtins.slice(None),) * (g.ndim - len(shape)) + key),),
       jvp=(lambda t, out, x, key, shape: _scatter_slice(t, key=key, shape=shape),),
       saves="", domain=(REAL,), batch_vjp=lambda params: _is_basic(params["key"]), shape=_scatter_slice_type,
       cases=[dict(shapes=((2, 5),), params=dict(key=(builtins.slice(1, 3),), shape=(4, 5))),
              dict(shapes=((4,),), params=dict(key=(builtins.slice(None), 1), shape=(4, 3))),
              dict(shapes=((3, 5),), params=dict(key=(np.array([0, 2, 0]),), shape=(4, 5)))])
def _scatter_slice(updates, key=(), shape=()):
    """zeros(shape) with `updates` added at `key`: the cotangent of getitem."""
    out = np.zeros(shape, dtype=updates.dtype)
    if _is_basic(key):
        out[key] = updates
    else:
        np.add.at(out, key, updates)
    return out


def _normalize_key(key) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, Tensor):
            k = _read(k)  # a variable index inside a traced function: its value when the program runs
            v = k._value
            if v.ndim == 0 and v.dtype.kind in "iu":
                k = _static(k)  # a traced index: read when the program runs
            elif isinstance(v, np.ndarray):
                k = np.asarray(v)
            else:
                raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and "
                                f"scalar tf.int32/tf.int64 tensors are valid indices inside a tf.function, "
                                f"got {k!r} (use tf.gather or tf.boolean_mask)")
        elif isinstance(k, builtins.slice) and any(isinstance(b, Tensor) for b in (k.start, k.stop, k.step)):
            bounds = (k.start, k.stop, k.step)
            k = builtins.slice(*[_static(b) if isinstance(b, Tensor) else b for b in bounds])
        elif isinstance(k, list):
            k = np.asarray(k)
        elif isinstance(k, np.integer):
            k = int(k)
        if isinstance(k, np.ndarray):
            k.flags.writeable = False
        out.append(k)
    return tuple(out)


@method("__getitem__")
def _tensor_getitem(self, key):
    return getitem(self, _normalize_key(key))


def slice(input_, begin, size, name=None):
    """The block starting at `begin` of the given `size` (-1: to the end)."""
    begin, size_ = _shape_arg(begin), _shape_arg(size)
    key = tuple(builtins.slice(b, None if isinstance(s, int) and s == -1 else b + s)
                for b, s in zip(begin, size_))
    return getitem(input_, key)


@defop(nondiff="integer coordinates", shape=lambda condition: ShapedArray((None, condition.ndim), np.int64),
       cases=[dict(shapes=((3, 4),))], domain=(Domain(0, 2, dtype=np.bool_, integer=True),))
def where_indices(condition):
    """The coordinates where `condition` is true, int64 [n, rank] (one-argument tf.where).

    >>> from tapegrad.ops.indexing import where_indices
    >>> where_indices([[True, False], [False, True]]).numpy()
    array([[0, 0],
           [1, 1]])
    """
    return np.argwhere(condition).astype(np.int64)


def boolean_mask(tensor, mask, axis=None, name="boolean_mask"):
    """The elements (or rows from `axis`) where `mask` is True.

    >>> import tapegrad as tf
    >>> tf.boolean_mask(tf.constant([1, 2, 3]), [True, False, True]).numpy()
    array([1, 3], dtype=int32)
    """
    axis = 0 if axis is None else int(axis)
    mask = mask if isinstance(mask, Tensor) else Tensor(convert_to_array(mask))
    if state.graph is None:
        m = mask._value.astype(bool)
        pre = (builtins.slice(None),) * axis
        return getitem(tensor, pre + (np.nonzero(m.reshape(-1))[0] if m.ndim == 1 else m,)) \
            if m.ndim == 1 else getitem(tensor, pre + tuple(np.nonzero(m)))
    tensor = tensor if isinstance(tensor, Tensor) else Tensor(convert_to_array(tensor))
    rank, k = tensor.ndim, mask.ndim
    perm = tuple(builtins.range(axis, axis + k)) + tuple(builtins.range(axis)) + \
        tuple(builtins.range(axis + k, rank))
    picked = gather_nd(transpose(tensor, perm) if axis else tensor, where_indices(mask))
    if not axis:
        return picked
    back = tuple(builtins.range(1, axis + 1)) + (0,) + tuple(builtins.range(axis + 1, rank - k + 1))
    return transpose(picked, back)


def repeat(input, repeats, axis=None, name=None):
    """Repeat each element `repeats` times along `axis` (flattened when None); `repeats` is one
    count or one per element, and may be a tensor (read when the program runs, in a tf.function).

    >>> import tapegrad as tf
    >>> tf.repeat(tf.constant([1, 2, 3]), [2, 0, 1]).numpy()
    array([1, 1, 3], dtype=int32)
    """
    x = input if axis is not None else reshape(input, [-1])
    ax = 0 if axis is None else int(axis)
    n = dims(x)[ax]
    if isinstance(n, int) and state.graph is None:  # eagerly: the counts are known
        counts = repeats._value if isinstance(repeats, Tensor) else convert_to_array(repeats)
        idx = np.repeat(np.arange(n), np.broadcast_to(counts, (n,)))
        return gather(x, idx.astype(np.int32), axis=ax)
    # element i fills the positions from sum(counts[:i]) up to sum(counts[:i + 1]): the source of
    # position j is the number of elements whose run ends at or before j
    from ..core.tensor import convert_to_tensor
    from .math import cast
    from .reduce import cumsum, reduce_sum
    counts = convert_to_tensor(repeats)  # a list holding tensors is packed
    counts = broadcast_to(cast(counts, dtypes.int32), (n,))
    ends = cumsum(counts)
    positions = _range(_size(0), reduce_sum(counts), _size(1), dtype=np.dtype(np.int32))
    idx = reduce_sum(cast(expand_dims(positions, 1) >= expand_dims(ends, 0), dtypes.int32), axis=1)
    return gather(x, idx, axis=ax)


# -- gather / scatter -------------------------------------------------------------------

def _gather_vjp(g, out, params, indices, axis, batch_dims):
    if batch_dims:
        raise NotImplementedError("gradient of gather with batch_dims > 0")
    ax = axis % params.ndim
    shape = tuple(dims(params))
    if ax == 0:
        return IndexedSlices(reshape(g, (-1,) + shape[1:]), reshape(indices, [-1]), shape)
    n_idx = np.ndim(_value(indices))
    # move the gathered axes to the front, segment-sum, move back
    perm = tuple(builtins.range(ax, ax + n_idx)) + tuple(builtins.range(ax)) + \
        tuple(builtins.range(ax + n_idx, g.ndim))
    moved = transpose(g, perm)
    rest = tuple(dims(moved)[n_idx:])
    summed = unsorted_segment_sum(reshape(moved, (-1,) + rest), reshape(indices, [-1]), shape[ax])
    back = tuple(builtins.range(1, ax + 1)) + (0,) + tuple(builtins.range(ax + 1, len(shape)))
    return transpose(summed, back)


def _gather_type(params, indices, axis=0, batch_dims=0):
    if params.ndim == 0:
        raise ValueError("gather: params must be at least 1-D")
    if isinstance(axis, Dim) and not batch_dims:  # an axis known when the program runs: the rank only
        return ShapedArray((None,) * (params.ndim - 1 + indices.ndim), params.dtype)
    axis = 0 if axis is None else int(axis)
    p, i = params.shape, indices.shape
    if not batch_dims:
        ax = _axis(axis, params.ndim)
        return ShapedArray(p[:ax] + i + p[ax + 1:], params.dtype)
    if indices.ndim == params.ndim:  # np.take_along_axis: the other axes broadcast
        ax = _axis(axis, params.ndim)
        return ShapedArray(broadcast_shapes(p[:ax] + (1,) + p[ax + 1:], i), params.dtype)
    # one np.take per row: as many rows as both have (zip), each taking along axis - batch_dims
    if indices.ndim == 0:
        raise ValueError("gather: indices with batch_dims must be at least 1-D")
    rows = builtins.min(p[0], i[0]) if _differ(p[0], i[0]) else p[0] if p[0] == i[0] else None
    if rows == 0:
        raise ValueError("need at least one array to stack")
    ax = _axis(axis - batch_dims, params.ndim - 1)
    return ShapedArray((rows,) + p[1:ax + 1] + i[1:] + p[ax + 2:], params.dtype)


@defop(vjp=(_gather_vjp, None),
       jvp=(lambda t, out, p, i, axis, batch_dims: gather(t, i, axis=axis, batch_dims=batch_dims), None),
       domain=(REAL, _INDEX), same_dtype=(), shape=_gather_type,
       cases=[dict(shapes=((5, 3), (4,))),
              dict(shapes=((3, 5), (2, 2)), params=dict(axis=1)),
              dict(shapes=((2, 4, 3), (3,)), params=dict(axis=-1)),
              dict(shapes=((3,), ()))])
def gather(params, indices, axis=0, batch_dims=0):
    """Slices of params at `indices` along `axis`; its gradient is an IndexedSlices for axis 0.

    >>> import tapegrad as tf
    >>> tf.gather(tf.constant([10, 20, 30]), [2, 0]).numpy()
    array([30, 10], dtype=int32)
    """
    axis = 0 if axis is None else int(axis)
    n = params.shape[axis % params.ndim]
    bad = (indices < 0) | (indices >= n)
    if np.any(bad):
        i = int(np.argmax(bad.reshape(-1)))
        raise IndexError(f"indices[{i}] = {int(indices.reshape(-1)[i])} is not in [0, {n})")
    if batch_dims:
        return np.take_along_axis(params, indices, axis=axis) if indices.ndim == params.ndim else \
            np.stack([np.take(p, i, axis=axis - batch_dims) for p, i in zip(params, indices)])
    return np.take(params, indices, axis=axis)


def _segment_sum_type(data, segment_ids, num_segments=None):
    rows = data.shape[segment_ids.ndim:]
    _check_broadcast(data.shape, segment_ids.shape + rows,
                     f"data of shape {tuple(data.shape)} does not fit segment_ids of shape "
                     f"{segment_ids.shape}", extra_ones=False)
    return ShapedArray((_dim(num_segments),) + rows, data.dtype)


@defop(vjp=(lambda g, out, data, ids, num_segments: gather(g, ids), None),
       jvp=(lambda t, out, data, ids, num_segments: unsorted_segment_sum(t, ids, num_segments), None),
       domain=(REAL, _INDEX), same_dtype=(), shape=_segment_sum_type,
       cases=[dict(shapes=((4, 3), (4,)), params=dict(num_segments=3)),
              dict(shapes=((2, 2), (2, 2)), params=dict(num_segments=3)),
              dict(shapes=((5,), (5,)), params=dict(num_segments=4))])
def unsorted_segment_sum(data, segment_ids, num_segments=None):
    """out[i] = sum of data[j] over j with segment_ids[j] == i (how IndexedSlices densify)."""
    n = int(num_segments)
    out = np.zeros((n,) + data.shape[segment_ids.ndim:], dtype=data.dtype)
    np.add.at(out, segment_ids, data)
    return out


def _nd_key(indices):
    return tuple(np.moveaxis(np.asarray(indices), -1, 0))


def _gather_nd_type(params, indices):
    if indices.ndim == 0:
        raise ValueError("gather_nd: indices must be at least 1-D")
    depth = indices.shape[-1]
    if not isinstance(depth, int):  # it decides the result's rank
        raise TypeError("gather_nd and scatter_nd need the last dimension of indices (the index depth) "
                        "known while tf.function traces")
    if depth > params.ndim:
        raise IndexError(f"too many indices for array: array is {params.ndim}-dimensional, but {depth} "
                         f"were indexed")
    # depth 0 indexes with an empty tuple: all of params
    return ShapedArray(indices.shape[:-1] + params.shape[depth:] if depth else params.shape, params.dtype)


@defop(vjp=(lambda g, out, params, indices: scatter_nd(indices, g, tuple(params.shape)), None),
       jvp=(lambda t, out, p, i: gather_nd(t, i), None),
       domain=(REAL, _INDEX), same_dtype=(), shape=_gather_nd_type,
       cases=[dict(shapes=((3, 4), (5, 2))),
              dict(shapes=((3, 3, 2), (2, 1))),
              dict(shapes=((3, 3), (2, 2, 2)))])
def gather_nd(params, indices):
    """params[indices[..., 0], indices[..., 1], ...]."""
    return params[_nd_key(indices)]


def _scatter_nd_type(indices, updates, shape=None):
    shape = _dims(shape)
    target = _gather_nd_type(ShapedArray(shape, updates.dtype), indices).shape
    _check_broadcast(updates.shape, target, f"updates of shape {tuple(updates.shape)} do not fit the "
                                            f"{target} slices that indices pick from shape {shape}",
                     extra_ones=False)
    return ShapedArray(shape, updates.dtype)


@defop(vjp=(None, lambda g, out, indices, updates, shape: gather_nd(g, indices)),
       jvp=(None, lambda t, out, i, u, shape: scatter_nd(i, t, shape)),
       saves="inputs", domain=(_INDEX, REAL), same_dtype=(), shape=_scatter_nd_type,
       cases=[dict(shapes=((4, 1), (4, 3)), params=dict(shape=(3, 3))),
              dict(shapes=((5, 2), (5,)), params=dict(shape=(3, 4)))])
def scatter_nd(indices, updates, shape=None):
    """zeros(shape) with updates added at indices (duplicates sum)."""
    out = np.zeros(_shape_arg(shape), dtype=updates.dtype)
    np.add.at(out, _nd_key(indices), updates)
    return out


def _one_hot_type(indices, depth=None, on_value=None, off_value=None, axis=None, dtype=None):
    dt = dtypes.as_dtype(dtype or (np.asarray(on_value).dtype if on_value is not None else "float32"))._np
    depth = _dim(depth)
    shape = indices.shape + (builtins.max(depth, 0) if isinstance(depth, int) else depth,)
    if axis is not None and axis != -1:  # the new axis moves to `axis`
        ax = _axis(axis, len(shape))
        shape = shape[:ax] + shape[-1:] + shape[ax:-1]
    return ShapedArray(shape, dt)


@defop(nondiff="integer input; the result is a constant pattern", same_dtype=(), domain=(_INDEX,),
       shape=_one_hot_type, name="one_hot",
       cases=[dict(shapes=((4,),), params=dict(depth=3))])
def _one_hot(indices, depth=None, on_value=None, off_value=None, axis=None, dtype=None):
    """The primitive of `one_hot`, with Python on and off values."""
    dt = dtypes.as_dtype(dtype or (np.asarray(on_value).dtype if on_value is not None else "float32"))._np
    depth = int(depth)
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    hot = np.asarray(indices)[..., None] == np.arange(depth)
    out = np.where(hot, np.asarray(on, dtype=dt), np.asarray(off, dtype=dt))
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out



def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot rows for integer indices (float32 by default; -1 or out of range gives all off).

    `depth` may be a scalar tensor and `on_value`/`off_value` tensors (inputs of the program,
    inside a tf.function, as TF's); the dtype is `dtype`, else on_value's, else off_value's.

    >>> import tapegrad as tf
    >>> tf.one_hot([0, 2], 3, on_value=tf.constant(5), off_value=tf.constant(-1)).numpy()
    array([[ 5, -1, -1],
           [-1, -1,  5]], dtype=int32)
    """
    depth = _static(depth) if isinstance(depth, Tensor) else depth
    if not isinstance(on_value, Tensor) and not isinstance(off_value, Tensor):
        return _one_hot(indices, depth=depth, on_value=on_value, off_value=off_value, axis=axis, dtype=dtype)
    from .math import cast, where
    first = on_value if on_value is not None else off_value
    dt = dtypes.as_dtype(dtype)._np if dtype is not None else \
        first._value.dtype if isinstance(first, Tensor) else convert_to_array(first).dtype
    on, off = (cast(v, dt) if isinstance(v, Tensor) else Tensor(np.asarray(default if v is None else v, dt))
               for v, default in ((on_value, 1), (off_value, 0)))
    hot = _one_hot(indices, depth=depth, on_value=True, off_value=False, axis=axis, dtype=np.bool_)
    return where(hot, on, off)


def _getitem_known(avals, knowns, key=()):
    """tf.shape(x)[k] while tracing: the size itself (see Graph.known_value)."""
    if isinstance(knowns[0], tuple) and len(key) == 1 and isinstance(key[0], int):
        return knowns[0][key[0]]
    return None


getitem.known = _getitem_known
