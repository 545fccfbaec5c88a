"""The catalogue of common gradient mistakes: for each, explain() names the cause and the line."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import layers

_SOURCE = open(__file__, encoding="utf-8").read().splitlines()


def line_of(marker: str) -> int:
    """The line of this file that ends with ``# <- marker``."""
    hits = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith(f"# <- {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def only(explanation, cause: str, marker: str):
    """The single reason, with the expected cause, pointing at the marked line of this file."""
    assert explanation.causes == [cause], str(explanation)
    reason = explanation[0]
    assert reason.where.startswith(f"{__file__}:{line_of(marker)} "), (reason.where, marker)
    return reason


def test_a_constant_never_watched():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:  # <- unwatched
        y = x * x
    reason = only(tape.explain(y, x), "unwatched_constant", "unwatched")
    assert "tape.watch(x)" in reason.message


def test_a_non_trainable_variable():
    w = tf.Variable(2.0, trainable=False)  # <- non-trainable
    with tf.GradientTape() as tape:
        y = w * 3.0
    assert tape.gradient(y, w) is None
    assert "trainable=False" in only(tape.explain(y, w), "non_trainable", "non-trainable").message


def test_an_integer_source_points_at_where_it_was_made():
    n = tf.constant(3)  # <- integer source
    with tf.GradientTape() as tape:
        tape.watch(n)
        y = n * n
    reason = only(tape.explain(y, n), "integer_dtype", "integer source")
    assert "int32" in reason.message and "floating-point" in reason.message
    assert "`tf.constant(3.0)`" in reason.message


def test_an_integer_variable_points_at_its_creation():
    steps = tf.Variable([1, 2], dtype=tf.int32)  # <- integer variable
    with tf.GradientTape() as tape:
        tape.watch(steps)
        y = steps * 2
    reason = only(tape.explain(y, steps), "integer_dtype", "integer variable")
    assert "`tf.Variable([1.0, 2.0], dtype=tf.float32)`" in reason.message


def explain_elsewhere(tape, y, source):
    """explain() called where the source was not made: its line is not in this scope."""
    return tape.explain(y, source)


def test_an_integer_source_explained_elsewhere_points_at_its_watch():
    n = tf.constant(3)
    with tf.GradientTape() as tape:
        tape.watch(n)  # <- watched integer
        y = n * n
    reason = only(explain_elsewhere(tape, y, n), "integer_dtype", "watched integer")
    assert "dtype=tf.float32" in reason.message


def test_the_value_left_through_numpy():
    w = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        squared = np.square(w.numpy())  # <- numpy
        loss = tf.reduce_sum(tf.constant(squared))
    assert ".numpy()" in only(tape.explain(loss, w), "left_tapegrad", "numpy").message


def test_the_value_left_through_a_numpy_function():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x * 2.0
        y = tf.reduce_sum(tf.constant(np.sin(h)))  # <- np call
    assert "NumPy" in only(tape.explain(y, x), "left_tapegrad", "np call").message


def test_the_value_left_through_python_math():
    x = tf.constant(0.5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.constant(math.exp(float(x)))  # <- python math
    assert "float()" in only(tape.explain(y, x), "left_tapegrad", "python math").message


def test_stop_gradient():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.stop_gradient(x * x) * 3.0  # <- stop_gradient
    only(tape.explain(y, x), "stop_gradient", "stop_gradient")


def test_target_computed_before_the_tape():
    x = tf.Variable(2.0)
    y = x * x  # <- before
    with tf.GradientTape() as tape:
        tape.watch(x)
    reason = only(tape.explain(y, x), "target_outside_tape", "before")
    assert "before the tape was entered" in reason.message


def test_target_computed_after_the_tape_stopped():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x
    assert tape.gradient(y, x) is not None
    z = x * 3.0  # <- after
    assert tape.gradient(z, x) is None
    reason = only(tape.explain(z, x), "target_outside_tape", "after")
    assert "after the tape stopped recording" in reason.message


def test_computed_inside_stop_recording():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        with tape.stop_recording():  # <- paused
            y = x * x
    only(tape.explain(y, x), "stop_recording", "paused")


def test_a_variable_rebound_to_a_tensor():
    w = tf.Variable(1.0)
    explained = []
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = (w * 2.0 - 1.0) ** 2
        grad = tape.gradient(loss, w)
        if grad is None:
            explained.append(tape.explain(loss, w))
            break
        w = w - 0.1 * grad  # <- rebound
    reason = only(explained[0], "rebound_variable", "rebound")
    assert f"line {line_of('rebound')} rebinds w" in reason.message
    assert "`w.assign_sub(0.1 * grad)`" in reason.message


def test_a_variable_rebound_before_the_tape():
    v = tf.Variable(2.0)
    v = v + 1.0  # <- rebound before
    with tf.GradientTape() as tape:  # <- tape after rebinding
        y = v * v
    assert tape.gradient(y, v) is None
    reason = only(tape.explain(y, v), "rebound_variable", "rebound before")
    assert (f"line {line_of('rebound before')}, before the tape began recording at line "
            f"{line_of('tape after rebinding')}, rebinds v") in reason.message
    assert "`v.assign_add(1.0)`" in reason.message


def test_a_tensor_explained_elsewhere_mentions_a_rebinding():
    v = tf.Variable(2.0)
    v = v + 1.0
    with tf.GradientTape() as tape:  # <- elsewhere
        y = v * v
    reason = only(explain_elsewhere(tape, y, v), "unwatched_constant", "elsewhere")
    assert "tape.watch(source)" in reason.message and "source.assign_add(1.0)" in reason.message


def test_an_intermediate_computed_before_the_tape():
    v = tf.Variable(2.0)
    h = v * 3.0  # <- intermediate
    with tf.GradientTape() as tape:  # <- tape after intermediate
        y = h * h
    reason = only(tape.explain(y, v), "computed_before_tape", "intermediate")
    assert (f"y uses h, which was computed from v at line {line_of('intermediate')} (`h = v * 3.0`), before "
            f"the tape began recording at line {line_of('tape after intermediate')}") in reason.message
    assert "layer" not in reason.message


def test_an_intermediate_two_steps_before_the_tape_of_a_watched_tensor():
    x = tf.constant(2.0)
    scaled = x * 3.0
    shifted, unrelated = scaled + 1.0, tf.constant(1.0)  # <- two steps
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = shifted * unrelated
    reason = only(tape.explain(y, x), "computed_before_tape", "two steps")
    assert "y uses shifted, which was computed from x" in reason.message


def test_a_source_tensor_computed_before_the_tape():
    v = tf.Variable(2.0)
    h = v * 3.0  # <- source before
    with tf.GradientTape() as tape:  # <- tape after source
        y = h * h
    reason = only(tape.explain(y, h), "computed_before_tape", "source before")
    assert (f"h was computed at line {line_of('source before')} (`h = v * 3.0`), before the tape began "
            f"recording at line {line_of('tape after source')}") in reason.message
    assert "block from v (the tape watches a variable it reads)" in reason.message
    assert "tape.watch(h)" in reason.message


def test_a_source_computed_before_the_tape_from_a_constant_is_to_be_watched():
    h = tf.constant(2.0)
    h = tf.exp(h)  # <- from a constant (no variable's rebinding)
    with tf.GradientTape() as tape:
        y = h * h
    reason = only(tape.explain(y, h), "computed_before_tape",
                  "from a constant (no variable's rebinding)")
    assert "Call tape.watch(h) inside the `with tf.GradientTape()` block" in reason.message


@pytest.mark.parametrize("op, marker", [
    (lambda h: tf.cast(tf.argmax(h), tf.float32), "argmax"),
    (lambda h: tf.cast(tf.cast(h, tf.int32), tf.float32), "cast"),
    (lambda h: tf.cast(h > 1.0, tf.float32), "greater"),
    (lambda h: tf.round(h), "round")])
def test_a_non_differentiable_op(op, marker):
    x = tf.constant([1.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(op(x * 2.0))
    explanation = tape.explain(y, x)
    assert explanation.causes == ["non_differentiable"], str(explanation)
    assert marker in explanation[0].message
    assert explanation[0].where.startswith(__file__)


def test_a_different_variable_object_the_model_was_rebuilt():
    model = tf.keras.Sequential([layers.Dense(2)])
    model(np.ones((1, 3), np.float32))
    old_variables = model.trainable_variables
    model = tf.keras.Sequential([layers.Dense(2)])  # <- rebuilt
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(np.ones((1, 3), np.float32)))
    explanation = tape.explain(loss, old_variables)
    assert explanation.causes == ["other_variable", "other_variable"], str(explanation)
    assert "a different variable of the same kind and shape" in explanation[0].message
    assert explanation[0].source == "old_variables[0]"


def test_watch_accessed_variables_off_without_watch():
    w = tf.Variable(2.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:  # <- no watch
        y = w * w
    only(tape.explain(y, w), "watch_accessed_off", "no watch")


def test_variables_listed_before_the_layer_was_built():
    model = tf.keras.Sequential([layers.Dense(2)])
    variables = model.trainable_variables  # <- not built
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(np.ones((1, 3), np.float32)))
    assert tape.gradient(loss, variables) == []
    reason = only(tape.explain(loss, variables), "no_sources", "not built")
    assert "built" in reason.message


def test_a_variable_the_target_does_not_use():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    with tf.GradientTape() as tape:  # <- unused
        y = a * 3.0
    explanation = tape.explain(y, [a, b])
    reason = only(explanation, "variable_unused", "unused")
    assert explanation[0].source == "b"
    assert "y was computed without using it inside the tape" in reason.message
    assert "layer" not in reason.message


def test_a_layer_variable_the_target_does_not_use_names_its_layer():
    head, w = layers.Dense(2, name="head"), tf.Variable(2.0)
    head(np.ones((1, 3), np.float32))
    with tf.GradientTape() as tape:  # <- layer unused
        loss = w * 3.0
    reason = only(tape.explain(loss, head.kernel), "variable_unused", "layer unused")
    assert "Was its layer, 'head', called inside" in reason.message


def test_an_unwatched_target_computed_before_the_tape():
    w = tf.Variable(2.0)
    loss = w * w  # <- unwatched before
    with tf.GradientTape() as tape:
        pass
    reason = only(tape.explain(loss, w), "target_outside_tape", "unwatched before")
    assert "before the tape was entered" in reason.message


def test_an_integer_target():
    x = tf.constant([1.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.argmax(x * 2.0)  # <- int target
    only(tape.explain(y, x), "integer_target", "int target")


def test_connected_sources_are_not_listed():
    x, w = tf.constant(1.0), tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * x
    assert list(tape.explain(y, [w])) == []
    assert str(tape.explain(y, [w])) == "every source gets a gradient"
    assert tape.explain(y, [w, x]).causes == ["unwatched_constant"]


def test_a_non_persistent_tape_keeps_the_explanation_of_its_nones():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:  # <- kept
        y = x * x
    assert tape.gradient(y, x) is None
    only(tape.explain(y, x), "unwatched_constant", "kept")
    w = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = w * w
    tape.gradient(y, w)
    assert str(tape.explain(y, w)) == "every source gets a gradient"   # about that same call
    with pytest.raises(RuntimeError, match="explain\\(\\) before gradient\\(\\)"):
        tape.explain(y * 2.0, w)                                     # about anything else: gone


def test_apply_gradients_says_why():
    used, unused = tf.Variable(1.0, name="used"), tf.Variable(2.0, name="unused")
    opt = tf.keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:  # <- optimizer
        loss = used * 2.0
    grads = tape.gradient(loss, [used, unused])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.apply_gradients(zip(grads, [used, unused]))
    text = str(caught[0].message)
    assert text.startswith("Gradients do not exist for variables ['unused']")
    assert "unused: no gradient - the tape never read unused" in text
    with tf.GradientTape() as tape:
        loss = used * 2.0
    grads = tape.gradient(loss, [unused])
    with pytest.raises(ValueError, match="(?s)No gradients provided for any variable.*the tape never read"):
        opt.apply_gradients(zip(grads, [unused]))
