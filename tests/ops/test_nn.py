"""tf.nn activations, losses, normalisation and dropout: values against formulas, exact
gradients at kinks, stability at logits of +-1e4, errors, and dropout's statistics."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError

EXTREME = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4], dtype=np.float32)


def grad(f, x, **kwargs):
    x = tf.constant(x, **kwargs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return y.numpy(), tape.gradient(y, x).numpy()


def finite_without_warnings(f, x):
    """f's value and gradient at x, asserting both finite and that NumPy warned about nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, gradient = grad(f, x)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(gradient)), (value, gradient)
    return value, gradient


# -- activations ------------------------------------------------------------------------------

def test_relu_and_its_gradient_at_zero():
    value, gradient = grad(tf.nn.relu, [-2.0, 0.0, 3.0])
    assert value.tolist() == [0.0, 0.0, 3.0]
    assert gradient.tolist() == [0.0, 0.0, 1.0]


def test_relu6_gradient_is_zero_at_both_kinks():
    value, gradient = grad(tf.nn.relu6, [-1.0, 0.0, 3.0, 6.0, 8.0])
    assert value.tolist() == [0.0, 0.0, 3.0, 6.0, 6.0]
    assert gradient.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_leaky_relu_default_alpha_and_slope_at_zero():
    value, gradient = grad(tf.nn.leaky_relu, [-2.0, 0.0, 3.0])
    np.testing.assert_allclose(value, [-0.4, 0.0, 3.0])
    np.testing.assert_allclose(gradient, [0.2, 0.2, 1.0])
    assert tf.nn.leaky_relu(tf.constant([-1, 2])).dtype == tf.float32
    np.testing.assert_allclose(tf.nn.leaky_relu([-1.0], alpha=0.5).numpy(), [-0.5])


@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.3, 1.0, 1.5, -0.5])
def test_leaky_relu_primitive_gives_the_bits_of_where(alpha):
    # the primitive's maximum/minimum and mask products against TF's definition with np.where
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    x[:3] = [0.0, -0.0, np.nan]
    g = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.leaky_relu(xt, alpha=alpha)
    gradient = tape.gradient(y, xt, output_gradients=tf.constant(g)).numpy()
    expected = np.where(x > 0, x, x * np.float32(alpha))
    np.testing.assert_array_equal(y.numpy()[3:], expected[3:])
    assert np.isnan(y.numpy()[2]) and y.numpy()[0] == 0.0 and y.numpy()[1] == 0.0
    np.testing.assert_array_equal(gradient, np.where(x > 0, g, g * np.float32(alpha)))


@pytest.mark.parametrize("name, alpha, scale", [("elu", 1.0, 1.0),
                                                ("selu", 1.6732632423543772, 1.0507009873554805)])
def test_exponential_linear_units(name, alpha, scale):
    fn = getattr(tf.nn, name)
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    value, gradient = grad(fn, x, dtype=tf.float64)
    np.testing.assert_allclose(value, scale * np.where(x > 0, x, alpha * np.expm1(x)), rtol=1e-12)
    np.testing.assert_allclose(gradient, scale * np.where(x > 0, 1.0, alpha * np.exp(x)), rtol=1e-12)
    _, gradient = finite_without_warnings(fn, EXTREME)
    np.testing.assert_allclose(gradient[[0, -1]], [0.0, scale])


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_matches_its_formula(approximate):
    x = np.linspace(-4, 4, 9)
    if approximate:
        expected = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    else:
        expected = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(tf.nn.gelu(tf.constant(x), approximate=approximate).numpy(), expected,
                               rtol=1e-12, atol=1e-15)
    finite_without_warnings(lambda t: tf.nn.gelu(t, approximate=approximate), EXTREME)


def test_softplus_is_stable_and_its_gradient_is_sigmoid():
    value, gradient = finite_without_warnings(tf.nn.softplus, EXTREME)
    np.testing.assert_allclose(value, np.logaddexp(0, EXTREME.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(gradient, np.exp(-np.logaddexp(0, -EXTREME.astype(np.float64))), rtol=1e-6)


def test_softsign_silu_and_swish():
    x = np.array([-3.0, 0.0, 2.0])
    np.testing.assert_allclose(tf.nn.softsign(tf.constant(x)).numpy(), x / (1 + np.abs(x)))
    np.testing.assert_allclose(tf.nn.silu(tf.constant(x)).numpy(), x / (1 + np.exp(-x)))
    np.testing.assert_allclose(tf.nn.silu(tf.constant(x), beta=2.0).numpy(), x / (1 + np.exp(-2 * x)))
    assert tf.nn.swish is tf.nn.silu
    _, gradient = grad(tf.nn.softsign, [0.0])
    assert gradient.tolist() == [1.0]
    for fn in (tf.nn.softsign, tf.nn.silu, tf.nn.sigmoid, tf.nn.tanh):
        finite_without_warnings(fn, EXTREME)


# -- softmax --------------------------------------------------------------------------------------

def test_softmax_rows_sum_to_one_and_match_the_formula():
    logits = np.random.default_rng(0).standard_normal((4, 5))
    probs = tf.nn.softmax(tf.constant(logits)).numpy()
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), rtol=1e-12)
    by_axis = tf.nn.softmax(tf.constant(logits), axis=0).numpy()
    np.testing.assert_allclose(by_axis.sum(0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(tf.nn.log_softmax(tf.constant(logits), axis=0).numpy(), np.log(by_axis),
                               rtol=1e-12)


def test_softmax_gradient_matches_the_jacobian_formula():
    logits = tf.constant([[0.5, -1.0, 2.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        probs = tf.nn.softmax(logits)
    jacobian = tape.jacobian(probs, logits).numpy()[0, :, 0, :]
    p = probs.numpy()[0]
    np.testing.assert_allclose(jacobian, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn", [tf.nn.softmax, tf.nn.log_softmax])
def test_softmax_and_log_softmax_are_stable_at_extreme_logits(fn):
    value, _ = finite_without_warnings(lambda x: fn(tf.reshape(x, [1, -1])), EXTREME)
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(tf.nn.log_softmax([[1e4, -1e4]]).numpy(), [[0.0, -2e4]])


# -- cross-entropies ------------------------------------------------------------------------------

def test_sparse_softmax_cross_entropy_value_and_gradient_by_hand():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0])
    x = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x)
    log_z = np.log(np.exp(logits).sum(-1))
    np.testing.assert_allclose(loss.numpy(), log_z - logits[[0, 1], labels], rtol=1e-12)
    probs = np.exp(logits - log_z[:, None])
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), probs - np.eye(3)[labels], rtol=1e-12)
    positional = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, x)
    np.testing.assert_allclose(positional.numpy(), loss.numpy())


def test_sparse_softmax_cross_entropy_is_stable_at_extreme_logits():
    def loss(x):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 6], logits=tf.stack([x, x]))
    value, gradient = finite_without_warnings(loss, EXTREME)
    np.testing.assert_allclose(value, [2e4, 0.0])


@pytest.mark.parametrize("label", [3, -1])
def test_sparse_softmax_cross_entropy_refuses_labels_out_of_range(label):
    message = rf"Received a label value of {label} which is outside the valid range of \[0, 3\)"
    with pytest.raises(InvalidArgumentError, match=message):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, label], logits=tf.zeros([2, 3]))


def test_sparse_softmax_cross_entropy_shape_and_type_errors():
    with pytest.raises(ValueError, match="Rank mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[[0]], logits=tf.zeros([1, 3]))
    with pytest.raises(ValueError, match="Shape mismatch"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1], logits=tf.zeros([3, 3]))
    with pytest.raises(TypeError, match="integer"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0.0], logits=tf.zeros([1, 3]))


def test_sparse_softmax_cross_entropy_labels_get_no_gradient_and_second_order_works():
    logits = tf.constant([[0.3, -0.2, 0.1]], dtype=tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(logits)
        with tf.GradientTape() as inner:
            inner.watch(logits)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1], logits=logits)
        g = inner.gradient(loss, logits)
    hessian = outer.jacobian(g, logits).numpy()[0, :, 0, :]
    p = tf.nn.softmax(logits).numpy()[0]
    np.testing.assert_allclose(hessian, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_value_and_gradients_in_logits_and_labels():
    logits = tf.constant([[1.0, 2.0, 0.5]], dtype=tf.float64)
    labels = tf.constant([[0.2, 0.5, 0.3]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([logits, labels])
        loss = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    d_logits, d_labels = tape.gradient(loss, [logits, labels])
    log_p = logits.numpy() - np.log(np.exp(logits.numpy()).sum())
    np.testing.assert_allclose(loss.numpy(), [-(labels.numpy() * log_p).sum()], rtol=1e-12)
    np.testing.assert_allclose(d_logits.numpy(), np.exp(log_p) - labels.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d_labels.numpy(), -log_p, rtol=1e-12)
    by_axis = tf.nn.softmax_cross_entropy_with_logits(tf.transpose(labels), tf.transpose(logits), axis=0)
    np.testing.assert_allclose(by_axis.numpy(), loss.numpy(), rtol=1e-12)
    finite_without_warnings(
        lambda x: tf.nn.softmax_cross_entropy_with_logits(tf.fill([1, 7], 1 / 7), tf.reshape(x, [1, -1])),
        EXTREME)


def test_sigmoid_cross_entropy_value_gradient_at_zero_and_stability():
    x = np.array([-3.0, 0.0, 0.0, 2.0])
    z = np.array([1.0, 0.0, 1.0, 0.3])
    value, gradient = grad(lambda t: tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=t), x,
                           dtype=tf.float64)
    sigmoid = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(value, -z * np.log(sigmoid) - (1 - z) * np.log(1 - sigmoid), rtol=1e-12)
    np.testing.assert_allclose(gradient, sigmoid - z, rtol=1e-12)
    labels = np.linspace(1, 0, EXTREME.size).astype(np.float32)
    value, _ = finite_without_warnings(
        lambda t: tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=t), EXTREME)
    np.testing.assert_allclose(value[[0, -1]], [1e4 * labels[0], 1e4 * (1 - labels[-1])])
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0], logits=[1.0, 2.0])


def test_small_losses():
    assert float(tf.nn.l2_loss([3.0, 4.0])) == 12.5
    assert float(tf.nn.compute_average_loss([1.0, 3.0])) == 2.0
    weighted = tf.nn.compute_average_loss([1.0, 3.0], sample_weight=[1.0, 0.0], global_batch_size=4)
    assert float(weighted) == 0.25
    assert float(tf.nn.scale_regularization_loss(tf.constant([1.0, 2.0]))) == 3.0


# -- normalisation ----------------------------------------------------------------------------------

def test_moments_match_numpy_and_keepdims():
    x = np.random.default_rng(1).standard_normal((4, 3, 2))
    mean, variance = tf.nn.moments(tf.constant(x), axes=[0, 1])
    np.testing.assert_allclose(mean.numpy(), x.mean((0, 1)), rtol=1e-12)
    np.testing.assert_allclose(variance.numpy(), x.var((0, 1)), rtol=1e-12)
    mean, variance = tf.nn.moments(tf.constant(x), axes=[0], keepdims=True)
    assert mean.shape == variance.shape == (1, 3, 2)
    half_mean, half_variance = tf.nn.moments(tf.constant(x, dtype=tf.float16), axes=[0])
    assert half_mean.dtype == half_variance.dtype == tf.float16


def test_moments_gradient_of_the_variance_is_the_full_derivative():
    x = np.array([1.0, 2.0, 4.0])
    _, gradient = grad(lambda t: tf.nn.moments(t, axes=[0])[1], x, dtype=tf.float64)
    np.testing.assert_allclose(gradient, 2 * (x - x.mean()) / x.size, rtol=1e-12)


def test_batch_normalization_formula():
    x = np.random.default_rng(2).standard_normal((5, 3))
    mean, variance, offset, scale = x.mean(0), x.var(0), np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    out = tf.nn.batch_normalization(tf.constant(x), tf.constant(mean), tf.constant(variance),
                                    tf.constant(offset), tf.constant(scale), 1e-3)
    expected = (x - mean) / np.sqrt(variance + 1e-3) * scale + offset
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_l2_normalize_gives_unit_rows_and_leaves_zero_rows_finite():
    x = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(tf.nn.l2_normalize(x, axis=1).numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    _, gradient = grad(lambda t: tf.nn.l2_normalize(t, axis=1), [[0.0, 0.0]])
    assert np.all(np.isfinite(gradient))


def test_bias_add_channels_last_and_first():
    value = tf.zeros([2, 3, 4])
    np.testing.assert_allclose(tf.nn.bias_add(value, [1.0, 2.0, 3.0, 4.0]).numpy()[1, 2], [1, 2, 3, 4])
    channels_first = tf.nn.bias_add(value, [1.0, 2.0, 3.0], data_format="NCHW").numpy()
    np.testing.assert_allclose(channels_first[0, :, 0], [1, 2, 3])
    with pytest.raises(InvalidArgumentError, match="biases"):
        tf.nn.bias_add(value, [1.0, 2.0])
    bias = tf.Variable([0.0, 0.0, 0.0, 0.0])
    with tf.GradientTape() as tape:
        y = tf.nn.bias_add(value, bias)
    assert tape.gradient(y, bias).numpy().tolist() == [6.0] * 4


# -- dropout --------------------------------------------------------------------------------------

def test_dropout_statistics_and_scaling():
    rate = 0.3
    y = tf.nn.dropout(tf.ones([200_000]), rate=rate, seed=11).numpy()
    kept = y != 0
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / (1 - rate))}
    # binomial: the kept fraction is within 5 standard deviations of 1 - rate
    assert abs(kept.mean() - (1 - rate)) < 5 * math.sqrt(rate * (1 - rate) / y.size)
    assert abs(y.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_dropout_gradient_is_the_scaled_mask_and_each_call_draws_afresh():
    x = tf.constant(np.random.default_rng(3).uniform(1, 2, 1000).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.dropout(x, rate=0.5)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), (y.numpy() != 0) * 2.0)
    assert not np.array_equal(y.numpy() != 0, tf.nn.dropout(x, rate=0.5).numpy() != 0)


def test_dropout_is_reproducible_under_seeds():
    tf.random.set_seed(5)
    first = [tf.nn.dropout(tf.ones([50]), 0.5).numpy() for _ in range(2)]
    tf.random.set_seed(5)
    second = [tf.nn.dropout(tf.ones([50]), 0.5).numpy() for _ in range(2)]
    tf.random.set_seed(None)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])


def test_dropout_noise_shape_shares_one_draw_along_broadcast_axes():
    y = tf.nn.dropout(tf.ones([64, 5]), rate=0.5, noise_shape=[64, 1]).numpy()
    assert np.all(y == y[:, :1])
    y = tf.nn.dropout(tf.ones([4, 64]), rate=0.5, noise_shape=[1, None]).numpy()
    assert np.all(y == y[:1])


def test_dropout_rate_zero_is_identity_and_bad_arguments_raise():
    x = tf.constant([1.0, 2.0])
    assert tf.nn.dropout(x, rate=0.0) is x
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="rate"):
            tf.nn.dropout(x, rate=rate)
    with pytest.raises(ValueError, match="floating point"):
        tf.nn.dropout(tf.constant([1, 2]), rate=0.5)


def test_embedding_lookup_is_a_gather():
    params = tf.Variable([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    with tf.GradientTape() as tape:
        rows = tf.nn.embedding_lookup(params, [2, 2, 0])
    assert rows.numpy().tolist() == [[4.0, 5.0], [4.0, 5.0], [0.0, 1.0]]
    dense = tf.convert_to_tensor(tape.gradient(rows, params)).numpy()
    assert dense.tolist() == [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]
