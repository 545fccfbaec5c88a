"""A trace of a tf.function: its program, its generated code, and TensorFlow's views of it.

A ``ConcreteFunction`` is one traced signature (``Function`` keeps a list of them); calling it
checks the call against its signature as TF does.  The helpers at the end turn what the Python
function returned into the program's outputs (``Out`` markers in the returned nest) and back.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..core.aval import public_shape
from ..core.op import state
from ..core.tensor import Tensor, Variable, convert_to_array
from .graph import SymbolicTensor
from .signature import ObjectKey, Out, output_spec, output_type_text, type_text


class ConcreteFunction:
    """One trace: its program (printable), the generated code, and TF's views of its signature."""

    def __init__(self, function, signature, traced, run, source, structured=None, compiled=None):
        self._function = function
        self.signature = signature
        # the program as traced (TF's FuncGraph): printed, interpreted under a tape
        self.graph = traced
        self.compiled_graph = compiled  # the program optimised: what the generated code (`code`) runs
        self._run = run
        self.code = source
        self._structured = structured
        self._checking = None   # the check-numerics variant, made on its first checked call

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

    @property
    def structured_outputs(self):
        """The returned nest, its tensors the program's symbolic outputs (None dims where symbolic).

        >>> import tapegrad as tf
        >>> f = tf.function(lambda x: {"y": x * 2.0})
        >>> f.get_concrete_function(tf.TensorSpec([None, 3])).structured_outputs
        {'y': <tf.Tensor 'multiply:0' shape=(None, 3) dtype=float32>}
        """
        graph = self.graph
        return _unpack(graph.output_structure, lambda out: graph.named_tensor(graph.outputs[out.index]))

    @property
    def output_shapes(self):
        """The TensorShape of each output, in the returned nest."""
        return _unpack(self.graph.output_structure, lambda out: output_spec(self.graph, out).shape)

    @property
    def output_dtypes(self):
        return _unpack(self.graph.output_structure, lambda out: output_spec(self.graph, out).dtype)

    @property
    def inputs(self) -> list:
        """The program's input placeholders (symbolic tensors), in order."""
        return [self.graph.named_tensor(i) for i in self.graph.inputs]

    @property
    def outputs(self) -> list:
        return [self.graph.named_tensor(i) for i in self.graph.outputs]

    @property
    def variables(self) -> tuple:
        return tuple(v for v in self.graph.variables.values() if v is not None)

    trainable_variables = property(lambda self: tuple(v for v in self.variables if v.trainable))

    @property
    def function_type(self) -> str:
        return self.pretty_printed_signature()

    def pretty_printed_signature(self, verbose: bool = True) -> str:
        """The signature as TF prints it: input parameters, output type, captures."""
        params = inspect.signature(self._function._python_function).parameters
        lines = ["Input Parameters:"]
        for (name, p), t in zip(params.items(), self.signature):
            lines.append(f"  {name} ({p.kind.name}): {type_text(t)}")
        lines += ["Output Type:", f"  {output_type_text(self.graph)}", "Captures:"]
        captured = [(i, v) for i, v in self.graph.variables.items() if v is not None]
        if captured:
            lines += [f"  {i}: {_variable_text(v)}" for i, v in captured]
        else:
            lines.append("  None")
        return "\n".join(lines)

    def __str__(self):
        return "ConcreteFunction " + self.pretty_printed_signature()

    def __repr__(self):
        return f"<ConcreteFunction {self.graph.name}{self.signature}>"

    def __call__(self, *args, **kwargs):
        return self._function._call_concrete(self, *self._without_traced_values(args, kwargs))

    def _without_traced_values(self, args, kwargs):
        """TF's flat-signature fallback: a call may leave out the objects and Python values this trace
        was made for (``f.get_concrete_function(model, x)`` called as ``cf(x)``); the other arguments
        then bind in order to the remaining parameters, and the traced values fill the rest."""
        params = list(inspect.signature(self._function._python_function).parameters.values())
        traced = {p.name: t for p, t in zip(params, self.signature)
                  if isinstance(t, ObjectKey) or (isinstance(t, tuple) and t[:1] == ("python",))}
        rest = [p.name for p in params if p.name not in traced and p.name not in kwargs]
        variadic = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)
        if (not any(isinstance(t, ObjectKey) for t in traced.values()) or set(traced) & set(kwargs)
                or len(args) != len(rest) or variadic):
            return args, kwargs
        values = {name: t[2] if isinstance(t, tuple) else t.ref() for name, t in traced.items()}
        if any(v is None and isinstance(traced[n], ObjectKey) for n, v in values.items()):
            return args, kwargs  # the object is gone: the call fails to bind, as TF's
        return (), {**kwargs, **dict(zip(rest, args)), **values}

    @property
    def inference_fn(self):
        """The program as a function of its flat input tensors (TF's atomic function)."""
        return _FlatCall(self)

    def _program(self):
        """The compiled program to run now: checked while tf.debugging.enable_check_numerics is on."""
        checker = state.numerics
        if checker is None:
            return self._run
        if self._checking is None:
            self._checking = checker.compiled(self.compiled_graph)
        return self._checking


class _FlatCall:
    __slots__ = ("concrete",)

    def __init__(self, concrete):
        self.concrete = concrete

    def __call__(self, *tensors):
        graph = self.concrete.compiled_graph
        arrays = [t._value if isinstance(t, Tensor) else convert_to_array(t) for t in tensors]
        return [Tensor(a) for a in self.concrete._run(*arrays)] if len(graph.outputs) != 1 else \
            Tensor(self.concrete._run(*arrays)[0])


def _variable_text(v) -> str:
    return f"<tf.Variable '{v.name}' shape={public_shape(v._value.shape)} dtype={v.dtype.name}>"


# -- results ----------------------------------------------------------------------------------------

def set_outputs(graph, result) -> None:
    """The returned nest's tensors become the program's outputs (a Python number returned is a
    constant tensor, as TF returns it); other values stay in the structure."""
    ids: list = []
    graph.output_structure = _output_nest(graph, result, ids)
    graph.outputs = ids


def _output_nest(graph, v, ids):
    from ..ops.array import identity
    if isinstance(v, (bool, int, float, complex, np.ndarray, np.generic)) or isinstance(v, Tensor):
        if not isinstance(v, Tensor):
            v = Tensor(convert_to_array(v))
        if isinstance(v, Variable) or not (type(v) is SymbolicTensor and graph.defines(v._id)) or \
                v._id in graph.inputs:
            v = identity(v)  # a variable's value, a constant or an argument: a fresh output
        ids.append(v._id)
        return Out(len(ids) - 1)
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
        return type(v)(_output_nest(graph, x, ids) for x in v)
    if isinstance(v, tuple):
        return type(v)(*(_output_nest(graph, x, ids) for x in v))
    if isinstance(v, dict):
        return {k: _output_nest(graph, x, ids) for k, x in v.items()}
    return v


def pack_outputs(structure, values):
    """The returned nest, its tensors made from the program's output arrays (or tensors)."""
    return _unpack(structure, lambda out: _output_tensor(values[out.index]))


def _unpack(structure, leaf):
    """The returned nest with leaf(out) for each output marker (a module function: DEVELOPERS.md)."""
    if type(structure) is Out:
        return leaf(structure)
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields"):
        return type(structure)(_unpack(x, leaf) for x in structure)
    if isinstance(structure, tuple):
        return type(structure)(*(_unpack(x, leaf) for x in structure))
    if isinstance(structure, dict):
        return {k: _unpack(x, leaf) for k, x in structure.items()}
    return structure


def _output_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(v if isinstance(v, np.ndarray) else np.asarray(v))
