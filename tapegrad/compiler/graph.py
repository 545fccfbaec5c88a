"""The traced program: equations over abstract values, recorded while a Python function runs.

While ``tf.function`` traces, ``core.op.state.graph`` holds a Graph and every op applied
goes to ``Graph.apply``: the op's shape rule gives its result's ShapedArray and the
equation is appended - no kernel runs, and the tensors made are SymbolicTensors, whose
values Python cannot read (TensorFlow's errors), so no value can be frozen into the
program.  The equations are the tape's own record (``core.op.Eqn``), with ShapedArrays for
inputs and outputs.

A Graph may have a parent: the branches of a ``cond`` and the body of a ``while_loop`` are
traced as sub-graphs, and a value of an enclosing graph used inside is *captured* - it
becomes an input of the sub-graph and of the equation that runs it, so every equation's
sub-programs are closed over what the equation reads.

Stateful Python-level work (optimizer and metric updates, variable assignments, tf.print)
is *staged*: one equation whose op is a ``StagedCall`` that runs the Python function with
that call's values every time the program runs.  A variable read by an op becomes a
``read_variable`` equation, so the value is the one the variable holds at that point of
the program (after any staged assignment before it).
"""
from __future__ import annotations

import types

import numpy as np

from ..core.aval import Dim, ShapedArray, leaves_of, public_shape, substitute
from ..core.op import (_OP_ERRORS, Eqn, _after, _error, _record_outputs, paused, state)
from ..core.source import user_site
from ..core.tensor import Tensor, Variable, next_id
from ..errors import OperatorNotAllowedInGraphError
from .staging import Region, StagedCall, _replace_leaves, split_arguments, tensor_leaves

GRAPH_HINT = ("Inside a tf.function, tensors are symbolic: use tf.print to see values when the "
              "function runs, or call tapegrad.config.run_functions_eagerly(True) to debug eagerly.")


_ONE_PASS = (zip, map, filter, enumerate, reversed, types.GeneratorType)


class SymbolicTensor(Tensor):
    """A tensor of a traced program: usable in ops, its value unknown until the program runs.

    ``_value`` is a ShapedArray: reading it as an array raises, so does every Python view of
    the value (``numpy``, ``bool``, ``float``, ``len``, iteration), with TensorFlow's errors.
    """

    __slots__ = ()
    _symbolic = True  # core.op refuses it outside the graph that made it (a leaked tensor)

    @property
    def shape(self):
        from ..core.shape import TensorShape
        return TensorShape(public_shape(self._value.shape))

    def _graph_name(self) -> str:
        graph = state.graph
        while graph is not None:
            name = graph.names.get(self._id)
            if name is not None:
                return name
            graph = graph.parent
        return f"tensor_{self._id}"

    def numpy(self):
        raise AttributeError(f"'SymbolicTensor' object has no attribute 'numpy': {self._graph_name()!r} is a "
                             f"symbolic tensor. {GRAPH_HINT}")

    def __array__(self, dtype=None, copy=None):
        raise NotImplementedError(f"Cannot convert a symbolic tf.Tensor ({self._graph_name()}) to a numpy "
                                  f"array. {GRAPH_HINT}")

    def __bool__(self):
        raise OperatorNotAllowedInGraphError(
            f"Using a symbolic `tf.Tensor` as a Python `bool` is not allowed ({self._graph_name()}: "
            f"its value exists only when the function runs). An `if`/`while` on a tensor in the function's "
            f"own code is converted to tf.cond/tf.while_loop (AutoGraph); elsewhere (a lambda, code AutoGraph "
            f"cannot read, `and`/`or` in library code, autograph=False) write tf.cond, tf.while_loop or "
            f"tf.where. "
            + GRAPH_HINT)

    def _python_value(self, what):
        raise TypeError(f"Cannot use the symbolic tensor {self._graph_name()} as a Python {what} inside a "
                        f"tf.function: its value exists only when the function runs. {GRAPH_HINT}")

    def __index__(self):
        self._python_value("index")

    def __int__(self):
        self._python_value("int")

    def __float__(self):
        self._python_value("float")

    def __complex__(self):
        self._python_value("complex")

    def __len__(self):
        raise TypeError(f"len is not well defined for symbolic Tensors ({self._graph_name()}). Please "
                        f"call `x.shape` rather than `len(x)` for shape information.")

    def __iter__(self):
        raise OperatorNotAllowedInGraphError(
            f"Iterating over a symbolic `tf.Tensor` is not allowed ({self._graph_name()}): a `for` loop over "
            f"it in the function's own code is converted to tf.while_loop (AutoGraph); elsewhere use "
            f"tf.unstack with a static length, or tf.map_fn. " + GRAPH_HINT)

    def __format__(self, spec):
        if spec:
            raise TypeError(f"Cannot format the symbolic tensor {self._graph_name()} as a number inside a "
                            f"tf.function. {GRAPH_HINT}")
        return str(self)

    def __repr__(self):
        return f"<tf.Tensor '{self._graph_name()}:0' shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self):
        return f'Tensor("{self._graph_name()}:0", shape={self.shape}, dtype={self.dtype.name})'


def symbolic(aval: ShapedArray, vid: int) -> SymbolicTensor:
    t = SymbolicTensor.__new__(SymbolicTensor)
    t._value, t._id = aval, vid
    return t


class GraphTensor(SymbolicTensor):
    """A value of a finished program shown to the user (a ConcreteFunction's inputs and outputs):
    it knows its program, for its name."""

    __slots__ = ("_graph",)

    def _graph_name(self) -> str:
        return self._graph.names.get(self._id, f"tensor_{self._id}")


class RunEagerly(Exception):
    """Raised while tracing by code a graph cannot hold: the function then runs its Python
    eagerly on every call - correct, only not compiled."""


class Graph:
    """A traced program: equations in program order over typed values.

    `avals` gives every value's ShapedArray (inputs, results, captured variables and
    constants); `names` the name printed and used in generated code.  Inputs come first: the
    arguments' tensors, then (for a sub-graph) the values it captured.
    """

    def __init__(self, name: str, parent: "Graph | None" = None):
        self.name = name
        self.parent = parent
        self.eqns: list = []
        self.inputs: list = []             # placeholder ids, in order
        self.outputs: list = []            # output ids, flattened
        self.output_structure = None       # the returned nest, tensors replaced by _Out
        self.avals: dict = {}              # id -> ShapedArray
        self.names: dict = {}              # id -> name
        self.constants: dict = {}          # id -> ndarray captured by value
        # id -> Variable read by reference when the program runs; None for a variable argument
        # (each call passes its own: keeping the traced one would keep it alive)
        self.variables: dict = {}
        self.variable_args: list = []      # ids of the Variables passed as arguments: parameters
        self.captures: dict = {}           # enclosing graph's id -> the input id capturing it
        self.known: dict = {}              # id -> what is known of an int tensor's value (sizes)
        self.outer_sizes: dict = {}        # a size leaf of an input -> the enclosing program's size
        self.created_variables: list = []
        self.autograph = True              # the function's autograph=: does code traced in it get converted
        self._counts = parent._counts if parent is not None else {}  # names unique in the program

    # -- values ------------------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def _define(self, vid: int, aval: ShapedArray, name: str) -> ShapedArray:
        """Give value `vid` its type and name; a dim the rule left None is read from the value."""
        if any(d is None for d in aval.shape):
            aval = ShapedArray(tuple(Dim.axis(vid, k) if d is None else d for k, d in enumerate(aval.shape)),
                               aval.dtype)
        self.avals[vid] = aval
        self.names[vid] = self._unique(name)
        return aval

    def placeholder(self, shape, dtype, name: str) -> SymbolicTensor:
        """A new input of the program.  A None dim becomes the input's own symbolic size; so does
        a size of an enclosing program (a sub-program reads its sizes from its own inputs, so it
        runs on its own), remembered in `outer_sizes`."""
        vid = next_id()
        self.inputs.append(vid)
        return symbolic(self._define(vid, self._own_sizes(vid, shape, dtype), name), vid)

    def _own_sizes(self, vid, shape, dtype) -> ShapedArray:
        own = []
        for k, d in enumerate(shape):
            if isinstance(d, Dim):
                leaf = Dim.axis(vid, k)
                self.outer_sizes[leaf] = d
                d = leaf
            own.append(d)
        return ShapedArray(own, dtype)

    def outer_size(self, d):
        """A size of this sub-program as its enclosing program knows it (None when it does not)."""
        if not isinstance(d, Dim):
            return d
        try:
            return d.substitute(self._outer_leaf)
        except KeyError:
            return None

    def _outer_leaf(self, leaf):
        return self.outer_sizes[leaf]

    @property
    def root(self) -> "Graph":
        graph = self
        while graph.parent is not None:
            graph = graph.parent
        return graph

    def defines(self, vid: int) -> bool:
        return vid in self.avals

    def owner(self, vid: int):
        graph = self
        while graph is not None and vid not in graph.avals:
            graph = graph.parent
        return graph

    def use(self, t: Tensor) -> int:
        """The id an equation reads t by: defined here, captured from an enclosing graph, a
        variable (by reference) or a constant (by value)."""
        tid = t._id
        if tid and tid in self.avals:
            return tid
        if isinstance(t, Variable):
            # a variable argument is a parameter of the whole program, read through it everywhere
            self.variables[tid] = None if tid in self.root.variable_args else t
            self.avals[tid] = ShapedArray(t._value.shape, t._value.dtype)
            self.names.setdefault(tid, self._unique(t.name.rsplit(":", 1)[0].replace("/", ".")))
            return tid
        if type(t) is SymbolicTensor:
            owner = self.parent.owner(tid) if self.parent is not None and tid else None
            if owner is None:
                raise TypeError(
                    f"The symbolic tensor {t._graph_name()} was made by another tf.function's trace (or an "
                    f"earlier trace of this one) and is out of scope here: return it from that function "
                    f"instead of keeping it in a global or an attribute.")
            outer = self.parent.use(t)
            inner = self.captures.get(outer)
            if inner is None:
                inner = next_id()
                self.inputs.append(inner)
                self.captures[outer] = inner
                aval = self.parent.avals[outer]
                self.avals[inner] = self._own_sizes(inner, aval.shape, aval.dtype)
                self.names[inner] = self._unique(self.parent.names[outer])
            return inner
        if tid == 0:
            t._id = tid = next_id()
        if tid not in self.constants:
            value = t._value
            self.constants[tid] = value
            self.avals[tid] = ShapedArray(np.shape(value), np.asarray(value).dtype)
            self.names[tid] = self._unique("const")
        return tid

    def _local_sizes(self, params):
        """`params` with each size read from a value of an enclosing program read from that value
        captured here instead: a sub-program reads its sizes from its own inputs."""
        leaves = leaves_of(params)
        if not leaves:
            return params
        local = {}
        for leaf in leaves:
            vid = leaf.args[0]
            if vid in self.avals:
                continue
            owner = self.parent.owner(vid)
            if owner is None:
                raise TypeError(f"a size of a value out of scope here (%{vid}) is used in a tf.function")
            inner = self.use(owner.tensor(vid))
            local[leaf] = Dim.axis(inner, leaf.args[1]) if leaf.op == "axis" else Dim.value(inner)
        return substitute(params, lambda leaf: local.get(leaf, leaf)) if local else params

    def tensor(self, vid: int) -> SymbolicTensor:
        return symbolic(self.avals[vid], vid)

    def named_tensor(self, vid: int) -> GraphTensor:
        """Value `vid` as a tensor that names itself after this program's name for it."""
        t = GraphTensor.__new__(GraphTensor)
        t._value, t._id, t._graph = self.avals[vid], vid, self
        return t

    def compilable(self, parent=None) -> "Graph":
        """A copy for the passes to edit (they rewrite equation lists and tables), with every
        custom-gradient Region replaced by the equations it recorded - what compiles.  The
        traced program stays as it is: interpreting it calls those functions again."""
        g = Graph(self.name, parent)
        g._counts = self._counts
        g.eqns = [_copied(e, g) for e in inline_regions(self.eqns)]
        g.inputs, g.outputs, g.output_structure = list(self.inputs), list(self.outputs), self.output_structure
        g.avals, g.names, g.known = dict(self.avals), dict(self.names), dict(self.known)
        g.constants, g.variables = dict(self.constants), dict(self.variables)
        g.variable_args, g.captures = list(self.variable_args), dict(self.captures)
        g.outer_sizes = dict(self.outer_sizes)
        if hasattr(self, "_gradient_contexts"):
            g._gradient_contexts = self._gradient_contexts
        return g

    # -- recording --------------------------------------------------------------------------
    def apply(self, op, tensors, params):
        """Record `op` applied to `tensors` (core.op.apply calls this while tracing)."""
        tensors = [read_variable(t) if type(t) is Variable else t for t in tensors]
        in_ids = tuple([self.use(t) for t in tensors])
        if self.parent is not None and params:
            params = self._local_sizes(params)
        avals = tuple([self.avals[i] for i in in_ids])
        try:
            result = op.abstract(avals, params)
        except _OP_ERRORS as e:
            raise _error(op, tensors, params, e) from None
        outs = self._outputs(op.name, result)
        known = getattr(op, "known", None)
        if known is not None:
            knowns = [self.known_value(i) for i in in_ids]
            value = known(avals, knowns, **params)
            if value is not None:
                self.known[outs[0]._id] = value
        site = user_site(3)
        out_avals = tuple(o._value for o in outs)
        self.eqns.append(Eqn.make(op, params, in_ids, avals, tuple(o._id for o in outs),
                                  out_avals[0] if len(outs) == 1 else out_avals, site))
        if len(outs) == 1:
            if state.tapes or state.accumulators or state.numerics is not None or state.shadows:
                _after(op, tensors, outs[0], params)
            return outs[0]
        if state.tapes or state.accumulators:
            _record_outputs(op, tensors, outs, params)
        return tuple(outs)

    def _outputs(self, name: str, result) -> list:
        results = result if isinstance(result, tuple) else (result,)
        outs = []
        for aval in results:
            vid = next_id()
            outs.append(symbolic(self._define(vid, aval, name), vid))
        return outs

    def stage(self, fn, args, kwargs, trace_result, name: str):
        """Record a staged call of fn(*args, **kwargs); return what tracing continues with.

        Each tensor ``trace_result(*args, **kwargs)`` returns stands for a result of the call
        (a new value of the program, of that tensor's type)."""
        # a Python iterator argument (zip(grads, vars)) is used up once: keep its items for every run
        args = tuple(list(a) if isinstance(a, _ONE_PASS) else a for a in args)
        leaves, structure = split_arguments(args, kwargs, self.variable_args)
        in_ids = tuple(self.use(t) for t in leaves)
        result = trace_result(*args, **kwargs)
        results = tensor_leaves(result)
        outs = self._outputs(name, tuple(ShapedArray(t._value.shape, t._value.dtype) for t in results))
        call = StagedCall(fn, structure, len(outs), name, trace_result,
                          any(isinstance(t, Variable) for t in leaves))
        self.eqns.append(Eqn.make(call, {}, in_ids, tuple(self.avals[i] for i in in_ids),
                                  tuple(o._id for o in outs), tuple(o._value for o in outs), user_site(3)))
        if not results:
            return result
        return _replace_leaves(result, {id(t): o for t, o in zip(results, outs)})

    def enclose(self, start: int, fn, args, kwargs, outs, name: str) -> None:
        """Make eqns[start:], which a custom_gradient function just recorded, one Region equation.

        `fn(*args, **kwargs)` is the call that recorded them; `outs` are its outputs."""
        leaves, structure = split_arguments(args, kwargs, self.variable_args)
        region = Region(fn, structure, self.eqns[start:], name)
        del self.eqns[start:]
        in_ids = tuple(self.use(t) for t in leaves)
        self.eqns.append(Eqn.make(region, {}, in_ids, tuple(self.avals[i] for i in in_ids),
                                  tuple(o._id for o in outs), tuple(o._value for o in outs), user_site(3)))

    def variable_argument(self, var: Variable) -> Variable:
        """A Variable passed as an argument: a parameter of the program (the variable each call
        passes, read live), not the one traced with; passed twice, one parameter."""
        vid = self.use(var)
        if vid not in self.variable_args:
            self.variable_args.append(vid)
            self.variables[vid] = None
        return var

    def known_value(self, vid: int):
        """What is known of an integer value while tracing: sizes for a tensor's shape and what is
        computed from it (``tf.shape(x)[0] - 1``), ints for small integer constants; else None."""
        known = self.known.get(vid)
        if known is None and vid in self.constants:
            value = np.asarray(self.constants[vid])
            if value.dtype.kind in "iu" and value.ndim <= 1 and value.size <= 16:
                known = int(value) if value.ndim == 0 else tuple(int(v) for v in value)
        return known

    def next_random_seed(self) -> int:
        """The op seed of the next unseeded random op traced here (TF: the graph's op count)."""
        root = self.root
        root._random_ops = getattr(root, "_random_ops", 0) + 1
        return root._random_ops

    # -- what Python may know of a traced value -------------------------------------------
    def static_value(self, t: Tensor):
        """A traced integer tensor given where an op wants a static value (a shape, a size): the
        ints and sizes known of it (``tf.shape(x)[0]``), else sizes read when the program runs."""
        vid = self.use(t)
        known = self.known_value(vid)
        if known is not None:
            return known
        aval = self.avals[vid]
        if aval.dtype.kind not in "iu":
            raise TypeError(f"A {aval.dtype.name} tensor cannot be used as a size or an index here (inside "
                            f"a tf.function its value is known only when the function runs)")
        if aval.ndim == 0:
            return Dim.value(vid)
        if aval.ndim == 1 and isinstance(aval.shape[0], int):
            from ..ops.indexing import getitem
            return tuple(Dim.value(self.use(getitem(t, key=(k,)))) for k in range(aval.shape[0]))
        raise TypeError(f"A tensor of shape {public_shape(aval.shape)} cannot be used as a list of sizes "
                        f"inside a tf.function (its length must be known when it traces)")

    def dim_tensor(self, dim, dtype=None) -> Tensor:
        """A symbolic size as a scalar tensor (int32, or `dtype`), computed when the program runs."""
        from ..ops.symbolic import dim_size
        return dim_size(dim=dim, dtype=np.dtype(np.int32) if dtype is None else np.dtype(dtype))

    def lift(self, t: Tensor) -> Tensor:
        """The value of a traced tensor that depends on no argument (a variable's initial value
        made inside the function), computed now, as TF's init_scope lifts it."""
        vid = self.use(t)
        needed, eqns = {vid}, []
        for eqn in reversed(self.eqns):
            if needed.intersection(eqn.out_ids):
                needed.update(eqn.in_ids)
                eqns.append(eqn)
        arguments = needed.intersection(self.inputs)
        if arguments:
            raise ValueError(
                f"A tf.Variable created inside a tf.function has an initial value computed from the "
                f"function's arguments ({', '.join(self.names[i] for i in arguments)}): create it outside "
                f"the function, or from values that do not depend on the arguments.")
        from .interpret import run_eqns
        with paused():
            env = run_eqns(self, eqns[::-1], {})
        return env[vid]

    # -- printing: printing.py ----------------------------------------------------------------
    def __str__(self) -> str:
        """The program as a typed, jaxpr-like listing: one line per equation, the user's line beside it."""
        from .printing import program_lines
        return "\n".join(program_lines(self, ""))

    __repr__ = __str__

    def as_graph_def(self):
        """The program as TF's GraphDef view: one node per input, variable, constant and equation,
        each with its name, op and inputs (enough for code that lists or counts nodes)."""
        from .printing import graph_def
        return graph_def(self)

    # -- inspection: tapegrad/inspect/graph_view.py ----------------------------------------------
    def summary(self) -> str:
        """The equations with their inputs, outputs, output bytes and the user's lines; with totals."""
        from ..inspect.graph_view import summary
        return summary(self)

    def to_dot(self, sources=None, targets=None) -> str:
        """The program as Graphviz DOT text (see ``tapegrad.inspect.graph_view.to_dot``)."""
        from ..inspect.graph_view import to_dot
        return to_dot(self, sources, targets)

    def render(self, path: str, sources=None, targets=None) -> str:
        """Draw the program to `path` through the graphviz package; returns the path."""
        from ..inspect.graph_view import render
        return render(self, path, sources, targets)


def _is_graph(v) -> bool:
    return isinstance(v, Graph) or \
        (isinstance(v, dict) and v and all(isinstance(g, Graph) for g in v.values()))


def read_variable(var: Variable) -> Tensor:
    """A traced read of `var`: the value it holds at this point of the program."""
    from ..ops.symbolic import read_variable as op
    graph = state.graph
    vid = graph.use(var)
    name = var.name.rsplit(":", 1)[0].split("/")[-1]
    out = graph._outputs(name, ShapedArray(var._value.shape, var._value.dtype))[0]
    aval = graph.avals[vid]
    graph.eqns.append(Eqn.make(op, {}, (vid,), (aval,), (out._id,), out._value, user_site(3)))
    if state.tapes or state.accumulators:
        _after(op, [var], out, {})
    return out


def subgraphs(eqn):
    """The sub-programs an equation runs (a cond's branches, a loop's condition and body)."""
    for v in eqn.params.values():
        if isinstance(v, Graph):
            yield v
        elif isinstance(v, dict) and v and all(isinstance(g, Graph) for g in v.values()):
            yield from v.values()


def _copied(eqn, parent) -> Eqn:
    """An equation whose sub-programs are copies (for the passes to edit)."""
    if not any(True for _ in subgraphs(eqn)):
        return eqn
    params = {k: v.compilable(parent) if isinstance(v, Graph) else
              {n: g.compilable(parent) for n, g in v.items()} if _is_graph(v) else v
              for k, v in eqn.params.items()}
    return Eqn.make(eqn.op, params, eqn.in_ids, eqn.inputs, eqn.out_ids, eqn.out, eqn.site)


def inline_regions(eqns) -> list:
    """The equations with each Region replaced by the equations it recorded (recursively)."""
    out = []
    for eqn in eqns:
        if type(eqn.op) is Region:
            out += inline_regions(eqn.op.eqns)
        else:
            out.append(eqn)
    return out
