"""Gradients through compiled control flow, against float64 central differences.

Each case's gradient is taken *inside* a tf.function (a GradientTape over a cond, a while_loop, a
TensorArray, map_fn, scan...), so the backward pass is compiled with the forward; second order
nests two tapes in the function.  The references are central differences of the same
computation run eagerly.
"""
import numpy as np
import pytest

import tapegrad as tf

EPS = 1e-6


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    """d sum(f(x)) / dx by central differences, f run eagerly on float64."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = EPS
        grad[i] = (float(tf.reduce_sum(f(tf.constant(x + e))))
                   - float(tf.reduce_sum(f(tf.constant(x - e))))) / (2 * EPS)
    return grad


def compiled_gradient(f):
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(f(x))
        return tape.gradient(y, x)
    return grad


def compiled_second(f, v):
    """d/dx <d sum(f)/dx, v>: a Hessian-vector product, both orders inside the function."""
    @tf.function
    def hvp(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(f(x))
            g = inner.gradient(y, x)
            s = tf.reduce_sum(g * v)
        return outer.gradient(s, x)
    return hvp


def _cond(x):
    return tf.cond(tf.reduce_sum(x) > 0.0, lambda: tf.sin(x) * x, lambda: tf.exp(x) * 0.5)


def _while(n):
    def f(x):
        _, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, tf.sin(y) * x + 0.1 * y), [0, x])
        return y
    return f


def _while_captures_and_counter(x):
    w = x * 0.5                                   # captured by the loop
    _, y, acc = tf.while_loop(lambda i, y, a: i < 4, lambda i, y, a: (i + 1, tf.tanh(y * w), a + y),
                              [0, x, x * 0.0])
    return y + acc


def _nested(x):
    def body(i, y):
        return i + 1, tf.cond(tf.reduce_sum(y) > 0.0, lambda: y * x, lambda: y - x)
    return tf.while_loop(lambda i, y: i < 3, body, [0, x])[1]


def _tensor_array(x):
    ta = tf.TensorArray(x.dtype, size=3)

    def body(i, h, ta):
        h = tf.tanh(h * x + 0.3)
        return i + 1, h, ta.write(i, h)
    _, _, ta = tf.while_loop(lambda i, h, ta: i < 3, body, [0, x, ta])
    return ta.stack() * 2.0


def _map_fn(x):
    return tf.map_fn(lambda r: tf.sin(r) * r, tf.reshape(x, (2, -1)))


def _scan(x):
    return tf.scan(lambda a, r: a * r + tf.sin(r), tf.reshape(x, (2, -1)))


def _foldl(x):
    return tf.foldl(lambda a, r: a * r + 1.0, tf.reshape(x, (4, -1)), initializer=tf.ones_like(x[:1]))


def _switch(x):
    index = tf.cast(tf.reduce_sum(x) > 0.0, tf.int32)
    return tf.switch_case(index, [lambda: x * x, lambda: tf.cos(x)])


CASES = {
    "cond": _cond, "while_0": _while(0), "while_1": _while(1), "while_5": _while(5),
    "while_captures": _while_captures_and_counter, "cond_in_while": _nested, "tensor_array": _tensor_array,
    "map_fn": _map_fn, "scan": _scan, "foldl": _foldl, "switch_case": _switch,
}
POINTS = [np.array([0.3, -0.7, 0.5, 0.9]), np.array([-0.4, -0.6, 0.2, -0.8])]


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_gradient_matches_central_differences(name):
    f = CASES[name]
    grad = compiled_gradient(f)
    for x in POINTS:                              # both outcomes of a decision, one trace
        np.testing.assert_allclose(grad(tf.constant(x)).numpy(), numeric_gradient(f, x), rtol=1e-5, atol=1e-7)
    assert grad.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_second_order_matches_central_differences(name):
    f = CASES[name]
    v = np.array([0.2, -0.1, 0.3, 0.4])
    hvp = compiled_second(f, tf.constant(v))
    first = compiled_gradient(f)
    for x in POINTS:
        numeric = np.array([(float(tf.reduce_sum(first(tf.constant(x + e)) * v)) -
                             float(tf.reduce_sum(first(tf.constant(x - e)) * v))) / (2 * EPS)
                            for e in np.eye(4) * EPS])
        np.testing.assert_allclose(hvp(tf.constant(x)).numpy(), numeric, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_compiled_function_interpreted_under_an_outer_tape_gives_the_same_gradient(name):
    f = CASES[name]
    compiled = tf.function(f)
    for x in POINTS:
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(compiled(x))
        np.testing.assert_allclose(tape.gradient(y, x).numpy(), numeric_gradient(f, x.numpy()), rtol=1e-5,
                                   atol=1e-7)


def test_a_loop_with_300_trip_counts_is_traced_once():
    @tf.function
    def f(x, n):
        return tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * 0.5 + 1.0), [0, x])[1]

    for n in range(300):
        assert float(f(tf.constant(0.0), tf.constant(n))) == pytest.approx(2 - 2 * 0.5 ** n)
    assert f.experimental_get_tracing_count() == 1
