"""TensorShape: a tuple of dims where a dim may be None (unknown), as in TensorFlow."""
from __future__ import annotations


class TensorShape(tuple):
    """The shape of a tensor: a tuple of ints, with ``None`` for an unknown dim.

    >>> import tapegrad as tf
    >>> s = tf.zeros([2, 3]).shape
    >>> s, s.as_list(), s[0], s == (2, 3)
    (TensorShape([2, 3]), [2, 3], 2, True)
    """

    __slots__ = ()
    _unknown_rank = False

    def __new__(cls, dims=()):
        if dims is None:
            return UNKNOWN_RANK
        if isinstance(dims, int):
            dims = (dims,)
        return tuple.__new__(cls, (None if d is None else int(d) for d in dims))

    @property
    def rank(self):
        return None if self._unknown_rank else len(self)

    ndims = rank

    @property
    def dims(self):
        return None if self._unknown_rank else list(self)

    def as_list(self) -> list:
        if self._unknown_rank:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self)

    def is_fully_defined(self) -> bool:
        return not self._unknown_rank and None not in self

    def num_elements(self):
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self:
            n *= d
        return n

    def is_compatible_with(self, other) -> bool:
        other = as_shape(other)
        if self._unknown_rank or other._unknown_rank:
            return True
        return len(self) == len(other) and all(
            a is None or b is None or a == b for a, b in zip(self, other))

    def most_specific_compatible_shape(self, other) -> "TensorShape":
        """Unequal dims become None; different ranks give an unknown shape (TF's relaxation)."""
        other = as_shape(other)
        if self._unknown_rank or other._unknown_rank or len(self) != len(other):
            return UNKNOWN_RANK
        return TensorShape(a if a == b else None for a, b in zip(self, other))

    def merge_with(self, other) -> "TensorShape":
        other = as_shape(other)
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        if self._unknown_rank:
            return other
        if other._unknown_rank:
            return self
        return TensorShape(a if a is not None else b for a, b in zip(self, other))

    def concatenate(self, other) -> "TensorShape":
        other = as_shape(other)
        if self._unknown_rank or other._unknown_rank:
            return UNKNOWN_RANK
        return TensorShape(tuple(self) + tuple(other))

    def __getitem__(self, key):
        if isinstance(key, slice):
            return TensorShape(tuple.__getitem__(self, key))
        return tuple.__getitem__(self, key)

    def __eq__(self, other):
        if isinstance(other, (list, tuple)):
            return tuple(self) == tuple(other) and self._unknown_rank == getattr(other, "_unknown_rank", False)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = tuple.__hash__

    def __repr__(self):
        return "TensorShape(None)" if self._unknown_rank else f"TensorShape({list(self)})"

    def __str__(self):
        if self._unknown_rank:
            return "<unknown>"
        return "(" + ", ".join("None" if d is None else str(d) for d in self) + ("," if len(self) == 1 else "") + ")"


class _UnknownRankShape(TensorShape):
    __slots__ = ()
    _unknown_rank = True


UNKNOWN_RANK = tuple.__new__(_UnknownRankShape, ())


def as_shape(value) -> TensorShape:
    return value if isinstance(value, TensorShape) else TensorShape(value)
