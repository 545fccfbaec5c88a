"""Tensor (immutable, wraps an ndarray) and Variable (mutable, watched by tapes when read).

Operators and most methods are attached by ``tapegrad.ops`` from the op registry,
so this module holds only what is not an op: identity, conversion, printing.
"""
from __future__ import annotations

import sys

import numpy as np

from . import dtypes
from .aval import ShapedArray
from .shape import TensorShape
from .source import user_site
from .state import next_id, note_exit, state  # noqa: F401 (next_id: importers take it from here)

# Unique ids for tensors a tape tracks.  0 means "never watched, never recorded";
# ids are never reused, unlike id(), so a dead tensor cannot alias a new one.


class Tensor:
    """An immutable n-dimensional array of one dtype.

    >>> import tapegrad as tf
    >>> t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    >>> t.shape, t.dtype, float(t[1, 0])
    (TensorShape([2, 2]), tf.float32, 3.0)
    """

    __slots__ = ("_value", "_id", "__weakref__")
    _trainable = False  # only a Variable's slot says otherwise: the tape's checks need no type test
    # Makes NumPy's binary operators defer to ours: ndarray * Tensor -> Tensor.
    __array_priority__ = 100

    def __init__(self, value, _id: int = 0):
        self._value = value
        self._id = _id

    # -- introspection ---------------------------------------------------------------
    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_numpy(self._value.dtype)

    @property
    def shape(self) -> TensorShape:
        return tuple.__new__(TensorShape, self._value.shape)

    def get_shape(self) -> TensorShape:
        return self.shape

    def set_shape(self, shape) -> None:
        """Check that the tensor's shape is compatible with `shape` (None entries, or None for any
        shape, match anything), as TF's; on a traced tensor, its unknown dims become `shape`'s.

        >>> import tapegrad as tf
        >>> t = tf.constant([[1.0, 2.0]])
        >>> t.set_shape([None, 2])
        >>> t.set_shape([2, 2])
        Traceback (most recent call last):
        ...
        ValueError: Tensor's shape (1, 2) is not compatible with supplied shape (2, 2).
        """
        given = shape if isinstance(shape, TensorShape) else TensorShape(shape)
        if given.rank is None:
            return
        mine, given = tuple(self.shape), tuple(given)
        symbolic = type(self._value) is not np.ndarray
        if len(mine) != len(given):
            raise ValueError(f"Shapes must be equal rank, but are {len(mine)} and {len(given)}" if symbolic
                             else f"Tensor's shape {mine} is not compatible with supplied shape {given}.")
        for axis, (a, b) in enumerate(zip(mine, given)):
            if a is not None and b is not None and a != b:
                if not symbolic:
                    raise ValueError(f"Tensor's shape {mine} is not compatible with supplied shape {given}.")
                def text(dims):
                    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"
                raise ValueError(f"Dimension {axis} in both shapes must be equal, but are {a} and {b}. "
                                 f"Shapes are {text(mine)} and {text(given)}.")
        if symbolic and any(a is None and b is not None for a, b in zip(mine, given)):
            # a new aval: the program's record of this value is shared, and keeps its Dims
            self._value = ShapedArray([b if a is None and b is not None else d
                                       for d, a, b in zip(self._value.shape, mine, given)], self._value.dtype)

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def rank(self) -> int:
        return self._value.ndim

    @property
    def device(self) -> str:
        return "/job:localhost/replica:0/task:0/device:CPU:0"

    def numpy(self):
        """A copy of the value as a NumPy array (a NumPy scalar for rank 0), as TF's."""
        if state.tapes:
            note_exit(self, ".numpy()")
        v = self._value
        if isinstance(v, np.ndarray) and v.dtype.kind == "S":  # TF's strings: bytes, arrays of dtype object
            return v.astype(object) if v.ndim else bytes(v[()])
        return v.copy() if isinstance(v, np.ndarray) and v.ndim else v[()] if isinstance(v, np.ndarray) else v

    def __array__(self, dtype=None, copy=None):
        if state.tapes:
            note_exit(self, "a NumPy call (np.asarray)")
        v = np.asarray(self._value)
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def ref(self):
        """A hashable reference to this tensor (tensors themselves are unhashable)."""
        return _Ref(self)

    def experimental_ref(self):
        return _Ref(self)

    # -- Python protocol -------------------------------------------------------------
    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len is not well defined for a rank-0 Tensor.")
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __index__(self) -> int:
        if self.dtype.is_integer and self._value.ndim == 0:
            return int(self._value)
        raise TypeError(f"Only integer scalar tensors can be used as an index, got shape "
                        f"{self.shape} and dtype {self.dtype.name}.")

    def __int__(self) -> int:
        if state.tapes:
            note_exit(self, "int()")
        return int(self._value)

    def __float__(self) -> float:
        if state.tapes:
            note_exit(self, "float()")
        return float(self._value)

    def __complex__(self) -> complex:
        return complex(self._value)

    def __format__(self, spec: str) -> str:
        v = self._value
        if np.ndim(v) == 0:
            return format(v[()] if isinstance(v, np.ndarray) else v, spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a Tensor of shape "
                            f"{self.shape}: only rank-0 tensors take a format spec")
        return str(np.asarray(v))  # as TF: the NumPy value's format, '[1. 2.]'

    __hash__ = None  # tensors compare elementwise; use t.ref() as a dict key, as in TF

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        for i in range(len(self._value)):
            yield self[i]

    def __repr__(self) -> str:
        return f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, numpy={_numpy_repr(self._value)}>"

    def __str__(self) -> str:
        return (f"tf.Tensor({np.array2string(np.asarray(self._value))}, shape={self.shape}, "
                f"dtype={self.dtype.name})")

    def __reduce__(self):
        raise TypeError("tapegrad tensors are not pickled; save with .numpy() and np.save")

    def __copy__(self):
        return self  # immutable: TF's copy.copy and copy.deepcopy of a tensor give the tensor itself

    def __deepcopy__(self, memo):
        return self


class _Ref:
    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def deref(self):
        return self._t

    def __hash__(self):
        return id(self._t)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other._t is self._t


def _numpy_repr(v) -> str:
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return repr(v.astype(object)) if v.ndim else repr(bytes(v[()]))
    return repr(v) if isinstance(v, np.ndarray) and v.ndim else str(np.asarray(v)[()])


class Variable(Tensor):
    """A mutable tensor: model weights.  Reads inside a GradientTape are watched.

    ``assign``/``assign_add``/``assign_sub`` replace the value; a tape that already
    recorded a read keeps the value it read, as TensorFlow's snapshots do.

    >>> import tapegrad as tf
    >>> v = tf.Variable([1.0, 2.0], name="w")
    >>> v.name, v.trainable
    ('w:0', True)
    >>> _ = v.assign_add([1.0, 1.0]); v.numpy()
    array([2., 3.], dtype=float32)
    """

    __slots__ = ("_name", "_trainable", "constraint", "_handle_name", "path", "_site")

    def __init__(self, initial_value=None, trainable: bool = True, validate_shape: bool = True,
                 name: str | None = None, dtype=None, constraint=None, shape=None,
                 synchronization=None, aggregation=None, caching_device=None):
        if initial_value is None:
            raise ValueError("The initial value must be specified.")
        if callable(initial_value):
            from .op import paused
            with paused():  # TF's init_scope: an initializer runs eagerly, also inside a tf.function
                initial_value = initial_value()
        if isinstance(initial_value, Tensor) and type(initial_value._value) is ShapedArray:
            initial_value = _lifted(initial_value)
        value = convert_to_array(initial_value, dtype)
        super().__init__(np.array(value, copy=True), next_id())
        self._trainable = bool(trainable)
        from ..module import current_name_scope  # here: tapegrad.module imports this module
        base = current_name_scope() + ("Variable" if name is None else str(name))
        self._handle_name = base
        self._name = base if base.endswith(":0") else base + ":0"
        self.path = base  # where the variable lives, e.g. "sequential/dense/kernel" (Keras sets it)
        self.constraint = constraint
        self._site = user_site(2)  # where the user made it (tape.explain tells look-alike variables apart)
        from . import tape
        tape.variable_created(self)

    @property
    def name(self) -> str:
        return self._name

    @property
    def trainable(self) -> bool:
        return self._trainable

    def __copy__(self):
        return self  # as TF: a shallow copy of a variable is the variable itself

    def __deepcopy__(self, memo):
        """An independent Variable with this one's value, name, trainability and constraint, as TF's.

        >>> import copy, tapegrad as tf
        >>> v = tf.Variable([1.0, 2.0], name="w")
        >>> c = copy.deepcopy(v); _ = v.assign([5.0, 6.0])
        >>> c.numpy(), c.name, copy.copy(v) is v
        (array([1., 2.], dtype=float32), 'w:0', True)
        """
        new = Variable(self._value, trainable=self._trainable, name=self._handle_name, constraint=self.constraint)
        new.path = self.path
        memo[id(self)] = new
        return new

    @property
    def initial_value(self):
        return Tensor(self._value.copy())

    def value(self) -> Tensor:
        return self.read_value()

    def read_value(self) -> Tensor:
        """The current value as a new Tensor; inside a tape, a watched read."""
        from ..ops.array import identity
        return identity(self)

    def numpy(self):
        if state.graph is not None:  # inside a tf.function a variable holds no value yet, as in TF
            raise NotImplementedError(f"numpy() is only available when eager execution is enabled: "
                                      f"{self._name!r} is read inside a tf.function being traced; use its "
                                      f"value as a tensor (ops on it run on every call).")
        if state.tapes:
            note_exit(self, ".numpy()")
        return self._value.copy() if self._value.ndim else self._value[()]

    def _traced_read(self):
        """Inside a tf.function: the variable as the program reads it (its Python views then raise)."""
        from .op import apply
        from ..ops.symbolic import read_variable
        return apply(read_variable, (self,), {})

    def __array__(self, dtype=None, copy=None):
        if state.graph is not None:
            return self._traced_read().__array__(dtype, copy)
        return Tensor.__array__(self, dtype, copy)

    def __bool__(self):
        return bool(self._traced_read()) if state.graph is not None else Tensor.__bool__(self)

    def __index__(self):
        return self._traced_read().__index__() if state.graph is not None else Tensor.__index__(self)

    def __int__(self):
        return int(self._traced_read()) if state.graph is not None else Tensor.__int__(self)

    def __float__(self):
        return float(self._traced_read()) if state.graph is not None else Tensor.__float__(self)

    def _checked(self, value, what: str) -> np.ndarray:
        new = convert_to_array(value, self.dtype)
        if new.shape != self._value.shape:
            from .source import here
            raise ValueError(
                f"Variable.{what}: cannot assign a value of shape {new.shape} to variable "
                f"{self._name!r} of shape {self._value.shape} (at {here()})")
        return new

    def assign(self, value, use_locking=None, name=None, read_value=True):
        self._value = np.array(self._checked(value, "assign"), copy=True)
        return self

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        self._value = np.asarray(self._value + self._checked(delta, "assign_add"))  # 0-d stays an array
        return self

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        self._value = np.asarray(self._value - self._checked(delta, "assign_sub"))
        return self

    def _writable(self) -> np.ndarray:
        """The value array, safe to update in place (optimizers do, to avoid temporaries).

        Copy-on-write: if anything else still references the current array (a tensor
        read earlier, a tape's saved input, a view), the variable moves to a copy first
        so that what was read stays as it was read.
        """
        # 2 = the attribute and getrefcount's argument: anything more is someone else's read
        if sys.getrefcount(self._value) > 2 or not self._value.flags.writeable:
            self._value = self._value.copy()
        return self._value

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self._name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={_numpy_repr(self._value)}>")

    def __str__(self) -> str:
        return self.__repr__()


def _lifted(t):
    """A traced initial value computed now (made inside a tf.function from constants only)."""
    if state.graph is None:
        raise TypeError(f"{t!r} is a symbolic tensor of a tf.function's trace and cannot initialize a "
                        f"variable here")
    return state.graph.lift(t)


# -- conversion -------------------------------------------------------------------------

def _infer_python_dtype(value) -> np.dtype:
    """TF's defaults: float -> float32, int -> int32 (int64 when it does not fit), bool -> bool."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "f":
        return np.dtype(np.float32)
    if kind in "iu":
        if arr.size and (arr.max() > 2**31 - 1 or arr.min() < -2**31):
            return np.dtype(np.int64)
        return np.dtype(np.int32)
    if kind == "c":
        return np.dtype(np.complex128)
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "US" or (kind == "O" and arr.size and all(isinstance(x, (str, bytes)) for x in arr.flat)):
        return np.dtype("S")
    if kind == "O":
        raise TypeError(f"Cannot convert {value!r} to a tensor: it is not numeric data")
    return arr.dtype


def convert_to_array(value, dtype=None) -> np.ndarray:
    """An ndarray for `value` with TF's dtype rules; never aliases a caller's mutable array."""
    np_dtype = None if dtype is None else dtypes.as_dtype(dtype)._np
    if isinstance(value, Tensor):
        v = value._value
        if np_dtype is not None and v.dtype != np_dtype and not (v.dtype.kind == np_dtype.kind == "S"):
            raise ValueError(f"Tensor conversion requested dtype {np_dtype.name} for Tensor with "
                             f"dtype {v.dtype.name}: {value!r}")
        return np.asarray(v)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        if np_dtype is None:
            return _as_bytes(np.asarray(value)) if np.asarray(value).dtype.kind in "UO" else np.array(value)
        _check_text(value, np.asarray(value).dtype, np_dtype)
        return _as_bytes(np.asarray(value)) if np_dtype.kind == "S" else np.array(value, dtype=np_dtype)
    if hasattr(value, "__tapegrad_dense__"):
        return convert_to_array(value.__tapegrad_dense__(), dtype)
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in _flat(value)):
        value = _lists_of_arrays(value)
    if np_dtype is None:
        np_dtype = _infer_python_dtype(value)
        if np_dtype.kind == "S":
            return _as_bytes(np.array(value, dtype=object))
        return np.array(value, dtype=np_dtype)
    arr = np.array(value)
    _check_text(value, arr.dtype, np_dtype)
    if np_dtype.kind == "S":
        return _as_bytes(arr)
    if arr.dtype.kind == "f" and np_dtype.kind in "iub":
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {np_dtype.name}")
    return arr.astype(np_dtype)


def _as_bytes(arr: np.ndarray) -> np.ndarray:
    """Text as TF holds it: UTF-8 bytes (an ``S`` array; ``.numpy()`` gives TF's object array).
    NumPy's ``S`` drops trailing NUL bytes of an element, a limit of this representation."""
    if arr.dtype.kind == "S":
        return np.array(arr)
    if arr.dtype.kind == "U":
        return np.char.encode(arr, "utf-8")
    flat = [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in arr.flat]
    return np.array(flat, dtype="S" if flat else "S1").reshape(arr.shape)


def _check_text(value, have, want) -> None:
    """Numbers never become strings nor strings numbers by conversion (TF's TypeError): NumPy
    would turn 1.0 into '1.0' and string + 1.0 into 'a1.0'."""
    if (have.kind in "US") != (want.kind in "US") and have.kind != "O":
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype "
                        f"{'string' if want.kind in 'US' else want.name}")


def _flat(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _lists_of_arrays(value):
    if isinstance(value, Tensor):
        return np.asarray(value._value)
    if isinstance(value, (list, tuple)):
        return [_lists_of_arrays(v) for v in value]
    return value


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor from a Python value or array; `shape` broadcasts or reshapes as TF's.

    >>> import tapegrad as tf
    >>> tf.constant(1.5).dtype, tf.constant([1, 2]).dtype, tf.constant(0, shape=[2, 2]).shape
    (tf.float32, tf.int32, TensorShape([2, 2]))
    """
    if _holds_symbolic(value):  # TF's make_tensor_proto refuses a graph tensor the same way
        raise TypeError("Expected any non-tensor type, but got a tensor instead: tf.constant takes Python "
                        "values and arrays, and inside a tf.function this tensor is symbolic (use "
                        "tf.identity, tf.cast or tf.convert_to_tensor on tensors).")
    arr = convert_to_array(value, dtype)
    if shape is not None:
        shape = tuple(shape)
        if arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        elif arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        else:
            raise TypeError(f"Eager execution of tf.constant with unsupported shape. Tensor "
                            f"{value!r} (converted from {arr.shape}) has {arr.size} elements, but "
                            f"got `shape` {shape} with {int(np.prod(shape))} elements).")
    return Tensor(arr)


def _holds_symbolic(value) -> bool:
    """Is value (or a nested list of values) a tensor of a tf.function being traced?"""
    if isinstance(value, Tensor):
        return type(value._value) is ShapedArray
    return isinstance(value, (list, tuple)) and any(_holds_symbolic(v) for v in value)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """Return `value` as a Tensor (a Variable becomes a watched read; a Tensor is itself).

    >>> import tapegrad as tf
    >>> tf.convert_to_tensor([1.0, 2.0]).dtype
    tf.float32
    """
    if isinstance(value, Tensor) and not isinstance(value, Variable):  # subclasses: traced tensors
        if dtype is not None and value._value.dtype != dtypes.as_dtype(dtype)._np \
                and not (value._value.dtype.kind == "S" and dtypes.as_dtype(dtype) is dtypes.string):
            raise ValueError(f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} "
                             f"for Tensor with dtype {value.dtype.name}: {value!r}")
        return value
    if isinstance(value, Variable):
        if dtype is not None and dtypes.as_dtype(dtype) != value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} "
                             f"for variable {value.name!r} with dtype {value.dtype.name}")
        return value.read_value()
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in _flat(value)):
        return pack(value, dtype)
    if dtype is None and dtype_hint is not None and not isinstance(value, np.ndarray):
        try:
            return Tensor(convert_to_array(value, dtype_hint))
        except (TypeError, ValueError):
            pass
    return Tensor(convert_to_array(value, dtype))


def pack(value, dtype=None) -> Tensor:
    """A (nested) list holding tensors as one tensor, stacked with ops - as TF packs it, so that
    gradients flow to the tensors in it and a traced value stays traced."""
    from ..ops.array import stack
    parts = [pack(v, dtype) if isinstance(v, (list, tuple)) else convert_to_tensor(v, dtype) for v in value]
    if dtype is None:  # Python numbers take the tensors' dtype, as TF's packing does
        anchor = next((p.dtype for p, v in zip(parts, value) if isinstance(v, Tensor)), None)
        parts = [p if isinstance(v, (Tensor, list, tuple)) or anchor is None else convert_to_tensor(v, anchor)
                 for p, v in zip(parts, value)]
    return stack(parts)


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)
