"""The public surface TF code touches outside the ops: versions, devices, tf.config, dtypes, TF's
initializers, keras.backend helpers, and honest AttributeErrors for what tapegrad lacks.

Expected values recorded from TensorFlow 2.21.0 / Keras 3.15.1 (/tmp scripts, CPU).
"""
import os

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _compat_doc


def test_versions():
    assert tf.__version__ == "2.21.0" and tf.version.VERSION == "2.21.0"
    assert tf.__version__.startswith("2.") and tf.__tapegrad_version__ == tf.version.TAPEGRAD_VERSION


@pytest.mark.parametrize("expr, namespace", [
    ("tf.foo", "tf"), ("tf.keras.foo", "tf.keras"), ("tf.keras.layers.Foo", "tf.keras.layers"),
    ("tf.math.foo", "tf.math"), ("tf.nn.foo", "tf.nn"), ("tf.linalg.foo", "tf.linalg"),
    ("tf.config.foo", "tf.config"), ("tf.config.experimental.foo", "tf.config.experimental"),
    ("tf.dtypes.foo", "tf.dtypes"), ("tf.keras.backend.foo", "tf.keras.backend")])
def test_missing_names_are_honest_attribute_errors(expr, namespace):
    with pytest.raises(AttributeError, match=rf"^tapegrad does not implement {namespace}\.[fF]oo yet; see "
                                             r"docs/compat.md for what is supported$"):
        eval(expr)
    assert not hasattr(eval(expr.rsplit(".", 1)[0]), "foo")


def test_compat_doc_is_generated_from_the_code():
    # others add names: regenerate with `python -m tapegrad._compat_doc`
    with open(_compat_doc.DOC, encoding="utf-8") as f:
        assert f.read() == _compat_doc.render()


def test_executing_eagerly_and_device():
    seen = []

    @tf.function
    def f(x):
        seen.append(tf.executing_eagerly())
        return x + 1

    f(tf.constant(1.0))
    assert tf.executing_eagerly() and seen == [False]
    for name in ["/GPU:0", "/gpu:0", "GPU:0", "/device:GPU:0", "/CPU:0", "cpu:0", "CPU", "/GPU:1", "",
                 "/job:localhost/replica:0/task:0/device:GPU:0", "/TPU:0", "gpu", "/device:CPU:*"]:
        with tf.device(name) as entered:
            x = tf.constant(1.0) + 1
        assert entered is None and x.device == "/job:localhost/replica:0/task:0/device:CPU:0"
    for name, message in [("/XLA_GPU:0", ("Unknown attribute 'XLA_GPU' is encountered while parsing the device "
                                         "spec: '/XLA_GPU:0'.")),
                          ("/GPU:0/CPU:0", ("Multiple device types are not allowed while parsing the device "
                                           "spec: /GPU:0/CPU:0.")),
                          (3, "Expecting a string device name. Got <class 'int'>(3)")]:
        with pytest.raises(ValueError) as e:
            tf.device(name)
        assert str(e.value) == message


def test_config_devices_and_threads():
    cpu = tf.config.list_physical_devices()
    assert repr(cpu) == "[PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')]"
    assert tf.config.list_physical_devices("GPU") == [] and tf.config.list_physical_devices("cpu") == []
    assert repr(tf.config.list_logical_devices()) == "[LogicalDevice(name='/device:CPU:0', device_type='CPU')]"
    assert tf.config.list_physical_devices("CPU")[0].device_type == "CPU"
    tf.config.set_visible_devices([], "GPU")
    assert tf.config.get_visible_devices() == cpu and tf.config.get_visible_devices("GPU") == []
    with pytest.raises(ValueError, match="Cannot set memory growth on non-GPU and non-Pluggable devices"):
        tf.config.experimental.set_memory_growth(cpu[0], True)
    assert tf.config.threading.get_intra_op_parallelism_threads() == 0
    tf.config.threading.set_inter_op_parallelism_threads(3)
    try:
        assert tf.config.threading.get_inter_op_parallelism_threads() == 3
    finally:
        tf.config.threading.set_inter_op_parallelism_threads(0)
    assert tf.config.get_soft_device_placement() is True


def test_dtypes_and_types_namespaces():
    assert tf.dtypes.float32 is tf.float32 and tf.dtypes.as_dtype("float32") is tf.float32
    assert tf.dtypes.cast(tf.constant([1.7]), tf.int32).numpy().tolist() == [1]
    assert isinstance(tf.float32, tf.dtypes.DType)
    te = tf.types.experimental
    assert te.TensorLike is not None and te.TraceType is not None and te.PolymorphicFunction is type(tf.function(abs))


def test_tf_initializers():
    # TF 2.21: unseeded random initializers draw anew each call; seeded ones repeat
    init = tf.random_normal_initializer()
    assert not np.array_equal(init((3,)).numpy(), init((3,)).numpy())
    init = tf.random_uniform_initializer(seed=1)
    assert np.array_equal(init((3,)).numpy(), init((3,)).numpy())
    assert tf.random_normal_initializer(mean=1.0, stddev=0.0)((2,)).numpy().tolist() == [1.0, 1.0]
    assert tf.random_normal_initializer().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert tf.random_uniform_initializer(-1.0, 1.0).get_config() == {"minval": -1.0, "maxval": 1.0, "seed": None}
    assert tf.constant_initializer([1, 2]).get_config() == {"value": [1, 2]}
    assert tf.zeros_initializer().get_config() == {} and type(tf.zeros_initializer()).__name__ == "Zeros"
    assert tf.zeros_initializer()(shape=[2]).dtype == tf.float32
    assert tf.ones_initializer()((2,), dtype=tf.int32).numpy().tolist() == [1, 1]
    assert tf.constant_initializer(2)((2,), dtype=tf.int32).numpy().tolist() == [2, 2]
    assert tf.constant_initializer([1, 2, 3])((3,)).numpy().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"Argument `dtype` is expected to be floating point. Received: "
                                         r"tf.int32."):
        tf.random_normal_initializer()((2,), dtype=tf.int32)
    with pytest.raises(TypeError, match="has 3 elements, but got `shape` \\(2,\\) with 2 elements"):
        tf.constant_initializer([1, 2, 3])((2,))
    with pytest.raises(TypeError, match="Invalid type for initial value"):
        tf.constant_initializer(tf.constant([1.0, 2.0]))


def test_keras_aliases_and_backend():
    assert tf.keras.regularizers.l2 is tf.keras.regularizers.L2
    assert tf.keras.regularizers.l2(0.1).get_config() == {"l2": 0.1}
    assert tf.keras.regularizers.l1_l2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert tf.keras.initializers.random_normal is tf.keras.initializers.RandomNormal
    K = tf.keras.backend
    assert K.int_shape(tf.ones((2, 3))) == (2, 3) and K.int_shape(tf.keras.Input((3,))) == (None, 3)
    assert K.get_value(tf.Variable(2.0)) == np.float32(2.0)
    v = tf.Variable([1.0, 2.0])
    K.set_value(v, [3, 4])
    assert v.numpy().tolist() == [3.0, 4.0] and K.count_params(tf.Variable(tf.ones((2, 3)))) == 6
    assert K.random_normal((2,), seed=1).dtype == tf.float32 and K.is_keras_tensor(tf.ones(2)) is False
    assert K.variable([1.0, 2.0], name="v").name == "v:0" and K.cast_to_floatx([1, 2]).dtype == np.float32
    assert K.ndim(tf.ones((2, 3))) == 2 and K.dtype(tf.ones(2)) == "float32"
    with pytest.raises(ValueError, match="Unknown `floatx` value: int32. Expected one of"):
        K.set_floatx("int32")
    with pytest.raises(ValueError, match="The `data_format` argument must be one of"):
        K.set_image_data_format("nchw")


def test_dir_hides_internals():
    names = dir(tf)
    assert "Module" in names and "keras" in names and "core" not in names and "annotations" not in names
    assert os.path.basename(_compat_doc.DOC) == "compat.md"


def test_star_import_of_keras_gives_its_submodules():
    names = {}
    exec("from tapegrad.keras import *", names)  # noqa: S102 - what keras_tuner does with keras
    assert {"layers", "models", "optimizers", "Model", "Sequential", "Input"} <= set(names)
    assert names["layers"] is tf.keras.layers
