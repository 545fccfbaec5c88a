"""Nests of tensors, as ``tf.nest`` sees them: lists, tuples (namedtuples too) and dicts are
structure, dicts in sorted key order; a TensorShape and everything else is a leaf.  (tf.data's
elements have their own rules, where a list is a leaf: data/_nest.py.)
"""
from __future__ import annotations

from .shape import TensorShape
from .tensor import Tensor


def flatten(structure):
    """Flatten a nest of lists/tuples/dicts (dicts in sorted key order, as tf.nest)."""
    if isinstance(structure, Tensor):
        return [structure]
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in flatten(structure[k])]
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields") and \
            not isinstance(structure, TensorShape):  # a shape is a leaf (a loop's shape invariant)
        return [x for s in structure for x in flatten(s)]
    if isinstance(structure, tuple) and not isinstance(structure, TensorShape):  # namedtuple
        return [x for s in structure for x in flatten(s)]
    return [structure]


def pack_sequence_as(structure, flat):
    if isinstance(structure, Tensor):
        return flat[0]
    return _packed(structure, iter(flat))


def _packed(s, it):
    # a module function, not a closure calling itself: that would be a reference cycle per call,
    # keeping every step's gradients alive until the cycle collector runs
    if isinstance(s, dict):
        return type(s)((k, _packed(s[k], it)) for k in sorted(s)) if type(s) is dict else \
            type(s)({k: _packed(s[k], it) for k in sorted(s)})
    if isinstance(s, (list, tuple)):
        items = [_packed(x, it) for x in s]
        return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
    return next(it)


def same_structure(a, b) -> bool:
    """Whether two nests have the same lists, tuples and dicts (leaves may differ)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and not isinstance(a, Tensor) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and \
            all(same_structure(x, y) for x, y in zip(a, b))
    return True


def describe_structure(x) -> str:
    """A nest for an error message: its containers, and each tensor's shape and dtype."""
    if isinstance(x, Tensor):
        return f"tf.Tensor(shape={x.shape}, dtype={x.dtype.name})"
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__}({', '.join(describe_structure(v) for v in x)})"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {describe_structure(v)}" for k, v in x.items()) + "}"
    return repr(x)
