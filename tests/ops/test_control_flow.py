"""tf.cond and tf.while_loop, eagerly (gradients through the branch taken) and in tf.function
(Python decisions on tensors become guards: the program is re-specialised when they change)."""
import numpy as np
import pytest

import tapegrad as tf


def test_cond_takes_the_branch_and_its_gradient():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.cond(x > 1.0, lambda: x * x, lambda: -x)
    assert float(y) == 9.0
    assert float(tape.gradient(y, x)) == 6.0
    with tf.GradientTape() as tape:
        y = tf.cond(x < 1.0, lambda: x * x, lambda: -x)
    assert float(y) == -3.0 and float(tape.gradient(y, x)) == -1.0


def test_cond_needs_both_callables():
    with pytest.raises(TypeError, match="true_fn and false_fn"):
        tf.cond(True, lambda: 1.0)


def test_while_loop_keeps_the_structure_and_differentiates():
    x = tf.Variable(1.5)
    with tf.GradientTape() as tape:
        i, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x),
                             (tf.constant(0), tf.constant(1.0)))
    assert int(i) == 3
    np.testing.assert_allclose(float(y), 1.5 ** 3, rtol=1e-6)
    np.testing.assert_allclose(float(tape.gradient(y, x)), 3 * 1.5 ** 2, rtol=1e-6)


def test_while_loop_maximum_iterations_and_shape_check():
    (n,) = tf.while_loop(lambda n: n < 100, lambda n: (n + 1,), [tf.constant(0)], maximum_iterations=5)
    assert int(n) == 5
    with pytest.raises(ValueError, match="shape"):
        tf.while_loop(lambda v: tf.size(v) < 3, lambda v: tf.concat([v, v], 0), [tf.ones([1])])


def test_if_on_a_tensor_in_a_function_is_a_cond_traced_once():
    traces = []

    @tf.function
    def f(x):
        traces.append(1)
        if tf.reduce_sum(x) > 0:
            return x * 2.0
        return -x

    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(f(tf.constant([-1.0, -2.0])).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(f(tf.constant([3.0, 4.0])).numpy(), [6.0, 8.0])
    assert f.experimental_get_tracing_count() == 1   # one trace in TF's sense (same signature)
    assert len(traces) == 1                          # the Python ran once: both branches traced in it
    assert "cond" in str(f.get_concrete_function(tf.constant([1.0, 2.0])).graph)


def test_for_over_tf_range_and_while_loop_in_a_function():
    @tf.function
    def total(n):
        s = tf.constant(0)
        for i in tf.range(n):
            s += i
        return s

    assert int(total(tf.constant(5))) == 10 and int(total(tf.constant(3))) == 3

    @tf.function
    def doubling(v):
        return tf.while_loop(lambda v: tf.reduce_sum(v) < 10.0, lambda v: v * 2.0, [v])[0]

    np.testing.assert_array_equal(doubling(tf.constant([1.0, 1.0])).numpy(), [8.0, 8.0])
    np.testing.assert_array_equal(doubling(tf.constant([3.0, 3.0])).numpy(), [6.0, 6.0])


def test_decision_after_a_stateful_call_follows_the_new_value():
    v = tf.Variable(0.0)

    @tf.function
    def step():
        v.assign_add(1.0)
        if v > 1.5:
            return tf.constant(1.0)
        return tf.constant(0.0)

    # v = 1, then 2, 3: the decision changes after the assign ran (TF 2.21: 0, 1, 1; one trace)
    assert [float(step()) for _ in range(3)] == [0.0, 1.0, 1.0]
    assert float(v.numpy()) == 3.0 and step.experimental_get_tracing_count() == 1


def test_autograph_false_keeps_tensorflows_error():
    @tf.function(autograph=False)
    def f(x):
        return x if x > 0 else -x

    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        f(tf.constant(1.0))


def test_iterating_a_dataset_inside_a_function_runs_it_eagerly():
    ds = tf.data.Dataset.from_tensor_slices([1.0, 2.0, 3.0])

    @tf.function
    def total(d):
        s = tf.constant(0.0)
        for x in d:
            s += x
        return s

    assert float(total(ds)) == 6.0 and float(total(ds)) == 6.0
