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


# -- the per-element report -----------------------------------------------------------------

def _report(f, inputs, **kwargs) -> str:
    with pytest.raises(AssertionError) as failure:
        tf.test.check_gradients(f, inputs, **kwargs)
    return str(failure.value)


def test_the_report_lists_the_elements_that_disagree_with_both_values():
    @tf.custom_gradient
    def square(x):
        return x * x, lambda dy: dy * x

    report = _report(square, [[[1.0, -2.0], [3.0, 0.5]]], order=1, modes=("rev",))
    lines = report.splitlines()
    assert lines[2] == "    4 of 4 elements disagree (d<u, f>/dx_i, u the random output cotangent):"
    elements = [re.match(r"    element \[(\d), (\d)\]: analytic ([-.\de]+), numeric ([-.\de]+), "
                         r"relative error 0\.5$", line) for line in lines[3:7]]
    assert all(elements) and {m.group(1, 2) for m in elements} == {("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")}
    for m in elements:
        assert float(m.group(3)) == pytest.approx(float(m.group(4)) / 2, rel=1e-5)
    assert lines[7] == ("    hint: analytic = 0.5 x numeric at every element: a constant factor is wrong or "
                        "missing in the gradient")


def test_the_hint_for_a_flipped_sign():
    @tf.custom_gradient
    def negate(x):
        return -x, lambda dy: dy

    assert "hint: analytic = -numeric at every element: the gradient's sign is flipped" in \
        _report(negate, [[1.0, 2.0]], order=1, modes=("fwd",))


def test_the_hint_for_a_missing_mask_names_only_the_wrong_elements():
    @tf.custom_gradient
    def relu(x):
        return tf.nn.relu(x), lambda dy: dy   # forgets relu's mask

    report = _report(relu, [[1.0, -2.0, 3.0, -0.5]], order=1, modes=("rev",))
    assert "2 of 4 elements disagree" in report
    assert "element [1]: analytic" in report and "element [3]: analytic" in report
    assert "element [0]" not in report and "element [2]" not in report
    assert "hint: the function is flat at these elements but the rule passes a gradient: a missing mask" in report


def test_a_large_input_is_localised_on_its_first_elements():
    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda dy: dy

    report = _report(double, [np.ones(1500)], order=1, modes=("rev",))
    assert "1000 of 1500 elements checked; 1000 of 1000 elements disagree" in report
    assert report.count("    element [") == 5


def test_a_tf_function_is_checked_compiled_against_its_tape():
    # the numeric side calls the compiled program; the analytic side runs it under the tape
    @tf.function
    def f(x, y):
        return tf.reduce_sum(tf.tanh(tf.matmul(x, y)), axis=0)

    tf.test.check_gradients(f, [np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0.5, 1, 3).reshape(3, 1)])
