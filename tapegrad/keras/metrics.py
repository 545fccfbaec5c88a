"""Keras 3 metrics (``tf.keras.metrics``): streaming statistics kept in non-trainable variables.

Metrics are never differentiated and run every training step, so they work on NumPy arrays:
inputs are read without recording anything on a tape, and the state variables are updated in
place (``Variable._writable``, copy-on-write, so a value read earlier stays as it was read).
``result()`` returns a float32 tensor; before any update it is 0.

>>> import tapegrad as tf
>>> acc = tf.keras.metrics.SparseCategoricalAccuracy()
>>> acc([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
<tf.Tensor: shape=(), dtype=float32, numpy=0.5>
"""
from __future__ import annotations

import inspect

import numpy as np

from ..core import dtypes
from ..core.op import read_only, staged
from ..core.tensor import Tensor, Variable, convert_to_array
from .layers.base import to_snake_case, unique_name
from .losses import (
    binary_crossentropy,
    categorical_crossentropy,
    cosine_similarity,
    deserialize_from,
    huber,
    kl_divergence,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_crossentropy,
    squeeze_or_expand_to_same_rank,
    wrapped_fn_from_config,
    wrapper_config,
)

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision",
    "Recall", "AUC", "MeanSquaredError", "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "get", "serialize", "deserialize",
    # the loss functions, which Keras exports as metrics too
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error", "mean_absolute_error", "huber", "kl_divergence", "cosine_similarity",
]

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
    from . import initializers
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
        return wrapper_config(self, MeanMetricWrapper, super().get_config(), self._fn, _OBJECTS)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**wrapped_fn_from_config(config, get))


# -- accuracy functions (NumPy: they run every step and have no gradient) -----------------------------

def _matches(equal: np.ndarray) -> Tensor:
    return Tensor(equal.astype(np.float32))


def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred, else 0.0 (ranks aligned as the losses do).

    >>> import tapegrad as tf
    >>> tf.keras.metrics.accuracy([1, 2, 3], [1, 2, 4]).numpy()
    array([1., 1., 0.], dtype=float32)
    """
    y_pred = _array(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_array(y_true).astype(y_pred.dtype), y_pred)
    return _matches(y_true == y_pred)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true, else 0.0.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.binary_accuracy([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]).numpy()
    array([[1.],
           [1.],
           [1.],
           [0.]], dtype=float32)
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(_array(y_true), _array(y_pred))
    return _matches(y_true == (y_pred > threshold).astype(y_true.dtype))


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals argmax(y_true) (one-hot targets), else 0.0.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]).numpy()
    array([0., 1.], dtype=float32)
    """
    y_pred = _array(y_pred)
    y_true = np.argmax(_array(y_true), axis=-1)
    shape = y_true.shape
    squeezed = y_true.ndim == y_pred.ndim
    if squeezed:
        y_true = np.squeeze(y_true, -1)
    matches = y_true == np.argmax(y_pred, axis=-1)
    return _matches(matches.reshape(shape) if squeezed else matches)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals the integer label, else 0.0; logits work as well as probabilities.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.sparse_categorical_accuracy([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]).numpy()
    array([0., 1.], dtype=float32)
    """
    y_pred = _array(y_pred)
    y_true = _array(y_true).astype(y_pred.dtype)
    shape = y_true.shape
    squeezed = y_true.ndim == y_pred.ndim and shape[-1:] == (1,)
    if squeezed:
        y_true = np.squeeze(y_true, -1)
    matches = y_true == np.argmax(y_pred, axis=-1)
    if squeezed:
        matches = matches.reshape(shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return _matches(matches)


def _in_top_k(targets: np.ndarray, predictions: np.ndarray, k: int) -> np.ndarray:
    """TF's in_top_k: fewer than k classes score strictly higher than the target (ties count in);
    False for a target out of range or a row with a non-finite score."""
    n, classes = predictions.shape
    valid = (targets >= 0) & (targets < classes)
    picked = predictions[np.arange(n), np.where(valid, targets, 0)]
    higher = np.count_nonzero(predictions > picked[:, None], axis=1)
    return valid & np.isfinite(predictions).all(axis=1) & (higher < k)


def _top_k_matches(targets: np.ndarray, y_pred: np.ndarray, k: int, from_sorted_ids: bool = False) -> Tensor:
    """Keras flattens leading axes to (samples, classes) and reshapes the matches back."""
    shape = targets.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    flat = targets.reshape(-1) if targets.ndim > 1 else targets
    if from_sorted_ids:
        matches = np.any(flat[:, None] == y_pred[:, :k], axis=1)
    else:
        matches = _in_top_k(flat.astype(np.int64), y_pred, k)
    return _matches(matches.reshape(shape) if targets.ndim > 1 else matches)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is among the k highest scores, else 0.0.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
    ...                                             k=1).numpy()
    array([0., 1.], dtype=float32)
    """
    y_pred = _array(y_pred)
    return _top_k_matches(np.argmax(_array(y_true).astype(y_pred.dtype), axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k highest scores (or, with `from_sorted_ids`, among
    the first k ids of y_pred), else 0.0.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.sparse_top_k_categorical_accuracy([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], k=1).numpy()
    array([0., 1.], dtype=float32)
    """
    y_pred = _array(y_pred)
    targets = _array(y_true).astype(y_pred.dtype if from_sorted_ids else np.int32)
    return _top_k_matches(targets, y_pred, k, from_sorted_ids)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.Accuracy()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    0.5
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) matches binary labels.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.BinaryAccuracy()
    >>> float(m([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]))
    0.75
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches one-hot labels.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.CategoricalAccuracy()
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    >>> print(f"{m.result():.4f}")
    0.3000
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches integer labels (``(B,)`` or ``(B, 1)``).

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    >>> print(f"{m.result():.4f}")
    0.3000
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the top `k` predictions.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.TopKCategoricalAccuracy(k=1)
    >>> float(m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is among the top `k` predictions.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.SparseTopKCategoricalAccuracy(k=1)
    >>> float(m([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids


class MeanSquaredError(MeanMetricWrapper):
    """The mean of squared errors over everything seen.

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.MeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
    0.25
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


# -- confusion-matrix metrics -------------------------------------------------------------------------

def _parse_thresholds(thresholds, default) -> list:
    if thresholds is None:
        return [default]
    thresholds = _to_list(thresholds)
    invalid = [t for t in thresholds if t is None or t < 0 or t > 1]
    if invalid:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return thresholds


def _evenly_distributed(thresholds) -> bool:
    """Whether thresholds are 0, 1/(n-1), ..., 1 (give or take epsilon): counts can be bucketed."""
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON)


def _filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """x with all but its k largest entries along the last axis set to NEG_INF (ties: lower index)."""
    top = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, x, np.float32(NEG_INF))


def _confusion_counts(y_true, y_pred, weights, thresholds, evenly: bool, need_negatives: bool):
    """(tp, fp, tn, fn), each (thresholds, labels): weighted counts with ``y_pred > threshold``.

    y_true, y_pred, weights are (samples, labels).  Evenly spaced thresholds are counted as
    Keras's optimised path does, in one pass: each prediction falls in the bucket
    ``ceil(p * (T - 1)) - 1`` (p clipped to [0, 1]) and counts for every threshold up to it.
    """
    positive = y_true != 0
    true_w = np.where(positive, weights, 0.0)
    false_w = np.where(positive, 0.0, weights)
    n_thresholds, n_labels = len(thresholds), y_pred.shape[1]
    if evenly:
        p = np.clip(y_pred, 0.0, 1.0).astype(np.float32)
        bucket = np.ceil(p * np.float32(n_thresholds - 1)) - 1
        if thresholds[0] < 0 or thresholds[-1] > 1:  # AUC's end points: a prediction of 0 exceeds -epsilon
            bucket = np.maximum(bucket, 0)
        bucket = bucket.astype(np.int64)
        kept = bucket >= 0  # a prediction of 0 exceeds no threshold >= 0
        index = (bucket * n_labels + np.arange(n_labels))[kept]

        def cumulative(w):
            counts = np.bincount(index, w[kept], minlength=n_thresholds * n_labels)
            return np.cumsum(counts.reshape(n_thresholds, n_labels)[::-1], axis=0)[::-1]

        tp, fp = cumulative(true_w), cumulative(false_w)
    else:
        above = y_pred[None] > np.asarray(thresholds, np.float32)[:, None, None]
        tp = np.where(above, true_w, 0.0).sum(axis=1)
        fp = np.where(above, false_w, 0.0).sum(axis=1)
    if not need_negatives:
        return tp, fp, None, None
    return tp, fp, false_w.sum(axis=0) - fp, true_w.sum(axis=0) - tp


def _update_confusion(variables: dict, y_true, y_pred, thresholds, evenly, top_k=None, class_id=None,
                      sample_weight=None, multi_label=False, label_weights=None) -> None:
    """Keras's update_confusion_matrix_variables on NumPy: adds to variables["tp"/"fp"/"tn"/"fn"]."""
    y_true = _array(y_true, np.float32)
    y_pred = _array(y_pred, np.float32)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = np.expand_dims(_array(sample_weight, np.float32), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                             f"num_classes), found shape: {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    y_true = np.broadcast_to(y_true, y_pred.shape)
    weights = np.ones(y_pred.shape) if sample_weight is None else np.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None:
        weights = weights * np.broadcast_to(label_weights, y_pred.shape)
    if multi_label:
        columns = (y_true, y_pred, weights)
    else:  # every (sample, label) pair is one data point
        columns = (y_true.reshape(-1, 1), y_pred.reshape(-1, 1), np.reshape(weights, (-1, 1)))
    need_negatives = "tn" in variables or "fn" in variables
    counts = dict(zip(("tp", "fp", "tn", "fn"), _confusion_counts(*columns, thresholds, evenly, need_negatives)))
    for key, variable in variables.items():
        _add_in_place(variable, counts[key].reshape(variable.shape))


class _PrecisionRecall(Metric):
    """Precision (tp / (tp + fp)) or recall (tp / (tp + fn)) per threshold: one class, two metrics."""

    _other = ""  # "fp" or "fn": the count that joins the true positives in the denominator
    _other_name = ""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._thresholds_distributed_evenly = _evenly_distributed(self.thresholds)
        shape = (len(self.thresholds),)
        self.true_positives = self.add_variable(shape, "zeros", name="true_positives")
        setattr(self, self._other_name, self.add_variable(shape, "zeros", name=self._other_name))

    def update_state(self, y_true, y_pred, sample_weight=None):
        _update_confusion({"tp": self.true_positives, self._other: getattr(self, self._other_name)},
                          y_true, y_pred, self.thresholds, self._thresholds_distributed_evenly,
                          top_k=self.top_k, class_id=self.class_id, sample_weight=sample_weight)

    def result(self):
        tp = self.true_positives._value
        value = _divide_no_nan(tp, tp + getattr(self, self._other_name)._value)
        return self._result_tensor(value[0] if len(self.thresholds) == 1 else value)

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """The fraction of predicted positives (y_pred > threshold, or in the top k) that are positive.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.Precision()
    >>> print(f"{m([0, 1, 1, 1], [1, 0, 1, 1]):.7f}")
    0.6666667
    >>> float(tf.keras.metrics.Precision(top_k=2)([0, 0, 1, 1], [1, 1, 1, 1]))
    0.0
    """

    _other, _other_name = "fp", "false_positives"


class Recall(_PrecisionRecall):
    """The fraction of positives that are predicted positive (y_pred > threshold, or in the top k).

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.Recall()
    >>> float(m([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0]))
    1.0
    """

    _other, _other_name = "fn", "false_negatives"


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC (default) or precision-recall curve, as a Riemann sum over thresholds.

    Predictions are counted against `num_thresholds` evenly spaced thresholds (or the given
    `thresholds`), with end points -1e-7 and 1 + 1e-7; ``summation_method`` 'interpolation'
    takes trapezoids for ROC and Davis & Goadrich's interpolation for PR.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.AUC(num_thresholds=3)
    >>> float(m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
    0.75
    >>> m.reset_state()
    >>> float(m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1]))
    1.0
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._thresholds_distributed_evenly = _evenly_distributed(np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        # end points just outside [0, 1], so that predictions of exactly 0 and 1 are counted
        self._thresholds = np.array([0.0 - EPSILON] + thresholds + [1.0 + EPSILON])
        if str(curve).lower() not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]')
        self.curve = _CURVES[str(curve).lower()]
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             'Expected values are ["interpolation", "majoring", "minoring"]')
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, self._dtype._np)
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build((None, num_labels))
        elif num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        else:
            self._build(None)

    @property
    def thresholds(self) -> list:
        """The thresholds, end points included."""
        return list(self._thresholds)

    def _build(self, shape) -> None:
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {len(shape)}. "
                                 f"Full shape received for `y_pred`: {shape}")
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, name, self.add_variable(variable_shape, "zeros", name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _array(y_pred, np.float32)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:  # sigmoid, written with tanh so that no exp can overflow
            y_pred = (0.5 + 0.5 * np.tanh(0.5 * y_pred)).astype(np.float32)
        _update_confusion({"tp": self.true_positives, "tn": self.true_negatives, "fp": self.false_positives,
                           "fn": self.false_negatives}, y_true, y_pred, self._thresholds,
                          self._thresholds_distributed_evenly, sample_weight=sample_weight,
                          multi_label=self.multi_label,
                          label_weights=None if self.multi_label else self.label_weights)

    def _average_over_labels(self, by_threshold: np.ndarray):
        """The sum over thresholds; for multi-label data, then the (label-weighted) mean over labels."""
        area = by_threshold.sum(axis=0)
        if not self.multi_label:
            return area
        if self.label_weights is None:
            return area.mean()
        return _divide_no_nan((area * self.label_weights).sum(), self.label_weights.sum())

    def _interpolate_pr_auc(self, tp, fp, fn):
        """Davis & Goadrich's PR-AUC: TP and predicted positives P vary linearly within each bucket,
        so each bucket's area is slope * (dTP + intercept * log(P_A / P_B)) / positives."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return self._average_over_labels(increments)

    def result(self):
        if not self._built:
            return self._result_tensor(0.0)
        tp, fp, tn, fn = (v._value.astype(np.float64) for v in (
            self.true_positives, self.false_positives, self.true_negatives, self.false_negatives))
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._result_tensor(self._interpolate_pr_auc(tp, fp, fn))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN: with no true positives, recall gain is 0 and precision gain 1 (Keras's choice)
            scale = _divide_no_nan(tp + fn, tn + fp)
            x = np.where(tp == 0, 0.0, np.maximum(1.0 - scale * _divide_no_nan(fn, tp), 0.0))
            y = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._result_tensor(self._average_over_labels((x[:-1] - x[1:]) * heights))

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:  # without the end points, which __init__ adds back
            config["thresholds"] = self.thresholds[1:-1]
        return config


# -- lookup -----------------------------------------------------------------------------------------

_CLASSES = (Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
            SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision,
            Recall, AUC, MeanSquaredError)
_FUNCTIONS = (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
              top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, binary_crossentropy,
              categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error,
              mean_absolute_error, huber, kl_divergence, cosine_similarity)
_OBJECTS = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_OBJECTS.update({fn.__name__: fn for fn in _FUNCTIONS if fn.__name__ not in _OBJECTS})
_OBJECTS.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": mean_absolute_error,
                 "MAE": mean_absolute_error})

# Which way is better, for callbacks' mode="auto" (Keras 3 keeps the same on its metrics)
for _cls in (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
             TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC):
    _cls._direction = "up"
MeanSquaredError._direction = "down"


def serialize(metric):
    """A metric as a config dict (``{"class_name", "config"}``), or a metric function as its name.

    >>> import tapegrad as tf
    >>> serialize(tf.keras.metrics.Mean(name="loss"))
    {'class_name': 'Mean', 'config': {'name': 'loss', 'dtype': 'float32'}}
    """
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return getattr(metric, "__name__", metric)


def deserialize(config, custom_objects=None):
    """The metric a ``serialize`` output describes (`custom_objects` maps extra names).

    >>> float(deserialize({"class_name": "AUC", "config": {"num_thresholds": 3}}).thresholds[1])
    0.5
    """
    return deserialize_from({**_OBJECTS, **(custom_objects or {})}, config, "metric")


def get(identifier):
    """A metric from a name ("accuracy", "SparseCategoricalAccuracy", "mse"), a config dict, a class
    (instantiated) or a callable (returned as is); None gives None.

    >>> import tapegrad as tf
    >>> type(tf.keras.metrics.get("sparse_categorical_accuracy")).__name__
    'SparseCategoricalAccuracy'
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _OBJECTS.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret metric identifier: {identifier}")

from .._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.keras.metrics")  # a name not implemented: an honest AttributeError
