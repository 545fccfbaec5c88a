"""``tf.py_function`` and ``tf.numpy_function``: Python on a tensor's values, eagerly or staged.

Eagerly the function simply runs (a tape records the tf ops ``py_function``'s function applies,
so gradients flow through it, as TF's ``EagerPyFunc`` does). While a ``tf.function`` traces,
the call is *staged* (``core.op.staged``): a placeholder of the declared dtypes (shape unknown)
stands for each result and the compiled program makes the real call on every run. ``host_call``
is that mechanism for library code that works on values (string ops, image codecs).
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray
from ..core.op import paused
from ..core.state import state
from ..core.tensor import Tensor, convert_to_array, convert_to_tensor

__all__ = ["host_call", "numpy_function", "py_function"]


def _placeholder(dtype, shape) -> Tensor:
    return Tensor(ShapedArray(tuple(shape) if shape is not None else (), dtypes.as_dtype(dtype)._np))


def host_call(fn, args, out_types, name: str):
    """``fn(*args)`` now, or staged while a ``tf.function`` traces. `out_types` is a list of
    ``(dtype, shape)`` (shape dims may be None) for the tensors fn returns, or one pair for a
    single tensor.

    >>> from tapegrad.ops.script import host_call
    >>> import tapegrad as tf
    >>> host_call(lambda x: x + 1, [tf.constant(1)], (tf.int32, ()), "add_one").numpy()
    np.int32(2)
    """
    if state.graph is None:
        return fn(*args)
    single = isinstance(out_types, tuple) and not isinstance(out_types[0], tuple)

    def trace_result(*_a):
        if single:
            return _placeholder(*out_types)
        return [_placeholder(d, s) for d, s in out_types]

    graph = state.graph
    with paused():
        return graph.stage(fn, tuple(args), {}, trace_result, name)


def _tout_list(Tout):
    if Tout is None:
        return None, True
    if isinstance(Tout, (list, tuple)):
        return [dtypes.as_dtype(t) for t in Tout], False
    return [dtypes.as_dtype(Tout)], True


def _outputs(result, Tout, single, what: str):
    if Tout is None:
        return None
    values = [result] if single else list(result) if isinstance(result, (list, tuple)) else [result]
    if len(values) != len(Tout):
        raise ValueError(
            f"{what}: the function returned {len(values)} values but Tout lists {len(Tout)} dtypes"
        )
    out = []
    for v, t in zip(values, Tout):
        if isinstance(v, Tensor):
            if v.dtype != t:
                raise TypeError(f"{what}: expected return value of dtype {t.name}, got {v.dtype.name}")
            out.append(v)
        else:
            arr = np.asarray(v)
            if arr.dtype.kind not in "USO" and dtypes.as_dtype(arr.dtype) != t:
                raise TypeError(
                    f"{what}: expected return value of dtype {t.name}, got {arr.dtype.name} ({arr!r})"
                )
            out.append(Tensor(convert_to_array(arr, t)))
    return out[0] if single else out


def py_function(func=None, inp=None, Tout=None, name=None):
    """Run `func` on the tensors `inp` as Python (eagerly, also inside ``tf.function`` and
    ``Dataset.map``); its results become tensors of the dtypes `Tout` (a list, or one dtype).
    Differentiable when `func` computes with tf ops.

    >>> import tapegrad as tf
    >>> x = tf.Variable(3.0)
    >>> with tf.GradientTape() as tape:
    ...     y = tf.py_function(lambda v: v * v, [x], tf.float32)
    >>> float(y), float(tape.gradient(y, x))
    (9.0, 6.0)
    """
    if func is None:  # decorator form: @tf.py_function(Tout=tf.float32)
        return lambda f: lambda *args: py_function(f, list(args), Tout, name)
    tout, single = _tout_list(Tout)
    what = f"py_function({getattr(func, '__name__', 'func')})"
    inputs = [convert_to_tensor(x) for x in (inp or [])]

    def call(*tensors):
        return _outputs(func(*tensors), tout, single, what)

    return host_call(call, inputs, _out_types(tout, single, inputs), what)


def _out_types(tout, single, inputs):
    """Traced, a result's rank is taken as the first input's (TF's is unknown), every dim None."""
    shape = (None,) * (inputs[0]._value.ndim if inputs else 0)
    if tout is None:
        return []
    return (tout[0], shape) if single else [(t, shape) for t in tout]


def numpy_function(func=None, inp=None, Tout=None, stateful=True, name=None):
    """Run `func` on the NumPy values of `inp` (strings as bytes); its results become tensors of
    the dtypes `Tout`. Not differentiable, as TF's.

    >>> import numpy as np, tapegrad as tf
    >>> tf.numpy_function(lambda a: np.sort(a), [tf.constant([3, 1, 2])], tf.int32).numpy()
    array([1, 2, 3], dtype=int32)
    """
    if func is None:
        return lambda f: lambda *args: numpy_function(f, list(args), Tout, stateful, name)
    tout, single = _tout_list(Tout)
    what = f"numpy_function({getattr(func, '__name__', 'func')})"
    inputs = [convert_to_tensor(x) for x in (inp or [])]

    def call(*tensors):
        return _outputs(func(*[t.numpy() for t in tensors]), tout, single, what)

    return host_call(call, inputs, _out_types(tout, single, inputs), what)
