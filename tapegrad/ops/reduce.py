"""Reductions over axes, and cumulative sums.

Reduction vjps broadcast the cotangent back over the reduced axes with
``_unreduce``, which also accepts extra leading (jacobian) axes.
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.aval import Dim, ShapedArray, dims, prod
from ..core.op import NONZERO, REAL, apply, defop
from ..core.tensor import Tensor
from .array import broadcast_to, reshape, stop_gradient
from .creation import zeros_like
from .math import abs, cast, equal, exp, is_finite, log, sqrt, square, where

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp",
           "reduce_variance", "reduce_std", "reduce_all", "reduce_any", "argmax", "argmin", "cumsum",
           "norm", "count_nonzero", "reduce_euclidean_norm"]


_ALL_AXES = [tuple(range(n)) for n in range(8)]


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return _ALL_AXES[ndim] if ndim < 8 else tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, Dim):  # what needs the axes while tracing (a gradient taken inside) cannot
        raise TypeError(f"the reduction axis {axis} is a tensor whose value is known only when the "
                        f"tf.function runs; this needs it while tracing (a gradient taken inside the "
                        f"function): pass the axis as a Python int")
    else:
        axes = tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _unreduce(g, x, axis, keepdims):
    """Broadcast cotangent g of a reduction of x back to x's shape (keeping g's leading axes)."""
    shape = tuple(dims(x))
    if axis is None and not keepdims and not g._value.ndim:  # everything reduced, no jacobian axes
        return apply(broadcast_to, (g,), {"shape": shape})  # the hot case: skip argument binding
    axes = _axes(axis, len(shape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    out_rank = len(shape) if keepdims else len(shape) - len(axes)
    lead = tuple(dims(g)[:g.ndim - out_rank])
    if not keepdims:  # also when all axes went: leading (jacobian) axes must not meet x's axes
        g = reshape(g, lead + kept)
    return broadcast_to(g, lead + shape)


def _symbolic(axis) -> bool:
    """Is an axis param (or one of several) a value read when the program runs (a traced tensor's)?"""
    if isinstance(axis, (tuple, list)):
        return any(isinstance(a, Dim) for a in axis)
    return isinstance(axis, Dim)


def _reduced_dims(x, axis, keepdims) -> tuple:
    """The shape of a reduction of x over `axis` (ValueError for an axis x does not have).  Axes known
    only when the program runs leave the rank known and the sizes unknown (None), as TF's."""
    if _symbolic(axis):
        if not x.ndim:
            raise ValueError(f"axis {axis} is out of bounds for array of dimension 0")
        if keepdims:
            return tuple(1 if isinstance(d, int) and d == 1 else None for d in x.shape)
        return (None,) * (x.ndim - (1 if isinstance(axis, Dim) else len(axis)))
    axes = _axes(axis, x.ndim)
    if axes and not x.ndim:  # _axes maps a scalar's axis 0 to 0; NumPy's reductions refuse it
        raise ValueError(f"axis {axis} is out of bounds for array of dimension 0")
    if keepdims:
        return tuple(1 if k in axes else d for k, d in enumerate(x.shape))
    return tuple(d for k, d in enumerate(x.shape) if k not in axes)


def _reduction_type(input_tensor, axis=None, keepdims=False) -> ShapedArray:
    """The shape rule of the reductions that keep the input's dtype."""
    return ShapedArray(_reduced_dims(input_tensor, axis, keepdims), input_tensor.dtype)


def _boolean_reduction_type(input_tensor, axis=None, keepdims=False) -> ShapedArray:
    return ShapedArray(_reduced_dims(input_tensor, axis, keepdims), np.bool_)


def _extremum_type(name: str):
    """The shape rule of reduce_max/min: also, like NumPy, an error over an empty axis."""
    def rule(input_tensor, axis=None, keepdims=False):
        result = _reduction_type(input_tensor, axis, keepdims)
        if not _symbolic(axis) and any(input_tensor.shape[a] == 0 for a in _axes(axis, input_tensor.ndim)):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
        return result
    return rule


# all axes, one axis (negative too), several axes, with and without keepdims, a scalar
_REDUCTION_CASES = [dict(shapes=((3, 4),)),
                    dict(shapes=((3, 4),), params=dict(axis=0)),
                    dict(shapes=((3, 4),), params=dict(axis=-1, keepdims=True)),
                    dict(shapes=((2, 3, 4),), params=dict(axis=(0, 2))),
                    dict(shapes=((),))]


def _count(x, axis):
    """The number of elements reduced (a Dim when a reduced size is symbolic)."""
    shape = tuple(dims(x))
    return prod([shape[a] for a in _axes(axis, len(shape))])


@defop(vjp=(lambda g, out, x, axis, keepdims: _unreduce(g, x, axis, keepdims),),
       jvp=(lambda t, out, x, axis, keepdims: reduce_sum(t, axis, keepdims),),
       saves="", domain=(REAL,), batch_vjp=True,
       cases=_REDUCTION_CASES, shape=_reduction_type, result="fresh", layout="like_inputs")
def reduce_sum(input_tensor, axis=None, keepdims=False):
    """Sum over `axis` (all axes when None).

    >>> import tapegrad as tf
    >>> tf.reduce_sum(tf.ones([2, 3]), axis=1).numpy()
    array([3., 3.], dtype=float32)
    """
    x = np.asarray(input_tensor)
    return np.add.reduce(x, axis=_axes(axis, x.ndim), keepdims=keepdims, dtype=x.dtype)


@defop(vjp=(lambda g, out, x, axis, keepdims: _unreduce(g, x, axis, keepdims) / _count(x, axis),),
       jvp=(lambda t, out, x, axis, keepdims: reduce_mean(t, axis, keepdims),),
       saves="", domain=(REAL,), batch_vjp=True,
       cases=_REDUCTION_CASES, shape=_reduction_type, result="fresh", layout="like_inputs")
def reduce_mean(input_tensor, axis=None, keepdims=False):
    """Mean over `axis`; integer tensors give an integer (truncated) mean, as TF."""
    x = np.asarray(input_tensor)
    axes = _axes(axis, x.ndim)
    if x.dtype.kind in "iu":
        n = int(np.prod([x.shape[a] for a in axes]))
        total = np.sum(x, axis=axes, keepdims=keepdims, dtype=np.int64)
        return (np.trunc(total / n) if n else total).astype(x.dtype)
    return np.mean(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _extremum_vjp(g, out, x, axis, keepdims):
    """Cotangent shared equally among the elements that attain the max (or min), as TF."""
    shape = tuple(dims(x))
    axes = _axes(axis, len(shape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    mask = cast(equal(x, reshape(out, kept)), g.dtype)
    count = reshape(reduce_sum(mask, axes), kept)
    return _unreduce(g, x, axis, keepdims) * (mask / count)


def _extremum_jvp(t, out, x, axis, keepdims):
    shape = tuple(dims(x))
    axes = _axes(axis, len(shape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    mask = cast(equal(x, reshape(out, kept)), t.dtype)
    return reduce_sum(t * mask, axes, keepdims) / reduce_sum(mask, axes, keepdims)


@defop(vjp=(_extremum_vjp,), jvp=(_extremum_jvp,), saves="inputs+out", domain=(REAL,), batch_vjp=True,
       cases=_REDUCTION_CASES, shape=_extremum_type("maximum"))
def reduce_max(input_tensor, axis=None, keepdims=False):
    x = np.asarray(input_tensor)
    return np.max(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


@defop(vjp=(_extremum_vjp,), jvp=(_extremum_jvp,), saves="inputs+out", domain=(REAL,), batch_vjp=True,
       cases=_REDUCTION_CASES, shape=_extremum_type("minimum"))
def reduce_min(input_tensor, axis=None, keepdims=False):
    x = np.asarray(input_tensor)
    return np.min(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


def _prod_others(x, axis):
    """Product of all other elements of the reduced slice, exact when x has zeros."""
    shape = tuple(dims(x))
    axes = _axes(axis, len(shape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    nonzero = cast(x != 0, x.dtype)
    safe = x + (1 - nonzero)                      # zeros replaced by ones
    prod_nonzero = reshape(reduce_prod(safe, axes), kept)
    zeros = reshape(reduce_sum(1 - nonzero, axes), kept)
    # no zero in the slice: P/x; one zero: P_nonzero at the zero, 0 elsewhere; more: 0
    return (prod_nonzero / safe) * cast(zeros == 0, x.dtype) + \
        prod_nonzero * (1 - nonzero) * cast(zeros == 1, x.dtype)


@defop(vjp=(lambda g, out, x, axis, keepdims: _unreduce(g, x, axis, keepdims) * _prod_others(x, axis),),
       jvp=(lambda t, out, x, axis, keepdims: reduce_sum(t * _prod_others(x, axis), axis, keepdims),),
       domain=(NONZERO,), batch_vjp=True,
       cases=[dict(shapes=((3, 4),)),
              dict(shapes=((3, 4),), params=dict(axis=1)),
              dict(shapes=((2, 3, 4),), params=dict(axis=(0, 2), keepdims=True))],
       shape=_reduction_type)
def reduce_prod(input_tensor, axis=None, keepdims=False):
    x = np.asarray(input_tensor)
    return np.prod(x, axis=_axes(axis, x.ndim), keepdims=keepdims, dtype=x.dtype)


@defop(nondiff="boolean reduction", shape=_boolean_reduction_type)
def reduce_all(input_tensor, axis=None, keepdims=False):
    x = np.asarray(input_tensor)
    return np.all(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


@defop(nondiff="boolean reduction", shape=_boolean_reduction_type)
def reduce_any(input_tensor, axis=None, keepdims=False):
    x = np.asarray(input_tensor)
    return np.any(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


def _arg_reduce(fn, x, axis, output_type):
    from ..core import dtypes
    x = np.asarray(x)
    axis = 0 if axis is None else int(axis)  # TF: axis None means 0
    return fn(x, axis=axis).astype(dtypes.as_dtype(output_type)._np)


def _arg_reduce_type(input, axis=None, output_type="int64"):
    shape = input.shape or (1,)  # NumPy takes a scalar as one element
    if isinstance(axis, Dim):  # known when the program runs: the rank only
        return ShapedArray((None,) * (len(shape) - 1), dtypes.as_dtype(output_type)._np)
    axis = 0 if axis is None else int(axis)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {len(shape)}")
    if shape[axis] == 0:
        raise ValueError("attempt to get argmax of an empty sequence")
    axis %= len(shape)
    return ShapedArray(shape[:axis] + shape[axis + 1:], dtypes.as_dtype(output_type)._np)


@defop(nondiff="integer index result", shape=_arg_reduce_type)
def argmax(input, axis=None, output_type="int64"):
    """Index of the largest value along `axis` (0 when None), as int64 by default."""
    return _arg_reduce(np.argmax, input, axis, output_type)


@defop(nondiff="integer index result", shape=_arg_reduce_type)
def argmin(input, axis=None, output_type="int64"):
    return _arg_reduce(np.argmin, input, axis, output_type)


def _count_nonzero_type(input, axis=None, keepdims=False, dtype="int64"):
    return ShapedArray(_reduced_dims(input, axis, keepdims), dtypes.as_dtype(dtype)._np)


@defop(nondiff="integer count result", shape=_count_nonzero_type)
def count_nonzero(input, axis=None, keepdims=False, dtype="int64"):
    from ..core import dtypes
    x = np.asarray(input)
    return np.count_nonzero(x, axis=_axes(axis, x.ndim), keepdims=keepdims).astype(dtypes.as_dtype(dtype)._np)


def _cumsum_vjp(g, out, x, axis, exclusive, reverse):
    return cumsum(g, axis % x.ndim + g.ndim - x.ndim, exclusive, not reverse)


def _cumsum_type(x, axis=0, exclusive=False, reverse=False):
    if x.ndim == 0:
        raise ValueError("cumsum needs a tensor of rank >= 1")
    if exclusive and not isinstance(axis, Dim) and x.shape[int(axis) % x.ndim] == 0:
        raise IndexError(f"index 0 is out of bounds for axis {int(axis) % x.ndim} with size 0")
    return ShapedArray(x.shape, x.dtype)


@defop(vjp=(_cumsum_vjp,),
       jvp=(lambda t, out, x, axis, exclusive, reverse: cumsum(t, axis, exclusive, reverse),),
       saves="", domain=(REAL,), batch_vjp=True, shape=_cumsum_type,
       cases=[dict(shapes=((3, 4),)),
              dict(shapes=((3, 4),), params=dict(axis=1, exclusive=True)),
              dict(shapes=((3, 4),), params=dict(axis=-1, reverse=True)),
              dict(shapes=((2, 3, 4),), params=dict(axis=1, exclusive=True, reverse=True))])
def cumsum(x, axis=0, exclusive=False, reverse=False):
    """Cumulative sum along `axis`; `exclusive` shifts by one, `reverse` runs from the end."""
    x = np.asarray(x)
    axis = int(axis) % x.ndim
    if reverse:
        x = np.flip(x, axis)
    c = np.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)),
                            np.take(c, np.arange(c.shape[axis] - 1), axis=axis)], axis=axis)
    return np.flip(c, axis) if reverse else c


# -- composites -------------------------------------------------------------------------

def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) without overflow: the max is taken out first (through stop_gradient)."""
    axis = _static_axis(axis)
    m = stop_gradient(reduce_max(input_tensor, axis, keepdims=True))
    # an infinite max is left in (as TF): -inf everywhere gives -inf, a +inf gives inf (m * 0 would be NaN)
    finite_m = where(is_finite(m), m, zeros_like(m)) if m.dtype.is_floating else m
    out = log(reduce_sum(exp(input_tensor - finite_m), axis, keepdims=True)) + finite_m
    if keepdims:
        return out
    if _symbolic(axis):  # axes known when it runs: summing the kept 1s drops them
        return reduce_sum(out, axis)
    return reshape(out, _reduced_shape(out, input_tensor, axis))


def _static_axis(axis):
    """An axis argument as the reductions' param: a tensor's value, or while tracing Dims read when
    the program runs (a variable's too: its value then, not now)."""
    if isinstance(axis, Tensor):
        from .array import _static
        return _static(axis)
    if isinstance(axis, (list, tuple)) and any(isinstance(a, Tensor) for a in axis):
        return tuple(_static_axis(a) for a in axis)
    return axis


def _reduced_shape(out, x, axis):
    shape = tuple(dims(x))
    axes = _axes(axis, len(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Biased variance (mean of squared deviations)."""
    axis = _static_axis(axis)
    mean = reduce_mean(input_tensor, axis, keepdims=True)
    return reduce_mean(square(input_tensor - mean), axis, keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    return sqrt(reduce_variance(input_tensor, axis, keepdims))


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """Vector norm over `axis` (all elements when None): 'euclidean'/2, 1, or np.inf."""
    keepdims = bool(keepdims)
    axis = _static_axis(axis)
    if ord in ("euclidean", "fro", 2, 2.0):
        return sqrt(reduce_sum(square(tensor), axis, keepdims))
    if ord in (1, 1.0):
        return reduce_sum(abs(tensor), axis, keepdims)
    if ord in (np.inf, "inf"):
        return reduce_max(abs(tensor), axis, keepdims)
    if isinstance(ord, (int, float)) and ord > 0:
        return reduce_sum(abs(tensor) ** float(ord), axis, keepdims) ** (1.0 / ord)
    raise ValueError(f"'ord' must be a supported vector norm, got {ord!r}")


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    return norm(input_tensor, "euclidean", axis, keepdims)

