"""Gradient hooks: see, and replace, the gradient flowing into a recorded value during backward.

PyTorch's ``register_hook``; TensorFlow has no equivalent.  The tape calls the hooks of a
value once its cotangent is complete (``core/tape.py: backprop``).  Inside a traced
``tf.function`` a hook is a staged call: it runs on every call with that call's gradient.
"""
from __future__ import annotations

import weakref
from typing import Callable


from ..core.op import staged
from ..core.sparse import IndexedSlices
from ..core.source import format_site, user_site
from ..core.state import state
from ..core.tensor import Tensor, Variable, convert_to_tensor

__all__ = ["on_gradient", "GradientHook"]


class GradientHook:
    """What `on_gradient` returns: ``remove()`` takes the hook off again."""

    def __init__(self, tapes, tensor_id: int, fn):
        # weak: a handle kept around must not keep a tape (and all it recorded) alive
        self._tapes, self._id, self._fn = [weakref.ref(t) for t in tapes], tensor_id, fn

    def remove(self) -> None:
        """Take the hook off every tape it was put on (those still alive).

        >>> import tapegrad as tf
        >>> x = tf.constant(2.0)
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     h = x * x
        ...     handle = tape.on_gradient(h, lambda g: g * 0.0)
        ...     handle.remove()
        ...     y = h * 3.0
        >>> float(tape.gradient(y, x))
        12.0
        """
        for ref in self._tapes:
            tape = ref()
            if tape is None:
                continue
            fns = (tape._hooks or {}).get(self._id, [])
            if self._fn in fns:
                fns.remove(self._fn)
                if not fns:
                    del tape._hooks[self._id]

    def __repr__(self):
        return f"<GradientHook {getattr(self._fn, '__name__', self._fn)!s} on tensor #{self._id}>"


def on_gradient(tensor: Tensor, fn: Callable, tapes=None) -> GradientHook:
    """Call ``fn(gradient)`` when backward reaches `tensor`; a non-None result replaces the gradient.

    `tensor` is a value recorded by an active tape (an intermediate, a watched tensor, or a
    variable); the hook applies to every active tape that tracks it, in its `gradient` calls
    (``jacobian`` passes stacks of cotangents and does not call hooks).

    >>> import tapegrad as tf
    >>> x = tf.constant([1.0, -2.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     h = x * 3.0
    ...     seen = []
    ...     _ = tf.inspect.on_gradient(h, lambda g: seen.append(g.numpy()))
    ...     _ = tf.inspect.on_gradient(h, lambda g: g * 0.0 + 1.0)    # replace it: ones
    ...     y = tf.reduce_sum(h * h)
    >>> tape.gradient(y, x).numpy(), seen[0]
    (array([3., 3.], dtype=float32), array([  6., -12.], dtype=float32))
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"on_gradient needs a tf.Tensor or tf.Variable, got {type(tensor).__name__} "
                        f"(at {format_site(user_site())})")
    if not callable(fn):
        raise TypeError(f"on_gradient needs a callable, got {type(fn).__name__}")
    candidates = list(state.tapes) if tapes is None else list(tapes)
    if type(tensor) is Variable:
        chosen = candidates  # a variable is watched when it is read, possibly after this call
    else:
        chosen = [t for t in candidates if tensor._id and t._ids is not None and tensor._id in t._ids]
    if not chosen:
        where = "no GradientTape is recording" if not candidates else \
            "no active GradientTape recorded it (watch it, or compute it from watched values inside the tape)"
        raise ValueError(f"on_gradient: {where}, so no gradient will flow into this tensor "
                         f"(at {format_site(user_site())})")
    for tape in chosen:
        if tape._hooks is None:
            tape._hooks = {}
        tape._hooks.setdefault(tensor._id, []).append(fn)
    return GradientHook(chosen, tensor._id, fn)


def _call(fn, grad):
    """Run one hook; check what it returns against the gradient it replaces."""
    out = fn(grad)
    if out is None or out is grad or isinstance(out, IndexedSlices):
        return grad if out is None else out
    out = convert_to_tensor(out, dtype=grad.dtype)
    if out._value.shape != grad._value.shape:
        raise ValueError(f"gradient hook {getattr(fn, '__name__', fn)!s} returned shape "
                         f"{out._value.shape} for a gradient of shape {grad._value.shape}")
    return out


# While a tf.function traces, the hook is staged: the compiled program calls it every time,
# and tracing continues with a stand-in of the gradient's shape and dtype.
_staged_call = staged(trace_result=lambda fn, grad: grad)(_call)  # a new value of the type of grad


def call_hooks(fns, grad):
    """The gradient after every hook in `fns` (the tape calls this)."""
    for fn in list(fns):
        if state.graph is not None and isinstance(grad, IndexedSlices):
            grad = grad.__tapegrad_dense__()
        grad = _staged_call(fn, grad)
    return grad
