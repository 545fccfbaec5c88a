"""tf.debugging.enable_check_numerics and check_numerics, eagerly and under tf.function."""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.core.op import state

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's warnings for log(0), 1/0


@pytest.fixture
def checking():
    tf.debugging.enable_check_numerics()
    yield
    tf.debugging.disable_check_numerics()


def _line(fn, offset: int) -> str:
    return f"test_check_numerics.py:{fn.__code__.co_firstlineno + offset}"


def test_eager_forward_names_the_op_its_inputs_and_the_line(checking):
    def f(x):
        y = x * 2.0
        return tf.math.log(y - 2.0)
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        f(tf.constant([1.0, 3.0, 0.5]))
    assert str(e.value) == (
        "check_numerics: log made 1 NaN, 1 -Inf (of 3 elements) in its output float32[3]\n"
        f"  at {__file__}:{f.__code__.co_firstlineno + 2} (in f)\n"
        "  input #0: float32[3], min -1, max 4, all finite")


def test_an_input_that_already_had_nan_is_said_so(checking):
    x = tf.constant([1.0, np.nan, np.inf])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input #0: float32\[3\], min 1, max 1, "
                                                             r"already had 1 NaN, 1 \+Inf"):
        tf.abs(x)


def test_backward_names_the_op_whose_gradient_it_computed(checking):
    x = tf.constant([1.0, 0.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.sqrt(x))     # finite forward: sqrt(0) = 0
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        tape.gradient(y, x)               # d sqrt = 0.5 / sqrt(x): +Inf at 0
    text = str(e.value)
    assert text.startswith("check_numerics: divide made 1 +Inf (of 3 elements) in its output float32[3]\n"
                           "  while computing the gradient of sqrt (for its input #0), recorded at ")
    assert "test_check_numerics.py" in text.splitlines()[1]


def test_off_by_default_and_off_again_after_disable():
    assert state.numerics is None and not state.active
    assert np.isinf(tf.math.log(tf.constant(0.0)).numpy())
    tf.debugging.enable_check_numerics()
    try:
        assert state.active
        with pytest.raises(tf.errors.InvalidArgumentError):
            tf.math.log(tf.constant(0.0))
    finally:
        tf.debugging.disable_check_numerics()
    assert state.numerics is None and not state.active
    assert np.isinf(tf.math.log(tf.constant(0.0)).numpy())


def test_tapes_still_record_while_checking(checking):
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 6.0
    assert state.active and not state.tapes


def test_custom_gradient_functions_are_checked_though_they_run_off_the_tape(checking):
    @tf.custom_gradient
    def f(x):
        return tf.math.log(x), lambda dy: dy / x
    with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
        f(tf.constant([0.0, 1.0]))


def test_compiled_function_checks_without_retracing():
    @tf.function
    def f(x):
        return tf.reduce_sum(tf.math.log(x) * 2.0)

    assert float(f(tf.constant([1.0, 1.0]))) == 0.0
    assert np.isneginf(f(tf.constant([0.0, 1.0])).numpy())        # checking is off
    tf.debugging.enable_check_numerics()
    try:
        assert float(f(tf.constant([1.0, 1.0]))) == 0.0
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            f(tf.constant([0.0, 1.0]))
    finally:
        tf.debugging.disable_check_numerics()
    assert f.experimental_get_tracing_count() == 1
    assert str(e.value) == (
        "check_numerics: log made 1 -Inf (of 2 elements) in its output float32[2]\n"
        f"  at {__file__}:{f.python_function.__code__.co_firstlineno + 2} (in f), in tf.function f\n"
        "  input #0 x: float32[2], min 0, max 1, all finite")
    # the traceback goes through the generated line of the check
    assert any(tb.tb_frame.f_code.co_filename.startswith("<tf.function f")
               for tb in _frames(e.value.__traceback__))
    assert np.isneginf(f(tf.constant([0.0, 1.0])).numpy())        # off again: the plain program


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_compiled_gradient_traced_while_checking_names_whose_gradient(checking):
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.sqrt(x))
        return tape.gradient(y, x)

    np.testing.assert_allclose(grad(tf.constant([1.0, 4.0])).numpy(), [0.5, 0.25])
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        grad(tf.constant([1.0, 0.0]))                     # same signature: the compiled program
    assert grad.experimental_get_tracing_count() == 1
    lines = str(e.value).splitlines()
    assert lines[0] == "check_numerics: divide made 1 +Inf (of 2 elements) in its output float32[2]"
    assert lines[1].startswith("  while computing the gradient of sqrt (for its input #0), recorded at ")
    assert lines[2].endswith(f"{_line(grad.python_function, 5)} (in grad), in tf.function grad")


def test_a_nan_in_the_first_call_is_reported_at_the_users_line(checking):
    @tf.function
    def f(x):
        return tf.math.log(x)
    # tracing sees no values: the first call's compiled program finds it, naming the line and function
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"log made 1 -Inf .*\n  at .*\(in f\), in tf.function f\n"):
        f(tf.constant([0.0, 1.0]))


def test_staged_calls_inside_a_compiled_function_are_checked(checking):
    v = tf.Variable([1.0, 2.0])

    @tf.function
    def step(delta):
        v.assign_add(delta)
        return tf.reduce_sum(v)
    step(tf.constant([1.0, 1.0]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        step(tf.constant([np.inf, 0.0]) * tf.constant([0.0, 1.0]))   # NaN made eagerly, outside
    assert step.experimental_get_tracing_count() == 1


# -- the check_numerics op ------------------------------------------------------------------

def test_check_numerics_passes_finite_tensors_and_their_gradient():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.debugging.check_numerics(x * x, "square")
    np.testing.assert_array_equal(y.numpy(), [1.0, 4.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 4.0])


def test_check_numerics_raises_with_the_message_and_line():
    def f():
        return tf.debugging.check_numerics(tf.constant([np.nan, np.inf]), "bad activations")
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        f()
    assert "bad activations : Tensor had +Inf and NaN values" in str(e.value)
    assert f"{__file__}:{f.__code__.co_firstlineno + 1}" in str(e.value)
    with pytest.raises(tf.errors.InvalidArgumentError, match="loss : Tensor had NaN values"):
        tf.debugging.assert_all_finite(tf.constant(np.nan), "loss")
    with pytest.raises(TypeError, match="floating-point"):
        tf.debugging.check_numerics(tf.constant([1, 2]), "ints")


def test_check_numerics_checks_the_gradient_too():
    x = tf.constant([0.0, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.sqrt(tf.debugging.check_numerics(x, "x")))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x \(in its gradient\) : Tensor had \+Inf"):
        tape.gradient(y, x)


def test_check_numerics_under_tf_function_runs_every_call_even_when_unused():
    @tf.function
    def f(x):
        tf.debugging.check_numerics(x, "input")       # result unused: still checked
        return x * 2.0
    assert float(f(tf.constant(1.0))) == 2.0
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input : Tensor had NaN values \(in tf\.function f\)"):
        f(tf.constant(np.nan))
    assert f.experimental_get_tracing_count() == 1
    assert "check_numerics" in str(f.get_concrete_function(tf.constant(1.0)).graph)


def test_a_program_with_a_cond_runs_plain_and_checked():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:      # a cond in the program, its branches checked too
            return tf.math.log(x)
        return -x
    np.testing.assert_allclose(f(tf.constant([1.0, 2.0])).numpy(), np.log([1.0, 2.0]))
    assert np.isneginf(f(tf.constant([0.0, 2.0])).numpy()[0])
    tf.debugging.enable_check_numerics()
    try:
        with pytest.raises(tf.errors.InvalidArgumentError, match="log made 1 -Inf"):
            f(tf.constant([0.0, 2.0]))
    finally:
        tf.debugging.disable_check_numerics()
    assert f.experimental_get_tracing_count() == 1


# -- memory ---------------------------------------------------------------------------------

def test_a_deleted_function_takes_its_checking_program_with_it(checking):
    import gc
    import weakref

    from tapegrad.inspect import numerics

    def make():
        @tf.function
        def grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(tf.sqrt(x))
            return tape.gradient(y, x)
        grad(tf.constant([1.0, 4.0]))      # traced and run checked: the checking variant is made
        concrete = grad.get_concrete_function(tf.TensorSpec([2]))
        return grad, weakref.ref(concrete._checking)

    grad, program = make()
    assert program() is not None
    assert not hasattr(numerics, "_traced_gradients")  # whose gradient: kept by the graph, not the module
    del grad
    gc.collect()
    assert program() is None
