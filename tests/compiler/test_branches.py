"""Decisions after staged calls: a cond whose branches run after the program's earlier updates."""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's warning for log(0)


@pytest.fixture
def checking():
    tf.debugging.enable_check_numerics()
    yield
    tf.debugging.disable_check_numerics()


def stepper():
    """A step whose decision follows an assign: a cond after a staged call, both branches compiled."""
    v = tf.Variable(0.0)

    @tf.function
    def step(x):
        v.assign_add(1.0)
        if v > 1.5:
            return tf.math.log(x)                 # -Inf at 0: only checking tells
        return x * 2.0
    return step


def test_a_branch_compiled_unchecked_runs_checked_when_checking_is_on():
    step = stepper()
    x = tf.constant([1.0, 0.0])
    np.testing.assert_array_equal(step(x).numpy(), [2.0, 0.0])       # v = 1: the false branch
    assert np.isneginf(step(x).numpy()[1])                           # v = 2: the true branch
    tf.debugging.enable_check_numerics()
    try:
        with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
            step(x)                                                  # v = 3: the checking variant
    finally:
        tf.debugging.disable_check_numerics()
    assert np.isneginf(step(x).numpy()[1])                           # unchecked again
    assert step.experimental_get_tracing_count() == 1


def test_the_other_branch_met_while_checking_is_checked(checking):
    step = stepper()
    x = tf.constant([1.0, 0.0])
    np.testing.assert_array_equal(step(x).numpy(), [2.0, 0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
        step(x)                                                      # the true branch, checked
    np.testing.assert_allclose(step(tf.constant([1.0, 2.0])).numpy(), [0.0, np.log(2.0)])


def test_the_first_branch_taken_is_checked(checking):
    v = tf.Variable(5.0)

    @tf.function
    def step(x):
        v.assign_add(1.0)
        if v > 1.5:                               # a cond reading v after the assignment
            return tf.math.log(x)
        return x

    np.testing.assert_allclose(step(tf.constant([1.0])).numpy(), [0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
        step(tf.constant([0.0]))


def test_a_call_under_a_tape_interprets_the_one_trace_for_either_outcome():
    """Under a tape each call is interpreted: the cond's branch is chosen per call, never re-traced."""
    runs = []

    @tf.function
    def f(x):
        runs.append(1)
        if x > 0:
            return x * x
        return -3.0 * x

    for step in range(20):
        x = tf.constant(1.5 if step % 2 else -2.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        grad = tape.gradient(y, x)
        if step % 2:
            assert float(y) == 2.25 and float(grad) == 3.0
        else:
            assert float(y) == 6.0 and float(grad) == -3.0
    assert len(runs) == 1 and f.experimental_get_tracing_count() == 1
