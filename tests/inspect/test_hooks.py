"""Gradient hooks: seen and replaced during backward, eagerly and inside a tf.function."""
import sys

import numpy as np
import pytest

import tapegrad as tf


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_a_hook_sees_the_complete_gradient_of_an_intermediate():
    x = tf.constant([1.0, -2.0])
    seen = []
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x * 3.0
        tf.inspect.on_gradient(h, lambda g: seen.append(g.numpy()))
        y = tf.reduce_sum(h * h) + tf.reduce_sum(h)       # two uses: the hook sees their sum
    close(tape.gradient(y, x), 3.0 * (2 * 3.0 * np.array([1.0, -2.0]) + 1))
    assert len(seen) == 1
    close(seen[0], 2 * 3.0 * np.array([1.0, -2.0]) + 1)


def test_a_hook_can_replace_the_gradient_and_hooks_chain():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = tf.exp(x)
        tape.on_gradient(h, lambda g: g * 2.0)
        tape.on_gradient(h, lambda g: g + 1.0)             # runs after the first, on its result
        y = tf.reduce_sum(h)
    close(tape.gradient(y, x), (1.0 * 2.0 + 1.0) * np.exp([1.0, 2.0]))


def test_hooks_on_sources_variables_and_removal():
    w = tf.Variable([1.0, 2.0])
    calls = []
    with tf.GradientTape(persistent=True) as tape:
        handle = tf.inspect.on_gradient(w, lambda g: calls.append("w") or g * 0.0)
        y = tf.reduce_sum(w * w)
    close(tape.gradient(y, w), [0.0, 0.0])                # the hook on the variable zeroed it
    handle.remove()
    close(tape.gradient(y, w), [2.0, 4.0])
    assert calls == ["w"]


def test_gradient_clipping_per_tensor_with_a_hook():
    x = tf.constant([3.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x * 10.0
        tape.on_gradient(h, lambda g: tf.clip_by_norm(g, 1.0))
        y = tf.reduce_sum(h * h)
    close(tape.gradient(y, x), 10.0 * np.array([0.6, 0.8]))


def test_errors_name_what_is_wrong():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="no GradientTape is recording"):
        tf.inspect.on_gradient(x, print)
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError, match="no active GradientTape recorded it"):
            tf.inspect.on_gradient(x, print)
        tape.watch(x)
        h = x * 2.0
        tape.on_gradient(h, lambda g: tf.ones([3]))
        y = tf.reduce_sum(h)
    with pytest.raises(ValueError, match=r"returned shape \(3,\) for a gradient of shape \(2,\)"):
        tape.gradient(y, x)


def test_hooks_under_tf_function_run_every_call(capfd):
    w = tf.Variable([1.0, -1.0])
    norms = []

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            h = w * x
            tape.on_gradient(h, lambda g: norms.append(float(tf.norm(g))))
            tape.on_gradient(h, lambda g: g * 0.5)
            tf.print("step", output_stream=sys.stdout)
            loss = tf.reduce_sum(h * h)
        return tape.gradient(loss, w)

    for k in range(3):
        x = tf.constant([1.0, 2.0]) * (k + 1)
        g = step(x)
        h = np.array([1.0, -1.0]) * x.numpy()
        close(g, 0.5 * 2 * h * x.numpy())                  # the halving hook ran in the compiled program
    assert len(norms) == 3                                 # once per call, with that call's gradient
    close(norms, [np.linalg.norm(2 * np.array([1.0, -1.0]) * np.array([1.0, 2.0]) * (k + 1))
                  for k in range(3)])
    assert step.experimental_get_tracing_count() == 1
    assert capfd.readouterr().out == "step\n" * 3
