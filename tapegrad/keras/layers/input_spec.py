"""InputSpec: what a layer accepts as its first input (rank, dtype, shape, sizes of given axes), and the
check ``Layer.__call__`` makes against it before building and again after, with Keras 3's messages.
"""
from __future__ import annotations

import numbers

from ...core import dtypes
from ...core.source import format_site, user_site
from ...core.tensor import Tensor

__all__ = ["InputSpec", "assert_input_compatibility"]


class InputSpec:
    """The rank, dtype and shape a layer's input must have; None anywhere accepts anything.

    `shape` includes the batch axis and may hold None; `axes` maps axes (negative from the end) to
    their required sizes. ``allow_last_axis_squeeze`` also accepts one more trailing axis of size 1,
    or one less when the spec's last size is 1. `name` is the key of this input in a dict of inputs.

    >>> import tapegrad as tf
    >>> spec = tf.keras.layers.InputSpec(min_ndim=2, axes={-1: 4})
    >>> spec
    InputSpec(min_ndim=2, axes={-1: 4})
    >>> layer = tf.keras.layers.Dense(3)
    >>> layer.input_spec = spec
    >>> layer(tf.ones([5, 7]))
    Traceback (most recent call last):
    ...
    ValueError: Input 0 of layer "dense..." is incompatible with the layer: expected axis -1 of input shape \
to have value 4, but received input with shape (5, 7)
    ...
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else dtypes.as_dtype(dtype).name
        if shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, bool(optional)
        self.allow_last_axis_squeeze = bool(allow_last_axis_squeeze)
        axes = axes or {}
        if not isinstance(axes, dict) or not all(
                isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in axes):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. Received: axes={axes}")
        self.axes = {int(k): v for k, v in axes.items()}
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            highest = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > highest:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed value: "
                                 f"{highest}")

    def __repr__(self) -> str:
        parts = [("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                 ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim), ("axes", self.axes)]
        return f"InputSpec({', '.join(f'{name}={value}' for name, value in parts if value)})"

    def get_config(self) -> dict:
        """The constructor's arguments.

        >>> InputSpec(ndim=4).get_config()["ndim"]
        4
        """
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes, "optional": self.optional}

    @classmethod
    def from_config(cls, config: dict) -> InputSpec:
        """The spec of ``get_config()``'s dict.

        >>> InputSpec.from_config({"min_ndim": 2}).min_ndim
        2
        """
        return cls(**config)

    def check(self, x, index: int, layer_name: str) -> None:
        """Raise Keras' ValueError if `x` (a tensor, a KerasTensor, an array) does not fit this spec."""
        if x is None and self.optional:
            return
        if type(x) is Tensor:  # the eager hot path: a plain shape of ints
            shape = x._value.shape
        else:
            shape = getattr(x, "shape", _MISSING)
            if shape is _MISSING:
                raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) as "
                                 f"input for layer '{layer_name}'.{_at()}")
            shape = tuple(shape)  # a traced tensor's or a KerasTensor's: None where unknown
        ndim = len(shape)
        if self.ndim is not None and not self.allow_last_axis_squeeze and ndim != self.ndim:
            _fail(index, self, layer_name, f"expected ndim={self.ndim}, found ndim={ndim}. Full shape "
                                           f"received: {shape}")
        if self.max_ndim is not None and ndim > self.max_ndim:
            _fail(index, self, layer_name, f"expected max_ndim={self.max_ndim}, found ndim={ndim}")
        if self.min_ndim is not None and ndim < self.min_ndim:
            _fail(index, self, layer_name, f"expected min_ndim={self.min_ndim}, found ndim={ndim}. "
                                           f"Full shape received: {shape}")
        if self.dtype is not None:
            dtype = dtypes.as_dtype(x.dtype).name
            if dtype != self.dtype:
                _fail(index, self, layer_name, f"expected dtype={self.dtype}, found dtype={dtype}")
        for axis, value in self.axes.items():
            if value is not None and -ndim <= axis < ndim:
                size = shape[axis]
                if size is not None and size != value:
                    _fail(index, self, layer_name, f"expected axis {axis} of input shape to have value "
                                                   f"{value}, but received input with shape {shape}")
        if self.shape is not None:
            spec_shape, got = self.shape, shape
            if self.allow_last_axis_squeeze:
                got = got[:-1] if got and got[-1] == 1 else got
                spec_shape = spec_shape[:-1] if spec_shape and spec_shape[-1] == 1 else spec_shape
            for expected, size in zip(spec_shape, got):
                if expected is not None and size is not None and expected != size:
                    _fail(index, self, layer_name, f"expected shape={self.shape}, found shape={shape}")


_MISSING = object()


def _at() -> str:
    return f"\n  at {format_site(user_site())}"


def _fail(index: int, spec: InputSpec, layer_name: str, detail: str):
    named = "" if spec.name is None else f" with name '{spec.name}'"
    raise ValueError(f'Input {index}{named} of layer "{layer_name}" is incompatible with the layer: '
                     f"{detail}{_at()}")


def _flatten(value) -> list:
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _flatten(v)]
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _flatten(value[k])]
    return [value]


def assert_input_compatibility(input_spec, inputs, layer_name: str) -> None:
    """Check `inputs` (a tensor or a nest of them) against `input_spec` (an InputSpec or a nest of them,
    one per input); a ValueError names the layer, the input, what was expected and what came.

    >>> import tapegrad as tf
    >>> assert_input_compatibility(InputSpec(ndim=4), tf.ones([2, 3]), "conv")
    Traceback (most recent call last):
    ...
    ValueError: Input 0 of layer "conv" is incompatible with the layer: expected ndim=4, found ndim=2. \
Full shape received: (2, 3)
    ...
    """
    if not input_spec:
        return
    if isinstance(input_spec, InputSpec):  # the common case: one spec, one tensor
        if type(inputs) is Tensor or not isinstance(inputs, (list, tuple, dict)):
            input_spec.check(inputs, 0, layer_name)
            return
        specs = [input_spec]
    else:
        specs = _flatten(input_spec)
    if isinstance(inputs, dict):
        names = [spec.name for spec in specs if spec is not None]
        if len(names) == len(specs) and all(names):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}". You passed a data dictionary with '
                                 f"keys {list(inputs)}. Expected the following keys: {names}{_at()}")
            inputs = [inputs[n] for n in names]
    flat = _flatten(inputs)
    if len(flat) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} '
                         f"input tensors. Inputs received: {inputs}{_at()}")
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is not None:
            spec.check(x, index, layer_name)
