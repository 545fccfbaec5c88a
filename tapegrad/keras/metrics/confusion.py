"""Confusion-matrix metrics: counts of true/false positives/negatives per threshold, and what is
computed from them (precision, recall, AUC, the sensitivity/specificity trade-offs).

>>> import tapegrad as tf
>>> float(tf.keras.metrics.TruePositives()([0, 1, 1, 1], [1, 0, 1, 1]))
2.0
"""
from __future__ import annotations

import numpy as np

from ..losses import squeeze_or_expand_to_same_rank
from .base import EPSILON, NEG_INF, Metric, _add_in_place, _array, _divide_no_nan, _to_list

__all__ = [
    "AUC",
    "FalseNegatives",
    "FalsePositives",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "TrueNegatives",
    "TruePositives",
]

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


class _ConfusionCount(Metric):
    """One confusion-matrix count ("tp", "fp", "tn" or "fn") per threshold (default 0.5)."""

    _condition = ""
    _variable = "accumulator"

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        _update_confusion({self._condition: self.accumulator}, y_true, y_pred, self.thresholds, False,
                          sample_weight=sample_weight)

    def result(self):
        value = self.accumulator._value
        return self._result_tensor(value[0] if len(self.thresholds) == 1 else value)

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) number of positives predicted positive (y_pred > threshold).

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.TruePositives()([0, 1, 1, 1], [1, 0, 1, 1]))
    2.0
    """

    _condition = "tp"


class FalsePositives(_ConfusionCount):
    """The (weighted) number of negatives predicted positive (y_pred > threshold).

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1], sample_weight=[0, 0, 1, 0]))
    1.0
    """

    _condition = "fp"


class TrueNegatives(_ConfusionCount):
    """The (weighted) number of negatives predicted negative (y_pred <= threshold).

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.TrueNegatives()([0, 1, 0, 0], [1, 1, 0, 0]))
    2.0
    """

    _condition = "tn"


class FalseNegatives(_ConfusionCount):
    """The (weighted) number of positives predicted negative (y_pred <= threshold).

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0]))
    2.0
    """

    _condition = "fn"


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


# -- one rate at a constraint on another --------------------------------------------------------------

class _AtConstraint(Metric):
    """The best value of one rate over the thresholds where another rate is at least `value`.

    Counts are kept at `num_thresholds` evenly spaced thresholds from 0 to 1 (just 0.5 for one).
    """

    _direction = "up"
    _value_name = ""  # the constructor argument that holds the constraint

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if value < 0 or value > 1:
            raise ValueError(f"Argument `{self._value_name}` must be in the range [0, 1]. "
                             f"Received: {self._value_name}={value}")
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        super().__init__(name=name, dtype=dtype)
        self.value = value
        setattr(self, self._value_name, value)
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._thresholds_distributed_evenly = [0.5], False
        else:
            self.thresholds = [0.0] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0]
            self._thresholds_distributed_evenly = True
        shape = (len(self.thresholds),)
        for count in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, count, self.add_variable(shape, "zeros", name=count))

    def update_state(self, y_true, y_pred, sample_weight=None):
        _update_confusion({"tp": self.true_positives, "tn": self.true_negatives, "fp": self.false_positives,
                           "fn": self.false_negatives}, y_true, y_pred, self.thresholds,
                          self._thresholds_distributed_evenly, class_id=self.class_id,
                          sample_weight=sample_weight)

    def _rates(self) -> dict:
        tp, fp, tn, fn = (v._value.astype(np.float64) for v in (
            self.true_positives, self.false_positives, self.true_negatives, self.false_negatives))
        return {"recall": _divide_no_nan(tp, tp + fn), "precision": _divide_no_nan(tp, tp + fp),
                "specificity": _divide_no_nan(tn, tn + fp)}

    def _best(self, constrained: str, dependent: str):
        """max of `dependent` where `constrained` >= value, 0 if nowhere."""
        rates = self._rates()
        feasible = rates[constrained] >= self.value
        return self._result_tensor(np.max(np.where(feasible, rates[dependent], 0.0), initial=0.0))

    def get_config(self) -> dict:
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._value_name: self.value}


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) where specificity is at least `specificity`.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.SensitivityAtSpecificity(0.5)
    >>> float(m([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]))
    0.5
    """

    _value_name = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("specificity", "recall")


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity where sensitivity (recall) is at least `sensitivity`.

    >>> import tapegrad as tf
    >>> m = tf.keras.metrics.SpecificityAtSensitivity(0.5)
    >>> print(f"{m([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]):.4f}")
    0.6667
    """

    _value_name = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("recall", "specificity")


class PrecisionAtRecall(_AtConstraint):
    """The best precision where recall is at least `recall`.

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.PrecisionAtRecall(0.5)([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]))
    0.5
    """

    _value_name = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("recall", "precision")


class RecallAtPrecision(_AtConstraint):
    """The best recall where precision is at least `precision`.

    >>> import tapegrad as tf
    >>> float(tf.keras.metrics.RecallAtPrecision(0.8)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
    0.5
    """

    _value_name = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("precision", "recall")
