"""Keras masks: made by Embedding(mask_zero=True) and Masking, passed to `call(mask=...)`, attached to
outputs by layers that support masking, dropped by those that do not; Lambda."""
import numpy as np

import tapegrad as tf
from tapegrad.keras.layers.masking import get_keras_mask

L = tf.keras.layers


def test_embedding_mask_reaches_call_and_passes_through_dense():
    seen = {}

    class Probe(L.Layer):
        supports_masking = True

        def call(self, x, mask=None):
            seen["mask"] = mask
            return x

    ids = tf.constant([[3, 0], [1, 2]])
    y = L.Dense(2)(Probe()(L.Embedding(5, 3, mask_zero=True)(ids)))
    np.testing.assert_array_equal(seen["mask"].numpy(), [[True, False], [True, True]])
    np.testing.assert_array_equal(get_keras_mask(y).numpy(), [[True, False], [True, True]])
    assert get_keras_mask(L.Embedding(5, 3)(ids)) is None


def test_masking_layer():
    x = tf.constant([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    layer = L.Masking(0.0)
    y = layer(x)
    np.testing.assert_array_equal(get_keras_mask(y).numpy(), [[True, False, True]])
    out = L.SimpleRNN(1, kernel_initializer="ones", recurrent_initializer="ones", activation=None,
                      return_sequences=True)(y)
    np.testing.assert_allclose(out.numpy().ravel(), [3.0, 3.0, 6.0])  # the masked step repeats the output
    assert layer.get_config()["mask_value"] == 0.0


def test_lambda():
    layer = L.Lambda(lambda x, mask=None: x * 2.0, output_shape=(3,))
    np.testing.assert_allclose(layer(tf.ones([2, 3])).numpy(), 2.0)
    assert layer.compute_output_shape((None, 5)) == (None, 3)
    config = layer.get_config()
    assert callable(config["function"]) and config["output_shape"] == (3,) and config["arguments"] == {}
    masked = L.Lambda(lambda x: x, mask=lambda inputs, mask: mask)
    emb = L.Embedding(5, 2, mask_zero=True)(tf.constant([[1, 0]]))
    np.testing.assert_array_equal(get_keras_mask(masked(emb)).numpy(), [[True, False]])
    assert get_keras_mask(L.Lambda(lambda x: x + 0.0)(emb)) is None  # no mask argument: the mask is dropped
