"""InputSpec and the input checks of Layer.__call__ (Keras 3's wording, the layer and shapes named)."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import layers
from tapegrad.keras.layers import InputSpec


def test_dense_wrong_width_names_layer_expected_and_received_shape():
    dense = layers.Dense(3, name="dense")
    dense(tf.ones([2, 4]))
    with pytest.raises(ValueError) as info:
        dense(tf.ones([5, 7]))
    message = str(info.value)
    assert message.startswith('Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of '
                              'input shape to have value 4, but received input with shape (5, 7)')
    assert "test_input_spec.py" in message  # the user's line


def test_dense_spec_before_and_after_build():
    dense = layers.Dense(3)
    assert dense.input_spec.min_ndim == 2 and not dense.input_spec.axes
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1\. Full shape received: \(7,\)"):
        dense(tf.ones([7]))
    assert not dense.built  # refused before building
    dense(np.ones((2, 5, 4)))  # more leading axes are fine
    assert dense.input_spec.axes == {-1: 4}


@pytest.mark.parametrize("make, bad, expected", [
    (lambda: layers.Conv2D(2, 3), np.ones((2, 5, 3)),
     r"expected ndim=4, found ndim=3\. Full shape received: \(2, 5, 3\)"),
    (lambda: layers.MaxPooling2D(), np.ones((2, 4)), "expected ndim=4, found ndim=2"),
    (lambda: layers.GlobalAveragePooling2D(), np.ones((2, 4, 4)), "expected ndim=4, found ndim=3"),
    (lambda: layers.UpSampling2D(), np.ones((2, 4)), "expected ndim=4"),
    (lambda: layers.ZeroPadding2D(), np.ones((2, 4)), "expected ndim=4"),
    (lambda: layers.Flatten(), np.float32(1.0), r"expected min_ndim=1, found ndim=0"),
])
def test_builtin_layers_check_rank(make, bad, expected):
    with pytest.raises(ValueError, match=expected):
        make()(bad)


@pytest.mark.parametrize("make", [lambda: layers.Conv2D(2, 3), lambda: layers.DepthwiseConv2D(3),
                                  lambda: layers.Conv2DTranspose(2, 3)])
def test_convolutions_fix_their_channels_when_built(make):
    layer = make()
    layer(np.ones((1, 5, 5, 3), np.float32))
    assert layer.input_spec.axes == {-1: 3}
    with pytest.raises(ValueError, match=rf'layer "{layer.name}" .* axis -1 of input shape to have value 3, '
                                         r"but received input with shape \(1, 5, 5, 4\)"):
        layer(np.ones((1, 5, 5, 4), np.float32))


def test_batch_normalization_fixes_rank_and_axis():
    bn = layers.BatchNormalization(axis=1)
    bn(np.ones((2, 3, 5), np.float32))
    assert bn.input_spec.ndim == 3 and bn.input_spec.axes == {1: 3}
    with pytest.raises(ValueError, match=r"expected axis 1 of input shape to have value 3"):
        bn(np.ones((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2"):
        bn(np.ones((2, 3), np.float32))


class Echo(layers.Layer):
    def call(self, x):
        return x


@pytest.mark.parametrize("spec, good, bad, expected", [
    (InputSpec(dtype="int32"), np.ones(2, np.int32), np.ones(2, np.int64),
     "expected dtype=int32, found dtype=int64"),
    (InputSpec(max_ndim=2), np.ones((2, 2)), np.ones((1, 1, 1)), "expected max_ndim=2, found ndim=3"),
    (InputSpec(shape=(None, 3)), np.ones((5, 3)), np.ones((5, 2)),
     r"expected shape=\(None, 3\), found shape=\(5, 2\)"),
    (InputSpec(shape=(None, 3, 1), allow_last_axis_squeeze=True), np.ones((5, 3)), np.ones((5, 2, 1)),
     r"expected shape=\(None, 3, 1\), found shape=\(5, 2, 1\)"),
    (InputSpec(ndim=2, name="x"), np.ones((1, 1)), np.ones(1), "Input 0 with name 'x' of layer"),
])
def test_a_custom_layer_spec_accepts_and_refuses(spec, good, bad, expected):
    layer = Echo(dtype=None if spec.dtype is None else spec.dtype)
    layer.input_spec = spec
    layer(good)
    with pytest.raises(ValueError, match=expected):
        layer(bad)


class Pair(layers.Layer):
    def call(self, inputs):
        a, b = (inputs["a"], inputs["b"]) if isinstance(inputs, dict) else inputs
        return a + b


def test_one_spec_per_input_and_named_dict_inputs():
    layer = Pair()
    layer.input_spec = [InputSpec(ndim=2, name="a"), InputSpec(ndim=2, name="b")]
    layer([tf.ones([1, 2]), tf.ones([1, 2])])
    with pytest.raises(ValueError, match=r'Layer "pair.*" expects 2 input\(s\), but it received 1 input '):
        layer([tf.ones([1, 2])])
    with pytest.raises(ValueError, match=r"Input 1 with name 'b' .* expected ndim=2, found ndim=1"):
        layer([tf.ones([1, 2]), tf.ones([2])])
    # a dict is matched by the specs' names, whatever its order
    with pytest.raises(ValueError, match=r"Input 0 with name 'a' .* found ndim=3"):
        layer({"b": tf.ones([1, 2]), "a": tf.ones([1, 1, 2])})
    with pytest.raises(ValueError, match='Missing data for input "b"'):
        layer({"a": tf.ones([1, 2])})


def test_symbolic_inputs_are_checked_when_the_model_is_defined():
    dense = layers.Dense(3, name="dense_sym")
    dense(tf.ones([1, 4]))
    with pytest.raises(ValueError, match=r'layer "dense_sym" .* to have value 4, but received input '
                                         r"with shape \(None, 7\)"):
        dense(tf.keras.Input(shape=(7,)))
    out = dense(tf.keras.Input(shape=(4,)))  # unknown batch: fine
    assert tuple(out.shape) == (None, 3)


def test_checks_run_on_traced_tensors_with_unknown_dims():
    dense = layers.Dense(3, name="dense_traced")
    dense(tf.ones([1, 4]))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def good(x):
        return dense(x)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def unknown_width(x):
        return dense(x)

    @tf.function(input_signature=[tf.TensorSpec([None, 7], tf.float32)])
    def bad(x):
        return dense(x)

    assert good(tf.ones([5, 4])).shape == (5, 3)
    assert unknown_width(tf.ones([2, 4])).shape == (2, 3)  # None is compatible, as in Keras
    with pytest.raises(ValueError, match=r"received input with shape \(None, 7\)"):
        bad(tf.ones([2, 7]))


def test_input_spec_object():
    spec = tf.keras.InputSpec(shape=(None, 4), axes={-1: 4})
    assert tf.keras.InputSpec is InputSpec
    assert repr(spec) == "InputSpec(shape=(None, 4), ndim=2, axes={-1: 4})"
    again = InputSpec.from_config(spec.get_config())
    assert (again.shape, again.ndim, again.axes) == ((None, 4), 2, {-1: 4})
    assert InputSpec(dtype=tf.float16).dtype == "float16"
    with pytest.raises(TypeError, match="integer keys"):
        InputSpec(axes={"last": 3})
    with pytest.raises(ValueError, match="Axis 3 is greater than the maximum allowed value: 1"):
        InputSpec(ndim=2, axes={3: 1})


def test_input_spec_setter_refuses_other_objects_and_none_clears():
    layer = Echo()
    with pytest.raises(TypeError, match="must be an InputSpec"):
        layer.input_spec = (2, 3)
    layer.input_spec = InputSpec(ndim=1)
    layer.input_spec = None
    assert layer(np.ones((2, 2))).shape == (2, 2)


def test_non_tensor_inputs_are_refused_by_name():
    from tapegrad.keras.layers.input_spec import assert_input_compatibility
    with pytest.raises(ValueError, match="Inputs to a layer should be tensors.*'pair_obj'"):
        assert_input_compatibility([InputSpec(), InputSpec()], [tf.ones([1]), object()], "pair_obj")
    assert_input_compatibility(None, object(), "anything")  # no spec: nothing checked
