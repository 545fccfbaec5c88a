"""Turn a traced program into Python source that calls the op kernels directly.

One statement per equation, each with the user's line it came from as a comment; values
are deleted after their last use, so memory is freed as early as in eager mode; a variable
is read where the program reads it; an elementwise op whose input dies at it writes its
result into that input's buffer (``out=``, see inplace.py); a symbolic size is bound where
its value is made (``batch = images.shape[0]``) and params that use it are built when the
statement runs; ``cond`` and ``while_loop`` become Python ``if`` and ``while`` blocks with
their sub-programs inside.  The source is registered with linecache (and dropped with the
program), so a traceback through compiled code shows the generated lines.

    def train_step(images, labels):
        images_0 = images.shape[0]                                  # quickstart.py:28
        kernel = var_model_conv2d_kernel._value                     # quickstart.py:31
        conv2d = _conv2d(images, kernel)                            # quickstart.py:31
        ...
"""
from __future__ import annotations

import functools
import itertools
import keyword
import linecache
import re
import weakref

from ..core.aval import Dim, leaves_of
from ..core.op import Op
from ..core.source import generated
from . import inplace
from ..inspect.graph_view import short_site as where
from .graph import inline_regions, subgraphs
from .passes import options

_serial = itertools.count()


def identifier(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name) or "v"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = "v_" + base
    candidate, n = base, 1
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


class Writer:
    """The source of one compiled function, written equation by equation (sub-programs nested).

    Control-flow ops write their own blocks through ``op.write(writer, graph, eqn, indent)``
    with the helpers here: names of values (`ref`), a sub-program's body (`body`).
    """

    def __init__(self, graph, checker=None):
        self.taken = {"np", "_check"}
        self.env: dict = {"__name__": "tapegrad.compiler.compiled", "_check": checker}
        self.local: dict = {}       # value id -> identifier
        self.var_names: dict = {}   # variable id -> identifier (a parameter, or a global of the source)
        self.lines: list = []
        self.sites: dict = {}       # generated line -> the user's site
        self.checker = checker
        self.checked: list = []     # (graph, eqn) by check index
        # Dim leaf -> identifier, for the sizes params use: named when bound, after the value it is read from
        self.leaf_names: dict = dict.fromkeys(_leaves_used(graph))
        self._bound_after: dict = {}
        for leaf in self.leaf_names:
            self._bound_after.setdefault(leaf.args[0], []).append(leaf)

    # -- names --------------------------------------------------------------------------------
    def name(self, graph, vid: int) -> str:
        name = self.local.get(vid)
        if name is None:
            name = self.local[vid] = identifier(graph.names.get(vid, f"v{vid}"), self.taken)
        return name

    def ref(self, graph, vid: int) -> str:
        """How the source reads value `vid`: a local, or a variable's current array."""
        if vid in self.var_names:
            return f"{self.var_names[vid]}._value"
        return self.local[vid]

    def call_ref(self, graph, vid: int) -> str:
        """A staged call gets a variable parameter itself."""
        if vid in self.var_names and graph.variables.get(vid, 0) is None:
            return self.var_names[vid]
        return self.ref(graph, vid)

    def fresh(self, label: str) -> str:
        """A new local name."""
        return identifier(label, self.taken)

    def global_(self, label: str, value) -> str:
        name = identifier(label, self.taken)
        self.env[name] = value
        return name

    def emit(self, indent: str, text: str, site=None) -> None:
        if site is not None:
            self.sites[len(self.lines) + 1] = site
        self.lines.append(f"{indent}{text}" + (f"  # {where(site)}" if site is not None else ""))

    def bind_inputs(self, graph, sources, indent: str) -> None:
        """Bind a sub-program's inputs to the enclosing program's expressions (`sources`), those it reads."""
        used = set(graph.outputs)
        for eqn in graph.eqns:
            used.update(eqn.in_ids)
            used.update(leaf.args[0] for leaf in leaves_of(eqn.params))
        for vid, source in zip(graph.inputs, sources):
            if vid in used:
                self.emit(indent, f"{self.name(graph, vid)} = {source}")

    def bind_sizes(self, graph, vid: int, indent: str) -> None:
        """Bind the sizes read from value `vid` that params use (after `vid` is made)."""
        for leaf in self._bound_after.get(vid, ()):
            name = self.leaf_names[leaf] = identifier(
                f"{self.local.get(vid, 'v')}_{leaf.args[1]}" if leaf.op == "axis" else
                f"{self.local.get(vid, 'v')}_int",
                self.taken)
            source = self.ref(graph, vid)
            self.emit(indent, f"{name} = {source}.shape[{leaf.args[1]}]" if leaf.op == "axis" else
                      f"{name} = int({source})")

    def param_code(self, value) -> str:
        """A Python expression for a param holding sizes, evaluated when the statement runs."""
        if isinstance(value, Dim):
            return value.code(self.leaf_names)
        if isinstance(value, tuple):
            items = [self.param_code(v) for v in value]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(value, list):
            return "[" + ", ".join(self.param_code(v) for v in value) + "]"
        if isinstance(value, slice):
            return f"slice({', '.join(self.param_code(v) for v in (value.start, value.stop, value.step))})"
        if value is None or isinstance(value, (bool, int, float, str)):
            return repr(value)
        return self.global_("_param", value)

    # -- programs -----------------------------------------------------------------------------
    def variables(self, graph) -> None:
        """Name the variables a program (and its sub-programs) reads: captured ones are globals."""
        for vid, var in graph.variables.items():
            if vid not in self.var_names and var is not None:
                self.var_names[vid] = self.global_("var_" + graph.names[vid], var)
        for eqn in graph.eqns:
            for sub in subgraphs(eqn):
                self.variables(sub)

    def body(self, graph, indent: str, keep=()) -> None:
        """The statements of `graph` (its inputs already bound), freeing what dies (not `keep`)."""
        for cid, value in graph.constants.items():
            if cid not in self.local:
                self.local[cid] = self.global_(graph.names[cid], value)
        for i in graph.inputs:
            if i in self.local:
                self.bind_sizes(graph, i, indent)
        eqns = inline_regions(graph.eqns)
        last_use: dict = {}
        for n, eqn in enumerate(eqns):
            for i in eqn.in_ids:
                last_use[i] = n
        keep = set(keep) | set(graph.outputs)
        reuse = inplace.plan(graph, eqns) if options.inplace and self.checker is None else {}
        for n, eqn in enumerate(eqns):
            op = eqn.op
            for o in eqn.out_ids:
                self.name(graph, o)
            if hasattr(op, "write"):
                op.write(self, graph, eqn, indent)
            else:
                self.emit(indent, self._statement(graph, eqn, reuse.get(n)), eqn.site)
            if self.checker is not None and type(op) is Op:
                self.checked.append((graph, eqn))
                ins = "".join(", " + self.ref(graph, i) for i in eqn.in_ids)
                self.emit(indent, f"_check({len(self.checked) - 1}, {self.local[eqn.out_ids[0]]}{ins})")
            for o in eqn.out_ids:
                self.bind_sizes(graph, o, indent)
            dead = sorted({self.local[i] for i in eqn.in_ids if last_use.get(i) == n and i not in keep
                           and i in self.local and i not in graph.constants and i not in self.var_names})
            if dead:
                self.emit(indent, f"del {', '.join(dead)}")

    def _statement(self, graph, eqn, into) -> str:
        op = eqn.op
        outs = [self.local[o] for o in eqn.out_ids]
        if type(op) is Op and op.name == "read_variable":
            return f"{outs[0]} = {self.ref(graph, eqn.in_ids[0])}"
        if into is not None:
            kernel = self.global_(_label(op.inplace), op.inplace)
            target = self.ref(graph, into.into)
            if into.checks:
                target += (
                    f" if {' and '.join(f'{self.ref(graph, i)}.flags.c_contiguous' for i in into.checks)}"
                    f" else None")
            return f"{outs[0]} = {kernel}({', '.join(self.ref(graph, i) for i in eqn.in_ids)}, out={target})"
        if type(op) is Op:
            static = {k: v for k, v in eqn.params.items() if not leaves_of(v)}
            dynamic = {k: v for k, v in eqn.params.items() if k not in static}
            kernel = self.global_("_" + op.name, functools.partial(op.impl, **static) if static else op.impl)
            args = [self.ref(graph, i) for i in eqn.in_ids] + [f"{k}={self.param_code(v)}"
                                                               for k, v in dynamic.items()]
            return f"{outs[0]} = {kernel}({', '.join(args)})"
        kernel = self.global_("_call_" + op.name.split(".")[-1], op)
        call = f"{kernel}({', '.join(self.call_ref(graph, i) for i in eqn.in_ids)})"
        return f"{', '.join(outs)}, = {call}" if outs else call


def _label(fn) -> str:
    import numpy as np
    return f"_np_{fn.__name__}" if isinstance(fn, np.ufunc) else fn.__name__


def _leaves_used(graph) -> set:
    """The size leaves that params of the program (and of its sub-programs) use."""
    out = set()
    for eqn in inline_regions(graph.eqns):
        out |= leaves_of({k: v for k, v in eqn.params.items()})
        for sub in subgraphs(eqn):
            out |= _leaves_used(sub)
    return out


def generate(graph, checker=None):
    """(source, globals, name, {line: user site}, checked) of a function from input arrays to output
    arrays; with `checker` (check numerics), ``checker(index into checked, output, *inputs)``
    follows each op statement, and no op writes into its inputs."""
    w = Writer(graph, checker)
    args = [w.name(graph, i) for i in graph.inputs]
    for vid in graph.variable_args:  # variables passed to the function: parameters after the arrays
        w.var_names[vid] = identifier("var_" + graph.names[vid], w.taken)
        args.append(w.var_names[vid])
    w.variables(graph)
    fn_name = identifier(graph.name, w.taken)
    w.lines.append(f"def {fn_name}({', '.join(args)}):")
    w.body(graph, "    ")
    w.emit("    ", f"return ({''.join(w.ref(graph, i) + ', ' for i in graph.outputs)})")
    return "\n".join(w.lines) + "\n", w.env, fn_name, w.sites, w.checked


def compile_graph(graph, checker=None):
    """(the compiled function: arrays in, tuple of arrays out; its source; what checks index)."""
    source, env, fn_name, sites, checked = generate(graph, checker)
    filename = f"<tf.function {graph.name} #{next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    generated[filename] = {line: site for line, site in sites.items() if site is not None}
    exec(compile(source, filename, "exec"), env)  # noqa: S102 - our own generated source
    fn = env[fn_name]
    weakref.finalize(fn, _forget, filename)  # the source is dropped with the program
    return fn, source, checked


def _forget(filename: str) -> None:
    linecache.cache.pop(filename, None)
    generated.pop(filename, None)
