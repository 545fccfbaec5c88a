"""tf.test.check_gradients: silent on right derivatives, a readable AssertionError on wrong ones."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tapegrad as tf
import tapegrad.test  # makes tf.test.check_gradients available


def test_passes_on_correct_functions_and_returns_none():
    assert tf.test.check_gradients(lambda x, y: tf.sin(x) * y + tf.exp(y), [[0.5, 1.0], 2.0]) is None
    tf.test.check_gradients(lambda a, b: tf.reduce_sum(tf.matmul(a, b) ** 2, axis=1),
                            [np.ones((2, 3)) * 0.3, np.arange(12.0).reshape(3, 4) / 10])


def test_nested_outputs_and_integer_inputs():
    def f(params, indices):
        rows = tf.gather(params, indices)  # an IndexedSlices gradient, densified for the check
        return {"rows": tf.tanh(rows), "total": (tf.reduce_sum(rows * rows),)}

    tf.test.check_gradients(f, [np.linspace(-1, 1, 12).reshape(4, 3), np.array([0, 3, 3])])


def test_float32_inputs_are_checked_in_float64():
    seen = []

    def f(x):
        seen.append(x.dtype)
        return x * x

    tf.test.check_gradients(f, tf.constant([1.0, 2.0]), order=1)
    assert set(seen) == {tf.float64}


def test_correct_custom_gradient_passes():
    @tf.custom_gradient
    def log1pexp(x):
        # grad_fn works from x, not from values computed inside log1pexp: those are constants to an
        # outer tape (as in TF), and the second-order check would catch it
        return tf.math.log(1 + tf.exp(x)), lambda dy: dy * tf.sigmoid(x)

    tf.test.check_gradients(log1pexp, [[-1.0, 0.0, 2.0]], modes=("rev",))


def test_wrong_custom_gradient_fails_with_a_readable_report():
    @tf.custom_gradient
    def square(x):
        return x * x, lambda dy: dy * x  # forgot the factor 2

    with pytest.raises(AssertionError) as failure:
        tf.test.check_gradients(square, [[1.0, -2.0, 3.0]], modes=("rev",))
    report = str(failure.value)
    assert report.startswith("check_gradients: 1 mismatch at order 1\n")
    assert "reverse mode (GradientTape.gradient), input #0 float64[3]" in report
    numbers = re.findall(r"(?:analytic <J\^T u, v>|numeric) = ([-+.\de]+)", report)
    analytic, numeric = (float(v) for v in numbers)
    assert analytic == pytest.approx(numeric / 2, rel=1e-6)  # the factor 2 the rule forgot
    assert "relative error 0.5 " in report


def test_the_report_names_the_wrong_input():
    @tf.custom_gradient
    def scaled(x, y):
        return x * y, lambda dy: (dy * y, dy * y)  # y's gradient should be dy * x

    with pytest.raises(AssertionError, match=r"input #1 float64\[\]") as failure:
        tf.test.check_gradients(scaled, [2.0, 3.0], order=1, modes=("rev",))
    assert "input #0" not in str(failure.value)


def test_a_gradient_that_is_not_differentiable_again_fails_at_order_two():
    @tf.custom_gradient
    def square(x):
        # right first derivative, but computed in NumPy: an outer tape cannot see it
        return x * x, lambda dy: dy * tf.constant(2 * x.numpy())

    tf.test.check_gradients(square, [[1.0, 2.0]], order=1, modes=("rev",))
    with pytest.raises(AssertionError, match=r"1 mismatch at order 2 .*\n.*input #0 float64\[2\].*"
                                             r"nothing reached this input"):
        tf.test.check_gradients(square, [[1.0, 2.0]], order=2, modes=("rev",))


def test_forward_mode_checks_jvps():
    tf.test.check_gradients(lambda x: tf.reduce_prod(tf.sqrt(x), axis=0), [[[0.5, 1.0], [2.0, 3.0]]],
                            modes=("fwd",))


def test_forward_mode_through_a_custom_gradient():
    # forward mode derives the tangent from grad_fn by transposing it (TF's "double vjp")
    @tf.custom_gradient
    def square(x):
        return x * x, lambda dy: 2 * dy * x

    tf.test.check_gradients(square, [[1.0, 2.0]], order=1, modes=("fwd",))


@pytest.mark.parametrize("kwargs, message", [
    ({"modes": ("reverse",)}, "modes must be"),
    ({"modes": ()}, "modes must be"),
    ({"order": 0}, "order must be at least 1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tf.test.check_gradients(tf.sin, [1.0], **kwargs)


def test_a_function_without_floating_output_is_an_error():
    with pytest.raises(ValueError, match="no floating-point output"):
        tf.test.check_gradients(lambda x: tf.argmax(x), [[1.0, 2.0]])
