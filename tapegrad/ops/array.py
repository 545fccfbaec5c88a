"""Creating tensors, and ops that move elements: reshape, transpose, slicing, gather, concat, pad.

Their vjps move cotangents back; each accepts extra leading (jacobian) axes on
the cotangent where ``batch_vjp`` says so.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..core import dtypes
from ..core.op import REAL, Domain, defop, method
from ..core.sparse import IndexedSlices
from ..core.tensor import Tensor, convert_to_array

__all__ = [
    "zeros", "ones", "zeros_like", "ones_like", "fill", "eye", "range", "linspace", "reshape",
    "transpose", "expand_dims", "squeeze", "concat", "stack", "unstack", "split", "tile", "pad",
    "broadcast_to", "gather", "gather_nd", "scatter_nd", "unsorted_segment_sum", "one_hot",
    "identity", "stop_gradient", "shape", "size", "rank", "reverse", "slice", "boolean_mask",
    "repeat", "newaxis", "getitem",
]

newaxis = None
_INDEX = Domain(0, 3, dtype=np.int32, integer=True)


def _lead(g, x_rank: int) -> tuple:
    """The extra leading (jacobian) axes of cotangent g over a value of rank x_rank."""
    return tuple(g.shape[:g.ndim - x_rank])


# -- creation ---------------------------------------------------------------------------

def _shape_arg(shape) -> tuple:
    if isinstance(shape, Tensor):
        shape = shape.numpy().tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def zeros(shape, dtype=dtypes.float32, name=None) -> Tensor:
    """A tensor of zeros.

    >>> import tapegrad as tf
    >>> tf.zeros([2]).numpy()
    array([0., 0.], dtype=float32)
    """
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtypes.as_dtype(dtype)._np))


def ones(shape, dtype=dtypes.float32, name=None) -> Tensor:
    return Tensor(np.ones(_shape_arg(shape), dtype=dtypes.as_dtype(dtype)._np))


def _like(x, dtype):
    v = x._value if isinstance(x, Tensor) else convert_to_array(x)
    return v, (v.dtype if dtype is None else dtypes.as_dtype(dtype)._np)


def zeros_like(input, dtype=None, name=None) -> Tensor:
    v, dt = _like(input, dtype)
    return Tensor(np.zeros(np.shape(v), dtype=dt))


def ones_like(input, dtype=None, name=None) -> Tensor:
    v, dt = _like(input, dtype)
    return Tensor(np.ones(np.shape(v), dtype=dt))


def fill(dims, value, name=None) -> Tensor:
    v = convert_to_array(value)
    return Tensor(np.full(_shape_arg(dims), v, dtype=v.dtype))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None) -> Tensor:
    m = np.eye(int(num_rows), None if num_columns is None else int(num_columns),
               dtype=dtypes.as_dtype(dtype)._np)
    if batch_shape is not None:
        m = np.broadcast_to(m, _shape_arg(batch_shape) + m.shape).copy()
    return Tensor(m)


def range(start, limit=None, delta=1, dtype=None, name="range") -> Tensor:
    """Like Python's range; int32 for ints and float32 for floats unless `dtype` says otherwise.

    >>> import tapegrad as tf
    >>> tf.range(5).numpy()
    array([0, 1, 2, 3, 4], dtype=int32)
    """
    if limit is None:
        start, limit = 0, start
    # a tensor bound gives its Python value (inside tf.function: a guard on it)
    vals = [np.asarray(int(v) if v.dtype.is_integer else float(v), dtype=v._value.dtype)
            if isinstance(v, Tensor) else convert_to_array(v) for v in (start, limit, delta)]
    if dtype is None:
        kinds = {v.dtype.kind for v in vals}
        dt = np.float32 if "f" in kinds else np.int32
        if any(v.dtype in (np.float64, np.int64) for v in vals if isinstance(start, Tensor)):
            dt = builtins.max((v.dtype for v in vals), key=lambda d: d.itemsize)
    else:
        dt = dtypes.as_dtype(dtype)._np
    return Tensor(np.arange(vals[0].item(), vals[1].item(), vals[2].item()).astype(dt))


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    s = convert_to_array(start)
    return Tensor(np.linspace(s, convert_to_array(stop), int(num), axis=axis).astype(
        s.dtype if s.dtype.kind == "f" else np.float32))


def shape(input, out_type=dtypes.int32, name=None) -> Tensor:
    return Tensor(np.array(np.shape(_value(input)), dtype=dtypes.as_dtype(out_type)._np))


def size(input, out_type=dtypes.int32, name=None) -> Tensor:
    return Tensor(np.array(np.size(_value(input)), dtype=dtypes.as_dtype(out_type)._np))


def rank(input, name=None) -> Tensor:
    return Tensor(np.array(np.ndim(_value(input)), dtype=np.int32))


def _value(x):
    return x._value if isinstance(x, Tensor) else convert_to_array(x)


# -- moving elements --------------------------------------------------------------------

def _reshape_vjp(g, out, x, shape):
    return reshape(g, _lead(g, out.ndim) + tuple(x.shape))


@defop(vjp=(_reshape_vjp,), jvp=(lambda t, out, x, shape: reshape(t, tuple(out.shape)),),
       saves="", domain=(REAL,), batch_vjp=True,
       cases=[dict(shapes=((3, 4),), params=dict(shape=(4, 3))),
              dict(shapes=((3, 4),), params=dict(shape=(2, -1, 3))),
              dict(shapes=((),), params=dict(shape=(1, 1))),
              dict(shapes=((1, 1),), params=dict(shape=()))])
def reshape(tensor, shape=None):
    """tensor with a new shape of the same size; one dim may be -1.

    >>> import tapegrad as tf
    >>> tf.reshape(tf.range(6), [2, -1]).shape
    TensorShape([2, 3])
    """
    try:
        return np.reshape(tensor, _shape_arg(shape))
    except ValueError:
        raise ValueError(f"Input to reshape is a tensor with {np.size(tensor)} values, but the "
                         f"requested shape {list(_shape_arg(shape))} does not fit it") from None


def _transpose_vjp(g, out, x, perm, conjugate):
    rank = x.ndim
    perm = tuple(builtins.range(rank))[::-1] if perm is None else perm
    nb = g.ndim - rank
    inverse = tuple(np.argsort(perm))
    return transpose(g, tuple(builtins.range(nb)) + tuple(nb + int(i) for i in inverse))


@defop(vjp=(_transpose_vjp,),
       jvp=(lambda t, out, x, perm, conjugate: transpose(t, perm),),
       saves="", domain=(REAL,), batch_vjp=True,
       cases=[dict(shapes=((2, 3, 4),), params=dict(perm=(2, 0, 1))),
              dict(shapes=((2, 3, 4),)),
              dict(shapes=((3, 4),), params=dict(perm=(1, 0)))])
def transpose(a, perm=None, conjugate=False):
    """Permute axes (reverse them when perm is None)."""
    return np.transpose(a, None if perm is None else tuple(int(p) for p in perm))


def expand_dims(input, axis, name=None):
    """Insert a length-1 axis at `axis`."""
    v = _value(input)
    new = list(np.shape(v))
    axis = int(axis)
    if not -len(new) - 1 <= axis <= len(new):
        raise ValueError(f"expand_dims: axis {axis} out of range for rank {len(new)}")
    new.insert(axis if axis >= 0 else len(new) + 1 + axis, 1)
    return reshape(input, new)


def squeeze(input, axis=None, name=None):
    """Remove length-1 axes (only `axis` when given; it must have length 1)."""
    shp = np.shape(_value(input))
    if axis is None:
        new = [d for d in shp if d != 1]
    else:
        axes = {a % len(shp) for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if shp[a] != 1:
                raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {shp[a]}")
        new = [d for i, d in enumerate(shp) if i not in axes]
    return reshape(input, new)


def _concat_vjp(k, g, out, *xs, axis):
    rank = xs[0].ndim
    nb = g.ndim - rank
    ax = axis % rank
    start = builtins.sum(x.shape[ax] for x in xs[:k])
    key = (builtins.slice(None),) * (nb + ax) + (builtins.slice(start, start + xs[k].shape[ax]),)
    return getitem(g, key)


def _concat_jvp(k, t, out, *xs, axis):
    parts = [t if i == k else zeros(x.shape, dtype=t.dtype) for i, x in enumerate(xs)]
    return _concat(*parts, axis=axis)


@defop(vjp=_concat_vjp, jvp=_concat_jvp, saves="", batch_vjp=True, domain=(REAL, REAL), name="concat",
       cases=[dict(shapes=((2, 3), (4, 3)), params=dict(axis=0)),
              dict(shapes=((2, 3), (2, 1), (2, 2)), params=dict(axis=1)),
              dict(shapes=((2, 3), (2, 3)), params=dict(axis=-1))])
def _concat(*values, axis=0):
    return np.concatenate(values, axis=axis)


def concat(values, axis, name="concat"):
    """Join tensors along an existing axis.

    >>> import tapegrad as tf
    >>> tf.concat([tf.ones([1, 2]), tf.zeros([1, 2])], axis=0).shape
    TensorShape([2, 2])
    """
    values = list(values)
    if len(values) == 1:
        return identity(values[0])
    return _concat(*values, axis=int(axis))


def stack(values, axis=0, name="stack"):
    """Join same-shaped tensors along a new axis."""
    values = list(values)
    if not values:
        raise ValueError("stack needs at least one tensor")
    return concat([expand_dims(v, axis) for v in values], axis if axis >= 0 else axis)


def unstack(value, num=None, axis=0, name="unstack"):
    """Split a tensor into a list along `axis` (removing it)."""
    v = _value(value)
    n = v.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but the axis has length {n}")
    ax = axis % v.ndim
    pre = (builtins.slice(None),) * ax
    return [getitem(value, pre + (i,)) for i in builtins.range(n)]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Split along `axis` into equal parts (an int) or parts of the given sizes."""
    v = _value(value)
    ax = int(axis) % v.ndim
    length = v.shape[ax]
    if isinstance(num_or_size_splits, (int, np.integer)):
        n = int(num_or_size_splits)
        if length % n:
            raise ValueError(f"Dimension {ax} of length {length} can not be split into {n} equal parts")
        sizes = [length // n] * n
    else:
        sizes = [int(s) for s in _shape_arg(num_or_size_splits)]
        if -1 in sizes:
            sizes[sizes.index(-1)] = length - (builtins.sum(sizes) + 1)
        if builtins.sum(sizes) != length:
            raise ValueError(f"split sizes {sizes} do not add up to the axis length {length}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(value, (builtins.slice(None),) * ax + (builtins.slice(start, start + s),)))
        start += s
    return out


def _tile_vjp(g, out, x, multiples):
    lead = _lead(g, out.ndim)
    inter = []
    for m, s in zip(multiples, x.shape):
        inter += [m, s]
    g = reshape(g, lead + tuple(inter))
    from .reduce import reduce_sum
    return reduce_sum(g, tuple(len(lead) + 2 * i for i in builtins.range(len(multiples))))


@defop(vjp=(_tile_vjp,), jvp=(lambda t, out, x, multiples: tile(t, multiples),),
       saves="", domain=(REAL,), batch_vjp=True,
       cases=[dict(shapes=((2, 3),), params=dict(multiples=(2, 1))),
              dict(shapes=((3,),), params=dict(multiples=(3,))),
              dict(shapes=((2, 1),), params=dict(multiples=(2, 3)))])
def tile(input, multiples=None):
    """Repeat the whole tensor `multiples[i]` times along axis i."""
    multiples = _shape_arg(multiples)
    if len(multiples) != np.ndim(input):
        raise ValueError(f"Expected multiples argument to be a vector of length {np.ndim(input)} "
                         f"but got length {len(multiples)}")
    return np.tile(input, multiples)


def _pad_vjp(g, out, x, paddings, constant_values):
    nb = g.ndim - x.ndim
    key = (builtins.slice(None),) * nb + tuple(
        builtins.slice(int(lo), int(lo) + d) for (lo, _), d in zip(paddings, x.shape))
    return getitem(g, key)


@defop(vjp=(_pad_vjp,), jvp=(lambda t, out, x, paddings, constant_values: _pad_constant(t, paddings, 0),),
       saves="", domain=(REAL,), batch_vjp=True, name="pad",
       cases=[dict(shapes=((2, 3),), params=dict(paddings=((1, 0), (2, 1)))),
              dict(shapes=((3,),), params=dict(paddings=((0, 2),), constant_values=1.5))])
def _pad_constant(tensor, paddings=None, constant_values=0):
    return np.pad(tensor, [tuple(int(v) for v in p) for p in paddings], constant_values=constant_values)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pad with a constant, or mirror the edge ('REFLECT' without it, 'SYMMETRIC' with it)."""
    paddings = tuple(tuple(int(v) for v in p) for p in np.asarray(_value(paddings)).tolist())
    mode = mode.upper()
    if mode == "CONSTANT":
        return _pad_constant(tensor, paddings, constant_values)
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"Unknown padding mode: {mode}")
    out = tensor  # mirror padding is a gather along each axis: its gradient comes with it
    for ax, (lo, hi) in enumerate(paddings):
        if lo or hi:
            n = np.shape(_value(out))[ax]
            idx = np.arange(-lo, n + hi)
            period = 2 * n - 2 if mode == "REFLECT" else 2 * n
            idx = np.mod(idx, period) if period else np.zeros_like(idx)
            if mode == "REFLECT":
                idx = np.where(idx >= n, period - idx, idx)
            else:
                idx = np.where(idx >= n, period - 1 - idx, idx)
            out = gather(out, idx.astype(np.int32), axis=ax)
    return out


@defop(vjp=(lambda g, out, x, shape: g,), jvp=(lambda t, out, x, shape: broadcast_to(t, out.shape),),
       saves="", domain=(REAL,), batch_vjp=True,
       cases=[dict(shapes=((3, 1),), params=dict(shape=(2, 3, 4))),
              dict(shapes=((),), params=dict(shape=(2, 2))),
              dict(shapes=((4,),), params=dict(shape=(3, 4)))])
def broadcast_to(input, shape=None):
    """Broadcast to `shape` (the engine sums the cotangent back)."""
    out = np.empty(_shape_arg(shape), dtype=input.dtype)
    try:
        out[...] = input  # a real array, not a read-only view: several times faster than np.broadcast_to
    except ValueError:
        raise ValueError(f"cannot broadcast shape {input.shape} to {out.shape}") from None
    return out


@defop(vjp=(lambda g, out, x: g,), jvp=(lambda t, out, x: t,), saves="", domain=(REAL,), batch_vjp=True)
def identity(input):
    """A copy of `input` (of a variable: its current value, as a watched read)."""
    return np.array(input, copy=True)


@defop(nondiff="blocks gradients by definition")
def stop_gradient(input):
    """The same value, but gradients do not flow through it."""
    return input


@defop(vjp=(lambda g, out, x, axis: reverse(g, tuple(a % x.ndim - x.ndim for a in axis)),),
       jvp=(lambda t, out, x, axis: reverse(t, axis),), saves="", domain=(REAL,), batch_vjp=True,
       cases=[dict(shapes=((3, 4),), params=dict(axis=(0,))),
              dict(shapes=((3, 4),), params=dict(axis=(0, 1))),
              dict(shapes=((2, 3, 4),), params=dict(axis=(-1,)))])
def reverse(tensor, axis=None):
    """Reverse the order of elements along the given axes."""
    return np.flip(tensor, axis=tuple(int(a) for a in axis))


# -- indexing ---------------------------------------------------------------------------

def _is_basic(key) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (int, builtins.slice)) for k in key)


def _getitem_vjp(g, out, x, key):
    lead = _lead(g, out.ndim)
    return _scatter_slice(g, key=(builtins.slice(None),) * len(lead) + key, shape=lead + tuple(x.shape))


@defop(vjp=(_getitem_vjp,), jvp=(lambda t, out, x, key: getitem(t, key),), saves="",
       domain=(REAL,), batch_vjp=lambda params: _is_basic(params["key"]),
       cases=[dict(shapes=((4, 5),), params=dict(key=(builtins.slice(1, 3),))),
              dict(shapes=((4, 5),), params=dict(key=(builtins.slice(None), 2))),
              dict(shapes=((4, 5),), params=dict(key=(-1,))),
              dict(shapes=((2, 3, 4),), params=dict(key=(Ellipsis, None, builtins.slice(None, None, -2)))),
              dict(shapes=((4, 5),), params=dict(key=(np.array([0, 2, 2]),))),
              dict(shapes=((4, 5),), params=dict(key=(np.array([0, 3]), np.array([1, 1]))))])
def getitem(tensor, key=()):
    """tensor[key] with NumPy's indexing (basic and integer-array)."""
    return tensor[key]


@defop(vjp=(lambda g, out, x, key, shape: getitem(g, (builtins.slice(None),) * (g.ndim - len(shape)) + key),),
       jvp=(lambda t, out, x, key, shape: _scatter_slice(t, key=key, shape=shape),),
       saves="", domain=(REAL,), batch_vjp=lambda params: _is_basic(params["key"]),
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
            v = k._value
            k = int(v) if v.ndim == 0 and v.dtype.kind in "iu" else np.asarray(v)
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
    key = tuple(builtins.slice(b, None if s == -1 else b + s) for b, s in zip(begin, size_))
    return getitem(input_, key)


def boolean_mask(tensor, mask, axis=None, name="boolean_mask"):
    """The elements (or rows from `axis`) where `mask` is True."""
    m = np.asarray(_value(mask)).astype(bool)
    axis = 0 if axis is None else int(axis)
    pre = (builtins.slice(None),) * axis
    return getitem(tensor, pre + (np.nonzero(m.reshape(-1))[0] if m.ndim == 1 else m,)) \
        if m.ndim == 1 else getitem(tensor, pre + tuple(np.nonzero(m)))


def repeat(input, repeats, axis=None, name=None):
    """Repeat each element `repeats` times along `axis` (flattened when None)."""
    x = input if axis is not None else reshape(input, [-1])
    ax = 0 if axis is None else int(axis)
    n = np.shape(_value(x))[ax]
    idx = np.repeat(np.arange(n), np.broadcast_to(np.asarray(_value(repeats)), (n,)))
    return gather(x, idx.astype(np.int32), axis=ax)


# -- gather / scatter -------------------------------------------------------------------

def _gather_vjp(g, out, params, indices, axis, batch_dims):
    if batch_dims:
        raise NotImplementedError("gradient of gather with batch_dims > 0")
    ax = axis % params.ndim
    shape = tuple(params.shape)
    if ax == 0:
        return IndexedSlices(reshape(g, (-1,) + shape[1:]), reshape(indices, [-1]), shape)
    n_idx = np.ndim(_value(indices))
    # move the gathered axes to the front, segment-sum, move back
    perm = tuple(builtins.range(ax, ax + n_idx)) + tuple(builtins.range(ax)) + \
        tuple(builtins.range(ax + n_idx, g.ndim))
    moved = transpose(g, perm)
    rest = tuple(moved.shape[n_idx:])
    summed = unsorted_segment_sum(reshape(moved, (-1,) + rest), reshape(indices, [-1]), shape[ax])
    back = tuple(builtins.range(1, ax + 1)) + (0,) + tuple(builtins.range(ax + 1, len(shape)))
    return transpose(summed, back)


@defop(vjp=(_gather_vjp, None),
       jvp=(lambda t, out, p, i, axis, batch_dims: gather(t, i, axis=axis, batch_dims=batch_dims), None),
       domain=(REAL, _INDEX), same_dtype=(),
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


@defop(vjp=(lambda g, out, data, ids, num_segments: gather(g, ids), None),
       jvp=(lambda t, out, data, ids, num_segments: unsorted_segment_sum(t, ids, num_segments), None),
       domain=(REAL, _INDEX), same_dtype=(),
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


@defop(vjp=(lambda g, out, params, indices: scatter_nd(indices, g, tuple(params.shape)), None),
       jvp=(lambda t, out, p, i: gather_nd(t, i), None),
       domain=(REAL, _INDEX), same_dtype=(),
       cases=[dict(shapes=((3, 4), (5, 2))),
              dict(shapes=((3, 3, 2), (2, 1))),
              dict(shapes=((3, 3), (2, 2, 2)))])
def gather_nd(params, indices):
    """params[indices[..., 0], indices[..., 1], ...]."""
    return params[_nd_key(indices)]


@defop(vjp=(None, lambda g, out, indices, updates, shape: gather_nd(g, indices)),
       jvp=(None, lambda t, out, i, u, shape: scatter_nd(i, t, shape)),
       saves="inputs", domain=(_INDEX, REAL), same_dtype=(),
       cases=[dict(shapes=((4, 1), (4, 3)), params=dict(shape=(3, 3))),
              dict(shapes=((5, 2), (5,)), params=dict(shape=(3, 4)))])
def scatter_nd(indices, updates, shape=None):
    """zeros(shape) with updates added at indices (duplicates sum)."""
    out = np.zeros(_shape_arg(shape), dtype=updates.dtype)
    np.add.at(out, _nd_key(indices), updates)
    return out


@defop(nondiff="integer input; the result is a constant pattern", same_dtype=(), domain=(_INDEX,),
       cases=[dict(shapes=((4,),), params=dict(depth=3))])
def one_hot(indices, depth=None, on_value=None, off_value=None, axis=None, dtype=None):
    """One-hot rows for integer indices (float32 by default; -1 or out of range gives all off)."""
    dt = dtypes.as_dtype(dtype or (np.asarray(on_value).dtype if on_value is not None else "float32"))._np
    depth = int(depth)
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    hot = np.asarray(indices)[..., None] == np.arange(depth)
    out = np.where(hot, np.asarray(on, dtype=dt), np.asarray(off, dtype=dt))
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out

