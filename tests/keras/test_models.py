"""Models: subclassed, Sequential and functional; symbolic calls; summary; config and cloning."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras.models import InputLayer, KerasTensor
from tapegrad.keras.models.functional import output_shape_by_running

keras = tf.keras


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()  # golden strings and paths below use names from zero
    yield


class Affine(keras.layers.Layer):
    """A tiny Dense with known weights: kernel = ones * scale, bias = zeros."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer=keras.initializers.Constant(self.scale))
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        return tf.matmul(x, self.kernel) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


class Recorder(keras.layers.Layer):
    """Identity that remembers the `training` value of each call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(training)
        return x


class Sum2(keras.layers.Layer):
    def call(self, inputs):
        return inputs[0] + inputs[1]


x4 = np.arange(8, dtype=np.float32).reshape(2, 4)


# -- subclassed ------------------------------------------------------------------------------

class TwoLayer(keras.Model):
    def __init__(self):
        super().__init__()
        self.second = Affine(2, scale=0.5)   # assigned first: tracked first
        self.first = Affine(3)
        self.recorder = Recorder()

    def call(self, x):
        return self.second(self.recorder(self.first(x)))


def test_subclassed_model_builds_on_first_call_and_tracks_in_attribute_order():
    model = TwoLayer()
    assert model.trainable_variables == [] and not model.built
    y = model(x4)
    np.testing.assert_allclose(y.numpy(), x4.sum(1, keepdims=True).repeat(2, 1) * 1.5)
    assert [v.path for v in model.trainable_variables] == [
        "affine/kernel", "affine/bias", "affine_1/kernel", "affine_1/bias"]
    assert [layer.name for layer in model.layers] == ["affine", "affine_1", "recorder"]
    assert model.count_params() == (3 * 2 + 2) + (4 * 3 + 3)


def test_training_reaches_sublayers_even_without_a_training_parameter():
    model = TwoLayer()
    model(x4, training=True)
    model(x4)
    model(x4, training=False)
    assert model.recorder.seen == [True, None, False]


def test_build_with_unknown_batch_creates_variables_and_shapes():
    model = TwoLayer()
    model.build((None, 4))
    assert model.built and len(model.weights) == 4
    lines = _summary(model, line_length=60)
    assert "│ affine_1 (Affine)        │ (None, 3)         │        15 │" in lines
    assert "│ recorder (Recorder)      │ (None, 3)         │         0 │" in lines


def test_own_weights_come_before_sublayers():
    class WithScale(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = Affine(1)
            self.scale = tf.Variable(2.0, name="scale")

        def call(self, x):
            return self.inner(x) * self.scale

    model = WithScale()
    model(x4)
    assert [v.path for v in model.weights] == ["scale", "affine/kernel", "affine/bias"]


def test_get_layer():
    model = TwoLayer()
    assert model.get_layer("recorder") is model.recorder
    assert model.get_layer(index=1) is model.first
    with pytest.raises(ValueError, match="No such layer: nope. Existing layers are"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="only has 3 layers"):
        model.get_layer(index=3)
    with pytest.raises(ValueError, match="Provide only a layer name or a layer index"):
        model.get_layer("recorder", 0)


# -- Sequential ------------------------------------------------------------------------------

def test_sequential_from_list_and_add_give_the_same_model():
    a = keras.Sequential([Affine(3), Affine(2, scale=0.5)])
    b = keras.Sequential()
    b.add(Affine(3))
    b.add(Affine(2, scale=0.5))
    assert not a.built and not b.built
    np.testing.assert_allclose(a(x4).numpy(), b(x4).numpy())
    assert a.built and a.input_shape == (2, 4)  # Keras keeps the first call's batch size
    assert [v.path for v in a.weights] == ["affine/kernel", "affine/bias", "affine_1/kernel", "affine_1/bias"]


def test_sequential_with_input_is_built_at_once():
    model = keras.Sequential([keras.Input(shape=(4,)), Affine(3), Recorder()])
    assert model.built and model.output_shape == (None, 3)
    assert [layer.name for layer in model.layers] == ["affine", "recorder"]  # no InputLayer
    model(x4, training=True)
    assert model.layers[1].seen[-1] is True


def test_sequential_input_shape_on_first_real_layer():
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)), keras.layers.Dense(1)])
    assert model.built and model.count_params() == 4 * 3 + 3 + 3 + 1
    assert model(x4).shape == (2, 1)


def test_sequential_pop_and_add_errors():
    model = keras.Sequential([keras.Input(shape=(4,)), Affine(3), Affine(2)])
    popped = model.pop()
    assert popped.name == "affine_1" and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="Only instances of `keras.Layer` can be added"):
        model.add("dense")
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(Affine(1, name="affine"))
    with pytest.raises(ValueError, match="already been configured to use input shape"):
        model.add(keras.Input(shape=(2,)))
    model.pop()
    with pytest.raises(TypeError, match="There are no layers in the model."):
        model.pop()


def test_sequential_rejects_a_multi_output_layer():
    class Split(keras.layers.Layer):
        def call(self, x):
            return x, x
    with pytest.raises(ValueError, match="single output tensor"):
        keras.Sequential([keras.Input(shape=(2,)), Split()])


# -- functional ------------------------------------------------------------------------------

def _two_in_two_out():
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(4,), name="b")
    shared = Affine(3, name="shared")
    merged = Sum2(name="merged")([shared(a), shared(b)])
    head1 = Affine(2, scale=0.5, name="head1")(merged)
    head2 = Affine(1, scale=2.0, name="head2")(merged)
    return keras.Model([a, b], [head1, head2], name="two")


def test_functional_two_inputs_two_outputs_shared_layer():
    model = _two_in_two_out()
    assert type(model).__name__ == "Functional" and isinstance(model, keras.Model)
    a, b = x4, 2 * x4
    out1, out2 = model([a, b])
    merged = (a.sum(1) + b.sum(1))[:, None] * np.ones((1, 3))
    np.testing.assert_allclose(out1.numpy(), merged.sum(1, keepdims=True) * 0.5 * np.ones((1, 2)))
    np.testing.assert_allclose(out2.numpy(), merged.sum(1, keepdims=True) * 2.0)
    assert [layer.name for layer in model.layers] == ["a", "b", "shared", "merged", "head1", "head2"]
    assert [v.path for v in model.weights] == ["shared/kernel", "shared/bias", "head1/kernel", "head1/bias",
                                               "head2/kernel", "head2/bias"]
    # the shared layer has one node per call
    assert len(model.get_layer("shared")._inbound_nodes) == 2
    # inputs by Input name work too
    by_name = model({"a": a, "b": b})
    np.testing.assert_allclose(by_name[1].numpy(), out2.numpy())


def test_functional_layer_used_twice_in_a_chain_and_nested_models():
    x = keras.Input(shape=(2,))
    twice = Affine(2, scale=1.0, name="twice")
    inner = keras.Sequential([keras.Input(shape=(2,)), Affine(2, scale=2.0)], name="inner")
    y = inner(twice(twice(x)))
    model = keras.Model(x, y)
    out = model(np.ones((1, 2), np.float32))
    np.testing.assert_allclose(out.numpy(), [[16.0, 16.0]])  # 1 -> 2 -> 4 per unit, then * 2 * 2
    assert y._keras_history.operation is inner
    assert [node.layer.name for node in twice._inbound_nodes] == ["twice", "twice"]
    outer = keras.Model(x, model(x))  # a functional model called on a KerasTensor nests
    np.testing.assert_allclose(outer(np.ones((1, 2), np.float32)).numpy(), [[16.0, 16.0]])


def test_functional_training_propagates_and_explicit_flags_stick():
    x = keras.Input(shape=(2,))
    free, forced = Recorder(name="free"), Recorder(name="forced")
    model = keras.Model(x, forced(free(x), training=True))
    free.seen.clear(), forced.seen.clear()
    model(np.ones((1, 2)), training=False)
    assert free.seen == [False] and forced.seen == [True]


def test_functional_input_checks_and_conversion():
    x = keras.Input(shape=(4,), name="x")
    model = keras.Model(x, Affine(1)(x), name="m")
    with pytest.raises(ValueError, match=r"Input 0 with name 'x' of layer 'm' is incompatible with the layer: "
                                         r"expected shape=\(None, 4\), found shape=\(2, 5\)"):
        model(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="expects 1 input"):
        model([np.zeros((2, 4)), np.zeros((2, 4))])
    out = model(np.ones((2, 4), dtype=np.float64))  # NumPy float64 becomes the Input's float32
    assert out.dtype == tf.float32


def test_graph_errors():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, Sum2()([a, b]))
    with pytest.raises(ValueError, match="must be KerasTensors"):
        keras.Model(a, tf.ones([1, 3]))
    with pytest.raises(ValueError, match='The name "same" is used 2 times'):
        keras.Model(a, Affine(3, name="same")(Affine(3, name="same")(a)))


def test_symbolic_calls_change_no_state_and_record_on_no_tape():
    class Counter(keras.layers.Layer):
        def build(self, input_shape):
            self.calls = tf.Variable(0.0)

        def call(self, x):
            self.calls.assign_add(1.0)
            self.add_loss(tf.reduce_sum(x))
            return x * 2.0

    layer = Counter()
    with tf.GradientTape() as tape:
        y = layer(keras.Input(shape=(3,)))
    assert y.shape == (None, 3) and y.dtype == tf.float32
    assert float(layer.calls) == 0.0 and layer.losses == []
    assert tape.watched_variables() == ()


def test_unknown_non_batch_dims_and_output_shape_by_running():
    class Pool(keras.layers.Layer):
        def call(self, x):
            return tf.reduce_mean(x, axis=1)
    y = Pool()(keras.Input(shape=(None, 5)))
    assert y.shape == (None, 5)
    assert output_shape_by_running(Affine(2), (None, 7)) == (None, 2)
    assert Affine(2).compute_output_shape((3, 7)) == (3, 2)


def test_keras_tensor_is_symbolic():
    x = keras.Input(shape=(2,), name="x")
    assert repr(x) == "<KerasTensor shape=(None, 2), dtype=float32, sparse=False, name=x>"
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(x)
    with pytest.raises(TypeError, match="symbolic"):
        tf.reduce_sum(x)
    assert isinstance(x, KerasTensor) and isinstance(x._keras_history.operation, InputLayer)
    with pytest.raises(ValueError, match="Cannot convert '3' to a shape"):
        keras.Input(shape=3)


def test_subclass_with_functional_init():
    class Net(keras.Model):
        def __init__(self):
            x = keras.Input(shape=(2,))
            super().__init__(x, Affine(1)(x), name="net")

        def twice(self, x):
            return 2 * self(x)

    net = Net()
    assert type(net).__name__ == "Net" and isinstance(net, keras.models.Functional)
    np.testing.assert_allclose(net.twice(np.ones((1, 2), np.float32)).numpy(), [[4.0]])


# -- config and cloning ------------------------------------------------------------------------

def test_sequential_and_functional_config_round_trip_with_real_layers():
    seq = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                            keras.layers.Dense(1)], name="seq")
    config = seq.get_config()
    assert [e["class_name"] for e in config["layers"]] == ["InputLayer", "Dense", "Dense"]
    copy = keras.Sequential.from_config(config)
    assert copy.built and [tuple(v.shape) for v in copy.weights] == [tuple(v.shape) for v in seq.weights]

    model = _two_in_two_out()
    config = model.get_config()
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["output_layers"] == [["head1", 0, 0], ["head2", 0, 0]]
    shared = next(e for e in config["layers"] if e["name"] == "shared")
    assert len(shared["inbound_nodes"]) == 2
    rebuilt = keras.models.Functional.from_config(config, custom_objects={"Affine": Affine, "Sum2": Sum2})
    for want, got in zip(model([x4, x4]), rebuilt([x4, x4])):
        np.testing.assert_allclose(got.numpy(), want.numpy())


def test_clone_model_gives_new_weights_and_keeps_sharing():
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    clone = keras.models.clone_model(model)
    assert clone.layers[0] is not model.layers[0] and clone.built
    a = keras.Input(shape=(2,))
    shared = keras.layers.Dense(2)
    functional = keras.Model(a, shared(shared(a)))
    copy = keras.models.clone_model(functional)
    assert len(copy.layers) == 2 and len(copy.layers[1]._inbound_nodes) == 2
    with pytest.raises(ValueError, match="only supported for Sequential models or Functional models"):
        keras.models.clone_model(TwoLayer())


# -- summary ------------------------------------------------------------------------------------

def _summary(model, **kwargs):
    captured = []
    model.summary(print_fn=captured.append, **kwargs)
    assert len(captured) == 1  # Keras 3 hands over the whole table at once
    return captured[0]


GOLDEN_SEQUENTIAL = '''\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 3)              │            15 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ batch_normalization             │ (None, 3)              │            12 │
│ (BatchNormalization)            │                        │               │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 1)              │             4 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 31 (124.00 B)
 Trainable params: 25 (100.00 B)
 Non-trainable params: 6 (24.00 B)
'''

GOLDEN_FUNCTIONAL = '''\
Model: "two"
┏━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)          ┃ Output Shape      ┃     Param # ┃ Connected to       ┃
┡━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩
│ a (InputLayer)        │ (None, 4)         │           0 │ -                  │
├───────────────────────┼───────────────────┼─────────────┼────────────────────┤
│ b (InputLayer)        │ (None, 4)         │           0 │ -                  │
├───────────────────────┼───────────────────┼─────────────┼────────────────────┤
│ shared (Affine)       │ (None, 3)         │          15 │ a[0][0], b[0][0]   │
├───────────────────────┼───────────────────┼─────────────┼────────────────────┤
│ merged (Sum2)         │ (None, 3)         │           0 │ shared[0][0],      │
│                       │                   │             │ shared[1][0]       │
├───────────────────────┼───────────────────┼─────────────┼────────────────────┤
│ head1 (Affine)        │ (None, 2)         │           8 │ merged[0][0]       │
├───────────────────────┼───────────────────┼─────────────┼────────────────────┤
│ head2 (Affine)        │ (None, 1)         │           4 │ merged[0][0]       │
└───────────────────────┴───────────────────┴─────────────┴────────────────────┘
 Total params: 27 (108.00 B)
 Trainable params: 27 (108.00 B)
 Non-trainable params: 0 (0.00 B)
'''


def test_summary_golden_sequential(monkeypatch):
    # The same model printed by Keras 3.15 (TensorFlow backend) on an 80-column terminal
    monkeypatch.setenv("COLUMNS", "80")
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    assert _summary(model) == GOLDEN_SEQUENTIAL


def test_summary_golden_functional_with_connections(monkeypatch):
    # Keras 3.15 printed this for the same graph (custom layers of the same names), 84 columns
    monkeypatch.setenv("COLUMNS", "84")
    assert _summary(_two_in_two_out()) == GOLDEN_FUNCTIONAL


def test_summary_unbuilt_subclassed_model_and_trainable_column():
    # As Keras 3.15 prints them: an unbuilt layer shows "?" and "0 (unbuilt)"
    lines = _summary(TwoLayer(), line_length=60, show_trainable=True).splitlines()
    assert lines[4:6] == ["│ affine (Affine)       │ ?                │       0 │  -  │",
                          "│                       │                  │ (unbui… │     │"]
    assert lines[-3] == " Total params: 0 (0.00 B)"
    model = keras.Sequential([keras.Input(shape=(4,)), Affine(3)])
    model.layers[0].trainable = False
    text = _summary(model, line_length=60, show_trainable=True)
    assert "│ affine_2 (Affine)     │ (None, 3)        │      15 │  N  │" in text
    assert text.endswith(" Trainable params: 0 (0.00 B)\n Non-trainable params: 15 (60.00 B)\n")


def test_summary_prints_to_stdout_by_default(capsys):
    keras.Sequential([keras.Input(shape=(2,)), Affine(1)], name="tiny").summary(line_length=50)
    assert capsys.readouterr().out.startswith('Model: "tiny"\n┏')


GOLDEN_OPERATORS = '''\
Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)             ┃ Output Shape         ┃      Param # ┃ Connected to          ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━┩
│ x (InputLayer)           │ (None, 4)            │            0 │ -                     │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ dense (Dense)            │ (None, 4)            │           20 │ x[0][0]               │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ add (Add)                │ (None, 4)            │            0 │ dense[0][0], x[0][0]  │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ dense_1 (Dense)          │ (None, 4)            │           20 │ add[0][0]             │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ multiply (Multiply)      │ (None, 4)            │            0 │ dense_1[0][0]         │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ subtract (Subtract)      │ (None, 4)            │            0 │ multiply[0][0]        │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ absolute (Absolute)      │ (None, 4)            │            0 │ multiply[0][0]        │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ get_item (GetItem)       │ (None, 2)            │            0 │ subtract[0][0]        │
├──────────────────────────┼──────────────────────┼──────────────┼───────────────────────┤
│ negative (Negative)      │ (None, 4)            │            0 │ absolute[0][0]        │
└──────────────────────────┴──────────────────────┴──────────────┴───────────────────────┘
 Total params: 40 (160.00 B)
 Trainable params: 40 (160.00 B)
 Non-trainable params: 0 (0.00 B)
'''


def test_python_operators_on_keras_tensors_record_operations():
    x = keras.Input(shape=(4,), name="x")
    dense1, dense2 = keras.layers.Dense(4), keras.layers.Dense(4)
    y = dense2(dense1(x) + x) * 2.0
    model = keras.Model(x, [(1.0 - y)[:, :2], -abs(y)])
    # Keras 3.15 prints the same table for this graph (operations are rows, not layers)
    assert _summary(model, line_length=90) == GOLDEN_OPERATORS
    assert [layer.name for layer in model.layers] == ["x", "dense", "dense_1"]
    xs = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    y_np = ((xs @ dense1.kernel.numpy() + dense1.bias.numpy() + xs) @ dense2.kernel.numpy()
            + dense2.bias.numpy()) * 2.0
    first, second = model(xs)
    np.testing.assert_allclose(first.numpy(), (1.0 - y_np)[:, :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second.numpy(), -np.abs(y_np), rtol=1e-5, atol=1e-6)
    rebuilt = keras.models.Functional.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(xs)[0].numpy(), first.numpy())


def test_summary_of_subclassed_sublayers_uses_their_recorded_build_shape():
    model = TwoLayer()
    model(x4)
    # What Keras keeps as `_build_shapes_dict`: a layer records the shape it was built for,
    # so the summary shows its output shape for that input (Keras prints (2, 3) here too).
    assert "│ affine_1 (Affine)        │ (2, 3)            │        15 │" in _summary(model, line_length=60)


def test_sequential_feeds_one_dimensional_data_into_an_input_of_last_size_one():
    # Keras 3 adds the last axis, as TF's regression tutorial relies on (x of shape (N,))
    x = np.linspace(0.0, 1.0, 16, dtype="float32")
    model = tf.keras.Sequential([tf.keras.layers.Normalization(input_shape=[1], axis=None),
                                 tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mae")
    model.fit(x, 2 * x, epochs=1, verbose=0)
    assert model.predict(x[:3], verbose=0).shape == (3, 1)
