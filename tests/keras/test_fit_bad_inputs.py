"""Bad inputs to fit / evaluate / predict: refused before any step runs, with what was given named."""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError

keras = tf.keras
pytestmark = pytest.mark.usefixtures("keras_session")



X = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def classifier(**compile_kwargs):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3, activation="softmax")])
    compile_kwargs.setdefault("loss", "sparse_categorical_crossentropy")
    model.compile(optimizer=keras.optimizers.SGD(0.1), **compile_kwargs)
    return model


class Spy(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append("batch")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def unchanged(model, before) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


# -- strings ---------------------------------------------------------------------------------------

def test_string_x_is_refused_before_training_naming_its_shape_and_dtype():
    model = classifier()
    before = model.get_weights()
    spy = Spy()
    text_x = np.array([["a", "b"]] * 8)
    with pytest.raises(ValueError) as e:
        model.fit(text_x, Y, callbacks=[spy], verbose=0)
    message = str(e.value)
    assert "`fit()` received strings in `x`" in message and "shape (8, 2)" in message and "<U1" in message
    assert "float32" in message  # what the model's input takes
    assert spy.calls == [] and unchanged(model, before)
    with pytest.raises(ValueError, match=r"`evaluate\(\)` received strings in `x`"):
        model.evaluate(text_x, Y, verbose=0)
    with pytest.raises(ValueError, match=r"`predict\(\)` received strings in `x`"):
        model.predict(text_x, verbose=0)


def test_string_y_is_refused_before_training_naming_the_loss():
    model = classifier()
    before = model.get_weights()
    with pytest.raises(ValueError) as e:
        model.fit(X, np.array(["cat", "dog"] * 4), verbose=0)
    message = str(e.value)
    assert "received strings in `y`" in message and "shape (8,)" in message and "<U3" in message
    assert "sparse_categorical_crossentropy" in message
    assert unchanged(model, before)
    with pytest.raises(ValueError, match=r"strings in `y`"):
        model.fit(X, Y, validation_data=(X, Y.astype(str)), verbose=0)
    assert unchanged(model, before)  # the validation data is checked before training too


def test_strings_from_a_dataset_are_refused_at_its_first_batch():
    model = classifier()
    before = model.get_weights()
    dataset = tf.data.Dataset.from_tensor_slices((X, Y.astype(str))).batch(4)
    with pytest.raises(ValueError, match=r"strings in `y` \(shape \(4,\), string"):
        model.fit(dataset, verbose=0)
    assert unchanged(model, before)


def test_a_custom_train_step_may_take_strings():
    class Lookup(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            ids = np.unique(np.asarray(y), return_inverse=True)[1]  # the step's own encoding
            return super().train_step((x, tf.constant(ids)))

    model = Lookup()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(X, np.array(["a", "b", "c", "a"] * 2), batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 1


# -- labels ----------------------------------------------------------------------------------------

def test_an_out_of_range_label_in_fit_gives_the_losss_own_message():
    model = classifier()
    with pytest.raises(InvalidArgumentError) as e:
        model.fit(X, np.where(Y == 2, 12, Y), verbose=0)
    message = str(e.value)
    assert message.startswith("Loss `sparse_categorical_crossentropy`: Received a label value of 12 which is "
                              "outside the valid range of [0, 3)")
    assert "cannot compare" not in message


def test_a_nan_label_in_fit_is_reported_as_nan():
    y = Y.astype("float32")
    y[3] = np.nan
    with pytest.raises(InvalidArgumentError) as e:
        classifier().fit(X, y, verbose=0)
    assert "Received a label value of nan" in str(e.value)
    assert str(np.iinfo(np.int64).min) not in str(e.value)
    with pytest.raises(InvalidArgumentError, match="label value of inf"):
        classifier().evaluate(X, np.where(Y == 1, np.inf, Y), verbose=0)


def test_a_shape_mismatch_is_still_explained_with_both_shapes():
    with pytest.raises(ValueError, match=r"cannot compare the targets with the model's output: y_true has "
                                          r"shape \(4, 3\)"):
        classifier().fit(X[:4], np.eye(3)[Y[:4]], verbose=0)


# -- empty data ------------------------------------------------------------------------------------

def test_empty_arrays_raise_in_fit_evaluate_and_predict():
    model = classifier()
    spy = Spy()
    with pytest.raises(ValueError) as e:
        model.fit(X[:0], Y[:0], callbacks=[spy], verbose=0)
    assert "Unexpected result of `train_function` (Empty logs)" in str(e.value)
    assert "0 samples" in str(e.value) and "shape (0, 2)" in str(e.value)
    assert spy.calls == []
    with pytest.raises(ValueError, match=r"Unexpected result of `test_function` \(Empty logs\).*0 samples"):
        model.evaluate(X[:0], Y[:0], verbose=0)
    with pytest.raises(ValueError, match=r"`predict_function` \(Empty batch_outputs\).*shape \(0, 2\)"):
        model.predict(X[:0], verbose=0)
    with pytest.raises(ValueError, match=r"`test_function` \(Empty logs\): the validation data is empty"):
        model.fit(X, Y, validation_data=(X[:0], Y[:0]), verbose=0)


def test_empty_streams_raise_too():
    model = classifier()
    before = model.get_weights()
    empty = tf.data.Dataset.from_tensor_slices((X, Y)).filter(lambda x, y: y > 5).batch(4)
    with pytest.raises(ValueError, match=r"`train_function` \(Empty logs\).*gave no batch"):
        model.fit(empty, verbose=0)
    with pytest.raises(ValueError, match=r"`test_function` \(Empty logs\)"):
        model.evaluate(iter([]), verbose=0)
    with pytest.raises(ValueError, match=r"`predict_function` \(Empty batch_outputs\)"):
        model.predict((batch for batch in []), verbose=0)
    with pytest.raises(ValueError, match=r"`train_function` \(Empty logs\).*Dataset` of 0 batches"):
        model.fit(tf.data.Dataset.from_tensor_slices((X, Y)).batch(4).take(0), verbose=0)
    assert unchanged(model, before)


def test_a_stream_used_up_after_the_first_epoch_still_only_warns():
    batches = ((X[i:i + 4], Y[i:i + 4]) for i in range(0, 8, 4))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = classifier().fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1


# -- arguments -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    ({"epochs": -1}, "epochs"), ({"epochs": 1.5}, "epochs"), ({"epochs": True}, "epochs"),
    ({"initial_epoch": -2}, "initial_epoch"),
    ({"batch_size": 0}, "batch_size"), ({"batch_size": -4}, "batch_size"),
    ({"batch_size": 2.0}, "batch_size"),
    ({"steps_per_epoch": 0}, "steps_per_epoch"), ({"validation_steps": -1}, "validation_steps"),
    ({"validation_batch_size": 0}, "validation_batch_size"),
    ({"validation_split": 1.0}, "validation_split"), ({"validation_split": -0.1}, "validation_split"),
    ({"validation_split": "0.2"}, "validation_split"),
    ({"validation_freq": 0}, "validation_freq"), ({"validation_freq": [1, 0]}, "validation_freq"),
])
def test_fit_arguments_that_make_no_sense_raise_naming_them(kwargs, name):
    model = classifier()
    before = model.get_weights()
    spy = Spy()
    with pytest.raises(ValueError) as e:
        model.fit(X, Y, callbacks=[spy], verbose=0, **kwargs)
    assert f"`{name}`" in str(e.value) and f"{name}={kwargs[name]!r}" in str(e.value)
    assert spy.calls == [] and unchanged(model, before)


def test_zero_epochs_trains_nothing_as_keras_3():
    model = classifier()
    before = model.get_weights()
    spy = Spy()
    history = model.fit(X, Y, epochs=0, callbacks=[spy], verbose=0)
    assert history.history == {} and history.epoch == []
    assert spy.calls == ["train_begin", "train_end"] and unchanged(model, before)


def test_evaluate_and_predict_name_their_own_arguments():
    model = classifier()
    with pytest.raises(ValueError, match=r"Argument `steps` must be a positive integer or None\. "
                                         r"Received: steps=0"):
        model.evaluate(X, Y, steps=0, verbose=0)
    with pytest.raises(ValueError, match=r"Received: batch_size=0"):
        model.predict(X, batch_size=0, verbose=0)
