"""Program passes run between tracing and code generation, each followed by ``lint``.

- constant folding: an op whose inputs are all constants is computed once, at compile time;
- common-subexpression elimination: the same op on the same inputs with the same params is
  computed once (small equal constants are merged first, so ``x * 2.0`` twice is one op);
- algebraic simplification: reshape of a reshape and transpose of a transpose become one
  op; a reshape or broadcast_to to the value's own shape, a transpose by the identity
  permutation, a cast to the value's own dtype, ``x * ones``, ``x / ones``, ``x + zeros`` and
  ``x - zeros`` (constants that change neither shape nor dtype) are removed;
- dead-code elimination (pruning): equations whose results nothing uses and that have no
  effect are dropped - staged calls, random draws and sub-programs holding them stay, and
  so an unused op that would fail (an out-of-range gather) never runs, as in TensorFlow.

Passes never reorder equations, and work on each sub-program (a branch, a loop body) too.
``lint`` runs after tracing and after every pass: every value is defined once, before it
is used, with a type; and every op's recorded result type is what its shape rule gives for
its inputs' types - a rewrite that rewires an op to a value of another type fails there.
"""
from __future__ import annotations

import numpy as np

from ..core.aval import Dim, leaves_of, substitute
from ..core.op import Eqn, Op
from .graph import subgraphs
from .staging import StagedCall

_SMALL = 16  # constants up to this many elements are merged when equal


class Options:
    """Switches for the optimisations, read when a function compiles (for measurements and tests).

    simplify: the algebraic simplification pass.  inplace: codegen writes an elementwise
    op's result into an input that dies at it (see inplace.py).
    """

    simplify = True
    inplace = True


options = Options()


class LintError(AssertionError):
    """The program is malformed: a pass (or the tracer) broke an invariant."""


def lint(graph, stage: str = "") -> None:
    """Check the program's invariants (see the module docstring)."""
    where = f" after {stage}" if stage else ""
    defined = set(graph.inputs) | set(graph.variables) | set(graph.constants)
    if len(defined) != len(graph.inputs) + len(graph.variables) + len(graph.constants):
        raise LintError(f"graph {graph.name}{where}: an id is both an input, a variable or a constant")
    for n, eqn in enumerate(graph.eqns):
        for i in eqn.in_ids:
            if i not in defined:
                raise LintError(f"graph {graph.name}{where}: equation {n} ({eqn.op.name}) reads %{i} before "
                                f"it is defined")
        for o in eqn.out_ids:
            if o in defined:
                raise LintError(f"graph {graph.name}{where}: equation {n} ({eqn.op.name}) defines %{o} twice")
            defined.add(o)
        for sub in subgraphs(eqn):
            lint(sub, stage)
    for i in defined:
        if i not in graph.avals or i not in graph.names:
            raise LintError(f"graph {graph.name}{where}: %{i} has no type or name")
    for o in graph.outputs:
        if o not in defined:
            raise LintError(f"graph {graph.name}{where}: output %{o} is never defined")
    for n, eqn in enumerate(graph.eqns):
        if type(eqn.op) is Op:
            problem = type_error(graph, eqn)
            if problem:
                raise LintError(f"graph {graph.name}{where}: equation {n} ({eqn.op.name}): {problem}")


def type_error(graph, eqn) -> str:
    """Why the equation's recorded result type is not what its op's rule gives (empty when it is)."""
    try:
        expected = eqn.op.abstract(tuple(graph.avals[i] for i in eqn.in_ids), eqn.params)
    except Exception as e:  # noqa: BLE001 - the rule rejects its inputs: that is the finding
        return f"its shape rule rejects its inputs: {e}"
    got = graph.avals[eqn.out_ids[0]]
    if expected.dtype != got.dtype:
        return f"recorded dtype {got.dtype}, its rule gives {expected.dtype}"
    if len(expected.shape) != len(got.shape) or not all(
            e == g or (e is None and g == Dim.axis(eqn.out_ids[0], k))
            for k, (e, g) in enumerate(zip(expected.shape, got.shape))):
        return f"recorded shape {got.short()}, its rule gives {expected.shape}"
    return ""


def optimize(graph):
    """Run the passes in order on the program and its sub-programs, linting after each."""
    lint(graph, "tracing")
    passes = (fold_constants, simplify, eliminate_common_subexpressions, eliminate_dead_code)
    for run in passes if options.simplify else [p for p in passes if p is not simplify]:
        _everywhere(run, graph)
        lint(graph, run.__name__)
    return graph


def _everywhere(run, graph) -> None:
    for eqn in graph.eqns:
        for sub in subgraphs(eqn):
            _everywhere(run, sub)
    run(graph)


def _rename_sizes(graph, renames: dict) -> None:
    """Sizes (Dims) read from renamed values read them from the values they became: in params and
    types, in the program and its sub-programs; a size read from a constant becomes that int."""
    def leaf(d):
        vid = renames.get(d.args[0], d.args[0])
        if d.op == "value" and vid in constants:
            return int(np.asarray(constants[vid]))
        if d.op == "axis" and vid in constants:
            return int(np.shape(constants[vid])[d.args[1]])
        return Dim(d.op, (vid,) + d.args[1:]) if vid != d.args[0] else d
    constants = graph.constants
    _map_sizes(graph, leaf)


def _map_sizes(graph, leaf) -> None:
    graph.avals = {i: _typed(a, leaf) for i, a in graph.avals.items()}
    eqns = []
    for e in graph.eqns:
        for sub in subgraphs(e):
            _map_sizes(sub, leaf)
        params = substitute(e.params, leaf) if leaves_of(e.params) else e.params
        eqns.append(e if params is e.params else _with(e, params=params))
    graph.eqns = eqns


def _typed(aval, leaf):
    if not leaves_of(aval.shape):
        return aval
    return type(aval)(substitute(aval.shape, leaf), aval.dtype)


def _size_reads(eqn) -> set:
    """Ids of the values whose sizes the equation's params (and its sub-programs') read."""
    out = {leaf.args[0] for leaf in leaves_of(eqn.params)}
    for sub in subgraphs(eqn):
        for e in sub.eqns:
            out |= _size_reads(e)
    return out


def _with(eqn, in_ids=None, params=None) -> Eqn:
    return Eqn.make(eqn.op, eqn.params if params is None else params,
                    eqn.in_ids if in_ids is None else in_ids, eqn.inputs, eqn.out_ids, eqn.out, eqn.site)


def _foldable(eqn) -> bool:
    op = eqn.op
    return type(op) is Op and not op.stateful and op.name != "read_variable" and not leaves_of(eqn.params)


def fold_constants(graph) -> None:
    """Compute ops on constants now; their results become constants."""
    kept = []
    for eqn in graph.eqns:
        if _foldable(eqn) and eqn.in_ids and all(i in graph.constants for i in eqn.in_ids):
            try:
                with np.errstate(all="ignore"):
                    value = eqn.op.impl(*[graph.constants[i] for i in eqn.in_ids], **eqn.params)
            except Exception:  # noqa: BLE001 - leave it to run (and raise its error) at call time
                kept.append(eqn)
                continue
            graph.constants[eqn.out_ids[0]] = np.asarray(value) if np.isscalar(value) else value
            continue
        kept.append(eqn)
    graph.eqns = kept
    _rename_sizes(graph, {})


def _param_key(params):
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:  # unhashable params (index arrays): leave the equation alone
        return None


def eliminate_common_subexpressions(graph) -> None:
    """One equation per distinct (op, params, inputs); equal small constants become one."""
    renames: dict = {}
    seen_constants: dict = {}
    for cid in list(graph.constants):
        value = np.asarray(graph.constants[cid])
        if value.size <= _SMALL:
            key = (value.dtype.str, value.shape, value.tobytes())
            first = seen_constants.setdefault(key, cid)
            if first != cid:
                renames[cid] = first
    seen: dict = {}
    kept = []
    for eqn in graph.eqns:
        if renames.keys() & set(eqn.in_ids):
            eqn = _with(eqn, in_ids=tuple(renames.get(i, i) for i in eqn.in_ids))
        if type(eqn.op) is not Op:
            # a staged call (or a sub-program) may assign variables: reads after it are new values
            seen = {key: out for key, out in seen.items() if key[0] != "read_variable"}
        elif _foldable(eqn) or eqn.op.name == "read_variable":
            params = _param_key(eqn.params)
            if params is not None:
                key = (eqn.op.name, params, eqn.in_ids)
                first = seen.get(key)
                if first is not None:
                    renames[eqn.out_ids[0]] = first
                    continue
                seen[key] = eqn.out_ids[0]
        kept.append(eqn)
    graph.eqns = kept
    graph.outputs = [renames.get(i, i) for i in graph.outputs]
    _rename_sizes(graph, renames)
    for cid in [c for c in graph.constants if c in renames]:
        del graph.constants[cid]


def effectful(eqn) -> bool:
    """Does running the equation do more than compute its results?  Random ops draw from a
    stream; staged calls may assign, except read-only ones (a metric's ``result()``); a
    sub-program does what its equations do."""
    op = eqn.op
    if type(op) is Op:
        return op.stateful
    if isinstance(op, StagedCall):
        return not op.read_only
    return getattr(op, "stateful", False) or any(
        effectful(e) for sub in subgraphs(eqn) for e in sub.eqns)


def eliminate_dead_code(graph) -> None:
    """Drop equations whose results nothing uses and that have no effect; drop constants and
    variables nothing reads."""
    live = set(graph.outputs)
    kept = []
    for eqn in reversed(graph.eqns):
        if effectful(eqn) or any(o in live for o in eqn.out_ids):
            live.update(eqn.in_ids)
            live.update(_size_reads(eqn))
            kept.append(eqn)
    graph.eqns = kept[::-1]
    for table in (graph.constants, graph.variables):
        for i in [i for i in table if i not in live and i not in graph.variable_args]:
            del table[i]


# -- algebraic simplification -------------------------------------------------------------------

def _perm(perm, rank: int) -> tuple:
    return tuple(range(rank))[::-1] if perm is None else tuple(int(p) for p in perm)


def _constant_is(graph, cid, fill) -> bool:
    """Is cid a constant whose every element equals fill (0 matches -0.0 too)?"""
    if cid not in graph.constants:
        return False
    value = np.asarray(graph.constants[cid])
    return value.dtype.kind in "biuf" and bool(np.all(value == fill))


def simplify(graph) -> None:
    """Remove no-op equations and merge reshape and transpose chains (see the module docstring).

    A removed equation's output is renamed to the value it equals, whose type must be its
    own; never, for a returned value, to an input or a constant (the program returns fresh
    arrays).
    """
    renames: dict = {}
    producer: dict = {}          # id -> the op equation defining it
    outputs = set(graph.outputs)
    fixed = set(graph.inputs) | set(graph.constants)

    def replaceable(out, by) -> bool:
        return by not in graph.variables and graph.avals[out] == graph.avals[by] and \
            not (out in outputs and by in fixed)

    kept = []
    for eqn in graph.eqns:
        if renames.keys() & set(eqn.in_ids):
            eqn = _with(eqn, in_ids=tuple(renames.get(i, i) for i in eqn.in_ids))
        if type(eqn.op) is Op and not eqn.op.stateful and len(eqn.out_ids) == 1:
            eqn, by = _equal_input(graph, eqn, producer)
            if by is not None and replaceable(eqn.out_ids[0], by):
                renames[eqn.out_ids[0]] = by
                continue
            producer[eqn.out_ids[0]] = eqn
        kept.append(eqn)
    graph.eqns = kept
    graph.outputs = [renames.get(i, i) for i in graph.outputs]
    _rename_sizes(graph, renames)


def _equal_input(graph, eqn, producer):
    """(the equation, with a chain merged into it; the id of a value equal to its output if it is a no-op)."""
    name = eqn.op.name
    ins = eqn.in_ids
    out = graph.avals[eqn.out_ids[0]]
    if name == "reshape":
        inner = producer.get(ins[0])
        if inner is not None and inner.op is eqn.op:
            eqn = _with(eqn, in_ids=inner.in_ids)        # reshape(reshape(x, a), b) = reshape(x, b)
        return eqn, (eqn.in_ids[0] if graph.avals[eqn.in_ids[0]].shape == out.shape else None)
    if name == "broadcast_to":
        return eqn, (ins[0] if graph.avals[ins[0]].shape == out.shape else None)
    if name == "transpose":
        if (eqn.params.get("conjugate") and graph.avals[ins[0]].dtype.kind == "c") or leaves_of(eqn.params):
            return eqn, None  # (a perm known only when the program runs is left as it is)
        rank = len(out.shape)
        perm = _perm(eqn.params.get("perm"), rank)
        inner = producer.get(ins[0])
        if inner is not None and inner.op is eqn.op and not leaves_of(inner.params) and \
                not (inner.params.get("conjugate") and graph.avals[ins[0]].dtype.kind == "c"):
            first = _perm(inner.params.get("perm"), rank)
            perm = tuple(first[p] for p in perm)   # transpose(transpose(x, p), q) = transpose(x, p[q])
            eqn = _with(eqn, in_ids=inner.in_ids, params={**eqn.params, "perm": perm})
        return eqn, (eqn.in_ids[0] if perm == tuple(range(rank)) else None)
    if name == "cast":
        return eqn, (ins[0] if graph.avals[ins[0]].dtype == out.dtype else None)
    if name in ("multiply", "add"):
        fill = 1 if name == "multiply" else 0
        for k in (0, 1):
            if _constant_is(graph, ins[1 - k], fill):
                return eqn, ins[k]
        return eqn, None
    if name in ("divide", "subtract"):
        return eqn, (ins[0] if _constant_is(graph, ins[1], 1 if name == "divide" else 0) else None)
    return eqn, None
