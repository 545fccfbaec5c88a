"""Nests of dataset elements, with tf.data's rules.

Tuples (namedtuples included) and dicts are structure; everything else is a leaf.  A Python
list is a leaf, as in tf.data, where ``from_tensor_slices([[1, 2], [3, 4]])`` slices one
2x2 tensor rather than two components.  Dicts flatten in sorted key order (as ``tf.nest``)
and are rebuilt in their own key order.
"""
from __future__ import annotations

from collections.abc import Mapping


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _keys(mapping) -> list:
    return sorted(mapping)


_NONE = object()  # marks an exhausted iterator of leaves; None may be a leaf


def flatten(nest) -> list:
    """The leaves of `nest`, dicts in sorted key order.

    >>> flatten(({"b": 1, "a": 2}, 3))
    [2, 1, 3]
    """
    if _is_flat_tuple(nest):  # the common (features, labels) element, without the recursive walk
        return list(nest)
    if not isinstance(nest, (tuple, dict)):
        return [nest]
    out: list = []
    _flatten_into(nest, out)
    return out


def _is_flat_tuple(nest) -> bool:
    if type(nest) is not tuple:
        return False
    for v in nest:
        if isinstance(v, (tuple, dict)):
            return False
    return True


def _flatten_into(nest, out: list) -> None:
    if isinstance(nest, dict):
        for k in _keys(nest):
            _flatten_into(nest[k], out)
    elif isinstance(nest, tuple):
        for v in nest:
            _flatten_into(v, out)
    else:
        out.append(nest)


def pack(structure, flat):
    """Rebuild `structure` with the leaves `flat` (in `flatten` order).

    >>> pack({"b": 0, "a": 0}, [1, 2])
    {'b': 2, 'a': 1}
    """
    if _is_flat_tuple(structure) and len(flat) == len(structure):
        return tuple(flat)
    leaves = iter(flat)
    packed = _pack(structure, leaves)
    if next(leaves, _NONE) is not _NONE:
        raise ValueError(f"Too many leaves to pack into {layout(structure)}")
    return packed


def _pack(structure, leaves):
    if isinstance(structure, dict):
        values = {k: _pack(structure[k], leaves) for k in _keys(structure)}
        return {k: values[k] for k in structure}
    if isinstance(structure, tuple):
        values = [_pack(v, leaves) for v in structure]
        return type(structure)(*values) if _is_namedtuple(structure) else tuple(values)
    leaf = next(leaves, _NONE)
    if leaf is _NONE:
        raise ValueError("Too few leaves to pack the structure")
    return leaf


def map_structure(fn, nest):
    """`nest` with `fn` applied to every leaf.

    >>> map_structure(lambda x: x * 10, (1, {"a": 2}))
    (10, {'a': 20})
    """
    if _is_flat_tuple(nest):
        return tuple(fn(v) for v in nest)
    return pack(nest, [fn(x) for x in flatten(nest)])


def flatten_up_to(structure, value) -> list:
    """Flatten `value` as deep as `structure` goes; raise TypeError where it does not fit.

    A list in `value` may stand for a tuple in `structure` (generators often yield lists).

    >>> flatten_up_to((0, 0), [[1, 2], 3])
    [[1, 2], 3]
    """
    if isinstance(structure, dict):
        if not isinstance(value, Mapping) or set(value) != set(structure):
            raise TypeError(f"expected a dict with keys {_keys(structure)}, got {value!r}")
        return [x for k in _keys(structure) for x in flatten_up_to(structure[k], value[k])]
    if isinstance(structure, tuple):
        if not isinstance(value, (tuple, list)) or len(value) != len(structure):
            raise TypeError(f"expected a sequence of {len(structure)} values, got {value!r}")
        return [x for s, v in zip(structure, value) for x in flatten_up_to(s, v)]
    return [value]


def layout(nest, leaf: str = "*") -> str:
    """The shape of a nest as text, every leaf written as `leaf`; equal layouts, equal structures.

    >>> import collections
    >>> Point = collections.namedtuple("Point", "x y")
    >>> layout(({"b": 1, "a": 2}, Point(3, 4)))
    "({'a': *, 'b': *}, Point(x=*, y=*))"
    """
    if isinstance(nest, dict):
        return "{" + ", ".join(f"{k!r}: {layout(nest[k], leaf)}" for k in _keys(nest)) + "}"
    if _is_namedtuple(nest):
        fields = ", ".join(f"{f}={layout(v, leaf)}" for f, v in zip(type(nest)._fields, nest))
        return f"{type(nest).__name__}({fields})"
    if isinstance(nest, tuple):
        return "(" + ", ".join(layout(v, leaf) for v in nest) + ("," if len(nest) == 1 else "") + ")"
    return leaf


def same_structure(a, b) -> bool:
    """Whether two nests have the same tuple lengths, namedtuple types and dict keys."""
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return (isinstance(b, tuple) and type(a) is type(b) and len(a) == len(b)
                and all(same_structure(x, y) for x, y in zip(a, b)))
    return not isinstance(b, (tuple, dict))


def frozen(nest):
    """`nest` with every leaf array replaced by a read-only view of it.

    Elements a dataset hands out again and again (its source arrays, a memory cache) are shared;
    a read-only view keeps a user's in-place write to ``np.asarray(tensor)`` from changing them,
    without copying and without touching the flags of an array the user owns.
    """
    def view(array):
        v = array.view()
        v.flags.writeable = False
        return v
    return map_structure(view, nest)
