"""tf.keras.layers (all but the convolutions and pooling, in test_conv_layers.py): values against NumPy,
gradients, weight order, training behaviour, configs and argument errors."""
import numpy as np
import pytest

import tapegrad as tf

layers = tf.keras.layers
RNG = np.random.default_rng(0)


def numeric_gradient(loss, var, eps=1e-6):
    """Central differences of the float `loss()` with respect to each entry of float64 `var`."""
    base = var.numpy().copy()
    grad = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        values = []
        for step in (eps, -eps):
            shifted = base.copy()
            shifted[idx] += step
            var.assign(shifted)
            values.append(float(loss()))
        grad[idx] = (values[0] - values[1]) / (2 * eps)
    var.assign(base)
    return grad


def check_layer_gradients(layer, x, **call_kwargs):
    """Tape gradients of sum(layer(x) * w) for the input and every trainable weight vs central differences."""
    x = tf.Variable(x)
    layer(x, **call_kwargs)  # build
    w = RNG.normal(size=layer(x, **call_kwargs).shape)

    def loss():
        return tf.reduce_sum(layer(x, **call_kwargs) * w)

    with tf.GradientTape() as tape:
        value = loss()
    sources = [x] + layer.trainable_weights
    for var, grad in zip(sources, tape.gradient(value, sources)):
        np.testing.assert_allclose(np.asarray(grad), numeric_gradient(loss, var), rtol=1e-6, atol=1e-7,
                                   err_msg=var.name)


def round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


# -- Dense --------------------------------------------------------------------------------------

def test_dense_matches_numpy_and_orders_kernel_then_bias():
    layer = layers.Dense(3, activation="relu", name="d")
    x = RNG.normal(size=(4, 5)).astype("float32")
    y = layer(x)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y.numpy(), np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    assert [w.path for w in layer.weights] == ["d/kernel", "d/bias"]
    assert [w.path for w in layer.trainable_weights] == ["d/kernel", "d/bias"]
    assert kernel.shape == (5, 3) and not bias.any()  # zeros bias
    assert y.dtype == tf.float32


def test_dense_gradients_are_the_hand_formulas():
    layer = layers.Dense(2)
    x = tf.constant(RNG.normal(size=(3, 4)), dtype=tf.float32)
    g = RNG.normal(size=(3, 2)).astype("float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * g)
    dx, dk, db = tape.gradient(loss, [x] + layer.trainable_variables)
    kernel = layer.kernel.numpy()
    np.testing.assert_allclose(dk.numpy(), x.numpy().T @ g, rtol=1e-5)
    np.testing.assert_allclose(db.numpy(), g.sum(0), rtol=1e-5)
    np.testing.assert_allclose(dx.numpy(), g @ kernel.T, rtol=1e-5)


def test_dense_acts_on_the_last_axis_of_higher_rank_inputs():
    layer = layers.Dense(4, dtype="float64")
    x = RNG.normal(size=(2, 3, 5))
    y = layer(x)
    assert y.shape == (2, 3, 4)
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy())
    check_layer_gradients(layers.Dense(2, activation="tanh", dtype="float64"), RNG.normal(size=(2, 3, 3)))


def test_dense_without_bias_and_shapes():
    layer = layers.Dense(3, use_bias=False)
    layer(np.ones((2, 4)))
    assert len(layer.weights) == 1 and layer.bias is None
    assert layer.compute_output_shape((None, 7, 4)) == (None, 7, 3)
    assert layer.count_params() == 12


@pytest.mark.parametrize("units", [0, -1, 2.5, "3", True, None])
def test_dense_units_must_be_a_positive_int(units):
    with pytest.raises(ValueError, match="expected a positive integer"):
        layers.Dense(units)


def test_dense_config_round_trip():
    layer = layers.Dense(5, activation="softmax", use_bias=False, kernel_initializer="he_normal", name="out")
    config = layer.get_config()
    assert config["units"] == 5 and config["activation"] == "softmax" and config["use_bias"] is False
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    clone = round_trip(layer)
    assert clone.name == "out" and clone.activation is tf.keras.activations.softmax


def test_numpy_and_float64_inputs_become_float32():
    layer = layers.Dense(2)
    assert layer(np.ones((1, 3))).dtype == tf.float32
    assert layer(tf.constant(np.ones((1, 3)))).dtype == tf.float32  # float64 tensor: autocast


def test_activity_regularizer_adds_a_loss_per_forward_pass():
    layer = layers.Dense(2, kernel_initializer="ones", activity_regularizer=lambda y: tf.reduce_sum(y))
    layer(np.ones((1, 3)))
    layer(np.ones((1, 3)))
    assert len(layer.losses) == 1  # the second outermost call starts a new pass
    assert float(layer.losses[0]) == 6.0


def test_weight_regularizers_and_constraints_by_name():
    layer = layers.Dense(2, kernel_initializer="ones", kernel_regularizer="l2", bias_regularizer="l1",
                         kernel_constraint="non_neg")
    layer(np.ones((1, 3)))
    assert [float(loss) for loss in layer.losses] == pytest.approx([0.01 * 6, 0.0])
    assert type(layer.kernel.constraint).__name__ == "NonNeg"
    config = round_trip(layer).get_config()
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert config["kernel_constraint"]["class_name"] == "NonNeg"


# -- Embedding ----------------------------------------------------------------------------------

def test_embedding_gathers_rows_and_its_gradient_is_sparse():
    layer = layers.Embedding(6, 3)
    ids = np.array([[1, 4], [4, 0]])
    with tf.GradientTape() as tape:
        out = layer(ids)
        loss = tf.reduce_sum(out)
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(out.numpy(), table[ids])
    grad = tape.gradient(loss, layer.embeddings)
    assert isinstance(grad, tf.IndexedSlices)
    dense = np.zeros((6, 3))
    np.add.at(dense, ids.reshape(-1), 1.0)
    np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(), dense)
    assert [w.path for w in layer.weights] == [f"{layer.name}/embeddings"]
    assert layer(np.array([2.0, 3.0])).shape == (2, 3)  # float ids are cast to int32
    assert layer.compute_output_shape((None, 7)) == (None, 7, 3)
    assert round_trip(layer).output_dim == 3
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 3)


# -- activation layers ----------------------------------------------------------------------------

def test_activation_layers_match_numpy():
    x = np.array([[-3.0, -0.5, 0.5, 2.0, 8.0]], dtype="float32")
    np.testing.assert_allclose(layers.Activation("tanh")(x).numpy(), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(layers.ReLU()(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0)(x).numpy(),
                               [[-0.4, -0.15, -0.05, 2.0, 6.0]], rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU()(x).numpy(), np.where(x > 0, x, 0.3 * x), rtol=1e-6)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(layers.Softmax()(x).numpy(), e / e.sum(), rtol=1e-6)
    y = RNG.normal(size=(2, 3, 4))
    e = np.exp(y)
    np.testing.assert_allclose(layers.Softmax(axis=[1, 2], dtype="float64")(y).numpy(),
                               e / e.sum(axis=(1, 2), keepdims=True))


@pytest.mark.parametrize("make, message", [
    (lambda: layers.ReLU(max_value=-1.0), "max_value of a ReLU layer cannot be a negative value"),
    (lambda: layers.ReLU(negative_slope=-1.0), "negative_slope of a ReLU layer cannot be a negative"),
    (lambda: layers.ReLU(threshold=-1.0), "threshold of a ReLU layer cannot be a negative value"),
    (lambda: layers.LeakyReLU(negative_slope=-0.1), "cannot be None or negative"),
    (lambda: layers.Activation("nope"), "Could not interpret activation function identifier"),
])
def test_activation_layer_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_activation_layer_configs_round_trip():
    for layer in [layers.Activation("relu"), layers.ReLU(max_value=6.0), layers.LeakyReLU(0.1),
                  layers.Softmax(axis=1)]:
        round_trip(layer)


# -- Dropout ----------------------------------------------------------------------------------

def test_dropout_is_the_identity_unless_training():
    layer = layers.Dropout(0.5)
    x = tf.ones([4, 5])
    assert layer(x) is x
    assert layer(x, training=False) is x
    assert layer(x, training=None) is x
    assert layers.Dropout(0.0)(x, training=True) is x


def test_dropout_drops_at_rate_and_scales_the_rest():
    tf.random.set_seed(3)
    layer = layers.Dropout(0.25)
    x = tf.ones([200, 100])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    values = y.numpy()
    assert set(np.unique(values)) == {0.0, np.float32(1 / 0.75)}
    assert abs((values == 0).mean() - 0.25) < 0.02
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), values)  # gradient = the same mask
    np.testing.assert_array_equal(layers.Dropout(1.0)(x, training=True).numpy(), 0.0)


def test_dropout_noise_shape_shares_the_mask_and_seed_repeats_it():
    tf.random.set_seed(0)
    y = layers.Dropout(0.5, noise_shape=(None, 1))(tf.ones([50, 6]), training=True).numpy()
    assert (y == y[:, :1]).all() and 0 < (y[:, 0] == 0).sum() < 50
    draws = []
    for _ in range(2):
        tf.random.set_seed(1)
        layer = layers.Dropout(0.5, seed=7)
        draws.append([layer(tf.ones([20]), training=True).numpy() for _ in range(2)])
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0][0], draws[0][1])  # one stream: successive calls differ


def test_training_propagates_to_sublayers_without_a_training_argument():
    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.dropout = layers.Dropout(0.5)

        def call(self, x):
            return self.dropout(x)

    block, x = Block(), tf.ones([1000])
    assert (block(x).numpy() == 1).all()
    assert (block(x, training=True).numpy() == 0).any()


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.5", None])
def test_dropout_rate_must_be_in_0_1(rate):
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1"):
        layers.Dropout(rate)


def test_dropout_config_round_trip():
    assert round_trip(layers.Dropout(0.3, noise_shape=(None, 1), seed=4)).noise_shape == (None, 1)


# -- BatchNormalization ---------------------------------------------------------------------------

def test_batch_norm_training_uses_batch_stats_and_updates_moving_averages():
    x = RNG.normal(2.0, 3.0, size=(8, 4, 4, 3)).astype("float32")
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    y = bn(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased variance
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)


def test_batch_norm_inference_uses_moving_stats_and_does_not_update_them():
    bn = layers.BatchNormalization(epsilon=0.0)
    x = RNG.normal(size=(4, 3)).astype("float32")
    bn.build(x.shape)
    bn.moving_mean.assign([1.0, 2.0, 3.0])
    bn.moving_variance.assign([4.0, 1.0, 0.25])
    bn.gamma.assign([1.0, 2.0, 3.0])
    bn.beta.assign([0.5, 0.0, -0.5])
    expected = (x - [1, 2, 3]) / np.sqrt([4.0, 1.0, 0.25]) * [1, 2, 3] + [0.5, 0, -0.5]
    for training in (None, False):
        np.testing.assert_allclose(bn(x, training=training).numpy(), expected, rtol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), [1, 2, 3])


def test_batch_norm_frozen_layer_runs_in_inference_mode_even_when_training():
    bn = layers.BatchNormalization()
    x = RNG.normal(5.0, 1.0, size=(6, 2)).astype("float32")
    bn.trainable = False
    y = bn(x, training=True)
    np.testing.assert_allclose(y.numpy(), x / np.sqrt(1 + 1e-3), rtol=1e-5)
    assert not bn.moving_mean.numpy().any()
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_batch_norm_weights_order_and_trainability():
    bn = layers.BatchNormalization(name="bn")
    bn(np.ones((2, 3)))
    assert [w.path for w in bn.weights] == ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    assert [w.path for w in bn.trainable_weights] == ["bn/gamma", "bn/beta"]
    assert [w.path for w in bn.non_trainable_weights] == ["bn/moving_mean", "bn/moving_variance"]
    assert len(layers.BatchNormalization(center=False, scale=False)(np.ones((2, 3))).shape) == 2


def test_batch_norm_gradients_in_training_mode():
    bn = layers.BatchNormalization(dtype="float64")
    bn.build((5, 3))
    bn.gamma.assign(RNG.normal(size=3))
    bn.beta.assign(RNG.normal(size=3))
    check_layer_gradients(bn, RNG.normal(size=(5, 3)), training=True)


def test_batch_norm_on_another_axis():
    x = RNG.normal(size=(4, 3, 5))
    bn = layers.BatchNormalization(axis=1, epsilon=0.0, dtype="float64")
    y = bn(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var), atol=1e-10)
    assert bn.gamma.shape == (3,)


def test_batch_norm_config_round_trip_and_errors():
    bn = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False)
    clone = round_trip(bn)
    assert (clone.axis, clone.momentum, clone.epsilon, clone.center) == (1, 0.9, 1e-5, False)
    with pytest.raises(ValueError, match="Invalid axis 3"):
        layers.BatchNormalization(axis=3)(np.ones((2, 3)))


# -- LayerNormalization ---------------------------------------------------------------------------

def test_layer_norm_matches_numpy():
    x = RNG.normal(size=(2, 3, 4))
    ln = layers.LayerNormalization(dtype="float64")
    ln.build(x.shape)
    ln.gamma.assign(RNG.normal(size=4))
    ln.beta.assign(RNG.normal(size=4))
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * ln.gamma.numpy() + ln.beta.numpy()
    np.testing.assert_allclose(ln(x).numpy(), expected, rtol=1e-10)
    assert [w.path for w in ln.weights] == [f"{ln.name}/gamma", f"{ln.name}/beta"]


def test_layer_norm_over_several_axes_and_rms_scaling():
    x = RNG.normal(size=(2, 3, 4))
    ln = layers.LayerNormalization(axis=[1, 2], epsilon=0.0, dtype="float64")
    y = ln(x).numpy()
    assert ln.gamma.shape == (3, 4)
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var), rtol=1e-10)
    rms = layers.LayerNormalization(rms_scaling=True, epsilon=0.0, dtype="float64")
    np.testing.assert_allclose(rms(x).numpy(), x / np.sqrt((x * x).mean(-1, keepdims=True)), rtol=1e-10)


def test_layer_norm_gradients():
    ln = layers.LayerNormalization(dtype="float64")
    ln.build((3, 4))
    ln.gamma.assign(RNG.normal(size=4))
    check_layer_gradients(ln, RNG.normal(size=(3, 4)))


def test_layer_norm_config_round_trip():
    assert round_trip(layers.LayerNormalization(axis=[1, 2], scale=False)).axis == [1, 2]
    with pytest.raises(TypeError, match="Expected an int or a list/tuple of ints"):
        layers.LayerNormalization(axis="last")


# -- reshaping ------------------------------------------------------------------------------------

def test_flatten_and_reshape():
    x = RNG.normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_array_equal(layers.Flatten()(x).numpy(), x.reshape(2, 12))
    assert layers.Flatten()(np.ones((3,))).shape == (3, 1)
    assert layers.Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    np.testing.assert_array_equal(layers.Reshape((4, 3))(x).numpy(), x.reshape(2, 4, 3))
    assert layers.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert round_trip(layers.Reshape([2, -1])).target_shape == (2, -1)
    with pytest.raises(ValueError, match="target_shape"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="channels_last"):
        layers.Flatten(data_format="channels_first")


def test_upsampling_nearest_repeats_and_its_gradient_sums():
    x = tf.constant(RNG.normal(size=(1, 2, 3, 2)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layers.UpSampling2D(size=(2, 3))(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy().repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.full((1, 2, 3, 2), 6.0))


def test_upsampling_bilinear_uses_half_pixel_centres():
    x = np.array([0.0, 1.0, 3.0], dtype="float32").reshape(1, 1, 3, 1)
    y = layers.UpSampling2D(size=(1, 2), interpolation="bilinear")(x).numpy().reshape(-1)
    # tf.image.resize([0, 1, 3] -> 6): sources -0.25 (clamped), 0.25, 0.75, 1.25, 1.75, 2.25 (clamped)
    np.testing.assert_allclose(y, [0.0, 0.25, 0.75, 1.5, 2.5, 3.0])
    check_layer_gradients(layers.UpSampling2D(interpolation="bilinear", dtype="float64"),
                          RNG.normal(size=(1, 2, 3, 1)))
    with pytest.raises(ValueError, match="interpolation"):
        layers.UpSampling2D(interpolation="bicubic")


def test_zero_padding():
    x = np.ones((1, 2, 2, 1), dtype="float32")
    y = layers.ZeroPadding2D(((1, 0), (0, 2)))(x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(y, [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]])
    layer = layers.ZeroPadding2D(2)
    assert layer.padding == ((2, 2), (2, 2))
    assert layer.compute_output_shape((None, 5, None, 3)) == (None, 9, None, 3)
    assert round_trip(layers.ZeroPadding2D((1, 3))).padding == ((1, 1), (3, 3))
    with pytest.raises(ValueError, match="padding"):
        layers.ZeroPadding2D((1, 2, 3))


def test_reshaping_configs_round_trip():
    for layer in [layers.Flatten(), layers.UpSampling2D((2, 3), interpolation="bilinear")]:
        round_trip(layer)


# -- merging --------------------------------------------------------------------------------------

def test_merge_layers_match_numpy_and_differentiate():
    a, b = (tf.constant(RNG.normal(size=(2, 3)), dtype=tf.float32) for _ in range(2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        total = layers.Add()([a, b])
        product = layers.Multiply()([a, b])
        joined = layers.Concatenate()([a, b])
    np.testing.assert_allclose(total.numpy(), a.numpy() + b.numpy())
    np.testing.assert_allclose(product.numpy(), a.numpy() * b.numpy())
    np.testing.assert_array_equal(joined.numpy(), np.concatenate([a.numpy(), b.numpy()], -1))
    np.testing.assert_allclose(tape.gradient(product, a).numpy(), b.numpy())
    np.testing.assert_allclose(tape.gradient(joined, [a, b])[1].numpy(), np.ones((2, 3)))
    np.testing.assert_allclose(layers.Subtract()([a, b]).numpy(), a.numpy() - b.numpy())
    np.testing.assert_allclose(layers.Average()([a, b, a]).numpy(), (2 * a.numpy() + b.numpy()) / 3, rtol=1e-6)
    assert layers.Concatenate(axis=0)([a, b]).shape == (4, 3)


def test_merge_shapes_and_errors():
    assert layers.Add().compute_output_shape([(None, 3), (None, 3)]) == (None, 3)
    assert layers.Concatenate(axis=1).compute_output_shape([(None, 2, 4), (None, 5, 4)]) == (None, 7, 4)
    with pytest.raises(ValueError, match="A merge layer should be called on a list of inputs"):
        layers.Add()(tf.ones([2, 3]))
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate()([tf.ones([2, 3]), tf.ones([3, 3])])
    with pytest.raises(ValueError, match="incompatible shapes"):
        layers.Add()([tf.ones([2, 3]), tf.ones([2, 4])])
    assert round_trip(layers.Concatenate(axis=1)).axis == 1


# -- a model of several layers ------------------------------------------------------------------

def test_variable_order_follows_attribute_assignment_and_trains():
    class Net(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__(name="net")
            self.conv = layers.Conv2D(4, 3, name="conv")
            self.bn = layers.BatchNormalization(name="bn")
            self.pool = layers.GlobalAveragePooling2D()
            self.drop = layers.Dropout(0.5)
            self.head = layers.Dense(2, name="head")

        def call(self, x):
            return self.head(self.drop(self.pool(tf.nn.relu(self.bn(self.conv(x))))))

    net = Net()
    assert net.trainable_variables == []
    x = RNG.normal(size=(4, 6, 6, 3)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(net(x, training=True)))
    names = [v.path for v in net.trainable_variables]
    assert names == ["conv/kernel", "conv/bias", "bn/gamma", "bn/beta", "head/kernel", "head/bias"]
    assert [v.path for v in net.weights][-4:] == ["bn/moving_mean", "bn/moving_variance", "head/kernel",
                                                  "head/bias"]
    grads = tape.gradient(loss, net.trainable_variables)
    assert all(g is not None and g.shape == v.shape for g, v in zip(grads, net.trainable_variables))
    assert net.bn.moving_mean.numpy().any()  # training=True reached the BatchNormalization


def test_input_is_reexported_from_the_functional_module():
    from tapegrad.keras.models import functional
    assert layers.Input is functional.Input and layers.InputLayer is functional.InputLayer
