"""Python builtins called from converted code, on traced tensors (TF's py_builtins overloads).

``len(t)``, ``range(n)``, ``int(t)``, ``float(t)``, ``abs(t)``, ``any(t)``, ``all(t)`` of a
traced tensor become ops; ``enumerate(t)`` and ``zip(t, u)`` of traced tensors become
sequences a converted ``for`` iterates with a tf.while_loop.  Other arguments get the builtin.
"""
from __future__ import annotations

import builtins

from .operators import is_tensor

_UNSPECIFIED = object()


class Sequence:
    """What a traced ``for`` iterates: a length (an int or a scalar tensor) and the item at an index."""

    __slots__ = ()

    def length(self):
        raise NotImplementedError

    def item(self, i):
        raise NotImplementedError


class _Rows(Sequence):
    """The rows of a traced tensor (its first dimension), read with tf.gather as TF does."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        if tensor.shape.rank == 0:
            raise TypeError(f"Cannot iterate over a scalar tensor ({tensor}).")
        self.tensor = tensor

    def length(self):
        return _tensor_len(self.tensor)

    def item(self, i):
        from ...ops.indexing import gather
        return gather(self.tensor, i)


class _Enumerate(Sequence):
    __slots__ = ("inner", "start")

    def __init__(self, inner, start):
        self.inner, self.start = inner, start

    def length(self):
        return self.inner.length()

    def item(self, i):
        return (i + self.start if self.start else i), self.inner.item(i)


class _Zip(Sequence):
    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts

    def length(self):
        lengths = [p.length() for p in self.parts]
        if all(isinstance(n, int) for n in lengths):
            return min(lengths)
        from ...ops.math import minimum
        n = lengths[0]
        for m in lengths[1:]:
            n = minimum(n, m)
        return n

    def item(self, i):
        return tuple(p.item(i) for p in self.parts)


def sequence(value):
    """`value` as a Sequence a tf.while_loop iterates (a traced tensor, or enumerate/zip of them), or None."""
    if isinstance(value, Sequence):
        return value
    if is_tensor(value):
        return _Rows(value)
    return None


def _tensor_len(t):
    if t.shape.rank == 0:
        raise ValueError(f"len requires a non-scalar tensor, got one of shape {t.shape}")
    n = t.shape[0]
    if n is not None:
        return n
    from ...ops.creation import shape
    return shape(t)[0]


def len_(s):
    if is_tensor(s):
        return _tensor_len(s)
    return len(s)


def range_(start_or_stop, stop=_UNSPECIFIED, step=_UNSPECIFIED):
    args = [a for a in (start_or_stop, stop, step) if a is not _UNSPECIFIED]
    if any(is_tensor(a) for a in args):
        from ...ops.creation import range as tf_range
        return tf_range(*args)
    return range(*args)


def enumerate_(s, start=0):
    seq = sequence(s)
    if seq is not None:
        return _Enumerate(seq, start)
    return enumerate(s, start)


def zip_(*iterables, **kwargs):
    seqs = [sequence(s) for s in iterables]
    if iterables and all(s is not None for s in seqs):
        return _Zip(seqs)
    return zip(*iterables, **kwargs)


def int_(x=0, base=_UNSPECIFIED):
    if is_tensor(x) and base is _UNSPECIFIED:
        from ...ops.math import cast
        return cast(x, "int32")
    return int(x) if base is _UNSPECIFIED else int(x, base)


def float_(x=0.0):
    if is_tensor(x):
        from ...ops.math import cast
        return cast(x, "float32")
    return float(x)


def abs_(x):
    if is_tensor(x):
        from ...ops.math import abs as tf_abs
        return tf_abs(x)
    return abs(x)


def any_(iterable):
    if is_tensor(iterable):
        from ...ops.reduce import reduce_any
        return reduce_any(iterable)
    return any(iterable)


def all_(iterable):
    if is_tensor(iterable):
        from ...ops.reduce import reduce_all
        return reduce_all(iterable)
    return all(iterable)


OVERLOADS = {builtins.len: len_, builtins.range: range_, builtins.enumerate: enumerate_, builtins.zip: zip_,
             builtins.int: int_, builtins.float: float_, builtins.abs: abs_, builtins.any: any_,
             builtins.all: all_}
