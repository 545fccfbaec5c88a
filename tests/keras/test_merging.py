"""Merge layers and their functional forms; expected values recorded from Keras 3.15 (TF 2.21)."""
import numpy as np
import pytest

import tapegrad as tf

layers = tf.keras.layers


def test_functional_forms_build_the_layers():
    a, b = np.array([[1.0, 4.0]], "float32"), np.array([[3.0, 2.0]], "float32")
    assert layers.add([a, b]).numpy().tolist() == [[4.0, 6.0]]
    assert layers.subtract([a, b]).numpy().tolist() == [[-2.0, 2.0]]
    assert layers.multiply([a, b]).numpy().tolist() == [[3.0, 8.0]]
    assert layers.average([a, b]).numpy().tolist() == [[2.0, 3.0]]
    assert layers.maximum([a, b]).numpy().tolist() == [[3.0, 4.0]]
    assert layers.minimum([a, b]).numpy().tolist() == [[1.0, 2.0]]
    assert layers.concatenate([a, b], axis=0).shape == (2, 2)
    assert layers.dot([a, b], axes=1).numpy().tolist() == [[11.0]]
    x = layers.concatenate([tf.keras.Input((3,)), tf.keras.Input((2,))], name="joined")
    assert tuple(x.shape) == (None, 5)


def test_one_input_list_passes_through():
    for cls in (layers.Concatenate, layers.Add, layers.Multiply, layers.Average, layers.Maximum):
        assert tuple(cls()([tf.ones([2, 3])]).shape) == (2, 3)
        assert tuple(cls()([tf.keras.Input((3,))]).shape) == (None, 3)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([tf.ones([2, 3])])


def test_mixed_dtypes_are_promoted_as_keras():
    i64, f32 = tf.constant([[1]], tf.int64), tf.constant([[1.5, 2.0]])
    out = layers.Concatenate()([i64, f32])
    assert out.dtype == tf.float32 and out.numpy().tolist() == [[1.0, 1.5, 2.0]]
    assert layers.Concatenate()([i64, i64]).dtype == tf.int64
    assert layers.Add()([i64, tf.constant([[1.5]])]).numpy().tolist() == [[2.5]]
    out = layers.Maximum()([np.array([[1, 5]], "int64"), np.array([[2.5, 0]], "float32")])
    assert out.dtype == tf.float32 and out.numpy().tolist() == [[2.5, 5.0]]
    for dtype, expected in [("int32", tf.float64), ("int64", tf.float64), ("int16", tf.float32),
                            ("uint8", tf.float32), ("float16", tf.float32)]:
        assert layers.Average()([np.ones((1, 2), dtype), np.zeros((1, 2), dtype)]).dtype == expected


def test_mixed_dtype_inputs_in_a_functional_model():
    a = tf.keras.Input(shape=(1,), dtype="int64")
    b = tf.keras.Input(shape=(2,), dtype="float32")
    model = tf.keras.Model([a, b], layers.Concatenate(axis=1)([a, b]))
    out = model([np.array([[1]]), np.array([[2.0, 3.0]], "float32")])
    assert out.dtype == tf.float32 and out.numpy().tolist() == [[1.0, 2.0, 3.0]]


def test_dot():
    a = np.arange(24, dtype="float32").reshape(2, 3, 4) / 10
    b = np.arange(40, dtype="float32").reshape(2, 4, 5) / 10
    out = layers.Dot(axes=(2, 1))([a, b])
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-6)
    c = np.arange(30, dtype="float32").reshape(2, 3, 5) / 10
    assert tuple(layers.Dot(axes=1)([a, c]).shape) == (2, 4, 5)
    assert tuple(layers.Dot(axes=-1)([a, a]).shape) == (2, 3, 3)
    cos = layers.Dot(axes=1, normalize=True)([np.array([[3.0, 4.0]], "float32"),
                                               np.array([[4.0, 3.0]], "float32")])
    np.testing.assert_allclose(cos.numpy(), [[0.96]], rtol=1e-6)
    assert tuple(layers.Dot(axes=1).compute_output_shape([(None, 3, 4), (None, 3, 5)])) == (None, 4, 5)
    config = layers.Dot(axes=(2, 1), normalize=True).get_config()
    assert config["axes"] == (2, 1) and config["normalize"] is True
    with pytest.raises(ValueError, match=r"axis values 3 \(at axis 1\) != 4 \(at axis 1\)"):
        layers.Dot(axes=1)([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")])
    with pytest.raises(ValueError, match="should be called on a list of 2 inputs"):
        layers.Dot(axes=1)([np.ones((2, 3), "float32")])


def test_string_inputs():
    x = tf.keras.Input(shape=(), dtype=tf.string)
    assert x.dtype == tf.string and tuple(x.shape) == (None,)
    assert tf.keras.Input(shape=(1,), dtype="string").dtype == tf.string
    assert tf.keras.Input(shape=(1,), name="n", dtype=tf.float32).dtype == tf.float32
