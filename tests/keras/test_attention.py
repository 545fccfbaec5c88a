"""MultiHeadAttention and Attention against values recorded from Keras 3.15
(tests/fixtures/keras_attention_reference.npz)."""

import os

import numpy as np
import pytest

import tapegrad as tf

L = tf.keras.layers
REF = dict(
    np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_attention_reference.npz"))
)
Q, V, AMASK = REF["q"], REF["v"], REF["amask"]


def _two(layer_call):
    qi, vi = tf.keras.Input((4, 6)), tf.keras.Input((5, 6))
    return tf.keras.Model([qi, vi], layer_call(qi, vi)), [Q, V]


def _mha_mask():
    qi, vi, mi = tf.keras.Input((4, 6)), tf.keras.Input((5, 6)), tf.keras.Input((4, 5), dtype="bool")
    return tf.keras.Model([qi, vi, mi], L.MultiHeadAttention(2, 3)(qi, vi, attention_mask=mi)), [Q, V, AMASK]


def _causal():
    qi = tf.keras.Input((4, 6))
    return tf.keras.Model(qi, L.MultiHeadAttention(2, 3)(qi, qi, use_causal_mask=True)), Q


CASES = {
    "mha": lambda: _two(
        lambda q, v: list(L.MultiHeadAttention(num_heads=2, key_dim=3)(q, v, return_attention_scores=True))
    ),
    "mha_vd_out": lambda: _two(
        lambda q, v: list(
            L.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, output_shape=5, use_bias=False)(
                q, v, return_attention_scores=True
            )
        )
    ),
    "mha_causal": _causal,
    "mha_mask": _mha_mask,
    "att": lambda: _two(lambda q, v: list(L.Attention()([q, v], return_attention_scores=True))),
    "att_scale": lambda: _two(
        lambda q, v: list(L.Attention(use_scale=True)([q, v], return_attention_scores=True))
    ),
    "att_concat": lambda: _two(
        lambda q, v: list(
            L.Attention(score_mode="concat", use_scale=True)([q, v], return_attention_scores=True)
        )
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_match_keras(name):
    model, inputs = CASES[name]()
    model.set_weights([REF[f"{name}/w{i}"] for i in range(int(REF[f"{name}/nw"]))])
    got = model(inputs)
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == int(REF[f"{name}/ny"])
    for i, y in enumerate(got):
        np.testing.assert_allclose(np.asarray(y), REF[f"{name}/y{i}"], atol=1e-5, rtol=1e-5)


def test_mha_weights_and_config_as_keras():
    layer = L.MultiHeadAttention(2, 3)
    layer(tf.constant(Q), tf.constant(V))
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("query/kernel", (6, 2, 3)),
        ("query/bias", (2, 3)),
        ("key/kernel", (6, 2, 3)),
        ("key/bias", (2, 3)),
        ("value/kernel", (6, 2, 3)),
        ("value/bias", (2, 3)),
        ("attention_output/kernel", (2, 3, 6)),
        ("attention_output/bias", (6,)),
    ]
    config = layer.get_config()
    assert (config["num_heads"], config["key_dim"], config["value_dim"], config["output_shape"]) == (
        2,
        3,
        3,
        None,
    )
    assert layer.compute_output_shape((None, 4, 6)) == (None, 4, 6)


def test_mha_gradients_eager_equal_compiled():
    layer = L.MultiHeadAttention(2, 3, dropout=0.0)
    q, v = tf.constant(Q), tf.constant(V)

    def grads():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(q, v, use_causal_mask=False)))
        return tape.gradient(loss, layer.trainable_variables)

    eager = grads()
    compiled = tf.function(grads)()
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
