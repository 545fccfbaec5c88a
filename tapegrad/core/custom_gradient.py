"""custom_gradient: a function whose gradient is the one you write.

The function runs off the tapes; its outputs are recorded as one equation whose vjp
calls your ``grad_fn``.  Variables the function reads (and does not take as inputs)
become extra inputs: ``grad_fn`` then takes ``variables=`` and returns
``(input_grads, variable_grads)``, as in TensorFlow.

Inside a ``tf.function`` trace the function's ops are recorded by the graph (they run on
every call of the compiled program) and enclosed in one Region node, so that a replay
of the program under a tape calls the function again and gets its gradient.
"""
from __future__ import annotations

import functools
import inspect

from .op import Eqn, paused, state
from .source import user_site
from .tape import GradientTape
from .nest import flatten, pack_sequence_as
from .tensor import Tensor, Variable, convert_to_tensor, next_id


class _CustomOp:
    """The registry-shaped description of one custom_gradient call."""

    saves_inputs = True
    saves_out = True
    batch_vjp = False
    jvps = None
    cases = None
    nondiff_reason = None

    def __init__(self, name, vjps):
        self.name = name
        self.vjps = vjps


def custom_gradient(f=None):
    """Decorate ``f(*x) -> (y, grad_fn)`` so that gradients of y use ``grad_fn(*dy)``.

    >>> import tapegrad as tf
    >>> @tf.custom_gradient
    ... def log1pexp(x):
    ...     e = tf.exp(x)
    ...     return tf.math.log(1 + e), lambda dy: dy * (1 - 1 / (1 + e))
    >>> x = tf.constant(100.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = log1pexp(x)
    >>> float(tape.gradient(y, x))
    1.0
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        inputs = [a if isinstance(a, Tensor) else convert_to_tensor(a) for a in args]
        graph = state.graph
        start = len(graph.eqns) if graph is not None else 0
        watcher = GradientTape()  # only to learn which variables f reads
        with paused(keep_graph=True), watcher:
            y, grad_fn = f(*inputs, **kwargs)
            flat_y = [convert_to_tensor(t) for t in flatten(y)]
            # fresh outputs, as TF's identity wrap; a trace must record them (else they are constants)
            outs = [Tensor(t._value) for t in flat_y] if graph is None else [_identity(t) for t in flat_y]
        if graph is not None:
            graph.enclose(start, decorated, args, kwargs, outs, f"custom_gradient.{f.__name__}")
        variables = [v for v in watcher.watched_variables() if all(v is not i for i in inputs)]
        if variables and not _accepts_variables(grad_fn):
            raise TypeError("@tf.custom_gradient grad_fn must accept keyword argument 'variables', "
                            f"since function uses variables: {variables}")
        _record(f.__name__, inputs + variables, outs, grad_fn, len(inputs), variables)
        return pack_sequence_as(y, outs)

    return decorated


def _accepts_variables(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _record(name, inputs, outs, grad_fn, n_args, variables) -> None:
    # trainable variables among the inputs or read inside f count as accessed, as TF's reads do
    accessed = [v for v in inputs if type(v) is Variable and v._trainable] + \
        [v for v in variables if v._trainable]
    tapes = [t for t in state.tapes if any(i._id in t._ids for i in inputs) or
             (t._watch_accessed and accessed)]
    if not tapes and not state.accumulators:
        return
    cache = {}

    def all_grads(g):
        # the engine asks once per input for the same cotangent g: call grad_fn once for it
        if cache.get("g") is not g:
            upstream = g if isinstance(g, tuple) else (g,)
            upstream = [u if u is not None else _zeros_like(o) for u, o in zip(upstream, outs)]
            if variables:
                result = grad_fn(*upstream, variables=variables)
                input_grads, var_grads = result
                input_grads = list(flatten(input_grads)) if isinstance(input_grads, (list, tuple)) \
                    else [input_grads]
                var_grads = list(var_grads)
                if len(var_grads) != len(variables):
                    raise ValueError("Must return gradient for each variable from @custom_gradient grad_fn.")
            else:
                result = grad_fn(*upstream)
                input_grads = list(result) if isinstance(result, (list, tuple)) else [result]
                var_grads = []
            if len(input_grads) != n_args:
                raise ValueError(f"custom_gradient function expected to return {n_args} gradients, "
                                 f"but returned {len(input_grads)} instead.")
            cache["g"] = g
            cache["grads"] = [None if gr is None else convert_to_tensor(gr) for gr in input_grads + var_grads]
        return cache["grads"]

    vjps = tuple((lambda k: lambda g, out, *ins: all_grads(g)[k])(k) for k in range(len(inputs)))
    for out in outs:
        if not out._id:  # a trace gave its outputs ids already
            out._id = next_id()
    eqn = Eqn.make(_CustomOp(name, vjps), {}, tuple(i._id for i in inputs),
                   tuple(Tensor(i._value, i._id) if type(i) is Variable else i for i in inputs),
                   tuple(o._id for o in outs), outs[0] if len(outs) == 1 else tuple(outs), user_site(3))
    if state.accumulators:
        _push_tangents(vjps, inputs, outs)
    for tape in tapes:
        if tape._watch_accessed:
            for v in accessed:
                tape._watch_variable(v)
        tape._eqns.append(eqn)
        tape._ids.update(eqn.out_ids)


def _push_tangents(vjps, inputs, outs) -> None:
    """Forward mode through a custom gradient: tangents from grad_fn by transposition."""
    from .forward import _remove, transpose_vjp
    for acc in list(state.accumulators):
        ks = [k for k, i in enumerate(inputs) if i._id and i._id in acc._tangents]
        if not ks:
            continue
        _remove(state.accumulators, acc)
        try:
            jvps = transpose_vjp(vjps, ks, outs[0] if len(outs) == 1 else tuple(outs), inputs,
                                 [acc._tangents[inputs[k]._id] for k in ks], {}, outs=outs)
        finally:
            state.accumulators.append(acc)
        for o, t in zip(outs, jvps):
            if t is not None:
                acc._tangents[o._id] = t


def _zeros_like(t):
    from ..ops.creation import zeros_like
    return zeros_like(t)


def _identity(t):
    from ..ops.array import identity
    return identity(t)
