"""Programs that end in a Branch (a decision after a staged call) and their continuations."""
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
    """A step whose decision follows an assign: each outcome continues in its own program."""
    v = tf.Variable(0.0)

    @tf.function
    def step(x):
        v.assign_add(1.0)
        if v > 1.5:
            return tf.math.log(x)                 # -Inf at 0: only checking tells
        return x * 2.0
    return step


def test_a_continuation_compiled_unchecked_runs_checked_when_checking_is_on():
    step = stepper()
    x = tf.constant([1.0, 0.0])
    np.testing.assert_array_equal(step(x).numpy(), [2.0, 0.0])       # v = 1: the traced outcome
    assert np.isneginf(step(x).numpy()[1])                           # v = 2: a new continuation
    tf.debugging.enable_check_numerics()
    try:
        with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
            step(x)                                                  # v = 3: the kept continuation
    finally:
        tf.debugging.disable_check_numerics()
    assert np.isneginf(step(x).numpy()[1])                           # unchecked again
    assert step.experimental_get_tracing_count() == 1


def test_a_new_outcome_met_while_checking_is_checked(checking):
    step = stepper()
    x = tf.constant([1.0, 0.0])
    np.testing.assert_array_equal(step(x).numpy(), [2.0, 0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
        step(x)                                                      # traced now, run checked
    np.testing.assert_allclose(step(tf.constant([1.0, 2.0])).numpy(), [0.0, np.log(2.0)])


def test_the_traced_outcome_of_a_branch_is_checked(checking):
    v = tf.Variable(5.0)

    @tf.function
    def step(x):
        v.assign_add(1.0)
        if v > 1.5:                               # traced with True: the Branch's first case
            return tf.math.log(x)
        return x

    np.testing.assert_allclose(step(tf.constant([1.0])).numpy(), [0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
        step(tf.constant([0.0]))


def test_a_replayed_call_reuses_the_program_of_its_path():
    """Under a tape each call replays; a decision that differs from the newest program's picks
    the program already made for that path instead of running the Python function again."""
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
    (programs,) = f._by_exact.values()
    assert len(programs) == 2 and len(runs) == 2   # one trace, one specialisation
