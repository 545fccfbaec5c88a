"""Sorting and set ops: sort, argsort, top_k, unique, bincount, searchsorted and the segment
reductions.  Orders and counts are integer results with no gradient; the sorted values are a
``gather_along`` of the input (one differentiable primitive, with ``scatter_along`` its vjp), so
gradients of sort and top_k flow back to the elements they picked, to any order.
"""
from __future__ import annotations

import collections

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray, dims
from ..core.op import REAL, Domain, defop
from ..core.tensor import Tensor, convert_to_array
from .array import _INDEX, _axis, _dim

__all__ = ["sort", "argsort", "top_k", "unique", "unique_with_counts", "bincount", "searchsorted",
           "unsorted_segment_mean", "unsorted_segment_max", "unsorted_segment_min", "invert_permutation"]

TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])
Unique = collections.namedtuple("Unique", ["y", "idx"])
UniqueWithCounts = collections.namedtuple("UniqueWithCounts", ["y", "idx", "count"])

_PERMUTATION = Domain(0, 4, dtype=np.int32, integer=True)  # indices into an axis of 4 in the test cases


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(convert_to_array(x))


# -- gather along an axis: how sorted values keep their gradient -------------------------------

def _along_type(x, indices, axis=-1):
    _axis(axis, x.ndim)
    if indices.ndim != x.ndim:
        raise ValueError(f"gather_along: indices of rank {indices.ndim} for values of rank {x.ndim}")
    return ShapedArray(indices.shape, x.dtype)


@defop(vjp=(lambda g, out, x, i, axis: scatter_along(g, i, dims(x)[axis % x.ndim], axis=axis), None),
       jvp=(lambda t, out, x, i, axis: gather_along(t, i, axis=axis), None),
       domain=(REAL, _PERMUTATION), same_dtype=(), saves="inputs", shape=_along_type,
       cases=[dict(shapes=((3, 4), (3, 2))), dict(shapes=((4, 3), (2, 3)), params=dict(axis=0)),
              dict(shapes=((4,), (6,)))])
def gather_along(x, indices, axis=-1):
    """``np.take_along_axis``: out[..., j, ...] = x[..., indices[..., j, ...], ...] along `axis`.

    >>> import tapegrad as tf
    >>> gather_along(tf.constant([[5., 6., 7.]]), tf.constant([[2, 0]])).numpy()
    array([[7., 5.]], dtype=float32)
    """
    return np.take_along_axis(x, indices.astype(np.intp), axis=axis)


def _scatter_along_type(g, indices, size=None, axis=-1):
    ax = _axis(axis, g.ndim)
    return ShapedArray(g.shape[:ax] + (_dim(size),) + g.shape[ax + 1:], g.dtype)


@defop(vjp=(lambda g, out, u, i, size, axis: gather_along(g, i, axis=axis), None),
       jvp=(lambda t, out, u, i, size, axis: scatter_along(t, i, size, axis=axis), None),
       domain=(REAL, _PERMUTATION), same_dtype=(), saves="inputs", shape=_scatter_along_type,
       cases=[dict(shapes=((3, 2), (3, 2)), params=dict(size=4)),
              dict(shapes=((2, 3), (2, 3)), params=dict(size=4, axis=0))])
def scatter_along(updates, indices, size=None, axis=-1):
    """The transpose of ``gather_along``: `updates` summed into zeros of length `size` along `axis`.

    >>> import tapegrad as tf
    >>> scatter_along(tf.constant([1., 2.]), tf.constant([2, 2]), 3).numpy()
    array([0., 0., 3.], dtype=float32)
    """
    ax = axis % updates.ndim
    moved_u = np.moveaxis(updates, ax, -1)
    moved_i = np.moveaxis(indices.astype(np.intp), ax, -1)
    out = np.zeros(moved_u.shape[:-1] + (int(size),), updates.dtype)
    rows = np.indices(moved_u.shape[:-1] + (moved_u.shape[-1],), sparse=True)[:-1]
    np.add.at(out, (*rows, moved_i), moved_u)
    return np.moveaxis(out, -1, ax)


# -- orders ------------------------------------------------------------------------------------

def _order_type(values, axis=-1, descending=False):
    _axis(axis, values.ndim)
    return ShapedArray(values.shape, np.dtype(np.int32))


def _stable_order(x, axis, descending):
    """Ties keep their index order in both directions, as TF's (its sort is a stable top_k)."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    flipped = np.flip(x, axis)
    return n - 1 - np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis)


@defop(nondiff="an integer order", shape=_order_type, cases=[dict(shapes=((3, 4),))])
def _argsort(values, axis=-1, descending=False):
    if values.ndim == 0:
        raise ValueError("sort: the input must be at least 1-D (got a scalar)")
    return _stable_order(values, axis, descending).astype(np.int32)


def _direction(direction: str) -> bool:
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"Argument `direction` should be one of {{'ASCENDING', 'DESCENDING'}}. "
                         f"Received: direction={direction}")
    return direction == "DESCENDING"


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """Indices (int32) that sort `values` along `axis`; equal values keep their order.

    >>> import tapegrad as tf
    >>> tf.argsort([3., 1., 2.]).numpy()
    array([1, 2, 0], dtype=int32)
    """
    return _argsort(_tensor(values), axis=int(axis), descending=_direction(direction))


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """`values` sorted along `axis`; the gradient goes back to where each element came from.

    >>> import tapegrad as tf
    >>> tf.sort([3., 1., 2.], direction="DESCENDING").numpy()
    array([3., 2., 1.], dtype=float32)
    """
    values = _tensor(values)
    return gather_along(values, argsort(values, axis, direction), axis=int(axis))


def _top_k_type(input, k=1, sorted=True):
    if input.ndim == 0:
        raise ValueError("top_k: input must be at least 1-D (got a scalar)")
    n = input.shape[-1]
    if isinstance(n, int) and isinstance(k, int) and n < k:
        raise ValueError(f"input must have at least k columns. Had {n}, needed {k}")
    return ShapedArray(input.shape[:-1] + (_dim(k),), np.dtype(np.int32))


@defop(nondiff="integer indices", shape=_top_k_type, cases=[dict(shapes=((3, 4),), params=dict(k=2))])
def _top_k_indices(input, k=1, sorted=True):
    k = int(k)
    if k < 0:
        raise ValueError(f"Need k >= 0, got {k}")
    _top_k_type(input, k)
    return _stable_order(input, -1, True)[..., :k].astype(np.int32)


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The k largest entries along the last axis, and their int32 indices (ties: lower index first).

    >>> import tapegrad as tf
    >>> tf.math.top_k([1., 5., 3.], k=2).values.numpy()
    array([5., 3.], dtype=float32)
    """
    input = _tensor(input)
    k = k.numpy().item() if isinstance(k, Tensor) and not getattr(k, "_symbolic", False) else k
    indices = _top_k_indices(input, k=k, sorted=sorted)
    indices_out = indices if dtypes.as_dtype(index_type) == dtypes.int32 else \
        _cast(indices, index_type)
    return TopKV2(gather_along(input, indices, axis=-1), indices_out)


def _cast(x, dtype):
    from .math import cast
    return cast(x, dtype)


# -- sets and counts ---------------------------------------------------------------------------

def _unique_type(x, out_idx="int32"):
    if x.ndim != 1:
        raise ValueError(f"unique expects a 1D vector. (got shape {list(x.shape)})")
    return (ShapedArray((None,), x.dtype), ShapedArray(x.shape, dtypes.as_dtype(out_idx)._np),
            ShapedArray((None,), dtypes.as_dtype(out_idx)._np))


def _unique_parts(x, out_idx):
    _unique_type(ShapedArray(x.shape, x.dtype))
    values, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # TF lists values in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    idx_dtype = dtypes.as_dtype(out_idx)._np
    return values[order], rank[inverse.reshape(-1)].astype(idx_dtype), counts[order].astype(idx_dtype)


@defop(nondiff="a selection of values and integer positions",
       shape=lambda x, out_idx="int32": _unique_type(x, out_idx)[0], cases=[dict(shapes=((5,),))])
def _unique_values(x, out_idx="int32"):
    return _unique_parts(x, out_idx)[0]


@defop(nondiff="integer positions",
       shape=lambda x, out_idx="int32": _unique_type(x, out_idx)[1], cases=[dict(shapes=((5,),))])
def _unique_index(x, out_idx="int32"):
    return _unique_parts(x, out_idx)[1]


@defop(nondiff="integer counts",
       shape=lambda x, out_idx="int32": _unique_type(x, out_idx)[2], cases=[dict(shapes=((5,),))])
def _unique_counts(x, out_idx="int32"):
    return _unique_parts(x, out_idx)[2]


def _idx_name(out_idx) -> str:
    name = dtypes.as_dtype(out_idx).name
    if name not in ("int32", "int64"):
        raise TypeError(f"unique: out_idx must be int32 or int64, got {name}")
    return name


def unique(x, out_idx=dtypes.int32, name=None):
    """The distinct values of a 1-D tensor in order of first appearance, and each element's index in them.

    >>> import tapegrad as tf
    >>> y, idx = tf.unique([3, 1, 3, 2])
    >>> y.numpy(), idx.numpy()
    (array([3, 1, 2], dtype=int32), array([0, 1, 0, 2], dtype=int32))
    """
    x, out_idx = _tensor(x), _idx_name(out_idx)
    return Unique(_unique_values(x, out_idx=out_idx), _unique_index(x, out_idx=out_idx))


def unique_with_counts(x, out_idx=dtypes.int32, name=None):
    """``unique`` with how often each distinct value occurs.

    >>> import tapegrad as tf
    >>> tf.unique_with_counts([3, 1, 3]).count.numpy()
    array([2, 1], dtype=int32)
    """
    x, out_idx = _tensor(x), _idx_name(out_idx)
    return UniqueWithCounts(_unique_values(x, out_idx=out_idx), _unique_index(x, out_idx=out_idx),
                            _unique_counts(x, out_idx=out_idx))


def _bincount_type(arr, weights, minlength=None, maxlength=None, dtype="int32", axis=None,
                   binary_output=False):
    out_dtype = weights.dtype if weights.ndim and not binary_output else dtypes.as_dtype(dtype)._np
    lead = arr.shape[:1] if axis is not None and arr.ndim == 2 else ()
    return ShapedArray(lead + (None,), out_dtype)


@defop(nondiff="counts of integer values", same_dtype=(), domain=(_INDEX, REAL), shape=_bincount_type,
       cases=[dict(shapes=((5,), ()))])
def _bincount(arr, weights, minlength=None, maxlength=None, dtype="int32", axis=None, binary_output=False):
    if arr.dtype.kind not in "iu":
        raise TypeError(f"bincount: arr must be an integer tensor, got {arr.dtype.name}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"Input arr must be non-negative! (got {int(arr.min())})")
    weighted = weights.ndim > 0 and not binary_output
    if weighted and weights.shape != arr.shape:
        raise ValueError(f"bincount: weights of shape {list(weights.shape)} do not match arr of shape "
                         f"{list(arr.shape)}")
    size = int(arr.max()) + 1 if arr.size else 0
    size = max(size, int(minlength or 0))
    if maxlength is not None:
        size = min(size, int(maxlength))
    out_dtype = weights.dtype if weighted else dtypes.as_dtype(dtype)._np
    rows = arr.reshape(1, -1) if axis is None or arr.ndim != 2 else arr
    w = None if not weighted else weights.reshape(rows.shape)
    out = np.zeros((rows.shape[0], size), out_dtype)
    for r, row in enumerate(rows):
        keep = row < size
        counts = np.bincount(row[keep], None if w is None else w[r][keep], minlength=size)
        out[r] = np.minimum(counts, 1) if binary_output else counts
    return out if axis is not None and arr.ndim == 2 else out[0]


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=dtypes.int32, name=None, axis=None,
             binary_output=False):
    """How often each value 0, 1, ... occurs in the non-negative integer tensor `arr` (summing
    `weights` instead of ones when given); ``axis=-1`` counts each row of a 2-D `arr`.

    >>> import tapegrad as tf
    >>> tf.math.bincount([1, 2, 2, 5]).numpy()
    array([0, 1, 2, 0, 0, 1], dtype=int32)
    """
    if axis not in (None, 0, -1):
        raise ValueError(f"Unsupported axis value {axis}. Only 0 and -1 are currently supported.")
    arr = _tensor(arr)
    weights = Tensor(np.zeros((), dtypes.as_dtype(dtype)._np)) if weights is None else _tensor(weights)
    return _bincount(arr, weights, minlength=minlength, maxlength=maxlength,
                     dtype=dtypes.as_dtype(dtype).name, axis=None if axis in (None, 0) else -1,
                     binary_output=binary_output)


def _searchsorted_type(sorted_sequence, values, side="left", out_type="int32"):
    if sorted_sequence.ndim == 0 or values.ndim == 0:
        raise ValueError("searchsorted: sorted_sequence and values must be at least 1-D")
    return ShapedArray(values.shape, dtypes.as_dtype(out_type)._np)


@defop(nondiff="integer positions", same_dtype=(0, 1), shape=_searchsorted_type,
       cases=[dict(shapes=((2, 4), (2, 3)))])
def _searchsorted(sorted_sequence, values, side="left", out_type="int32"):
    _searchsorted_type(sorted_sequence, values)
    if sorted_sequence.shape[:-1] != values.shape[:-1]:
        raise ValueError(f"Leading dim_size of both tensors must match: sorted_sequence "
                         f"{list(sorted_sequence.shape)}, values {list(values.shape)}")
    seq = sorted_sequence.reshape(-1, sorted_sequence.shape[-1])
    vals = values.reshape(-1, values.shape[-1])
    out = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(seq, vals)]) if len(seq) else \
        np.zeros(vals.shape, np.int64)
    return out.reshape(values.shape).astype(dtypes.as_dtype(out_type)._np)


def searchsorted(sorted_sequence, values, side="left", out_type=dtypes.int32, name=None):
    """Where each of `values` would go in the innermost axis of `sorted_sequence` to keep it sorted.

    >>> import tapegrad as tf
    >>> tf.searchsorted([1., 2., 3.], [2.5, 2.]).numpy()
    array([2, 1], dtype=int32)
    """
    if side not in ("left", "right"):
        raise ValueError(f"Argument `side` must be either 'right' or 'left'. Received: `side` = {side}.")
    sorted_sequence = _tensor(sorted_sequence)
    values = values if isinstance(values, Tensor) else \
        Tensor(convert_to_array(values, sorted_sequence._value.dtype))
    return _searchsorted(sorted_sequence, values, side=side, out_type=dtypes.as_dtype(out_type).name)


@defop(nondiff="an integer permutation", shape=lambda x: ShapedArray(x.shape, x.dtype),
       domain=(Domain(0, 1, dtype=np.int32, integer=True),), cases=[dict(shapes=((1,),))])
def _invert_permutation(x):
    if x.ndim != 1 or sorted(x.tolist()) != list(range(len(x))):
        raise ValueError(f"invert_permutation: {x.tolist()} is not a permutation of 0..{len(x) - 1}")
    out = np.empty_like(x)
    out[x] = np.arange(len(x), dtype=x.dtype)
    return out


def invert_permutation(x, name=None):
    """The inverse of a permutation of 0..n-1: y[x[i]] = i.

    >>> import tapegrad as tf
    >>> tf.math.invert_permutation([2, 0, 1]).numpy()
    array([1, 2, 0], dtype=int32)
    """
    return _invert_permutation(_tensor(x))


# -- segment reductions beyond the sum ---------------------------------------------------------

def _segment_counts(data, segment_ids, num_segments):
    from .creation import ones_like
    from .indexing import unsorted_segment_sum
    return unsorted_segment_sum(ones_like(data), segment_ids, num_segments)


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean of the rows of `data` in each segment (0 for an empty segment).

    >>> import tapegrad as tf
    >>> tf.math.unsorted_segment_mean([1., 3., 5.], [0, 0, 1], 2).numpy()
    array([2., 5.], dtype=float32)
    """
    from .indexing import unsorted_segment_sum
    from .math import maximum
    data = _tensor(data)
    counts = _segment_counts(data, segment_ids, num_segments)
    return unsorted_segment_sum(data, segment_ids, num_segments) / maximum(counts, 1)


def _extremum_type(data, segment_ids, num_segments=None, largest=True):
    from .indexing import _segment_sum_type
    return _segment_sum_type(data, segment_ids, num_segments)


def _extremum_vjp(g, out, data, ids, num_segments, largest):
    """Shared equally among the elements that reached the extremum, as TF's."""
    from .indexing import gather, unsorted_segment_sum
    from .math import cast, equal
    picked = cast(equal(data, gather(out, ids)), g.dtype)
    ties = unsorted_segment_sum(picked, ids, num_segments)
    return gather(g, ids) * picked / gather(ties, ids)


def _extremum_jvp(t, out, data, ids, num_segments, largest):
    from .indexing import gather, unsorted_segment_sum
    from .math import cast, equal
    picked = cast(equal(data, gather(out, ids)), t.dtype)
    ties = unsorted_segment_sum(picked, ids, num_segments)
    safe = ties + cast(equal(ties, 0), t.dtype)  # empty segments: no tangent, and no 0/0
    return unsorted_segment_sum(t * picked, ids, num_segments) / safe


@defop(vjp=(_extremum_vjp, None), jvp=(_extremum_jvp, None), saves="inputs+out",
       domain=(REAL, Domain(0, 3, dtype=np.int32, integer=True)), same_dtype=(), shape=_extremum_type,
       cases=[dict(shapes=((4, 3), (4,)), params=dict(num_segments=3)),
              dict(shapes=((5,), (5,)), params=dict(num_segments=3, largest=False))])
def segment_extremum(data, segment_ids, num_segments=None, largest=True):
    """Per-segment max (or min, largest=False) of `data`'s rows; an empty segment gets the lowest
    (highest) value of the dtype, as TF's.

    >>> import tapegrad as tf
    >>> tf.math.unsorted_segment_max([1., 3., 5.], [0, 0, 1], 2).numpy()
    array([3., 5.], dtype=float32)
    """
    n = int(num_segments)
    info = np.finfo(data.dtype) if data.dtype.kind == "f" else np.iinfo(data.dtype)
    out = np.full((n,) + data.shape[segment_ids.ndim:], info.min if largest else info.max, data.dtype)
    (np.maximum if largest else np.minimum).at(out, segment_ids, data)
    return out


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    """The max of the rows of `data` in each segment.

    >>> import tapegrad as tf
    >>> tf.math.unsorted_segment_max([[1., 4.], [3., 2.]], [0, 0], 1).numpy()
    array([[3., 4.]], dtype=float32)
    """
    return segment_extremum(data, segment_ids, num_segments=num_segments, largest=True)


def unsorted_segment_min(data, segment_ids, num_segments, name=None):
    """The min of the rows of `data` in each segment.

    >>> import tapegrad as tf
    >>> tf.math.unsorted_segment_min([1., 3., 5.], [0, 0, 1], 2).numpy()
    array([1., 5.], dtype=float32)
    """
    return segment_extremum(data, segment_ids, num_segments=num_segments, largest=False)
