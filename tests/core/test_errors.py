"""Misuse raises TensorFlow's error types with TensorFlow's messages (spec §1, §6), and op errors
name the op, the shapes/dtypes and the user's own file:line."""
import inspect
import logging
import os
import re

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.core import tape as tape_module
from tapegrad.errors import InvalidArgumentError

HERE = os.path.basename(__file__)


def _raising_line() -> int:
    """The line of the statement inside the `with pytest.raises` block right after the caller's line."""
    return inspect.currentframe().f_back.f_lineno + 2


def _consumed_tape():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    tape.gradient(y, x)
    return tape, x, y


# -- GradientTape: exact types and messages ---------------------------------------------

def test_second_gradient_on_non_persistent_tape_message():
    tape, x, y = _consumed_tape()
    with pytest.raises(RuntimeError) as info:
        tape.gradient(y, x)
    assert str(info.value) == ("A non-persistent GradientTape can only be used to compute one set of "
                               "gradients (or jacobians)")


@pytest.mark.parametrize("call", [
    lambda t, x, y: t.jacobian(y, x),
    lambda t, x, y: t.batch_jacobian(tf.reshape(y, [1, 1]), tf.reshape(x, [1, 1])),
])
def test_jacobians_on_a_consumed_tape_raise_the_same_runtime_error(call):
    tape, x, y = _consumed_tape()
    with pytest.raises(RuntimeError, match=r"^A non-persistent GradientTape can only be used to compute "
                                           r"one set of gradients \(or jacobians\)$"):
        call(tape, x, y)


def test_reentering_an_active_tape_message():
    tape = tf.GradientTape()
    with tape:
        with pytest.raises(ValueError) as info:
            with tape:
                pass
    assert str(info.value) == ("Tape is still recording, This can happen if you try to re-enter an "
                               "already-active tape.")


def test_target_none_message():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
    with pytest.raises(TypeError) as info:
        tape.gradient(None, x)
    assert str(info.value) == ("Argument `target` should be a list or nested structure of Tensors, "
                               "Variables or CompositeTensors to be differentiated, but received None.")


def test_consumed_check_comes_before_the_target_check():
    tape, x, _ = _consumed_tape()
    with pytest.raises(RuntimeError):
        tape.gradient(None, x)


@pytest.mark.parametrize("value", ["nonsense", "ZERO", 0])
def test_unknown_unconnected_gradients_message(value):
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(ValueError) as info:
        tape.gradient(y, x, unconnected_gradients=value)
    assert str(info.value) == f"Unknown value for unconnected_gradients: {value!r}"


@pytest.mark.parametrize("obj, text", [
    (3.0, "Passed in object 3.0 of type 'float', not tf.Tensor or tf.Variable or ExtensionType."),
    ("hi", "Passed in object hi of type 'str', not tf.Tensor or tf.Variable or ExtensionType."),
    (None, "Passed in object None of type 'NoneType', not tf.Tensor or tf.Variable or ExtensionType."),
])
def test_watch_non_tensor_message(obj, text):
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError) as info:
            tape.watch(obj)
    assert str(info.value) == text


def test_watch_non_tensor_inside_a_nest_names_the_bad_element():
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError, match=r"^Passed in object 7 of type 'int', not tf.Tensor"):
            tape.watch({"a": tf.constant(1.0), "b": [7]})


def test_stop_recording_messages():
    with pytest.raises(RuntimeError) as info:
        with tf.GradientTape().stop_recording():
            pass
    assert str(info.value) == "Trying to stop recording a tape which is not recording."
    tape, _, _ = _consumed_tape()
    with pytest.raises(RuntimeError, match=r"^Trying to stop recording a tape which is not recording\.$"):
        with tape.stop_recording():
            pass
    exited = tf.GradientTape()
    with exited:
        pass
    with pytest.raises(ValueError) as info:
        with exited.stop_recording():
            pass
    assert str(info.value) == "Tape is not recording."


def test_reset_outside_the_context_message():
    tape = tf.GradientTape()
    with pytest.raises(ValueError) as info:
        tape.reset()
    assert str(info.value) == "Tape is not recording."


def test_jacobian_without_pfor_on_non_persistent_tape_message():
    x = tf.constant([1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(RuntimeError) as info:
        tape.jacobian(y, x, experimental_use_pfor=False)
    assert str(info.value) == ("GradientTape must be created with persistent=True to compute the jacobian "
                               "with eager execution enabled and with  experimental_use_pfor set to False.")


def test_batch_jacobian_without_pfor_on_non_persistent_tape_message():
    x = tf.ones([2, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(RuntimeError) as info:
        tape.batch_jacobian(y, x, experimental_use_pfor=False)
    assert str(info.value) == ("GradientTape must be created with persistent=True to compute the "
                               "batch_jacobian with eager execution enabled and  with "
                               "experimental_use_pfor set to False.")


def test_batch_jacobian_batch_dimension_message():
    x = tf.ones([2, 4])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.ones([5, 3]) * 1.0
    with pytest.raises(ValueError) as info:
        tape.batch_jacobian(y, x)
    assert str(info.value) == ("Need first dimension of target shape ((5, 3)) and source shape ((2, 4)) "
                               "to match.")


def test_batch_jacobian_list_source_attribute_error():
    x = tf.ones([2, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(AttributeError) as info:
        tape.batch_jacobian(y, [x])
    assert str(info.value) == "'list' object has no attribute 'shape'"


# -- logged warnings --------------------------------------------------------------------

def test_int_watch_warning_text(caplog, monkeypatch):
    monkeypatch.setitem(tape_module._warned, "int_watch", 0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        with tf.GradientTape() as tape:
            tape.watch(tf.constant([1, 2], dtype=tf.int64))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["The dtype of the watched tensor must be floating (e.g. tf.float32), got tf.int64"]
    assert caplog.records[0].levelno == logging.WARNING


def test_persistent_gradient_inside_context_warning_text(caplog, monkeypatch):
    monkeypatch.setitem(tape_module._warned, "persistent_inside", False)
    x = tf.constant(1.0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            tape.gradient(y, x)
    messages = [r.getMessage() for r in caplog.records]
    expected = ("Calling GradientTape.gradient on a persistent tape inside its context is significantly "
                "less efficient than calling it outside the context (it causes the gradient ops to be "
                "recorded on the tape, leading to increased CPU and memory usage). Only call "
                "GradientTape.gradient inside the context if you actually want to trace the gradient in "
                "order to compute higher order derivatives.")
    assert messages == [expected]


def test_non_persistent_gradient_inside_context_logs_nothing(caplog):
    x = tf.constant(1.0)
    with caplog.at_level(logging.DEBUG, logger="tapegrad"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
            tape.gradient(y, x)
    assert caplog.records == []


def test_indexed_slices_unknown_shape_warning_text():
    slices = tf.IndexedSlices(tf.ones([1, 2]), tf.constant([0]))
    with pytest.warns(UserWarning) as record:
        tf.convert_to_tensor(slices)
    expected = ("Converting sparse IndexedSlices to a dense Tensor of unknown shape. This may consume a "
                "large amount of memory.")
    assert [str(w.message) for w in record] == [expected]


# -- custom_gradient --------------------------------------------------------------------

def test_custom_gradient_arity_message():
    @tf.custom_gradient
    def f(x, y):
        return x * y, lambda dz: dz * y

    x, y = tf.constant(2.0), tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        z = f(x, y)
    with pytest.raises(ValueError) as info:
        tape.gradient(z, [x, y])
    assert str(info.value) == "custom_gradient function expected to return 2 gradients, but returned 1 instead."


def test_custom_gradient_missing_variables_keyword_message():
    v = tf.Variable(2.0, name="scale")

    @tf.custom_gradient
    def f(x):
        return x * v, lambda dy: dy * v

    with pytest.raises(TypeError) as info:
        f(tf.constant(1.0))
    text = str(info.value)
    assert text.startswith("@tf.custom_gradient grad_fn must accept keyword argument 'variables', since "
                           "function uses variables: ")
    assert "scale:0" in text


def test_custom_gradient_variable_gradient_count_message():
    v, w = tf.Variable(2.0), tf.Variable(3.0)

    @tf.custom_gradient
    def f(x):
        def grad(dy, variables=None):
            return dy, [dy]
        return x * v * w, grad

    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    with pytest.raises(ValueError) as info:
        tape.gradient(y, [x, v, w])
    assert str(info.value) == "Must return gradient for each variable from @custom_gradient grad_fn."


# -- op errors name the op, the shapes/dtypes and the user's line -----------------------

def test_mixed_dtype_error_names_op_dtypes_and_user_line():
    a, b = tf.constant([1, 2]), tf.constant([1.0, 2.0])
    line = _raising_line()
    with pytest.raises(InvalidArgumentError) as info:
        a + b
    text = str(info.value)
    assert "add" in text
    assert "int32" in text and "float32" in text
    assert f"{HERE}:{line}" in text
    assert info.value.message == text


def test_mixed_dtype_error_from_a_named_function_call():
    line = _raising_line()
    with pytest.raises(InvalidArgumentError) as info:
        tf.multiply(tf.constant(2.0, dtype=tf.float64), tf.constant(3.0))
    text = str(info.value)
    assert "multiply" in text and "float64" in text and "float32" in text
    assert f"{HERE}:{line}" in text


def test_broadcast_shape_error_names_op_shapes_and_user_line():
    a, b = tf.ones([2, 3]), tf.ones([4])
    line = _raising_line()
    with pytest.raises(InvalidArgumentError) as info:
        a * b
    text = str(info.value)
    assert "multiply" in text
    assert re.search(r"2,\s*3", text) and "4" in text
    assert f"{HERE}:{line}" in text


def test_matmul_shape_error_names_op_shapes_and_user_line():
    a, b = tf.ones([2, 3]), tf.ones([2, 3])
    line = _raising_line()
    with pytest.raises(InvalidArgumentError) as info:
        a @ b
    text = str(info.value)
    assert "matmul" in text
    assert "[2, 3]" in text
    assert f"{HERE}:{line}" in text


def _user_helper(x):
    return tf.reshape(x, [5, 5])      # the line the error must point at


def test_error_inside_a_user_helper_points_at_the_helpers_line():
    helper_line = inspect.getsourcelines(_user_helper)[1] + 1
    with pytest.raises(InvalidArgumentError) as info:
        _user_helper(tf.ones([2, 3]))
    text = str(info.value)
    assert "reshape" in text
    assert f"{HERE}:{helper_line}" in text
    assert "in _user_helper" in text


def test_error_in_a_variable_op_names_user_line():
    v = tf.Variable(tf.ones([3]))
    line = _raising_line()
    with pytest.raises(InvalidArgumentError) as info:
        v + tf.ones([2])
    assert f"{HERE}:{line}" in str(info.value)


def test_variable_assign_shape_error_names_variable_shapes_and_line():
    v = tf.Variable([1.0, 2.0], name="weights")
    line = _raising_line()
    with pytest.raises(ValueError) as info:
        v.assign([1.0, 2.0, 3.0])
    text = str(info.value)
    assert "weights" in text
    assert "(3,)" in text and "(2,)" in text
    assert f"{HERE}:{line}" in text


def test_python_float_into_integer_op_names_the_op_and_line():
    line = _raising_line()
    with pytest.raises(TypeError) as info:
        tf.constant([1, 2]) * 0.5
    text = str(info.value)
    assert "Cannot convert 0.5 to EagerTensor of dtype int32" in text
    assert "multiply" in text
    assert f"{HERE}:{line}" in text


def test_gather_out_of_range_message():
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 4\)"):
        tf.gather(tf.ones([4, 2]), [0, 5])


def test_getitem_out_of_range_is_invalid_argument():
    with pytest.raises(InvalidArgumentError) as info:
        tf.ones([2, 3])[:, 7]
    assert "getitem" in str(info.value) or "strided_slice" in str(info.value)


def test_invalid_argument_error_is_an_op_error_carrying_message():
    err = InvalidArgumentError("boom")
    assert isinstance(err, tf.errors.OpError)
    assert err.message == "boom" and str(err) == "boom"


# -- Python protocol errors -------------------------------------------------------------

def test_protocol_errors():
    with pytest.raises(TypeError):
        len(tf.constant(1.0))
    with pytest.raises(TypeError, match="Cannot iterate over a scalar tensor."):
        list(tf.constant(1.0))
    with pytest.raises(ValueError):
        bool(tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError):
        {tf.constant(1.0): 1}
    with pytest.raises(TypeError):
        "{:.2f}".format(tf.ones([2]))
    with pytest.raises(TypeError):
        [1, 2][tf.constant(1.0)]                  # only integer scalars index


def test_conversion_errors():
    with pytest.raises(TypeError, match="Eager execution of tf.constant with unsupported shape"):
        tf.constant([1.0, 2.0, 3.0], shape=[2, 2])
    with pytest.raises(ValueError, match="Tensor conversion requested dtype int32 for Tensor with dtype "
                                         "float32"):
        tf.convert_to_tensor(tf.constant(1.0), dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.constant(object())
    with pytest.raises(TypeError):
        tf.as_dtype(np.dtype("datetime64[s]"))
