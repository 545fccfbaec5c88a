"""Variables passed as arguments: keyed by dtype, shape, trainable and aliasing (TF 2.21), read live.

A program traced with one variable runs with another of the same type: it takes the
variable as a parameter.  Variables the function reads from its closure stay captured.
"""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf


def count(f) -> int:
    return f.experimental_get_tracing_count()


def test_assigning_a_variable_argument_assigns_the_one_passed():
    @tf.function
    def bump(v, by):
        v.assign_add(by)
        return v * 1.0

    a, b = tf.Variable([1.0, 2.0]), tf.Variable([10.0, 20.0])
    np.testing.assert_array_equal(bump(a, tf.constant([1.0, 1.0])).numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(bump(b, tf.constant([1.0, 1.0])).numpy(), [11.0, 21.0])
    np.testing.assert_array_equal(a.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(b.numpy(), [11.0, 21.0])
    assert count(bump) == 1


def test_aliasing_is_part_of_the_signature():
    # TF 2.21: h(v1, v1) assigns then reads the same variable; h(v1, v2) is another trace
    v1, v2 = tf.Variable(3.0), tf.Variable(5.0)

    @tf.function
    def h(a, b):
        a.assign_add(1.0)
        return b + 0.0

    assert float(h(v1, v1)) == 4.0
    assert float(h(v1, v2)) == 5.0 and float(v1.numpy()) == 5.0
    assert count(h) == 2
    assert float(h(v2, v2)) == 6.0 and count(h) == 2


def test_trainable_is_part_of_the_signature():
    @tf.function
    def k(v):
        return v * 2.0

    k(tf.Variable(1.0))
    k(tf.Variable(1.0, trainable=False))
    k(tf.Variable(2.0))
    assert count(k) == 2


def test_variables_in_a_list_and_reduce_retracing():
    v1, v2 = tf.Variable(1.0), tf.Variable(2.0)

    @tf.function
    def total(vs):
        return vs[0] + vs[1]

    assert float(total([v1, v2])) == 3.0
    v2.assign(7.0)
    assert float(total([v2, v1])) == 8.0 and count(total) == 1
    total([v1, v1])
    assert count(total) == 2

    @tf.function(reduce_retracing=True)
    def r(v):
        return v * 2.0

    for n in (1, 2, 3):                                  # TF 2.21: 2 traces
        np.testing.assert_array_equal(r(tf.Variable(np.ones(n, "float32"))).numpy(), np.full(n, 2.0))
    assert count(r) == 2


def test_gradient_to_the_variable_passed_inside_and_outside_the_function():
    @tf.function
    def inner(v, x):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v * v * x)
        return tape.gradient(y, v)

    @tf.function
    def loss(v, x):
        return tf.reduce_sum(v * v * x)

    x = tf.constant([1.0, 2.0])
    for value in ([1.0, 2.0], [3.0, -1.0]):
        v = tf.Variable(value)
        np.testing.assert_allclose(inner(v, x).numpy(), 2 * np.array(value) * [1.0, 2.0])
        with tf.GradientTape() as tape:                   # replayed: the tape watches this v
            y = loss(v, x)
        np.testing.assert_allclose(tape.gradient(y, v).numpy(), 2 * np.array(value) * [1.0, 2.0])
    assert count(inner) == 1 and count(loss) == 1


def test_captured_variables_and_variable_arguments_together():
    w = tf.Variable(10.0)

    @tf.function
    def f(v, x):
        w.assign_add(1.0)                                 # a captured variable, staged
        return v * x + w

    a, b = tf.Variable(2.0), tf.Variable(3.0)
    assert float(f(a, tf.constant(1.0))) == 13.0
    assert float(f(b, tf.constant(1.0))) == 15.0
    assert float(w.numpy()) == 12.0 and count(f) == 1


def test_a_decision_after_assigning_a_variable_argument():
    @tf.function
    def step(v):
        v.assign_add(1.0)
        if v > 1.5:                                       # after the staged assign: a Branch
            return v * 10.0
        return v * 1.0

    a, b = tf.Variable(0.0), tf.Variable(5.0)
    assert float(step(a)) == 1.0
    assert float(step(b)) == 60.0                         # the continuation reads b, not a
    assert float(step(a)) == 20.0
    assert float(a.numpy()) == 2.0 and float(b.numpy()) == 6.0 and count(step) == 1


def test_a_variable_argument_given_to_a_custom_gradient_function():
    @tf.custom_gradient
    def scaled(v):
        return v * 2.0, lambda dy: dy * 5.0

    @tf.function
    def f(v):
        with tf.GradientTape() as tape:
            y = scaled(v)
        return y, tape.gradient(y, v)

    for value in (1.0, 4.0):
        y, g = f(tf.Variable(value))
        assert float(y) == 2 * value and float(g) == 5.0


def test_a_captured_variable_passed_as_the_argument_of_a_later_call():
    # (As TF 2.21, a variable both captured and passed as the argument *in the trace* is one
    # parameter: the trace cannot tell the two reads apart.  Traced with another one, as
    # here, the capture stays the captured variable.)
    holder = []

    @tf.function
    def f(x):
        if not holder:
            holder.append(tf.Variable(2.0))
        return holder[0] * x

    @tf.function
    def g(v, x):
        return f(x) + v

    assert float(f(tf.constant(3.0))) == 6.0
    assert float(g(tf.Variable(1.0), tf.constant(1.0))) == 3.0
    assert float(g(holder[0], tf.constant(1.0))) == 4.0 and count(g) == 1


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_the_printed_graph_lists_variable_arguments(dtype):
    @tf.function
    def f(v):
        return v + v

    cf = f.get_concrete_function(tf.Variable(np.ones(2, dtype), name="weights"))
    assert "weights" in str(cf.graph)
    assert "var_weights" in cf.code.splitlines()[0]       # a parameter of the generated function


def test_the_program_does_not_keep_the_traced_variable_argument_alive():
    import gc
    import weakref

    @tf.function
    def f(v, x):
        v.assign_add(x)
        return v * 2.0

    v = tf.Variable(1.0)
    with tf.GradientTape() as tape:   # the replayed program as well as the compiled one
        assert float(f(v, tf.constant(1.0))) == 4.0
    assert float(f(v, tf.constant(1.0))) == 6.0
    traced = weakref.ref(v)
    del v, tape
    gc.collect()
    assert traced() is None
    w = tf.Variable(5.0)
    assert float(f(w, tf.constant(1.0))) == 12.0 and float(w) == 6.0   # the same program, another variable
    assert f.experimental_get_tracing_count() == 1
