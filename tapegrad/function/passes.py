"""Graph passes run between tracing and code generation, each followed by ``lint``.

- constant folding: an op whose inputs are all constants is computed once, at compile time;
- common-subexpression elimination: the same op on the same inputs with the same params is
  computed once (small equal constants are merged first, so ``x * 2.0`` twice is one node);
- dead-code elimination: nodes nothing needs are dropped (staged calls, guards and stateful
  ops such as random draws always stay).

Passes never touch staged calls or guards, and never reorder nodes.
"""
from __future__ import annotations

import numpy as np

_SMALL = 16  # constants up to this many elements are merged when equal


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


def optimize(graph):
    """Run the passes in order, linting after each; returns the same (modified) graph."""
    lint(graph, "tracing")
    for run in (fold_constants, eliminate_common_subexpressions, eliminate_dead_code):
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


def eliminate_dead_code(graph) -> None:
    """Drop op nodes whose results nothing uses; drop constants and variables nothing reads."""
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        needed = node.op is None or node.op.stateful or any(o in live for o in node.out_ids)
        if needed:
            live.update(node.in_ids)
            kept.append(node)
    graph.nodes = kept[::-1]
    for table in (graph.constants, graph.variables):
        for i in [i for i in table if i not in live]:
            del table[i]
