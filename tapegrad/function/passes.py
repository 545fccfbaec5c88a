"""Graph passes run between tracing and code generation, each followed by ``lint``.

- constant folding: an op whose inputs are all constants is computed once, at compile time;
- common-subexpression elimination: the same op on the same inputs with the same params is
  computed once (small equal constants are merged first, so ``x * 2.0`` twice is one node);
- algebraic simplification: reshape of a reshape and transpose of a transpose become one
  node; a reshape or broadcast_to to the value's own shape, a transpose by the identity
  permutation, a cast to the value's own dtype, ``x * ones``, ``x / ones``, ``x + zeros`` and
  ``x - zeros`` (constants that change neither shape nor dtype) are removed;
- dead-code elimination: nodes nothing needs are dropped (staged calls, guards and stateful
  ops such as random draws always stay).

Passes never touch staged calls or guards, and never reorder nodes.  ``lint`` runs after
tracing and after every pass: besides the program's structure it checks, for the ops whose
typing rule is simple (elementwise, reshape, transpose, broadcast_to, cast), that each node's
recorded output type follows from its inputs' types - a rewrite that rewires a node to a
value of another shape or dtype fails there.
"""
from __future__ import annotations

import numpy as np

from .graph import StagedCall

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
    """The graph is malformed: a pass (or the tracer) broke an invariant."""


def lint(graph, stage: str = "") -> None:
    """Check the graph's invariants: every value defined once, before use, with a spec and a name."""
    where = f" after {stage}" if stage else ""
    defined = set(graph.inputs) | set(graph.variables) | set(graph.constants)
    if len(defined) != len(graph.inputs) + len(graph.variables) + len(graph.constants):
        raise LintError(f"graph {graph.name}{where}: an id is both an input, a variable or a constant")
    for n, node in enumerate(graph.nodes):
        for i in node.in_ids:
            if i not in defined:
                raise LintError(f"graph {graph.name}{where}: node {n} ({node.name}) reads %{i} before it "
                                f"is defined")
        for o in node.out_ids:
            if o in defined:
                raise LintError(f"graph {graph.name}{where}: node {n} ({node.name}) defines %{o} twice")
            defined.add(o)
    for i in defined:
        if i not in graph.specs or i not in graph.names:
            raise LintError(f"graph {graph.name}{where}: %{i} has no spec or name")
    for o in graph.outputs:
        if o not in defined:
            raise LintError(f"graph {graph.name}{where}: output %{o} is never defined")
    for n, node in enumerate(graph.nodes):
        if node.op is not None:
            problem = _type_error(graph, node)
            if problem:
                raise LintError(f"graph {graph.name}{where}: node {n} ({node.name}): {problem}")


# ops computed elementwise with NumPy broadcasting: output shape = broadcast of the inputs'
ELEMENTWISE = frozenset("""
    abs acos add asin atan atan2 ceil clip_by_value cos cosh divide equal erf exp expm1 floor floordiv
    floormod greater greater_equal is_finite is_inf is_nan less less_equal log log1p logical_and
    logical_not logical_or logical_xor maximum minimum multiply negative not_equal pow relu relu_grad
    round rsqrt sigmoid sign sin sinh softplus sqrt square subtract tan tanh where_v2""".split())
_SAME_DTYPE = ELEMENTWISE - {"equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
                             "is_finite", "is_inf", "is_nan", "where_v2"}


def _type_error(graph, node) -> str:
    """Why the node's recorded output type does not follow from its inputs' (empty when it does)."""
    name = node.op.name
    ins = [graph.specs[i] for i in node.in_ids]
    shape, dtype = graph.specs[node.out_ids[0]]
    shape = tuple(shape)
    if name in ELEMENTWISE:
        try:
            expected = np.broadcast_shapes(*[tuple(s) for s, _ in ins])
        except ValueError:
            return f"inputs of shapes {[tuple(s) for s, _ in ins]} do not broadcast"
        if expected != shape:
            return f"output shape {shape}, but its inputs broadcast to {expected}"
        numeric = np.dtype(dtype).kind in "biufc"   # strings grow: "a" + "b" is <U2
        if numeric and name in _SAME_DTYPE and any(np.dtype(d) != np.dtype(dtype) for _, d in ins):
            return f"output dtype {np.dtype(dtype)}, inputs {[np.dtype(d).name for _, d in ins]}"
        return ""
    if name in ("reshape", "transpose", "broadcast_to", "cast"):
        (in_shape, in_dtype), = ins
        in_shape = tuple(in_shape)
        if name == "cast":
            return "" if in_shape == shape else f"cast changes shape {in_shape} to {shape}"
        if np.dtype(in_dtype) != np.dtype(dtype):
            return f"{name} changes dtype {np.dtype(in_dtype)} to {np.dtype(dtype)}"
        if name == "reshape":
            if int(np.prod(in_shape)) != int(np.prod(shape)):
                return f"reshape of {in_shape} ({int(np.prod(in_shape))} values) to {shape}"
            wanted = node.params.get("shape")
            if wanted is not None and np.ndim(wanted) == 1 and -1 not in tuple(wanted) and \
                    tuple(int(d) for d in wanted) != shape:
                return f"reshape[shape={tuple(wanted)}] recorded as {shape}"
        elif name == "transpose":
            expected = tuple(in_shape[p] for p in _perm(node.params.get("perm"), len(in_shape)))
            if expected != shape:
                return f"transpose of {in_shape} by {node.params.get('perm')} is {expected}, recorded {shape}"
        elif name == "broadcast_to":
            try:
                if np.broadcast_shapes(in_shape, shape) != shape:
                    return f"broadcast_to {shape} of {in_shape}"
            except ValueError:
                return f"{in_shape} does not broadcast to {shape}"
    return ""


def optimize(graph):
    """Run the passes in order, linting after each; returns the same (modified) graph."""
    lint(graph, "tracing")
    passes = (fold_constants, simplify, eliminate_common_subexpressions, eliminate_dead_code)
    for run in passes if options.simplify else [p for p in passes if p is not simplify]:
        run(graph)
        lint(graph, run.__name__)
    return graph


def _rename(graph, renames: dict) -> None:
    if not renames:
        return
    for node in graph.nodes:
        node.in_ids = tuple(renames.get(i, i) for i in node.in_ids)
    graph.outputs = [renames.get(i, i) for i in graph.outputs]


def _foldable(node) -> bool:
    return node.op is not None and not node.op.stateful


def fold_constants(graph) -> None:
    """Compute ops on constants now; their results become constants."""
    kept = []
    for node in graph.nodes:
        if _foldable(node) and node.in_ids and all(i in graph.constants for i in node.in_ids):
            try:
                value = node.op.impl(*[graph.constants[i] for i in node.in_ids], **node.params)
            except Exception:  # noqa: BLE001 - leave it to run (and raise its error) at call time
                kept.append(node)
                continue
            graph.constants[node.out_ids[0]] = value
            continue
        kept.append(node)
    graph.nodes = kept


def _param_key(params):
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:  # unhashable params (index arrays): leave the node alone
        return None


def eliminate_common_subexpressions(graph) -> None:
    """One node per distinct (op, params, inputs); equal small constants become one."""
    renames: dict = {}
    seen_constants: dict = {}
    for cid in list(graph.constants):
        value = np.asarray(graph.constants[cid])
        if value.size <= _SMALL:
            key = (value.dtype.str, value.shape, value.tobytes())
            first = seen_constants.setdefault(key, cid)
            if first != cid:
                renames[cid] = first
    _rename(graph, renames)
    seen: dict = {}
    kept = []
    for node in graph.nodes:
        node.in_ids = tuple(renames.get(i, i) for i in node.in_ids)
        if node.call is not None:
            # a staged call may assign variables: reads of them after it are new values
            seen = {key: out for key, out in seen.items() if not any(i in graph.variables for i in key[2])}
        if _foldable(node):
            params = _param_key(node.params)
            if params is not None:
                key = (node.op.name, params, node.in_ids)
                first = seen.get(key)
                if first is not None:
                    renames[node.out_ids[0]] = first
                    continue
                seen[key] = node.out_ids[0]
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [renames.get(i, i) for i in graph.outputs]
    for cid in [c for c in graph.constants if c in renames]:
        del graph.constants[cid]


def _effectful(node) -> bool:
    """Does running the node do more than compute its results?  Random ops draw from a stream;
    staged calls may assign, except read-only ones (a metric's ``result()``, staged with
    ``core.op.read_only``, which traces with the method itself)."""
    if node.op is not None:
        return node.op.stateful
    call = node.call
    return not (isinstance(call, StagedCall) and call.trace_result is call.fn)


def eliminate_dead_code(graph) -> None:
    """Drop nodes whose results nothing uses and that have no effect (see _effectful); drop
    constants and variables nothing reads."""
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        needed = _effectful(node) or any(o in live for o in node.out_ids)
        if needed:
            live.update(node.in_ids)
            kept.append(node)
    graph.nodes = kept[::-1]
    for table in (graph.constants, graph.variables):
        for i in [i for i in table if i not in live]:
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
    """Remove no-op nodes and merge reshape and transpose chains (see the module docstring).

    A removed node's output is renamed to the value it equals, whose shape and dtype must be
    its own.  Never renamed to a variable (a variable is read by reference where it is used,
    so a rename would move the read across a staged assignment), nor, for a returned value,
    to an input or a constant (the program returns fresh arrays).  Chains are merged only
    when the inner node does not read a variable, for the same reason.
    """
    renames: dict = {}
    producer: dict = {}          # id -> the op node defining it
    outputs = set(graph.outputs)
    fixed = set(graph.inputs) | set(graph.constants)

    def same_type(a, b) -> bool:
        (sa, da), (sb, db) = graph.specs[a], graph.specs[b]
        return tuple(sa) == tuple(sb) and np.dtype(da) == np.dtype(db)

    def replaceable(out, by) -> bool:
        return (by not in graph.variables and same_type(out, by)
                and not (out in outputs and by in fixed))

    kept = []
    for node in graph.nodes:
        node.in_ids = tuple(renames.get(i, i) for i in node.in_ids)
        if node.op is not None and not node.op.stateful and len(node.out_ids) == 1:
            by = _equal_input(graph, node, producer)
            if by is not None and replaceable(node.out_ids[0], by):
                renames[node.out_ids[0]] = by
                continue
        if node.op is not None:
            for o in node.out_ids:
                producer[o] = node
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [renames.get(i, i) for i in graph.outputs]


def _equal_input(graph, node, producer):
    """The id of a value equal to node's output, if the node is a no-op; merges chains in place."""
    name = node.op.name
    ins = node.in_ids
    out_shape = tuple(graph.specs[node.out_ids[0]][0])
    if name == "reshape":
        inner = producer.get(ins[0])
        if inner is not None and inner.op is node.op and inner.in_ids[0] not in graph.variables:
            node.in_ids = ins = inner.in_ids        # reshape(reshape(x, a), b) = reshape(x, b)
        return ins[0] if tuple(graph.specs[ins[0]][0]) == out_shape else None
    if name == "broadcast_to":
        return ins[0] if tuple(graph.specs[ins[0]][0]) == out_shape else None
    if name == "transpose":
        if node.params.get("conjugate") and np.dtype(graph.specs[ins[0]][1]).kind == "c":
            return None
        rank = len(out_shape)
        perm = _perm(node.params.get("perm"), rank)
        inner = producer.get(ins[0])
        if inner is not None and inner.op is node.op and inner.in_ids[0] not in graph.variables and \
                not (inner.params.get("conjugate") and np.dtype(graph.specs[ins[0]][1]).kind == "c"):
            first = _perm(inner.params.get("perm"), rank)
            perm = tuple(first[p] for p in perm)   # transpose(transpose(x, p), q) = transpose(x, p[q])
            node.in_ids = ins = inner.in_ids
            node.params = {**node.params, "perm": perm}
        return ins[0] if perm == tuple(range(rank)) else None
    if name == "cast":
        return ins[0] if np.dtype(graph.specs[ins[0]][1]) == np.dtype(graph.specs[node.out_ids[0]][1]) \
            else None
    if name in ("multiply", "add"):
        fill = 1 if name == "multiply" else 0
        for k in (0, 1):
            if _constant_is(graph, ins[1 - k], fill):
                return ins[k]
        return None
    if name in ("divide", "subtract"):
        return ins[0] if _constant_is(graph, ins[1], 1 if name == "divide" else 0) else None
    return None
