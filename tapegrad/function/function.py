"""Function: ``tf.function``'s trace cache, retracing rules and the compiled call.

TensorFlow's rules decide when a call *traces* (spec §2.2-2.5): tensors are keyed by
dtype and shape, Python values by value, other objects by identity; ``reduce_retracing``
generalises shapes to ``None`` dims; ``input_signature`` fixes one signature.  Those traces
are what ``experimental_get_tracing_count`` counts and when Python side effects run.

Underneath, a compiled program is specialised to exact shapes (its kernels' params, such
as a mean's divisor, are constants).  A call whose shapes fit a traced signature but were
never seen runs the Python function once more to specialise it; that is not a trace in
TensorFlow's sense and is not counted (Python side effects run again then: use tf.print).
"""
from __future__ import annotations

import inspect
import logging
import weakref

import numpy as np

from ..core import dtypes
from ..core.op import state
from ..core.source import format_site, user_site
from ..core.spec import TensorSpec
from ..core.tape import _creation_listeners
from ..core.tensor import Tensor, Variable, convert_to_array
from ..ops.array import identity
from .. import config
from .codegen import compile_graph
from .passes import optimize
from .graph import Graph, GuardFailed, RunEagerly

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
    """A tensor argument's trace type: dtype and shape (None dims where relaxed)."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype, self.shape = dtype, tuple(shape) if shape is not None else None

    def __eq__(self, other):
        return isinstance(other, _Leaf) and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self):
        return hash((self.dtype, self.shape))

    def accepts(self, other: "_Leaf") -> bool:
        if self.dtype != other.dtype:
            return False
        if self.shape is None:
            return True
        return other.shape is not None and len(self.shape) == len(other.shape) and all(
            a is None or a == b for a, b in zip(self.shape, other.shape))

    def relaxed(self, other: "_Leaf") -> "_Leaf":
        if self.shape is None or other.shape is None or len(self.shape) != len(other.shape):
            return _Leaf(self.dtype, None)
        return _Leaf(self.dtype, tuple(a if a == b else None for a, b in zip(self.shape, other.shape)))

    def __repr__(self):
        shape = "<unknown rank>" if self.shape is None else str(self.shape)
        return f"{self.dtype}{shape}"


def _trace_type(value):
    """A hashable description of an argument by TF's rules (tensors by type, Python by value)."""
    if isinstance(value, Variable):
        return ("variable", id(value))
    if isinstance(value, Tensor):
        return _Leaf(value._value.dtype.name, value._value.shape)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return _Leaf(np.asarray(value).dtype.name, np.shape(value))
    if isinstance(value, TensorSpec):
        return _Leaf(np.dtype(value.dtype.as_numpy_dtype).name,
                     None if value.shape.rank is None else tuple(value.shape))
    if value is None or isinstance(value, (bool, int, float, str, complex, bytes)):
        return ("python", type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_trace_type(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _trace_type(v)) for k, v in value.items())))
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
        return signature.relaxed(key) if signature.dtype == key.dtype else None
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
            what = "dtype" if a.dtype != b.dtype else "shape"
            out.append(f"{label}: {what} {a.dtype if what == 'dtype' else a.shape} → "
                       f"{b.dtype if what == 'dtype' else b.shape}")
        elif isinstance(a, tuple) and a and a[0] == "python":
            out.append(f"{label}: Python value {a[2]!r} → {b[2]!r}" if isinstance(b, tuple) and b and
                       b[0] == "python" else f"{label}: {a} → {b}")
        elif isinstance(a, tuple) and a and a[0] in ("object", "variable"):
            out.append(f"{label}: a different {a[0]} (passed by identity)")
        else:
            out.append(f"{label}: {a} → {b}")
    return out


# -- concrete functions -----------------------------------------------------------------------

class ConcreteFunction:
    """One traced signature: its graph (printable), its generated code, and specialisations."""

    def __init__(self, function, signature, graph, compiled, source):
        self._function = function
        self.signature = signature
        self.graph = graph
        self._compiled = compiled
        self.code = source

    @property
    def structured_input_signature(self):
        return self.signature

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
        self._by_exact: dict = {}                     # exact call type -> (concrete, compiled, graph)
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
        if config.functions_run_eagerly() or self._eager_reason is not None or \
                (state.active and (state.tapes or state.accumulators or state.graph is not None)):
            # debugging, or inside another trace (inlined, as TF), or under an outer tape or
            # accumulator (so gradients flow through the function's ops); not for check numerics
            # alone, which compiled code does itself
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
        self._note_call(traced)
        return self._call_bound(concrete, bound, key)

    def _call_concrete(self, concrete, args, kwargs):
        bound = self._bind(args, kwargs)
        key = self._key(bound)
        if not _accepts(concrete.signature, key):
            raise TypeError(f"Binding inputs to the concrete function failed: {key} does not match the "
                            f"traced signature {concrete.signature}.")
        return self._call_bound(concrete, bound, key)

    def _call_bound(self, concrete, bound, key):
        arrays = _flat_arrays(bound)
        for compiled, graph in self._by_exact.get(key, ()):  # programs for this exact type
            if state.numerics is not None:  # tf.debugging.enable_check_numerics: the checking variant
                compiled = state.numerics.compiled(graph)
            try:
                return _pack(graph.output_structure, compiled(*arrays))
            except GuardFailed as failed:  # a Python decision on a tensor went the other way
                if failed.after_effect:
                    raise _guard_after_effect(graph, failed) from None
            except _KERNEL_ERRORS as e:
                # keep the traceback: it goes through the generated line that failed
                raise _kernel_error(graph, e).with_traceback(e.__traceback__) from None
        # a shape (or decision) no program was specialised for: run the Python function again
        compiled, graph = self._specialise(concrete, bound, key)
        if state.numerics is not None:
            compiled = state.numerics.compiled(graph)
        return _pack(graph.output_structure, compiled(*arrays))

    # -- binding and keys ----------------------------------------------------------------------
    def _bind(self, args, kwargs):
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            if self._input_signature is not None:
                raise TypeError(f"Binding inputs to tf.function failed due to `{e}`. Received args: {args} "
                                f"and kwargs: {kwargs} for signature: {self._signature}.") from None
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
            raise TypeError(
                f"Binding inputs to tf.function failed due to `Can not cast {got!r} to {spec!r}`. "
                f"Received args: {tuple(bound.args)} and kwargs: {bound.kwargs} for signature: "
                f"({', '.join(f'{n}: {sp!r}' for n, sp in zip(names, specs))}).")

        for name, spec in zip(names, specs):
            bound.arguments[name] = fit(spec, bound.arguments[name])

    def _key(self, bound) -> tuple:
        return tuple(_trace_type(v) for v in bound.arguments.values())

    def _find(self, key):
        for concrete in reversed(self._concrete):
            if _accepts(concrete.signature, key):
                return concrete
        return None

    # -- tracing -------------------------------------------------------------------------------------
    def _signature_for(self, key):
        """The TF-level signature a new trace gets: exact, relaxed, or the input_signature."""
        if self._input_signature is not None:
            return tuple(_trace_type(s) for s in self._input_signature) + key[len(self._input_signature):]
        if self._reduce_retracing:
            for concrete in reversed(self._concrete):
                relaxed = _relax(concrete.signature, key)
                if relaxed is not None:
                    return relaxed
        return key

    def _trace(self, bound, key, exact=True):
        signature = self._signature_for(key)
        first = not self._concrete
        graph, compiled, source = self._trace_graph(bound, first=first)
        self._tracing_count += 1
        if first and graph.created_variables:
            # TF traces a variable-creating first call twice: once creating, once using them
            graph, compiled, source = self._trace_graph(bound, first=False)
            self._tracing_count += 1
        concrete = ConcreteFunction(self, signature, graph, compiled, source)
        self._concrete.append(concrete)
        if exact:
            self._by_exact.setdefault(key, []).insert(0, (compiled, graph))
        return concrete, graph

    def _specialise(self, concrete, bound, key):
        graph, compiled, _ = self._trace_graph(bound, first=False)
        self._by_exact.setdefault(key, []).insert(0, (compiled, graph))
        return compiled, graph

    def _trace_graph(self, bound, first: bool):
        graph = Graph(self.__name__)
        graph.autograph = bool(self._autograph)
        args, kwargs = _placeholders(graph, bound)

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

        saved = state.graph
        state.graph, state.active = graph, True
        _creation_listeners.append(created)
        try:
            result = self._python_function(*args, **kwargs)
            _set_outputs(graph, result)
        finally:
            _creation_listeners.remove(created)
            state.graph = saved
            state.refresh()
        compiled, source = compile_graph(optimize(graph))
        return graph, compiled, source

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


def _guard_after_effect(graph, failed) -> RuntimeError:
    node = graph.nodes[failed.node_index]
    from .graph import _where
    return RuntimeError(
        f"tf.function {graph.name}: the Python decision at {_where(node.site)} on a tensor's value went "
        f"the other way this call, after a stateful call (optimizer or metric update, assign, tf.print) "
        f"had already run, so the call cannot be redone. Make the decision before the stateful calls, "
        f"use tf.where for an elementwise choice, or run eagerly (tf.config.run_functions_eagerly).")


# -- arguments ----------------------------------------------------------------------------------------

def _is_tensor_like(v) -> bool:
    return (isinstance(v, (Tensor, np.ndarray, np.generic, TensorSpec))) and not isinstance(v, Variable)


def _walk(value, leaf):
    if _is_tensor_like(value):
        return leaf(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_walk(v, leaf) for v in value)
    if isinstance(value, tuple):
        return type(value)(*(_walk(v, leaf) for v in value))
    if isinstance(value, dict):
        return {k: _walk(value[k], leaf) for k in value}
    return value


def _placeholders(graph, bound):
    """The bound arguments with every tensor-like leaf replaced by a graph placeholder."""
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
        new[name] = _walk(value, leaf)
    bound = bound.signature.bind_partial()
    bound.arguments.update(new)
    return bound.args, bound.kwargs


def _flat_arrays(bound) -> list:
    out = []

    def leaf(v):
        out.append(v._value if isinstance(v, Tensor) else convert_to_array(v))
        return v
    for value in bound.arguments.values():
        _walk(value, leaf)
    return out


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
    graph.output_structure = _walk_out(result, leaf)
    graph.outputs = ids


def _walk_out(value, leaf):
    if isinstance(value, Tensor):
        return leaf(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_walk_out(v, leaf) for v in value)
    if isinstance(value, tuple):
        return type(value)(*(_walk_out(v, leaf) for v in value))
    if isinstance(value, dict):
        return {k: _walk_out(value[k], leaf) for k in value}
    return value


def _pack(structure, arrays):
    def walk(x):
        if isinstance(x, _Out):
            return Tensor(np.asarray(arrays[x.index]) if not isinstance(arrays[x.index], np.ndarray)
                          else arrays[x.index])
        if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
            return type(x)(walk(v) for v in x)
        if isinstance(x, tuple):
            return type(x)(*(walk(v) for v in x))
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        return x
    return walk(structure)
