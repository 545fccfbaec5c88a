"""tf.keras.activations: values against NumPy formulas, gradients, lookup and serialization."""
import math

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import activations

X = np.array([-4.0, -2.5, -1.0, -0.3, 0.4, 1.0, 2.5, 4.0, 7.0])
_ERF = np.vectorize(math.erf)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


REFERENCES = {
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "relu6": lambda x: np.clip(x, 0, 6),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + _ERF(x / np.sqrt(2))),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "exponential": np.exp,
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "hard_silu": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "linear": lambda x: x,
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_match_numpy(name):
    fn = activations.get(name)
    np.testing.assert_allclose(np.asarray(fn(tf.constant(X, dtype=tf.float32))), REFERENCES[name](X),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "elu", "selu", "softplus", "softsign", "silu", "gelu", "tanh",
                                  "sigmoid", "hard_sigmoid", "mish", "leaky_relu", "relu6"])
def test_gradients_match_central_differences(name):
    # X avoids the kinks (0, ±3, 6), where one-sided slopes differ
    tf.test.check_gradients(activations.get(name), [X], order=1, modes=("rev",))


def test_gelu_is_exact_by_default_and_approximate_on_request():
    exact = float(activations.gelu(1.0))
    approx = float(activations.gelu(1.0, approximate=True))
    assert exact == pytest.approx(0.8413447, abs=1e-6)
    assert approx == pytest.approx(0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (1 + 0.044715))), abs=1e-6)


def test_relu_arguments_follow_keras():
    x = tf.constant([-10.0, -5.0, 0.0, 5.0, 10.0])
    np.testing.assert_allclose(activations.relu(x, negative_slope=0.5).numpy(), [-5, -2.5, 0, 5, 10])
    np.testing.assert_allclose(activations.relu(x, max_value=5.0).numpy(), [0, 0, 0, 5, 5])
    np.testing.assert_allclose(activations.relu(x, threshold=5.0).numpy(), [0, 0, 0, 0, 10])
    np.testing.assert_allclose(activations.relu(x, max_value=6).numpy(), [0, 0, 0, 5, 6])
    np.testing.assert_allclose(activations.relu(x, negative_slope=0.1, threshold=2.0).numpy(),
                               [-1.2, -0.7, -0.2, 5, 10], rtol=1e-6)


def test_softmax_along_an_axis_and_elu_alpha():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    e = np.exp(x - x.max(axis=0))
    np.testing.assert_allclose(activations.softmax(tf.constant(x), axis=0).numpy(), e / e.sum(axis=0))
    np.testing.assert_allclose(activations.log_softmax(tf.constant(x)).numpy(),
                               x - np.log(np.exp(x).sum(-1, keepdims=True)))
    np.testing.assert_allclose(activations.elu(tf.constant([-1.0, 2.0]), alpha=0.5).numpy(),
                               [0.5 * np.expm1(-1.0), 2.0], rtol=1e-6)


def test_get_accepts_names_none_callables_and_dicts():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu

    def custom(x):
        return x

    assert activations.get(custom) is custom
    assert activations.get({"class_name": "function", "config": "relu"}) is activations.relu
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: nope"):
        activations.get("nope")
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get(3)


def test_serialize_round_trips_builtins():
    for name in ["relu", "softmax", "gelu", "linear", "swish"]:
        fn = activations.get(name)
        assert activations.get(activations.serialize(fn)) is fn
    assert activations.serialize(activations.swish) == "silu"

    def custom(x):
        return x

    config = activations.serialize(custom)
    assert config["class_name"] == "function" and config["config"] == "custom"
    assert activations.deserialize(config, custom_objects={"custom": custom}) is custom
    with pytest.raises(ValueError, match="Unknown activation function 'custom'"):
        activations.deserialize(config)
