"""sort, argsort, top_k, unique, bincount, searchsorted and segment reductions against values recorded
from TensorFlow 2.21 (tests/fixtures/tf_sorting_linalg.json): values, result dtypes, ties, gradients."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import tapegrad as tf

REF = json.loads((pathlib.Path(__file__).parents[1] / "fixtures" / "tf_sorting_linalg.json").read_text())
X = np.array(REF["inputs.x"], np.float32)
U = np.array(REF["inputs.u"], np.int64)
B = np.array([1, 2, 2, 5, 0], np.int32)
SEQ = [[1., 2., 2., 3.], [0., 5., 6., 7.]]
VALS = [[2., 0., 4.], [5., 8., 6.]]
D, IDS = np.array([1., 3., 5., -2.], np.float32), np.array([0, 0, 2, 0], np.int32)


def expect(name, got):
    ref = REF[name]
    got = got.numpy()
    assert got.dtype.name == ref["dtype"], name
    assert list(got.shape) == ref["shape"], name
    np.testing.assert_allclose(got, np.array(ref["value"]), rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("name, f", [
    ("sort.asc", lambda: tf.sort(X)), ("sort.desc_axis0", lambda: tf.sort(X, axis=0, direction="DESCENDING")),
    ("argsort.asc", lambda: tf.argsort(X)), ("argsort.desc", lambda: tf.argsort(X, direction="DESCENDING")),
    ("argsort.axis0", lambda: tf.argsort(X, axis=0)),
    ("top_k.0", lambda: tf.math.top_k(X, 3).values), ("top_k.1", lambda: tf.nn.top_k(X, k=3).indices),
    ("unique.0", lambda: tf.unique(U).y), ("unique.1", lambda: tf.unique(U).idx),
    ("unique64.1", lambda: tf.unique(U, out_idx=tf.int64).idx),
    ("unique_with_counts.0", lambda: tf.unique_with_counts(U).y),
    ("unique_with_counts.2", lambda: tf.unique_with_counts(U).count),
    ("bincount", lambda: tf.math.bincount(B)), ("bincount.min", lambda: tf.math.bincount(B, minlength=8)),
    ("bincount.max", lambda: tf.math.bincount(B, maxlength=3)),
    ("bincount.w", lambda: tf.math.bincount(B, weights=np.array([.5, 1., 1., 2., 3.], np.float32))),
    ("bincount.axis", lambda: tf.math.bincount(np.array([[1, 1, 0], [2, 0, 0]], np.int32), axis=-1)),
    ("bincount.binary", lambda: tf.math.bincount(B, binary_output=True)),
    ("bincount.i64", lambda: tf.math.bincount(B, dtype=tf.int64)),
    ("searchsorted.left", lambda: tf.searchsorted(SEQ, VALS)),
    ("searchsorted.right", lambda: tf.searchsorted(SEQ, VALS, side="right")),
    ("searchsorted.i64", lambda: tf.searchsorted([1., 2., 3.], [2.5], out_type=tf.int64)),
    ("segment.sum", lambda: tf.math.unsorted_segment_sum(D, IDS, 3)),
    ("segment.mean", lambda: tf.math.unsorted_segment_mean(D, IDS, 3)),
    ("segment.max", lambda: tf.math.unsorted_segment_max(D, IDS, 3)),
    ("segment.min", lambda: tf.math.unsorted_segment_min(D, IDS, 3)),
])
def test_values_match_tf(name, f):
    expect(name, f())


def test_results_are_named_tuples():
    assert type(tf.math.top_k(X)).__name__ == "TopKV2"
    assert tf.unique(U)._fields == ("y", "idx")
    assert tf.unique_with_counts(U)._fields == ("y", "idx", "count")


def test_gradients_flow_to_the_picked_elements():
    w = tf.constant(X)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(w)
        top = tf.reduce_sum(tf.math.top_k(w, 3).values * tf.constant([1., 2., 3.]))
        ordered = tf.reduce_sum(tf.sort(w, direction="DESCENDING") * tf.range(5.))
    expect("top_k.grad", tape.gradient(top, w))
    expect("sort.grad", tape.gradient(ordered, w))
    d = tf.constant([1., 3., 3., -2.])
    with tf.GradientTape() as tape:
        tape.watch(d)
        loss = tf.reduce_sum(tf.math.unsorted_segment_max(d, IDS, 3) * tf.constant([2., 1., 1.]))
    expect("segment.max.grad", tape.gradient(loss, d))  # ties share the gradient


def test_errors_match_tf():
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least k columns. Had 5, needed 6"):
        tf.math.top_k(X, 6)
    with pytest.raises(ValueError, match="direction"):
        tf.sort(X, direction="UP")
    with pytest.raises(tf.errors.InvalidArgumentError, match="unique expects a 1D vector"):
        tf.unique(X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
        tf.math.bincount([-1, 2])


def test_traced_sort_matches_eager():
    f = tf.function(lambda x: (tf.sort(x), tf.math.top_k(x, 2).indices,
                               tf.argsort(x, direction="DESCENDING")))
    for got, want in zip(f(tf.constant(X)), (tf.sort(X), tf.math.top_k(X, 2).indices,
                                              tf.argsort(X, direction="DESCENDING"))):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
