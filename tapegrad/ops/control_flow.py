"""Control flow: tf.cond and tf.while_loop.

Eagerly they are Python control flow, so a GradientTape records the branch taken and the
iterations run: their gradients come with them.  Inside tf.function the predicate's Python
value is a guard: the compiled program is specialised to the decisions taken, and
specialised again when a call decides otherwise (see tapegrad.function.graph.Guard).
"""
from __future__ import annotations

from ..core.tape import flatten, pack_sequence_as

__all__ = ["cond", "while_loop"]


def cond(pred, true_fn=None, false_fn=None, name=None):
    """``true_fn()`` if pred else ``false_fn()``.

    >>> import tapegrad as tf
    >>> x = tf.constant(2.0)
    >>> float(tf.cond(x > 1.0, lambda: x * 10.0, lambda: x))
    20.0
    """
    if true_fn is None or false_fn is None:
        raise TypeError("cond(): true_fn and false_fn are required (callables)")
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("cond(): true_fn and false_fn must be callable")
    return true_fn() if bool(pred) else false_fn()


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``; returns loop_vars' structure.

    >>> import tapegrad as tf
    >>> i, total = tf.while_loop(lambda i, t: i < 4, lambda i, t: (i + 1, t + i), [0, 0])
    >>> int(i), int(total)
    (4, 6)
    """
    if not callable(cond) or not callable(body):
        raise TypeError("while_loop(): cond and body must be callable")
    structure = loop_vars
    values = flatten(loop_vars)
    steps = 0
    while (maximum_iterations is None or steps < int(maximum_iterations)) and \
            bool(cond(*_unpacked(structure, values))):
        out = body(*_unpacked(structure, values))
        new = flatten(out if isinstance(out, (list, tuple, dict)) or len(values) != 1 else [out])
        if len(new) != len(values):
            raise ValueError(f"while_loop(): body returned {len(new)} values for {len(values)} loop_vars")
        for old, value in zip(values, new):
            old_shape, new_shape = getattr(old, "shape", None), getattr(value, "shape", None)
            if shape_invariants is None and old_shape is not None and new_shape is not None and \
                    tuple(old_shape) != tuple(new_shape):
                raise ValueError(f"A loop variable has shape {tuple(old_shape)} before the loop, but shape "
                                 f"{tuple(new_shape)} after one iteration. Use shape_invariants to allow "
                                 f"changing shapes.")
        values = new
        steps += 1
    return pack_sequence_as(structure, values)


def _unpacked(structure, values):
    packed = pack_sequence_as(structure, values)
    return packed if isinstance(packed, (list, tuple)) else (packed,)
