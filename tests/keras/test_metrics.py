"""tf.keras.metrics against Keras 3: its docstring examples and its published formulas.

Expected values are Keras's documented numbers, or the documented formula evaluated here in
NumPy; TensorFlow and Keras are not test dependencies.
"""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf

metrics = tf.keras.metrics


def approx(expected, rel=1e-5, abs=1e-6):
    return pytest.approx(np.asarray(expected, np.float64) if isinstance(expected, list) else expected,
                         rel=rel, abs=abs)


def updated(metric, *args, sample_weight=None):
    metric.update_state(*args, sample_weight=sample_weight)
    return float(metric.result())


# -- Keras docstring examples ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, args, weight, expected, weighted", [
    (metrics.Mean, ([1, 3, 5, 7],), [1, 1, 0, 0], 4.0, 2.0),
    (metrics.Sum, ([1, 3, 5, 7],), [1, 1, 0, 0], 16.0, 4.0),
    (metrics.Accuracy, ([[1], [2], [3], [4]], [[0], [2], [3], [4]]), [1, 1, 0, 0], 0.75, 0.5),
    (metrics.BinaryAccuracy, ([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]), [1, 0, 0, 1], 0.75, 0.5),
    (metrics.CategoricalAccuracy, ([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]), [0.7, 0.3],
     0.5, 0.3),
    (metrics.SparseCategoricalAccuracy, ([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]), [0.7, 0.3], 0.5, 0.3),
    (lambda: metrics.TopKCategoricalAccuracy(k=1), ([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]),
     [0.7, 0.3], 0.5, 0.3),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=1), ([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]),
     [0.7, 0.3], 0.5, 0.3),
    (metrics.MeanSquaredError, ([[0, 1], [0, 0]], [[1, 1], [0, 0]]), [1, 0], 0.25, 0.5),
    (metrics.Precision, ([0, 1, 1, 1], [1, 0, 1, 1]), [0, 0, 1, 0], 2 / 3, 1.0),
    (metrics.Recall, ([0, 1, 1, 1], [1, 0, 1, 1]), [0, 0, 1, 0], 2 / 3, 1.0),
    (lambda: metrics.AUC(num_thresholds=3), ([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]), [1, 0, 0, 1], 0.75, 1.0),
])
def test_docstring_examples(make, args, weight, expected, weighted):
    metric = make()
    assert updated(metric, *args) == approx(expected)
    metric.reset_state()
    assert updated(metric, *args, sample_weight=weight) == approx(weighted)


def test_precision_top_k_docstring_examples():
    assert updated(metrics.Precision(top_k=2), [0, 0, 1, 1], [1, 1, 1, 1]) == 0.0
    assert updated(metrics.Precision(top_k=4), [0, 0, 1, 1], [1, 1, 1, 1]) == approx(0.5)


def test_sparse_top_k_from_sorted_ids():
    metric = metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    assert updated(metric, [2, 1], [[1, 0, 3], [1, 2, 3]]) == approx(0.5)


# -- Mean and Sum --------------------------------------------------------------------------------------

def test_train_loss_is_the_unweighted_mean_of_batch_losses():
    train_loss = metrics.Mean(name="train_loss")
    for loss in (tf.constant(0.5), tf.constant(1.5), 4.0):
        out = train_loss(loss)
    assert float(out) == approx(2.0)
    assert f"{train_loss.result():0.2f}" == "2.00"
    assert float(train_loss.count) == 3.0


def test_mean_reduces_extra_axes_per_sample():
    values = np.array([[1.0, 3.0], [5.0, 7.0], [0.0, 2.0]], np.float32)
    assert updated(metrics.Mean(), values) == approx(values.mean())
    # weights of shape (B,) weigh each sample's mean; (B, 2) weigh entries and count per sample
    assert updated(metrics.Mean(), values, sample_weight=[1.0, 0.0, 3.0]) == approx((2.0 + 3 * 1.0) / 4)
    entry_weights = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], np.float32)
    total = (values * entry_weights).mean(axis=1).sum()
    assert updated(metrics.Mean(), values, sample_weight=entry_weights) == approx(total / entry_weights.mean(1).sum())
    # a scalar weight applies to the batch mean, counted once with that weight (Keras's rule)
    assert updated(metrics.Mean(), [1.0, 3.0], sample_weight=2.0) == approx(2.0)
    assert updated(metrics.Sum(), values, sample_weight=[[1.0], [0.0], [2.0]]) == approx(4.0 + 2 * 2.0)


def test_results_before_any_update_are_zero():
    for metric in (metrics.Mean(), metrics.Sum(), metrics.SparseCategoricalAccuracy(), metrics.Precision(),
                   metrics.Recall(), metrics.AUC(), metrics.AUC(multi_label=True), metrics.MeanSquaredError()):
        result = metric.result()
        assert isinstance(result, tf.Tensor) and result.dtype == tf.float32 and result.shape == ()
        assert float(result) == 0.0


def test_result_is_a_float32_scalar_tensor_for_tutorial_formatting():
    acc = metrics.SparseCategoricalAccuracy()
    acc.update_state([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    result = acc.result()
    assert result.dtype == tf.float32 and result.shape == ()
    assert "{:.3%}".format(result) == "66.667%"  # noqa: UP032  (the tutorials' spelling)
    assert f"{result * 100:.2f}" == "66.67"


# -- accuracies ----------------------------------------------------------------------------------------

def test_accuracy_functions_elementwise():
    assert metrics.accuracy([1, 2, 3], [1, 2, 4]).numpy().tolist() == [1.0, 1.0, 0.0]
    assert metrics.binary_accuracy([1, 0, 1], [0.7, 0.7, 0.2], threshold=0.5).numpy().tolist() == [1.0, 0.0, 0.0]
    assert metrics.binary_accuracy([1, 0, 1], [0.7, 0.7, 0.2], threshold=0.8).numpy().tolist() == [0.0, 1.0, 0.0]
    assert metrics.sparse_categorical_accuracy([1, 0], [[-1.0, 3.0], [2.0, 5.0]]).numpy().tolist() == [1.0, 0.0]
    # integer predictions, as in the walkthrough's tf.math.argmax(..., output_type=tf.int64)
    assert updated(metrics.Accuracy(), tf.constant([1, 2, 0], tf.int64), tf.constant([1, 2, 2], tf.int64)) == \
        approx(2 / 3)


def test_sparse_categorical_accuracy_label_shapes():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, 0.5, 0.0]], np.float32)
    for labels in ([1, 0, 1, 0], [[1], [0], [1], [0]], np.array([1, 0, 1, 0], np.int64), tf.constant([1, 0, 1, 0])):
        assert updated(metrics.SparseCategoricalAccuracy(), labels, logits) == approx(0.75)
    # sequence labels (B, T) against (B, T, C)
    seq = np.stack([logits, logits[::-1]])
    assert updated(metrics.SparseCategoricalAccuracy(), [[1, 0, 2, 0], [0, 2, 0, 0]], seq) == approx(7 / 8)


def test_top_k_ties_and_bad_rows_follow_in_top_k():
    scores = np.array([[0.3, 0.3, 0.3, 0.1], [0.5, 0.2, 0.2, 0.1], [np.nan, 0.2, 0.9, 0.1]], np.float32)
    # ties at the boundary count as inside the top k; a row with a non-finite score never matches
    assert metrics.sparse_top_k_categorical_accuracy([2, 2, 2], scores, k=1).numpy().tolist() == [1.0, 0.0, 0.0]
    assert metrics.sparse_top_k_categorical_accuracy([2, 2, 5], scores, k=2).numpy().tolist() == [1.0, 1.0, 0.0]
    one_hot = np.eye(4, dtype=np.float32)[[3, 1, 2]]
    assert metrics.top_k_categorical_accuracy(one_hot, scores, k=3).numpy().tolist() == [0.0, 1.0, 0.0]


# -- Precision, Recall, AUC ----------------------------------------------------------------------------

Y_TRUE = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1]], np.float32)
Y_PRED = np.array([[0.1, 0.8, 0.4], [0.6, 0.55, 0.2], [0.3, 0.9, 0.5], [0.7, 0.45, 0.65]], np.float32)
WEIGHTS = np.array([1.0, 0.5, 2.0, 0.0], np.float32)


def counts(threshold, weights=None, y_true=Y_TRUE, y_pred=Y_PRED):
    """The formula: weighted tp, fp, fn of (y_pred > threshold) over every (sample, class) pair."""
    w = np.ones_like(y_pred) if weights is None else np.broadcast_to(np.asarray(weights)[:, None], y_pred.shape)
    positive, predicted = y_true > 0, y_pred > threshold
    return (w * (positive & predicted)).sum(), (w * (~positive & predicted)).sum(), (w * (positive & ~predicted)).sum()


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_precision_and_recall_with_thresholds(weights):
    thresholds = [0.3, 0.5, 0.7]
    expected = [counts(t, weights) for t in thresholds]
    precision = metrics.Precision(thresholds=thresholds)
    precision.update_state(Y_TRUE, Y_PRED, sample_weight=weights)
    assert precision.result().numpy() == approx([tp / (tp + fp) for tp, fp, _ in expected])
    recall = metrics.Recall(thresholds=thresholds)
    recall.update_state(Y_TRUE, Y_PRED, sample_weight=weights)
    assert recall.result().numpy() == approx([tp / (tp + fn) for tp, _, fn in expected])
    assert precision.true_positives.numpy() == approx([tp for tp, _, _ in expected])


def test_precision_class_id_and_top_k():
    tp, fp, _ = counts(0.5, y_true=Y_TRUE[:, 1:2], y_pred=Y_PRED[:, 1:2])
    assert updated(metrics.Precision(class_id=1), Y_TRUE, Y_PRED) == approx(tp / (tp + fp))
    # top_k=1: only each row's highest score is a positive prediction
    top = np.eye(3, dtype=bool)[Y_PRED.argmax(1)]
    tp = (top & (Y_TRUE > 0)).sum()
    assert updated(metrics.Precision(top_k=1), Y_TRUE, Y_PRED) == approx(tp / 4)
    assert updated(metrics.Recall(top_k=1), Y_TRUE, Y_PRED) == approx(tp / Y_TRUE.sum())
    with pytest.raises(ValueError, match="When class_id is provided, y_pred must be a 2D array"):
        metrics.Precision(class_id=0).update_state([1, 0], [0.4, 0.6])


def test_threshold_validation():
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]. Received: \[1.5\]"):
        metrics.Precision(thresholds=[0.5, 1.5])


def auc_by_formula(y_true, y_pred, n, curve="ROC", weights=None):
    """Keras's Riemann sum: counts at thresholds [-eps, 1/(n-1), ..., 1+eps], then trapezoids."""
    thresholds = np.array([-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7])
    w = np.ones(len(y_true)) if weights is None else np.asarray(weights, np.float64)
    pos = np.asarray(y_true) > 0
    above = np.asarray(y_pred)[None] > thresholds[:, None]
    tp, fp = (w * (above & pos)).sum(1), (w * (above & ~pos)).sum(1)
    fn, tn = (w * pos).sum() - tp, (w * ~pos).sum() - fp

    def div(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    if curve == "ROC":
        x, y = div(fp, fp + tn), div(tp, tp + fn)
        return float(((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2).sum())
    # PR, interpolated as Davis & Goadrich: TP and P = TP + FP linear within each bucket
    p = tp + fp
    dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
    slope = div(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    ratio = np.where((p[:-1] > 0) & (p[1:] > 0), div(p[:-1], np.maximum(p[1:], 0)), 1.0)
    return float(div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)).sum())


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("n", [3, 11, 200])
def test_auc_matches_the_interpolation_formula(curve, n):
    rng = np.random.default_rng(n)
    y_true = rng.random(64) > 0.6
    y_pred = np.clip(rng.random(64) * 0.7 + 0.3 * y_true, 0, 1).astype(np.float32)
    y_pred[:3] = [0.0, 1.0, 0.5]  # exactly on the end points and on a threshold
    weights = rng.random(64)
    metric = metrics.AUC(num_thresholds=n, curve=curve)
    assert updated(metric, y_true, y_pred) == approx(auc_by_formula(y_true, y_pred, n, curve))
    metric.reset_state()
    assert updated(metric, y_true, y_pred, sample_weight=weights) == \
        approx(auc_by_formula(y_true, y_pred, n, curve, weights), rel=1e-4)


def test_auc_pr_docstring_data_and_summation_methods():
    args = ([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    # tp = [2, 1, 0], fp = [2, 0, 0]: slopes 1/3 and 1, intercept 2/3 in the first bucket
    assert updated(metrics.AUC(num_thresholds=3, curve="PR"), *args) == approx((1 + 2 / 3 * np.log(4)) / 6 + 0.5)
    assert updated(metrics.AUC(num_thresholds=3, curve="PR", summation_method="minoring"), *args) == approx(0.25)
    assert updated(metrics.AUC(num_thresholds=3, summation_method="majoring"), *args) == approx(1.0)
    assert updated(metrics.AUC(num_thresholds=3, summation_method="minoring"), *args) == approx(0.5)


def test_auc_options():
    y_true, y_pred = [0, 0, 1, 1], [0.1, 0.6, 0.35, 0.8]
    logits = np.log(np.divide(y_pred, np.subtract(1, y_pred)))
    assert updated(metrics.AUC(from_logits=True), y_true, logits) == approx(updated(metrics.AUC(), y_true, y_pred))
    custom = metrics.AUC(thresholds=[0.3, 0.5, 0.7])
    assert custom.thresholds == approx([-1e-7, 0.3, 0.5, 0.7, 1 + 1e-7])
    # at -eps, 0.3, 0.5, 0.7, 1+eps: false-positive rate 1, .5, .5, 0, 0 and recall 1, 1, .5, .5, 0
    assert updated(custom, y_true, y_pred) == approx(0.5 * (1 + 1) / 2 + 0.5 * (0.5 + 0.5) / 2)
    multi = metrics.AUC(multi_label=True, num_thresholds=3)
    two_labels_true, two_labels_pred = np.stack([y_true, y_true[::-1]], 1), np.stack([y_pred, y_pred[::-1]], 1)
    single = updated(metrics.AUC(num_thresholds=3), y_true, y_pred)
    assert updated(multi, two_labels_true, two_labels_pred) == approx(single)
    assert multi.true_positives.shape == (3, 2)
    with pytest.raises(ValueError, match="Argument `num_thresholds` must be an integer > 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match='Invalid AUC curve value: "XY"'):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="`num_labels` is needed only when `multi_label` is True"):
        metrics.AUC(num_labels=3)


# -- the Metric API --------------------------------------------------------------------------------------

def test_reset_state_and_reset_states():
    for reset in ("reset_state", "reset_states"):
        acc = metrics.SparseCategoricalAccuracy()
        acc([1], [[0.0, 1.0]])
        assert float(acc.result()) == 1.0
        getattr(acc, reset)()
        assert float(acc.result()) == 0.0 and all(float(np.sum(v.numpy())) == 0 for v in acc.variables)
        acc([1], [[1.0, 0.0]])
        assert float(acc.result()) == 0.0
    auc = metrics.AUC(num_thresholds=3)
    auc([0, 1], [0.2, 0.8])
    auc.reset_states()
    assert all(not v.numpy().any() for v in auc.variables)


def test_variables_names_and_dtype():
    mean = metrics.Mean(name="train_loss")
    assert [v.name for v in mean.variables] == ["total:0", "count:0"]
    assert [v.path for v in mean.variables] == ["train_loss/total", "train_loss/count"]
    assert not any(v.trainable for v in mean.variables)
    assert mean.name == "train_loss" and mean.dtype == "float32"
    precision = metrics.Precision()
    assert precision.name.startswith("precision")
    assert [v.name for v in precision.variables] == ["true_positives:0", "false_positives:0"]
    assert [v.name for v in metrics.Recall().variables] == ["true_positives:0", "false_negatives:0"]
    assert metrics.Mean(dtype="float64").result().dtype == tf.float64


def test_a_result_read_earlier_is_not_changed_by_updates():
    mean = metrics.Mean()
    mean([2.0])
    before, total = mean.result(), mean.total.read_value()
    mean([4.0])
    assert float(before) == 2.0 and float(total) == 2.0 and float(mean.result()) == 3.0
    total = metrics.Sum()
    total([2.0])
    before = total.result()
    total([4.0])
    assert float(before) == 2.0 and float(total.result()) == 6.0


def test_updates_inside_a_tape_record_nothing():
    w = tf.Variable([[1.0, -1.0]])
    acc, mse, loss_metric = metrics.CategoricalAccuracy(), metrics.MeanSquaredError(), metrics.Mean()
    with tf.GradientTape() as tape:
        y = w * 2.0
        acc.update_state([[1.0, 0.0]], y)
        mse.update_state([[0.0, 0.0]], y)
        loss = tf.reduce_sum(y)
        loss_metric(loss)
    assert tape.gradient(loss, w).numpy().tolist() == [[2.0, 2.0]]
    assert float(mse.result()) == approx(4.0) and float(acc.result()) == 1.0


def test_custom_metric_subclass():
    class BinaryTruePositives(metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_weight(name="tp", initializer="zeros")
            self.inner = metrics.Mean(name="inner")

        def update_state(self, y_true, y_pred, sample_weight=None):
            hits = np.logical_and(np.asarray(y_true, bool), np.asarray(y_pred, bool)).astype(np.float32)
            self.true_positives.assign_add(hits.sum())
            self.inner.update_state(hits)

        def result(self):
            return self.true_positives.read_value()

    metric = BinaryTruePositives()
    assert float(metric([1, 1, 0], [1, 0, 1])) == 1.0
    assert float(metric([1, 1], [1, 1])) == 3.0
    assert [v.path for v in metric.variables] == ["binary_true_positives/tp", "inner/total", "inner/count"]
    metric.reset_state()
    assert float(metric.result()) == 0.0 and float(metric.inner.result()) == 0.0
    assert float(metric([1], [1])) == 1.0  # updates still land after assign_add and reset

    class Forgot(metrics.Metric):
        def __init__(self):
            self.v = 1

        def update_state(self):
            pass
    with pytest.raises(RuntimeError, match="You forgot to call `super\\(\\).__init__\\(\\)`"):
        Forgot()()


def test_mean_metric_wrapper_sees_detached_tensors():
    seen = []

    def fn(y_true, y_pred):
        seen.append((type(y_true), type(y_pred)))
        return tf.abs(y_true - y_pred)

    wrapper = metrics.MeanMetricWrapper(fn, name="l1")
    assert float(wrapper([1.0, 2.0], tf.Variable([1.5, 3.0]))) == approx(0.75)
    assert seen == [(tf.Tensor, tf.Tensor)]


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="m"), metrics.Sum(), metrics.Accuracy(), metrics.BinaryAccuracy(threshold=0.3),
    metrics.CategoricalAccuracy(), metrics.SparseCategoricalAccuracy(name="acc"),
    metrics.TopKCategoricalAccuracy(k=2), metrics.SparseTopKCategoricalAccuracy(k=3),
    metrics.MeanSquaredError(), metrics.Precision(thresholds=[0.2, 0.6], class_id=1),
    metrics.Recall(top_k=2), metrics.AUC(num_thresholds=7, curve="PR", summation_method="minoring"),
    metrics.AUC(thresholds=[0.2, 0.4], multi_label=True, num_labels=2, label_weights=[1.0, 2.0]),
    metrics.MeanMetricWrapper(tf.keras.losses.huber, delta=0.5),
], ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    config = metric.get_config()
    clone = type(metric).from_config(config)
    assert type(clone) is type(metric) and clone.get_config() == config
    assert metrics.get(metrics.serialize(metric)).get_config() == config


def test_get():
    assert metrics.get(None) is None
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    assert isinstance(metrics.get("SparseCategoricalAccuracy"), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("sparse_categorical_accuracy"), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("auc"), metrics.AUC)
    # as Keras 3: a snake_case class name and the short aliases give the class, not the loss function
    assert isinstance(metrics.get("categorical_crossentropy"), metrics.CategoricalCrossentropy)
    for name, cls in (("mae", metrics.MeanAbsoluteError), ("bce", metrics.BinaryCrossentropy),
                      ("MAPE", metrics.MeanAbsolutePercentageError), ("msle", metrics.MeanSquaredLogarithmicError)):
        assert isinstance(metrics.get(name), cls)
    assert metrics.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.7}}).threshold == 0.7
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    with pytest.raises(ValueError, match="Could not interpret metric identifier: nope"):
        metrics.get("nope")
