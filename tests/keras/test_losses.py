"""tf.keras.losses against Keras 3: its docstring examples and its published formulas.

Expected values are Keras's documented numbers, or the documented formula evaluated here in
NumPy (float64); TensorFlow and Keras are not test dependencies.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tf
import tapegrad.test  # makes tf.test.check_gradients available
from tapegrad.errors import InvalidArgumentError

losses = tf.keras.losses
EPS = 1e-7

# Keras's docstring inputs
SPARSE_TRUE, PROBS = [1, 2], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
ONE_HOT = [[0, 1, 0], [0, 0, 1]]
BIN_TRUE, BIN_PROBS = [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]
BIN_LOGITS = [[-18.6, 0.51], [2.94, -12.8]]

LOGITS = np.array([[2.0, -1.0, 0.5], [0.3, 0.2, -2.0], [-1.0, 1.5, 0.0], [0.0, 0.0, 0.0]], np.float32)
LABELS = np.array([0, 2, 1, 1])


def value(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def approx(expected, rel=1e-5, abs=1e-6):
    return pytest.approx(np.asarray(expected, np.float64) if isinstance(expected, list) else expected,
                         rel=rel, abs=abs)


def np_log_softmax(z, axis=-1):
    z = np.asarray(z, np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_sigmoid_xent(y, z):
    y, z = np.asarray(y, np.float64), np.asarray(z, np.float64)
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


# -- Keras docstring examples --------------------------------------------------------------------------

@pytest.mark.parametrize("cls, y_true", [(losses.SparseCategoricalCrossentropy, SPARSE_TRUE),
                                         (losses.CategoricalCrossentropy, ONE_HOT)])
def test_categorical_docstring_examples(cls, y_true):
    assert float(cls()(y_true, PROBS)) == approx(1.177, abs=1e-3)
    assert float(cls()(y_true, PROBS, sample_weight=np.array([0.3, 0.7]))) == approx(0.814, abs=1e-3)
    assert float(cls(reduction="sum")(y_true, PROBS)) == approx(2.354, abs=1e-3)
    per_sample = value(cls(reduction=None)(y_true, PROBS))
    # the formula: -log of the clipped, renormalised probability of the true class
    assert per_sample == approx([-np.log(0.95), -np.log(0.1)], rel=1e-5)


def test_binary_crossentropy_docstring_examples():
    assert value(losses.binary_crossentropy(BIN_TRUE, BIN_PROBS)) == approx([0.916, 0.714], abs=1e-3)
    assert value(losses.binary_crossentropy(BIN_TRUE, BIN_PROBS)) == approx([-(np.log(0.4) + np.log(0.4)) / 2,
                                                                              -(np.log(0.6) + np.log(0.4)) / 2])
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert float(bce(BIN_TRUE, BIN_LOGITS)) == approx(0.8654, abs=1e-4)
    assert float(bce(BIN_TRUE, BIN_LOGITS)) == approx(np_sigmoid_xent(BIN_TRUE, BIN_LOGITS).mean())
    assert float(bce(BIN_TRUE, BIN_LOGITS, sample_weight=[0.8, 0.2])) == approx(0.243, abs=1e-3)
    assert float(bce(BIN_TRUE, BIN_LOGITS, sample_weight=[0.8, 0.2])) == \
        approx((np_sigmoid_xent(BIN_TRUE, BIN_LOGITS).mean(-1) * [0.8, 0.2]).mean())
    assert float(losses.BinaryCrossentropy(from_logits=True, reduction="sum")(BIN_TRUE, BIN_LOGITS)) == \
        approx(1.730, abs=1e-3)
    assert value(losses.BinaryCrossentropy(from_logits=True, reduction=None)(BIN_TRUE, BIN_LOGITS)) == \
        approx([0.235, 1.496], abs=1e-3)
    # the 1-D docstring example: one sample of four logits
    assert float(bce([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8])) == approx(0.8654, abs=1e-4)


def test_regression_docstring_examples():
    assert float(losses.MeanSquaredError()([1.0, 0.0, 1.0], [0.9, 0.1, 0.8])) == approx(0.02)
    assert float(losses.MeanAbsoluteError()([1.0, 0.3, 1.0], [1.9, 0.3, 1.8])) == approx(0.5666667)
    y_true, y_pred = [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]
    for cls in (losses.MeanSquaredError, losses.MeanAbsoluteError):
        assert float(cls()(y_true, y_pred)) == approx(0.5)
        assert float(cls()(y_true, y_pred, sample_weight=[0.7, 0.3])) == approx(0.25)
        assert float(cls(reduction="sum")(y_true, y_pred)) == approx(1.0)
        assert value(cls(reduction="none")(y_true, y_pred)) == approx([0.5, 0.5])
    huber = losses.Huber()
    assert float(huber(BIN_TRUE, BIN_PROBS)) == approx(0.155)
    assert float(huber(BIN_TRUE, BIN_PROBS, sample_weight=[1, 0])) == approx(0.09)
    assert float(losses.Huber(reduction="sum")(BIN_TRUE, BIN_PROBS)) == approx(0.31)
    assert value(losses.Huber(reduction=None)(BIN_TRUE, BIN_PROBS)) == approx([0.18, 0.13])


def test_kl_divergence_and_cosine_docstring_examples():
    kld = losses.KLDivergence()
    assert float(kld(BIN_TRUE, BIN_PROBS)) == approx(0.458, abs=1e-3)
    assert float(kld(BIN_TRUE, BIN_PROBS, sample_weight=[0.8, 0.2])) == approx(0.366, abs=1e-3)
    expected = [np.log(1 / 0.4) + EPS * np.log(EPS / 0.6), EPS * np.log(EPS / 0.4) + EPS * np.log(EPS / 0.6)]
    assert value(losses.KLDivergence(reduction=None)(BIN_TRUE, BIN_PROBS)) == approx(expected, abs=1e-6)
    assert float(kld(BIN_TRUE, BIN_PROBS, sample_weight=[0.8, 0.2])) == approx(np.mean(np.multiply(expected,
                                                                                                   [0.8, 0.2])))
    y_true, y_pred = [[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]
    assert float(losses.CosineSimilarity()(y_true, y_pred)) == approx(-0.5)
    assert float(losses.CosineSimilarity()(y_true, y_pred, sample_weight=[0.8, 0.2])) == approx(-0.1)
    assert float(losses.CosineSimilarity(reduction="sum")(y_true, y_pred)) == approx(-1.0)
    assert value(losses.cosine_similarity([[0., 1.], [1., 1.], [1., 1.]], [[1., 0.], [1., 1.], [-1., -1.]])) == \
        approx([0.0, -1.0, 1.0])
    # a zero vector has similarity 0 (Keras clamps the inverse norm at 1 / epsilon)
    assert value(losses.cosine_similarity([[0.0, 0.0]], [[1.0, 2.0]])) == approx([0.0])


# -- formulas: from_logits both ways, label smoothing, axis ---------------------------------------------

def test_sparse_categorical_from_logits_is_minus_log_softmax():
    expected = -np_log_softmax(LOGITS)[np.arange(4), LABELS]
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    assert value(loss(LABELS, LOGITS)) == approx(expected)
    assert value(loss(LABELS[:, None], LOGITS)) == approx(expected)  # (B, 1) labels are squeezed
    assert value(loss(tf.constant(LABELS), tf.Variable(LOGITS))) == approx(expected)


def test_probability_paths_clip_at_epsilon():
    probs = np.array([[1.0, 0.0, 0.0]], np.float32)
    # SCCE: log(clip(p)) as logits, so the loss of a 0 probability is -log(1e-7 / sum(clipped))
    assert float(losses.sparse_categorical_crossentropy([1], probs)[0]) == \
        approx(-np.log(EPS / (1 - EPS + 2 * EPS)), rel=1e-4)
    # CCE: y_pred / sum, then clip
    with pytest.warns(UserWarning, match="outside"):  # 2.0 is no probability: tapegrad says so
        assert float(losses.categorical_crossentropy([[0, 1, 0]], probs * 2)[0]) == approx(-np.log(EPS), rel=1e-4)
    # BCE: clip, elementwise, then the mean over the last axis; the upper bound is 1 - 1e-7 in float32
    upper = float(np.float32(1 - EPS))
    assert float(losses.binary_crossentropy([[0.0, 1.0]], [[1.0, 1.0]])[0]) == \
        approx(-np.log(1 - upper) / 2, rel=1e-4)


def test_categorical_crossentropy_renormalises_probabilities():
    scores = np.array([[0.2, 0.6, 0.2], [0.1, 0.1, 0.3]], np.float32)
    y_true = np.eye(3, dtype=np.float32)[[1, 2]]
    expected = -np.log((scores / scores.sum(-1, keepdims=True))[[0, 1], [1, 2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the second row does not sum to 1: tapegrad warns
        assert value(losses.categorical_crossentropy(y_true, scores)) == approx(expected)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_categorical_label_smoothing(smoothing):
    y_true = np.eye(3, dtype=np.float32)[LABELS]
    smoothed = y_true * (1 - smoothing) + smoothing / 3
    expected = -(smoothed * np_log_softmax(LOGITS)).sum(-1)
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing, reduction="none")
    assert value(loss(y_true, LOGITS)) == approx(expected)
    probs = np.exp(np_log_softmax(LOGITS))
    expected_probs = -(smoothed * np.log(np.clip(probs, EPS, 1 - EPS))).sum(-1)
    assert value(losses.categorical_crossentropy(y_true, probs, label_smoothing=smoothing)) == approx(expected_probs)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_binary_crossentropy_both_ways_and_smoothing(smoothing):
    y_true = np.array([[0, 1, 1], [1, 0, 0]], np.float32)
    logits = np.array([[-1.5, 0.0, 3.0], [40.0, -40.0, 0.7]], np.float32)
    smoothed = y_true * (1 - smoothing) + 0.5 * smoothing
    loss = losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing, reduction=None)
    assert value(loss(y_true, logits)) == approx(np_sigmoid_xent(smoothed, logits).mean(-1))
    p = np.array([[0.2, 0.5, 0.9], [0.99, 0.01, 0.6]], np.float32)
    expected = -(smoothed * np.log(p) + (1 - smoothed) * np.log(1 - p.astype(np.float64))).mean(-1)
    loss = losses.BinaryCrossentropy(label_smoothing=smoothing, reduction=None)
    assert value(loss(y_true, p)) == approx(expected)


def test_axis_arguments():
    y_true = np.eye(3, dtype=np.float32)[LABELS].T  # classes along axis 0
    expected = -(y_true * np_log_softmax(LOGITS.T, axis=0)).sum(0)
    assert value(losses.categorical_crossentropy(y_true, LOGITS.T, from_logits=True, axis=0)) == approx(expected)
    assert value(losses.binary_crossentropy([[0.0, 1.0]], [[0.0, 0.0]], from_logits=True, axis=0)) == \
        approx([np.log(2), np.log(2)])
    y_pred = LOGITS[:, :2]
    cos = (LOGITS[:, :2] * y_pred).sum(0) / (np.linalg.norm(LOGITS[:, :2], axis=0) * np.linalg.norm(y_pred, axis=0))
    assert value(losses.CosineSimilarity(axis=0, reduction=None)(LOGITS[:, :2], y_pred)) == approx(-cos)
    with pytest.raises(ValueError, match="Only axis=-1 is currently supported. Received: axis=0"):
        losses.SparseCategoricalCrossentropy(axis=0)([1, 2], PROBS)
    with pytest.raises(ValueError, match="`axis` must be of type `int`"):
        losses.categorical_crossentropy(ONE_HOT, PROBS, axis=True)


def test_huber_delta():
    y_true, y_pred = np.zeros((1, 4), np.float32), np.array([[0.5, -1.5, 3.0, -0.2]], np.float32)
    err = np.abs(y_pred)
    for delta in (0.5, 1.0, 2.0):
        expected = np.where(err <= delta, 0.5 * err ** 2, delta * err - 0.5 * delta ** 2).mean()
        assert float(losses.Huber(delta=delta)(y_true, y_pred)) == approx(expected)


def test_ignore_class_masks_entries_out_of_the_mean():
    labels = np.array([0, 2, -1, 1])
    per_sample = -np_log_softmax(LOGITS)[np.arange(4), np.maximum(labels, 0)]
    kept = labels != -1
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert float(loss(labels, LOGITS)) == approx(per_sample[kept].mean())
    assert float(loss(labels, LOGITS, sample_weight=[1.0, 2.0, 5.0, 1.0])) == \
        approx((per_sample * [1, 2, 0, 1])[kept].sum() / 3)
    none = value(losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=None)(labels, LOGITS))
    assert none == approx(np.where(kept, per_sample, 0.0))
    summed = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="sum")
    assert float(summed(labels, LOGITS)) == approx(per_sample[kept].sum())
    weighted = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                                    reduction="mean_with_sample_weight")
    assert float(weighted(labels, LOGITS)) == approx(per_sample[kept].mean())
    # the functional form zeroes the entry but has no mask to reduce with
    assert value(losses.sparse_categorical_crossentropy(labels, LOGITS, from_logits=True, ignore_class=-1)) == \
        approx(np.where(kept, per_sample, 0.0))
    # all entries ignored: 0, not NaN
    assert float(loss([-1, -1], LOGITS[:2])) == 0.0


# -- reductions and sample weights ----------------------------------------------------------------------

PER_SAMPLE = np.array([1.0, 2.0, 3.0, 6.0], np.float32)


class Identity(losses.Loss):
    """A loss whose per-sample values are y_pred: the reduction alone is under test."""

    def call(self, y_true, y_pred):
        return y_pred


@pytest.mark.parametrize("reduction, weight, expected", [
    ("sum_over_batch_size", None, 3.0),
    ("mean", None, 3.0),
    ("sum", None, 12.0),
    ("mean_with_sample_weight", None, 3.0),
    ("sum_over_batch_size", [1.0, 1.0, 0.0, 0.5], 6.0 / 4),       # divides by the entry count
    ("sum", [1.0, 1.0, 0.0, 0.5], 6.0),
    ("mean_with_sample_weight", [1.0, 1.0, 0.0, 0.5], 6.0 / 2.5),  # divides by the weights' sum
    ("mean_with_sample_weight", [0.0, 0.0, 0.0, 0.0], 0.0),        # divide_no_nan
    ("sum_over_batch_size", 2.0, 6.0),                             # a scalar weight broadcasts
    ("sum_over_batch_size", [[1.0], [1.0], [0.0], [0.5]], 1.5),    # (B, 1) weights align with (B,)
])
def test_reductions_and_sample_weights(reduction, weight, expected):
    assert float(Identity(reduction=reduction)(PER_SAMPLE, PER_SAMPLE, sample_weight=weight)) == approx(expected)


@pytest.mark.parametrize("reduction", ["none", None])
def test_no_reduction_keeps_per_sample_values(reduction):
    out = Identity(reduction=reduction)(PER_SAMPLE, PER_SAMPLE, sample_weight=[1.0, 0.0, 1.0, 2.0])
    assert value(out) == approx([1.0, 0.0, 3.0, 12.0])


def test_invalid_reduction_message():
    with pytest.raises(ValueError, match=r"Invalid value for argument `reduction`. Expected one of \{.*\}. "
                                         r"Received: reduction=auto"):
        losses.MeanSquaredError(reduction="auto")


def test_per_sample_weights_on_a_rank_3_loss():
    y_pred = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    out = losses.MeanSquaredError(reduction="none")(np.zeros_like(y_pred), y_pred)
    assert value(out).shape == (2, 3)
    weighted = losses.MeanSquaredError()(np.zeros_like(y_pred), y_pred, sample_weight=[[1.0], [0.0]])
    assert float(weighted) == approx(value(out)[0].sum() / 6)


def test_empty_batch():
    out = losses.MeanSquaredError()(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert value(out).shape == (0,)


# -- shapes, dtypes, labels ---------------------------------------------------------------------------------

def test_rank_alignment_does_not_broadcast_to_batch_by_batch():
    y_true = np.array([1.0, 2.0, 3.0], np.float32)
    y_pred = np.array([[1.0], [2.0], [5.0]], np.float32)
    assert float(losses.MeanSquaredError()(y_true, y_pred)) == approx(4.0 / 3)
    assert float(losses.MeanSquaredError()(y_pred, y_true)) == approx(4.0 / 3)
    a, b = losses.squeeze_or_expand_to_same_rank(tf.zeros([3, 4, 1]), tf.zeros([3, 4]))
    assert (a.shape, b.shape) == ((3, 4), (3, 4))
    a, b = losses.squeeze_or_expand_to_same_rank(np.zeros(3), np.zeros((3, 1)), expand_rank_1=False)
    assert (a.shape, b.shape) == ((3,), (3,))


def test_integer_labels_in_any_form():
    expected = float(-np_log_softmax(LOGITS)[np.arange(4), LABELS].mean())
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    for labels in (LABELS, LABELS.astype(np.int32), LABELS.tolist(), tf.constant(LABELS),
                   tf.constant(LABELS[:, None], dtype=tf.int64), LABELS.astype(np.float32)):
        assert float(loss(labels, LOGITS)) == approx(expected)


def test_out_of_range_label_is_an_invalid_argument_error():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(InvalidArgumentError,
                       match=r"Received a label value of 3 which is outside the valid range of \[0, 3\)"):
        loss([0, 3, 1, 1], LOGITS)
    with pytest.raises(InvalidArgumentError, match=r"label value of -1 which is outside the valid range of \[0, 3\)"):
        losses.sparse_categorical_crossentropy([-1, 0, 1, 1], LOGITS, from_logits=True)


@pytest.mark.parametrize("call, message", [
    (lambda: losses.SparseCategoricalCrossentropy()([[1, 2]], PROBS),
     (r"Argument `output` must have rank \(ndim\) `target.ndim - 1`. Received: target.shape=\(1, 2\), "
      r"output.shape=\(2, 3\)")),
    (lambda: losses.SparseCategoricalCrossentropy()([1, 2, 0], PROBS),
     (r"Arguments `target` and `output` must have the same shape up until the last dimension: "
      r"target.shape=\(3,\), output.shape=\(2, 3\)")),
    (lambda: losses.CategoricalCrossentropy()([[0, 1], [1, 0]], PROBS),
     (r"Arguments `target` and `output` must have the same shape. Received: target.shape=\(2, 2\), "
      r"output.shape=\(2, 3\)")),
    (lambda: losses.categorical_crossentropy([0, 1, 0], PROBS),
     r"Arguments `target` and `output` must have the same rank \(ndim\). Received: target.shape=\(3,\)"),
    (lambda: losses.BinaryCrossentropy()([[0, 1, 1]], [[0.5, 0.5]]),
     r"Arguments `target` and `output` must have the same shape. Received: target.shape=\(1, 3\)"),
    (lambda: losses.binary_crossentropy([1.0, 0.0], [[0.5], [0.5]]),
     r"Arguments `target` and `output` must have the same rank \(ndim\)"),
])
def test_shape_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_binary_crossentropy_class_aligns_b_with_b1():
    assert float(losses.BinaryCrossentropy()([1.0, 0.0], [[0.8], [0.4]])) == \
        approx(-(np.log(0.8) + np.log(0.6)) / 2)


def test_dtype_argument():
    loss = losses.MeanSquaredError(dtype="float64")
    out = loss([1.0, 2.0], np.array([1.5, 2.0], np.float32))
    assert out.dtype == tf.float64 and loss.dtype == "float64"
    assert losses.MeanSquaredError().dtype == "float32"
    assert losses.MeanSquaredError()(np.array([1, 2]), np.array([1, 4])).dtype == tf.float32


def test_categorical_crossentropy_warns_for_one_class():
    with pytest.warns(SyntaxWarning, match=r"expected y_pred.shape to be \(batch_size, num_classes\) with "
                                           r"num_classes > 1. Received: y_pred.shape=\(2, 1\)"):
        losses.CategoricalCrossentropy()([[1.0], [1.0]], [[1.0], [1.0]])


# -- logits / probabilities warnings ----------------------------------------------------------------------

def recorded(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w for w in caught if issubclass(w.category, UserWarning)]


SOFTMAX = np.exp(np_log_softmax(LOGITS)).astype(np.float32)


@pytest.mark.parametrize("make, y_true, y_pred, says", [
    (lambda: losses.SparseCategoricalCrossentropy(), LABELS, LOGITS, "from_logits=True"),
    (lambda: losses.CategoricalCrossentropy(), np.eye(3)[LABELS], LOGITS, "from_logits=True"),
    (lambda: losses.CategoricalCrossentropy(), np.eye(3)[LABELS], np.abs(LOGITS) / 4, "do not sum to 1"),
    (lambda: losses.BinaryCrossentropy(), np.ones((4, 3)), LOGITS, "from_logits=True"),
    (lambda: losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, SOFTMAX, "from_logits=False"),
    (lambda: losses.CategoricalCrossentropy(from_logits=True), np.eye(3)[LABELS], SOFTMAX, "from_logits=False"),
])
def test_misuse_warns_once_per_loss_object(make, y_true, y_pred, says):
    loss = make()

    def twice():
        loss(y_true, y_pred)
        loss(y_true, y_pred)
    caught = recorded(twice)
    assert len(caught) == 1
    assert says in str(caught[0].message)
    assert caught[0].filename == __file__  # attributed to the user's line, not to tapegrad
    assert len(recorded(lambda: make()(y_true, y_pred))) == 1  # a new object warns again


@pytest.mark.parametrize("make, y_true, y_pred", [
    (lambda: losses.SparseCategoricalCrossentropy(), LABELS, SOFTMAX),
    (lambda: losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS),
    (lambda: losses.CategoricalCrossentropy(), np.eye(3)[LABELS], SOFTMAX),
    (lambda: losses.CategoricalCrossentropy(from_logits=True), np.eye(3)[LABELS], LOGITS),
    (lambda: losses.BinaryCrossentropy(), np.ones((4, 3)), SOFTMAX),
    (lambda: losses.BinaryCrossentropy(from_logits=True), np.ones((4, 3)), SOFTMAX),  # no row-sum rule
    (lambda: losses.SparseCategoricalCrossentropy(ignore_class=0), [0, 0], [[0.0, 0.0], [0.5, 0.5]]),
])
def test_no_warning_for_the_right_from_logits(make, y_true, y_pred):
    assert recorded(lambda: make()(y_true, y_pred)) == []


def test_loss_functions_warn_once_per_call_site():
    def loop():
        for _ in range(3):
            losses.sparse_categorical_crossentropy(LABELS, LOGITS)
    caught = recorded(loop)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert "`sparse_categorical_crossentropy` received `from_logits=False`" in str(caught[0].message)


# -- gradients ---------------------------------------------------------------------------------------

GRADIENT_CASES = [
    (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS),
    (losses.SparseCategoricalCrossentropy(), LABELS, SOFTMAX),
    (losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1), LABELS, LOGITS),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), np.eye(3)[LABELS], LOGITS),
    (losses.CategoricalCrossentropy(), np.eye(3)[LABELS], SOFTMAX),
    (losses.BinaryCrossentropy(from_logits=True), np.eye(3)[LABELS], LOGITS),
    (losses.BinaryCrossentropy(label_smoothing=0.1), np.eye(3)[LABELS], SOFTMAX),
    (losses.MeanSquaredError(), np.ones((4, 3)), LOGITS),
    (losses.MeanAbsoluteError(), np.ones((4, 3)), LOGITS),
    (losses.Huber(delta=0.8), np.ones((4, 3)), LOGITS),
    (losses.KLDivergence(), SOFTMAX[::-1].copy(), SOFTMAX),
    (losses.CosineSimilarity(), np.ones((4, 3)), LOGITS + 1.0),
]


@pytest.mark.parametrize("loss, y_true, y_pred", GRADIENT_CASES, ids=lambda x: getattr(x, "name", ""))
def test_gradients_flow_through_every_loss(loss, y_true, y_pred):
    w = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        out = loss(y_true, w * 1.0, sample_weight=[1.0, 0.5, 2.0, 1.0])
    grad = tape.gradient(out, w)
    assert grad is not None and grad.shape == w.shape
    assert np.all(np.isfinite(value(grad))) and np.any(value(grad) != 0)


@pytest.mark.parametrize("loss, y_true, y_pred", [GRADIENT_CASES[i] for i in (0, 1, 3, 5, 9, 11)],
                         ids=lambda x: getattr(x, "name", ""))
def test_gradients_match_finite_differences(loss, y_true, y_pred):
    loss = type(loss).from_config({**loss.get_config(), "dtype": "float64"})
    tf.test.check_gradients(lambda z: loss(y_true, z), [y_pred.astype(np.float64)], order=1, modes=("rev",))


def test_scce_gradient_is_softmax_minus_one_hot():
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        loss = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, logits)
    expected = (np.exp(np_log_softmax(LOGITS)) - np.eye(3)[LABELS]) / 4
    assert value(tape.gradient(loss, logits)) == approx(expected)


def test_bce_gradient_at_zero_logits_is_sigmoid_minus_label():
    logits = tf.Variable(np.zeros((2, 2), np.float32))
    with tf.GradientTape() as tape:
        loss = losses.BinaryCrossentropy(from_logits=True, reduction="sum")([[0, 1], [1, 1]], logits)
    assert value(tape.gradient(loss, logits)) == approx([[0.25, -0.25], [-0.25, -0.25]])


def test_gradient_reaches_y_true_when_it_is_a_model_output():
    target = tf.Variable([[0.5, 1.0]])
    with tf.GradientTape() as tape:
        loss = losses.MeanSquaredError()(target * 1.0, [[1.0, 1.0]])
    assert value(tape.gradient(loss, target)) == approx([[-0.5, 0.0]])


# -- config, lookup, subclassing ----------------------------------------------------------------------

@pytest.mark.parametrize("loss", [
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="sum", name="scce"),
    losses.CategoricalCrossentropy(label_smoothing=0.2, axis=0),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.MeanSquaredError(reduction=None),
    losses.MeanAbsoluteError(),
    losses.Huber(delta=2.5),
    losses.KLDivergence(reduction="mean_with_sample_weight"),
    losses.CosineSimilarity(axis=0),
    losses.LossFunctionWrapper(losses.huber, delta=0.3, name="my_huber"),
], ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config and type(clone) is type(loss)
    assert losses.get(losses.serialize(loss)).get_config() == config
    y_true, y_pred = np.eye(3, dtype=np.float32)[LABELS], SOFTMAX
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        y_true, y_pred = LABELS, LOGITS
    if getattr(loss, "axis", -1) == 0:  # classes along axis 0
        y_true, y_pred = y_true.T, y_pred.T
    assert value(clone(y_true, y_pred)) == approx(value(loss(y_true, y_pred)))


def test_keras_config_keys():
    assert losses.SparseCategoricalCrossentropy().get_config()["name"] == "sparse_categorical_crossentropy"
    assert set(losses.BinaryCrossentropy().get_config()) >= {"name", "reduction", "from_logits",
                                                             "label_smoothing", "axis"}
    scce = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3)
    assert (scce.from_logits, scce.ignore_class, scce.reduction) == (True, 3, "sum_over_batch_size")


def test_get():
    assert losses.get(None) is None
    assert losses.get("mse") is losses.mean_squared_error is losses.mse is losses.MSE
    assert losses.get("mae") is losses.mae and losses.get("kld") is losses.kl_divergence
    assert losses.get("bce") is losses.binary_crossentropy
    assert isinstance(losses.get("SparseCategoricalCrossentropy"), losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    loss = losses.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert loss.from_logits is True
    assert losses.get(losses.cosine_similarity) is losses.cosine_similarity
    with pytest.raises(ValueError, match="Could not interpret loss identifier: nope"):
        losses.get("nope")


def test_subclassing_loss():
    class Scaled(losses.Loss):
        def __init__(self, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    loss = Scaled(reduction="sum")
    assert loss.name.startswith("scaled")
    assert float(loss([[0.0, 0.0]], [[1.0, 3.0]])) == approx(4.0)
    assert Scaled.from_config(loss.get_config()).scale == 2.0
    with pytest.raises(NotImplementedError):
        losses.Loss()(1.0, 1.0)
