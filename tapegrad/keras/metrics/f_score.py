"""F-scores: the harmonic mean of precision and recall (F1), or its recall-weighted form (F-beta).

>>> import tapegrad as tf
>>> m = tf.keras.metrics.F1Score(average="micro", threshold=0.5)
>>> print(f"{m([[1, 0], [0, 1]], [[0.9, 0.2], [0.7, 0.4]]):.4f}")
0.5000
"""
from __future__ import annotations

import numpy as np

from .base import EPSILON, Metric, _array

__all__ = ["F1Score", "FBetaScore"]


class FBetaScore(Metric):
    """F-beta score per class, ``(1 + beta^2) * precision * recall / (beta^2 * precision + recall)``.

    Predictions are positive above `threshold`, or, when it is None, where they equal the row's
    maximum. `average` is None (one score per class), "micro" (counts pooled over classes),
    "macro" (the mean of the classes' scores) or "weighted" (their mean weighted by support).
    Inputs are ``(batch, classes)``.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.FBetaScore(beta=2.0, threshold=0.5)
    >>> m([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.7, 0.4], [0.6, 0.8]]).numpy().round(4)
    array([0.9091, 0.5556], dtype=float32)
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):  # Keras raises ValueError here
            raise ValueError(  # noqa: TRY004
                f"Invalid `beta` argument value. It should be a Python float. "
                             f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    f"Invalid `threshold` argument value. It should be a Python float. "
                                 f"Received: threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(f"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, true_shape, pred_shape) -> None:
        if len(pred_shape) != 2 or len(true_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={pred_shape} and y_true.shape={true_shape}.")
        shape = () if self.average == "micro" else (pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            setattr(self, name, self.add_variable(shape, "zeros", name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = _array(y_true, self._dtype._np)
        y_pred = _array(y_pred, self._dtype._np)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if self.threshold is None:  # the row's top score (ties all count), if it is not zero
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(y_true.dtype)
        if sample_weight is not None:
            sample_weight = _array(sample_weight, self._dtype._np)
            sample_weight = sample_weight.reshape(sample_weight.shape + (1,) * (y_true.ndim - sample_weight.ndim))

        def weighted_sum(values):
            return (values if sample_weight is None else values * sample_weight).sum(axis=self.axis)

        for variable, values in ((self.true_positives, predicted * y_true),
                                 (self.false_positives, predicted * (1 - y_true)),
                                 (self.false_negatives, (1 - predicted) * y_true),
                                 (self.intermediate_weights, y_true)):
            variable.assign(variable._value + weighted_sum(values))

    def result(self):
        if not self._built:
            return self._result_tensor(0.0)
        tp, fp, fn, support = (v._value for v in (self.true_positives, self.false_positives,
                                                  self.false_negatives, self.intermediate_weights))
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        beta2 = self.beta ** 2
        score = precision * recall / (beta2 * precision + recall + EPSILON) * (1 + beta2)
        if self.average == "weighted":
            score = np.sum(score * support / (np.sum(support) + EPSILON))
        elif self.average is not None:
            score = np.mean(score)
        return self._result_tensor(score)

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score: the harmonic mean of precision and recall (``FBetaScore`` with beta 1).

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.F1Score(threshold=0.5)
    >>> m([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.7, 0.4], [0.6, 0.8]]).numpy().round(4)
    array([0.8   , 0.6667], dtype=float32)
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
