"""Control flow: tf.cond, tf.case, tf.switch_case and tf.while_loop.

Eagerly they are Python control flow, so a GradientTape records the branch taken and the
iterations run: their gradients come with them.  While a tf.function traces and the
predicate (or loop) depends on a traced value, they become ops of the traced program
holding their functions as sub-programs (tapegrad.compiler.control_flow): both branches are
traced once, the loop body once, and the compiled program decides when it runs.
"""
from __future__ import annotations

from ..core.op import state
from ..core.nest import flatten, pack_sequence_as

__all__ = ["cond", "case", "switch_case", "while_loop"]


def _traced(value) -> bool:
    if state.graph is None:
        return False
    from ..compiler.control_flow import traced
    return traced(value)


def converted(fn):
    """`fn` as AutoGraph converts it while a tf.function traces with autograph on (TF converts the
    functions given to cond, while_loop, map_fn, ... too), else itself."""
    if state.graph is None:
        return fn
    from ..compiler.autograph import enabled_call
    return enabled_call(fn)


def _read(value):
    """A variable deciding a branch inside a traced function: its read when the program runs (a
    symbolic tensor), so the program decides with the value it holds then, as TF's graph does."""
    from .array import _read
    return _read(value)


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
    pred = _read(pred)
    if _traced(pred):
        from ..compiler.control_flow import cond as traced_cond
        return traced_cond(pred, converted(true_fn), converted(false_fn))
    return true_fn() if bool(pred) else false_fn()


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """The function of the first pair whose predicate holds (``default`` if none does).

    >>> import tapegrad as tf
    >>> x = tf.constant(3)
    >>> int(tf.case([(x < 0, lambda: tf.constant(-1)), (x > 2, lambda: tf.constant(1))],
    ...             default=lambda: tf.constant(0)))
    1
    """
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2 or not callable(pair[1]):
            raise TypeError(f"fn_pairs must be a list of (predicate, callable) pairs, got {pair!r}")
    pairs = [(_read(pred), fn) for pred, fn in pairs]
    if not pairs and default is None:
        raise ValueError("case(): give at least one (predicate, fn) pair or a default")
    if exclusive and len(pairs) > 1 and not _traced([p for p, _ in pairs]):
        held = sum(bool(p) for p, _ in pairs)
        if held > 1:
            from ..errors import InvalidArgumentError
            raise InvalidArgumentError(f"Input error: exclusive=True: more than 1 conditions ({held}) "
                                       f"evaluated as True")
    if default is None:  # TF: the last pair's function is the default when none is given
        *pairs, (_, default) = pairs
    result = default
    for pred, fn in reversed(pairs):
        result = _chain(pred, fn, result)
    return result() if callable(result) else result


def _chain(pred, fn, otherwise):
    return lambda: cond(pred, fn, otherwise if callable(otherwise) else (lambda: otherwise))


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """``branch_fns[branch_index]()`` (``default``, or the last function, for an index out of range).

    >>> import tapegrad as tf
    >>> int(tf.switch_case(tf.constant(1), [lambda: tf.constant(10), lambda: tf.constant(20)]))
    20
    """
    fns = sorted(branch_fns.items()) if isinstance(branch_fns, dict) else list(enumerate(branch_fns))
    if not fns:
        raise ValueError("switch_case(): branch_fns must not be empty")
    for _, fn in fns:
        if not callable(fn):
            raise TypeError(f"switch_case(): every branch must be callable, got {fn!r}")
    default = fns[-1][1] if default is None else default
    branch_index = _read(branch_index)
    if not _traced(branch_index):
        index = int(branch_index)
        for key, fn in fns:
            if key == index:
                return fn()
        return default()
    from .math import equal
    result = default
    for key, fn in reversed(fns):
        result = _chain(equal(branch_index, key), fn, result)
    return result()


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
    if state.graph is not None:
        from ..compiler.loops import while_loop as traced_while
        return traced_while(converted(cond), converted(body), loop_vars, shape_invariants, maximum_iterations)
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
