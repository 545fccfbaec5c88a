"""``tf.debugging.enable_check_numerics``: the first op that makes a NaN or an Inf raises, naming it.

Once enabled (in this thread, as TensorFlow), every op's output is checked as it is made:
eagerly, in the user's code, in gradient rules while ``tape.gradient`` runs (each rule is
written in tapegrad ops, so its ops are checked, and the error names the op whose
gradient it was computing), and in a ``tf.function``.  A compiled function runs a
*checking variant* of its program while checking is on: the same traced graph generated
again with a check after each op statement (and without in-place buffer reuse, so the
inputs can still be described).  Enabling or disabling therefore never retraces: the
variant is made on the first checked call and kept.  A function traced while checking
is on also knows which of its nodes compute a gradient, and says whose.

Checking costs nothing while it is off: the flag is folded into the one test the eager
path already makes (``core.op.state.active``).

>>> import tapegrad as tf
>>> tf.debugging.enable_check_numerics()
>>> x = tf.constant([1.0, float("nan")])  # a NaN in the data
>>> y = tf.reduce_sum(x * 2.0)
Traceback (most recent call last):
...
tapegrad.errors.InvalidArgumentError: check_numerics: multiply made 1 NaN (of 2 elements) in its output float32[2]
  at <doctest ...>:1 (in <module>)
  input #0: float32[2], min 1, max 1, already had 1 NaN
  input #1: float32[], min 2, max 2, all finite
>>> tf.debugging.disable_check_numerics()
"""
from __future__ import annotations

import sys
import weakref

import numpy as np

from ..core.op import state
from ..core.source import format_site, user_site
from ..core.tape import backprop
from ..errors import InvalidArgumentError

__all__ = ["disable_check_numerics", "enable_check_numerics"]


def enable_check_numerics(stack_height_limit: int = 30, path_length_limit: int = 50) -> None:
    """Check every op's output for NaN and Inf from now on, in this thread (TF's limits are accepted
    and unused: the error names the op and the user's line directly).

    >>> import tapegrad as tf
    >>> tf.debugging.enable_check_numerics()
    >>> float(tf.sqrt(tf.constant(4.0)))
    2.0
    >>> tf.debugging.disable_check_numerics()
    """
    state.numerics = _checker
    state.active = True


def disable_check_numerics() -> None:
    """Stop checking op outputs (in this thread); a no-op when checking is off.

    >>> import tapegrad as tf
    >>> tf.debugging.disable_check_numerics()
    """
    state.numerics = None
    state.refresh()


def _finite(array) -> bool:
    return array.dtype.kind not in "fc" or bool(np.isfinite(array).all())


def _bad_counts(array) -> str:
    """'1 NaN, 2 +Inf' of a float array."""
    counts = (("NaN", np.isnan(array)), ("+Inf", np.isposinf(array)), ("-Inf", np.isneginf(array))) \
        if array.dtype.kind == "f" else (("NaN or Inf", ~np.isfinite(array)),)
    return ", ".join(f"{int(mask.sum())} {what}" for what, mask in counts if mask.any())


def _describe(array) -> str:
    """dtype[shape], the range of its finite values, and whether it already held NaN or Inf."""
    array = np.asarray(array)
    text = f"{array.dtype.name}{list(array.shape)}"
    if array.size == 0 or array.dtype.kind not in "biufc":
        return text
    values = array[np.isfinite(array)] if array.dtype.kind in "fc" else array
    if values.size and array.dtype.kind != "c":
        text += f", min {values.min():.6g}, max {values.max():.6g}"
    return text + (", all finite" if _finite(array) else f", already had {_bad_counts(array)}")


def report(op_name: str, out, inputs, where: str, names=None, gradient_of: str | None = None) -> str:
    """The error text: the op, what it made, where, each input's type and range, whose gradient."""
    out = np.asarray(out)
    n = out.size
    lines = [f"check_numerics: {op_name} made {_bad_counts(out)} (of {n} element{'s' * (n != 1)}) in its "
             f"output {out.dtype.name}{list(out.shape)}"]
    if gradient_of:
        lines.append(f"  while computing the gradient of {gradient_of}")
    lines.append(f"  at {where}")
    for k, array in enumerate(inputs):
        label = f"input #{k}" + (f" {names[k]}" if names else "")
        lines.append(f"  {label}: {_describe(array)}")
    return "\n".join(lines)


def _gradient_context() -> str | None:
    """Whose gradient the running op computes: read from the backward engine's frame, if any.

    Only on the error path (and while tracing with checks on): it costs the eager path nothing.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is backprop.__code__:
            f_locals = frame.f_locals
            op, site, k = f_locals.get("op"), f_locals.get("site"), f_locals.get("k")
            if op is None:
                return None
            return f"{op.name}" + (f" (for its input #{k})" if k is not None else "") + \
                f", recorded at {format_site(site)}"
        frame = frame.f_back
    return None


class _Checker:
    """What ``state.numerics`` holds while checking is on: called with every op's output."""

    def __call__(self, op, tensors, out) -> None:
        value = out._value
        if state.graph is not None:  # tracing: the graph remembers whose gradient this equation computes
            context = _gradient_context()
            if context is not None:
                state.graph.__dict__.setdefault("_gradient_contexts", {})[out._id] = context
            return  # no value yet: the compiled program checks it (see `compiled`)
        if not _finite(value):
            raise InvalidArgumentError(report(op.name, value, [t._value for t in tensors],
                                              format_site(user_site()), gradient_of=_gradient_context()))

    def compiled(self, graph):
        """The checking variant of a traced program (made once per trace, then kept with it)."""
        from ..compiler.codegen import compile_graph
        check = _CompiledCheck(graph)
        program, _, check.checked = compile_graph(graph, checker=check)
        return program


class _CompiledCheck:
    """Called by a checking program after each op statement: ``check(index, output, *inputs)``,
    the index into `checked`, the (program, equation) pairs in the order the source checks them.

    Holds the programs weakly: the trace holds the compiled function that holds this.
    """

    __slots__ = ("graph", "checked")

    def __init__(self, graph):
        self.graph = weakref.ref(graph)
        self.checked = []

    def __call__(self, n: int, out, *inputs) -> None:
        if _finite(np.asarray(out)):
            return
        graph, eqn = self.checked[n]
        root = self.graph()
        gradient_of = getattr(root, "_gradient_contexts", {}).get(eqn.out_ids[0]) or \
            getattr(graph, "_gradient_contexts", {}).get(eqn.out_ids[0])
        raise InvalidArgumentError(report(
            eqn.op.name, out, inputs, f"{format_site(eqn.site)}, in tf.function {root.name}",
            names=[graph.names[i] for i in eqn.in_ids], gradient_of=gradient_of))


_checker = _Checker()
