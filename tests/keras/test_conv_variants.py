"""Conv1D, Conv1DTranspose, SeparableConv1D/2D, DepthwiseConv2D, the 1-D pooling layers and tf.nn's
conv1d/depthwise_conv2d/separable_conv2d against outputs recorded from Keras 3.15 / TF 2.21 given the same
weights (tests/fixtures/keras_conv_variants.npz); weight names and shapes; gradients; configs; errors."""
import os

import numpy as np
import pytest
from test_layers import check_layer_gradients, round_trip  # the shared helpers (tests/ has no packages)

import tapegrad as tf

layers = tf.keras.layers
FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_conv_variants.npz"))
RNG = np.random.default_rng(3)

# the configurations recorded (same keys as the fixture)
CASES = {
    "conv1d_valid": ("Conv1D", dict(filters=3, kernel_size=3)),
    "conv1d_same_s2": ("Conv1D", dict(filters=3, kernel_size=3, strides=2, padding="same")),
    "conv1d_causal_d2": ("Conv1D", dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2)),
    "conv1d_groups": ("Conv1D", dict(filters=4, kernel_size=2, groups=2, activation="relu")),
    "conv1dT_same_s2": ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same")),
    "conv1dT_valid_s2": ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2)),
    "conv1dT_op1": ("Conv1DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same",
                                            output_padding=1)),
    "sep1d_valid": ("SeparableConv1D", dict(filters=3, kernel_size=3, depth_multiplier=2)),
    "sep1d_same_s2": ("SeparableConv1D", dict(filters=3, kernel_size=3, strides=2, padding="same")),
    "sep2d_valid": ("SeparableConv2D", dict(filters=3, kernel_size=3, depth_multiplier=2)),
    "sep2d_same_s2": ("SeparableConv2D", dict(filters=5, kernel_size=(3, 2), strides=2, padding="same")),
    "sep2d_dil": ("SeparableConv2D", dict(filters=2, kernel_size=2, dilation_rate=2, padding="same",
                                          use_bias=False)),
    "dw2d_mult2": ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2)),
    "dw2d_same_s2": ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same")),
    "maxpool1d": ("MaxPooling1D", dict(pool_size=3, strides=2)),
    "maxpool1d_same": ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same")),
    "avgpool1d": ("AveragePooling1D", dict(pool_size=2)),
    "avgpool1d_same": ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same")),
    "gap1d": ("GlobalAveragePooling1D", dict()),
    "gap1d_keep": ("GlobalAveragePooling1D", dict(keepdims=True)),
    "gmp1d": ("GlobalMaxPooling1D", dict()),
}
WEIGHT_NAMES = {"SeparableConv1D": ["depthwise_kernel", "pointwise_kernel", "bias"],
                "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"]}


def recorded_weights(key):
    return [FIXTURE[f"{key}/w{i}"] for i in range(3) if f"{key}/w{i}" in FIXTURE]


@pytest.mark.parametrize("key", sorted(CASES))
def test_outputs_match_keras_given_the_same_weights(key):
    cls, kwargs = CASES[key]
    layer = getattr(layers, cls)(**kwargs, name="layer")
    x = FIXTURE["x2" if "2d" in key else "x1"]
    layer(x)
    weights = recorded_weights(key)
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights]
    names = WEIGHT_NAMES.get(cls, ["kernel", "bias"])[:len(weights)]
    assert [w.path for w in layer.weights] == [f"layer/{n}" for n in names]
    layer.set_weights(weights)
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), FIXTURE[f"{key}/y"], rtol=1e-5, atol=1e-5)
    assert tuple(layer.compute_output_shape(x.shape)) == FIXTURE[f"{key}/y"].shape
    round_trip(layer)


def test_global_average_pooling_1d_mask_averages_unmasked_steps():
    mask = np.array([[1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 0]], bool)
    y = layers.GlobalAveragePooling1D()(FIXTURE["x1"], mask=mask)
    np.testing.assert_allclose(y.numpy(), FIXTURE["gap1d_mask/y"], rtol=1e-6, atol=1e-6)


def test_nn_functions_match_tf():
    x1, x2 = FIXTURE["x1"], FIXTURE["x2"]
    k, dk, pk = FIXTURE["nn_conv1d/k"], FIXTURE["nn_dw/dk"], FIXTURE["nn_sep/pk"]
    checks = [(tf.nn.conv1d(x1, k, stride=2, padding="SAME"), "nn_conv1d/y"),
              (tf.nn.conv1d(x1, k, stride=1, padding="VALID", dilations=2), "nn_conv1d_dil/y"),
              (tf.nn.depthwise_conv2d(x2, dk, [1, 2, 2, 1], "SAME"), "nn_dw/y"),
              (tf.nn.depthwise_conv2d(x2, dk, [1, 1, 1, 1], "VALID", dilations=[2, 2]), "nn_dw_dil/y"),
              (tf.nn.separable_conv2d(x2, dk, pk, [1, 1, 1, 1], "SAME"), "nn_sep/y")]
    for y, key in checks:
        np.testing.assert_allclose(y.numpy(), FIXTURE[key], rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("key", ["conv1d_causal_d2", "conv1d_groups", "conv1dT_op1", "sep1d_same_s2",
                                 "sep2d_same_s2", "maxpool1d_same", "avgpool1d_same", "gap1d", "gmp1d"])
def test_gradients_match_central_differences(key):
    cls, kwargs = CASES[key]
    x = RNG.normal(size=(1, 5, 4, 4) if "2d" in key else (2, 6, 4))
    layer = getattr(layers, cls)(**kwargs, dtype="float64")
    check_layer_gradients(layer, x)


def test_causal_output_at_t_sees_only_inputs_up_to_t():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = RNG.normal(size=(1, 8, 3)).astype("float32")
    y = layer(x).numpy()
    x[:, 5:] += 1.0
    assert np.array_equal(layer(x).numpy()[:, :5], y[:, :5])


def test_configs_carry_keras_arguments():
    config = layers.SeparableConv2D(4, 3, depth_multiplier=2, name="s").get_config()
    assert config["depth_multiplier"] == 2 and config["kernel_size"] == (3, 3)
    assert "kernel_initializer" not in config and config["pointwise_initializer"]["class_name"] == "GlorotUniform"
    config = layers.Conv1D(2, 3, padding="causal").get_config()
    assert (config["kernel_size"], config["strides"], config["padding"], config["dilation_rate"],
            config["groups"]) == ((3,), (1,), "causal", (1,), 1)
    assert layers.MaxPooling1D().get_config()["pool_size"] == (2,)
    assert layers.GlobalMaxPooling1D(keepdims=True).get_config()["keepdims"] is True


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"one of \{'valid', 'same'\}. Received: causal"):
        layers.SeparableConv1D(2, 3, padding="causal")
    with pytest.raises(ValueError, match=r"one of \{'causal', 'valid', 'same'\}. Received: full"):
        layers.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="dilation_rate > 1"):
        layers.Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.Conv1D(2, 3)(tf.ones([1, 4, 4, 1]))
    with pytest.raises(ValueError, match="too small"):
        layers.Conv1D(2, 5)(tf.ones([1, 3, 2]))
    with pytest.raises(TypeError):
        layers.AveragePooling1D()  # Keras 3: pool_size is required
