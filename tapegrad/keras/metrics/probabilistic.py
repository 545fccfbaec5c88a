"""Probabilistic and hinge metrics: the running mean of a loss per sample (cross-entropies,
KL divergence, Poisson, hinge losses).

The cross-entropies and the KL divergence are ``tf.keras.losses``' functions; Poisson and the
hinge losses, which it lacks, are written here in NumPy (a metric is never differentiated).

>>> import tapegrad as tf
>>> m = tf.keras.metrics.BinaryCrossentropy()
>>> print(f"{m([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.4f}")
0.8149
"""
from __future__ import annotations

import numpy as np

from ...core.tensor import Tensor
from ..losses import (
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    sparse_categorical_crossentropy,
)
from .base import EPSILON, MeanMetricWrapper, _array

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "Hinge",
    "KLDivergence",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "categorical_hinge",
    "hinge",
    "poisson",
    "squared_hinge",
]


def _pair(y_true, y_pred):
    """(y_true, y_pred) as float arrays in y_pred's float dtype (no rank alignment, as Keras)."""
    y_pred = _array(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float32)
    return _array(y_true).astype(y_pred.dtype), y_pred


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + 1e-7)) over the last axis.

    >>> import tapegrad as tf
    >>> print(f"{float(tf.keras.metrics.poisson([[0.0, 1.0]], [[1.0, 1.0]])[0]):.4f}")
    1.0000
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return Tensor(np.mean(y_pred - y_true * np.log(y_pred + EPSILON), axis=-1).astype(y_pred.dtype))


def _hinge_labels(y_true: np.ndarray) -> np.ndarray:
    """Labels that are all 0 or 1 become -1 or 1; others are kept (Keras's rule)."""
    return 2.0 * y_true - 1.0 if np.all((y_true == 0) | (y_true == 1)) else y_true


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)) over the last axis; labels 0/1 are read as -1/1.

    >>> import tapegrad as tf
    >>> tf.keras.metrics.hinge([[0.0, 1.0]], [[0.6, 0.4]]).numpy()
    array([1.1], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return Tensor(np.mean(np.maximum(1.0 - y_true * y_pred, 0.0), axis=-1).astype(y_pred.dtype))


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)^2) over the last axis; labels 0/1 are read as -1/1.

    >>> import tapegrad as tf
    >>> print(f"{float(tf.keras.metrics.squared_hinge([[0.0, 1.0]], [[0.6, 0.4]])[0]):.2f}")
    1.46
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return Tensor(np.mean(np.square(np.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1).astype(y_pred.dtype))


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) along the last axis.

    >>> import tapegrad as tf
    >>> print(f"{float(tf.keras.metrics.categorical_hinge([[0.0, 1.0]], [[0.6, 0.4]])[0]):.2f}")
    1.20
    """
    y_true, y_pred = _pair(y_true, y_pred)
    positive = np.sum(y_true * y_pred, axis=-1)
    negative = np.max((1.0 - y_true) * y_pred, axis=-1)
    return Tensor(np.maximum(negative - positive + 1.0, 0.0).astype(y_pred.dtype))


class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary cross-entropy over everything seen (probabilities, or logits with `from_logits`).

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.BinaryCrossentropy()
    >>> print(f"{m([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.4f}")
    0.8149
    """

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean cross-entropy of one-hot labels over everything seen.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.CategoricalCrossentropy()
    >>> print(f"{m([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]):.4f}")
    1.1769
    """

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0,
                 axis=-1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean cross-entropy of integer labels over everything seen (`ignore_class` labels are skipped).

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.SparseCategoricalCrossentropy()
    >>> print(f"{m([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]):.4f}")
    1.1769
    """

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


class KLDivergence(MeanMetricWrapper):
    """The mean Kullback-Leibler divergence of y_pred from y_true over everything seen.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.KLDivergence()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.4f}")
    0.4581
    """

    _direction = "down"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """The mean Poisson loss ``y_pred - y_true * log(y_pred)`` over everything seen.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.Poisson()([[0, 1], [0, 0]], [[1, 1], [0, 0]]):.4f}")
    0.5000
    """

    _direction = "down"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """The mean hinge loss over everything seen (labels -1/1, or 0/1 read as -1/1).

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.Hinge()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.2f}")
    1.30
    """

    _direction = "down"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """The mean squared hinge loss over everything seen.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.SquaredHinge()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.2f}")
    1.86
    """

    _direction = "down"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """The mean categorical hinge loss over everything seen.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.metrics.CategoricalHinge()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.2f}")
    1.40
    """

    _direction = "down"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)
