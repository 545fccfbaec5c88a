"""TensorFlow's trace types: when a tf.function call can reuse a trace, and TF's texts when not.

Tensors are keyed by dtype and shape, Python values by value, other objects by identity
(spec §2.2-2.5); ``reduce_retracing`` generalises shapes to ``None`` dims; an
``input_signature`` fixes one signature.  Also here: the retracing warning's "what changed",
TF's binding errors for a call that does not fit, and ``structured_input_signature``.
"""
from __future__ import annotations

import inspect
import weakref

import numpy as np

from ..core import dtypes
from ..core.aval import public_shape
from ..core.spec import TensorSpec
from ..core.tensor import Tensor, Variable


class Leaf:
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
        return isinstance(other, Leaf) and other.dtype == self.dtype and other.shape == self.shape and \
            other.variable == self.variable

    def __hash__(self):
        return hash((self.dtype, self.shape, self.variable))

    def accepts(self, other: "Leaf") -> bool:
        if self.dtype != other.dtype or self.variable != other.variable:
            return False
        if self.shape is None:
            return True
        return other.shape is not None and len(self.shape) == len(other.shape) and all(
            a is None or a == b for a, b in zip(self.shape, other.shape))

    def relaxed(self, other: "Leaf"):
        """The most specific type taking both, or None when dtypes or variable-ness differ."""
        if self.dtype != other.dtype or self.variable != other.variable:
            return None
        if self.shape is None or other.shape is None or len(self.shape) != len(other.shape):
            return Leaf(self.dtype, None, self.variable)
        return Leaf(self.dtype, tuple(a if a == b else None for a, b in zip(self.shape, other.shape)),
                     self.variable)

    def __repr__(self):
        shape = "<unknown rank>" if self.shape is None else str(self.shape)
        if self.variable is None:
            return f"{self.dtype}{shape}"
        trainable, alias = self.variable
        return f"Variable[{self.dtype}{shape}, trainable={trainable}, alias_id={alias}]"


_STRING = np.dtype(str)


def _dtype(dtype) -> np.dtype:
    """A tensor's dtype as a trace type sees it: NumPy's string dtypes carry a length, TF's one
    string dtype does not."""
    return _STRING if dtype.kind in "US" else dtype


def trace_type(value, aliases: dict):
    """A hashable description of an argument by TF's rules (tensors by type, Python by value,
    other objects by identity or by their ``__tf_tracing_type__``).

    `aliases`: id -> alias number of the Variables met so far in this call's arguments.
    """
    if isinstance(value, Variable):
        return Leaf(value._value.dtype, value._value.shape,
                    (value._trainable, aliases.setdefault(id(value), len(aliases))))
    if isinstance(value, Tensor):  # the np.dtype, not its name: computing a name costs microseconds
        dtype, shape = value._value.dtype, value._value.shape
        # a traced tensor (a nested call): its symbolic sizes are None
        if type(value._value) is not np.ndarray:
            shape = public_shape(shape)
        return Leaf(dtype if dtype.kind not in "US" else _STRING, shape)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return Leaf(_dtype(np.asarray(value).dtype), np.shape(value))
    if isinstance(value, TensorSpec):
        return Leaf(_dtype(np.dtype(value.dtype.as_numpy_dtype)),
                    None if value.shape.rank is None else tuple(value.shape))
    if value is None or isinstance(value, (bool, int, float, str, complex, bytes)):
        return ("python", type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(trace_type(v, aliases) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, trace_type(v, aliases)) for k, v in value.items())))
    custom = getattr(value, "__tf_tracing_type__", None)
    if custom is not None:
        return custom(None)
    return ObjectKey(value)


class ObjectKey:
    """An object argument's trace type: the object itself, held weakly (TF's rule: a trace made for
    an object is reused for that object only, and not for a new one that takes a dead one's id)."""

    __slots__ = ("ref", "ident", "__weakref__")

    def __init__(self, value):
        self.ident = id(value)
        try:
            self.ref = weakref.ref(value)
        except TypeError:  # not weak-referenceable: held (a trace then keeps it alive, as TF's)
            self.ref = lambda value=value: value

    def __eq__(self, other):
        if not isinstance(other, ObjectKey) or other.ident != self.ident:
            return False
        mine = self.ref()
        return mine is not None and mine is other.ref()

    def __hash__(self):
        return self.ident

    def __repr__(self):
        return f"object #{self.ident}"


def _is_custom(t) -> bool:
    return hasattr(t, "is_subtype_of") and hasattr(t, "most_specific_common_supertype")


def accepts(signature, key) -> bool:
    """Does a traced signature (possibly with None dims) take a call of this exact type?"""
    if isinstance(signature, Leaf):
        return isinstance(key, Leaf) and signature.accepts(key)
    if _is_custom(signature):
        return _is_custom(key) and bool(key.is_subtype_of(signature))
    if isinstance(signature, tuple) and isinstance(key, tuple):
        return len(signature) == len(key) and all(accepts(s, k) for s, k in zip(signature, key))
    return signature == key


def relax(signature, key):
    """The most specific type taking both (shapes generalised), or None when they differ otherwise."""
    if isinstance(signature, Leaf) and isinstance(key, Leaf):
        return signature.relaxed(key)
    if _is_custom(signature) and _is_custom(key):
        return signature.most_specific_common_supertype([key])
    if isinstance(signature, tuple) and isinstance(key, tuple) and len(signature) == len(key):
        parts = []
        for s, k in zip(signature, key):
            part = relax(s, k)
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)
    return signature if signature == key else None


def differences(names, old, new, path=""):
    """Human-readable changes between two argument type lists."""
    out = []
    for name, a, b in zip(names, old, new):
        label = f"{path}{name}"
        if a == b:
            continue
        if isinstance(a, Leaf) and isinstance(b, Leaf):
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



def misfit(expected, got, position: int):
    """The first way a call's argument type `got` does not fit the traced `expected`, and the
    flat position of the next tensor: (("dtype", tensor position, expected, got) or ("cast",
    expected, got, text of got) or None, position)."""
    if isinstance(expected, Leaf) and isinstance(got, Leaf):
        if expected.accepts(got):
            return None, position + 1
        if expected.variable is None and got.variable is None and expected.dtype != got.dtype:
            return ("dtype", position, expected, got), position + 1
        return ("cast", expected, got, type_text(got)), position + 1
    if isinstance(expected, tuple) and isinstance(got, tuple) and expected[:1] == got[:1]:
        if expected[0] == "python" and expected[2] == got[2]:
            return None, position
        if expected[0] in ("list", "tuple", "dict") and len(expected[1]) == len(got[1]):
            for e, g in zip(expected[1], got[1]):
                if expected[0] == "dict":
                    if e[0] != g[0]:
                        return ("cast", expected, got, type_text(got)), position
                    e, g = e[1], g[1]
                problem, position = misfit(e, g, position)
                if problem is not None:
                    return problem, position
            return None, position
    text = repr(got[2]) if isinstance(got, tuple) and got[:1] == ("python",) else type_text(got)
    return ("cast", expected, got, text), position


def type_text(t) -> str:
    """A trace type as TF prints it in a signature (TensorSpec, VariableSpec, Literal, List...)."""
    if isinstance(t, Leaf):
        if t.variable is None:
            return repr(TensorSpec(t.shape, dtypes.as_dtype(t.dtype)))
        return (f"VariableSpec(shape={t.shape}, dtype={dtypes.as_dtype(t.dtype)!r}, "
                f"trainable={t.variable[0]}, alias_id={t.variable[1]})")
    if isinstance(t, ObjectKey):  # TF prints an object's trace type as the weak reference it holds
        return f"Weakref[{t.ref!r}]" if isinstance(t.ref, weakref.ref) else repr(t)
    if not isinstance(t, tuple):  # a custom __tf_tracing_type__
        return repr(t)
    kind = t[0]
    if kind == "python":
        return f"Literal[{t[2]!r}]"
    if kind in ("list", "tuple"):
        return f"{kind.capitalize()}[{', '.join(type_text(x) for x in t[1])}]"
    if kind == "dict":
        return f"Dict[{', '.join(f'{k!r}: {type_text(x)}' for k, x in t[1])}]"
    return f"{kind} #{t[1]}"


class VariableSpec:
    """A Variable argument in a structured_input_signature, as TF prints it."""

    __slots__ = ("shape", "dtype", "trainable", "alias_id")

    def __init__(self, shape, dtype, trainable, alias_id):
        self.shape, self.dtype, self.trainable, self.alias_id = shape, dtype, trainable, alias_id

    def __eq__(self, other):
        return isinstance(other, VariableSpec) and \
            (self.shape, self.dtype, self.trainable, self.alias_id) == \
            (other.shape, other.dtype, other.trainable, other.alias_id)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.trainable, self.alias_id))

    def __repr__(self):
        return (f"VariableSpec(shape={self.shape}, dtype={self.dtype!r}, trainable={self.trainable}, "
                f"alias_id={self.alias_id})")


def structured_signature(python_signature, bound, signature):
    """TF's structured_input_signature of a trace: (args, kwargs) with tensors as named TensorSpecs.

    Parameters that bind positionally (and *args, named ``args_0``...) go in args, keyword-only
    ones and **kwargs in kwargs; a nested tensor is named by its path (``t_0``, ``z_a``).
    """
    args, kwargs = [], {}
    for (name, value), t in zip(bound.arguments.items(), signature):
        kind = python_signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(spec_of(v, vt, f"{name}_{i}") for i, (v, vt) in enumerate(zip(value, t[1])))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            types = dict(t[1])
            kwargs.update((k, spec_of(v, types[k], str(k))) for k, v in value.items())
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = spec_of(value, t, name)
        else:
            args.append(spec_of(value, t, name))
    return tuple(args), kwargs


def spec_of(value, t, name):
    """One argument of a structured_input_signature: its trace type `t` as a spec where it is a
    tensor's, else the value with its tensors replaced (a module function: see DEVELOPERS.md)."""
    if isinstance(t, Leaf):
        dtype = dtypes.as_dtype(t.dtype)
        if t.variable is not None:
            return VariableSpec(t.shape, dtype, t.variable[0], t.variable[1])
        if isinstance(value, TensorSpec) and value.name is not None:
            name = value.name
        return TensorSpec(t.shape, dtype, name)
    if isinstance(value, (list, tuple)) and isinstance(t, tuple) and len(t) == 2 and isinstance(t[1], tuple):
        items = [spec_of(v, vt, f"{name}_{i}") for i, (v, vt) in enumerate(zip(value, t[1]))]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict) and isinstance(t, tuple) and t[:1] == ("dict",):
        types = dict(t[1])
        return {k: spec_of(v, types[k], f"{name}_{k}") for k, v in value.items()}
    return value


def binding_error(detail, args, kwargs, signature) -> str:
    """TF's text for a call that does not bind to `signature` (its text, in parentheses)."""
    return (f"Binding inputs to tf.function failed due to `{detail}`. Received args: {args} and kwargs: "
            f"{kwargs} for signature: {signature}.")


def concrete_binding_error(detail, args, kwargs, concrete) -> str:
    """TF's text for a call that does not bind to a concrete function's signature."""
    names = list(inspect.signature(concrete._function._python_function).parameters)
    params = ", ".join(f"{n}: {type_text(t)}" for n, t in zip(names, concrete.signature))
    return binding_error(detail, args, kwargs, f"({params}) -> {output_type_text(concrete.graph)}")


class Out:
    """Where output `index` of a program goes back in the returned nest."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def output_spec(graph, out: Out) -> TensorSpec:
    from ..core.aval import public_shape
    aval = graph.avals[graph.outputs[out.index]]
    return TensorSpec(public_shape(aval.shape), dtypes.from_numpy(aval.dtype))


def output_type_text(graph, x=None) -> str:
    """The returned nest's type as TF prints it (TensorSpecs with None dims where symbolic)."""
    x = graph.output_structure if x is None else x
    if isinstance(x, Out):
        return repr(output_spec(graph, x))
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__.capitalize()}[{', '.join(output_type_text(graph, v) for v in x)}]"
    if isinstance(x, dict):
        return f"Dict[{', '.join(f'{k!r}: {output_type_text(graph, v)}' for k, v in x.items())}]"
    return repr(x)
