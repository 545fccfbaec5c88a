"""Abstract values: what a traced program knows of a tensor before it runs (JAX's ShapedArray).

A ``ShapedArray`` is a shape and a dtype and nothing else: it has no elements, so code that
tries to read one (``np.asarray``, ``float``) fails instead of freezing a value into a
compiled program.  Backward sees the inputs an op does not keep as ShapedArrays too.

A dim is an int, or a ``Dim``: a size known only when the program runs - axis k of a traced
value (an input's ``None`` dim, or a result whose size depends on data), the value of a
traced integer scalar, or arithmetic on those.  Ops may take Dims in their params (a
reshape to ``(b, 10)``); the generated code binds each one (``b = x.shape[0]``) where its
value is made, so one program serves every shape of its signature.  Users see Dims as
``None`` (``TensorShape``), as in TensorFlow.
"""
from __future__ import annotations


import numpy as np

__all__ = ["Dim", "ShapedArray", "is_static", "broadcast_shapes", "prod", "public_shape", "substitute",
           "leaves_of", "dim_max", "dims", "compatible"]


class Dim:
    """A symbolic size.  ``op`` is ``"axis"`` (args: value id, axis), ``"value"`` (args: value
    id), or one of ``+ * // % max`` over Dims and ints.  Compared by structure."""

    __slots__ = ("op", "args", "_hash")

    def __init__(self, op: str, args: tuple):
        self.op, self.args = op, args
        self._hash = hash((op, args))

    @staticmethod
    def axis(value_id: int, axis: int) -> "Dim":
        return Dim("axis", (value_id, axis))

    @staticmethod
    def value(value_id: int) -> "Dim":
        return Dim("value", (value_id,))

    # -- arithmetic: folds ints, flattens and sorts commutative operands -------------------
    def __add__(self, other):
        return _combine("+", self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return _combine("+", self, _negate(other))

    def __rsub__(self, other):
        return _combine("+", other, _negate(self))

    def __neg__(self):
        return _negate(self)

    def __mul__(self, other):
        return _combine("*", self, other)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        _check(other)
        if other == 1:
            return self
        if self == other:
            return 1
        if self.op == "*":  # (b * 784) // 784 = b, (b * c) // c = b
            factors = list(self.args)
            if isinstance(other, int) and isinstance(factors[-1], int) and factors[-1] % other == 0:
                return _product(factors[:-1]) * (factors[-1] // other)
            if other in factors:
                factors.remove(other)
                return _product(factors)
        return Dim("//", (self, other))

    def __rfloordiv__(self, other):
        return _check(other) and Dim("//", (other, self))

    def __mod__(self, other):
        return _check(other) and Dim("%", (self, other))

    def __rmod__(self, other):
        return _check(other) and Dim("%", (other, self))

    # -- what a size cannot do while it is unknown ------------------------------------------
    def __eq__(self, other):
        return isinstance(other, Dim) and other._hash == self._hash and other.op == self.op and \
            other.args == self.args

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return self._hash

    def _unknown(self, what: str):
        raise TypeError(f"{what} of the dimension {self} is unknown while tf.function traces (a None "
                        f"dimension: the program serves every size). Use tf.shape(x) to compute with "
                        f"sizes when the function runs.")

    def __index__(self):
        self._unknown("the value")

    __int__ = __index__

    def __bool__(self):
        self._unknown("the truth value")

    def __lt__(self, other):
        self._unknown("comparing the size")

    __le__ = __gt__ = __ge__ = __lt__

    # -- running and printing ------------------------------------------------------------------
    def leaves(self) -> set:
        """The ("axis"|"value", ...) leaves this size is computed from."""
        if self.op in ("axis", "value"):
            return {self}
        out = set()
        for a in self.args:
            if isinstance(a, Dim):
                out |= a.leaves()
        return out

    def evaluate(self, env: dict) -> int:
        """The size, given the value of every leaf (``env[leaf] -> int``)."""
        return self.substitute(env.__getitem__)

    def substitute(self, leaf_value):
        """This size with each leaf replaced by ``leaf_value(leaf)`` (an int, or another size)."""
        op = self.op
        if op in ("axis", "value"):
            return leaf_value(self)
        args = [a.substitute(leaf_value) if isinstance(a, Dim) else a for a in self.args]
        return _APPLY[op](args)

    def code(self, names: dict) -> str:
        """A Python expression for the size, with each leaf spelled ``names[leaf]``."""
        op = self.op
        if op in ("axis", "value"):
            return names[self]
        args = [a.code(names) if isinstance(a, Dim) else repr(a) for a in self.args]
        if op == "max":
            return f"max({', '.join(args)})"
        if op == "+":
            text = args[0]
            for a, raw in zip(args[1:], self.args[1:]):
                text += f" - {-raw}" if isinstance(raw, int) and raw < 0 else f" + {a}"
            return f"({text})"
        return "(" + f" {op} ".join(args) + ")"

    def __repr__(self):
        if self.op == "axis":
            return f"d{self.args[0]}_{self.args[1]}"
        if self.op == "value":
            return f"v{self.args[0]}"
        return self.code(_ReprNames())


class _ReprNames(dict):
    def __missing__(self, leaf):
        return repr(leaf)


def _sum(args):
    out = 0
    for a in args:
        out = out + a
    return out


def _max(args):
    return dim_max(*args) if any(isinstance(a, Dim) for a in args) else max(args)


_APPLY = {"+": _sum, "*": lambda a: _product(a), "//": lambda a: a[0] // a[1], "%": lambda a: a[0] % a[1],
          "max": _max}


def _check(other):
    if not isinstance(other, (int, np.integer, Dim)) or isinstance(other, bool):
        raise TypeError(f"a symbolic size combines with ints and sizes only, not {type(other).__name__}")
    return True


def _negate(x):
    if isinstance(x, Dim):
        return _combine("*", x, -1)
    _check(x)
    return -x


def _combine(op: str, a, b):
    """a op b for a commutative op (+ or *), folded and in a canonical order."""
    for x in (a, b):
        if not isinstance(x, Dim):
            if isinstance(x, np.integer):
                continue
            _check(x)
    terms, const = [], 0 if op == "+" else 1
    for x in (a, b):
        parts = x.args if isinstance(x, Dim) and x.op == op else (x,)
        for p in parts:
            if isinstance(p, Dim):
                terms.append(p)
            elif op == "+":
                const += int(p)
            else:
                const *= int(p)
    if op == "*" and const == 0:
        return 0
    if not terms:
        return const
    terms.sort(key=repr)
    if (op == "+" and const != 0) or (op == "*" and const != 1):
        terms.append(const)
    return terms[0] if len(terms) == 1 else Dim(op, tuple(terms))


def _product(factors):
    out = 1
    for f in factors:
        out = out * f
    return out


def dim_max(a, b):
    """The size of a broadcast of sizes a and b (one of them 1, or both equal, when it runs)."""
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    if isinstance(a, int) or isinstance(b, int):
        return a if isinstance(a, int) else b  # TF: a known size wins over an unknown one
    return Dim("max", tuple(sorted((a, b), key=repr)))


def substitute(x, leaf_value):
    """x (a param: nested tuples, lists, dicts, slices) with each Dim's leaves replaced by
    ``leaf_value(leaf)``; x itself when it holds no Dim."""
    if isinstance(x, Dim):
        return x.substitute(leaf_value)
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        new = tuple(substitute(v, leaf_value) for v in x)
        return x if all(a is b for a, b in zip(new, x)) else new
    if isinstance(x, list):
        return [substitute(v, leaf_value) for v in x]
    if isinstance(x, dict):
        return {k: substitute(v, leaf_value) for k, v in x.items()}
    if isinstance(x, slice) and any(isinstance(v, Dim) for v in (x.start, x.stop, x.step)):
        return slice(*substitute((x.start, x.stop, x.step), leaf_value))
    return x


def leaves_of(x) -> set:
    """The leaves of every Dim in a param."""
    if isinstance(x, Dim):
        return x.leaves()
    if isinstance(x, (tuple, list)):
        return set().union(*(leaves_of(v) for v in x)) if x else set()
    if isinstance(x, dict):
        return set().union(*(leaves_of(v) for v in x.values())) if x else set()
    if isinstance(x, slice):
        return leaves_of((x.start, x.stop, x.step))
    return set()


def is_static(shape) -> bool:
    """Are all dims ints?"""
    for d in shape:
        if type(d) is not int and not isinstance(d, (int, np.integer)):
            return False
    return True


def prod(shape):
    """The product of the dims (a Dim when one of them is)."""
    out = 1
    for d in shape:
        out = out * d
    return out


def broadcast_shapes(*shapes) -> tuple:
    """NumPy's broadcast of shapes whose dims may be Dims; ValueError when static dims clash."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        d = 1
        for s in shapes:
            i = k - (rank - len(s))
            if i < 0:
                continue
            e = s[i]
            if isinstance(e, int) and isinstance(d, int) and e != d and e != 1 and d != 1:
                raise ValueError(f"Incompatible shapes: {list(shapes[0])} vs. {list(shapes[1])}"
                                 if len(shapes) == 2 else
                                 f"shapes {[list(s) for s in shapes]} do not broadcast")
            d = dim_max(d, e)
        out.append(d)
    return tuple(out)


def dims(x) -> tuple:
    """The shape of a tensor, a ShapedArray or an array, with Dims where a traced size is symbolic
    (what library code computes with: ``Tensor.shape`` shows those as None, as TF's)."""
    value = getattr(x, "_value", x)
    return value.shape if hasattr(value, "shape") else np.shape(value)


def compatible(a, b) -> bool:
    """Can shapes a and b be the same when the program runs (same rank, no two ints that differ)?"""
    return len(a) == len(b) and not any(isinstance(x, int) and isinstance(y, int) and x != y
                                        for x, y in zip(a, b))


def public_shape(shape) -> tuple:
    """The dims as users see them: None for a symbolic one."""
    return tuple(d if type(d) is int else None if isinstance(d, Dim) else int(d) for d in shape)


class ShapedArray:
    """A shape (ints and Dims) and a NumPy dtype: a traced value, or one backward does not keep.

    ``_value`` is the ShapedArray itself, so engine code reads ``x._value.shape`` alike for
    tensors and abstract values (a slot, not a property: backward reads it per cotangent).
    """

    __slots__ = ("shape", "dtype", "_value")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._value = self

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self):
        return prod(self.shape)

    def __eq__(self, other):
        return isinstance(other, ShapedArray) and other.shape == self.shape and other.dtype == self.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __array__(self, dtype=None, copy=None):
        from .source import here
        raise NotImplementedError(
            f"Cannot convert a symbolic tf.Tensor ({self.short()}) to a numpy array: its value exists "
            f"only when the traced function runs. Transform tensors with tapegrad ops (at {here()})")

    def short(self) -> str:
        from ..inspect.graph_view import short_dtype
        return f"{short_dtype(self.dtype)}{list(public_shape(self.shape))}"

    def __repr__(self):
        return f"ShapedArray({self.short()})"


# -- an op's result type without a shape rule (Op.abstract's fallbacks) --------------------------

_dtype_cache: dict = {}


def elementwise_dtype(op, avals, params):
    """The dtype an elementwise op's forward gives for these input dtypes (run on one element)."""
    try:
        key = (op, tuple(a.dtype for a in avals), tuple(params.items()) if params else ())
        hash(key)
    except TypeError:
        key = None
    dtype = _dtype_cache.get(key) if key is not None else None
    if dtype is None:
        with np.errstate(all="ignore"):
            dtype = np.asarray(op.impl(*[np.ones((1,), a.dtype) for a in avals], **params)).dtype
        if key is not None:
            _dtype_cache[key] = dtype
    return dtype


_SENTINELS = ((5, 7, 11, 13, 17, 19, 23, 29), (31, 37, 41, 43, 47, 53, 59, 61))


def abstract_by_running(op, avals, params):
    """An op's result type without a shape rule: its forward run on zero-memory placeholders.

    Each symbolic size takes a stand-in value, twice with different values: a result dim that
    changes with them depends on a symbolic one and is left None (read when the program
    runs); one that does not is static.
    """
    leaves = sorted(leaves_of(tuple(a.shape for a in avals)) | leaves_of(params), key=repr)
    if len(leaves) > len(_SENTINELS[0]):
        raise TypeError(f"{op.name}: too many symbolic dims to infer its result's shape; "
                        f"declare a shape rule")
    results = []
    for sizes in _SENTINELS[:2 if leaves else 1]:
        env = dict(zip(leaves, sizes))
        arrays = [np.broadcast_to(np.zeros((), a.dtype), _substituted(a.shape, env)) for a in avals]
        with np.errstate(all="ignore"):
            results.append(op.impl(*arrays, **_substituted(params, env)))
    if isinstance(results[0], tuple):
        return tuple(_type_of(*[r[k] for r in results]) for k in range(len(results[0])))
    return _type_of(*results)


def _type_of(*arrays) -> ShapedArray:
    first = np.asarray(arrays[0])
    shape = tuple(d if all(np.shape(a)[k] == d for a in arrays[1:]) else None
                  for k, d in enumerate(first.shape))
    return ShapedArray(shape, first.dtype)


def _substituted(x, env):
    """x with each Dim replaced by its value given its leaves' values (env)."""
    return substitute(x, env.__getitem__)
