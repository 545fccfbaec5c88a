"""``tf.keras.backend``: the global settings (``floatx``, ``epsilon``, ``image_data_format``) and the small
helpers tutorials call (``int_shape``, ``get_value``/``set_value``, ``random_normal``, ...).
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

# Process-wide, as Keras keeps them.  floatx is the default dtype of new layers (through the global dtype
# policy); the built-in losses and metrics clip with 1e-7 whatever set_epsilon says.
_settings = {"floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last"}
_uids: dict = {}
_uid_lock = threading.Lock()


def clear_session() -> None:
    """Start layer names over ('dense', 'dense_1', ... count from zero again) and reset the global
    dtype policy (``keras.mixed_precision``).

    >>> import tapegrad as tf
    >>> tf.keras.backend.clear_session()
    >>> tf.keras.layers.Layer().name
    'layer'
    >>> tf.keras.backend.clear_session()
    >>> tf.keras.layers.Layer().name
    'layer'
    """
    from .layers.base import reset_names
    from .mixed_precision import policy
    reset_names()
    _uids.clear()
    policy.reset_global_policy()  # as Keras 3


def floatx() -> str:
    """The default float type of layers and inputs: ``'float32'``.

    >>> floatx()
    'float32'
    """
    return _settings["floatx"]


def epsilon() -> float:
    """The fuzz factor losses and metrics add to avoid dividing by zero: 1e-7.

    >>> epsilon()
    1e-07
    """
    return _settings["epsilon"]


def image_data_format() -> str:
    """Where image tensors keep their channels: ``'channels_last'`` (as TensorFlow's default).

    >>> image_data_format()
    'channels_last'
    """
    return _settings["image_data_format"]


def set_floatx(value: str) -> None:
    """Make `value` ('float16', 'float32', 'float64') the default float type.  As Keras 3, new layers
    follow it until the global dtype policy is first read, and again after ``clear_session``.

    >>> import tapegrad as tf
    >>> tf.keras.backend.set_floatx("float64"); tf.keras.backend.clear_session()
    >>> tf.keras.layers.Dense(1).dtype
    'float64'
    >>> tf.keras.backend.set_floatx("float32"); tf.keras.backend.clear_session()
    """
    accepted = {"float16", "bfloat16", "float32", "float64"}
    value = str(value)
    if value not in accepted:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of {accepted}")
    _settings["floatx"] = value


def set_epsilon(value) -> None:
    """Set the value ``epsilon()`` returns (the built-in losses and metrics keep clipping with 1e-7).

    >>> set_epsilon(1e-5); epsilon()
    1e-05
    >>> set_epsilon(1e-7)
    """
    _settings["epsilon"] = value


def set_image_data_format(data_format: str) -> None:
    """Record where images keep their channels; tapegrad's layers compute ``'channels_last'`` only.

    >>> set_image_data_format("channels_last"); image_data_format()
    'channels_last'
    """
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    _settings["image_data_format"] = data_format


def int_shape(x) -> tuple:
    """The shape of a tensor, variable or Keras input as a tuple of ints (None where unknown).

    >>> import tapegrad as tf
    >>> int_shape(tf.ones((2, 3))), int_shape(tf.keras.Input((3,)))
    ((2, 3), (None, 3))
    """
    return tuple(None if d is None else int(d) for d in x.shape)


def ndim(x) -> int:
    """The number of axes of `x`.

    >>> import tapegrad as tf
    >>> ndim(tf.ones((2, 3)))
    2
    """
    return len(x.shape)


def dtype(x) -> str:
    """The name of `x`'s dtype.

    >>> import tapegrad as tf
    >>> dtype(tf.ones(2))
    'float32'
    """
    from ..core import dtypes
    return dtypes.as_dtype(x.dtype).name


def get_value(x):
    """The value of a variable or tensor as a NumPy array (a NumPy scalar for rank 0).

    >>> import tapegrad as tf
    >>> get_value(tf.Variable([1.0, 2.0]))
    array([1., 2.], dtype=float32)
    """
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


eval = get_value  # noqa: A001 - Keras's name


def batch_get_value(tensors) -> list:
    """``get_value`` of each.

    >>> import tapegrad as tf
    >>> batch_get_value([tf.Variable(1.0), tf.constant(2)])
    [np.float32(1.0), np.int32(2)]
    """
    return [get_value(x) for x in tensors]


def set_value(x, value) -> None:
    """Assign `value` (cast to the variable's dtype) to the variable `x`.

    >>> import tapegrad as tf
    >>> v = tf.Variable([1.0, 2.0]); set_value(v, [3, 4]); v.numpy()
    array([3., 4.], dtype=float32)
    """
    x.assign(np.asarray(value, dtype=x.dtype.as_numpy_dtype))


def batch_set_value(tuples) -> None:
    """``set_value(x, value)`` for each ``(x, value)`` pair.

    >>> import tapegrad as tf
    >>> v = tf.Variable(0.0); batch_set_value([(v, 5.0)]); float(v)
    5.0
    """
    for x, value in tuples:
        set_value(x, value)


def count_params(x) -> int:
    """The number of elements of a variable or tensor.

    >>> import tapegrad as tf
    >>> count_params(tf.Variable(tf.ones((2, 3))))
    6
    """
    return int(np.prod(x.shape, dtype=np.int64))


def variable(value, dtype=None, name=None, constraint=None):
    """A Variable holding `value` (floats as ``floatx()`` unless `dtype` is given).

    >>> variable([1.0, 2.0], name="v").name
    'v:0'
    """
    from ..core.tensor import Variable
    value = np.asarray(value)
    if dtype is None and value.dtype.kind == "f":
        dtype = floatx()
    return Variable(value if dtype is None else value.astype(dtype), name=name, constraint=constraint)


def constant(value, dtype=None, shape=None, name=None):
    """A tensor holding `value` (``floatx()`` unless `dtype` is given).

    >>> constant(1, shape=(2,)).numpy()
    array([1., 1.], dtype=float32)
    """
    from ..core.tensor import constant as _constant
    return _constant(value, dtype=dtype or floatx(), shape=shape)


def cast_to_floatx(x):
    """`x` as a NumPy array of ``floatx()``.

    >>> cast_to_floatx([1, 2])
    array([1., 2.], dtype=float32)
    """
    return np.asarray(x, dtype=floatx())


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples of ``floatx()`` (or `dtype`).

    >>> random_normal((2, 3), seed=1).shape
    TensorShape([2, 3])
    """
    from ..ops.random import normal
    return normal(shape, mean, stddev, dtype=dtype or floatx(), seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform samples in ``[minval, maxval)`` of ``floatx()`` (or `dtype`).

    >>> x = random_uniform((100,), seed=1).numpy(); bool(x.min() >= 0.0 and x.max() < 1.0)
    True
    """
    from ..ops.random import uniform
    return uniform(shape, minval, maxval, dtype=dtype or floatx(), seed=seed)


def is_keras_tensor(x) -> bool:
    """True for the symbolic inputs and outputs of functional models (``keras.Input``).

    >>> import tapegrad as tf
    >>> is_keras_tensor(tf.keras.Input((3,))), is_keras_tensor(tf.ones(2))
    (True, False)
    """
    return bool(getattr(x, "_is_keras_tensor", False))


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... for successive calls with the same prefix (restarted by ``clear_session``).

    >>> get_uid("tapegrad_doctest"), get_uid("tapegrad_doctest")
    (1, 2)
    """
    with _uid_lock:
        counter = _uids.setdefault(prefix, itertools.count(1))
        return next(counter)


def standardize_dtype(dtype) -> str:
    """A dtype's name (``None``: ``floatx()``).

    >>> import tapegrad as tf
    >>> standardize_dtype(tf.float64), standardize_dtype(None)
    ('float64', 'float32')
    """
    from ..core import dtypes
    return floatx() if dtype is None else dtypes.as_dtype(dtype).name


from .._compat import module_getattr as _module_getattr  # noqa: E402
__getattr__ = _module_getattr("tf.keras.backend")
