"""A concrete function traced for a Python object (TF 2.21's behaviour, recorded from guide/function)."""
import pytest

import tapegrad as tf


class SimpleModel(tf.Module):
    def __init__(self):
        self.bias = 0.0
        self.weight = 2.0


def evaluate(model, x):
    return model.weight * x + model.bias


def test_the_traced_object_may_be_left_out():
    x = tf.constant(10.0)
    model = SimpleModel()
    concrete = tf.function(evaluate).get_concrete_function(model, x)
    assert float(concrete(x)) == 20.0
    model.bias += 5.0
    assert float(concrete(x)) == 20.0  # the trace keeps what it read
    assert float(concrete(model, x)) == 20.0
    again = tf.function(evaluate).get_concrete_function(model, x)
    assert float(again(x)) == 25.0 and float(again(x=x)) == 25.0


def test_signature_text_names_the_object():
    model = SimpleModel()
    concrete = tf.function(evaluate).get_concrete_function(model, tf.constant(1.0))
    text = str(concrete)
    assert "model (POSITIONAL_OR_KEYWORD): Weakref[<weakref at" in text
    assert "to 'SimpleModel' at" in text
    with pytest.raises(TypeError, match="Binding inputs to tf.function failed"):
        concrete()
    with pytest.raises(TypeError, match=r"Weakref\[<weakref at"):
        concrete(tf.constant(1.0), tf.constant(1.0))
