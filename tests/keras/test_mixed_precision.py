"""tf.keras.mixed_precision: dtype policies, autocasting in layers, LossScaleOptimizer, float16 kernels."""
import os

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import layers
from tapegrad.keras.mixed_precision import DTypePolicy, LossScaleOptimizer, Policy

mp = tf.keras.mixed_precision

# Overflowing float16 steps are part of loss scaling; NumPy warns on inf arithmetic where TF is silent.
overflow_ok = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    mp.set_global_policy("float32")


# -- policies ------------------------------------------------------------------------------------

def test_policies_name_their_compute_and_variable_dtypes():
    mixed = Policy("mixed_float16")
    assert Policy is DTypePolicy is mp.DTypePolicy is mp.FloatDTypePolicy
    assert (mixed.name, mixed.compute_dtype, mixed.variable_dtype) == ("mixed_float16", "float16", "float32")
    assert repr(mixed) == '<DTypePolicy "mixed_float16">'
    plain = Policy("float16")
    assert (plain.compute_dtype, plain.variable_dtype) == ("float16", "float16")
    assert Policy("float64") == DTypePolicy.from_config(Policy("float64").get_config()) != plain
    assert mp.get(tf.float16) == plain and mp.get({"class_name": "DTypePolicy",
                                                     "config": {"name": "mixed_float16"}}) == mixed


@pytest.mark.parametrize("name, error, text", [
    ("mixed_bfloat16", ValueError, "no bfloat16"),
    ("bfloat16", ValueError, "no bfloat16"),
    ("mixed_float64", ValueError, "Cannot convert 'mixed_float64'"),
    (16, TypeError, "'name' must be a string"),
])
def test_bad_policy_names(name, error, text):
    with pytest.raises(error, match=text):
        Policy(name)


def test_global_policy_is_taken_by_new_layers_only():
    before = layers.Dense(2)
    assert mp.global_policy() == Policy("float32") and mp.dtype_policy() is mp.global_policy()
    mp.set_global_policy("mixed_float16")
    assert mp.global_policy().name == "mixed_float16"
    after, forced = layers.Dense(2), layers.Dense(2, dtype="float32")
    assert before.dtype_policy.name == "float32" and after.dtype_policy.name == "mixed_float16"
    assert forced.compute_dtype == "float32"
    assert Policy().name == "mixed_float16"  # no name: the global one
    mp.set_dtype_policy(Policy("float64"))  # Keras 3's name, with a policy object
    assert layers.Dense(2).dtype == "float64"
    with pytest.raises(ValueError, match="Invalid `policy` argument"):
        mp.set_global_policy(3)


def test_layer_dtype_properties_and_config():
    layer = layers.Dense(2, dtype=Policy("mixed_float16"))
    assert (layer.dtype, layer.compute_dtype, layer.variable_dtype, layer.input_dtype) == \
        ("float32", "float16", "float32", "float16")
    config = layer.get_config()
    assert config["dtype"] == "mixed_float16"
    assert layers.Dense.from_config(config).dtype_policy == Policy("mixed_float16")
    layer.dtype_policy = "float64"
    assert layer.compute_dtype == "float64"
    with pytest.raises(ValueError, match="Cannot interpret `dtype`"):
        layers.Dense(2, dtype=object())


# -- autocasting ---------------------------------------------------------------------------------

def test_mixed_dense_keeps_float32_weights_and_computes_in_float16():
    mp.set_global_policy("mixed_float16")
    dense = layers.Dense(3)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 5)))  # float64: cast to float16
    with tf.GradientTape() as tape:
        y = dense(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32))
    assert y.dtype == tf.float16
    assert type(dense.kernel) is tf.Variable and dense.kernel.dtype == tf.float32 == dense.bias.dtype
    grads = tape.gradient(loss, dense.trainable_variables)
    assert [g.dtype for g in grads] == [tf.float32, tf.float32]
    expected = np.asarray(x, np.float16).astype(np.float32) @ dense.kernel.numpy().astype(np.float16)
    np.testing.assert_allclose(y.numpy().astype(np.float32), expected + dense.bias.numpy(), rtol=2e-3,
                               atol=2e-3)
    np.testing.assert_allclose(grads[0].numpy(), np.asarray(x, np.float16).astype(np.float32).sum(0)[:, None]
                               * np.ones((1, 3)), rtol=2e-3)


def test_float32_output_layer_ends_a_mixed_model():
    mp.set_global_policy("mixed_float16")
    model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                                 layers.Dense(3), layers.Activation("softmax", dtype="float32")])
    out = model(np.ones((2, 4), np.float32))
    assert out.dtype == tf.float32
    assert [w.dtype for w in model.weights] == [tf.float32] * 4
    np.testing.assert_allclose(out.numpy().sum(-1), [1.0, 1.0], rtol=1e-6)


class Scale(layers.Layer):
    """A custom layer: its weights are read in the compute dtype inside call, as Keras autocasts them."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.pair = [self.add_weight(shape=(), initializer="ones", name="p0"), 2.0]
        self.raw = self.add_weight(shape=(), initializer="ones", name="raw", autocast=False)
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, x):
        self.seen = (self.w.dtype, self.pair[0].dtype, self.raw.dtype)
        self.count.assign_add(1.0)  # non-trainable state stays a variable
        return x * self.w * self.pair[0] * tf.cast(self.raw, x.dtype)


def test_custom_layer_weights_are_autocast_inside_call_only():
    mp.set_global_policy("mixed_float16")
    layer = Scale()
    with tf.GradientTape() as tape:
        y = layer(tf.ones([2, 3]))
    assert y.dtype == tf.float16
    assert layer.seen == (tf.float16, tf.float16, tf.float32)
    assert type(layer.w) is tf.Variable and layer.w.dtype == tf.float32  # put back after the call
    assert isinstance(layer.pair, list) and type(layer.pair[0]) is tf.Variable
    assert float(layer.count) == 1.0
    grads = tape.gradient(y, [layer.w, layer.pair[0], layer.raw])
    assert [g.dtype for g in grads] == [tf.float32] * 3
    np.testing.assert_allclose(grads[0].numpy(), [2.0, 2.0, 2.0])


def test_integer_inputs_are_not_cast_and_embedding_outputs_the_compute_dtype():
    mp.set_global_policy("mixed_float16")
    embedding = layers.Embedding(10, 4)
    with tf.GradientTape() as tape:
        out = embedding(tf.constant([[1, 2], [3, 1]]))
    assert out.dtype == tf.float16 and embedding.embeddings.dtype == tf.float32
    grad = tape.gradient(out, embedding.embeddings)
    assert isinstance(grad, tf.IndexedSlices)  # the table is gathered directly: still a sparse gradient


@pytest.mark.parametrize("make", [lambda: layers.BatchNormalization(momentum=0.5),
                                  lambda: layers.LayerNormalization()])
def test_normalization_computes_in_float32_and_returns_float16(make):
    mp.set_global_policy("mixed_float16")
    layer = make()
    x = tf.constant(np.random.default_rng(1).normal(300.0, 50.0, size=(8, 4)).astype(np.float16))
    y = layer(x, training=True) if isinstance(layer, layers.BatchNormalization) else layer(x)
    assert y.dtype == tf.float16 and all(w.dtype == tf.float32 for w in layer.weights)
    x32 = x.numpy().astype(np.float32)
    axis = 0 if isinstance(layer, layers.BatchNormalization) else -1
    expected = (x32 - x32.mean(axis, keepdims=True)) / np.sqrt(x32.var(axis, keepdims=True) + layer.epsilon)
    np.testing.assert_allclose(y.numpy().astype(np.float32), expected, atol=2e-2)
    if isinstance(layer, layers.BatchNormalization):
        np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * x32.mean(0), rtol=1e-3)


# -- float16 kernels -------------------------------------------------------------------------------

def test_float16_matmul_and_conv_round_a_float32_product():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 40)).astype(np.float16), rng.normal(size=(40, 5)).astype(np.float16)
    product = tf.matmul(a, b)
    assert product.dtype == tf.float16
    expected = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(product.numpy(), expected)
    images = rng.normal(size=(2, 6, 6, 3)).astype(np.float16)
    filters = rng.normal(size=(3, 3, 3, 4)).astype(np.float16)
    with tf.GradientTape() as tape:
        x = tf.constant(images)
        tape.watch(x)
        y = tf.nn.conv2d(x, filters, 1, "SAME")
    assert y.dtype == tf.float16 and tape.gradient(y, x).dtype == tf.float16
    reference = tf.nn.conv2d(images.astype(np.float32), filters.astype(np.float32), 1, "SAME").numpy()
    np.testing.assert_array_equal(y.numpy(), reference.astype(np.float16))


# -- LossScaleOptimizer ----------------------------------------------------------------------------

def test_overflow_skips_the_step_and_halves_the_scale():
    w = tf.Variable([1.0, 2.0])
    opt = LossScaleOptimizer(tf.keras.optimizers.SGD(0.5), initial_scale=16.0, dynamic_growth_steps=3)
    opt.apply([tf.constant([16.0, 32.0])], [w])
    np.testing.assert_allclose(w.numpy(), [0.5, 1.0])  # gradients unscaled to [1, 2]
    assert (int(opt.step_counter), int(opt.iterations)) == (1, 1)
    opt.apply([tf.constant([np.nan, 1.0])], [w])
    np.testing.assert_allclose(w.numpy(), [0.5, 1.0])
    assert (float(opt.dynamic_scale), int(opt.step_counter), int(opt.iterations)) == (8.0, 0, 1)
    opt.apply_gradients([(tf.constant([np.inf, 0.0]), w)])
    assert float(opt.dynamic_scale) == 4.0 and int(opt.iterations) == 1


def test_the_scale_doubles_after_growth_steps_finite_steps():
    w = tf.Variable(1.0)
    opt = LossScaleOptimizer(tf.keras.optimizers.SGD(0.0), initial_scale=2.0, dynamic_growth_steps=3)
    scales = []
    for _ in range(7):
        opt.apply_gradients([(tf.constant(1.0), w)])
        scales.append((float(opt.dynamic_scale), int(opt.step_counter)))
    assert scales == [(2.0, 1), (2.0, 2), (4.0, 0), (4.0, 1), (4.0, 2), (8.0, 0), (8.0, 1)]
    assert int(opt.iterations) == 7


def test_delegation_variables_and_config():
    inner = tf.keras.optimizers.Adam(0.01, loss_scale_factor=4.0)
    opt = LossScaleOptimizer(inner, name="lso")
    assert inner.loss_scale_factor is None  # the wrapper does the scaling
    assert opt.inner_optimizer is inner and opt.dynamic and opt.loss_scale is opt.dynamic_scale
    np.testing.assert_allclose(float(opt.learning_rate), 0.01)
    opt.learning_rate = 0.5
    np.testing.assert_allclose(float(inner.learning_rate), 0.5)
    w = tf.Variable([1.0], name="w")
    opt.build([w])
    assert [v.path for v in opt.variables] == ["lso/iteration", "lso/learning_rate", "lso/step_counter",
                                               "lso/dynamic_scale", "adam/iteration", "adam/learning_rate",
                                               "adam/w_momentum", "adam/w_velocity"]
    assert opt.dynamic_scale.dtype == tf.float32 and opt.step_counter.dtype == tf.int64
    again = LossScaleOptimizer.from_config(opt.get_config())
    assert type(again.inner_optimizer).__name__ == "Adam" and again.initial_scale == 2.0 ** 15
    assert type(tf.keras.optimizers.deserialize(tf.keras.optimizers.serialize(opt))) is LossScaleOptimizer
    assert tf.keras.optimizers.LossScaleOptimizer is LossScaleOptimizer


@pytest.mark.parametrize("kwargs, text", [
    ({"clipnorm": 1.0}, "set `clipnorm` on the `inner_optimizer`"),
    ({"dynamic": False}, "dynamic=False"),
    ({"nonsense": 1}, "does not support arguments: `nonsense`"),
])
def test_constructor_refusals(kwargs, text):
    with pytest.raises(ValueError, match=text):
        LossScaleOptimizer(tf.keras.optimizers.SGD(), **kwargs)
    with pytest.raises(TypeError, match="keras Optimizer"):
        LossScaleOptimizer("sgd")


def _data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64) + (x[:, 3:].sum(1) > 0)
    return x, y


def _model():
    return tf.keras.Sequential([tf.keras.Input(shape=(6,)), layers.Dense(16, activation="relu"),
                                layers.Dense(3), layers.Activation("softmax", dtype="float32")])


@overflow_ok
def test_tf2_custom_loop_inside_tf_function_skips_overflowing_steps():
    mp.set_global_policy("mixed_float16")
    x, y = _data()
    tf.keras.utils.set_random_seed(0)
    model = _model()
    opt = LossScaleOptimizer(tf.keras.optimizers.Adam(0.01), initial_scale=2.0 ** 40)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images))
            scaled = opt.get_scaled_loss(loss)
        grads = opt.get_unscaled_gradients(tape.gradient(scaled, model.trainable_variables))
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss, scaled

    losses = []
    for _ in range(40):
        before = float(opt.dynamic_scale)
        loss, scaled = step(x, y)
        # the compiled step reads the scale as it is at each call, not as it was when traced
        np.testing.assert_allclose(float(scaled), float(loss) * before, rtol=1e-5)
        losses.append(float(loss))
    assert float(opt.dynamic_scale) < 2.0 ** 40  # overflowing steps halved it
    assert 0 < int(opt.iterations) < 40  # and were skipped
    assert all(np.isfinite(w.numpy()).all() for w in model.weights)
    assert losses[-1] < 0.8 * losses[0]


@overflow_ok
def test_fit_with_a_loss_scale_optimizer():
    mp.set_global_policy("mixed_float16")
    x, y = _data()
    tf.keras.utils.set_random_seed(0)
    model = _model()
    opt = LossScaleOptimizer(tf.keras.optimizers.Adam(0.01), initial_scale=2.0 ** 20,
                             dynamic_growth_steps=5)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(opt.iterations) > 0 and float(opt.dynamic_scale) != 2.0 ** 20


def test_keras3_apply_matches_the_inner_optimizer_on_unscaled_gradients():
    x, y = _data()
    weights = []
    for wrap in (False, True):
        tf.keras.utils.set_random_seed(0)
        model = _model()
        opt = tf.keras.optimizers.Adam(0.01)
        opt = LossScaleOptimizer(opt, initial_scale=1024.0) if wrap else opt
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.keras.losses.sparse_categorical_crossentropy(y, model(x))
                loss = opt.scale_loss(tf.reduce_mean(loss))
            opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        weights.append(model.get_weights())
    for plain, scaled in zip(*weights):
        np.testing.assert_allclose(scaled, plain, rtol=1e-5, atol=1e-6)


def test_minimize_scales_the_seed():
    w = tf.Variable(3.0)
    opt = LossScaleOptimizer(tf.keras.optimizers.SGD(0.1), initial_scale=64.0)
    opt.minimize(lambda: w * w, [w])
    assert round(float(w), 6) == 2.4 and int(opt.step_counter) == 1


def test_checkpoint_keeps_the_scale_and_the_counter(tmp_path):
    w = tf.Variable([1.0])
    opt = LossScaleOptimizer(tf.keras.optimizers.Adam(), initial_scale=8.0)
    opt.apply([tf.constant([1.0])], [w])
    opt.apply([tf.constant([np.inf])], [w])
    opt.apply([tf.constant([1.0])], [w])
    path = tf.train.Checkpoint(optimizer=opt, w=w).write(os.path.join(tmp_path, "ckpt"))
    fresh_w = tf.Variable([0.0])
    fresh = LossScaleOptimizer(tf.keras.optimizers.Adam(), initial_scale=8.0)
    fresh.build([fresh_w])
    tf.train.Checkpoint(optimizer=fresh, w=fresh_w).read(path).assert_consumed()
    assert (float(fresh.dynamic_scale), int(fresh.step_counter), int(fresh.iterations)) == (4.0, 1, 2)
    np.testing.assert_array_equal(fresh_w.numpy(), w.numpy())


def test_mixed_precision_keeps_adam_state_in_float32():
    """float16 Adam state underflows (v = g * g flushes to 0 for |g| < 2.4e-4, and epsilon 1e-7 is
    below float16's normal range); with mixed precision the variables, so the slots, are float32."""
    grads = np.full(4, 1e-4)
    for policy, slot_dtype, underflows in (("float16", tf.float16, True),
                                           ("mixed_float16", tf.float32, False)):
        layer = layers.Dense(1, dtype=policy, use_bias=False)
        layer.build((None, 4))
        opt = tf.keras.optimizers.Adam()
        opt.apply([tf.constant(grads[:, None], dtype=layer.kernel.dtype)], [layer.kernel])
        velocity = opt.variables[-1]
        assert velocity.dtype == slot_dtype
        assert bool((velocity.numpy() == 0).all()) == underflows


@overflow_ok
def test_quickstart_cnn_mixed_precision_matches_float32_accuracy():
    """A reduced form of the quickstart comparison: same seed and data, float32 vs mixed_float16."""
    from tapegrad.apps.quickstart import MyModel, load_data
    (x_train, y_train), (x_test, y_test) = load_data("digits")
    x_train = (x_train / 255.0)[..., None].astype("float32")
    x_test = (x_test / 255.0)[..., None].astype("float32")
    accuracies = {}
    for policy in ("float32", "mixed_float16"):
        mp.set_global_policy(policy)
        tf.keras.utils.set_random_seed(0)
        model = MyModel()
        opt = tf.keras.optimizers.Adam()
        if policy == "mixed_float16":
            opt = LossScaleOptimizer(opt)
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

        @tf.function
        def train_step(images, labels, model=model, opt=opt, loss_fn=loss_fn):
            with tf.GradientTape() as tape:
                loss = opt.scale_loss(loss_fn(labels, model(images)))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))

        for _ in range(2):
            for images, labels in tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32):
                train_step(images, labels)
        predictions = model(x_test)
        assert predictions.dtype == (tf.float32 if policy == "float32" else tf.float16)
        accuracies[policy] = 100 * float(np.mean(np.argmax(predictions.numpy(), -1) == y_test))
    assert accuracies["float32"] > 85
    assert abs(accuracies["mixed_float16"] - accuracies["float32"]) < 2, accuracies


def test_compile_wraps_the_optimizer_in_loss_scaling_under_mixed_float16():
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        assert isinstance(model.optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
        model.compile(optimizer="adam", loss="mse", auto_scale_loss=False)
        assert type(model.optimizer).__name__ == "Adam"
        history = model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def test_clear_session_resets_the_global_policy():
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    tf.keras.backend.clear_session()
    assert tf.keras.mixed_precision.global_policy().name == "float32"


def test_pure_float16_adam_stays_finite():
    # float16's v underflows to 0 where m does not: m / eps overflowed to inf, the weights to NaN
    w = tf.Variable(np.full(4, 0.5, "float16"))
    optimizer = tf.keras.optimizers.Adam(1e-3)
    optimizer.apply_gradients([(tf.constant(np.zeros(4, "float16")), w)])
    m, v = [s for s in optimizer.variables if s.shape == (4,)]
    m.assign(np.full(4, 0.01, "float16"))
    v.assign(np.zeros(4, "float16"))
    optimizer.apply_gradients([(tf.constant(np.full(4, 1e-4, "float16")), w)])
    assert np.isfinite(w.numpy()).all() and (w.numpy() < 0.5).all()
