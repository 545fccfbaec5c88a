"""Reductions at the edges of the number line, eagerly and compiled, as TensorFlow gives them."""
import warnings

import numpy as np
import pytest

import tapegrad as tf

INF = np.inf


def both(fn):
    """fn eagerly and as a compiled tf.function."""
    return [fn, tf.function(fn, autograph=False)]


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_reduce_logsumexp_of_infinities_is_tensorflows(mode):
    fn = both(lambda x: tf.reduce_logsumexp(x, axis=-1))[mode == "compiled"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # log(0) and exp(inf) are silent, as in TF
        assert float(fn(tf.constant([-INF, -INF]))) == -INF
        assert float(fn(tf.constant([INF, 0.0]))) == INF
        rows = fn(tf.constant([[-INF, -INF], [0.0, 0.0], [1.0, 2.0]])).numpy()
    np.testing.assert_allclose(rows, [-INF, np.log(2.0), np.log(np.exp(1.0) + np.exp(2.0))], rtol=1e-6)


def test_reduce_logsumexp_gradient_is_the_softmax_and_ignores_minus_infinity():
    x = tf.Variable([1.0, 2.0, -INF])
    with tf.GradientTape() as tape:
        y = tf.reduce_logsumexp(x)
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [*(e / e.sum()), 0.0], rtol=1e-6)


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_log_sqrt_rsqrt_exp_edges_are_silent_compiled_as_eagerly(mode):
    fn = both(lambda x: (tf.math.log(x * 1.0), tf.sqrt(x * 1.0), tf.math.rsqrt(x * 1.0), tf.exp(x * 1e3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log, sqrt, rsqrt, exp = (t.numpy() for t in fn[mode == "compiled"](tf.constant([-1.0, 0.0, 1.0])))
    np.testing.assert_array_equal(log, [np.nan, -INF, 0.0])
    np.testing.assert_array_equal(sqrt, [np.nan, 0.0, 1.0])
    np.testing.assert_array_equal(rsqrt, [np.nan, INF, 1.0])
    np.testing.assert_array_equal(exp, [0.0, 1.0, INF])
