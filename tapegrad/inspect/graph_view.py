"""What a GradientTape recorded, or what a tf.function traced, as a table and as a drawing.

``summary`` prints one row per recorded op (its inputs and outputs with shapes and dtypes,
the arrays backward keeps alive, the user's line) with totals; ``to_dot`` gives Graphviz DOT
text (always: no dependency), and ``render`` draws it to a file through the ``graphviz``
package.  Tapes and traced graphs are first read into one ``Program`` (values and the equations),
so the table and the drawing are written once for both.  ``GradientTape.summary/to_dot/
render`` and ``Graph.summary/to_dot/render`` delegate here.

>>> import tapegrad as tf
>>> x = tf.constant([1.0, 2.0, 3.0])
>>> with tf.GradientTape(persistent=True) as tape:
...     tape.watch(x)
...     y = tf.reduce_sum(tf.exp(x) * x)
>>> tape.summary()
GradientTape (persistent): 3 ops, 1 watched
  #  op          inputs                outputs    kept for backward  line
  0  exp         x0:f32[3]             t0:f32[3]  t0 (+12 B)         <doctest ...>:3
  1  multiply    t0:f32[3], x0:f32[3]  t1:f32[3]  t0, x0 (+12 B)     <doctest ...>:3
  2  reduce_sum  t1:f32[3]             t2:f32[]   -                  <doctest ...>:3
kept for backward: 2 arrays, 24 B
"""
from __future__ import annotations

import os

import numpy as np

from ..core import dtypes
from ..core.aval import public_shape
from ..core.source import site_line
from ..core.nest import flatten
from ..core.tensor import Tensor

__all__ = ["Summary", "summary", "to_dot", "render"]


class Summary(str):
    """The summary text; a str whose repr is the text itself, so a REPL or notebook shows the table."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


class Value:
    """A value of the program: its display name, shape and dtype (None dims where symbolic), role."""

    __slots__ = ("name", "shape", "dtype", "role")

    def __init__(self, name: str, shape, dtype, role: str):
        self.name, self.shape, self.dtype, self.role = name, tuple(shape), np.dtype(dtype), role

    @property
    def type(self) -> str:
        return f"{short_dtype(self.dtype)}[{', '.join('None' if d is None else str(d) for d in self.shape)}]"

    @property
    def nbytes(self):
        """Bytes of the value, or None when a dim is known only when the program runs."""
        if any(d is None for d in self.shape):
            return None
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


class Program:
    """A tape's or a traced program's equations, the values they read and make, and which of
    those they read (`reads[n]`: the ids equation n reads, a tape's unnamed constants given
    ids of their own)."""

    def __init__(self, title: str, kind: str):
        self.title, self.kind = title, kind   # kind: "tape" or "graph"
        self.values: dict[int, Value] = {}
        self.eqns: list = []
        self.reads: list = []
        self.sources: set = set()    # ids drawn as sources: watched values, graph arguments
        self.targets: set = set()

    def add(self, vid: int, value: Value) -> int:
        self.values.setdefault(vid, value)
        return vid

    def kept(self, n: int) -> list:
        """(id, array) of what equation n's gradient keeps alive (a tape's: a traced program keeps none)."""
        if self.kind != "tape":
            return []
        e = self.eqns[n]
        outs = e.out if isinstance(e.out, tuple) else (e.out,)
        return [(vid, t._value) for vid, t in zip(self.reads[n], e.inputs)
                if isinstance(t._value, np.ndarray)] + \
            [(oid, o._value) for oid, o in zip(e.out_ids, outs) if isinstance(o._value, np.ndarray)]


def short_dtype(dtype) -> str:
    """f32, bf16, c64, ... as the printed IR (``str`` of a traced graph) and these tables write dtypes.

    >>> import numpy as np
    >>> short_dtype(np.float32), short_dtype(np.complex64), short_dtype(np.bool_)
    ('f32', 'c64', 'bool')
    """
    name = dtypes.from_numpy(np.dtype(dtype)).name
    return {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16", "int32": "i32",
            "int64": "i64", "int8": "i8", "int16": "i16", "uint8": "u8", "complex64": "c64",
            "complex128": "c128"}.get(name, name)


def format_bytes(n) -> str:
    """A byte count in B, KiB, MiB or GiB ("?" when unknown: a size known only when the program runs).

    >>> format_bytes(48), format_bytes(1536), format_bytes(3 * 2**20), format_bytes(None)
    ('48 B', '1.5 KiB', '3.0 MiB', '?')
    """
    if n is None:
        return "?"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def short_site(site) -> str:
    """file:line of a recorded site (the file's base name), as the printed IR and these tables
    write it; "?" for none.

    >>> short_site(None)
    '?'
    """
    if site is None:
        return "?"
    return f"{os.path.basename(site[0].co_filename)}:{site_line(site)}"


# -- reading a tape ----------------------------------------------------------------------------

def from_tape(tape) -> Program:
    """The tape's equations as a Program; a tape without a record says why it has none."""
    if tape._eqns is None:
        raise RuntimeError(
            "This GradientTape holds no record: a non-persistent tape is consumed by its first gradient "
            "(or jacobian) call, and this one has been used or was never entered. Create it with "
            "GradientTape(persistent=True) to summarise it after computing gradients.")
    kind = "persistent" if tape._persistent else "non-persistent"
    prog = Program(f"GradientTape ({kind}{', recording' if tape._recording else ''})", "tape")
    counters = {"x": 0, "c": 0}

    def external(vid: int, meta) -> int:
        """An input no op on this tape made: a watched tensor, a watched variable, or a constant."""
        if vid in tape._variables:
            name, role = tape._variables[vid].name.split(":")[0], "variable"
        else:
            role = "watched" if vid in tape._ids else "constant"
            prefix = "x" if role == "watched" else "c"
            name = f"{prefix}{counters[prefix]}"
            counters[prefix] += 1
            if vid == 0:  # a constant never given an id: each use is its own value
                vid = -len(prog.values) - 1
        return prog.add(vid, Value(name, meta.shape, meta.dtype, role))

    for index, e in enumerate(tape._eqns):
        ids = tuple(vid if vid and vid in prog.values else external(vid, t._value)
                    for vid, t in zip(e.in_ids, e.inputs))
        outs = e.out if isinstance(e.out, tuple) else (e.out,)
        for j, (oid, o) in enumerate(zip(e.out_ids, outs)):
            name = f"t{index}" if len(e.out_ids) == 1 else f"t{index}_{j}"
            prog.add(oid, Value(name, o._value.shape, o._value.dtype, "intermediate"))
        prog.eqns.append(e)
        prog.reads.append(ids)
    prog.sources = {vid for vid, v in prog.values.items() if v.role in ("watched", "variable")}
    return prog


def _buffer(array):
    """The array whose memory `array` keeps alive (a view pins its base)."""
    while isinstance(getattr(array, "base", None), np.ndarray):
        array = array.base
    return array


# -- reading a traced graph -------------------------------------------------------------------

def from_graph(graph) -> Program:
    """A traced program's equations as a Program (its arguments are the sources, its results the targets)."""
    prog = Program(f"tf.function {graph.name}", "graph")
    roles = {i: "argument" for i in graph.inputs}
    roles.update((i, "variable") for i in graph.variables)
    roles.update((i, "constant") for i in graph.constants)
    for vid, aval in graph.avals.items():
        prog.add(vid, Value(graph.names[vid], public_shape(aval.shape), aval.dtype,
                            roles.get(vid, "intermediate")))
    prog.eqns = list(graph.eqns)
    prog.reads = [tuple(e.in_ids) for e in graph.eqns]
    prog.sources, prog.targets = set(graph.inputs), set(graph.outputs)
    return prog


def program(obj) -> Program:
    """The Program of a GradientTape, a traced Graph or a ConcreteFunction."""
    from ..core.tape import GradientTape
    if isinstance(obj, GradientTape):
        return from_tape(obj)
    return from_graph(getattr(obj, "graph", obj))


# -- the table --------------------------------------------------------------------------------

def columns(rows, indent: str = "") -> list:
    """Rows of cells as lines, each column padded to its widest cell, two spaces apart (the last
    is not padded, and no line ends in spaces); the summaries here and GradientMonitor's use it.

    >>> columns([("name", "bytes"), ("x", "16 B")], indent="  ")
    ['  name  bytes', '  x     16 B']
    """
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    return [(indent + "  ".join([cell.ljust(w) for cell, w in zip(r, widths)] + [r[-1]])).rstrip()
            for r in rows]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(obj) -> Summary:
    """A table of what a GradientTape recorded (or a traced graph holds), with totals.

    For a tape: each op's inputs and outputs (name:dtype[shape]; watched tensors are x0, x1..,
    constants c0.., the output of op i is ti), the values its gradient keeps alive and the bytes
    that adds (each array counted once; a view counts as the buffer it keeps alive), and the
    user's file:line.  For a graph: each node, the bytes of its outputs, and the most
    intermediate memory alive at once when the program runs.

    >>> import tapegrad as tf
    >>> @tf.function
    ... def f(x):
    ...     return tf.reduce_sum(x * x)
    >>> print(f.get_concrete_function(tf.TensorSpec([4])).graph.summary())
    tf.function f: 2 nodes, 1 argument (16 B)
      #  node        inputs              outputs          output bytes  line
      0  multiply    x:f32[4], x:f32[4]  multiply:f32[4]  16 B          <doctest ...>:3
      1  reduce_sum  multiply:f32[4]     reduce_sum:f32[]  4 B          <doctest ...>:3
    most intermediate memory alive at once: 20 B
    """
    prog = program(obj)
    v = prog.values

    def typed(ids) -> str:
        return ", ".join(f"{v[i].name}:{v[i].type}" for i in ids) or "-"

    if prog.kind == "tape":
        counted: dict = {}  # id(buffer) -> buffer (held, so that no id is reused while counting)
        rows = [["#", "op", "inputs", "outputs", "kept for backward", "line"]]
        for n, e in enumerate(prog.eqns):
            added = 0
            kept = prog.kept(n)
            for _, array in kept:
                buffer = _buffer(array)
                if id(buffer) not in counted:
                    counted[id(buffer)] = buffer
                    added += buffer.nbytes
            names = ", ".join(dict.fromkeys(v[i].name for i, _ in kept))
            rows.append([str(n), e.op.name, typed(prog.reads[n]), typed(e.out_ids),
                         f"{names} (+{format_bytes(added)})" if kept else "-", short_site(e.site)])
        watched = sum(1 for x in v.values() if x.role in ("watched", "variable"))
        head = f"{prog.title}: {_plural(len(prog.eqns), 'op')}, {watched} watched"
        total = sum(b.nbytes for b in counted.values())
        foot = f"kept for backward: {_plural(len(counted), 'array')}, {format_bytes(total)}"
    else:
        rows = [["#", "node", "inputs", "outputs", "output bytes", "line"]]
        rows += [[str(n), e.op.name, typed(prog.reads[n]), typed(e.out_ids),
                  format_bytes(_total(v[o].nbytes for o in e.out_ids)), short_site(e.site)]
                 for n, e in enumerate(prog.eqns)]
        head = f"{prog.title}: {_plural(len(prog.eqns), 'node')}"
        for role in ("argument", "variable", "constant"):
            ids = [i for i in v if v[i].role == role]
            if ids or role == "argument":
                head += f", {_plural(len(ids), role)} ({format_bytes(_total(v[i].nbytes for i in ids))})"
        foot = f"most intermediate memory alive at once: {format_bytes(_peak(prog))}"
    return Summary("\n".join([head] + (columns(rows, indent="  ") if prog.eqns else []) + [foot]))


def _total(sizes):
    """The sum of byte counts, or None when one is unknown (a symbolic dim)."""
    sizes = list(sizes)
    return None if any(b is None for b in sizes) else sum(sizes)


def _peak(prog: Program) -> int:
    """The most bytes of intermediates alive at once, each freed after its last use (as compiled);
    None when a size is known only when the program runs."""
    last = {}
    for n, ids in enumerate(prog.reads):
        for i in ids:
            last[i] = n
    alive, peak = {}, 0
    for n, e in enumerate(prog.eqns):
        alive.update((o, prog.values[o].nbytes) for o in e.out_ids)
        if any(b is None for b in alive.values()):
            return None
        peak = max(peak, sum(alive.values()))
        for i in prog.reads[n]:
            if last[i] == n and i in alive and i not in prog.targets:
                del alive[i]
    return peak


# -- the drawing ------------------------------------------------------------------------------

_FILL = {"source": "#cfe8ff", "target": "#ffd9a8", "constant": "#eeeeee", "intermediate": "white"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ids_of(prog: Program, items) -> set:
    """Value ids of tensors (by identity of id) or of value names."""
    by_name = {x.name: i for i, x in prog.values.items()}
    out = set()
    for item in flatten(items):
        if isinstance(item, str):
            if item not in by_name:
                raise ValueError(f"no value named {item!r}; the values are {', '.join(sorted(by_name))}")
            out.add(by_name[item])
        elif isinstance(item, Tensor) and item._id in prog.values:
            out.add(item._id)
    return out


def _on_path(prog: Program, sources: set, targets: set) -> set:
    """Indices of the equations backward walks: reached from a source, and reaching a target."""
    reach, forward = set(sources), set()
    for n, e in enumerate(prog.eqns):
        if not reach.isdisjoint(prog.reads[n]):
            reach.update(e.out_ids)
            forward.add(n)
    need, path = set(targets), set()
    for n in sorted(forward, reverse=True):
        if not need.isdisjoint(prog.eqns[n].out_ids):
            need.update(prog.reads[n])
            path.add(n)
    return path


def to_dot(obj, sources=None, targets=None) -> str:
    """Graphviz DOT text of a tape or a traced graph: ops as boxes, values as ellipses.

    Values show name and dtype[shape]; a double border marks what backward keeps alive.
    Sources (default: the tape's watched values, the graph's arguments) are blue, targets
    (default: none for a tape, the graph's results) orange; with targets given, ops off the
    path from the sources to them (which backward skips) are grey.  `sources` and `targets`
    are tensors, or value names as the summary shows them.

    >>> import tapegrad as tf
    >>> x = tf.constant(2.0)
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = tf.sin(x)
    >>> print(tape.to_dot(targets=y))  # doctest: +ELLIPSIS
    digraph tape {
    ...
      v0 [label="x0\\nf32[]", shape=ellipse, style=filled, fillcolor="#cfe8ff", peripheries=2];
      op0 [label="#0 sin\\n<doctest ...>:3", shape=box, style="rounded,filled", fillcolor="#f4f4f4"];
      v0 -> op0;
      v1 [label="t0\\nf32[]", shape=ellipse, style=filled, fillcolor="#ffd9a8"];
      op0 -> v1;
    }
    """
    prog = program(obj)
    src = prog.sources if sources is None else _ids_of(prog, sources)
    tgt = prog.targets if targets is None else _ids_of(prog, targets)
    path = _on_path(prog, src, tgt) if targets is not None else set(range(len(prog.eqns)))
    kept = {i for n in range(len(prog.eqns)) for i, _ in prog.kept(n)}
    names: dict = {}
    lines = [f"digraph {prog.kind} {{",
             "  // values: ellipses (name, dtype[shape]); ops: boxes (index, op, line); "
             "double border: kept for backward",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']

    def value(i) -> str:
        if i not in names:
            names[i] = f"v{len(names)}"
            x = prog.values[i]
            role = "source" if i in src else "target" if i in tgt else \
                "intermediate" if x.role == "intermediate" else "constant"
            extra = ", peripheries=2" if i in kept else ""
            lines.append(f"  {names[i]} [label={_quote(x.name + chr(10) + x.type)}, shape=ellipse, "
                         f"style=filled, fillcolor=\"{_FILL[role]}\"{extra}];")
        return names[i]

    for n, e in enumerate(prog.eqns):
        ins = [value(i) for i in prog.reads[n]]
        grey = "" if n in path else ", color=grey60, fontcolor=grey60"
        lines.append(f"  op{n} [label={_quote(f'#{n} {e.op.name}' + chr(10) + short_site(e.site))}, "
                     f"shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\"{grey}];")
        for k, name in enumerate(ins):
            label = f" [label=\"{k}\"]" if len(ins) > 1 else ""
            lines.append(f"  {name} -> op{n}{label};")
        for o in e.out_ids:
            lines.append(f"  op{n} -> {value(o)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(obj, path: str, sources=None, targets=None) -> str:
    """Draw `to_dot` to `path` (its extension picks the format: .svg, .png, .pdf) with graphviz.

    Needs the ``graphviz`` Python package (``pip install 'tapegrad[graphviz]'``) and Graphviz's
    ``dot`` program.  Returns the path written.

    >>> import tapegrad as tf
    >>> x = tf.constant(2.0)
    >>> with tf.GradientTape(persistent=True) as tape:
    ...     tape.watch(x)
    ...     y = x * x
    >>> tape.render("tape.svg")  # doctest: +SKIP
    'tape.svg'
    """
    dot = to_dot(obj, sources, targets)
    try:
        import graphviz
    except ImportError:
        raise ImportError("render() draws through the graphviz package, which is not installed: "
                          "pip install 'tapegrad[graphviz]' (it runs Graphviz's dot program, which "
                          "must be installed too). to_dot() gives the DOT text without it.") from None
    fmt = os.path.splitext(path)[1].lstrip(".") or "svg"
    return graphviz.Source(dot).render(outfile=path, format=fmt, cleanup=True)
