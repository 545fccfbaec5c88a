"""Function: ``tf.function``'s trace cache, its traces, and the compiled call.

A call whose arguments' trace types (signature.py) fit no earlier trace *traces*: the
Python function runs once on placeholders - symbolic tensors with the signature's dtype
and shape, ``None`` dims where the signature is relaxed - while a Graph records the
program (graph.py).  That run is what ``experimental_get_tracing_count`` counts and when
Python side effects happen, exactly as in TensorFlow.  The program is optimised (passes.py)
and generated as Python (codegen.py); every later call that fits the trace runs it, for
every shape the signature admits.

A call that something else must see - a GradientTape or ForwardAccumulator, or another
function being traced (a nested tf.function) - *interprets* the traced program instead
(interpret.py): its ops are applied one by one, so tapes record them (gradients of any
order), forward mode pushes tangents, and an outer trace records them, while the Python
function does not run again.

Tracing is per thread (each thread's recording state is its own); the trace cache is
locked, so concurrent first calls trace once and the others wait for it.
"""
from __future__ import annotations

import inspect
import logging
import threading
import weakref

import numpy as np

from ..core import dtypes
from ..core.op import paused, state
from ..core.source import format_site, user_site
from ..core.spec import TensorSpec
from ..core.tensor import Tensor, Variable, convert_to_array
from ..errors import InvalidArgumentError
from .. import config
from .codegen import compile_graph
from .concrete import ConcreteFunction, pack_outputs, set_outputs
from .graph import Graph, RunEagerly
from .interpret import run_graph
from .passes import optimize
from .signature import (Leaf, accepts, binding_error, concrete_binding_error, differences, misfit, relax,
                        structured_signature, trace_type, type_text)

logger = logging.getLogger("tapegrad")

# TF's thresholds: warn when >= 5 of the last 10 calls traced; at most twice per function
_WARN_THRESHOLD, _HISTORY, _MAX_WARNINGS = 5, 10, 2
_detectors: dict = {}
_detectors_lock = threading.Lock()


class _Detector:
    __slots__ = ("history", "warnings")

    def __init__(self):
        self.history: list = []
        self.warnings = 0


# -- the decorator ---------------------------------------------------------------------------------

class Function:
    """A Python function traced into a program and run as generated code (``tf.function``)."""

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
        self._concrete: list[ConcreteFunction] = []   # traces, in trace order
        self._tracing_count = 0
        self._eager_reason = None   # why this function runs its Python eagerly, if it must
        self._lock = threading.RLock()  # one trace at a time; a recursive trace of itself re-enters
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
        return self._find(key) or self._trace(bound, key)

    def pretty_printed_concrete_signatures(self, verbose: bool = True) -> str:
        return "\n\n".join(c.pretty_printed_signature(verbose) for c in self._concrete)

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
                concrete = self._trace(bound, key)
            except RunEagerly as reason:
                self._tracing_count += 1
                self._eager_reason = str(reason)
                logger.info("tf.function %s runs eagerly: %s", self.__name__, reason)
                return self._python_function(*args, **kwargs)
        if state.graph is None:  # TF's retracing warning counts calls from Python, not from traces
            self._note_call(traced)
        return self._call_bound(concrete, bound)

    def _call_concrete(self, concrete, args, kwargs):
        """Call one trace; TF's errors for a call that does not fit it.

        A tensor of another dtype is an InvalidArgumentError (TF's graph function refuses
        it when run); anything else (a Python value other than the traced one, another
        structure or shape) a TypeError from binding.  An equal Python value of another type
        (2.0 for 2) fits, as in TF.
        """
        try:
            bound = self._signature.bind(*args, **_traced_literals(self._signature, concrete, args, kwargs))
        except TypeError as e:
            raise TypeError(concrete_binding_error(e, args, kwargs, concrete)) from None
        bound.apply_defaults()
        if self._input_signature is not None:
            bound = self._check_signature(bound)
        key = self._key(bound)
        if not accepts(concrete.signature, key):
            position = 0
            for expected, got in zip(concrete.signature, key):
                problem, position = misfit(expected, got, position)
                if problem is None:
                    continue
                if problem[0] == "dtype":
                    _, at, want, have = problem
                    name = f"__inference_{self.__name__}"
                    raise InvalidArgumentError(
                        f"cannot compute {name} as input #{at}(zero-based) was expected to be a "
                        f"{dtypes.from_numpy(want.dtype).name} tensor but is a "
                        f"{dtypes.from_numpy(have.dtype).name} tensor [Op:{name}]")
                _, want, have, value = problem
                raise TypeError(concrete_binding_error(f"Can not cast {value} to {type_text(want)}", args,
                                                       kwargs, concrete))
        return self._call_bound(concrete, bound)

    def _call_bound(self, concrete, bound):
        graph = concrete.graph
        # a tape, an accumulator or an outer trace must see the ops (check numerics alone, also
        # in state.active, is done by the compiled program itself)
        if state.active and (state.tapes or state.accumulators or state.graph is not None):
            tensors, variables = _arguments(bound, _as_tensor)
            return pack_outputs(graph.output_structure,
                                run_graph(graph, tensors, dict(zip(graph.variable_args, variables))))
        arrays, variables = _arguments(bound, _as_array)
        try:
            return pack_outputs(graph.output_structure, concrete._program()(*arrays, *variables))
        except _KERNEL_ERRORS as e:
            # keep the traceback: it goes through the generated line that failed
            raise _kernel_error(graph, e).with_traceback(e.__traceback__) from None

    # -- binding and keys ----------------------------------------------------------------------
    def _bind(self, args, kwargs):
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            if self._input_signature is not None:
                raise TypeError(binding_error(e, args, kwargs, self._signature)) from None
            raise TypeError(f"{self.__name__}(): {e}") from None
        bound.apply_defaults()
        if self._input_signature is not None:
            bound = self._check_signature(bound)
        return bound

    def _check_signature(self, bound):
        """The arguments converted to tensors as the input_signature says, one spec per positional
        argument (``*args`` too, as TF); TF's error when one won't fit."""
        specs = self._input_signature
        args = list(bound.args)
        names = [f"args_{k}" for k in range(len(args))]
        named = [p.name for p in self._signature.parameters.values()
                 if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        names[:len(named)] = named[:len(names)]
        for k, spec in enumerate(specs[:len(args)]):
            args[k] = _fit_spec(spec, args[k], bound, names, specs)
        fitted = self._signature.bind(*args, **bound.kwargs)
        fitted.apply_defaults()
        return fitted

    def _key(self, bound) -> tuple:
        aliases: dict = {}
        return tuple(trace_type(v, aliases) for v in bound.arguments.values())

    def _find(self, key):
        for concrete in reversed(self._concrete):
            if accepts(concrete.signature, key):
                return concrete
        return None

    # -- tracing -------------------------------------------------------------------------------------
    def _signature_for(self, bound, key):
        """The signature a new trace gets: the call's, relaxed, or the input_signature.

        A program is made for one rank per tensor: where TF would trace an unknown rank, the
        trace takes the call's rank with every dim None (a call of another rank traces again).
        """
        if self._input_signature is not None:  # the specs in the places of the arguments they describe
            specs = self._input_signature
            with_specs = self._signature.bind(*specs, *bound.args[len(specs):], **bound.kwargs)
            with_specs.apply_defaults()
            signature = self._key(with_specs)
        else:
            signature = key
            if self._reduce_retracing:
                for concrete in reversed(self._concrete):
                    relaxed = relax(concrete.signature, key)
                    if relaxed is not None:
                        signature = relaxed
                        break
        return _known_ranks(signature, key)

    def _trace(self, bound, key) -> ConcreteFunction:
        with self._lock:
            concrete = self._find(key)  # another thread may have traced it while this one waited
            if concrete is not None:
                return concrete
            signature = self._signature_for(bound, key)
            first = not self._concrete
            graph = self._trace_graph(bound, signature, first=first)
            self._tracing_count += 1
            if first and graph.created_variables:
                # TF traces a variable-creating first call twice: once creating, once using them
                graph = self._trace_graph(bound, signature, first=False)
                self._tracing_count += 1
            compiled = optimize(graph.compilable())
            run, source, _ = compile_graph(compiled)
            concrete = ConcreteFunction(self, signature, graph, run, source,
                                        structured_signature(self._signature, bound, signature), compiled)
            self._concrete.append(concrete)
            return concrete

    def _trace_graph(self, bound, signature, first: bool) -> Graph:
        """Run the Python function on placeholders while a new Graph records it (off any tape)."""
        graph = Graph(self.__name__)
        graph.autograph = bool(self._autograph)  # read by code AutoGraph converts inside (a Keras call)

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

        fn = self._python_function
        if self._autograph:
            from .autograph import convert
            fn = convert(fn)
        # an outer trace or tape sees this call interpreted, not the tracing of it
        with paused():
            state.graph, state.active = graph, True
            listeners = state.creation_listeners
            listeners.append(created)
            try:
                args, kwargs = _placeholders(graph, bound, signature)
                set_outputs(graph, fn(*args, **kwargs))
            finally:
                listeners.remove(created)
                state.graph = None
                state.refresh()
        return graph

    # -- the retracing warning ---------------------------------------------------------------
    def _note_call(self, traced: bool) -> None:
        code = getattr(self._python_function, "__code__", None)
        with _detectors_lock:
            detector = _detectors.setdefault(code, _Detector())
            detector.history = (detector.history + [traced])[-_HISTORY:]
            warn = traced and sum(detector.history) >= _WARN_THRESHOLD and detector.warnings < _MAX_WARNINGS
            if warn:
                detector.warnings += 1
        if warn:
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
        changes = differences(names, self._concrete[-2].signature, self._concrete[-1].signature)
        if not changes:
            return ""
        hint = "; pass reduce_retracing=True" if any("shape" in c for c in changes) and \
            not self._reduce_retracing else ""
        return "\nThe last retrace was caused by " + "; ".join(changes) + hint + "."


# -- arguments ----------------------------------------------------------------------------------------

def _traced_literals(python_signature, concrete, args, kwargs) -> dict:
    """kwargs, plus the Python values a trace was made for where the call leaves them out (TF's
    ``pow.get_concrete_function(a=spec, b=2)`` is then called as ``square(x)``)."""
    names = list(python_signature.parameters)
    given = set(names[:len(args)]) | set(kwargs)
    out = dict(kwargs)
    for name, t in zip(names, concrete.signature):
        if name not in given and isinstance(t, tuple) and t[:1] == ("python",):
            out[name] = t[2]
    return out


def _known_ranks(signature, key):
    """The signature with each unknown-rank tensor given the call's rank (all dims None)."""
    if isinstance(signature, Leaf):
        if signature.shape is not None:
            return signature
        rank = len(key.shape) if isinstance(key, Leaf) and key.shape is not None else 0
        return Leaf(signature.dtype, (None,) * rank, signature.variable)
    if isinstance(signature, tuple) and isinstance(key, tuple) and len(signature) == len(key):
        return tuple(_known_ranks(s, k) for s, k in zip(signature, key))
    return signature


def _fit_spec(spec, value, bound, names, specs):
    """`value` as the tensor `spec` asks for (a nest of specs: of tensors); TF's error if it won't fit."""
    def fail(got):
        raise TypeError(binding_error(f"Can not cast {got!r} to {spec!r}", tuple(bound.args), bound.kwargs,
                                      f"({', '.join(f'{n}: {sp!r}' for n, sp in zip(names, specs))})"))
    if not isinstance(spec, TensorSpec):  # a nested list/tuple of specs
        if not isinstance(value, (list, tuple)) or len(value) != len(spec):
            fail(value)
        return type(value)(_fit_spec(s, v, bound, names, specs) for s, v in zip(spec, value))
    if isinstance(value, TensorSpec):
        t = value
    else:
        try:
            t = value if isinstance(value, Tensor) else Tensor(convert_to_array(value, spec.dtype))
        except (TypeError, ValueError):
            fail(value)
    if dtypes.as_dtype(t.dtype) != spec.dtype or not spec.shape.is_compatible_with(tuple(t.shape)):
        fail(TensorSpec(tuple(t.shape), t.dtype))
    return t


def _is_tensor_like(v) -> bool:
    return isinstance(v, (Tensor, np.ndarray, np.generic, TensorSpec)) and not isinstance(v, Variable)


def _placeholders(graph, bound, signature):
    """The bound arguments with every tensor-like leaf replaced by a placeholder of its signature's
    type (None dims where relaxed); Variables stay themselves, noted as the program's variable
    parameters."""
    new = {}
    for (name, value), sig in zip(bound.arguments.items(), signature):
        new[name] = _placeholder_nest(graph, value, sig, name, [0])
    bound = bound.signature.bind_partial()
    bound.arguments.update(new)
    return bound.args, bound.kwargs


def _placeholder_nest(graph, value, sig, name, counter):
    """One argument with its tensors replaced (a module function: see DEVELOPERS.md on nest walkers)."""
    if hasattr(sig, "placeholder_value") and hasattr(sig, "is_subtype_of"):
        return sig.placeholder_value(None)  # a custom trace type says what the trace sees
    if isinstance(value, Variable):
        return graph.variable_argument(value)
    if _is_tensor_like(value):
        label = name if counter[0] == 0 else f"{name}_{counter[0]}"
        counter[0] += 1
        return graph.placeholder(sig.shape, sig.dtype, label)
    if (isinstance(value, (list, tuple)) and isinstance(sig, tuple) and len(sig) == 2
            and isinstance(sig[1], tuple)):
        items = [_placeholder_nest(graph, v, s, name, counter) for v, s in zip(value, sig[1])]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict) and isinstance(sig, tuple) and sig[:1] == ("dict",):
        types = dict(sig[1])
        return {k: _placeholder_nest(graph, value[k], types[k], name, counter) for k in value}
    return value


def _arguments(bound, convert):
    """A call's arguments as the program takes them: convert(x) of each tensor-like leaf, and each
    Variable argument once (in the order the trace met them: the program's variable parameters)."""
    leaves, variables = [], []
    for value in bound.arguments.values():
        _collect(value, convert, leaves, variables)
    return leaves, variables


def _collect(value, convert, leaves, variables) -> None:
    if isinstance(value, Variable):
        if all(value is not w for w in variables):
            variables.append(value)
    elif _is_tensor_like(value):
        leaves.append(convert(value))
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, convert, leaves, variables)
    elif isinstance(value, dict):
        for k in value:
            _collect(value[k], convert, leaves, variables)


def _as_array(v):
    return v._value if isinstance(v, Tensor) else convert_to_array(v)


def _as_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(convert_to_array(v))


_KERNEL_ERRORS = (ValueError, IndexError, np.exceptions.AxisError)


def _kernel_error(graph, error):
    """A kernel failed inside compiled code: TF's error type, naming the op and the user's line."""
    from ..core.source import generated
    from ..errors import OpError
    if isinstance(error, OpError):
        return error
    tb, site = error.__traceback__, None
    while tb is not None:
        lines = generated.get(tb.tb_frame.f_code.co_filename)
        if lines is not None:
            site = lines.get(tb.tb_lineno)
        tb = tb.tb_next
    where = f"\n  at {format_site(site)}" if site is not None else ""
    return InvalidArgumentError(f"{error} (in tf.function {graph.name}){where}")
