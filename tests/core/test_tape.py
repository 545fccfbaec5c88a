"""GradientTape (spec §1.1-1.5, 1.8, 1.10, 1.11): recording, watching, gradient, structures,
None results, stop_recording/reset, IndexedSlices, custom_gradient (§1.9), memory, threads."""
import collections
import gc
import logging
import threading
import weakref

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.core import tape as tape_module
from tapegrad.core.op import state

# -- 1.1 constructor and context --------------------------------------------------------

def test_gradient_tape_is_exported_under_autodiff_too():
    assert tf.autodiff.GradientTape is tf.GradientTape


def test_enter_returns_the_tape_and_pushes_it_on_the_stack():
    tape = tf.GradientTape()
    assert tape not in state.tapes
    with tape as entered:
        assert entered is tape
        assert state.tapes[-1] is tape
    assert tape not in state.tapes


def test_nested_tapes_stack_and_unstack_in_order():
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            assert state.tapes[-2:] == [outer, inner]
        assert state.tapes[-1] is outer
    assert outer not in state.tapes


def test_nothing_is_recorded_before_enter():
    w = tf.Variable(2.0)
    y0 = w * 1.0                      # read before the tape exists: a constant for it
    with tf.GradientTape() as tape:
        y = y0 * w
    assert tape.gradient(y, w).numpy() == pytest.approx(2.0)


def test_reading_a_variable_only_before_enter_does_not_watch_it():
    w = tf.Variable(2.0)
    y0 = w * 3.0
    with tf.GradientTape() as tape:
        y = y0 * 2.0
    assert tape.watched_variables() == ()
    assert tape.gradient(y, w) is None


def test_reentering_an_active_tape_raises_value_error():
    tape = tf.GradientTape()
    with tape:
        with pytest.raises(ValueError, match="Tape is still recording"):
            tape.__enter__()
    assert tape not in state.tapes


def test_reentering_an_exited_tape_resumes_recording_on_the_same_tape():
    x = tf.constant(3.0)
    tape = tf.GradientTape()
    with tape:
        tape.watch(x)
        y = x * x
    with tape:
        z = y * x
    assert tape.gradient(z, x).numpy() == pytest.approx(27.0)  # d(x^3)/dx


def test_exiting_stops_recording():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    z = y * x  # after the context: not recorded
    assert tape.gradient(z, x) is None


def test_trainable_variables_read_inside_are_watched_automatically():
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(w * w)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [2.0, 4.0])


def test_non_trainable_variables_are_not_watched_automatically():
    w = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        y = w * w
    assert tape.watched_variables() == ()
    assert tape.gradient(y, w) is None


def test_non_trainable_variables_can_be_watched_explicitly():
    w = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = w * w
    assert tape.gradient(y, w).numpy() == pytest.approx(4.0)
    assert tape.watched_variables() == (w,)


def test_watch_accessed_variables_false_watches_only_what_is_asked():
    a, b = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(a)
        y = a * b
    ga, gb = tape.gradient(y, [a, b])
    assert ga.numpy() == pytest.approx(3.0)
    assert gb is None
    assert tape.watched_variables() == (a,)


def test_watching_an_empty_list_before_build_gives_all_none_gradients():
    # the GradientTape docstring gotcha: layer.variables is [] before the layer is built
    variables = []
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(variables)
        kernel = tf.Variable([[1.0], [2.0]])
        y = tf.reduce_sum(tf.ones([1, 2]) @ kernel)
    assert tape.gradient(y, [kernel]) == [None]


@pytest.mark.parametrize("dtype", [tf.float16, tf.float32, tf.float64])
def test_float_dtypes_are_differentiable_and_gradients_keep_the_dtype(dtype):
    x = tf.constant([1.0, 2.0], dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x)
    assert g.dtype == dtype
    np.testing.assert_allclose(g.numpy().astype(np.float64), [2.0, 4.0])


def test_integer_variables_get_no_gradient():
    v = tf.Variable(3)
    with tf.GradientTape() as tape:
        y = v * v
    assert tape.gradient(y, v) is None


# -- 1.2 watch --------------------------------------------------------------------------

def test_unwatched_constants_get_none():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None


def test_watch_accepts_nests_of_tensors_and_variables():
    a, b, c = tf.constant(1.0), tf.constant(2.0), tf.Variable(3.0, trainable=False)
    with tf.GradientTape() as tape:
        tape.watch({"a": a, "rest": [b, (c,)]})
        y = a * b * c
    ga, gb, gc_ = tape.gradient(y, [a, b, c])
    assert (ga.numpy(), gb.numpy(), gc_.numpy()) == (6.0, 3.0, 2.0)


@pytest.mark.parametrize("bad", [3.0, "hi", np.ones(2), [tf.constant(1.0), None]])
def test_watch_rejects_non_tensors_with_value_error(bad):
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError, match="not tf.Tensor or tf.Variable or ExtensionType"):
            tape.watch(bad)


def test_watching_an_integer_tensor_warns_and_gives_none(caplog, monkeypatch):
    monkeypatch.setitem(tape_module._warned, "int_watch", 0)
    x = tf.constant(10)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
    assert "The dtype of the watched tensor must be floating (e.g. tf.float32), got tf.int32" in caplog.text
    assert tape.gradient(y, x) is None


def test_integer_watch_warning_is_logged_at_most_five_times(caplog, monkeypatch):
    monkeypatch.setitem(tape_module._warned, "int_watch", 0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        for _ in range(8):
            with tf.GradientTape() as tape:
                tape.watch(tf.constant(1))
    assert caplog.text.count("The dtype of the watched tensor must be floating") == 5


# -- 1.3 gradient: values and structures -----------------------------------------------

def test_doc_example_square():
    x = tf.constant(3.0)
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    dy_dx = g.gradient(y, x)
    assert isinstance(dy_dx, tf.Tensor) and dy_dx.numpy() == 6.0


def test_gradient_with_respect_to_an_intermediate_tensor():
    x = tf.constant(3.0)
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
        z = y * y
    dz_dx, dz_dy = g.gradient(z, [x, y])
    assert dz_dx.numpy() == 108.0
    assert dz_dy.numpy() == 18.0


def test_non_scalar_target_differentiates_its_sum():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0, 6.0])


def test_list_of_targets_sums_their_gradients():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y0 = x ** 2
        y1 = 1 / x
    assert tape.gradient({"y0": y0, "y1": y1}, x).numpy() == pytest.approx(3.75)


def test_nested_targets_are_flattened_and_summed():
    a = tf.Variable(1.0)
    b = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        targets = {"u": a * b, "v": [a * 2.0, (b * b,)]}
    ga, gb = tape.gradient(targets, (a, b))
    assert ga.numpy() == pytest.approx(4.0)   # b + 2
    assert gb.numpy() == pytest.approx(5.0)   # a + 2b


def test_targets_that_are_sources_get_ones():
    # backprop_test: t.gradient([x, y, z], [x, y]) with z = y * y
    x, y = tf.constant(3.0), tf.constant(5.0)
    with tf.GradientTape() as t:
        t.watch(x)
        t.watch(y)
        z = y * y
    gx, gy = t.gradient([x, y, z], [x, y])
    assert gx.numpy() == 1.0 and gy.numpy() == 11.0


def test_sources_dict_returns_dict_with_same_keys():
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        y = a * b
    grads = tape.gradient(y, {"b": b, "a": a})
    assert isinstance(grads, dict) and set(grads) == {"a", "b"}
    assert grads["a"].numpy() == 2.0 and grads["b"].numpy() == 1.0


def test_sources_structure_is_preserved_for_lists_tuples_and_nests():
    a, b, c = tf.Variable(1.0), tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        y = a * b * c
    as_list = tape.gradient(y, [a, b, c])
    assert isinstance(as_list, list) and len(as_list) == 3
    as_tuple = tape.gradient(y, (a, b))
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    nested = tape.gradient(y, {"ab": [a, b], "c": (c,)})
    assert isinstance(nested["ab"], list) and isinstance(nested["c"], tuple)
    assert [g.numpy() for g in nested["ab"]] == [6.0, 3.0]
    assert nested["c"][0].numpy() == 2.0
    single = tape.gradient(y, a)
    assert isinstance(single, tf.Tensor) and single.numpy() == 6.0


def test_sources_namedtuple_is_preserved():
    Pair = collections.namedtuple("Pair", "w b")
    w, b = tf.Variable(2.0), tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = w * 3.0 + b
    grads = tape.gradient(y, Pair(w, b))
    assert isinstance(grads, Pair)
    assert grads.w.numpy() == 3.0 and grads.b.numpy() == 1.0


def test_gradient_has_the_sources_shape_after_broadcasting():
    w = tf.Variable(2.0)
    bias = tf.Variable([[1.0, 2.0, 3.0]])
    x = tf.ones([4, 3])
    with tf.GradientTape() as tape:
        y = x * w + bias
    gw, gb = tape.gradient(y, [w, bias])
    assert gw.shape == () and gw.numpy() == 12.0
    assert gb.shape == (1, 3)
    np.testing.assert_allclose(gb.numpy(), [[4.0, 4.0, 4.0]])


def test_output_gradients_seed_a_vector_jacobian_product():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * tf.constant([1.0, 2.0])
    g = tape.gradient(y, x, output_gradients=tf.constant([3.0, 4.0]))
    assert g.numpy() == pytest.approx(11.0)


def test_output_gradients_list_with_none_entries_means_ones():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y1 = x * tf.constant([1.0, 2.0])
        y2 = x * x
    g = tape.gradient([y1, y2], x, output_gradients=[None, tf.constant(2.0)])
    assert g.numpy() == pytest.approx(3.0 + 2.0 * 6.0)


def test_output_gradients_for_a_matrix_target():
    w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    x = tf.constant([[1.0, 1.0]])
    with tf.GradientTape() as tape:
        y = x @ w
    g = tape.gradient(y, w, output_gradients=[tf.constant([[1.0, -1.0]])])
    np.testing.assert_allclose(g.numpy(), [[1.0, -1.0], [1.0, -1.0]])


# -- 1.3 unconnected_gradients and 1.10 the enum -----------------------------------------

def test_unconnected_gradients_enum_values():
    assert tf.UnconnectedGradients.NONE.value == "none"
    assert tf.UnconnectedGradients.ZERO.value == "zero"
    assert repr(tf.UnconnectedGradients.NONE) == "<UnconnectedGradients.NONE: 'none'>"
    assert tf.UnconnectedGradients("zero") is tf.UnconnectedGradients.ZERO


@pytest.mark.parametrize("mode", [tf.UnconnectedGradients.ZERO, "zero"])
def test_unconnected_zero_gives_zeros_in_the_sources_shape_and_dtype(mode):
    x = tf.constant([[1.0, 2.0]], dtype=tf.float64)
    w = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = w * 2.0
    gx, gw = tape.gradient(y, [x, w], unconnected_gradients=mode)
    assert gx.shape == (1, 2) and gx.dtype == tf.float64
    np.testing.assert_array_equal(gx.numpy(), [[0.0, 0.0]])
    np.testing.assert_allclose(gw.numpy(), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("mode", [tf.UnconnectedGradients.NONE, "none"])
def test_unconnected_none_gives_none(mode):
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.constant(2.0) * 3.0
    assert tape.gradient(y, x, unconnected_gradients=mode) is None


def test_unconnected_zero_for_an_integer_source():
    x = tf.constant([1, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    g = tape.gradient(y, x, unconnected_gradients="zero")
    assert g.dtype == tf.int32 and g.numpy().tolist() == [0, 0]


def test_unknown_unconnected_gradients_value_raises():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients: 'nonsense'"):
        tape.gradient(y, x, unconnected_gradients="nonsense")


# -- 1.3 consumption, persistence, gradient inside the context --------------------------

def test_non_persistent_tape_computes_only_one_set_of_gradients():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="A non-persistent GradientTape can only be used to compute one "
                                           "set of gradients"):
        tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="can only be used to compute one set of gradients"):
        tape.jacobian(y, x)


def test_persistent_tape_allows_many_gradient_calls():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert tape.gradient(z, x).numpy() == 108.0
    assert tape.gradient(y, x).numpy() == 6.0
    assert tape.gradient(z, y).numpy() == 18.0
    assert tape.gradient(z, x).numpy() == 108.0
    del tape


def test_persistent_guide_example_with_variables():
    x = tf.Variable(4.0)
    y = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        z = x + y
        w = tf.pow(x, 2)
    assert tape.gradient(z, y).numpy() == 1.0
    assert tape.gradient(z, x).numpy() == 1.0
    assert tape.gradient(w, x).numpy() == 8.0


def test_target_none_raises_type_error_and_does_not_consume_the_tape():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(TypeError, match="Argument `target` should be a list or nested structure"):
        tape.gradient(None, x)
    assert tape.gradient(y, x).numpy() == 4.0


def test_gradient_inside_a_non_persistent_context_stops_recording():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        g = tape.gradient(y, x)
        assert tape not in state.tapes           # silently popped
        z = x * y                                # not recorded
    assert g.numpy() == 6.0
    assert tape._eqns is None
    with pytest.raises(RuntimeError):
        tape.gradient(z, x)


def test_gradient_inside_a_persistent_context_is_recorded_for_higher_order(caplog, monkeypatch):
    monkeypatch.setitem(tape_module._warned, "persistent_inside", False)
    x = tf.constant(3.0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x * x
            dy = tape.gradient(y, x)
            assert tape in state.tapes
    assert dy.numpy() == pytest.approx(27.0)
    assert tape.gradient(dy, x).numpy() == pytest.approx(18.0)  # 6x
    assert "Calling GradientTape.gradient on a persistent tape inside its context is significantly " \
           "less efficient" in caplog.text


def test_persistent_inside_context_warning_is_logged_once(caplog, monkeypatch):
    monkeypatch.setitem(tape_module._warned, "persistent_inside", False)
    x = tf.constant(3.0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            tape.gradient(y, x)
            tape.gradient(y, x)
    assert caplog.text.count("on a persistent tape inside its context") == 1


def test_watched_variables_survive_consumption():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = a * b
    tape.gradient(y, a)
    assert tape.watched_variables() == (a, b)


# -- 1.4 when the gradient is None ------------------------------------------------------

def test_none_when_target_is_not_connected():
    x, y = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        z = y * y
    assert tape.gradient(z, x) is None


def test_none_when_the_computation_left_for_numpy():
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)           # NumPy: the tape cannot see this
        y = tf.reduce_mean(y, axis=0)
    assert tape.gradient(y, x) is None


def test_none_through_an_integer_cast():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(tf.cast(x, tf.int32), tf.float32) * x
    assert tape.gradient(y, x).numpy() == 2.0        # only the direct path counts
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.cast(x, tf.int32) * 2
    assert tape.gradient(z, x) is None               # an integer target


def test_control_flow_records_only_the_taken_branch():
    # autodiff guide, "Control flow"
    x = tf.constant(1.0)
    v0 = tf.Variable(2.0)
    v1 = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        if x > 0.0:
            result = v0
        else:
            result = v1 ** 2
    dv0, dv1 = tape.gradient(result, [v0, v1])
    assert dv0.numpy() == 1.0
    assert dv1 is None
    assert tape.gradient(result, x) is None


def test_control_flow_with_loops_accumulates():
    x = tf.constant(1.5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.constant(1.0)
        for _ in range(4):
            y = y * x
    assert tape.gradient(y, x).numpy() == pytest.approx(4 * 1.5 ** 3)


# -- 1.5 stop_recording, reset, watched_variables -----------------------------------------

def test_stop_recording_docstring_example():
    x = tf.constant(4.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with tape.stop_recording():
            y = x ** 2
    assert tape.gradient(y, x) is None


def test_stop_recording_guide_example_and_recording_resumes():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            assert t not in state.tapes
            y_sq = y * y
        assert state.tapes[-1] is t
        z = x_sq + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    assert grad["x"].numpy() == 4.0
    assert grad["y"] is None


def test_stop_recording_repushes_after_an_exception():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(KeyError):
            with tape.stop_recording():
                raise KeyError("boom")
        y = x * x
    assert tape.gradient(y, x).numpy() == 4.0


def test_stop_recording_on_a_tape_never_entered_raises_runtime_error():
    with pytest.raises(RuntimeError, match="Trying to stop recording a tape which is not recording."):
        with tf.GradientTape().stop_recording():
            pass


def test_stop_recording_on_a_consumed_tape_raises_runtime_error():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="Trying to stop recording a tape which is not recording."):
        with tape.stop_recording():
            pass


def test_stop_recording_on_an_exited_tape_raises_value_error():
    tape = tf.GradientTape()
    with tape:
        pass
    with pytest.raises(ValueError, match="Tape is not recording."):
        with tape.stop_recording():
            pass


def test_reset_guide_example_y_sq_before_reset_gives_none():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y_sq = y * y
        t.reset()
        z = x * x + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    assert grad["x"].numpy() == 4.0
    assert grad["y"] is None


def test_reset_forgets_watched_tensors_and_variables_but_keeps_recording():
    c = tf.constant(2.0)
    a, b = tf.Variable(1.0), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        tape.watch(c)
        _ = a * c
        tape.reset()
        assert state.tapes[-1] is tape
        y = c * c + b
    assert tape.watched_variables() == (b,)
    gc_, gb = tape.gradient(y, [c, b])
    assert gc_ is None
    assert gb.numpy() == 1.0


def test_reset_outside_the_context_raises_value_error():
    tape = tf.GradientTape()
    with pytest.raises(ValueError, match="Tape is not recording."):
        tape.reset()
    with tape:
        pass
    with pytest.raises(ValueError, match="Tape is not recording."):
        tape.reset()


def test_watched_variables_are_in_creation_order_not_access_order():
    first = tf.Variable(1.0, name="first")
    second = tf.Variable(2.0, name="second")
    third = tf.Variable(3.0, name="third")
    with tf.GradientTape() as tape:
        _ = third * second * first
    assert tape.watched_variables() == (first, second, third)
    assert [v.name for v in tape.watched_variables()] == ["first:0", "second:0", "third:0"]


def test_watched_variables_include_explicit_watches_only_once():
    v = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        tape.watch(v)
        tape.watch([v, v])
        _ = v * v
    assert tape.watched_variables() == (v,)


# -- 1.7 several tapes at once ----------------------------------------------------------

def test_several_tapes_record_independently():
    x0 = tf.constant(0.0)
    x1 = tf.constant(0.0)
    with tf.GradientTape() as tape0, tf.GradientTape() as tape1:
        tape0.watch(x0)
        tape1.watch(x1)
        y0 = tf.sin(x0)
        y1 = tf.sigmoid(x1)
        ys = y0 + y1
    assert tape0.gradient(ys, x0).numpy() == pytest.approx(1.0)   # cos(0)
    assert tape1.gradient(ys, x1).numpy() == pytest.approx(0.25)  # sigmoid'(0)


def test_each_tape_only_sees_its_own_watches():
    x0 = tf.constant(2.0)
    x1 = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape0, tf.GradientTape(persistent=True) as tape1:
        tape0.watch(x0)
        tape1.watch(x1)
        y0 = x0 * x0
        y1 = x1 * x1
        assert len(tape0._eqns) == 1 and len(tape1._eqns) == 1
    assert tape0.gradient(y1, x1) is None
    assert tape1.gradient(y0, x0) is None
    assert tape0.gradient(y0, x0).numpy() == 4.0
    assert tape1.gradient(y1, x1).numpy() == 6.0


def test_unwatched_tensor_feeding_a_recorded_op_gets_none():
    # checked against TensorFlow 2.21: an input that was never watched gets None even when it
    # feeds a recorded op (only watched tensors and the outputs of recorded ops are sources)
    w = tf.constant(2.0)
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = w * x
        z = x * x                       # nothing watched: not recorded
    gw, gx = tape.gradient([y, z], [w, x])
    assert gw.numpy() == 3.0
    assert gx is None


def test_unwatched_variable_feeding_a_recorded_op_gets_none():
    # a Variable is read by its own (unrecorded) op in TF: its handle never reaches the tape
    a, b = tf.Variable(2.0), tf.Variable(3.0, trainable=False)
    with tf.GradientTape() as tape:
        y = a * b
    ga, gb = tape.gradient(y, [a, b])
    assert ga.numpy() == 3.0
    assert gb is None


def test_a_variable_read_is_watched_by_every_active_tape():
    v = tf.Variable(2.0)
    with tf.GradientTape() as t0:
        with tf.GradientTape() as t1:
            y = v * v
    assert t1.gradient(y, v).numpy() == 4.0
    assert t0.gradient(y, v).numpy() == 4.0


# -- 1.8 stop_gradient ------------------------------------------------------------------

def test_stop_gradient_is_identity_forward_and_blocks_backward():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = tf.stop_gradient(x)
        y = s * x
    np.testing.assert_array_equal(s.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 2.0])  # only the unblocked path


def test_stop_gradient_path_only_gives_none_not_zero():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        z = x * x + tf.stop_gradient(y * y)
    gx, gy = tape.gradient(z, [x, y])
    assert gx.numpy() == 4.0
    assert gy is None


# -- 1.11 IndexedSlices -----------------------------------------------------------------

def test_gather_gradient_is_indexed_slices_doc_example():
    v = tf.Variable(tf.zeros([4, 3]))
    with tf.GradientTape() as tape:
        r = tf.gather(v, [1, 3])
    g = tape.gradient(r, v)
    assert isinstance(g, tf.IndexedSlices)
    assert g.indices.numpy().tolist() == [1, 3]
    assert g.values.shape == (2, 3)
    np.testing.assert_array_equal(g.values.numpy(), np.ones((2, 3)))
    assert list(np.asarray(g.dense_shape)) == [4, 3]
    assert g.dtype == tf.float32


def test_indexed_slices_densify_with_convert_to_tensor():
    v = tf.Variable(tf.zeros([4, 3]))
    with tf.GradientTape() as tape:
        r = tf.gather(v, [1, 3]) * tf.constant([[1.0], [2.0]])
    dense = tf.convert_to_tensor(tape.gradient(r, v))
    assert type(dense) is tf.Tensor and dense.shape == (4, 3)
    np.testing.assert_array_equal(dense.numpy(), [[0, 0, 0], [1, 1, 1], [0, 0, 0], [2, 2, 2]])


def test_duplicate_indices_are_summed_on_densify():
    v = tf.Variable(tf.zeros([3, 2]))
    with tf.GradientTape() as tape:
        r = tf.gather(v, [2, 0, 2, 2])
    g = tape.gradient(r, v)
    assert g.indices.numpy().tolist() == [2, 0, 2, 2]       # not merged
    np.testing.assert_array_equal(tf.convert_to_tensor(g).numpy(), [[1, 1], [0, 0], [3, 3]])
    np.testing.assert_array_equal(np.asarray(g), [[1, 1], [0, 0], [3, 3]])


def test_several_sparse_gradients_are_concatenated_not_merged():
    v = tf.Variable(tf.reshape(tf.range(12.0), [4, 3]))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(v, [1, 3])) + 2.0 * tf.reduce_sum(tf.gather(v, [1]))
    g = tape.gradient(y, v)
    assert isinstance(g, tf.IndexedSlices)
    assert sorted(g.indices.numpy().tolist()) == [1, 1, 3]
    assert g.values.shape == (3, 3)
    np.testing.assert_array_equal(tf.convert_to_tensor(g).numpy(),
                                  [[0, 0, 0], [3, 3, 3], [0, 0, 0], [1, 1, 1]])


def test_sparse_and_dense_gradients_aggregate_to_indexed_slices():
    v = tf.Variable(tf.ones([4, 3]))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(v, [1, 3])) + tf.reduce_sum(v)
    g = tape.gradient(y, v)
    assert isinstance(g, tf.IndexedSlices)
    assert sorted(g.indices.numpy().tolist()) == [0, 1, 1, 2, 3, 3]
    np.testing.assert_array_equal(tf.convert_to_tensor(g).numpy(),
                                  [[1, 1, 1], [2, 2, 2], [1, 1, 1], [2, 2, 2]])


def test_gather_on_another_axis_gives_a_dense_gradient():
    v = tf.Variable(tf.ones([2, 3]))
    with tf.GradientTape() as tape:
        r = tf.gather(v, [2, 0, 2], axis=1)
    g = tape.gradient(r, v)
    assert type(g) is tf.Tensor
    np.testing.assert_array_equal(g.numpy(), [[1, 0, 2], [1, 0, 2]])


def test_indexed_slices_from_an_intermediate_gather_flow_on_densely():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(v * v, [1]))
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [[0.0, 0.0], [6.0, 8.0]])


def test_indexed_slices_feed_ops_as_dense_tensors():
    slices = tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([1]), (3, 2))
    assert tf.reduce_sum(slices).numpy() == 3.0
    np.testing.assert_array_equal(tf.multiply(slices, 2.0).numpy(), [[0, 0], [2, 4], [0, 0]])


def test_indexed_slices_of_unknown_shape_warn_when_densified():
    slices = tf.IndexedSlices(tf.constant([[1.0, 1.0], [2.0, 2.0]]), tf.constant([0, 2]))
    with pytest.warns(UserWarning, match="Converting sparse IndexedSlices to a dense Tensor of unknown "
                                         "shape. This may consume a large amount of memory."):
        dense = tf.convert_to_tensor(slices)
    np.testing.assert_array_equal(dense.numpy(), [[1, 1], [0, 0], [2, 2]])


# -- memory and recording cost ----------------------------------------------------------

def test_ops_on_unwatched_inputs_are_not_recorded():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        a = tf.constant(2.0) * tf.constant(5.0)
        b = tf.exp(a) + 1.0
        assert len(tape._eqns) == 0
        tape.watch(x)
        c = x * 2.0
        assert len(tape._eqns) == 1
        d = b * 3.0                      # still unwatched: not recorded
        assert len(tape._eqns) == 1
        e = c * d                        # reaches x through c: recorded
        assert len(tape._eqns) == 2
    assert tape.gradient(e, x).numpy() == pytest.approx(2.0 * float(d))


def test_non_trainable_variable_ops_are_not_recorded():
    v = tf.Variable([1.0, 2.0], trainable=False)
    with tf.GradientTape() as tape:
        _ = tf.reduce_sum(v * v)
        assert len(tape._eqns) == 0


def test_integer_results_are_not_recorded():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        _ = tf.cast(x, tf.int32)
        _ = x > 1.0
        assert len(tape._eqns) == 0


def test_non_persistent_tape_frees_everything_after_gradient():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        big = tf.exp(tf.ones([512, 512]) * x)
        ref = weakref.ref(big)
        y = tf.reduce_sum(big)
        del big
    gc.collect()
    assert ref() is not None                # the tape keeps what backward needs (exp's output)
    g = tape.gradient(y, x)
    assert tape._eqns is None
    gc.collect()
    assert ref() is None                    # ...and nothing after the gradient
    assert np.isfinite(g.numpy())


def test_non_persistent_tape_frees_everything_after_jacobian():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        big = tf.ones([256, 2]) * x
        ref = weakref.ref(big)
        y = tf.reduce_sum(tf.exp(big), axis=0)
        del big
    tape.jacobian(y, x)
    assert tape._eqns is None
    gc.collect()
    assert ref() is None


def test_persistent_tape_keeps_intermediates_until_deleted():
    x = tf.constant(2.0)
    tape = tf.GradientTape(persistent=True)
    with tape:
        tape.watch(x)
        big = tf.exp(tf.ones([512, 512]) * x)
        ref = weakref.ref(big)
        y = tf.reduce_sum(big)
        del big
    tape.gradient(y, x)
    tape.gradient(y, x)
    gc.collect()
    assert ref() is not None
    del tape
    gc.collect()
    assert ref() is None


# -- thread-local tape stack ------------------------------------------------------------

def test_the_tape_stack_is_thread_local():
    x = tf.constant(3.0)
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        seen["stack"] = list(state.tapes)
        seen["y"] = x * x                  # x is watched by the main tape: not on this thread
        with tf.GradientTape() as mine:
            mine.watch(x)
            seen["stack_inside"] = list(state.tapes)
            z = x * x * x
            inside.set()
            release.wait(5)
        seen["grad"] = mine.gradient(z, x)

    with tf.GradientTape() as tape:
        tape.watch(x)
        thread = threading.Thread(target=worker)
        thread.start()
        assert inside.wait(5)
        assert state.tapes == [tape]       # the worker's tape is not on this thread's stack
        release.set()
        thread.join(5)
        w = x * 2.0
    assert seen["stack"] == []
    assert len(seen["stack_inside"]) == 1 and seen["stack_inside"][0] is not tape
    assert seen["grad"].numpy() == pytest.approx(27.0)
    assert len(tape._eqns) == 1            # only the main thread's op
    # the worker's x*x did not reach the main tape: only w = 2x counts
    assert tape.gradient([seen["y"], w], x).numpy() == 2.0


# -- 1.9 custom_gradient ----------------------------------------------------------------

def test_custom_gradient_log1pexp_is_stable_at_100():
    @tf.custom_gradient
    def log1pexp(x):
        e = tf.exp(x)

        def grad(upstream):
            return upstream * (1 - 1 / (1 + e))
        return tf.math.log(1 + e), grad

    x = tf.constant(100.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert tape.gradient(y, x).numpy() == 1.0

    x0 = tf.constant(0.0)
    with tf.GradientTape() as tape:
        tape.watch(x0)
        y0 = log1pexp(x0)
    assert y0.numpy() == pytest.approx(np.log(2.0))
    assert tape.gradient(y0, x0).numpy() == pytest.approx(0.5)


def test_naive_log1pexp_gradient_is_nan_at_100():
    x = tf.constant(100.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with np.errstate(over="ignore", invalid="ignore"):
            y = tf.math.log(1 + tf.exp(x))
            g = tape.gradient(y, x)
    assert np.isnan(g.numpy())


def test_custom_gradient_clip_gradients_guide_example():
    @tf.custom_gradient
    def clip_gradients(y):
        def backward(dy):
            return tf.clip_by_norm(dy, 0.5)
        return y, backward

    v = tf.Variable(2.0)
    with tf.GradientTape() as t:
        output = clip_gradients(v * v)
    assert t.gradient(output, v).numpy() == pytest.approx(2.0)  # 4 clipped to 0.5, times 2v / 2


def test_custom_gradient_clip_example_with_explicit_norm():
    @tf.custom_gradient
    def clip_gradients(y):
        def backward(dy):
            norm = tf.sqrt(tf.reduce_sum(dy * dy))
            return dy * tf.minimum(1.0, 0.5 / norm)
        return y, backward

    v = tf.Variable(2.0)
    with tf.GradientTape() as t:
        output = clip_gradients(v * v)
    assert float(output) == 4.0
    assert t.gradient(output, v).numpy() == pytest.approx(2.0)


def test_custom_gradient_replaces_the_true_gradient():
    calls = []

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            calls.append(dy)
            return dy * 100.0
        return x * x, grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x) * 2.0
    assert y.numpy() == 18.0
    assert tape.gradient(y, x).numpy() == 200.0
    assert len(calls) == 1 and calls[0].numpy() == 2.0   # the upstream cotangent


def test_custom_gradient_works_without_a_tape():
    @tf.custom_gradient
    def f(x):
        return x * 3.0, lambda dy: dy * 3.0
    out = f(tf.constant([1.0, 2.0]))
    assert isinstance(out, tf.Tensor)
    np.testing.assert_array_equal(out.numpy(), [3.0, 6.0])


def test_custom_gradient_several_inputs_and_none_gradients():
    @tf.custom_gradient
    def f(x, y):
        def grad(dz):
            return dz * y, None
        return x * y, grad

    x, y = tf.constant(2.0), tf.constant(5.0)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        z = f(x, y)
    gx, gy = tape.gradient(z, [x, y])
    assert gx.numpy() == 5.0
    assert gy is None


def test_custom_gradient_nested_outputs_get_one_upstream_each():
    received = []

    @tf.custom_gradient
    def f(x):
        def grad(d_double, d_square):
            received.append((d_double, d_square))
            return d_double * 2.0 + d_square * 2.0 * x
        return (x * 2.0, x * x), grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        double, square = f(x)
        y = double * 10.0 + square
    assert isinstance(double, tf.Tensor) and double.numpy() == 6.0 and square.numpy() == 9.0
    assert tape.gradient(y, x).numpy() == pytest.approx(26.0)
    (d_double, d_square), = received
    assert d_double.numpy() == 10.0 and d_square.numpy() == 1.0


def test_custom_gradient_unused_output_gets_a_zero_upstream():
    received = []

    @tf.custom_gradient
    def f(x):
        def grad(da, db):
            received.append((da, db))
            return da + db
        return (x * 1.0, x * 1.0), grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a, _ = f(x)
    assert tape.gradient(a, x).numpy() == 1.0
    (da, db), = received
    assert da.numpy() == 1.0
    assert db is not None and db.numpy() == 0.0


def test_custom_gradient_keyword_tensors_are_not_differentiated():
    @tf.custom_gradient
    def scale(x, factor=None):
        def grad(dy):
            return dy * factor
        return x * factor, grad

    x, factor = tf.constant(2.0), tf.constant(4.0)
    with tf.GradientTape() as tape:
        tape.watch([x, factor])
        y = scale(x, factor=factor)
    gx, gf = tape.gradient(y, [x, factor])
    assert y.numpy() == 8.0
    assert gx.numpy() == 4.0
    assert gf is None


def test_custom_gradient_with_variables_keyword():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        y = x * v

        def grad(dy, variables=None):
            assert len(variables) == 1 and variables[0] is v
            return dy * v, [dy * x * 10.0]
        return y, grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    gx, gv = tape.gradient(y, [x, v])
    assert y.numpy() == 6.0
    assert gx.numpy() == 2.0
    assert gv.numpy() == 30.0


def test_custom_gradient_variables_with_kwargs_catch_all():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        def grad(dy, **kwargs):
            return dy * v, [dy * x]
        return x * v, grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    gx, gv = tape.gradient(y, [x, v])
    assert gx.numpy() == 2.0 and gv.numpy() == 3.0


def test_custom_gradient_variable_passed_as_input_is_not_in_variables():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            return dy * 7.0
        return x * 1.0, grad

    with tf.GradientTape() as tape:
        y = f(v)
    assert tape.gradient(y, v).numpy() == 7.0


def test_custom_gradient_missing_variables_keyword_raises_type_error():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        return x * v, lambda dy: dy * v

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="@tf.custom_gradient grad_fn must accept keyword argument "
                                            "'variables', since function uses variables"):
            f(x)


def test_custom_gradient_wrong_number_of_variable_gradients_raises_value_error():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        def grad(dy, variables=None):
            return dy * v, []
        return x * v, grad

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    with pytest.raises(ValueError, match="Must return gradient for each variable from @custom_gradient "
                                         "grad_fn."):
        tape.gradient(y, [x, v])


def test_custom_gradient_wrong_number_of_input_gradients_raises_value_error():
    @tf.custom_gradient
    def f(x):
        return x * 2.0, lambda dy: (dy, dy)

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    with pytest.raises(ValueError, match="custom_gradient function expected to return 1 gradients, but "
                                         "returned 2 instead."):
        tape.gradient(y, x)
