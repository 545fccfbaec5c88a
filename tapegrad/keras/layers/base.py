"""Layer: the Keras 3 building block - lazy build, weights, tracking, training propagation, dtype
policies (mixed precision's autocasting) and input checks (``input_spec``).

Tracking follows Python attribute assignment order (``self.__dict__`` keeps it):
a layer's own weights (trainable, then non-trainable, in creation order), then
its sublayers' in the order they were assigned, recursively, de-duplicated.
"""
from __future__ import annotations

import inspect
import re
import threading
import weakref

import numpy as np

from ... import ops  # noqa: F401  (registers every op)
from ...core import dtypes
from ...core.op import paused, state
from ...core.tensor import Tensor, Variable, convert_to_tensor
from ...module import Module
from ...ops.math import cast
from ..mixed_precision import policy as _policies
from . import masking as _masking
from .input_spec import InputSpec, assert_input_compatibility

_ALLOWED_KWARGS = {"input_shape", "input_dim", "batch_input_shape", "batch_size", "weights"}
_name_counts: dict = {}
_context = threading.local()


def unique_name(base: str) -> str:
    """'dense', 'dense_1', 'dense_2', ... as Keras names layers."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names() -> None:
    """Start layer names over (keras.backend.clear_session)."""
    _name_counts.clear()


def to_snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def current_training():
    """The `training` value of the outermost layer call in progress (None outside calls)."""
    return getattr(_context, "training", None)


def is_symbolic(x) -> bool:
    return getattr(x, "_is_keras_tensor", False)


class Layer(Module):
    """Base class of all layers (``keras.layers.Layer``), a ``tf.Module``.

    Subclasses create weights in ``build(input_shape)`` with ``add_weight`` and compute
    in ``call(inputs, training=None)``.

    >>> import tapegrad as tf
    >>> class Scale(tf.keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
    ...     def call(self, x):
    ...         return x * self.w
    >>> layer = Scale()
    >>> layer(tf.ones([2, 3])).shape, [v.path for v in layer.weights]
    (TensorShape([2, 3]), ['scale/w'])
    >>> isinstance(layer, tf.Module), layer.name_scope.name
    (True, 'scale/')
    """

    # Module's read-only property hidden: a layer's name is a plain attribute, set in __init__ (Keras
    # names need not be identifiers), and Module.__init__ is never called, so __call__ pays nothing.
    # variables / trainable_variables below keep Keras's order; submodules come from Module's walk.
    name = None

    def __init__(self, *, activity_regularizer=None, trainable: bool = True, dtype=None,
                 autocast: bool = True, name: str | None = None, **kwargs):
        unknown = set(kwargs) - _ALLOWED_KWARGS
        if unknown:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        object.__setattr__(self, "_tracking", False)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.dtype_policy = dtype  # None: the global policy (keras.mixed_precision)
        self.autocast = autocast
        self._input_spec = None
        self._trainable = trainable
        self.built = False
        self.activity_regularizer = activity_regularizer
        self._own_trainable: list = []
        self._own_non_trainable: list = []
        self._losses: list = []
        shape = kwargs.get("batch_input_shape")
        if shape is None and kwargs.get("input_shape") is not None:
            shape = (kwargs.get("batch_size"),) + tuple(kwargs["input_shape"])
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (kwargs.get("batch_size"), kwargs["input_dim"])
        self._batch_input_shape = None if shape is None else tuple(shape)
        sig = inspect.signature(self.call)
        self._call_has_training = "training" in sig.parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
        default = sig.parameters.get("training")
        self._training_default = None if default is None or default.default is inspect.Parameter.empty \
            else default.default
        object.__setattr__(self, "_tracking", True)

    # -- properties ------------------------------------------------------------------
    @property
    def dtype_policy(self):
        """The layer's DTypePolicy: ``compute_dtype`` for its computations and outputs,
        ``variable_dtype`` for its weights.  Settable with a policy or its name."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value) -> None:
        policy = _policies.get(value)
        self._dtype_policy = policy
        # what calls read, resolved once
        self._dtype_compute = dtypes.as_dtype(policy.compute_dtype)
        self._dtype_variable = dtypes.as_dtype(policy.variable_dtype)
        self._dtype_mixed = (self._dtype_compute is not self._dtype_variable
                             and self._dtype_compute.is_floating)

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (``variable_dtype``), as Keras 3."""
        return self._dtype_variable.name

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in: floating inputs are cast to it."""
        return self._dtype_compute.name

    @property
    def variable_dtype(self) -> str:
        """The dtype the layer creates its weights in."""
        return self._dtype_variable.name

    @property
    def input_dtype(self) -> str:
        """The dtype floating inputs are converted to (the compute dtype)."""
        return self._dtype_compute.name

    @property
    def input_spec(self):
        """An InputSpec (or a list of them, one per input) that ``__call__`` checks the first argument
        against, before the layer is built and after; None checks nothing."""
        return self._input_spec

    @input_spec.setter
    def input_spec(self, value) -> None:
        for spec in _find(value, object, leaves=True):
            if spec is not None and not isinstance(spec, InputSpec):
                raise TypeError(f"Layer '{self.name}': input_spec must be an InputSpec or a list of them "
                                f"(None for an input without one). Received: {spec!r}")
        self._input_spec = value

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    @property
    def layers(self) -> list:
        return list(self._sublayers())

    # -- tracking ----------------------------------------------------------------------
    def _sublayers(self):
        """Direct sublayers in attribute-assignment order (inside lists, tuples and dicts too)."""
        seen = set()
        for key, value in self.__dict__.items():
            if key.startswith("_keras_") or key == "_inbound":
                continue
            for layer in _find(value, Layer):
                if id(layer) not in seen and layer is not self:
                    seen.add(id(layer))
                    yield layer

    def _own_variables(self):
        """Variables created by add_weight, then Variables assigned as attributes."""
        out = self._own_trainable + self._own_non_trainable
        ids = {id(v) for v in out}
        for key, value in self.__dict__.items():
            for v in _find(value, Variable):
                if id(v) not in ids:
                    ids.add(id(v))
                    out.append(v)
        return out

    def _collect(self, own, recurse):
        out, seen = [], set()
        for v in own(self):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._sublayers():
            for v in recurse(layer):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def weights(self) -> list:
        """Own weights (trainable first), then sublayers' weights, in tracking order."""
        return self._collect(lambda s: [v for v in s._own_variables() if v.trainable] +
                             [v for v in s._own_variables() if not v.trainable], lambda l: l.weights)

    variables = weights

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        return self._collect(lambda s: [v for v in s._own_variables() if v.trainable],
                             lambda l: l.trainable_weights)

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        return self._collect(lambda s: [v for v in s._own_variables() if not v.trainable],
                             lambda l: l.non_trainable_weights)

    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"Layer {self.name!r} expects {len(params)} weights, but the given weights "
                             f"list has {len(weights)} entries.")
        for v, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(v.shape) != w.shape:
                raise ValueError(f"Layer {self.name!r} weight shape {tuple(v.shape)} is not compatible with "
                                 f"provided weight shape {w.shape} (variable {v.path!r}).")
            v.assign(w.astype(v.dtype.as_numpy_dtype))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer "
                             f"isn't built. You can build it manually via: "
                             f"`{self.name}.build(batch_input_shape)`.")
        return int(sum(np.prod(v.shape) for v in self.weights))

    @property
    def losses(self) -> list:
        out = list(self._losses)
        for v in self._own_variables():
            reg = getattr(self, "_regularizers", {}).get(id(v))
            if reg is not None:
                out.append(reg(v))
        for layer in self._sublayers():
            out.extend(layer.losses)
        return out

    def add_loss(self, loss) -> None:
        self._losses.append(loss)
        _layers_with_losses()[id(self)] = self

    # -- weights -----------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable: bool = True,
                   autocast: bool = True, regularizer=None, constraint=None, aggregation=None,
                   name: str | None = None):
        """Create a weight variable of this layer (path '<layer>/<name>')."""
        from .. import initializers
        shape = () if shape is None else tuple(int(d) for d in shape)
        dt = dtypes.as_dtype(dtype or self._dtype_variable)
        if initializer is None:
            initializer = "glorot_uniform" if dt.is_floating else "zeros"
        init = initializers.get(initializer)
        with paused():  # TF's init_scope: weights are made eagerly, also when built inside a tf.function
            value = init(shape, dtype=dt)
        name = name or f"variable_{len(self._own_trainable) + len(self._own_non_trainable)}"
        var = Variable(convert_to_tensor(value, dtype=dt), trainable=trainable,
                       name=f"{self.name}/{name}", constraint=constraint)
        var.path = f"{self.name}/{name}"
        (self._own_trainable if trainable else self._own_non_trainable).append(var)
        if not autocast:
            self.__dict__.setdefault("_keras_no_autocast", []).append(var)
        if regularizer is not None:
            from .. import regularizers
            if not hasattr(self, "_regularizers"):
                self._regularizers = {}
            self._regularizers[id(var)] = regularizers.get(regularizer)
        return var

    # -- building and calling ----------------------------------------------------------
    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call()` method "
                                  f"implemented.")

    def __call__(self, *args, **kwargs):
        # the usual eager call, one tensor, skips the walk looking for symbolic (functional) inputs
        if not (len(args) == 1 and type(args[0]) is Tensor) and any(
                is_symbolic(x) for x in _find(list(args) + list(kwargs.values()), object, leaves=True)):
            if self._input_spec is not None:
                self._assert_input_compatibility(args, kwargs)
            from ..models.functional import symbolic_call
            return symbolic_call(self, args, kwargs)
        if args:
            args = (self._convert_inputs(args[0]),) + tuple(args[1:])
        if self._input_spec is not None:
            self._assert_input_compatibility(args, kwargs)
        training = kwargs.pop("training", None)
        outer = current_training()
        if training is None:
            training = outer if outer is not None else self._training_default
        if self._call_has_training:
            kwargs["training"] = training
        masking = _masking.mask_aware(self)  # Keras masks: read from the input, attached to the outputs
        if masking:
            previous_mask = _masking.inputs_mask(self, args, kwargs)
        if not self.built:
            self._build_from(args, kwargs)
        previous = getattr(_context, "training", None)
        depth = getattr(_context, "depth", 0)
        if depth == 0 and _layers_with_losses():
            self._clear_losses()
        call = self.call
        if state.graph is not None:  # tracing: AutoGraph converts a subclass's call, as TF Keras does
            from ...compiler.autograph import enabled_call
            call = enabled_call(call)
        _context.training, _context.depth = training, depth + 1
        try:
            if self._dtype_mixed and self.autocast and self._own_trainable:
                outputs = self._call_autocast(call, args, kwargs)
            else:
                outputs = call(*args, **kwargs)
        finally:
            _context.training, _context.depth = previous, depth
        if masking:
            _masking.attach_output_masks(self, args[0] if args else None, outputs, previous_mask)
        if self.activity_regularizer is not None:
            for output in _find(outputs, Tensor):
                self.add_loss(self.activity_regularizer(output))
        return outputs

    def _assert_input_compatibility(self, args, kwargs) -> None:
        """Check the first argument (positional, else keyword) against ``input_spec``, as Keras 3."""
        first = args[0] if args else next(iter(kwargs.values()), None)
        assert_input_compatibility(self._input_spec, first, self.name)

    def _call_autocast(self, call, args, kwargs):
        """Run `call` with this layer's trainable floating weights read in the compute dtype, as Keras
        autocasts variables inside a mixed-precision layer's call.

        The attributes holding them (directly, or in a list or tuple) show ``cast(weight)`` during the
        call; the cast is on the tape, so the weights still get (variable-dtype) gradients.  Weights
        made with ``add_weight(..., autocast=False)`` and non-trainable ones (state that ``call``
        assigns) are left as they are.  A per-layer lock keeps two threads from seeing each other's
        casts.
        """
        with _autocast_lock(self):
            skip = {id(v) for v in self.__dict__.get("_keras_no_autocast", ())}
            casts = {id(v): cast(v, self._dtype_compute) for v in self._own_trainable
                     if id(v) not in skip and v._value.dtype == self._dtype_variable._np}
            saved = {}
            for key, value in list(self.__dict__.items()):
                if type(value) is Variable and id(value) in casts:
                    saved[key] = value
                    self.__dict__[key] = casts[id(value)]
                elif type(value) in (list, tuple) and any(
                        type(v) is Variable and id(v) in casts for v in value):
                    saved[key] = value
                    self.__dict__[key] = type(value)(casts.get(id(v), v) if type(v) is Variable else v
                                                     for v in value)
            try:
                return call(*args, **kwargs)
            finally:
                self.__dict__.update(saved)

    def _clear_losses(self) -> None:
        """An outermost call starts a forward pass: its layers drop the losses of the last one, as Keras.

        Only called while some layer holds losses, so the common call walks nothing.
        """
        with_losses = _layers_with_losses()
        stack, seen = [self], set()
        while stack:
            layer = stack.pop()
            if id(layer) not in seen:
                seen.add(id(layer))
                layer._losses = []
                with_losses.pop(id(layer), None)
                stack.extend(layer._sublayers())

    def _convert_inputs(self, x):
        if isinstance(x, Tensor):
            if x._value.dtype.kind == "f" and x._value.dtype != self._dtype_compute._np and self.autocast:
                return cast(x, self._dtype_compute)  # Keras autocasts float inputs to the compute dtype
            return x
        if isinstance(x, (list, tuple)) and x and all(isinstance(e, (Tensor, np.ndarray)) for e in x):
            return type(x)(self._convert_inputs(e) for e in x)
        if isinstance(x, dict):
            return {k: self._convert_inputs(v) for k, v in x.items()}
        arr = np.asarray(x)
        if (arr.dtype.kind == "f" and self.autocast) or arr.dtype.kind == "O":
            return convert_to_tensor(arr.astype(self._dtype_compute.as_numpy_dtype))
        return convert_to_tensor(arr)

    def _build_from(self, args, kwargs) -> None:
        first = args[0] if args else next(iter(kwargs.values()), None)
        shapes = _shapes(first)
        self.build(shapes)
        self._build_input_shape = shapes  # what summary() shows for sublayers of subclassed models
        self.built = True
        if self._input_spec is not None:  # build may have set or narrowed it: check again, as Keras
            self._assert_input_compatibility(args, kwargs)

    supports_masking = False  # a layer that passes masks on says so (Keras 3's property)

    @_masking.default
    def compute_mask(self, inputs, previous_mask=None):
        """The mask of the outputs (Keras 3: the input's, passed on by layers that support masking)."""
        return previous_mask

    # The symbolic tensors of the layer's call in a functional model; an attribute a subclass sets
    # under these names is kept in its __dict__ and wins (see models/functional.py: layer_io)
    input = property(lambda self: _layer_io(self, "input"), lambda self, v: _set_io(self, "input", v),
                     doc="The input KerasTensor(s) of the layer's one call on symbolic inputs.")
    output = property(lambda self: _layer_io(self, "output"), lambda self, v: _set_io(self, "output", v),
                      doc="The output KerasTensor(s) of the layer's one call on symbolic inputs.")

    def compute_output_shape(self, input_shape):
        from ..models.functional import output_shape_by_running
        return output_shape_by_running(self, input_shape)

    # -- config --------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype_policy.name}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config):
        from ..serialization import layer_kwargs  # Keras 3's configs: DTypePolicy dicts, extra keys
        return cls(**layer_kwargs(cls, config))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _layer_io(layer, what):
    from ..models.functional import layer_io
    return layer_io(layer, what)


def _set_io(layer, what, value) -> None:
    layer.__dict__[what] = value


_autocast_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_autocast_locks_guard = threading.Lock()


def _autocast_lock(layer) -> threading.RLock:
    """The layer's lock for autocast calls (kept outside it: layers stay deep-copyable)."""
    lock = _autocast_locks.get(layer)
    if lock is None:
        with _autocast_locks_guard:
            lock = _autocast_locks.setdefault(layer, threading.RLock())
    return lock


def _layers_with_losses() -> dict:
    """id -> layer for the layers of this thread that hold added losses."""
    layers = getattr(_context, "layers_with_losses", None)
    if layers is None:
        layers = _context.layers_with_losses = {}
    return layers


def _find(value, kind, leaves=False):
    """Objects of `kind` in value, looking inside lists, tuples and dict values."""
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _find(v, kind, leaves)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _find(v, kind, leaves)
    elif isinstance(value, kind):
        yield value


def _shapes(x):
    """The TensorShape of x, or a list/dict of them for nested inputs."""
    from ...core.shape import TensorShape
    if isinstance(x, (list, tuple)):
        return [_shapes(e) for e in x]
    if isinstance(x, dict):
        return {k: _shapes(v) for k, v in x.items()}
    if hasattr(x, "shape"):
        return TensorShape(tuple(x.shape))
    return TensorShape(np.shape(x))
