"""``tf.keras.backend``: the few global settings a custom training loop touches."""
from __future__ import annotations

# Fixed for now: layers (keras/layers/base.py) default to float32 and losses use 1e-7 directly.
_FLOATX = "float32"
_EPSILON = 1e-7


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
    policy.reset_global_policy()  # as Keras 3


def floatx() -> str:
    """The default float type of layers and inputs: ``'float32'``.

    >>> floatx()
    'float32'
    """
    return _FLOATX


def epsilon() -> float:
    """The fuzz factor losses and metrics add to avoid dividing by zero: 1e-7.

    >>> epsilon()
    1e-07
    """
    return _EPSILON


def image_data_format() -> str:
    """Where image tensors keep their channels: ``'channels_last'`` (as TensorFlow's default).

    >>> image_data_format()
    'channels_last'
    """
    return "channels_last"
