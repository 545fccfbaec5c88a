"""Ops that move elements: reshape, transpose, concat, stack, split, tile, pad, broadcast_to,
identity and reverse; and the shape-rule helpers the array families share (creation.py makes
tensors, indexing.py reads and writes elements by index).

Their vjps move cotangents back; each accepts extra leading (jacobian) axes on the cotangent
where ``batch_vjp`` says so.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..core.aval import Dim, ShapedArray, dims, is_static, prod
from ..core.op import REAL, Domain, defop, state, static_value
from ..core.tensor import Tensor, Variable, convert_to_array

__all__ = [
    "reshape", "transpose", "expand_dims", "squeeze", "concat", "stack", "unstack", "split", "tile",
    "pad", "broadcast_to", "identity", "stop_gradient", "reverse", "newaxis",
]

newaxis = None
_INDEX = Domain(0, 3, dtype=np.int32, integer=True)


def _lead(g, x_rank: int) -> tuple:
    """The extra leading (jacobian) axes of cotangent g over a value of rank x_rank."""
    return tuple(dims(g)[:g.ndim - x_rank])


# -- shape rules: a result's ShapedArray from its inputs' (see core/aval.py) -------------------

def _dim(d):
    """A size param (an int or a Dim) as a dim."""
    return d if isinstance(d, Dim) else int(d)


def _dims(shape) -> tuple:
    """A shape param (an int, or a sequence of ints and Dims) as a tuple of dims."""
    if isinstance(shape, (int, np.integer, Dim)):
        return (_dim(shape),)
    return tuple(_dim(d) for d in shape)


def _differ(a, b) -> bool:
    """Are two dims known to differ (both ints, unequal)?"""
    return isinstance(a, int) and isinstance(b, int) and a != b


def _axis(axis, ndim: int) -> int:
    """axis counted from 0; ValueError (NumPy's AxisError) outside [-ndim, ndim)."""
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def _check_broadcast(src, dst, message: str, extra_ones=True) -> None:
    """ValueError(message) when a value of shape src certainly cannot be written into one of shape
    dst: its dims must be 1 or dst's, and extra leading ones are allowed only with `extra_ones`
    (NumPy's assignment allows them, ``np.add.at`` does not)."""
    extra = max(len(src) - len(dst), 0)
    if (extra and not extra_ones) or any(isinstance(d, int) and d != 1 for d in src[:extra]) or \
            any(s != 1 and _differ(s, d) for s, d in zip(src[extra:][::-1], dst[::-1])):
        raise ValueError(message)


def _same_type(x, **params) -> ShapedArray:
    return ShapedArray(x.shape, x.dtype)




# -- values: known now, or read when the program runs ----------------------------------------

def _known_now(x) -> bool:
    """Is x's value known while this code runs?  Not for a traced tensor, nor for a variable read
    inside a traced function: the program reads it when it runs (it may be assigned in between)."""
    if not isinstance(x, Tensor):
        return True
    return isinstance(x._value, np.ndarray) and not (state.graph is not None and isinstance(x, Variable))


def _read(x):
    """x, or inside a traced function a variable's read when the program runs (a symbolic tensor)."""
    return identity(x) if state.graph is not None and isinstance(x, Variable) else x


def _static(t: Tensor):
    """``static_value`` of a tensor given where a size goes; a variable inside a traced function is
    read when the program runs, not frozen at the value it holds while tracing."""
    return static_value(_read(t))


def _shape_arg(shape) -> tuple:
    """A shape argument as a tuple of dims: ints, or (while tracing) Dims for sizes known when the
    program runs (``tf.shape(x)[0]``, a traced integer tensor)."""
    if isinstance(shape, Tensor):
        shape = _static(shape)
    if isinstance(shape, (int, np.integer, Dim)):
        return (shape if isinstance(shape, Dim) else int(shape),)
    return tuple(d if isinstance(d, Dim) else _static(d) if isinstance(d, Tensor) else int(d) for d in shape)


def _filled(shape, value, dtype) -> Tensor:
    """A tensor of `shape` holding `value`: made now, or (a symbolic size) when the program runs."""
    if is_static(shape):
        return Tensor(np.full(tuple(int(d) for d in shape), value, dtype=dtype))
    return broadcast_to(Tensor(np.full((), value, dtype=dtype)), shape)



def _value(x):
    return x._value if isinstance(x, Tensor) else convert_to_array(x)


# -- moving elements --------------------------------------------------------------------

def _reshape_vjp(g, out, x, shape):
    return reshape(g, _lead(g, out.ndim) + tuple(x.shape))


def _reshape_type(tensor, shape=None):
    shape, size = _dims(shape), prod(tensor.shape)
    misfit = (f"Input to reshape is a tensor with {size} values, but the requested shape {list(shape)} "
              f"does not fit it")
    free = [k for k, d in enumerate(shape) if d == -1]
    if len(free) > 1 or any(isinstance(d, int) and d < -1 for d in shape):
        raise ValueError(misfit)
    if free:
        k = free[0]
        known = prod(shape[:k] + shape[k + 1:])
        if known == 0 or (isinstance(size, int) and isinstance(known, int) and size % known):
            raise ValueError(misfit)
        shape = shape[:k] + (size // known,) + shape[k + 1:]  # (b * 784) // 784 is b
    elif _differ(size, prod(shape)):
        raise ValueError(misfit)
    return ShapedArray(shape, tensor.dtype)


@defop(vjp=(_reshape_vjp,), jvp=(lambda t, out, x, shape: reshape(t, tuple(out.shape)),),
       saves="", domain=(REAL,), batch_vjp=True, shape=_reshape_type, result="view", layout="like_inputs",
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


def _transpose_type(a, perm=None, conjugate=False):
    rank = a.ndim
    if perm is not None and any(isinstance(p, Dim) for p in perm):  # a permutation known when it runs
        if len(perm) != rank:
            raise ValueError(f"transpose: perm has {len(perm)} entries for the {rank} axes")
        return ShapedArray((None,) * rank, a.dtype)
    perm = tuple(builtins.range(rank))[::-1] if perm is None else tuple(int(p) for p in perm)
    if sorted(p % rank if -rank <= p < rank else p for p in perm) != list(builtins.range(rank)):
        raise ValueError(f"transpose: perm {list(perm)} is not a permutation of the {rank} axes")
    return ShapedArray(tuple(a.shape[p] for p in perm), a.dtype)


@defop(vjp=(_transpose_vjp,),
       jvp=(lambda t, out, x, perm, conjugate: transpose(t, perm),),
       saves="", domain=(REAL,), batch_vjp=True, shape=_transpose_type, result="view",
       cases=[dict(shapes=((2, 3, 4),), params=dict(perm=(2, 0, 1))),
              dict(shapes=((2, 3, 4),)),
              dict(shapes=((3, 4),), params=dict(perm=(1, 0)))])
def transpose(a, perm=None, conjugate=False):
    """Permute axes (reverse them when perm is None)."""
    return np.transpose(a, None if perm is None else tuple(int(p) for p in perm))


def expand_dims(input, axis, name=None):
    """Insert a length-1 axis at `axis` (an int, or a scalar tensor: inside a tf.function, read when
    the program runs).

    >>> import tapegrad as tf
    >>> tf.expand_dims(tf.ones([2, 3]), -1).shape
    TensorShape([2, 3, 1])
    """
    v = _value(input)
    new = list(np.shape(v))
    if isinstance(axis, Tensor):
        axis = _static(axis)
    if isinstance(axis, Dim):
        return _expand_dims_at(input, state.graph.dim_tensor(axis), len(new))
    axis = int(axis)
    if not -len(new) - 1 <= axis <= len(new):
        raise ValueError(f"expand_dims: axis {axis} out of range for rank {len(new)}")
    new.insert(axis if axis >= 0 else len(new) + 1 + axis, 1)
    return reshape(input, new)


def _expand_dims_at(input, axis: Tensor, rank: int):
    """expand_dims at an axis known when the program runs: a reshape to a shape computed then (entry
    k is the input's size k before the axis, 1 at it, size k - 1 after it)."""
    from .creation import shape
    from .math import where
    sizes = shape(input)
    axis = where(axis < 0, axis + (rank + 1), axis)
    one = Tensor(np.int32(1))
    entries = [where(axis > k, sizes[k] if k < rank else one,
                     where(axis == k, one, sizes[k - 1] if k else one)) for k in builtins.range(rank + 1)]
    return reshape(input, stack(entries))


def squeeze(input, axis=None, name=None):
    """Remove length-1 axes (only `axis` when given; it must have length 1)."""
    shp = np.shape(_value(input))
    if isinstance(axis, Tensor):
        if not _known_now(axis):  # TF's squeeze_dims is an attribute: a list of Python ints
            raise TypeError(f"squeeze: Expected int for argument 'axis' not {axis!r} (inside a tf.function "
                            f"the axes must be Python ints)")
        axis = static_value(axis)
    if axis is None:
        new = [d for d in shp if d != 1]
    else:
        axes = {a % len(shp) for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if isinstance(shp[a], int) and shp[a] != 1:
                raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {shp[a]}")
        new = [d for i, d in enumerate(shp) if i not in axes]
    return reshape(input, new)


def _concat_vjp(k, g, out, *xs, axis):
    from .indexing import getitem
    rank = xs[0].ndim
    nb = g.ndim - rank
    ax = axis % rank
    start = builtins.sum(x.shape[ax] for x in xs[:k])
    key = (builtins.slice(None),) * (nb + ax) + (builtins.slice(start, start + xs[k].shape[ax]),)
    return getitem(g, key)


def _concat_jvp(k, t, out, *xs, axis):
    from .creation import zeros
    parts = [t if i == k else zeros(x.shape, dtype=t.dtype) for i, x in enumerate(xs)]
    return _concat(*parts, axis=axis)


def _concat_type(*values, axis=0):
    if not values or values[0].ndim == 0:
        raise ValueError("need at least one array of rank >= 1 to concatenate")
    rank = values[0].ndim
    if isinstance(axis, Dim):  # an axis known when the program runs: every size may be a sum
        if any(v.ndim != rank for v in values):
            raise ValueError("all the input arrays must have same number of dimensions")
        return ShapedArray((None,) * rank, np.result_type(*[v.dtype for v in values]))
    ax = _axis(axis, rank)
    shape = list(values[0].shape)
    for v in values[1:]:
        if v.ndim != rank:
            raise ValueError(f"all the input arrays must have same number of dimensions, but the arrays "
                             f"have {rank} and {v.ndim} dimensions")
        for k, d in enumerate(v.shape):
            if k == ax:
                shape[k] = shape[k] + d
            elif _differ(shape[k], d):
                raise ValueError(f"all the input array dimensions except for the concatenation axis must "
                                 f"match exactly, but along dimension {k} the arrays have sizes {shape[k]} "
                                 f"and {d}")
            elif isinstance(d, int):
                shape[k] = d  # a known size wins over a symbolic one (they are equal when it runs)
    return ShapedArray(tuple(shape), np.result_type(*[v.dtype for v in values]))


@defop(vjp=_concat_vjp, jvp=_concat_jvp, saves="", batch_vjp=True, domain=(REAL, REAL), name="concat",
       shape=_concat_type,
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
    return _concat(*values, axis=_static(axis) if isinstance(axis, Tensor) else int(axis))


def stack(values, axis=0, name="stack"):
    """Join same-shaped tensors along a new axis."""
    values = list(values)
    if not values:
        raise ValueError("stack needs at least one tensor")
    return concat([expand_dims(v, axis) for v in values], axis if axis >= 0 else axis)


def unstack(value, num=None, axis=0, name="unstack"):
    """Split a tensor into a list along `axis` (removing it)."""
    from .indexing import getitem
    v = _value(value)
    n = dims(v)[axis]
    if isinstance(n, Dim):
        if num is None:
            raise ValueError(f"Cannot infer argument `num` from shape {tuple(value.shape)}")
        n = int(num)
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but the axis has length {n}")
    ax = axis % v.ndim
    pre = (builtins.slice(None),) * ax
    return [getitem(value, pre + (i,)) for i in builtins.range(n)]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Split along `axis` into equal parts (an int) or parts of the given sizes."""
    from .indexing import getitem
    v = _value(value)
    ax = int(axis) % v.ndim
    length = dims(v)[ax]
    if isinstance(num_or_size_splits, (int, np.integer)):
        n = int(num_or_size_splits)
        if isinstance(length, int) and length % n:
            raise ValueError(f"Dimension {ax} of length {length} can not be split into {n} equal parts")
        sizes = [length // n] * n
    else:
        sizes = list(_shape_arg(num_or_size_splits))  # Dims for sizes known when the program runs
        free = [k for k, d in enumerate(sizes) if isinstance(d, int) and d == -1]
        if free:
            sizes[free[0]] = length - (builtins.sum(sizes) + 1)
        if is_static(sizes + [length]) and builtins.sum(sizes) != length:
            raise ValueError(f"split sizes {sizes} do not add up to the axis length {length}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(value, (builtins.slice(None),) * ax + (builtins.slice(start, start + s),)))
        start = start + s
    return out


def _tile_vjp(g, out, x, multiples):
    lead = _lead(g, out.ndim)
    inter = []
    for m, s in zip(multiples, x.shape):
        inter += [m, s]
    g = reshape(g, lead + tuple(inter))
    from .reduce import reduce_sum
    return reduce_sum(g, tuple(len(lead) + 2 * i for i in builtins.range(len(multiples))))


def _tile_type(input, multiples=None):
    multiples = _dims(multiples)
    if len(multiples) != input.ndim:
        raise ValueError(f"Expected multiples argument to be a vector of length {input.ndim} "
                         f"but got length {len(multiples)}")
    return ShapedArray(tuple(d * m for d, m in zip(input.shape, multiples)), input.dtype)


@defop(vjp=(_tile_vjp,), jvp=(lambda t, out, x, multiples: tile(t, multiples),),
       saves="", domain=(REAL,), batch_vjp=True, shape=_tile_type,
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
    from .indexing import getitem
    nb = g.ndim - x.ndim
    key = (builtins.slice(None),) * nb + tuple(
        builtins.slice(_dim(lo), _dim(lo) + d) for (lo, _), d in zip(paddings, x.shape))
    return getitem(g, key)


def _pad_type(tensor, paddings=None, constant_values=0):
    pairs = [tuple(_dim(v) for v in p) for p in paddings]
    if len(pairs) == 1:
        pairs *= tensor.ndim  # np.pad takes one pair for every axis (and one width for both sides)
    if len(pairs) != tensor.ndim or len({len(p) for p in pairs}) > 1 or \
            any(len(p) not in (1, 2) or any(isinstance(v, int) and v < 0 for v in p) for p in pairs):
        raise ValueError(f"paddings {list(paddings)} must be one non-negative [before, after] pair per "
                         f"axis of a tensor of rank {tensor.ndim}")
    return ShapedArray(tuple(d + p[0] + p[-1] for d, p in zip(tensor.shape, pairs)), tensor.dtype)


@defop(vjp=(_pad_vjp,), jvp=(lambda t, out, x, paddings, constant_values: _pad_constant(t, paddings, 0),),
       saves="", domain=(REAL,), batch_vjp=True, name="pad", shape=_pad_type,
       cases=[dict(shapes=((2, 3),), params=dict(paddings=((1, 0), (2, 1)))),
              dict(shapes=((3,),), params=dict(paddings=((0, 2),), constant_values=1.5))])
def _pad_constant(tensor, paddings=None, constant_values=0):
    return np.pad(tensor, [tuple(int(v) for v in p) for p in paddings], constant_values=constant_values)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pad with a constant, or mirror the edge ('REFLECT' without it, 'SYMMETRIC' with it).

    `paddings` [rank, 2] and `constant_values` may be tensors (inside a tf.function, values the
    program reads when it runs).

    >>> import tapegrad as tf
    >>> tf.pad(tf.constant([[1, 2]]), [[0, 0], [1, 2]], "REFLECT").numpy()
    array([[2, 1, 2, 1, 2]], dtype=int32)
    """
    from .indexing import gather
    paddings = _paddings_arg(paddings)
    mode = mode.upper()
    if mode == "CONSTANT":
        if not isinstance(constant_values, Tensor):
            return _pad_constant(tensor, paddings, constant_values)
        # a tensor fill value is an input (TF's PadV2), not a param frozen into the program
        from .math import cast, where
        tensor = tensor if isinstance(tensor, Tensor) else Tensor(convert_to_array(tensor))
        inside = _pad_constant(_filled(dims(tensor), True, np.bool_), paddings, False)
        return where(inside, _pad_constant(tensor, paddings, 0), cast(constant_values, tensor.dtype))
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"Unknown padding mode: {mode}")
    out = tensor  # mirror padding is a gather along each axis: its gradient comes with it
    for ax, (lo, hi) in enumerate(paddings):
        if isinstance(lo, Dim) or isinstance(hi, Dim) or lo or hi:
            out = gather(out, _mirror_indices(dims(out)[ax], lo, hi, mode), axis=ax)
    return out


def _paddings_arg(paddings) -> tuple:
    """[rank, 2] paddings as pairs of sizes (ints, or Dims read when the program runs)."""
    if isinstance(paddings, Tensor):
        if paddings.ndim != 2 or dims(paddings)[1] != 2:
            raise ValueError(f"paddings must be a matrix [rank, 2], got shape {list(paddings.shape)}")
        flat = _static(reshape(paddings, (-1,)))
        return tuple((flat[2 * k], flat[2 * k + 1]) for k in builtins.range(len(flat) // 2))
    pairs = paddings.tolist() if isinstance(paddings, np.ndarray) else paddings
    return tuple(tuple(_shape_arg(p)) for p in pairs)


def _mirror_indices(n, lo, hi, mode) -> Tensor:
    """The source index of each position of an axis of size n padded by (lo, hi) mirror-wise."""
    from .creation import _range, _size
    if is_static((n, lo, hi)):
        idx = np.arange(-lo, n + hi)
        period = 2 * n - 2 if mode == "REFLECT" else 2 * n
        idx = np.mod(idx, period) if period else np.zeros_like(idx)
        idx = np.where(idx >= n, period - idx - (mode == "SYMMETRIC"), idx)
        return Tensor(idx.astype(np.int32))
    from .math import floormod, maximum, where
    size = _size(n)
    idx = _range(-_size(lo), size + _size(hi), _size(1), dtype=np.dtype(np.int32))
    period = maximum(2 * size - (2 if mode == "REFLECT" else 0), 1)  # a period of 0 (n == 1) maps to 0
    idx = floormod(idx, period)
    return where(idx >= size, period - idx - (1 if mode == "SYMMETRIC" else 0), idx)


def _broadcast_to_type(input, shape=None):
    shape = _dims(shape)
    message = f"cannot broadcast shape {tuple(input.shape)} to {shape}"
    if any(isinstance(d, int) and d < 0 for d in shape):
        raise ValueError(message)
    _check_broadcast(input.shape, shape, message)
    return ShapedArray(shape, input.dtype)


@defop(vjp=(lambda g, out, x, shape: g,), jvp=(lambda t, out, x, shape: broadcast_to(t, out.shape),),
       saves="", domain=(REAL,), batch_vjp=True, shape=_broadcast_to_type, result="fresh", layout="c",
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


@defop(vjp=(lambda g, out, x: g,), jvp=(lambda t, out, x: t,), saves="", domain=(REAL,), batch_vjp=True,
       shape=_same_type, result="fresh", layout="like_inputs")
def identity(input):
    """A copy of `input` (of a variable: its current value, as a watched read)."""
    return np.array(input, copy=True)


@defop(nondiff="blocks gradients by definition", shape=_same_type, result="view", layout="like_inputs")
def stop_gradient(input):
    """The same value, but gradients do not flow through it."""
    return input


def _reverse_type(tensor, axis=None):
    axes = [_axis(a, tensor.ndim) for a in axis if not isinstance(a, Dim)]  # a traced one: checked as it runs
    if len(set(axes)) != len(axes):
        raise ValueError(f"reverse: repeated axis in {list(axis)}")
    return ShapedArray(tensor.shape, tensor.dtype)


@defop(vjp=(lambda g, out, x, axis: reverse(g, tuple(a % x.ndim - x.ndim for a in axis)),),
       jvp=(lambda t, out, x, axis: reverse(t, axis),), saves="", domain=(REAL,), batch_vjp=True,
       shape=_reverse_type, result="view",
       cases=[dict(shapes=((3, 4),), params=dict(axis=(0,))),
              dict(shapes=((3, 4),), params=dict(axis=(0, 1))),
              dict(shapes=((2, 3, 4),), params=dict(axis=(-1,)))])
def reverse(tensor, axis=None):
    """Reverse the order of elements along the given axes."""
    return np.flip(tensor, axis=tuple(int(a) for a in axis))

