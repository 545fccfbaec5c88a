"""tf.custom_gradient inside tf.function: compiled forward and gradients equal eager ones."""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf


def count(f) -> int:
    return f.experimental_get_tracing_count()


def assert_same(compiled, eager):
    """Nests of tensors (or None) equal to 1e-6; a tensor may be given as a list of numbers."""
    if isinstance(compiled, (list, tuple)):
        assert isinstance(eager, (list, tuple)) and len(compiled) == len(eager)
        for c, e in zip(compiled, eager):
            assert_same(c, e)
    elif eager is None:
        assert compiled is None
    else:
        np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), rtol=1e-6, atol=1e-6)


@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)
    return tf.math.log(1 + e), lambda dy: dy * (1 - 1 / (1 + e))


@tf.custom_gradient
def clip_gradients(y):
    return y, lambda dy: tf.clip_by_norm(dy, 0.5)


@tf.custom_gradient
def triple_grad(x):
    """x * x forward, a deliberately different gradient (3x instead of 2x): tells them apart."""
    return x * x, lambda dy: dy * 3.0 * x


def test_forward_runs_in_the_compiled_program_on_every_call():
    @tf.function
    def f(x):
        return log1pexp(x) * 2.0

    for value in ([1.0, -2.0], [0.5, 3.0]):
        x = tf.constant(value)
        assert_same(f(x), f.python_function(x))
    assert count(f) == 1


def test_tape_inside_the_function_uses_grad_fn():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = log1pexp(x)
        return y, tape.gradient(y, x)

    x = tf.constant([1.0, 100.0])
    y, dx = f(x)
    assert_same(dx, [0.7310586, 1.0])               # the stable gradient: 1.0 at x=100, no NaN
    assert_same((y, dx), f.python_function(x))
    assert_same(f(tf.constant([-1.0, 2.0])), f.python_function(tf.constant([-1.0, 2.0])))
    assert count(f) == 1


def test_clip_gradients_example_compiled():
    @tf.function
    def f(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            out = clip_gradients(v * v)
        return tape.gradient(out, v)

    assert float(f(tf.constant(2.0))) == pytest.approx(2.0)   # the 0.5-clipped dy, times 2v
    assert_same(f(tf.constant(3.0)), f.python_function(tf.constant(3.0)))


def test_variables_form_inside_the_function():
    w = tf.Variable([2.0, -1.0])

    @tf.custom_gradient
    def scaled(x):
        def grad_fn(dy, variables=None):
            return dy * w * 2.0, [dy * x * 10.0]      # not the true gradients: grad_fn's are used
        return x * w, grad_fn

    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(scaled(x))
        return y, tape.gradient(y, [x, w])

    x = tf.constant([1.0, 3.0])
    out = f(x)
    assert_same(out, (tf.constant(-1.0), [tf.constant([4.0, -2.0]), tf.constant([10.0, 30.0])]))
    assert_same(out, f.python_function(x))
    w.assign([1.0, 1.0])                                # read live by the compiled program
    assert_same(f(x), f.python_function(x))
    assert count(f) == 1


def test_a_tape_outside_the_function_uses_grad_fn():
    @tf.function
    def f(x):
        return tf.reduce_sum(triple_grad(x) + x)

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert_same(tape.gradient(y, x), [4.0, 7.0])        # 3x + 1, not 2x + 1
    assert float(y) == pytest.approx(8.0) and count(f) == 1


def test_second_order_through_a_gradient_taken_inside_the_function():
    @tf.custom_gradient
    def cube(x):
        x2 = x * x                                       # grad_fn closes over a forward value
        return x2 * x, lambda dy: dy * 3.0 * x2

    def inner(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = cube(x)
        return tape.gradient(y, x)

    def outer_grad(fn, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            g = fn(x)
        return g, tape.gradient(g, x)

    f = tf.function(inner)
    x = tf.constant([1.0, -2.0])
    assert_same(outer_grad(f, x), outer_grad(inner, x))
    assert count(f) == 1


def test_a_function_with_a_custom_gradient_called_inside_another_function():
    @tf.function
    def inner(x):
        return triple_grad(x)

    @tf.function
    def outer(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(inner(x))
        return tape.gradient(y, x)

    x = tf.constant([1.0, 2.0])
    assert_same(outer(x), [3.0, 6.0])
    assert_same(outer(tf.constant([4.0, 5.0])), [12.0, 15.0])
    assert count(inner) == 1 and count(outer) == 1


def test_keyword_tensors_and_python_arguments_are_not_differentiated():
    @tf.custom_gradient
    def shifted(x, *, shift):
        return x + shift, lambda dy: dy * 5.0

    @tf.function
    def f(x, s):
        return tf.reduce_sum(shifted(x, shift=s) * 2.0)

    x, s = tf.constant([1.0, 2.0]), tf.constant(3.0)
    assert float(f(x, s)) == pytest.approx(18.0)
    with tf.GradientTape() as tape:
        tape.watch([x, s])
        y = f(x, s)
    dx, ds = tape.gradient(y, [x, s])
    assert_same(dx, [10.0, 10.0])
    assert ds is None
    assert float(f(x, tf.constant(0.0))) == pytest.approx(6.0) and count(f) == 1


def test_a_decision_inside_the_custom_gradient_function():
    @tf.custom_gradient
    def soft_abs(x):
        y = tf.cond(x > 0, lambda: x, lambda: -x)
        return y, lambda dy: tf.cond(x > 0, lambda: dy, lambda: -dy)

    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = soft_abs(x)
        return y, tape.gradient(y, x)

    assert_same(f(tf.constant(2.0)), (2.0, 1.0))
    assert_same(f(tf.constant(-3.0)), (3.0, -1.0))
    assert count(f) == 1


def test_a_python_if_returning_grad_fns_is_tensorflows_error():
    # as in TF: a custom_gradient function runs as it is (AutoGraph does not convert it), so a Python
    # `if` on a traced tensor cannot choose between two grad_fns
    @tf.custom_gradient
    def soft_abs(x):
        if x > 0:
            return x, lambda dy: dy
        return -x, lambda dy: -dy

    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError, match="as a Python `bool` is not allowed"):
        tf.function(soft_abs)(tf.constant(2.0))


def test_nested_custom_gradients_compile():
    @tf.custom_gradient
    def outer_fn(x):
        return log1pexp(x) * 2.0, lambda dy: dy * 7.0

    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = outer_fn(x)
        return y, tape.gradient(y, x)

    x = tf.constant([0.5, -1.0])
    assert_same(f(x), f.python_function(x))
    assert_same(f(x)[1], [7.0, 7.0])
    with tf.GradientTape() as tape:                      # replayed: grad_fn of the outer one
        tape.watch(x)
        y = tf.reduce_sum(f(x)[0])
    assert_same(tape.gradient(y, x), [7.0, 7.0])


def test_forward_mode_through_a_custom_gradient_inside_a_function():
    @tf.function
    def f(x):
        with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
            y = triple_grad(x)
        return acc.jvp(y)

    x = tf.constant([1.0, 2.0])
    assert_same(f(x), f.python_function(x))
