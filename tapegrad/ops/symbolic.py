"""Primitives that traced programs need: a variable's read, a tensor's shape, a size as a tensor.

Eagerly they are trivial; in a ``tf.function`` they are what lets one program serve every
shape of its signature: ``shape`` knows its result in terms of the input's (symbolic) sizes,
so ``tf.reshape(x, [tf.shape(x)[0], -1])`` keeps the batch size symbolic, and ``dim_size``
turns a symbolic size back into a tensor when the program runs (a mean's divisor).
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.op import REAL, defop

__all__ = ["read_variable", "shape_of", "dim_size", "sum_to_shape"]


@defop(vjp=(lambda g, out, v: g,), jvp=(lambda t, out, v: t,), saves="", domain=(REAL,), batch_vjp=True,
       shape=lambda v: v, result="view", layout="like_inputs")
def read_variable(resource):
    """The value a variable holds at this point of a traced program (TF's ReadVariableOp).

    Eagerly reading a variable is ``Variable.read_value``; a tf.function's trace makes one of
    these for every read, so that a read after a staged assignment sees the new value.
    """
    return resource


def _shape_known(avals, knowns):
    return tuple(avals[0].shape)


@defop(nondiff="integer result: the sizes of its input", same_dtype=(),
       shape=lambda x, out_type=np.dtype(np.int32): ShapedArray((x.ndim,), np.dtype(out_type)),
       cases=[dict(shapes=((3, 4),))], name="shape")
def shape_of(input, out_type=np.dtype(np.int32)):
    """The shape of `input` as a 1-D integer tensor (what ``tf.shape`` records in a traced program).

    >>> from tapegrad.ops.symbolic import shape_of
    >>> shape_of([[1.0, 2.0, 3.0]]).numpy()
    array([1, 3], dtype=int32)
    """
    return np.array(np.shape(input), dtype=out_type)


shape_of.known = lambda avals, knowns, out_type=None: tuple(avals[0].shape)


@defop(nondiff="a size: no input to differentiate", stateful=False,
       shape=lambda dim=0, dtype=np.dtype(np.int32): ShapedArray((), np.dtype(dtype)), name="dim_size",
       cases=[dict(shapes=(), params=dict(dim=3))])
def dim_size(dim=0, dtype=np.dtype(np.int32)):
    """A (symbolic) size as a scalar tensor of `dtype`: its value when the program runs.

    >>> from tapegrad.ops.symbolic import dim_size
    >>> int(dim_size(dim=3))
    3
    """
    return np.array(dim, dtype=dtypes.as_dtype(dtype)._np)


dim_size.known = lambda avals, knowns, dim=0, dtype=None: dim


def _sum_to_shape_rule(x, shape=()):
    if len(shape) > x.ndim:
        raise ValueError(f"cannot sum a value of rank {x.ndim} to the larger rank {len(shape)}")
    return ShapedArray(shape, x.dtype)


@defop(vjp=(lambda g, out, x, shape: _broadcast_back(g, x),), saves="", domain=(REAL,),
       shape=_sum_to_shape_rule, cases=[dict(shapes=((3, 4),), params=dict(shape=(1, 4))),
                                        dict(shapes=((2, 3, 4),), params=dict(shape=(3, 1)))])
def sum_to_shape(x, shape=()):
    """x summed over the axes broadcasting added or stretched, to `shape`: what backward does to a
    cotangent when a traced program knows the sizes only when it runs (TF's BroadcastGradientArgs).

    >>> from tapegrad.ops.symbolic import sum_to_shape
    >>> sum_to_shape([[1.0, 2.0], [3.0, 4.0]], shape=(1, 2)).numpy()
    array([[4., 6.]], dtype=float32)
    """
    shape = tuple(int(d) for d in shape)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape)
                                      if d == 1 and x.shape[lead + i] != 1)
    out = np.add.reduce(x, axis=axes, dtype=x.dtype) if axes else x
    return out.reshape(shape)


def _broadcast_back(g, x):
    from .array import broadcast_to
    return broadcast_to(g, x.shape)
