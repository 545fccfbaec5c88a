"""How a traced program prints: the jaxpr-like listing of ``str(graph)`` (typed variables,
sizes spelled as they are read, each equation's user line, sub-programs nested under their
equation) and the GraphDef view of ``graph.as_graph_def()``.
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.aval import Dim, public_shape
from ..inspect.graph_view import short_dtype as _short
from ..inspect.graph_view import short_site as where
from .graph import _is_graph


def _var(graph, vid: int) -> str:
    return f"{graph.names[vid]}:{_type(graph.avals[vid])}"


def program_lines(graph, indent: str) -> list:
    """The listing of `graph`, each line prefixed by `indent` (sub-programs indented under their equation)."""
    lines = [f"{indent}{{ lambda {' '.join(_var(graph, i) for i in graph.inputs)} ."]
    if graph.variables:
        lines.append(f"{indent}  variables " + " ".join(_var(graph, i) for i in graph.variables))
    if graph.constants:
        lines.append(f"{indent}  constants " + " ".join(_var(graph, i) for i in graph.constants))
    lines.append(f"{indent}  let")
    body = []
    for eqn in graph.eqns:
        outs = " ".join(_var(graph, i) for i in eqn.out_ids) or "()"
        params = ", ".join(f"{k}={_param_repr(v, graph)}" for k, v in eqn.params.items() if not _is_graph(v))
        head = eqn.op.name + (f"[{params}]" if params else "")
        body.append((f"{indent}    {outs} = {head} {' '.join(graph.names[i] for i in eqn.in_ids)}".rstrip(),
                     where(eqn.site), [(k, v) for k, v in eqn.params.items() if _is_graph(v)]))
    width = max((len(text) for text, _, _ in body), default=0)
    for text, site, subgraphs in body:
        lines.append(f"{text.ljust(width)}  # {site}")
        for key, sub in subgraphs:
            for k, g in (sub.items() if isinstance(sub, dict) else [(key, sub)]):
                lines.append(f"{indent}      {k}:")
                lines += program_lines(g, indent + "        ")
    lines.append(f"{indent}  in ({', '.join(graph.names[i] for i in graph.outputs)}) }}")
    return lines


def graph_def(graph) -> GraphDef:
    """The program as TF's GraphDef view: one node per input, variable, constant and equation,
    each with its name, op and inputs (enough for code that lists or counts nodes)."""
    nodes = [NodeDef(graph.names[i], "Placeholder", ()) for i in graph.inputs]
    nodes += [NodeDef(graph.names[i], "VarHandleOp", ()) for i in graph.variables]
    nodes += [NodeDef(graph.names[i], "Const", ()) for i in graph.constants]
    taken = set(graph.names.values())
    for eqn in graph.eqns:
        ins = tuple(graph.names[i] for i in eqn.in_ids)
        nodes += [NodeDef(graph.names[o], eqn.op.name, ins) for o in eqn.out_ids] or \
            [NodeDef(_fresh(eqn.op.name, taken), eqn.op.name, ins)]
    nodes += [NodeDef(f"Identity_{k}" if k else "Identity", "Identity", (graph.names[o],))
              for k, o in enumerate(graph.outputs)]
    return GraphDef(nodes)


def _fresh(base: str, taken: set) -> str:
    """`base`, or base_1, base_2, ...: the first name not in `taken` (then taken)."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


class NodeDef:
    """A node of ``Graph.as_graph_def()``: name, op and input names, as TF's NodeDef has them."""

    __slots__ = ("name", "op", "input")

    def __init__(self, name, op, inputs):
        self.name, self.op, self.input = name, op, list(inputs)

    def __repr__(self):
        lines = [f'name: "{self.name}"', f'op: "{self.op}"'] + [f'input: "{i}"' for i in self.input]
        return "node {\n" + "".join(f"  {line}\n" for line in lines) + "}"


class GraphDef:
    """``Graph.as_graph_def()``: its nodes (``.node``); printed like TF's GraphDef text."""

    __slots__ = ("node",)

    def __init__(self, nodes):
        self.node = nodes

    def __repr__(self):
        return "\n".join(repr(n) for n in self.node)


def _type(aval) -> str:
    return f"{_short(aval.dtype)}{list(public_shape(aval.shape))}"


def _param_repr(v, graph) -> str:
    if isinstance(v, (dtypes.DType, np.dtype)):
        return v.name
    if isinstance(v, Dim):  # a size read when the program runs, spelled as it is read
        return v.code(_SizeNames(graph))
    if isinstance(v, tuple):
        return "(" + ", ".join(_param_repr(x, graph) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


class _SizeNames(dict):
    """How the printed program spells a size's leaves: ``x.shape[0]``, ``int(n)``."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph

    def __missing__(self, leaf):
        vid = leaf.args[0]
        owner = self.graph.owner(vid)
        name = owner.names[vid] if owner is not None else f"%{vid}"
        return f"{name}.shape[{leaf.args[1]}]" if leaf.op == "axis" else f"int({name})"
