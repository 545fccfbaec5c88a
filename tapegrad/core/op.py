"""The op registry: every primitive is declared once, with its forward, derivatives and domain.

    @defop(vjp=(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x),
           jvp=(lambda t, out, x, y: t * y, lambda t, out, x, y: x * t),
           domain=(REAL, REAL), method="__mul__")
    def multiply(x, y):
        return np.multiply(x, y)

The forward works on ndarrays; ``vjp[k](g, out, *inputs, **params)`` gives the
cotangent of input k and ``jvp[k](t, out, *inputs, **params)`` the output tangent
from input k's tangent, both written in tapegrad ops so they can be differentiated
again.  Cotangents may have the broadcast output shape: the engine sums them back
to the input's shape.  Arguments of the forward without a default are tensors;
those with a default are static params.  Tensor methods, ``tf.*`` names, the tape,
the test generator and the compiler all read this registry.
"""
from __future__ import annotations

import functools
import inspect
from operator import itemgetter

import numpy as np

from . import dtypes
from . import aval
from .aval import Dim, ShapedArray, broadcast_shapes, public_shape
from .source import format_site, user_site
from .state import note_break, note_shadow, state
from .tensor import Tensor, Variable, convert_to_array, next_id
from ..errors import InvalidArgumentError

REGISTRY: dict[str, "Op"] = {}
_TENSORS = (Tensor, Variable)


class paused:
    """Run code off every active tape and forward accumulator of this thread (and restore them).

    tf.data runs pipeline functions like this: they are not recorded op by op.  A class, not
    a generator context manager, because tf.data enters it once per element.

    ``keep_graph=True`` leaves a ``tf.function`` being traced recording: ``custom_gradient``
    runs the user's function so, as its forward is part of the compiled program while the
    tapes see only the one op whose gradient is ``grad_fn``.
    """

    __slots__ = ("_saved", "_keep_graph")

    def __init__(self, keep_graph: bool = False):
        self._keep_graph = keep_graph

    def __enter__(self):
        if state.active:
            self._saved = state.tapes[:], state.accumulators[:], state.graph
            state.tapes[:], state.accumulators[:] = [], []
            if self._keep_graph:
                state.refresh()
            else:
                state.graph = None
                state.active = state.numerics is not None  # paused code is still checked
        else:
            self._saved = None

    def __exit__(self, *exc_info):
        if self._saved is not None:
            state.tapes[:], state.accumulators[:], state.graph = self._saved
            state.refresh()
            self._saved = None


def init_scope() -> paused:
    """Lift code out of a tf.function being traced (and off the tapes): it runs eagerly, as TF's.

    >>> import tapegrad as tf
    >>> with tf.init_scope():
    ...     v = tf.Variable(1.0)
    """
    return paused()


class Domain:
    """Where a gradient test draws an input from: an interval, optionally kept away from points."""

    def __init__(self, low: float, high: float, avoid=(), dtype=np.float64, integer=False):
        self.low, self.high, self.avoid, self.dtype, self.integer = low, high, tuple(avoid), dtype, integer

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        if self.integer:
            return rng.integers(self.low, self.high, size=shape).astype(self.dtype)
        x = rng.uniform(self.low, self.high, size=shape)
        for p in self.avoid:  # push samples at least 0.1 away from kinks and poles
            near = np.abs(x - p) < 0.1
            x = np.where(near, p + np.where(x >= p, 0.1, -0.1) + np.sign(x - p + 1e-12) * 0.05, x)
        return x.astype(self.dtype)


REAL = Domain(-2.0, 2.0)
POSITIVE = Domain(0.5, 2.0)
NONZERO = Domain(-2.0, 2.0, avoid=(0.0,))
UNIT = Domain(-0.9, 0.9)


class Eqn(tuple):
    """One recorded application of an op: the unit of the tape and of the traced IR.

    ``(op, params, in_ids, inputs, out_ids, out, site)``: on a tape `inputs` holds the input
    tensors when the op's vjp needs their values, else their ShapedArray (shape, dtype); `out`
    likewise (a tuple when there are several).  In a traced program both hold ShapedArrays.
    `op` is a primitive, or what else a program runs (a staged call, a control-flow region):
    anything with a ``name``.  Nothing else is kept alive.  A tuple, because recording one is
    on the eager hot path.
    """

    __slots__ = ()
    op = property(itemgetter(0))
    params = property(itemgetter(1))
    in_ids = property(itemgetter(2))
    inputs = property(itemgetter(3))
    out_ids = property(itemgetter(4))
    out = property(itemgetter(5))
    site = property(itemgetter(6))

    @classmethod
    def make(cls, op, params, in_ids, inputs, out_ids, out, site) -> "Eqn":
        return tuple.__new__(cls, (op, params, in_ids, inputs, out_ids, out, site))

    def __repr__(self):
        ins = ", ".join(f"%{i}" for i in self.in_ids)
        params = "".join(f" {k}={v!r}" for k, v in self.params.items())
        return f"%{self.out_ids[0]} = {self.op.name}[{params.strip()}]({ins})  # {format_site(self.site)}"


def _eqn(op, params, tensors, out) -> Eqn:
    """Record `op` applied to `tensors` giving `out` (which gets its id here, unless a graph gave one)."""
    if out._id == 0:
        out._id = next_id()
    if len(tensors) == 1:  # most ops: spelled out, as a comprehension costs a call of its own
        t = tensors[0]
        in_ids = (t._id,)
        inputs = (abstract(t._value),) if not op.saves_inputs else (_snapshot(t),) if type(t) is Variable \
            else (t,)
    else:
        in_ids = tuple([t._id for t in tensors])
        if op.saves_inputs:  # a variable's value as read now, not the variable
            inputs = tuple([_snapshot(t) if type(t) is Variable else t for t in tensors])
        else:
            inputs = tuple([abstract(t._value) for t in tensors])
    # user_site(5): the frames up to apply (or an operator) that called _after are all tapegrad's
    return tuple.__new__(Eqn, (op, params, in_ids, inputs, (out._id,),
                               out if op.saves_out else abstract(out._value), user_site(5)))


_abstracts: dict = {}


def abstract(value) -> ShapedArray:
    """The (shared, immutable) ShapedArray of an array's shape and dtype."""
    if type(value) is ShapedArray:
        return value
    key = (value.shape, value.dtype)
    a = _abstracts.get(key)
    if a is None:
        if len(_abstracts) > 4096:  # shapes seen in a long run are few; this only bounds odd cases
            _abstracts.clear()
        a = _abstracts[key] = ShapedArray(value.shape, value.dtype)
    return a


def staged(trace_result=None):
    """Decorate a stateful method so that inside a traced function it runs on every call.

    Eagerly the method just runs.  While a ``tf.function`` traces, `trace_result(*args,
    **kwargs)` runs instead (default: nothing, returning None) and the call is recorded;
    the compiled function makes the real call, with that call's tensors, every time it
    runs.  Optimizer and metric updates, variable assignments and tf.print are staged.
    """
    def decorate(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            graph = state.graph
            if graph is None:
                return method(*args, **kwargs)
            with paused():
                return graph.stage(method, args, kwargs, trace_result or _returns_none, method.__qualname__)
        wrapper.staged = True
        return wrapper
    return decorate


def read_only(method):
    """Stage a method that only reads state (a metric's result): while tracing it runs too."""
    return staged(trace_result=method)(method)


def _returns_none(*args, **kwargs):
    return None


def _snapshot(var) -> Tensor:
    """The variable's value as read now: a later assign must not change what backward sees."""
    return Tensor(var._value, var._id)


class Op:
    """A primitive: see the module docstring.  Calling it applies it to tensors."""

    def __init__(self, name, impl, n_in, param_names, param_defaults, vjps, jvps, saves,
                 domain, same_dtype, nondiff_reason, batch_vjp):
        self.name = name
        self.impl = impl
        self.n_in = n_in
        self.param_names = param_names
        self.param_defaults = param_defaults
        self.vjps = vjps
        self.jvps = jvps
        self.saves_inputs = "inputs" in saves
        self.saves_out = "out" in saves
        self.domain = domain
        self.same_dtype = same_dtype
        self.nondiff_reason = nondiff_reason
        self.batch_vjp = batch_vjp
        self.__name__ = name
        self.__module__ = impl.__module__  # doctest collects an op's docstring only from its module
        self.__doc__ = impl.__doc__
        self.__wrapped__ = impl

    @property
    def differentiable(self) -> bool:
        return self.vjps is not None

    def __repr__(self):
        return f"<op {self.name}>"

    def abstract(self, avals, params):
        """The result's ShapedArray (a tuple for several) from the inputs' ShapedArrays.

        The declared ``shape`` rule; for an elementwise op the broadcast shape and the dtype its
        forward gives on one-element inputs; otherwise the forward run on placeholder inputs
        (``abstract_by_running``).  A dim left None is read from the result when it runs.
        """
        if self.shape_rule is not None:
            return self.shape_rule(*avals, **params)
        if self.elementwise:
            return ShapedArray(broadcast_shapes(*[a.shape for a in avals]),
                               aval.elementwise_dtype(self, avals, params))
        return aval.abstract_by_running(self, avals, params)

    def __call__(self, *args, **kwargs):
        n = self.n_in
        if kwargs or len(args) != n:
            if n < 0:  # variadic: every positional argument is a tensor
                kwargs.pop("name", None)
                params = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
                return apply(self, self._convert(args), params)
            args, params = self._split(args, kwargs)
        else:
            params = self.param_defaults  # shared and never mutated
        if n == 2:
            if params is self.param_defaults:
                return self._binary(*args)  # the operators' fast path (it converts when it must)
        elif n == 1 and type(args[0]) is Tensor:
            return apply(self, args, params)
        return apply(self, self._convert(args), params)

    def _split(self, args, kwargs):
        """Bind a TF-style call (tensors, then params positionally or by keyword)."""
        n = self.n_in
        names = self.param_names
        if kwargs:
            kwargs.pop("name", None)
            if len(args) < n:
                missing = [p for p in self.arg_names[len(args):n] if p not in kwargs]
                if missing:
                    raise TypeError(f"{self.name}() missing required argument(s): {', '.join(missing)}")
                args = tuple(args) + tuple(kwargs.pop(p) for p in self.arg_names[len(args):n])
        extra = args[n:]
        if len(extra) > len(names):
            raise TypeError(f"{self.name}() takes {n + len(names)} arguments but {len(args)} were given")
        if len(extra) == len(names) and not kwargs:
            params = dict(zip(names, extra))
        else:
            params = dict(self.param_defaults)
            params.update(zip(names, extra))
            for k, v in kwargs.items():
                if k not in self.param_defaults:
                    raise TypeError(f"{self.name}() got an unexpected keyword argument {k!r}")
                if k in names[:len(extra)]:
                    raise TypeError(f"{self.name}() got multiple values for argument {k!r}")
                params[k] = v
        for k, v in params.items():
            if type(v) is list or type(v) is tuple:
                params[k] = tuple(_static(x) if isinstance(x, Tensor) else x for x in v)
            elif isinstance(v, Tensor):
                params[k] = _static(v)
        return args[:n], params

    def _convert(self, args):
        """Tensors keep their dtype; other values take the dtype of their dtype-group's tensor (with
        none, the first value's own: ``tf.maximum(0., [1, -1])`` is float32, as TF converts it)."""
        same = self.same_dtype if self.n_in >= 0 else range(len(args))
        anchor = None
        for i in same:
            a = args[i]
            if isinstance(a, _TENSORS):
                anchor = a._value.dtype
                break
        else:
            for i in same:
                a = args[i]
                python_list = isinstance(a, (list, tuple)) and \
                    not any(isinstance(v, _TENSORS) for v in _flat_items(a))
                if a is not None and not isinstance(a, (Dim, list, tuple)) or python_list:
                    try:
                        anchor = convert_to_array(a).dtype
                    except (TypeError, ValueError):
                        pass
                    break
        out = []
        for i, a in enumerate(args):
            if getattr(a, "_symbolic", False) and state.graph is None:
                raise TypeError(f"{a!r} is out of scope and cannot be used here: it was made while a "
                                f"tf.function traced. Return it from the function instead of keeping it "
                                f"(at {format_site(user_site())})")
            if isinstance(a, _TENSORS):
                if anchor is not None and i in same and a._value.dtype != anchor \
                        and not (anchor.kind == "S" == a._value.dtype.kind):  # strings: any width is tf.string
                    raise InvalidArgumentError(_message(
                        self, args, f"cannot compute {self.name} as input #{i}(zero-based) was expected "
                                    f"to be a {anchor.name} tensor but is a {a._value.dtype.name} tensor"))
                out.append(a)
            elif hasattr(a, "__tapegrad_dense__"):
                out.append(a.__tapegrad_dense__())
            elif isinstance(a, (list, tuple)) and any(isinstance(v, _TENSORS) for v in _flat_items(a)):
                from .tensor import pack  # a list holding tensors: stacked, as TF packs it
                out.append(pack(a, dtypes.from_numpy(anchor) if anchor is not None and i in same else None))
            elif isinstance(a, Dim):  # a symbolic size used as a number: read when the program runs
                out.append(state.graph.dim_tensor(a, anchor if i in same else None))
            else:
                try:
                    out.append(Tensor(convert_to_array(a, anchor if i in same else None)))
                except (TypeError, ValueError) as e:
                    raise type(e)(f"{self.name}: input #{i}: {e} (at {format_site(user_site())})") from None
        return out


def _flat_items(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _flat_items(v)
        else:
            yield v


def _static(t: Tensor):
    """A tensor passed where a static param goes (axis, shape) becomes a Python value; a traced
    integer tensor becomes sizes known when the program runs (Dims)."""
    if type(t._value) is ShapedArray:
        return state.graph.static_value(t)
    if type(t) is Variable and state.graph is not None:  # read when the program runs, not now
        return state.graph.static_value(apply(REGISTRY["read_variable"], (t,), {}))
    v = np.asarray(t._value)
    return v.item() if v.ndim == 0 else tuple(v.tolist())


static_value = _static


def _describe(args) -> str:
    parts = []
    for a in args:
        if isinstance(a, _TENSORS):
            parts.append(f"{a._value.dtype.name}{list(public_shape(a._value.shape))}")
        else:
            parts.append(type(a).__name__)
    return ", ".join(parts)


def _message(op, args, detail) -> str:
    return f"{op.name}({_describe(args)}): {detail}\n  at {format_site(user_site())}"


_OP_ERRORS = (ValueError, IndexError, TypeError, np.exceptions.AxisError)


def apply(op: Op, tensors, params) -> Tensor:
    """Run `op` on tensors, recording it on every active tape that watches an input; while a
    tf.function traces, add it to the traced program instead (its result is symbolic)."""
    if state.active:
        graph = state.graph
        if graph is not None:
            return graph.apply(op, tensors, params)
    try:
        value = op.impl(*[t._value for t in tensors], **params)
    except _OP_ERRORS as e:
        raise _error(op, tensors, params, e) from None
    out = _new_tensor(Tensor)
    out._value, out._id = value, 0
    if state.active:
        _after(op, tensors, out, params)
    return out


def _error(op, tensors, params, e):
    error = TypeError if isinstance(e, TypeError) else InvalidArgumentError
    return error(_message(op, tensors, f"{e}" + _param_text(params)))


def _after(op, tensors, out, params) -> None:
    """Record on the tapes, push tangents, check numerics: only while one is active."""
    now = state.__dict__  # this thread's state as a plain dict: one thread-local lookup, not six
    if now["numerics"] is not None:
        now["numerics"](op, tensors, out)
    if now["shadows"]:
        note_shadow(tensors, out)
    if op.vjps is None:
        if now["tapes"]:
            note_break(op, tensors, out)  # for tape.explain: where a path to the target ended
        return
    tapes = now["tapes"]
    if tapes:
        _record(op, tensors, out, params, tapes)
    if now["accumulators"]:
        from .forward import push_tangents
        push_tangents(op, tensors, out, params)


def _param_text(params) -> str:
    return "" if not params else " [" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "]"


def _record(op, tensors, out, params, tapes) -> None:
    if out._value.dtype.kind not in "fc":
        note_break(op, tensors, out)  # integer and bool results carry no gradient (TF: None)
        return
    eqn = None
    for tape in tapes:
        if _watches(tape, tensors):
            if eqn is None:
                eqn = _eqn(op, params, tensors, out)
            tape._eqns.append(eqn)
            tape._ids.add(out._id)


def _watches(tape, tensors) -> bool:
    """Does `tape` watch one of `tensors`?  A trainable variable read inside it becomes watched."""
    ids = tape._ids
    watched = False
    for t in tensors:
        if t._id in ids:
            watched = True
        elif t._trainable and tape._watch_accessed:
            tape._watch_variable(t)
            watched = True
    return watched


def _record_outputs(op, tensors, outs, params) -> None:
    """Record an op with several outputs (a traced control-flow op) on the tapes that watch an input."""
    if op.vjps is None or not any(o._value.dtype.kind in "fc" for o in outs):
        return
    eqn = None
    for tape in state.tapes:
        if _watches(tape, tensors):
            if eqn is None:
                for o in outs:
                    if o._id == 0:
                        o._id = next_id()
                inputs = tuple(t if op.saves_inputs else abstract(t._value) for t in tensors)
                out = tuple(o if op.saves_out else abstract(o._value) for o in outs)
                eqn = Eqn.make(op, params, tuple(t._id for t in tensors), inputs, tuple(o._id for o in outs),
                               out, user_site(4))
            tape._eqns.append(eqn)
            tape._ids.update(o._id for o in outs if o._value.dtype.kind in "fc")
    if state.accumulators:
        raise NotImplementedError(f"forward-mode differentiation (ForwardAccumulator) through {op.name} "
                                  f"inside a tf.function is not supported; use a GradientTape")


def defop(vjp=None, jvp=None, saves="inputs", domain=None, same_dtype=None, method=None,
          nondiff=None, batch_vjp=False, name=None, cases=None, stateful=False, shape=None,
          elementwise=False, inplace=None, result=None, layout=None):
    """Declare a primitive; see the module docstring.

    vjp/jvp: one rule per tensor input (None where an input gets no gradient).
    saves: what backward keeps alive: "inputs", "out", "inputs+out" or "".
    domain: one Domain per tensor input for the generated gradient tests.
    same_dtype: indices of inputs that must share a dtype (default: all).
    method: Tensor method name(s) to attach.  nondiff: why the op has no gradient.
    batch_vjp: the vjp rules accept cotangents with extra leading (jacobian) axes.
    stateful: the op draws from or changes state (random ops): a compiler must neither
        fold nor merge two applications of it, nor drop one.
    cases: test cases for the generated gradient checks, each
        ``dict(shapes=(shape per input...), params={...})``; None means the default
        elementwise cases (same shapes, and broadcasting ones).

    What a compiler needs to know (tapegrad.compiler reads nothing else about ops):
    shape: ``shape(*inputs, **params) -> ShapedArray`` (a tuple of them for several outputs),
        the result's type from the inputs' ShapedArrays, whose dims may be Dims; a dim the
        rule cannot tell is None (the program reads it when it runs).  Default: see
        ``Op.abstract``.
    elementwise: the result has the inputs' broadcast shape (its dtype is the forward's).
    inplace: a function computing the op into ``out=`` (an elementwise op whose input dies
        there writes into it); implies result="fresh", layout="like_inputs".
    result: "fresh" (a new array nothing else holds) or "view" (a view of an input, or new).
    layout: "c" (always C-contiguous), "like_inputs" (C when its inputs are), or a function
        of the result's rank giving one of those.
    """
    def register(impl):
        arg_names, param_defaults, variadic = _parameters(impl)
        n_in = -1 if variadic else len(arg_names)
        op_name = name or impl.__name__
        rules = vjp
        if variadic and vjp is not None:
            rules = _PerInput(vjp)
        if (vjp is None) == (nondiff is None):
            raise TypeError(f"op {op_name}: give either vjp rules or a nondiff reason")
        op = Op(op_name, impl, n_in, tuple(param_defaults), param_defaults,
                None if vjp is None else rules if variadic else tuple(vjp),
                None if jvp is None else _PerInput(jvp) if variadic else tuple(jvp),
                saves, domain, tuple(range(max(n_in, 0))) if same_dtype is None else tuple(same_dtype),
                nondiff, batch_vjp)
        op.arg_names = tuple(arg_names) + tuple(param_defaults)
        if n_in == 2:
            op._binary = _binary_operator(op, reflected=False)
        op.cases = cases
        op.stateful = stateful
        op.shape_rule = shape
        op.elementwise = bool(elementwise or inplace is not None)
        op.inplace = inplace
        op.result = result or ("fresh" if inplace is not None else None)
        op.layout = layout or ("like_inputs" if inplace is not None else None)
        if op_name in REGISTRY:
            raise ValueError(f"op {op_name} declared twice")
        REGISTRY[op_name] = op
        for m in (method,) if isinstance(method, str) else (method or ()):
            _attach_method(m, op)
        return op
    return register


_REFLECTED = {"__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rfloordiv__", "__rmod__",
              "__rpow__", "__rmatmul__", "__rand__", "__ror__", "__rxor__"}


def _parameters(impl):
    """(tensor argument names, {param: default}, variadic) of a forward function.

    Read from the code object rather than inspect.signature: it runs for every op at import.
    """
    code = impl.__code__
    positional = code.co_varnames[:code.co_argcount]
    keyword_only = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    defaults = impl.__defaults__ or ()
    n_tensors = len(positional) - len(defaults)
    params = dict(zip(positional[n_tensors:], defaults))
    params.update((k, (impl.__kwdefaults__ or {})[k]) for k in keyword_only)
    return list(positional[:n_tensors]), params, bool(code.co_flags & inspect.CO_VARARGS)


class _PerInput:
    """The rules of a variadic op: one function taking the input's index first."""

    __slots__ = ("rule",)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, k):
        rule = self.rule
        return lambda *a, **p: rule(k, *a, **p)


def _attach_method(method_name: str, op: Op) -> None:
    if op.n_in == 2 and method_name.startswith("__"):
        setattr(Tensor, method_name, _binary_operator(op, reflected=method_name in _REFLECTED))
    elif method_name.startswith("__"):
        setattr(Tensor, method_name, lambda self, *a: op(self, *a))
    else:
        setattr(Tensor, method_name, lambda self, *a, **k: op(self, *a, **k))


def _binary_operator(op: Op, reflected: bool):
    """``x * y`` and friends: Op.__call__'s binary fast path inlined, one Python frame per operator."""
    impl, params = op.impl, op.param_defaults

    def operator(self, other):
        x, y = (other, self) if reflected else (self, other)
        # the hot path of eager arithmetic: no conversion, no list building, one Python frame
        if type(x) is Tensor and type(y) is Tensor and x._value.dtype is y._value.dtype:
            if state.active:  # taped, or traced: apply records it
                return apply(op, (x, y), params)
            try:
                value = impl(x._value, y._value, **params)
            except _OP_ERRORS as e:
                raise _error(op, (x, y), params, e) from None
            out = _new_tensor(Tensor)
            out._value, out._id = value, 0
            return out
        return apply(op, op._convert((x, y)), params)
    operator.__name__ = f"__{'r' if reflected else ''}{op.name}__"
    return operator


_new_tensor = object.__new__  # a Tensor without the __init__ call: the hot path makes many


def method(name: str):
    """Attach a composite function as a Tensor method (primitives use defop's `method`)."""
    def attach(fn):
        setattr(Tensor, name, fn)
        return fn
    return attach


# A variable assignment inside a traced function happens on every call of it.
for _assign in ("assign", "assign_add", "assign_sub"):
    setattr(Variable, _assign, staged(trace_result=lambda self, *a, **k: self)(getattr(Variable, _assign)))
