"""What the losses refuse before computing: strings, labels with no class (out of range, NaN, inf)."""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError
from tapegrad.keras import losses
from tapegrad.keras.loss_checks import LabelValueError

PROBS = np.full((4, 3), 1 / 3, np.float32)
INT64_MIN = str(np.iinfo(np.int64).min)


def message(excinfo) -> str:
    return str(excinfo.value)


def test_an_out_of_range_label_names_the_loss_the_label_and_the_classes():
    for call in (lambda y: losses.sparse_categorical_crossentropy(y, PROBS),
                 lambda y: losses.SparseCategoricalCrossentropy()(y, PROBS)):
        with pytest.raises(InvalidArgumentError) as e:
            call(np.array([0, 1, 12, 2]))
        text = message(e)
        assert "Loss `sparse_categorical_crossentropy`" in text
        assert "Received a label value of 12 which is outside the valid range of [0, 3)" in text
        assert "Label values: 0 1 12 2" in text
        assert "3 classes" in text and __file__ in text  # the user's line


def test_a_loss_object_is_named_by_its_own_name():
    loss = losses.SparseCategoricalCrossentropy(name="digit_xent")
    with pytest.raises(LabelValueError, match=r"Loss `digit_xent`: Received a label value of -1 "):
        loss([0, -1, 1, 1], PROBS)


@pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_labels_are_reported_as_themselves_not_as_an_int64_cast(bad, shown):
    labels = np.array([0.0, bad, 1.0, 2.0])
    for call in (lambda: losses.sparse_categorical_crossentropy(labels, PROBS),
                 lambda: losses.SparseCategoricalCrossentropy(from_logits=True)(labels, PROBS * 3)):
        with pytest.raises(LabelValueError) as e:
            call()
        text = message(e)
        assert f"Received a label value of {shown} which is outside the valid range of [0, 3)" in text
        assert f"Label values: 0 {shown} 1 2" in text
        assert INT64_MIN not in text


def test_float_labels_are_the_classes_a_cast_makes_of_them():
    # as TF: a cast to int64 truncates, so 2.7 is class 2 and -0.5 class 0; 3.0 has no class
    got = losses.sparse_categorical_crossentropy([2.7, -0.5], PROBS[:2]).numpy()
    np.testing.assert_allclose(got, losses.sparse_categorical_crossentropy([2, 0], PROBS[:2]).numpy())
    with pytest.raises(LabelValueError, match=r"label value of 3 which"):
        losses.sparse_categorical_crossentropy([0.0, 3.0], PROBS[:2])


def test_ignored_entries_may_hold_any_label():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    assert float(loss([0, -1, 2, -1], PROBS)) == pytest.approx(np.log(3.0), rel=1e-5)
    with pytest.raises(LabelValueError, match=r"label value of nan"):
        loss([0, -1, np.nan, -1], PROBS)


def test_a_compiled_function_checks_the_labels_of_every_call():
    loss = losses.SparseCategoricalCrossentropy()

    @tf.function
    def compute(labels, probs):
        return loss(labels, probs)

    assert float(compute(tf.constant([0.0, 1.0, 2.0, 0.0]), tf.constant(PROBS))) == pytest.approx(np.log(3.0))
    with pytest.raises(LabelValueError) as e:
        compute(tf.constant([0.0, np.nan, 2.0, 0.0]), tf.constant(PROBS))
    assert "label value of nan" in message(e) and INT64_MIN not in message(e)
    with pytest.raises(LabelValueError, match=r"label value of 5 which is outside the valid range of \[0, 3"):
        compute(tf.constant([0.0, 5.0, 2.0, 0.0]), tf.constant(PROBS))
    assert compute.experimental_get_tracing_count() == 1


def test_string_targets_raise_a_type_error_naming_the_loss_and_the_data():
    with pytest.raises(TypeError) as e:
        losses.MeanSquaredError()(np.array(["1.0", "2.0"]), [[1.0], [2.0]])
    text = message(e)
    assert "Loss `mean_squared_error`" in text and "`y_true` holds strings" in text
    assert "shape (2,)" in text and "<U3" in text
    with pytest.raises(TypeError, match=r"Loss `sparse_categorical_crossentropy`: `y_true` holds strings"):
        losses.sparse_categorical_crossentropy(tf.constant(["a", "b", "c", "a"]), PROBS)
    with pytest.raises(TypeError, match=r"`y_pred` holds strings"):
        losses.MeanAbsoluteError()([1.0], ["1.0"])
