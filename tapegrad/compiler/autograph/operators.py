"""The runtime of converted code: each statement runs as Python, or stages tf.cond / tf.while_loop.

A condition (or an iterated value) that is a traced tensor - a value of the tf.function
being traced - stages the statement with the public ``tf.cond`` / ``tf.while_loop``
(tapegrad.ops.control_flow): both branches are traced once, a loop body once.  Anything
else (a Python bool, an eager tensor, a list) runs as plain Python, so a Python loop over
a list unrolls into the trace and a decision on a Python value is taken while tracing.

The state of a statement (the names it modifies that are live, transformer.py) goes
through ``get_state``/``set_state``: a branch or an iteration starts from ``set_state``
of its inputs and ends with ``get_state()``, whose values become the cond's outputs or the
next iteration's loop variables.  The checks and their messages are TensorFlow 2.21's.
"""
from __future__ import annotations

import sys

import numpy as np

from ...core.op import staged, state
from ...core.nest import describe_structure, flatten, same_structure
from ...core.tensor import Tensor, Variable, convert_to_tensor
from ...errors import InvalidArgumentError
from ..graph import SymbolicTensor
from .variables import Undefined, UndefinedReturnValue, is_undefined


def is_tensor(value) -> bool:
    """Is `value` a tensor of the program being traced (a condition that must be staged)?"""
    return state.graph is not None and (type(value) is SymbolicTensor or isinstance(value, Variable))


def set_loop_options(parallel_iterations=None, swap_memory=None, maximum_iterations=None,
                     shape_invariants=None):
    """Options of the enclosing loop when it becomes a tf.while_loop (TF's
    ``tf.autograph.experimental.set_loop_options``): ``shape_invariants`` is a list of
    ``(variable, shape)`` pairs, ``maximum_iterations`` a limit.  AutoGraph moves the call onto
    the loop when it converts the function; called at run time it does nothing.

    >>> import tapegrad as tf
    >>> @tf.function
    ... def grow(x):
    ...     while tf.shape(x)[0] < 8:
    ...         tf.autograph.experimental.set_loop_options(shape_invariants=[(x, tf.TensorShape([None]))])
    ...         x = tf.concat([x, x], 0)
    ...     return x
    >>> grow(tf.constant([1.0])).shape, grow(tf.constant([1.0, 2.0, 3.0])).shape
    (TensorShape([8]), TensorShape([12]))
    >>> tf.autograph.experimental.set_loop_options(maximum_iterations=3)  # outside a loop: nothing
    """
    del parallel_iterations, swap_memory, maximum_iterations, shape_invariants


# -- if ---------------------------------------------------------------------------------------

def if_stmt(cond, body, orelse, get_state, set_state, symbol_names, nouts):
    """``if cond: body() else: orelse()``; a traced cond is a tf.cond whose outputs are the first
    `nouts` state names (the others are restored: they are only read inside)."""
    if is_tensor(cond):
        _tf_if_stmt(cond, body, orelse, get_state, set_state, symbol_names, nouts)
    elif cond:
        body()
    else:
        orelse()


def _tf_if_stmt(cond, body, orelse, get_state, set_state, symbol_names, nouts):
    from ...ops.control_flow import cond as tf_cond
    cond = _verify_tf_condition(cond, "if statement")
    init_vars = tuple(get_state())
    branches = {}

    def branch(fn, which):
        def run():
            set_state(init_vars)
            fn()
            new = tuple(get_state())[:nouts]
            _verify_branch_vars(new, symbol_names, which)
            branches[which] = new
            return new
        return run

    try:
        final = tf_cond(cond, branch(body, "if"), branch(orelse, "else"))
    except (TypeError, ValueError):
        if "if" in branches and "else" in branches:
            _verify_cond_vars(branches["if"], branches["else"], symbol_names)
        raise
    set_state(tuple(final) + init_vars[nouts:])


def _verify_tf_condition(cond, tag):
    """The condition as a scalar bool tensor; TF's error for another dtype or shape."""
    hint = "to check for None, use `is not None`"
    if isinstance(cond, Variable):
        from ...ops.array import identity
        cond = identity(cond)
    if cond.dtype.name != "bool":
        raise ValueError(f"condition of {tag} expected to be `tf.bool` scalar, got {cond}; to use as boolean "
                         f"Tensor, use `tf.cast`; {hint}")
    shape = cond.shape
    if shape.rank:
        known = [d for d in shape if d is not None]
        if int(np.prod(known)) > 1:
            raise ValueError(f"condition of {tag} expected to be `tf.bool` scalar, got {cond}; {hint}")
        from ...ops.array import reshape
        cond = reshape(cond, ())
    return cond


def _verify_branch_vars(values, symbol_names, which):
    for name, value in zip(symbol_names, values):
        if type(value) is Undefined:
            raise ValueError(f"'{name}' must also be initialized in the {which} branch")
        if type(value) is UndefinedReturnValue:
            raise ValueError(f"the {which} branch must also have a return statement.")
        if value is None:
            raise ValueError(f"'{name}' is None at the end of the "
                             f"{'main' if which == 'if' else which} branch.")


def _verify_cond_vars(body_vars, orelse_vars, symbol_names):
    """TF's errors naming the symbol when the branches disagree (tf.cond's own error otherwise)."""
    for name, a, b in zip(symbol_names, body_vars, orelse_vars):
        if not same_structure(a, b):
            raise TypeError(f"'{name}' must have the same nested structure in the main and else branches:\n\n"
                            f"{describe_structure(a)}\n\nis not the same as\n\n{describe_structure(b)}")
        for x, y in zip(flatten(a), flatten(b)):
            x, y = _as_tensor(x), _as_tensor(y)
            if x is None or y is None:
                continue
            if x.dtype != y.dtype:
                raise TypeError(f"'{name}' has dtype {x.dtype.name} in the main branch, "
                                f"but dtype {y.dtype.name} in the else branch")
            if x.shape.rank != y.shape.rank:
                raise ValueError(f"'{name}' has shape {x.shape} in the main branch, but shape {y.shape} "
                                 f"in the else branch: a different rank")


# -- while --------------------------------------------------------------------------------------

def while_stmt(test, body, get_state, set_state, symbol_names, opts):
    """``while test(): body()``: a tf.while_loop if the first test is a traced tensor, else Python
    (whose remaining iterations are staged if the test becomes a tensor on the way)."""
    init_test = test()
    if is_tensor(init_test):
        _tf_while_stmt(test, body, get_state, set_state, symbol_names, opts)
        return
    if not init_test:
        return
    body()
    while True:
        again = test()
        if is_tensor(again):
            # TF 2.21 raises NotImplementedError here; the rest of the loop is staged instead
            _tf_while_stmt(test, body, get_state, set_state, symbol_names, opts)
            return
        if not again:
            return
        body()


def _tf_while_stmt(test, body, get_state, set_state, symbol_names, opts):
    from ...ops.control_flow import while_loop
    init_vars = tuple(get_state())
    # a loop of side effects only (variable updates): one dummy loop variable, as TF's cond
    if not init_vars:
        return _tf_while_stmt(test, body, _dummy_state, _DummySetter(set_state), ("<unused dummy>",), opts)
    by_id = {id(v): shape for v, shape in opts.get("shape_invariants", ())}
    invariants = [_as_shape(by_id.get(id(v))) for v in init_vars]
    nulls = [v is None or is_undefined(v) for v in init_vars]
    undefined = [v for v, null in zip(init_vars, nulls) if null]
    once = any(nulls)
    if once:
        init_vars, extra = _handle_undefined(body, get_state, set_state, init_vars, nulls, invariants,
                                             symbol_names)
        invariants = [inv if inv is not None else e for inv, e in zip(invariants, extra)]
    else:
        _verify_loop_init_vars(init_vars, symbol_names)
    for name, value, invariant in zip(symbol_names, init_vars, invariants):
        value = _as_tensor(value)
        if invariant is not None and value is not None and not _is_subshape(value.shape, invariant):
            raise ValueError(f"'{name}' has shape {value.shape} before the loop, which does not conform "
                             f"with the shape invariant {invariant}.")

    def aug_test(*loop_vars):
        set_state(loop_vars[1:] if once else loop_vars)
        return _verify_tf_condition(test(), "while loop")

    def aug_body(*loop_vars):
        loop_vars = loop_vars[1:] if once else loop_vars
        set_state(loop_vars)
        body()
        new = tuple(get_state())
        _verify_tf_loop_vars(init_vars, loop_vars, new, symbol_names, invariants)
        return (True,) + new if once else new

    loop_vars = ((False,) + init_vars) if once else init_vars
    kwargs = {}
    flat_invariants = _flat_invariants(([None] if once else []) + invariants,
                                       ((False,) if once else ()) + init_vars)
    if any(i is not None for i in flat_invariants):
        kwargs["shape_invariants"] = flat_invariants
    if opts.get("maximum_iterations") is not None:
        kwargs["maximum_iterations"] = opts["maximum_iterations"]
    final = tuple(while_loop(aug_test, aug_body, loop_vars, **kwargs))
    if once:
        names = ", ".join("the function return value" if type(v) is UndefinedReturnValue else n
                          for n, v in zip([n for n, null in zip(symbol_names, nulls) if null], undefined))
        _assert_that(final[0], f"loop must iterate at least once to initialize {names}")
        final = final[1:]
    set_state(final)


def _dummy_state():
    return (0,)


class _DummySetter:
    __slots__ = ("set_state",)

    def __init__(self, set_state):
        self.set_state = set_state

    def __call__(self, values):
        self.set_state(tuple(values[1:]))


class _Invariant:
    """A shape invariant passed to tf.while_loop as one leaf (TensorShape is a tuple: flatten would
    take it apart); as_shape() reads its dims."""

    __slots__ = ("dims",)

    def __init__(self, shape):
        self.dims = tuple(shape)

    def __iter__(self):
        return iter(self.dims)

    def __len__(self):
        return len(self.dims)


def _flat_invariants(invariants, values) -> list:
    """One invariant per tensor leaf of the loop variables (a nested variable's leaves get none)."""
    out = []
    for inv, v in zip(invariants, values):
        leaves = flatten(v)
        if inv is not None and len(leaves) == 1 and not isinstance(v, (list, tuple, dict)):
            out.append(_Invariant(inv))
        else:
            out += [None] * len(leaves)
    return out


def _as_shape(shape):
    if shape is None:
        return None
    from ...core.shape import as_shape
    return as_shape(shape)


def _handle_undefined(body, get_state, set_state, init_vars, nulls, invariants, symbol_names):
    """TF's best effort for a loop variable undefined before the loop: trace one iteration into a
    scratch program to learn its type, and start it as zeros of that type (the loop must then
    run at least once: checked when it runs).  Raises TF's error when that fails."""
    from ..control_flow import trace_subgraph
    first = []

    def one_iteration():
        graph = state.graph
        set_state(tuple(_placeholder_of(graph, v, k) for k, v in enumerate(init_vars)))
        body()
        first.append(tuple(get_state()))
        return ()

    failure = None
    try:
        trace_subgraph(state.graph, one_iteration, (), "while_first_iteration", "the loop body")
    except (UnboundLocalError, TypeError, ValueError, KeyError) as e:
        failure = f"Note: AutoGraph tried to define it automatically, but ran into a {type(e).__name__}: {e}"
    finally:
        set_state(init_vars)
    if failure is not None or not first:
        _verify_loop_init_vars(init_vars, symbol_names, extra_message=failure)
    first_vars = first[0]
    values, extra = [], []
    for v, null, like, inv in zip(init_vars, nulls, first_vars, invariants):
        if null:
            value, invariant = _placeholder_value(like, inv, v)
        else:
            value, invariant = v, None
        values.append(value)
        extra.append(invariant)
    _verify_loop_init_vars(values, symbol_names, first_vars)
    return tuple(values), extra


def _placeholder_of(graph, v, k):
    """A Python number as a placeholder of its type: the staged iteration must not use its value."""
    if isinstance(v, (bool, int, float, np.ndarray, np.generic)) and not isinstance(v, Tensor):
        t = convert_to_tensor(v)
        return graph.placeholder(t._value.shape, t._value.dtype, f"init_{k}")
    return v


def _placeholder_value(like, invariant, original):
    """Zeros of the type `like` (a first iteration's value) has; a None dim starts at 0 and stays None."""
    if like is None or is_undefined(like):
        return original, None
    if isinstance(like, (bool, int, float)) and not isinstance(like, Tensor):
        return type(like)(0), None
    if isinstance(like, Tensor):
        from ...ops.creation import zeros
        shape = like.shape
        target = invariant if invariant is not None else shape
        dims = [d if d is not None else (t if t is not None else 0) for d, t in zip(shape, target)]
        dynamic = any(d is None for d in shape)
        return zeros(dims, like.dtype), (target if dynamic else None)
    return original, None


def _verify_loop_init_vars(init_vars, symbol_names, first_iter_vars=None, extra_message=None):
    if first_iter_vars is None:
        first_iter_vars = (None,) * len(init_vars)
    for name, value, first in zip(symbol_names, init_vars, first_iter_vars):
        if type(value) is UndefinedReturnValue:
            if first is not None and not is_undefined(first):
                raise ValueError(f"the return value from a TensorFlow loop may only be a tensor or a "
                                 f"Python number; got {type(first)}")
            raise NotImplementedError("a return statement cannot be placed inside this TensorFlow loop; "
                                      "this may happen if a return statement depends on a static Python "
                                      "condition such as a hyperparameter")
        message = None
        if value is None:
            message = f"'{name}' is not allowed to be None before the loop"
        elif type(value) is Undefined:
            message = f"'{name}' must be defined before the loop"
        if message is not None:
            if extra_message:
                message = f"{message}; {extra_message}"
            raise ValueError(message)


def _verify_tf_loop_vars(init_vars, entry_vars, exit_vars, symbol_names, invariants):
    for name, init, entry, exit_, invariant in zip(symbol_names, init_vars, entry_vars, exit_vars,
                                                   invariants):
        if not same_structure(entry, exit_):
            raise TypeError(f"'{name}' does not have the same nested structure after one iteration.\n\n"
                            f"{describe_structure(entry)}\n\nis not the same as\n\n"
                            f"{describe_structure(exit_)}")
        single = not isinstance(entry, (list, tuple, dict))
        for i, e, x in zip(flatten(init), flatten(entry), flatten(exit_)):
            _verify_single_loop_var(name, i, e, x, invariant if single else None)


def _verify_single_loop_var(name, init, entry, exit_, invariant):
    if exit_ is None:
        raise ValueError(f"'{name}' is None at the end of the iteration.")
    if type(exit_) is Undefined:
        raise ValueError(f"'{name}' must be defined before the loop")
    init, entry, exit_ = _as_tensor(init), _as_tensor(entry), _as_tensor(exit_)
    if entry is None or exit_ is None:
        return
    if entry.dtype != exit_.dtype:
        raise TypeError(f"'{name}' has dtype {entry.dtype.name} before the loop, "
                        f"but dtype {exit_.dtype.name} after one iteration")
    if invariant is None:
        if not _is_subshape(exit_.shape, entry.shape):
            raise ValueError(f"'{name}' has shape {entry.shape} before the loop, but shape {exit_.shape} "
                             f"after one iteration. Use tf.autograph.experimental.set_loop_options to set "
                             f"shape invariants.")
        return
    if init is not None and not _is_subshape(init.shape, invariant):
        raise ValueError(f"'{name}' has shape {init.shape} before the loop, which does not conform with the "
                         f"shape invariant {invariant}.")
    if not _is_subshape(exit_.shape, invariant):
        raise ValueError(f"'{name}' has shape {exit_.shape} after one iteration, which does not conform "
                         f"with the shape invariant {invariant}.")


def _is_subshape(left, right) -> bool:
    """Is `left` at least as specific as `right` (TF's _is_subshape)?"""
    if right.rank is None:
        return True
    if left.rank != right.rank:
        return False
    return all(r is None or d == r for d, r in zip(left, right))


def _as_tensor(v):
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (bool, int, float, np.ndarray, np.generic)):
        return convert_to_tensor(v)
    return None


# -- for ----------------------------------------------------------------------------------------------

def for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names, opts):
    """``for target in iter_: body(target)`` while ``extra_test()`` (a lowered break or return) holds.

    A traced tensor (or enumerate/zip of traced tensors) is iterated by a tf.while_loop over
    its first dimension; anything else (a list, a range, a dataset, an eager tensor) in Python.
    """
    from .py_builtins import sequence
    if state.graph is not None and _is_dataset(iter_):
        _dataset_for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names)
        return
    seq = sequence(iter_)
    if seq is not None:
        _tf_for_stmt(seq, extra_test, body, get_state, set_state, symbol_names, opts)
    else:
        _py_for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names)


def _is_dataset(value) -> bool:
    module = sys.modules.get("tapegrad.data.dataset")  # loaded whenever a Dataset exists
    return module is not None and isinstance(value, module.Dataset)


def _dataset_for_stmt(dataset, extra_test, body, get_state, set_state, symbol_names):
    """``for element in dataset`` while tracing: one loop equation iterating the dataset when the
    program runs (TF's dataset reduce), its body traced once."""
    from ..loops import dataset_loop
    init_vars = tuple(get_state())
    _verify_loop_init_vars(init_vars, symbol_names)

    def loop_body(element, *values):
        set_state(values)
        body(element)
        new = tuple(get_state())
        _verify_tf_loop_vars(init_vars, values, new, symbol_names, [None] * len(values))
        return new

    def test(*values):
        set_state(values)
        return extra_test()

    set_state(tuple(dataset_loop(dataset, loop_body, init_vars, None if extra_test is None else test)))


def _tf_for_stmt(seq, extra_test, body, get_state, set_state, symbol_names, opts):
    from ...ops.math import logical_and
    n = seq.length()
    iterate_index = 0

    def aug_get_state():
        return (iterate_index,) + tuple(get_state())

    def aug_set_state(values):
        nonlocal iterate_index
        iterate_index = values[0]
        set_state(tuple(values[1:]))

    def aug_body():
        nonlocal iterate_index
        body(seq.item(iterate_index))
        iterate_index = iterate_index + 1

    def aug_test():
        more = iterate_index < n
        if extra_test is not None:
            return logical_and(more, extra_test())
        return more

    _tf_while_stmt(aug_test, aug_body, aug_get_state, aug_set_state,
                   ("<internal iterate>",) + tuple(symbol_names), opts)


def _py_for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names):
    if extra_test is None:
        for target in iter_:
            body(target)
        return
    items = iter(iter_)
    guard = extra_test()
    while True:
        staged_guard = is_tensor(guard)
        if not staged_guard and not guard:
            return
        try:
            target = next(items)
        except StopIteration:
            return
        if staged_guard:
            # a break (or return) decided by a traced tensor in a Python loop: each remaining
            # iteration runs under a tf.cond of it (TF 2.21 raises NotImplementedError here)
            _tf_if_stmt(guard, _Bound(body, target), _no_op, get_state, set_state, symbol_names,
                        len(symbol_names))
        else:
            body(target)
        guard = extra_test()


class _Bound:
    __slots__ = ("arg", "fn")

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __call__(self):
        self.fn(self.arg)


def _no_op():
    pass


# -- expressions -------------------------------------------------------------------------------

def if_exp(cond, if_true, if_false, expr_repr):
    """``if_true() if cond else if_false()``; a tf.cond for a traced condition."""
    if is_tensor(cond):
        from ...ops.control_flow import cond as tf_cond
        return tf_cond(_verify_tf_condition(cond, f"if expression ({expr_repr})"), if_true, if_false)
    return if_true() if cond else if_false()


def and_(a, b):
    """``a() and b()``, lazily: for a traced a, ``tf.cond(a, b, lambda: a)``."""
    a_val = a()
    if is_tensor(a_val):
        from ...ops.control_flow import cond as tf_cond
        return tf_cond(a_val, b, lambda: a_val)
    return a_val and b()


def or_(a, b):
    """``a() or b()``, lazily: for a traced a, ``tf.cond(a, lambda: a, b)``."""
    a_val = a()
    if is_tensor(a_val):
        from ...ops.control_flow import cond as tf_cond
        return tf_cond(a_val, lambda: a_val, b)
    return a_val or b()


def not_(a):
    if is_tensor(a):
        from ...ops.math import logical_not
        return logical_not(a)
    return not a


def assert_stmt(expression1, expression2):
    """``assert expression1, expression2()``: a traced condition is checked when the program runs
    (TF's tf.debugging.Assert: InvalidArgumentError "assertion failed: [message]")."""
    if is_tensor(expression1):
        data = expression2()
        data = (["Assertion error"] if data is None
                else list(data) if isinstance(data, (list, tuple)) else [data])
        _assert_that(expression1, *data)
        return
    if __debug__ and not expression1:
        message = expression2()
        raise AssertionError() if message is None else AssertionError(message)
    return


def _text(value) -> str:
    if isinstance(value, Tensor):
        return np.array2string(np.asarray(value._value), separator=" ")
    return str(value)


@staged()
def _assert_that(condition, *data):
    """Raise InvalidArgumentError unless every element of `condition` holds (staged: at run time)."""
    if not bool(np.all(np.asarray(condition._value if isinstance(condition, Tensor) else condition))):
        raise InvalidArgumentError("assertion failed: " + " ".join(f"[{_text(d)}]" for d in data))
