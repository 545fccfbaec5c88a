"""``cond`` as an op of a traced program holding its branches as sub-programs, and what loops share.

Eagerly, ``tf.cond`` and ``tf.while_loop`` are Python control flow (ops/control_flow.py).
While a function traces and the predicate or the loop depends on a traced value, they
trace their functions into sub-programs instead - both branches of a cond, a loop's
condition and body (loops.py), once each - and record one equation (JAX's ``cond`` and
``while``):

    cond[branches] pred x w        the branches read the equation's inputs after pred
    while[cond, body] i x w        loop variables first, then what the sub-programs capture

A value of the enclosing program used inside becomes an input of the equation, so the
sub-programs are closed.  Generated code runs them as Python ``if`` and ``while`` blocks.

Gradients compile too.  A cond's vjp is a cond of its branches' vjps (so it differentiates
again); a loop's is a loop (loops.py).  Both are written with tapegrad's own ops, traced
like any gradient rule, so second order works.
"""
from __future__ import annotations

import numpy as np

from ..core.aval import ShapedArray, public_shape
from ..core.op import state
from ..core.tape import GradientTape, UnconnectedGradients
from ..core.nest import describe_structure, flatten, pack_sequence_as
from ..core.tensor import Tensor, Variable, convert_to_tensor
from .graph import Graph, SymbolicTensor
from .interpret import run_graph


class _Tracing:
    """Record into sub-program `graph`; the enclosing tapes and accumulators do not see it."""

    __slots__ = ("graph", "_saved")

    def __init__(self, graph):
        self.graph = graph

    def __enter__(self):
        self._saved = state.tapes[:], state.accumulators[:], state.shadows[:], state.graph
        state.tapes[:], state.accumulators[:], state.shadows[:] = [], [], []
        state.graph, state.active = self.graph, True

    def __exit__(self, *exc):
        state.tapes[:], state.accumulators[:], state.shadows[:], state.graph = self._saved
        state.refresh()


def traced(value) -> bool:
    """Is `value` (or a tensor in it) a value of a program being traced?  A variable is (its value
    is read when the program runs)."""
    return state.graph is not None and any(type(t) is SymbolicTensor or isinstance(t, Variable)
                                           for t in flatten(value))


def _as_output(graph, value, what):
    """A sub-program's result leaf as a tensor of the sub-program (a Python number becomes one)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float, np.ndarray, np.generic)):
        return convert_to_tensor(value)
    raise TypeError(f"{what} returned {value!r} ({type(value).__name__}): a traced branch or loop body must "
                    f"return tensors (or Python numbers)")


def trace_subgraph(parent, fn, args, name, what):
    """Trace ``fn(*args)`` into a new sub-program of `parent`; `args` are placeholders' (shape, dtype,
    name), or None for none.  Returns the sub-program and the structure fn returned."""
    sub = Graph(name, parent)
    placeholders = [sub.placeholder(shape, dtype, label) for shape, dtype, label in args]
    with _Tracing(sub):
        result = fn(*placeholders)
        leaves = [_as_output(sub, v, what) for v in flatten(result)]
        sub.outputs = [sub.use(t) if not isinstance(t, Variable) else sub.use(_read(t)) for t in leaves]
    return sub, result


def _read(var):
    from .graph import read_variable
    return read_variable(var)


def _unify_inputs(graph, subs, firsts) -> list:
    """Give the sub-programs one list of captures: each keeps its own first inputs (`firsts`: how
    many, per sub-program, or one number for all), then takes every value of `graph` any of them
    captured (a placeholder where one does not use it).  Returns the captured outer ids."""
    firsts = firsts if isinstance(firsts, (list, tuple)) else [firsts] * len(subs)
    outer = []
    for sub in subs:
        outer += [o for o in sub.captures if o not in outer]
    for sub, first in zip(subs, firsts):
        own = sub.inputs[:first]
        for o in outer:
            inner = sub.captures.get(o)
            if inner is None:
                inner = sub.placeholder(graph.avals[o].shape, graph.avals[o].dtype,
                                        graph.names[o] + "_unused")._id
                sub.inputs.remove(inner)
                sub.captures[o] = inner
            own.append(inner)
        sub.inputs = own
    return outer


def _joined(a: ShapedArray, b: ShapedArray, ga, gb) -> ShapedArray:
    """The type of a value that is a (of sub-program ga) or b (of gb), outside them: a dim both
    give alike as the enclosing program knows it stays, others are None."""
    dims = []
    for d, e in zip(a.shape, b.shape):
        d, e = ga.outer_size(d), gb.outer_size(e)
        dims.append(d if d is not None and d == e else None)
    return ShapedArray(tuple(dims), a.dtype)


class _CachedVjp:
    """Per-input vjp rules of one control-flow equation: the engine asks once per input, with the
    same cotangents; the whole backward is built once for them."""

    __slots__ = ("op", "last")

    def __init__(self, op):
        self.op, self.last = op, None

    def __getitem__(self, k):
        return lambda g, out, *inputs, **params: self._all(g, out, inputs, params)[k]

    def _all(self, g, out, inputs, params):
        if self.last is None or self.last[0] is not g:
            self.last = (g, self.op.backward(g if isinstance(g, tuple) else (g,),
                                             out if isinstance(out, tuple) else (out,), inputs, **params))
        return self.last[1]


class _ControlFlow:
    """What the tape and the compiler ask of a control-flow op (see core.op.Op)."""

    saves_inputs = saves_out = True
    batch_vjp = False
    jvps = None
    nondiff_reason = None
    stateful = False
    n_in = -1

    def __init__(self):
        self.vjps = _CachedVjp(self)

    def __repr__(self):
        return f"<op {self.name}>"


# -- cond ------------------------------------------------------------------------------------

class Cond(_ControlFlow):
    name = "cond"

    def abstract(self, avals, params):
        true, false = params["branches"]["true"], params["branches"]["false"]
        return tuple(_joined(true.avals[a], false.avals[b], true, false)
                     for a, b in zip(true.outputs, false.outputs))

    def write(self, w, graph, eqn, indent):
        w.emit(indent, f"if {w.ref(graph, eqn.in_ids[0])}:", eqn.site)
        _write_branch(w, graph, eqn, eqn.params["branches"]["true"], indent + "    ")
        w.emit(indent, "else:")
        _write_branch(w, graph, eqn, eqn.params["branches"]["false"], indent + "    ")

    def interpret(self, eqn, ins, variables):
        branches = eqn.params["branches"]
        caps = ins[1:]
        from ..ops.control_flow import cond as public
        return flatten(public(ins[0], lambda: run_graph(branches["true"], caps, variables),
                              lambda: run_graph(branches["false"], caps, variables)))

    def backward(self, g, out, inputs, branches):
        """Cotangents of the inputs: a cond of the branches' vjps (recomputing what they need)."""
        pred, caps = inputs[0], inputs[1:]
        wanted = [k for k, c in enumerate(caps) if c._value.dtype.kind in "fc"]
        seeds = [_seed(gk, o) for gk, o in zip(g, out)]
        if not wanted:
            return [None] * len(inputs)
        from ..ops.control_flow import cond as public
        grads = public(pred, lambda: _vjp_of(branches["true"], caps, seeds, wanted),
                       lambda: _vjp_of(branches["false"], caps, seeds, wanted))
        result = [None] * len(inputs)
        for k, grad in zip(wanted, flatten(grads)):
            result[1 + k] = grad
        return result


def _write_branch(w, graph, eqn, branch, indent):
    w.bind_inputs(branch, [w.ref(graph, outer) for outer in eqn.in_ids[1:]], indent)
    w.body(branch, indent)
    outs = [w.local[o] for o in eqn.out_ids]
    w.emit(indent, f"{', '.join(outs)}, = ({''.join(w.ref(branch, o) + ', ' for o in branch.outputs)})"
           if outs else "pass")


def _seed(g, out):
    """A cotangent as a dense tensor (zeros for None; a gather's IndexedSlices densified)."""
    if g is None:
        return _zeros(out) if out._value.dtype.kind in "fc" else None
    return g.__tapegrad_dense__() if hasattr(g, "__tapegrad_dense__") else g


def _vjp_of(graph, inputs, seeds, wanted) -> list:
    """d(outputs . seeds)/d inputs[k] for k in `wanted`, by running `graph` again under a tape."""
    from ..ops.array import identity
    xs = [identity(inputs[k]) for k in wanted]  # fresh values to watch (an input may appear twice)
    args = list(inputs)
    for k, x in zip(wanted, xs):
        args[k] = x
    with GradientTape() as tape:
        tape.watch(xs)
        outs = run_graph(graph, args)
    pairs = [(o, s) for o, s in zip(outs, seeds) if s is not None and o._value.dtype.kind in "fc"]
    if not pairs:
        return [_zeros(x) for x in xs]
    grads = tape.gradient([o for o, _ in pairs], xs, output_gradients=[s for _, s in pairs],
                          unconnected_gradients=UnconnectedGradients.ZERO)
    # a sub-program returns dense tensors (a gather's gradient is IndexedSlices)
    return [g.__tapegrad_dense__() if hasattr(g, "__tapegrad_dense__") else g for g in grads]


_COND_STRUCTURE = ("true_fn and false_fn arguments to tf.cond must have the same number, type, and overall "
                   "structure of return values.")


def cond(pred, true_fn, false_fn):
    """``true_fn()`` or ``false_fn()`` by a traced predicate: both traced, one cond equation."""
    graph = state.graph
    pred = convert_to_tensor(pred)
    if pred.dtype.name != "bool" or pred.ndim != 0:
        raise ValueError(f"tf.cond's predicate must be a scalar bool tensor, got {pred.dtype.name} of shape "
                         f"{pred.shape}")
    true, true_result = trace_subgraph(graph, true_fn, (), "cond_true", "true_fn")
    false, false_result = trace_subgraph(graph, false_fn, (), "cond_false", "false_fn")
    _same_structure(true_result, false_result, true, false)
    outer = _unify_inputs(graph, (true, false), 0)
    op = Cond()
    outs = graph.apply(op, [pred] + [graph.tensor(o) for o in outer],
                       {"branches": {"true": true, "false": false}})
    outs = [outs] if isinstance(outs, Tensor) else list(outs)
    return _packed(true_result, outs)


def _same_structure(a, b, ga, gb) -> None:
    fa, fb = flatten(a), flatten(b)
    try:
        pack_sequence_as(a, fb)
        same = len(fa) == len(fb)
    except (TypeError, ValueError, StopIteration):
        same = False
    if not same:
        raise ValueError(f"{_COND_STRUCTURE} true_fn returned {describe_structure(a)}, "
                         f"false_fn returned {describe_structure(b)}.")
    for k, (oa, ob) in enumerate(zip(ga.outputs, gb.outputs)):
        ta, tb = ga.avals[oa], gb.avals[ob]
        if ta.dtype != tb.dtype:
            raise TypeError(f"{_COND_STRUCTURE} Output {k} is {ta.dtype.name} in true_fn but {tb.dtype.name} "
                            f"in false_fn.")
        if ta.ndim != tb.ndim:
            raise ValueError(f"{_COND_STRUCTURE} Output {k} has shape {public_shape(ta.shape)} in true_fn "
                             f"but {public_shape(tb.shape)} in false_fn (a different rank).")


def _packed(structure, outs):
    if isinstance(structure, (Tensor, bool, int, float, np.ndarray, np.generic)):
        return outs[0]
    return pack_sequence_as(structure, outs)


def _zeros(t):
    from ..ops.array import broadcast_to
    return broadcast_to(Tensor(np.zeros((), t._value.dtype)), t._value.shape)
