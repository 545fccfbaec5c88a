"""Running a traced program equation by equation, through ``core.op.apply``.

A compiled call runs the generated code; a call that something else must see - a
GradientTape or ForwardAccumulator, or another function being traced (a nested
``tf.function``) - is *interpreted* instead: each equation is applied as eagerly, so the
tapes record it (gradients of any order), forward mode pushes tangents through it, and an
outer trace records it into its own program.  The Python function does not run again.
Equations that are not primitives (staged calls, custom-gradient regions, control flow)
say how they are interpreted (``op.interpret``).

Sizes in params (Dims) are read from this run's values: axis k of a value, or the value
of an integer scalar - ints eagerly, the outer trace's own sizes when tracing.
"""
from __future__ import annotations

from ..core.aval import Dim, substitute
from ..core.op import Eqn, Op, apply, paused, static_value
from ..core.tensor import Tensor
from .staging import Region


def value_of(graph, env: dict, vid: int):
    """A value of the run: computed, an argument (a variable argument too), a captured variable,
    or a constant."""
    t = env.get(vid)
    if t is None:
        t = graph.variables.get(vid)
        if t is None:
            t = Tensor(graph.constants[vid])
    return t


def resolve(params, graph, env):
    """`params` with their sizes read from this run's values."""
    def leaf(d: Dim):
        t = value_of(graph, env, d.args[0])
        return t._value.shape[d.args[1]] if d.op == "axis" else static_value(t)
    return substitute(params, leaf)


def run_graph(graph, arguments, variables=None) -> list:
    """The program's output tensors, computed from `arguments` (one per input) by applying its
    equations; `variables`: {id: Variable} of the variables passed for the (whole) program's
    variable parameters."""
    variables = variables or {}
    env = dict(zip(graph.inputs, arguments))
    env.update(variables)
    run_eqns(graph, graph.eqns, env, variables)
    return [value_of(graph, env, i) for i in graph.outputs]


def run_eqns(graph, eqns, env: dict, variables=None) -> dict:
    """Apply `eqns` (of `graph`) to the values in env, adding what they define."""
    for n, eqn in enumerate(eqns):
        ins = [value_of(graph, env, i) for i in eqn.in_ids]
        op = eqn.op
        if type(op) is Op:
            env[eqn.out_ids[0]] = apply(op, ins,
                                        resolve(eqn.params, graph, env) if eqn.params else eqn.params)
            continue
        if type(op) is Region and _read_later(eqns, n, graph):
            # a custom gradient's grad_fn reads values made inside it: those come from its equations,
            # run off the tapes (as eagerly, the tapes see the custom op, not its forward)
            with paused(keep_graph=True):
                run_eqns(graph, op.eqns, env, variables)
        if eqn.params:  # a loop's iteration limit may be a size read from this run
            eqn = Eqn.make(op, resolve(eqn.params, graph, env), eqn.in_ids, eqn.inputs, eqn.out_ids, eqn.out,
                           eqn.site)
        env.update(zip(eqn.out_ids, op.interpret(eqn, ins, variables or {})))
    return env


def _read_later(eqns, n: int, graph) -> bool:
    """Do equations after eqns[n] (a Region) read values defined inside it (a grad_fn's closure)?"""
    inside = set()
    for eqn in _flat(eqns[n].op.eqns):
        inside.update(eqn.out_ids)
    return (any(i in inside for eqn in eqns[n + 1:] for i in eqn.in_ids)
            or any(o in inside for o in graph.outputs))


def _flat(eqns):
    for eqn in eqns:
        yield eqn
        if type(eqn.op) is Region:
            yield from _flat(eqn.op.eqns)
