"""The Metric base, and the metrics that average values: Sum, Mean and MeanMetricWrapper.

Metrics are never differentiated and run every training step, so they work on NumPy arrays:
inputs are read without recording anything on a tape, and the state variables are updated in
place (``Variable._writable``, copy-on-write, so a value read earlier stays as it was read).
``result()`` returns a float32 tensor; before any update it is 0.

>>> import tapegrad as tf
>>> float(tf.keras.metrics.Mean()([1, 3]))
2.0
"""
from __future__ import annotations

import numpy as np

from ...core import dtypes
from ...core.op import read_only, staged
from ...core.tensor import Tensor, Variable, convert_to_array
from ..layers.base import to_snake_case, unique_name
from ..losses import squeeze_or_expand_to_same_rank, wrapped_fn_from_config, wrapper_config

__all__ = ["Mean", "MeanMetricWrapper", "Metric", "Sum"]

EPSILON = 1e-7  # keras.backend.epsilon(): the AUC end thresholds sit this far outside [0, 1]
NEG_INF = -1e10  # Keras's stand-in for -inf: the threshold when only top_k decides

# -- helpers ----------------------------------------------------------------------------------------

def _array(x, dtype=None) -> np.ndarray:
    """The value of `x` as an ndarray, read without recording anything on a tape."""
    value = x._value if isinstance(x, Tensor) else x
    if dtype is None:
        return np.asarray(value) if isinstance(value, np.ndarray) else convert_to_array(value)
    return np.asarray(value, dtype=dtype)


def _detached(x) -> Tensor:
    """A tensor with `x`'s value that no tape watches: what a wrapped metric function sees."""
    return Tensor(_array(x))


def _divide_no_nan(a, b) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)


def _to_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple, np.ndarray)) else [x]


def _add_in_place(variable: Variable, delta) -> None:
    """variable += delta without a new array per step (copy-on-write keeps earlier reads intact)."""
    value = variable._writable()
    if isinstance(value, np.ndarray):
        value += np.asarray(delta, dtype=value.dtype)
    else:  # a rank-0 value that Variable.assign_add left as a NumPy scalar, which cannot be updated
        variable.assign(value + delta)


def _initial_value(initializer, shape, dtype: dtypes.DType) -> np.ndarray:
    if initializer is None or (isinstance(initializer, str) and initializer.lower() == "zeros"):
        return np.zeros(shape, dtype._np)
    if isinstance(initializer, (int, float, np.ndarray, list, tuple)):
        return np.broadcast_to(np.asarray(initializer, dtype._np), shape).copy()
    from .. import initializers
    return _array(initializers.get(initializer)(shape, dtype=dtype), dtype._np)


# -- the Metric base ---------------------------------------------------------------------------------

class Metric:
    """Base of all metrics: state in variables made in ``__init__``, updated by ``update_state``.

    Subclasses create state with ``add_variable`` (or ``add_weight``) in ``__init__`` and implement
    ``update_state(*args, sample_weight=None)`` and ``result()``.  ``metric(*args)`` updates,
    then returns ``result()``; ``reset_state()`` (alias ``reset_states()``, the Keras 2 name)
    zeroes every variable.

    >>> import numpy as np, tapegrad as tf
    >>> class Count(tf.keras.metrics.Metric):
    ...     def __init__(self, name="count", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.n = self.add_variable(shape=(), initializer="zeros", name="n")
    ...     def update_state(self, values, sample_weight=None):
    ...         self.n.assign_add(np.size(values))
    ...     def result(self):
    ...         return self.n.read_value()
    >>> m = Count()
    >>> float(m([1, 2, 3])), [v.path for v in m.variables]
    (3.0, ['count/n'])
    >>> m.reset_states(); float(m.result())
    0.0
    """

    _direction = None  # "up" or "down" where it is clear which way is better

    def __init__(self, dtype=None, name=None):
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = dtypes.as_dtype(dtype or "float32")
        self._variables: list = []
        self._metrics: list = []

    def __setattr__(self, name, value):
        # track state assigned as attributes (variables, nested metrics), in assignment order
        store = (self.__dict__.get("_variables") if isinstance(value, Variable)
                 else self.__dict__.get("_metrics") if isinstance(value, Metric) and value is not self
                 else None)
        if store is not None and all(v is not value for v in store):
            store.append(value)
        object.__setattr__(self, name, value)

    def _check_super_called(self) -> None:
        if "_variables" not in self.__dict__:
            raise RuntimeError("You forgot to call `super().__init__()` in the `__init__()` method. Go add it!")

    @property
    def dtype(self) -> str:
        """The result dtype's name ("float32" unless given)."""
        return self._dtype.name

    @property
    def variables(self) -> list:
        """The state variables: this metric's, then those of metrics it holds."""
        out = list(self._variables)
        for metric in self._metrics:
            out.extend(metric.variables)
        return out

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None) -> Variable:
        """A new non-trainable state variable (`initializer`: "zeros", a value, or an initializer)."""
        self._check_super_called()
        dtype = dtypes.as_dtype(dtype or self._dtype)
        shape = tuple(int(d) for d in _to_list(shape)) if shape is not None else ()
        variable = Variable(_initial_value(initializer, shape, dtype), trainable=False, name=name, dtype=dtype)
        variable.path = f"{self.name}/{variable.path}"
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> Variable:
        """``add_variable`` with zeros by default (the Keras 2 spelling)."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def __init_subclass__(cls, **kwargs):
        """Inside a traced function, metric updates happen on every call: stage them."""
        super().__init_subclass__(**kwargs)
        for name, stage in (("update_state", staged()), ("reset_state", staged()), ("result", read_only)):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "staged", False):
                setattr(cls, name, stage(method))

    def update_state(self, *args, **kwargs):
        """Accumulate statistics from one batch; subclasses implement it."""
        raise NotImplementedError

    def result(self):
        """The metric value from the current state; subclasses implement it."""
        raise NotImplementedError

    @staged()
    def reset_state(self) -> None:
        """Zero every state variable (between epochs)."""
        for variable in self.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype.as_numpy_dtype))

    def reset_states(self) -> None:
        """``reset_state()`` under its Keras 2 name, which Keras 3 removed."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def _result_tensor(self, value) -> Tensor:
        # a copy: the result must not share an array with the state that later updates change in place
        return Tensor(np.array(value, dtype=self._dtype._np))

    def get_config(self) -> dict:
        """The constructor arguments, for ``from_config``."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        """A new metric from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


# -- Sum, Mean and function wrappers -----------------------------------------------------------------

def _samplewise(values, sample_weight, reduce_fn):
    """Keras's reduce_to_samplewise_values: (per-sample values weighted, the weights or None).

    Axes of `values` beyond the weights' rank are reduced by `reduce_fn` first, then the weights
    broadcast; whatever remains beyond the batch axis is reduced last.
    """
    values = _array(values, np.float32)
    if sample_weight is not None:
        sample_weight = _array(sample_weight, np.float32)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim = sample_weight.ndim
        if values.ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values.ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of all values seen.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.Sum()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    4.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(values, sample_weight, np.sum)
        _add_in_place(self.total, values.sum(dtype=np.float64))

    def result(self):
        return self._result_tensor(self.total._value)


class Mean(Metric):
    """The (weighted) mean of all values seen: ``total / count``, 0 before any update.

    Values are reduced to one per sample (the mean over non-batch axes); a scalar counts as one
    sample, so ``train_loss(loss)`` once per batch gives the unweighted mean of the batch losses.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.Mean()
    >>> m.update_state([1, 3, 5, 7])
    >>> float(m.result())
    4.0
    >>> m.reset_state()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = _samplewise(values, sample_weight, np.mean)
        _add_in_place(self.total, values.sum(dtype=np.float64))
        if sample_weight is not None:
            samples = sample_weight.sum(dtype=np.float64)
        else:
            samples = values.shape[0] if values.ndim else 1
        _add_in_place(self.count, samples)

    def result(self):
        return self._result_tensor(_divide_no_nan(self.total._value, self.count._value))


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)``, a function of per-sample values.

    `fn` receives tensors that no tape watches, so a metric never adds to a gradient computation.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.MeanMetricWrapper(lambda y_true, y_pred: tf.abs(y_true - y_pred), name="l1")
    >>> float(m([1.0, 2.0], [1.5, 3.0]))
    0.75
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(_detached(y_true), _detached(y_pred), **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        from . import _OBJECTS
        return wrapper_config(self, MeanMetricWrapper, super().get_config(), self._fn, _OBJECTS)

    @classmethod
    def from_config(cls, config: dict):
        from . import get
        return cls(**wrapped_fn_from_config(config, get))
