"""tf.TensorArray: a list of same-typed tensors that loops write and read by index.

Eagerly it is a Python list of tensors (``write`` returns a new TensorArray, as TF's), so a
GradientTape sees the tensors written and stacked.  In a traced program it is one dense
tensor, the *buffer* ``[size, *element_shape]``: ``write`` is an op making a new buffer with
one row replaced (``tensor_array_write``), ``read`` a gather, ``stack`` the buffer itself.
Its gradient is therefore the ordinary gradient of those ops, in a loop too.  A TensorArray
carried by a loop before its element shape is known gets its buffer at its first write
inside the loop (see tapegrad.compiler.control_flow).
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.op import REAL, Domain, defop, state
from ..core.shape import TensorShape, as_shape
from ..core.tensor import Tensor, convert_to_tensor
from ..errors import InvalidArgumentError

__all__ = ["TensorArray"]

_INDEX = Domain(0, 3, dtype=np.int32, integer=True)


def _write_rule(buffer, index, value, dynamic=False):
    if buffer.ndim != value.ndim + 1:
        raise ValueError(f"TensorArray: writing a value of rank {value.ndim} to an array of elements of rank "
                         f"{buffer.ndim - 1}")
    for a, b in zip(buffer.shape[1:], value.shape):
        if isinstance(a, int) and isinstance(b, int) and a != b:
            raise ValueError(f"Could not write to TensorArray: its elements have shape "
                             f"{list(buffer.shape[1:])} but the value has shape {list(value.shape)}")
    return ShapedArray(((None if dynamic else buffer.shape[0]),) + tuple(buffer.shape[1:]), buffer.dtype)


def _unwrite(g, out, buffer, index, value, dynamic):
    return _clear_row(g, index, rows=buffer.shape[0])


@defop(vjp=(_unwrite, None, lambda g, out, buffer, index, value, dynamic: _gather_row(g, index)),
       saves="inputs", same_dtype=(0, 2), domain=(REAL, _INDEX, REAL), shape=_write_rule,
       cases=[dict(shapes=((4, 3), (), (3,)), params=dict(dynamic=False))])
def tensor_array_write(buffer, index, value, dynamic=False):
    """`buffer` with row `index` replaced by `value` (grown to fit when `dynamic`): a TensorArray write."""
    i = int(index)
    rows = buffer.shape[0]
    if i < 0 or (i >= rows and not dynamic):
        raise InvalidArgumentError(f"Tried to write to index {i} but array is not resizeable and size is: "
                                   f"{rows}")
    if i >= rows:
        out = np.zeros((i + 1,) + buffer.shape[1:], buffer.dtype)
        out[:rows] = buffer
    else:
        out = buffer.copy()
    out[i] = value
    return out


def _clear_rule(g, index, rows=0):
    return ShapedArray((rows,) + tuple(g.shape[1:]), g.dtype)


@defop(vjp=(lambda g, out, x, index, rows: _clear_row(g, index, rows=x.shape[0]), None), saves="inputs",
       same_dtype=(), shape=_clear_rule, domain=(REAL, _INDEX), name="tensor_array_clear_row",
       cases=[dict(shapes=((4, 3), ()), params=dict(rows=4)), dict(shapes=((4, 3), ()), params=dict(rows=2)),
              dict(shapes=((2, 3), ()), params=dict(rows=4))])
def _clear_row(g, index, rows=0):
    """g cut or zero-padded to `rows` rows, with row `index` zero: a write's cotangent for the buffer
    written to (its own transpose, so it is its vjp too)."""
    out = np.zeros((rows,) + g.shape[1:], g.dtype)
    n = min(rows, g.shape[0])
    out[:n] = g[:n]
    i = int(index)
    if 0 <= i < rows:
        out[i] = 0
    return out


def _gather_row(g, index):
    from .indexing import gather
    return gather(g, index)


class TensorArray:
    """A list of tensors of one dtype (and, by default, one shape) written and read by index.

    >>> import tapegrad as tf
    >>> ta = tf.TensorArray(tf.float32, size=3)
    >>> for i in range(3):
    ...     ta = ta.write(i, tf.constant([i, i + 1], tf.float32))
    >>> ta.stack().numpy()
    array([[0., 1.],
           [1., 2.],
           [2., 3.]], dtype=float32)
    """

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None,
                 colocate_with_first_write_call=True, name=None):
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic = bool(dynamic_size)
        self._infer_shape = infer_shape
        self._element_shape = None if element_shape is None else as_shape(element_shape)
        if size is None and not self._dynamic:
            raise ValueError("Size must be provided if handle is not provided")
        self._size = 0 if size is None else size
        self._items = None      # eagerly: the tensors written (None for an index not written)
        self._buffer = None     # traced: the dense buffer [size, *element_shape]
        self._pending = None    # traced, carried by a loop before its first write: makes the buffer
        if state.graph is None:
            self._items = [None] * int(self._size)
        elif isinstance(self._size, Tensor):  # the size as the program where it is made knows it
            from ..core.op import static_value
            self._size = static_value(self._size)

    # -- TF's surface -------------------------------------------------------------------------
    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic

    @property
    def element_shape(self) -> TensorShape:
        if self._buffer is not None:
            return self._buffer.shape[1:]
        if self._element_shape is not None:
            return self._element_shape
        if self._items:
            first = next((t for t in self._items if t is not None), None)
            if first is not None:
                return first.shape
        return TensorShape(None)

    @property
    def flow(self):
        return self._buffer

    def _copy(self, items=None, buffer=None) -> "TensorArray":
        new = TensorArray.__new__(TensorArray)
        new.__dict__.update(self.__dict__)
        new._items, new._buffer, new._pending = items, buffer, None
        return new

    def size(self, name=None) -> Tensor:
        """The number of elements (a tensor)."""
        if self._items is not None:
            return convert_to_tensor(np.int32(len(self._items)))
        if self._buffer is None:
            return convert_to_tensor(self._size, dtype=dtypes.int32)
        from .symbolic import shape_of
        return shape_of(self._buffer)[0]

    def write(self, index, value, name=None) -> "TensorArray":
        """A TensorArray with element `index` set to `value`."""
        value = convert_to_tensor(value, dtype=self._dtype)
        self._check_shape(value)
        if self._items is not None:
            i = int(index)
            items = list(self._items)
            if i >= len(items):
                if not self._dynamic:
                    raise InvalidArgumentError(f"Tried to write to index {i} but array is not resizeable "
                                               f"and size is: {len(items)}")
                items += [None] * (i + 1 - len(items))
            if items[i] is not None:
                raise InvalidArgumentError(f"Could not write to TensorArray index {i} because it has already "
                                           f"been written to.")
            items[i] = value
            return self._copy(items=items)
        buffer = self._buffer if self._buffer is not None else self._allocate(value._value)
        index = convert_to_tensor(index, dtype=dtypes.int32)
        return self._copy(buffer=tensor_array_write(buffer, index, value, dynamic=self._dynamic))

    def _check_shape(self, value) -> None:
        if self._infer_shape and self._element_shape is not None and \
                not self._element_shape.is_compatible_with(tuple(value.shape)):
            raise ValueError(f"Incompatible shape for value ({tuple(value.shape)}), expected "
                             f"({self._element_shape})")

    def _allocate(self, element: ShapedArray) -> Tensor:
        """The buffer of a traced TensorArray, made at its first write: zeros of [size, *element]."""
        if self._pending is not None:
            return self._pending(element)
        return _zeros((self._rows(),) + tuple(element.shape), element.dtype)

    def _rows(self):
        return self._size if not isinstance(self._size, (int, np.integer)) else int(self._size)

    def read(self, index, name=None) -> Tensor:
        """Element `index`."""
        if self._items is not None:
            i = int(index)
            if not 0 <= i < len(self._items):
                raise InvalidArgumentError(f"Tried to read from index {i} but array size is: "
                                           f"{len(self._items)}")
            if self._items[i] is None:
                if self._element_shape is not None and self._element_shape.is_fully_defined():
                    from .creation import zeros
                    return zeros(tuple(self._element_shape), self._dtype)
                raise InvalidArgumentError(f"Could not read from TensorArray index {i} because it has not "
                                           f"yet been written to.")
            return self._items[i]
        from .indexing import gather
        return gather(self._traced_buffer(), convert_to_tensor(index, dtype=dtypes.int32))

    def _traced_buffer(self) -> Tensor:
        if self._buffer is None:
            if self._element_shape is None or not self._element_shape.is_fully_defined():
                raise ValueError("TensorArray has an unknown element shape and nothing was written to it: "
                                 "give element_shape=... when creating it")
            self._buffer = self._allocate(ShapedArray(tuple(self._element_shape), self._dtype._np))
        return self._buffer

    def stack(self, name=None) -> Tensor:
        """The elements stacked along a new first axis."""
        if self._items is not None:
            from .array import stack
            from .creation import zeros
            if not self._items:
                shape = () if self._element_shape is None else tuple(self._element_shape)
                return zeros((0,) + tuple(d or 0 for d in shape), self._dtype)
            return stack([self.read(i) for i in range(len(self._items))])
        from .array import identity
        return identity(self._traced_buffer())

    def gather(self, indices, name=None) -> Tensor:
        """The elements at `indices`, stacked."""
        if self._items is not None:
            from .array import stack
            return stack([self.read(int(i))
                          for i in np.asarray(convert_to_tensor(indices)._value).reshape(-1)])
        from .indexing import gather
        return gather(self._traced_buffer(), convert_to_tensor(indices, dtype=dtypes.int32))

    def unstack(self, value, name=None) -> "TensorArray":
        """A TensorArray holding the slices of `value` along its first axis."""
        value = convert_to_tensor(value, dtype=self._dtype)
        if self._items is not None:
            from .array import unstack
            return self._copy(items=list(unstack(value)))
        return self._copy(buffer=value)

    def scatter(self, indices, value, name=None) -> "TensorArray":
        """A TensorArray with elements `indices` set to the slices of `value`."""
        value = convert_to_tensor(value, dtype=self._dtype)
        indices = convert_to_tensor(indices, dtype=dtypes.int32)
        if self._items is not None:
            ta = self
            for k, i in enumerate(np.asarray(indices._value).reshape(-1)):
                ta = ta.write(int(i), value[k])
            return ta
        from .indexing import getitem
        ta = self
        for k in range(int(np.shape(indices._value)[0])):
            ta = ta.write(getitem(indices, key=(k,)), getitem(value, key=(k,)))
        return ta

    def concat(self, name=None) -> Tensor:
        """The elements joined along their first axis."""
        from .array import concat, reshape
        if self._items is not None:
            return concat([self.read(i) for i in range(len(self._items))], axis=0)
        buffer = self._traced_buffer()
        shape = buffer._value.shape
        return reshape(buffer, (-1,) + tuple(shape[2:]))

    def identity(self) -> "TensorArray":
        return self

    def mark_used(self) -> None:
        pass

    def close(self, name=None) -> None:
        pass

    def __repr__(self):
        return f"<TensorArray dtype={self._dtype.name} element_shape={self.element_shape}>"

    # -- as a value of a traced loop or cond (tapegrad.compiler.control_flow) ----------------------
    def _component(self):
        """The tensor that carries this TensorArray through a traced loop (None before its buffer)."""
        return self._buffer

    def _with_component(self, buffer) -> "TensorArray":
        return self._copy(buffer=buffer)


def _zeros(shape, dtype):
    from .array import broadcast_to
    return broadcast_to(Tensor(np.zeros((), dtype)), shape)
