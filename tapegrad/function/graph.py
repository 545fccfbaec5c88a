"""The traced graph: what ``tf.function`` records while it runs the Python function once.

Tracing executes the function on the first call's values (so every op works and every
shape is known) while the Graph, installed in ``core.op.state.graph``, records each op
application as a Node - the same (op, params, inputs, outputs, site) the tape records.
Tensors made inside are SymbolicTensors: they have values while tracing, but Python code
may not look at them, as TensorFlow's graph tensors.

Stateful Python-level work (optimizer updates, metric updates, variable assignments,
``tf.print``) is *staged*: recorded as a call node that runs on every call of the compiled
function, and not run while tracing (the compiled function then runs once for the call
that traced), so it happens exactly once per call.
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.op import state
from ..core.source import user_site
from ..core.sparse import IndexedSlices
from ..core.tape import flatten
from ..core.tensor import Tensor, Variable, next_id
from ..errors import OperatorNotAllowedInGraphError
from ..inspect.graph_view import short_dtype as _short
from ..inspect.graph_view import short_site as _where  # codegen imports it from here

_GRAPH_HINT = ("Inside a tf.function, tensors are symbolic: use tf.print to see values when the "
               "function runs, or call tapegrad.config.run_functions_eagerly(True) to debug eagerly.")


class SymbolicTensor(Tensor):
    """A tensor inside a function being traced: usable in ops, not readable from Python."""

    __slots__ = ()
    _symbolic = True  # core.op refuses it outside the graph that made it (a leaked tensor)

    def _graph_name(self) -> str:
        graph = state.graph
        name = graph.names.get(self._id) if graph is not None else None
        return name or f"tensor_{self._id}"

    def numpy(self):
        raise AttributeError(f"'Tensor' object has no attribute 'numpy': {self._graph_name()!r} is a "
                             f"symbolic tensor. {_GRAPH_HINT}")

    def __array__(self, dtype=None, copy=None):
        raise NotImplementedError(f"Cannot convert a symbolic tf.Tensor ({self._graph_name()}) to a numpy "
                                  f"array. {_GRAPH_HINT}")

    def __bool__(self):
        graph = state.graph
        if graph is not None and graph.autograph:
            return graph.guard(self, bool)
        raise OperatorNotAllowedInGraphError(
            "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed: AutoGraph is disabled in "
            "this function (autograph=False). Write the condition with tf.cond (or tf.where for "
            "elementwise choices), or move it out of the tf.function. " + _GRAPH_HINT)

    def _python_value(self, kind, what):
        graph = state.graph
        if graph is not None and graph.autograph and self._value.ndim == 0:
            return graph.guard(self, kind)
        raise TypeError(f"Cannot use the symbolic tensor {self._graph_name()} as a Python {what} inside a "
                        f"tf.function. {_GRAPH_HINT}")

    def __index__(self):
        return self._python_value(int, "index")

    def __int__(self):
        return self._python_value(int, "int")

    def __float__(self):
        return self._python_value(float, "float")

    def __len__(self):
        raise TypeError(f"len is not well defined for symbolic Tensors ({self._graph_name()}). Please "
                        f"call `x.shape` rather than `len(x)` for shape information.")

    def __iter__(self):
        graph = state.graph
        if graph is None or not graph.autograph or self._value.ndim == 0:
            raise OperatorNotAllowedInGraphError(
                f"Iterating over a symbolic `tf.Tensor` ({self._graph_name()}) is not allowed here: iterate "
                f"over tf.range(n) and index, or over x.shape. " + _GRAPH_HINT)
        # AutoGraph's `for x in tensor`: unrolled, the program specialised to this length
        return (self[i] for i in range(len(self._value)))

    def __format__(self, spec):
        if spec:
            raise TypeError(f"Cannot format the symbolic tensor {self._graph_name()} as a number inside a "
                            f"tf.function. {_GRAPH_HINT}")
        return str(self)

    def __repr__(self):
        return f"<tf.Tensor '{self._graph_name()}:0' shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self):
        return f'Tensor("{self._graph_name()}:0", shape={self.shape}, dtype={self.dtype.name})'


class Node:
    """One step of the program: an op application, a staged Python call, or a guard."""

    __slots__ = ("op", "params", "in_ids", "out_ids", "site", "call", "guard")

    def __init__(self, op, params, in_ids, out_ids, site, call=None, guard=None):
        self.op, self.params, self.in_ids, self.out_ids, self.site, self.call, self.guard = \
            op, params, in_ids, out_ids, site, call, guard

    @property
    def name(self) -> str:
        if self.op is not None:
            return self.op.name
        return self.call.name if self.call is not None else "guard"


class Guard:
    """A Python decision taken on a tensor's value while tracing (``if x > 0:``, ``int(n)``).

    The compiled program is specialised to it: when a call's value would decide otherwise,
    the program stops (before any staged call ran, or with a clear error) and the function
    is specialised again for the new decision - AutoGraph's effect, by specialisation.
    """

    __slots__ = ("kind", "expected", "ordinal")

    def __init__(self, kind, expected, ordinal):
        self.kind, self.expected, self.ordinal = kind, expected, ordinal  # ordinal: n-th decision traced

    def decide(self, array):
        return self.kind(array[()] if isinstance(array, np.ndarray) else array)

    def __call__(self, array) -> bool:
        return self.decide(array) == self.expected


class RunEagerly(Exception):
    """Raised while tracing by code a graph cannot hold (iterating a Dataset): the function then
    runs its Python eagerly on every call - correct, only not compiled."""


class GuardFailed(Exception):
    """A compiled program met a value that its guards were not specialised for (before any
    staged call ran, so the call can start again with another specialisation: a decision
    after one is a Branch)."""


class Branch:
    """A decision taken after a staged call: it picks the program for the rest of the call.

    The program before it has run (its staged calls too), so the call cannot start again;
    instead the compiled program ends in a Branch, called with every value defined so far.
    Each outcome seen has its own continuation program (AutoGraph's conditional, one
    specialisation per outcome); a new outcome raises BranchMissing for the function to
    trace that continuation and carry on.  A continuation runs as the program before it did
    (checked while tf.debugging.enable_check_numerics is on: see `runner`).
    """

    __slots__ = ("guard", "slot", "n_slots", "path", "table")
    name = "branch"  # what the printed graph and the generated code call it

    def __init__(self, guard, slot, n_slots, path):
        self.guard, self.slot, self.n_slots = guard, slot, n_slots
        self.path = path    # {ordinal: decision} of the decisions before this one
        self.table: dict = {}  # decision -> the continuation's compiled program

    def __call__(self, *arrays):
        decision = self.guard.decide(arrays[self.slot])
        program = self.table.get(decision)
        if program is None:
            raise BranchMissing(self, decision, arrays)
        return runner(program)(*arrays)


def runner(program):
    """What runs a compiled program (or continuation) now: it, or with checks after each op while
    tf.debugging.enable_check_numerics is on (made once per program, no retrace)."""
    checker = state.numerics
    return program.run if checker is None else checker.compiled(program.graph)


class Region:
    """A custom_gradient call traced inline: the nodes its function recorded, and the call.

    Compiled, the nodes run in its place (``Graph.inlined``: the passes see through it).  A
    replayed call (under a tape, or inlined into another trace) calls `fn` again on that
    call's tensors, so the tapes record one op whose gradient is that call's ``grad_fn`` - as
    eagerly - rather than the forward's ops.
    """

    __slots__ = ("fn", "structure", "nodes", "name")

    def __init__(self, fn, structure, nodes, name):
        self.fn, self.structure, self.nodes, self.name = fn, structure, nodes, name

    def defined(self) -> set:
        """Ids of every value its nodes (nested regions' too) define."""
        ids = set()
        for node in self.nodes:
            ids.update(node.out_ids)
            if type(node.call) is Region:
                ids |= node.call.defined()
        return ids


class BranchMissing(Exception):
    """A Branch met an outcome that has no continuation program yet."""

    def __init__(self, branch, decision, arrays):
        super().__init__(decision)
        self.branch, self.decision, self.arrays = branch, decision, arrays


class StagedCall:
    """A Python function staged into the graph: rebuilt from its tensor inputs on every run.

    A variable argument of the function (see Graph.variable_argument) is an input too: the
    call gets the variable itself (it may assign it), the others arrays.
    """

    __slots__ = ("fn", "structure", "n_outputs", "name", "trace_result", "takes_variables")

    def __init__(self, fn, structure, n_outputs, name, trace_result, takes_variables):
        self.fn, self.structure, self.n_outputs, self.name = fn, structure, n_outputs, name
        self.trace_result = trace_result  # what staging it again while tracing continues with
        self.takes_variables = takes_variables

    def __call__(self, *arrays):
        """Run with the current arrays (and variables); return the output arrays."""
        tensors = [a if isinstance(a, Variable) else Tensor(a) for a in arrays] if self.takes_variables \
            else [Tensor(a) for a in arrays]
        args, kwargs = _fill(self.structure, tensors)
        result = self.fn(*args, **kwargs)
        if not self.n_outputs:
            return ()
        return tuple(np.asarray(t._value if isinstance(t, Tensor) else t) for t in _tensor_leaves(result))


class Graph:
    """The program recorded while tracing: typed values, nodes in program order, captures."""

    def __init__(self, name: str):
        self.name = name
        self.nodes: list[Node] = []
        self.inputs: list[int] = []        # placeholder ids, in the order of the flat arguments
        self.outputs: list[int] = []       # output ids, flattened
        self.output_structure = None       # the returned nest, with tensors replaced by None
        # id -> captured Variable, read by reference when the graph runs; None for a variable
        # argument (each call passes its own: keeping the traced one would keep it alive)
        self.variables: dict = {}
        self.variable_args: list = []      # ids of the variables passed as arguments: parameters
        self.constants: dict = {}          # id -> ndarray captured by value at trace time
        self.specs: dict = {}              # id -> (shape, numpy dtype)
        self.names: dict = {}              # id -> name shown in the printed graph
        self.created_variables: list = []
        self.autograph = True              # Python decisions on tensors become guards
        self.forced: dict = {}             # guard ordinal -> the decision to take (re-tracing a path)
        self._guards = 0
        self._counts: dict = {}

    def part(self, nodes, inputs) -> "Graph":
        """A graph of some of these nodes, reading `inputs`; the tables are copies (passes edit them)."""
        g = Graph(self.name)
        g.nodes, g.inputs = nodes, list(inputs)
        g.outputs, g.output_structure = list(self.outputs), self.output_structure
        g.variables, g.constants = dict(self.variables), dict(self.constants)
        g.variable_args = list(self.variable_args)
        g.specs, g.names, g._counts = dict(self.specs), dict(self.names), dict(self._counts)
        g.autograph = self.autograph
        if hasattr(self, "_gradient_contexts"):  # check numerics' "whose gradient" notes go with the nodes
            g._gradient_contexts = self._gradient_contexts
        return g

    def copy(self) -> "Graph":
        """A copy that the passes (which edit nodes in place) leave as traced."""
        return self.part([Node(n.op, n.params, n.in_ids, n.out_ids, n.site, n.call, n.guard)
                          for n in self.nodes], self.inputs)

    def inlined(self) -> "Graph":
        """This graph with each Region replaced by (copies of) its nodes: what compiles.

        Copies, because the passes edit nodes in place and replays read the Regions' nodes.
        """
        if not any(type(node.call) is Region for node in self.nodes):
            return self
        return self.part(_inline(self.nodes, copy=False), self.inputs)

    def defined_before(self, n: int) -> list:
        """Ids of the inputs and of what nodes[:n] define, in program order."""
        return list(self.inputs) + [o for node in self.nodes[:n] for o in node.out_ids]

    def guard_position(self, ordinal: int) -> int:
        return next(n for n, node in enumerate(self.nodes) if node.guard is not None and
                    node.guard.ordinal == ordinal)

    # -- recording ------------------------------------------------------------------------
    def placeholder(self, value: np.ndarray, name: str) -> SymbolicTensor:
        t = SymbolicTensor(value, next_id())
        self.inputs.append(t._id)
        self._define(t, name)
        return t

    def variable_argument(self, var: Variable) -> Variable:
        """A Variable passed as an argument: a parameter of the program (the variable each call
        passes, read live), not the one traced with; passed twice, one parameter."""
        vid = self._use(var)
        if vid not in self.variable_args:
            self.variable_args.append(vid)
            self.variables[vid] = None
        return var

    def _define(self, t: Tensor, name: str) -> None:
        self.specs[t._id] = (t._value.shape, t._value.dtype)
        self.names[t._id] = name

    def _unique(self, base: str) -> str:
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def _use(self, t: Tensor) -> int:
        """The id a node reads t by: defined here, a variable by reference, or a constant by value."""
        tid = t._id
        if tid and tid in self.specs and tid not in self.constants:
            return tid  # defined here, or a variable (a tape's snapshot of one has its id)
        if isinstance(t, Variable):
            self.variables[tid] = t
            self.specs.setdefault(tid, (t._value.shape, t._value.dtype))
            self.names.setdefault(tid, t.name.rsplit(":", 1)[0].replace("/", "."))
            return tid
        if type(t) is SymbolicTensor:
            raise TypeError(
                f"The symbolic tensor {t._graph_name()} was made by another tf.function's trace (or an "
                f"earlier trace of this one) and is out of scope here: return it from that function "
                f"instead of keeping it in a global or an attribute.")
        if tid == 0:
            t._id = tid = next_id()
        if tid not in self.constants:
            self.constants[tid] = t._value
            self.specs[tid] = (np.shape(t._value), np.asarray(t._value).dtype)
            self.names[tid] = self._unique("const")
        return tid

    def record(self, op, tensors, out: Tensor, params) -> None:
        """Called by core.op for every op applied while this graph traces."""
        in_ids = tuple([self._use(t) for t in tensors])
        if out._id == 0:
            out._id = next_id()
        self._define(out, self._unique(op.name))
        out.__class__ = SymbolicTensor
        self.nodes.append(Node(op, params, in_ids, (out._id,), user_site(3)))

    def next_random_seed(self) -> int:
        """The op seed of the next unseeded random op traced here (TF: the graph's op count)."""
        self._random_ops = getattr(self, "_random_ops", 0) + 1
        return self._random_ops

    def guard(self, t: Tensor, kind):
        """Take a Python decision on t's value now; the compiled program checks it on every call.

        When the graph re-traces a path (`forced`), the decision is the one forced for it.
        """
        guard = Guard(kind, None, self._guards)
        self._guards += 1
        value = self.forced.get(guard.ordinal)
        guard.expected = guard.decide(t._value) if value is None else value
        self.nodes.append(Node(None, {}, (self._use(t),), (), user_site(3), guard=guard))
        return guard.expected

    def stage(self, fn, args, kwargs, trace_result, name: str):
        """Record a staged call of fn(*args, **kwargs); return what tracing continues with."""
        # an iterator argument (zip(grads, vars)) is used up once: keep its items for every run
        args = tuple(list(a) if hasattr(a, "__next__") else a for a in args)
        leaves, structure = _split(args, kwargs, self.variable_args)
        in_ids = tuple(self._use(t) for t in leaves)
        result = trace_result(*args, **kwargs)
        outs = _tensor_leaves(result)
        for t in outs:
            if t._id in self.specs:
                raise RuntimeError(f"staged call {name} returned a tensor tracing already knows")
            t._id = next_id()
            self._define(t, self._unique(name))
            t.__class__ = SymbolicTensor
        call = StagedCall(fn, structure, len(outs), name, trace_result,
                          any(isinstance(t, Variable) for t in leaves))
        self.nodes.append(Node(None, {}, in_ids, tuple(t._id for t in outs), user_site(3), call))
        return result

    def enclose(self, start: int, fn, args, kwargs, outs, name: str) -> None:
        """Make nodes[start:], which a custom_gradient function just recorded, one Region node.

        `fn(*args, **kwargs)` is the call that recorded them; `outs` are its outputs.
        """
        leaves, structure = _split(args, kwargs, self.variable_args)
        region = Region(fn, structure, self.nodes[start:], name)
        del self.nodes[start:]
        self.nodes.append(Node(None, {}, tuple(self._use(t) for t in leaves), tuple(o._id for o in outs),
                               user_site(3), call=region))

    # -- printing -------------------------------------------------------------------------
    def var(self, vid: int) -> str:
        shape, dtype = self.specs[vid]
        return f"{self.names[vid]}:{_short(dtype)}{list(shape)}"

    def __str__(self) -> str:
        """The graph as a typed, jaxpr-like program: one line per node, the user's line beside it."""
        lines = [f"{{ lambda {' '.join(self.var(i) for i in self.inputs)} ."]
        if self.variables:
            lines.append("  variables " + " ".join(self.var(i) for i in self.variables))
        if self.constants:
            lines.append("  constants " + " ".join(self.var(i) for i in self.constants))
        lines.append("  let")
        width = 0
        body = []
        for node in self.nodes:
            outs = " ".join(self.var(i) for i in node.out_ids) or "()"
            params = ", ".join(f"{k}={_param_repr(v)}" for k, v in node.params.items())
            if node.guard is not None:
                params = f"{node.guard.kind.__name__}=={node.guard.expected!r}"
            head = node.name + (f"[{params}]" if params else "")
            body.append((f"    {outs} = {head} {' '.join(self.names[i] for i in node.in_ids)}".rstrip(),
                         _where(node.site)))
            width = max(width, len(body[-1][0]))
        lines += [f"{text.ljust(width)}  # {where}" for text, where in body]
        lines.append(f"  in ({', '.join(self.names[i] for i in self.outputs)}) }}")
        return "\n".join(lines)

    __repr__ = __str__

    # -- inspection: tapegrad/inspect/graph_view.py ----------------------------------------------
    def summary(self) -> str:
        """The nodes with their inputs, outputs, output bytes and the user's lines; with totals."""
        from ..inspect.graph_view import summary
        return summary(self)

    def to_dot(self, sources=None, targets=None) -> str:
        """The graph as Graphviz DOT text (see ``tapegrad.inspect.graph_view.to_dot``)."""
        from ..inspect.graph_view import to_dot
        return to_dot(self, sources, targets)

    def render(self, path: str, sources=None, targets=None) -> str:
        """Draw the graph to `path` through the graphviz package; returns the path."""
        from ..inspect.graph_view import render
        return render(self, path, sources, targets)


def _param_repr(v) -> str:
    if isinstance(v, dtypes.DType):
        return v.name
    if isinstance(v, np.dtype):
        return v.name
    return repr(v)


def _inline(nodes, copy: bool) -> list:
    out = []
    for node in nodes:
        if type(node.call) is Region:
            out += _inline(node.call.nodes, copy=True)
        else:
            out.append(Node(node.op, node.params, node.in_ids, node.out_ids, node.site, node.call, node.guard)
                       if copy else node)
    return out


# -- nests of arguments -----------------------------------------------------------------------

class _Slot:
    """Where a tensor argument goes back when a staged call is rebuilt."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _split(args, kwargs, variable_args=()):
    """Tensor leaves of (args, kwargs), and the structure with _Slot placeholders for them.

    Variables stay in the structure (read by reference) unless their id is in
    `variable_args`: the variables passed to the traced function differ from call to call.
    """
    leaves: list = []
    structure = (_slots(tuple(args), leaves, variable_args), _slots(dict(kwargs), leaves, variable_args))
    return leaves, structure


# The nest walkers are module functions, not closures that call themselves: a recursive closure is a
# reference cycle, and one made per call keeps that call's tensors (a step's gradients) alive until
# the cycle collector happens to run - memory that grows with the steps between collections.
def _slots(x, leaves: list, variable_args):
    if isinstance(x, Tensor) and (not isinstance(x, Variable) or x._id in variable_args):
        leaves.append(x)
        return _Slot(len(leaves) - 1)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_slots(v, leaves, variable_args) for v in x)
    if isinstance(x, dict):
        return {k: _slots(v, leaves, variable_args) for k, v in x.items()}
    if isinstance(x, IndexedSlices):  # staged as its parts, so a sparse update stays sparse
        return _SparseSlot(_slots(x.values, leaves, variable_args), _slots(x.indices, leaves, variable_args),
                           x.dense_shape)
    return x


class _SparseSlot:
    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values, indices, dense_shape):
        self.values, self.indices, self.dense_shape = values, indices, dense_shape


def _fill(structure, tensors):
    args, kwargs = structure
    return _filled(args, tensors), _filled(kwargs, tensors)


def _filled(x, tensors):
    if isinstance(x, _Slot):
        return tensors[x.index]
    if isinstance(x, _SparseSlot):
        return IndexedSlices(_filled(x.values, tensors), _filled(x.indices, tensors), x.dense_shape)
    if isinstance(x, (list, tuple)):
        return type(x)(_filled(v, tensors) for v in x)
    if isinstance(x, dict):
        return {k: _filled(v, tensors) for k, v in x.items()}
    return x


def _tensor_leaves(result) -> list:
    return [t for t in flatten(result) if isinstance(t, Tensor) and not isinstance(t, Variable)]
