"""Accuracy metrics: how often predictions match labels (exactly, by threshold, argmax or top k).

>>> import tapegrad as tf
>>> float(tf.keras.metrics.BinaryAccuracy()([[1], [0]], [[0.7], [0.6]]))
0.5
"""
from __future__ import annotations

import numpy as np

from ...core.tensor import Tensor
from ..losses import squeeze_or_expand_to_same_rank
from .base import MeanMetricWrapper, _array

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]

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
