"""SimpleRNN, LSTM, GRU, RNN(cells), Bidirectional and TimeDistributed against values recorded from
Keras 3.15 (tests/fixtures/keras_rnn_reference.npz: Keras' weights, inputs, outputs, gradients)."""

import os

import numpy as np
import pytest

import tapegrad as tf

L = tf.keras.layers
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
REF = dict(np.load(os.path.join(FIXTURES, "keras_rnn_reference.npz")))
X, IDS = REF["x"], REF["ids"]


def _seq(*layers, shape=(5, 3), dtype="float32"):
    return tf.keras.Sequential([tf.keras.Input(shape, dtype=dtype)] + list(layers))


def _functional(layer_fn, shape=(5, 3)):
    i = tf.keras.Input(shape)
    return tf.keras.Model(i, layer_fn(i))


CASES = {
    "lstm": (lambda: _seq(L.LSTM(4)), X),
    "gru": (lambda: _seq(L.GRU(4, return_sequences=True)), X),
    "gru_v1": (lambda: _seq(L.GRU(4, reset_after=False, return_sequences=True)), X),
    "simple_back": (lambda: _seq(L.SimpleRNN(4, go_backwards=True, return_sequences=True)), X),
    "lstm_back": (lambda: _seq(L.LSTM(4, go_backwards=True)), X),
    "lstm_seq_state": (lambda: _functional(L.LSTM(4, return_sequences=True, return_state=True)), X),
    "masked_lstm": (
        lambda: _seq(
            L.Embedding(10, 3, mask_zero=True), L.LSTM(4, return_sequences=True), shape=(5,), dtype="int32"
        ),
        IDS,
    ),
    "masked_gru_last": (
        lambda: _seq(
            L.Embedding(10, 3, mask_zero=True), L.GRU(4, go_backwards=True), shape=(5,), dtype="int32"
        ),
        IDS,
    ),
    "tutorial": (
        lambda: _seq(
            L.Embedding(10, 3, mask_zero=True),
            L.Bidirectional(L.LSTM(4, return_sequences=True)),
            L.Bidirectional(L.LSTM(3)),
            L.Dense(4, activation="relu"),
            L.Dense(1),
            shape=(5,),
            dtype="int32",
        ),
        IDS,
    ),
    "bidi_sum": (lambda: _seq(L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum")), X),
    "bidi_mul": (lambda: _seq(L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="mul")), X),
    "bidi_ave": (lambda: _seq(L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="ave")), X),
    "bidi_none": (lambda: _functional(L.Bidirectional(L.SimpleRNN(4), merge_mode=None)), X),
    "timedist": (lambda: _seq(L.TimeDistributed(L.Dense(2, activation="tanh"))), X),
    "stacked": (lambda: _seq(L.RNN([L.LSTMCell(4), L.GRUCell(3)], return_sequences=True)), X),
}


def _load(name):
    model, inputs = CASES[name][0](), CASES[name][1]
    model.set_weights([REF[f"{name}/w{i}"] for i in range(int(REF[f"{name}/nw"]))])
    return model, inputs


def _outputs(y):
    return [np.asarray(t) for t in (y if isinstance(y, (list, tuple)) else [y])]


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_match_keras(name):
    model, inputs = _load(name)
    got = _outputs(model(inputs))
    assert len(got) == int(REF[f"{name}/ny"])
    for i, y in enumerate(got):
        np.testing.assert_allclose(y, REF[f"{name}/y{i}"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "gru", "simple_back", "masked_lstm", "tutorial"])
@pytest.mark.parametrize("compiled", [False, True])
def test_gradients_match_keras_eager_and_compiled(name, compiled):
    model, inputs = _load(name)
    inputs = tf.constant(inputs)

    def grads(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x)))
        return tape.gradient(loss, model.trainable_variables)

    got = tf.function(grads)(inputs) if compiled else grads(inputs)
    for i, g in enumerate(got):
        np.testing.assert_allclose(
            np.asarray(tf.convert_to_tensor(g)), REF[f"{name}/g{i}"], atol=1e-5, rtol=1e-4
        )


def test_symbolic_time_axis_in_tf_function():
    model, _ = _load("masked_lstm")
    f = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec([2, None], tf.int32)])
    np.testing.assert_allclose(np.asarray(f(tf.constant(IDS))), REF["masked_lstm/y0"], atol=1e-5)
    longer = np.concatenate([IDS, np.zeros((2, 2), np.int32)], axis=1)  # more padding: same last steps
    np.testing.assert_allclose(np.asarray(f(tf.constant(longer)))[:, :5], REF["masked_lstm/y0"], atol=1e-5)


def test_weights_layout_and_config_as_keras():
    layer = L.GRU(3)
    layer.build((None, 5, 2))
    assert [tuple(w.shape) for w in layer.weights] == [(2, 9), (3, 9), (2, 9)]
    assert [w.path for w in layer.weights] == [
        "gru_cell/kernel",
        "gru_cell/recurrent_kernel",
        "gru_cell/bias",
    ]
    config = L.LSTM(3, return_sequences=True, dropout=0.1).get_config()
    for key, value in {
        "units": 3,
        "return_sequences": True,
        "unit_forget_bias": True,
        "dropout": 0.1,
        "recurrent_activation": "sigmoid",
        "zero_output_for_mask": False,
        "seed": None,
    }.items():
        assert config[key] == value
    assert "cell" not in config
    assert L.LSTM.from_config(config).units == 3
    lstm = L.LSTM(2)
    lstm.build((None, 4, 3))
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), [0, 0, 1, 1, 0, 0, 0, 0])  # unit_forget_bias
    assert L.Bidirectional(L.LSTM(2)).get_config()["merge_mode"] == "concat"
    assert L.SimpleRNN(2).compute_output_shape((None, 7, 3)) == (None, 2)
    assert L.LSTM(2, return_state=True, return_sequences=True).compute_output_shape((None, 7, 3)) == [
        (None, 7, 2),
        (None, 2),
        (None, 2),
    ]


def test_user_cell_initial_state_and_stateful():
    class Cell(L.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")

        def call(self, inputs, states):
            h = tf.matmul(inputs, self.kernel) + states[0]
            return h, [h]

    layer = L.RNN(Cell(2), return_sequences=True)
    x = tf.ones([1, 3, 2])
    np.testing.assert_allclose(layer(x).numpy()[0, :, 0], [2, 4, 6])
    np.testing.assert_allclose(layer(x, initial_state=[tf.fill([1, 2], 10.0)]).numpy()[0, :, 0], [12, 14, 16])
    f = tf.function(lambda x: layer(x))  # a user cell inside a traced loop: its gradient too
    np.testing.assert_allclose(f(x).numpy()[0, :, 0], [2, 4, 6])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.function(lambda x: layer(x))(x))
    assert float(tf.reduce_sum(tape.gradient(loss, layer.trainable_variables)[0])) == 24.0
    stateful = L.SimpleRNN(
        2, stateful=True, kernel_initializer="ones", recurrent_initializer="zeros", activation=None
    )
    first = stateful(tf.ones([1, 1, 1])).numpy()
    second = stateful(tf.ones([1, 1, 1])).numpy()
    np.testing.assert_allclose(second, first)  # zero recurrent kernel: state carried but unused
    assert len(stateful.weights) == 3  # the states are not weights (Keras does not save them)
    stateful.reset_state()
    np.testing.assert_allclose(stateful.states[0].numpy(), 0.0)


def test_dropout_only_in_training_and_return_state():
    layer = L.LSTM(3, dropout=0.5, recurrent_dropout=0.5, return_state=True, seed=1)
    x = tf.constant(X)
    out, h, c = layer(x)
    np.testing.assert_allclose(out.numpy(), h.numpy())
    again, _, _ = layer(x)
    np.testing.assert_allclose(out.numpy(), again.numpy())  # inference: no dropout
    trained, _, _ = layer(x, training=True)
    assert not np.allclose(trained.numpy(), out.numpy())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.function(lambda x: layer(x, training=True)[0])(x))
    assert all(g is not None for g in tape.gradient(loss, layer.trainable_variables))


def test_mask_propagates_through_bidirectional_return_sequences():
    emb = L.Embedding(10, 3, mask_zero=True)
    bi = L.Bidirectional(L.LSTM(2, return_sequences=True))
    y = bi(emb(tf.constant(IDS)))
    from tapegrad.keras.layers.masking import get_keras_mask

    np.testing.assert_array_equal(get_keras_mask(y).numpy(), IDS != 0)
    np.testing.assert_allclose(y.numpy()[IDS == 0], 0.0)  # Bidirectional zeroes padded outputs
    assert get_keras_mask(L.LSTM(2)(emb(tf.constant(IDS)))) is None


def test_keras_weights_file_loads():
    model = _seq(
        L.Embedding(10, 3, mask_zero=True), L.Bidirectional(L.LSTM(4)), L.Dense(1), shape=(5,), dtype="int32"
    )
    model.load_weights(os.path.join(FIXTURES, "keras_bilstm.weights.h5"))
    np.testing.assert_allclose(
        model(IDS).numpy().ravel(), [0.011706396006047726, 0.005599781405180693], atol=1e-6
    )


def test_fit_text_classifier():
    model = _seq(
        L.Embedding(10, 4, mask_zero=True), L.Bidirectional(L.LSTM(4)), L.Dense(1), shape=(5,), dtype="int32"
    )
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    ids = np.tile(IDS, (8, 1))
    labels = np.tile([1.0, 0.0], 8)
    history = model.fit(ids, labels, epochs=3, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
