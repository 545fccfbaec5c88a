"""Function: ``tf.function``'s trace cache, retracing rules and the compiled call.

TensorFlow's rules decide when a call *traces* (spec §2.2-2.5): tensors are keyed by
dtype and shape, Python values by value, other objects by identity; ``reduce_retracing``
generalises shapes to ``None`` dims; ``input_signature`` fixes one signature.  Those traces
are what ``experimental_get_tracing_count`` counts and when Python side effects run.

Underneath, a compiled program is specialised to exact shapes (its kernels' params, such
as a mean's divisor, are constants).  A call whose shapes fit a traced signature but were
never seen runs the Python function once more to specialise it; that is not a trace in
TensorFlow's sense and is not counted (Python side effects run again then: use tf.print).
A Python decision on a tensor taken after a staged call (an optimizer update) cannot start
the call again: the program ends in a Branch there, with one continuation per outcome seen.

A call that something else records - a GradientTape or ForwardAccumulator, or another
function being traced (a nested tf.function) - *replays* the traced program: its ops are
applied one by one, so the tapes record them (gradients of any order), forward mode
pushes tangents, and an outer trace inlines them, while the Python function does not run
again (trace counts and trace-time prints stay TF's).  Only the compiled call itself is
one fused program; a replayed one costs what the eager ops cost.  The exception is a
``custom_gradient`` function: a replay calls it again (its Python runs), because the
tapes need that call's ``grad_fn``.
"""
from __future__ import annotations

import inspect
import logging
import weakref

import numpy as np

from ..core import dtypes
from ..core.op import apply, paused, state
from ..core.source import format_site, user_site
from ..core.spec import TensorSpec
from ..core.tape import _creation_listeners
from ..core.tensor import Tensor, Variable, convert_to_array, next_id
from ..errors import InvalidArgumentError
from ..ops.array import identity
from .. import config
from .codegen import compile_graph
from .passes import optimize
from .graph import (Branch, BranchMissing, Graph, GuardFailed, Node, Region, RunEagerly, _fill,
                    _tensor_leaves, _where, runner)

logger = logging.getLogger("tapegrad")

# TF's thresholds: warn when >= 5 of the last 10 calls traced; at most twice per function
_WARN_THRESHOLD, _HISTORY, _MAX_WARNINGS = 5, 10, 2
_detectors: dict = {}


class _Detector:
    __slots__ = ("history", "warnings")

    def __init__(self):
        self.history: list = []
        self.warnings = 0


# -- trace types ------------------------------------------------------------------------------

class _Leaf:
    """A tensor argument's trace type: NumPy dtype and shape (None dims where relaxed).

    A Variable argument's adds (trainable, alias): TF 2.21 keys a Variable by dtype and
    shape, not identity (the compiled program takes it as a parameter and reads it live);
    the alias is the position of its first occurrence among the call's variables, so
    passing one variable twice is another signature than passing two.
    """

    __slots__ = ("dtype", "shape", "variable")

    def __init__(self, dtype, shape, variable=None):
        self.dtype, self.shape = dtype, tuple(shape) if shape is not None else None
        self.variable = variable

    def __eq__(self, other):
        return isinstance(other, _Leaf) and other.dtype == self.dtype and other.shape == self.shape and \
            other.variable == self.variable

    def __hash__(self):
        return hash((self.dtype, self.shape, self.variable))

    def accepts(self, other: "_Leaf") -> bool:
        if self.dtype != other.dtype or self.variable != other.variable:
            return False
        if self.shape is None:
            return True
        return other.shape is not None and len(self.shape) == len(other.shape) and all(
            a is None or a == b for a, b in zip(self.shape, other.shape))

    def relaxed(self, other: "_Leaf"):
        """The most specific type taking both, or None when dtypes or variable-ness differ."""
        if self.dtype != other.dtype or self.variable != other.variable:
            return None
        if self.shape is None or other.shape is None or len(self.shape) != len(other.shape):
            return _Leaf(self.dtype, None, self.variable)
        return _Leaf(self.dtype, tuple(a if a == b else None for a, b in zip(self.shape, other.shape)),
                     self.variable)

    def __repr__(self):
        shape = "<unknown rank>" if self.shape is None else str(self.shape)
        if self.variable is None:
            return f"{self.dtype}{shape}"
        trainable, alias = self.variable
        return f"Variable[{self.dtype}{shape}, trainable={trainable}, alias_id={alias}]"


def _trace_type(value, aliases: dict):
    """A hashable description of an argument by TF's rules (tensors by type, Python by value).

    `aliases`: id -> alias number of the Variables met so far in this call's arguments.
    """
    if isinstance(value, Variable):
        return _Leaf(value._value.dtype, value._value.shape,
                     (value._trainable, aliases.setdefault(id(value), len(aliases))))
    if isinstance(value, Tensor):  # the np.dtype, not its name: computing a name costs microseconds
        return _Leaf(value._value.dtype, value._value.shape)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return _Leaf(np.asarray(value).dtype, np.shape(value))
    if isinstance(value, TensorSpec):
        return _Leaf(np.dtype(value.dtype.as_numpy_dtype),
                     None if value.shape.rank is None else tuple(value.shape))
    if value is None or isinstance(value, (bool, int, float, str, complex, bytes)):
        return ("python", type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_trace_type(v, aliases) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _trace_type(v, aliases)) for k, v in value.items())))
    return ("object", id(value))


def _accepts(signature, key) -> bool:
    """Does a traced signature (possibly with None dims) take a call of this exact type?"""
    if isinstance(signature, _Leaf):
        return isinstance(key, _Leaf) and signature.accepts(key)
    if isinstance(signature, tuple) and isinstance(key, tuple):
        return len(signature) == len(key) and all(_accepts(s, k) for s, k in zip(signature, key))
    return signature == key


def _relax(signature, key):
    """The most specific type taking both (shapes generalised), or None when they differ otherwise."""
    if isinstance(signature, _Leaf) and isinstance(key, _Leaf):
        return signature.relaxed(key)
    if isinstance(signature, tuple) and isinstance(key, tuple) and len(signature) == len(key):
        parts = []
        for s, k in zip(signature, key):
            part = _relax(s, k)
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)
    return signature if signature == key else None


def _differences(names, old, new, path=""):
    """Human-readable changes between two argument type lists."""
    out = []
    for name, a, b in zip(names, old, new):
        label = f"{path}{name}"
        if a == b:
            continue
        if isinstance(a, _Leaf) and isinstance(b, _Leaf):
            what = "dtype" if a.dtype != b.dtype else "shape" if a.shape != b.shape else "variable"
            if what == "variable":
                out.append(f"{label}: {a!r} → {b!r}")
            else:
                out.append(f"{label}: {what} {a.dtype if what == 'dtype' else a.shape} → "
                           f"{b.dtype if what == 'dtype' else b.shape}")
        elif isinstance(a, tuple) and a and a[0] == "python":
            out.append(f"{label}: Python value {a[2]!r} → {b[2]!r}" if isinstance(b, tuple) and b and
                       b[0] == "python" else f"{label}: {a} → {b}")
        elif isinstance(a, tuple) and a and a[0] == "object":
            out.append(f"{label}: a different object (passed by identity)")
        else:
            out.append(f"{label}: {a} → {b}")
    return out


# -- concrete functions -----------------------------------------------------------------------

class _Program:
    """A compiled specialisation: the generated function, the optimised graph, the traced graph
    (what a replay reads, None for a Branch's continuation) and the traced graph's decisions
    ({ordinal: outcome}: the path a replay that decides otherwise looks programs up by)."""

    __slots__ = ("run", "graph", "raw", "source", "path")

    def __init__(self, run, graph, raw, source):
        self.run, self.graph, self.raw, self.source = run, graph, raw, source
        self.path = {} if raw is None else \
            {node.guard.ordinal: node.guard.expected for node in raw.nodes if node.guard is not None}


class ConcreteFunction:
    """One traced signature: its graph (printable), its generated code, and specialisations."""

    def __init__(self, function, signature, graph, compiled, source, structured=None):
        self._function = function
        self.signature = signature
        self.graph = graph
        self._compiled = compiled
        self.code = source
        self._structured = structured

    @property
    def structured_input_signature(self):
        """TF's ``(args, kwargs)``: a ``TensorSpec`` named after its argument for each tensor (with
        this trace's shapes, None dims where relaxed), Python values as themselves.

        >>> import tapegrad as tf
        >>> @tf.function
        ... def double(x, n=2):
        ...     return x * n
        >>> double.get_concrete_function(tf.ones([3])).structured_input_signature
        ((TensorSpec(shape=(3,), dtype=tf.float32, name='x'), 2), {})
        """
        return self._structured

    def __call__(self, *args, **kwargs):
        return self._function._call_concrete(self, args, kwargs)

    def __repr__(self):
        return f"<ConcreteFunction {self.graph.name}{self.signature}>"


# -- the decorator ---------------------------------------------------------------------------------

class Function:
    """A Python function traced into a graph and run as generated code (``tf.function``)."""

    def __init__(self, python_function, input_signature=None, reduce_retracing=False, autograph=True,
                 jit_compile=None, name=None):
        self._python_function = python_function
        self._input_signature = None if input_signature is None else tuple(input_signature)
        self._reduce_retracing = bool(reduce_retracing)
        self._autograph = autograph
        self._jit_compile = jit_compile
        self.__name__ = name or getattr(python_function, "__name__", "function")
        self.__doc__ = getattr(python_function, "__doc__", None)
        self.__wrapped__ = python_function
        self._signature = inspect.signature(python_function)
        self._concrete: list[ConcreteFunction] = []   # traced signatures, in trace order
        self._by_exact: dict = {}                     # exact call type -> [_Program], newest first
        self._tracing_count = 0
        self._eager_reason = None   # why this function runs its Python eagerly, if it must
        self._descriptor_cache = weakref.WeakKeyDictionary()
        if self._input_signature is not None:
            for spec in self._input_signature:
                if not isinstance(spec, (TensorSpec, list, tuple)):
                    raise TypeError(f"input_signature must be a possibly nested sequence of TensorSpec "
                                    f"objects, got {spec!r}")

    # -- TF's public surface ------------------------------------------------------------------
    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    def experimental_get_tracing_count(self) -> int:
        return self._tracing_count

    def get_concrete_function(self, *args, **kwargs) -> ConcreteFunction:
        """Trace (if needed) for these arguments (tensors or TensorSpecs) and return the trace."""
        if not args and not kwargs and self._input_signature is not None:
            args = self._input_signature
        bound = self._bind(args, kwargs)
        key = self._key(bound)
        concrete = self._find(key)
        if concrete is None:
            concrete, _ = self._trace(bound, key, exact=_spec_exact(key))
        return concrete

    def pretty_printed_concrete_signatures(self) -> str:
        return "\n".join(f"{self.__name__}{c.signature}" for c in self._concrete)

    def __get__(self, instance, owner):
        """Methods: one Function per instance, as TF (traces are not shared between instances)."""
        if instance is None:
            return self
        bound = self._descriptor_cache.get(instance)
        if bound is None:
            bound = Function(self._python_function.__get__(instance, owner), self._input_signature,
                             self._reduce_retracing, self._autograph, self._jit_compile, self.__name__)
            self._descriptor_cache[instance] = bound
        return bound

    def __repr__(self):
        return f"<tapegrad.function {self.__name__}>"

    # -- calling ----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if config.functions_run_eagerly() or self._eager_reason is not None:
            return self._python_function(*args, **kwargs)
        bound = self._bind(args, kwargs)
        key = self._key(bound)
        concrete = self._find(key)
        traced = concrete is None
        if traced:
            try:
                concrete, _ = self._trace(bound, key)
            except RunEagerly as reason:
                self._tracing_count += 1
                self._eager_reason = str(reason)
                logger.info("tf.function %s runs eagerly: %s", self.__name__, reason)
                return self._python_function(*args, **kwargs)
        if state.graph is None:  # TF's retracing warning counts calls from Python, not from traces
            self._note_call(traced)
        return self._call_bound(concrete, bound, key)

    def _call_concrete(self, concrete, args, kwargs):
        """Call one traced signature; TF's errors for a call that does not fit it.

        A tensor of another dtype is an InvalidArgumentError (TF's graph function refuses
        it when run); anything else (a Python value other than the traced one, another
        structure or shape) a TypeError from binding.  An equal Python value of another type
        (2.0 for 2) fits, as in TF.
        """
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(_concrete_binding_error(e, args, kwargs, concrete)) from None
        bound.apply_defaults()
        if self._input_signature is not None:
            self._check_signature(bound)
        key = self._key(bound)
        if not _accepts(concrete.signature, key):
            position = 0
            for expected, got in zip(concrete.signature, key):
                problem, position = _misfit(expected, got, position)
                if problem is None:
                    continue
                if problem[0] == "dtype":
                    _, at, want, have = problem
                    name = f"__inference_{self.__name__}"
                    raise InvalidArgumentError(
                        f"cannot compute {name} as input #{at}(zero-based) was expected to be a "
                        f"{want.dtype} tensor but is a {have.dtype} tensor [Op:{name}]")
                _, want, have, value = problem
                raise TypeError(_concrete_binding_error(f"Can not cast {value} to {_type_text(want)}", args,
                                                        kwargs, concrete))
        return self._call_bound(concrete, bound, key)

    def _call_bound(self, concrete, bound, key):
        # a tape, an accumulator or an outer trace must see the ops (check numerics alone, also
        # in state.active, is done by the compiled code itself)
        if state.active and (state.tapes or state.accumulators or state.graph is not None):
            programs = self._by_exact.get(key)
            program = programs[0] if programs else self._specialise(bound, key)
            return self._replay(program, bound, key, _parameters(bound, _as_tensor))
        arrays = _parameters(bound, _as_array)
        for program in self._by_exact.get(key, ()):  # programs for this exact type
            try:
                return self._execute(program, bound, arrays)
            except GuardFailed:  # a Python decision on a tensor went the other way: try the next
                continue
        # a shape (or decision) no program was specialised for: run the Python function again
        return self._execute(self._specialise(bound, key), bound, arrays)

    def _execute(self, program, bound, arrays):
        """Run a compiled program, growing its branches (decisions after staged calls) as needed."""
        part, args = program, arrays
        while True:
            try:
                return _pack(program.graph.output_structure, runner(part)(*args))
            except BranchMissing as missing:  # the call goes on where it stopped
                part = self._continuation(missing.branch, missing.decision, bound)
                args = missing.arrays
            except _KERNEL_ERRORS as e:
                # keep the traceback: it goes through the generated line that failed
                raise _kernel_error(part.graph, e).with_traceback(e.__traceback__) from None

    def _replay(self, program, bound, key, tensors):
        """Apply the traced program's ops one by one to `tensors` (see the module docstring).

        A decision other than the program's goes on in the program traced for that path, made
        once: running the Python function again on every call that alternates would compile a
        program per call.
        """
        raw = program.raw
        env = dict(zip(raw.inputs + raw.variable_args, tensors))
        variables = tensors[len(raw.inputs):]
        decided: dict = {}
        n = 0
        while n < len(raw.nodes):
            node = raw.nodes[n]
            ins = [_value_of(raw, env, i) for i in node.in_ids]
            if node.guard is not None:
                guard = node.guard
                decided[guard.ordinal] = decision = _decide(ins[0], guard)
                if decision != guard.expected:  # the rest of the call follows another path
                    old = raw.defined_before(n)
                    raw = (_program_for(self._by_exact[key], decided) or
                           self._specialise(bound, key, decided)).raw
                    n, new = _rest(raw, guard.ordinal, len(old), self.__name__)
                    env = dict(zip(new, (env[i] for i in old)))
                    env.update(zip(raw.variable_args, variables))
            elif node.op is not None:
                env[node.out_ids[0]] = apply(node.op, ins, node.params)
            elif type(node.call) is Region:  # a custom gradient: called again, for its grad_fn
                region = node.call
                if _read_later(raw, n, region):
                    _forward_values(raw, region, env)
                args, kwargs = _fill(region.structure, ins)
                env.update(zip(node.out_ids, _tensor_leaves(region.fn(*args, **kwargs))))
            else:
                args, kwargs = _fill(node.call.structure, ins)
                env.update(zip(node.out_ids, _tensor_leaves(_restage(node.call, args, kwargs))))
            n += 1
        return _pack(raw.output_structure, [_value_of(raw, env, i) for i in raw.outputs])

    # -- binding and keys ----------------------------------------------------------------------
    def _bind(self, args, kwargs):
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            if self._input_signature is not None:
                raise TypeError(_binding_error(e, args, kwargs, self._signature)) from None
            raise TypeError(f"{self.__name__}(): {e}") from None
        bound.apply_defaults()
        if self._input_signature is not None:
            self._check_signature(bound)
        return bound

    def _check_signature(self, bound):
        """Convert the arguments to tensors as the input_signature says; TF's error when one won't fit."""
        specs = self._input_signature
        names = list(bound.arguments)

        def fit(spec, value):
            if not isinstance(spec, TensorSpec):  # a nested list/tuple of specs
                if not isinstance(value, (list, tuple)) or len(value) != len(spec):
                    fail(spec, value)
                return type(value)(fit(s, v) for s, v in zip(spec, value))
            if isinstance(value, TensorSpec):
                t = value
            else:
                try:
                    t = value if isinstance(value, Tensor) else Tensor(convert_to_array(value, spec.dtype))
                except (TypeError, ValueError):
                    fail(spec, value)
            if dtypes.as_dtype(t.dtype) != spec.dtype or not spec.shape.is_compatible_with(tuple(t.shape)):
                fail(spec, TensorSpec(tuple(t.shape), t.dtype))
            return t

        def fail(spec, got):
            raise TypeError(_binding_error(f"Can not cast {got!r} to {spec!r}", tuple(bound.args), bound.kwargs,
                                           f"({', '.join(f'{n}: {sp!r}' for n, sp in zip(names, specs))})"))

        for name, spec in zip(names, specs):
            bound.arguments[name] = fit(spec, bound.arguments[name])

    def _key(self, bound) -> tuple:
        aliases: dict = {}
        return tuple(_trace_type(v, aliases) for v in bound.arguments.values())

    def _find(self, key):
        for concrete in reversed(self._concrete):
            if _accepts(concrete.signature, key):
                return concrete
        return None

    # -- tracing -------------------------------------------------------------------------------------
    def _signature_for(self, key):
        """The TF-level signature a new trace gets: exact, relaxed, or the input_signature."""
        if self._input_signature is not None:
            return tuple(_trace_type(s, {}) for s in self._input_signature) + key[len(self._input_signature):]
        if self._reduce_retracing:
            for concrete in reversed(self._concrete):
                relaxed = _relax(concrete.signature, key)
                if relaxed is not None:
                    return relaxed
        return key

    def _trace(self, bound, key, exact=True):
        signature = self._signature_for(key)
        first = not self._concrete
        raw = self._trace_raw(bound, first=first)
        self._tracing_count += 1
        if first and raw.created_variables:
            # TF traces a variable-creating first call twice: once creating, once using them
            raw = self._trace_raw(bound, first=False)
            self._tracing_count += 1
        program = self._compile(raw)
        concrete = ConcreteFunction(self, signature, program.graph, program.run, program.source,
                                    _structured_signature(self._signature, bound, signature))
        self._concrete.append(concrete)
        if exact:
            self._by_exact.setdefault(key, []).insert(0, program)
        return concrete, program.graph

    def _specialise(self, bound, key, forced=None) -> _Program:
        """Run the Python function again for these values (and forced decisions): not a TF trace."""
        program = self._compile(self._trace_raw(bound, first=False, forced=forced))
        self._by_exact.setdefault(key, []).insert(0, program)
        return program

    def _trace_raw(self, bound, first: bool, forced=None) -> Graph:
        """Run the Python function on placeholders while a new Graph records it (off any tape)."""
        graph = Graph(self.__name__)
        graph.autograph = bool(self._autograph)
        graph.forced = forced or {}

        def created(var):
            graph.created_variables.append((var, user_site(3)))
            if first:
                return
            where = f"(variable {var.name!r} created at {format_site(user_site(3))})"
            if not self._concrete:  # the second trace of the first call: made on every trace
                raise ValueError(
                    "tf.function only supports singleton tf.Variables created on the first call. Make "
                    "sure the tf.Variable is only created once or created outside tf.function. See "
                    "https://www.tensorflow.org/guide/function#creating_tfvariables for more information. "
                    + where)
            self._tracing_count += 1  # TF counts the trace that raised
            raise ValueError("Creating variables on a non-first call to a function decorated with "
                             "tf.function. " + where)

        # an outer trace or tape sees this call replayed, not the tracing of it
        with paused():
            state.graph, state.active = graph, True
            _creation_listeners.append(created)
            try:
                args, kwargs = _placeholders(graph, bound)
                _set_outputs(graph, self._python_function(*args, **kwargs))
            finally:
                _creation_listeners.remove(created)
                state.graph = None
                state.refresh()
        return graph

    def _compile(self, raw: Graph) -> _Program:
        traced = raw.copy()  # what replays read: the passes below edit `raw`
        return self._build(raw.inlined(), {}, continuation=False, traced=traced)

    def _build(self, graph: Graph, path: dict, continuation: bool, traced=None) -> _Program:
        """Optimise and generate a traced path; a decision after a staged call becomes a Branch.

        `path`: the decisions taken before this graph's first node; `continuation`: the graph
        is the rest of a call whose staged calls already ran (its every decision is a Branch);
        `traced`: the whole call's graph as traced, for replays (None for a continuation).
        """
        decided, effects = dict(path), continuation
        for n, node in enumerate(graph.nodes):
            if node.guard is not None:
                if effects:
                    graph = self._branch(graph, n, decided)
                    break
                decided[node.guard.ordinal] = node.guard.expected
            elif node.call is not None:
                effects = True
        optimized = optimize(graph)
        run, source = compile_graph(optimized)
        return _Program(run, optimized, traced, source)

    def _branch(self, graph: Graph, n: int, path: dict) -> Graph:
        """nodes[:n], then a Branch taking every value defined so far; the traced rest is its first case."""
        node = graph.nodes[n]
        slots = graph.defined_before(n)
        branch = Branch(node.guard, slots.index(node.in_ids[0]), len(slots), path)
        rest = graph.part(graph.nodes[n + 1:], slots)
        branch.table[node.guard.expected] = self._build(
            rest, {**path, node.guard.ordinal: node.guard.expected}, continuation=True)
        outs = tuple(next_id() for _ in graph.outputs)
        # the continuations take the program's variable parameters too
        head = graph.part(graph.nodes[:n] + [Node(None, {}, tuple(slots + graph.variable_args), outs,
                                                  node.site, call=branch)], graph.inputs)
        for new, old in zip(outs, graph.outputs):
            head.specs[new], head.names[new] = graph.specs[old], graph._unique("branch")
        head.outputs = list(outs)
        return head

    def _continuation(self, branch: Branch, decision, bound) -> _Program:
        """Trace the rest of the call for a new outcome of `branch`; its program, kept for next time."""
        forced = {**branch.path, branch.guard.ordinal: decision}
        raw = self._trace_raw(bound, first=False, forced=forced).inlined()  # as the program branched
        n, slots = _rest(raw, branch.guard.ordinal, branch.n_slots, self.__name__)
        program = self._build(raw.part(raw.nodes[n + 1:], slots), forced, continuation=True)
        branch.table[decision] = program
        return program

    # -- the retracing warning ---------------------------------------------------------------
    def _note_call(self, traced: bool) -> None:
        code = getattr(self._python_function, "__code__", None)
        detector = _detectors.setdefault(code, _Detector())
        detector.history = (detector.history + [traced])[-_HISTORY:]
        if traced and sum(detector.history) >= _WARN_THRESHOLD and detector.warnings < _MAX_WARNINGS:
            detector.warnings += 1
            logger.warning(
                "%d out of the last %d calls to %s triggered tf.function retracing. Tracing is expensive and "
                "the excessive number of tracings could be due to (1) creating @tf.function repeatedly in a "
                "loop, (2) passing tensors with different shapes, (3) passing Python objects instead of "
                "tensors. For (1), please define your @tf.function outside of the loop. For (2), "
                "@tf.function has reduce_retracing=True option that can avoid unnecessary retracing. For "
                "(3), please refer to https://www.tensorflow.org/guide/function#controlling_retracing and "
                "https://www.tensorflow.org/api_docs/python/tf/function for  more details.%s",
                sum(detector.history), len(detector.history), self._python_function, self._why())

    def _why(self) -> str:
        """What changed between the last two traces, argument by argument (beyond TF's text)."""
        if len(self._concrete) < 2:
            return ""
        names = list(self._signature.parameters)
        changes = _differences(names, self._concrete[-2].signature, self._concrete[-1].signature)
        if not changes:
            return ""
        hint = "; pass reduce_retracing=True" if any("shape" in c for c in changes) and \
            not self._reduce_retracing else ""
        return "\nThe last retrace was caused by " + "; ".join(changes) + hint + "."


def _misfit(expected, got, position: int):
    """The first way a call's argument type `got` does not fit the traced `expected`, and the
    flat position of the next tensor: (("dtype", tensor position, expected, got) or ("cast",
    expected, got, text of got) or None, position)."""
    if isinstance(expected, _Leaf) and isinstance(got, _Leaf):
        if expected.accepts(got):
            return None, position + 1
        if expected.variable is None and got.variable is None and expected.dtype != got.dtype:
            return ("dtype", position, expected, got), position + 1
        return ("cast", expected, got, _type_text(got)), position + 1
    if isinstance(expected, tuple) and isinstance(got, tuple) and expected[:1] == got[:1]:
        if expected[0] == "python" and expected[2] == got[2]:
            return None, position
        if expected[0] in ("list", "tuple", "dict") and len(expected[1]) == len(got[1]):
            for e, g in zip(expected[1], got[1]):
                if expected[0] == "dict":
                    if e[0] != g[0]:
                        return ("cast", expected, got, _type_text(got)), position
                    e, g = e[1], g[1]
                problem, position = _misfit(e, g, position)
                if problem is not None:
                    return problem, position
            return None, position
    text = repr(got[2]) if isinstance(got, tuple) and got[:1] == ("python",) else _type_text(got)
    return ("cast", expected, got, text), position


def _type_text(t) -> str:
    """A trace type as TF prints it in a signature (TensorSpec, VariableSpec, Literal, List...)."""
    if isinstance(t, _Leaf):
        if t.variable is None:
            return repr(TensorSpec(t.shape, dtypes.as_dtype(t.dtype)))
        return (f"VariableSpec(shape={t.shape}, dtype={dtypes.as_dtype(t.dtype)!r}, trainable={t.variable[0]}, "
                f"alias_id={t.variable[1]})")
    kind = t[0]
    if kind == "python":
        return f"Literal[{t[2]!r}]"
    if kind in ("list", "tuple"):
        return f"{kind.capitalize()}[{', '.join(_type_text(x) for x in t[1])}]"
    if kind == "dict":
        return f"Dict[{', '.join(f'{k!r}: {_type_text(x)}' for k, x in t[1])}]"
    return f"{kind} #{t[1]}"


class VariableSpec:
    """A Variable argument in a structured_input_signature, as TF prints it."""

    __slots__ = ("shape", "dtype", "trainable", "alias_id")

    def __init__(self, shape, dtype, trainable, alias_id):
        self.shape, self.dtype, self.trainable, self.alias_id = shape, dtype, trainable, alias_id

    def __eq__(self, other):
        return isinstance(other, VariableSpec) and (self.shape, self.dtype, self.trainable, self.alias_id) == \
            (other.shape, other.dtype, other.trainable, other.alias_id)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.trainable, self.alias_id))

    def __repr__(self):
        return (f"VariableSpec(shape={self.shape}, dtype={self.dtype!r}, trainable={self.trainable}, "
                f"alias_id={self.alias_id})")


def _structured_signature(python_signature, bound, signature):
    """TF's structured_input_signature of a trace: (args, kwargs) with tensors as named TensorSpecs.

    Parameters that bind positionally (and *args, named ``args_0``...) go in args, keyword-only
    ones and **kwargs in kwargs; a nested tensor is named by its path (``t_0``, ``z_a``).
    """
    args, kwargs = [], {}
    for (name, value), t in zip(bound.arguments.items(), signature):
        kind = python_signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(_spec_of(v, vt, f"{name}_{i}") for i, (v, vt) in enumerate(zip(value, t[1])))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            types = dict(t[1])
            kwargs.update((k, _spec_of(v, types[k], str(k))) for k, v in value.items())
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = _spec_of(value, t, name)
        else:
            args.append(_spec_of(value, t, name))
    return tuple(args), kwargs


def _spec_of(value, t, name):
    """One argument of a structured_input_signature: its trace type `t` as a spec where it is a
    tensor's, else the value with its tensors replaced (a module function: see DEVELOPERS.md)."""
    if isinstance(t, _Leaf):
        dtype = dtypes.as_dtype(t.dtype)
        if t.variable is not None:
            return VariableSpec(t.shape, dtype, t.variable[0], t.variable[1])
        if isinstance(value, TensorSpec) and value.name is not None:
            name = value.name
        return TensorSpec(t.shape, dtype, name)
    if isinstance(value, (list, tuple)) and isinstance(t, tuple) and len(t) == 2 and isinstance(t[1], tuple):
        items = [_spec_of(v, vt, f"{name}_{i}") for i, (v, vt) in enumerate(zip(value, t[1]))]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict) and isinstance(t, tuple) and t[:1] == ("dict",):
        types = dict(t[1])
        return {k: _spec_of(v, types[k], f"{name}_{k}") for k, v in value.items()}
    return value


def _binding_error(detail, args, kwargs, signature) -> str:
    """TF's text for a call that does not bind to `signature` (its text, in parentheses)."""
    return (f"Binding inputs to tf.function failed due to `{detail}`. Received args: {args} and kwargs: "
            f"{kwargs} for signature: {signature}.")


def _concrete_binding_error(detail, args, kwargs, concrete) -> str:
    """TF's text for a call that does not bind to a concrete function's signature."""
    names = list(inspect.signature(concrete._function._python_function).parameters)
    params = ", ".join(f"{n}: {_type_text(t)}" for n, t in zip(names, concrete.signature))
    graph = concrete.graph

    def out(x):
        if isinstance(x, _Out):
            shape, dtype = graph.specs[graph.outputs[x.index]]
            return repr(TensorSpec(shape, dtypes.from_numpy(np.dtype(dtype))))
        if isinstance(x, (list, tuple)):
            return f"{type(x).__name__.capitalize()}[{', '.join(out(v) for v in x)}]"
        if isinstance(x, dict):
            return f"Dict[{', '.join(f'{k!r}: {out(v)}' for k, v in x.items())}]"
        return repr(x)
    # the output's type, where known: a signature with None dims runs specialised programs
    returns = f" -> {out(graph.output_structure)}" if _spec_exact(concrete.signature) else ""
    return _binding_error(detail, args, kwargs, f"({params}){returns}")


_KERNEL_ERRORS = (ValueError, IndexError, np.exceptions.AxisError)


def _kernel_error(graph, error):
    """A kernel failed inside compiled code: TF's error type, naming the op and the user's line."""
    from ..core.source import generated
    from ..errors import InvalidArgumentError, OpError
    if isinstance(error, OpError):
        return error
    tb, node = error.__traceback__, None
    while tb is not None:
        lines = generated.get(tb.tb_frame.f_code.co_filename)
        if lines is not None:
            node = lines.get(tb.tb_lineno)
        tb = tb.tb_next
    where = f"\n  at {format_site(node)}" if node is not None else ""
    return InvalidArgumentError(f"{error} (in tf.function {graph.name}){where}")


# -- arguments ----------------------------------------------------------------------------------------

def _is_tensor_like(v) -> bool:
    return (isinstance(v, (Tensor, np.ndarray, np.generic, TensorSpec))) and not isinstance(v, Variable)


def _walk(value, is_leaf, leaf, variable=None):
    """The nest with leaf(x) for each x where is_leaf(x) (and variable(v) for each Variable v, if
    given); a module function, not a closure calling itself (see DEVELOPERS.md)."""
    if is_leaf(value):
        return leaf(value)
    if variable is not None and isinstance(value, Variable):
        return variable(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_walk(v, is_leaf, leaf, variable) for v in value)
    if isinstance(value, tuple):
        return type(value)(*(_walk(v, is_leaf, leaf, variable) for v in value))
    if isinstance(value, dict):
        return {k: _walk(value[k], is_leaf, leaf, variable) for k in value}
    return value


def _placeholders(graph, bound):
    """The bound arguments with every tensor-like leaf replaced by a graph placeholder.

    Variables stay themselves (the function reads and assigns them as it would eagerly);
    the graph notes them as the program's variable parameters.
    """
    new = {}
    for name, value in bound.arguments.items():
        counter = [0]

        def leaf(v, name=name, counter=counter):
            if isinstance(v, TensorSpec):
                shape = tuple(1 if d is None else d for d in v.shape) if v.shape.rank is not None else ()
                array = np.zeros(shape, dtype=v.dtype.as_numpy_dtype)
            else:
                array = v._value if isinstance(v, Tensor) else convert_to_array(v)
            label = name if counter[0] == 0 else f"{name}_{counter[0]}"
            counter[0] += 1
            return graph.placeholder(array, label)
        new[name] = _walk(value, _is_tensor_like, leaf, graph.variable_argument)
    bound = bound.signature.bind_partial()
    bound.arguments.update(new)
    return bound.args, bound.kwargs


def _parameters(bound, convert) -> list:
    """A program's arguments: convert(x) of each tensor-like argument x, then each Variable
    argument once (in the order the trace met them: the program's variable parameters)."""
    leaves, variables = [], []

    def leaf(v):
        leaves.append(convert(v))
        return v

    def variable(v):
        if all(v is not w for w in variables):
            variables.append(v)
        return v
    for value in bound.arguments.values():
        _walk(value, _is_tensor_like, leaf, variable)
    return leaves + variables if variables else leaves


def _as_array(v):
    return v._value if isinstance(v, Tensor) else convert_to_array(v)


def _as_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(convert_to_array(v))


def _value_of(graph, env, i):
    """A replayed program's value: computed (or a variable argument), a captured variable (read
    where used), or a constant."""
    t = env.get(i)
    if t is None:
        t = graph.variables.get(i)
        if t is None:
            t = Tensor(graph.constants[i])
    return t


def _read_later(graph, n: int, region) -> bool:
    """Do nodes after nodes[n] (a Region) read values defined inside it (a grad_fn's closure)?"""
    inside = region.defined()
    return any(i in inside for node in graph.nodes[n + 1:] for i in node.in_ids) or \
        any(o in inside for o in graph.outputs)


def _forward_values(graph, region, env) -> None:
    """Replay a Region's ops off the tapes, for the values later nodes read (as eagerly, the
    tapes do not see a custom gradient's forward; its staged calls and decisions are the
    function's, made when it is called again)."""
    with paused(keep_graph=True):
        for node in region.nodes:
            if type(node.call) is Region:
                _forward_values(graph, node.call, env)
            elif node.op is not None:
                env[node.out_ids[0]] = apply(node.op, [_value_of(graph, env, i) for i in node.in_ids],
                                             node.params)


def _decide(t, guard):
    """A replayed decision: in an outer trace a guard of its own, else the value's."""
    graph = state.graph
    if graph is not None:
        return graph.guard(t, guard.kind)
    return guard.decide(t._value)


def _restage(call, args, kwargs):
    """A replayed staged call: made now, or staged into the function being traced."""
    graph = state.graph
    if graph is None:
        return call.fn(*args, **kwargs)
    with paused():
        return graph.stage(call.fn, args, kwargs, call.trace_result, call.name)


def _program_for(programs, decided):
    """The first of `programs` whose trace took the decisions `decided` ({ordinal: outcome}), or None."""
    for program in programs:
        path = program.path
        if all(path.get(ordinal) == outcome for ordinal, outcome in decided.items()):
            return program
    return None


def _rest(raw, ordinal: int, count: int, name: str):
    """Where decision `ordinal` is in a new trace, and the values defined before it.

    Two traces of one path define the same values in the same order, so these pair up with
    the values an earlier trace defined before the decision (`count` of them).
    """
    n = raw.guard_position(ordinal)
    slots = raw.defined_before(n)
    if len(slots) != count:
        raise RuntimeError(f"tf.function {name}: tracing again for another outcome of the decision at "
                           f"{_where(raw.nodes[n].site)} recorded a different program before it; the "
                           f"Python function must trace the same way each time.")
    return n, slots


def _spec_exact(key) -> bool:
    """A signature from TensorSpecs with None dims cannot be run as traced: specialise per call."""
    def exact(k):
        if isinstance(k, _Leaf):
            return k.shape is not None and None not in k.shape
        if isinstance(k, tuple):
            return all(exact(x) for x in k)
        return True
    return exact(key)


class _Out:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _set_outputs(graph, result) -> None:
    """Outputs: tensors the graph defines (others are read through an identity node)."""
    ids = []

    def leaf(v):
        if isinstance(v, Variable) or (isinstance(v, Tensor) and v._id not in graph.specs) or \
                (isinstance(v, Tensor) and (v._id in graph.constants or v._id in graph.inputs)):
            v = identity(v)
        if isinstance(v, Tensor):
            ids.append(v._id)
            return _Out(len(ids) - 1)
        return v
    graph.output_structure = _walk(result, _is_tensor, leaf)
    graph.outputs = ids


def _is_tensor(v) -> bool:
    return isinstance(v, Tensor)


def _is_out(v) -> bool:
    return type(v) is _Out


def _pack(structure, values):
    """The returned nest, its tensors made from the program's output arrays (or tensors)."""
    return _walk(structure, _is_out, lambda out: _output_tensor(values[out.index]))


def _output_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(v if isinstance(v, np.ndarray) else np.asarray(v))
