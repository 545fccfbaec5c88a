"""Dataset.concatenate, as TF 2.21: elements in order, cardinality summed, shapes relaxed, dtypes must match."""
import numpy as np
import pytest

import tapegrad as tf


def test_elements_follow_each_other_and_cardinality_adds():
    joined = tf.data.Dataset.range(3).concatenate(tf.data.Dataset.range(10, 12))
    assert [int(x) for x in joined] == [0, 1, 2, 10, 11]
    assert int(joined.cardinality()) == 5


def test_shapes_are_relaxed_where_they_differ():
    a = tf.data.Dataset.from_tensor_slices(np.zeros((4, 3), "float32"))
    b = tf.data.Dataset.from_tensor_slices(np.zeros((2, 5), "float32"))
    assert a.concatenate(b).element_spec == tf.TensorSpec([None], tf.float32)
    assert [x.shape[0] for x in a.concatenate(b)] == [3, 3, 3, 3, 5, 5]


def test_other_dtypes_are_refused():
    with pytest.raises(TypeError, match="Incompatible dataset elements"):
        tf.data.Dataset.range(2).concatenate(tf.data.Dataset.from_tensor_slices(np.zeros(2, "float32")))
