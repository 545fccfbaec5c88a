"""Keras 3 optimizers (``tf.keras.optimizers``) and their learning-rate ``schedules``."""
from __future__ import annotations

from . import schedules
from .adam import Adam, Adamax, AdamW, Nadam
from .base import Optimizer
from .lion import Lion
from .rmsprop import Adagrad, RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Lion",
           "LossScaleOptimizer", "schedules", "get", "serialize", "deserialize"]

# Keras 3 looks optimizers up by lower-cased class name: "adam", "Adam" and "ADAM" all work
_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad, Lion)}


def serialize(optimizer) -> dict:
    """The config dict of an optimizer (``deserialize`` inverts it).

    >>> import tapegrad as tf
    >>> tf.keras.optimizers.serialize(tf.keras.optimizers.SGD())["class_name"]
    'SGD'
    """
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """An optimizer from ``serialize``'s dict (class names are case-insensitive, as Keras).

    >>> import tapegrad as tf
    >>> opt = tf.keras.optimizers.deserialize({"class_name": "adam", "config": {"learning_rate": 0.01}})
    >>> type(opt).__name__, round(float(opt.learning_rate), 6)
    ('Adam', 0.01)
    """
    name = config.get("class_name", "")
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name.lower())
    if cls is None and name.lower() == "lossscaleoptimizer":
        cls = __getattr__("LossScaleOptimizer")
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    return cls.from_config(dict(config.get("config") or {}), custom_objects)


def get(identifier):
    """An optimizer from an instance, a name ("adam"), or a config dict.

    >>> import tapegrad as tf
    >>> type(tf.keras.optimizers.get("rmsprop")).__name__
    'RMSprop'
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in _BY_NAME:
            return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")


def __getattr__(name):
    """LossScaleOptimizer lives in keras.mixed_precision (which imports this package): loaded on use."""
    if name == "LossScaleOptimizer":
        from ..mixed_precision import LossScaleOptimizer
        return LossScaleOptimizer
    from ..._compat import missing
    raise missing("tf.keras.optimizers", name)
