"""Regression metrics: the running mean of per-sample errors (squared, absolute, percentage, log).

The error functions that ``tf.keras.losses`` lacks are written here in NumPy (a metric is never
differentiated); each returns one value per sample, the mean over the last axis.

>>> import tapegrad as tf
>>> float(tf.keras.metrics.MeanAbsoluteError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
0.25
"""
from __future__ import annotations

import numpy as np

from ...core.tensor import Tensor
from ..losses import mean_absolute_error, mean_squared_error, squeeze_or_expand_to_same_rank
from .base import EPSILON, Mean, MeanMetricWrapper, _array, _divide_no_nan

__all__ = [
    "CosineSimilarity",
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "RootMeanSquaredError",
    "log_cosh",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
]


def _pair(y_true, y_pred):
    """(y_true, y_pred) as float arrays in y_pred's float dtype, ranks aligned as the losses do."""
    y_pred = _array(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float32)
    return squeeze_or_expand_to_same_rank(_array(y_true).astype(y_pred.dtype), y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the last axis.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 5.0]]).numpy()
    array([37.5], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON))
    return Tensor((100.0 * np.mean(diff, axis=-1)).astype(y_pred.dtype))


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(1 + y_pred) - log(1 + y_true))^2) over the last axis, negatives clipped to 1e-7.

    >>> import tapegrad as tf
    >>> print(f"{float(tf.keras.metrics.mean_squared_logarithmic_error([[0.0]], [[1.0]])[0]):.4f}")
    0.4805
    """
    y_true, y_pred = _pair(y_true, y_pred)
    first = np.log(np.maximum(y_pred, EPSILON) + 1.0)
    second = np.log(np.maximum(y_true, EPSILON) + 1.0)
    return Tensor(np.mean(np.square(first - second), axis=-1).astype(y_pred.dtype))


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))) over the last axis, computed without overflow.

    >>> import tapegrad as tf
    >>> print(f"{float(tf.keras.metrics.log_cosh([[0.0, 0.0]], [[1.0, 0.0]])[0]):.4f}")
    0.2169
    """
    y_true, y_pred = _pair(y_true, y_pred)
    x = (y_pred - y_true).astype(np.float64)
    # log(cosh(x)) = x + softplus(-2x) - log(2)
    values = x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0)
    return Tensor(np.mean(values, axis=-1).astype(y_pred.dtype))


def _cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity of l2-normalised vectors along `axis` (the metric's sign: 1 is identical)."""
    y_true, y_pred = _pair(y_true, y_pred)

    def normalize(x):
        return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))
    return Tensor(np.sum(normalize(y_true) * normalize(y_pred), axis=axis).astype(y_pred.dtype))


class MeanSquaredError(MeanMetricWrapper):
    """The mean of squared errors over everything seen.

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.MeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
    0.25
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of absolute errors over everything seen.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.MeanAbsoluteError()
    >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0]))
    0.5
    """

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """The square root of the mean squared error over everything seen.

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.RootMeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
    0.5
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = squeeze_or_expand_to_same_rank(_array(y_true, self._dtype._np),
                                                        _array(y_pred, self._dtype._np))
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return self._result_tensor(np.sqrt(_divide_no_nan(self.total._value, self.count._value)))


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean absolute percentage error over everything seen.

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 5.0]]))
    37.5
    """

    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean squared logarithmic error over everything seen.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.MeanSquaredLogarithmicError()([[0.0, 1.0]], [[1.0, 1.0]]):.4f}")
    0.2402
    """

    _direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity of y_true and y_pred along `axis` (1 for identical directions).

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.CosineSimilarity()([[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]]):.4f}")
    0.5000
    """

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine_similarity, name=name, dtype=dtype, axis=axis)

    def get_config(self) -> dict:  # Keras leaves `axis` out
        return {"name": self.name, "dtype": self.dtype}


class LogCoshError(MeanMetricWrapper):
    """The mean of log(cosh(y_pred - y_true)) over everything seen.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.LogCoshError()([[0.0, 0.0]], [[1.0, 0.0]]):.4f}")
    0.2169
    """

    _direction = "down"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)
