"""``tf.keras.mixed_precision``: dtype policies (float16 compute with float32 variables) and dynamic loss
scaling, as Keras 3 keeps them under this name.

>>> import tapegrad as tf
>>> tf.keras.mixed_precision.set_global_policy("mixed_float16")
>>> layer = tf.keras.layers.Dense(2)
>>> y = layer(tf.ones([1, 3]))
>>> y.dtype, layer.kernel.dtype
(tf.float16, tf.float32)
>>> tf.keras.mixed_precision.set_global_policy("float32")
"""
from .policy import (
    DTypePolicy,
    FloatDTypePolicy,
    Policy,
    dtype_policy,
    get,
    global_policy,
    set_dtype_policy,
    set_global_policy,
)

__all__ = [
    "DTypePolicy",
    "FloatDTypePolicy",
    "LossScaleOptimizer",
    "Policy",
    "dtype_policy",
    "get",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]


def __getattr__(name):
    """LossScaleOptimizer loads the optimizers: only when used (layers import the policies)."""
    if name == "LossScaleOptimizer":
        from .loss_scale_optimizer import LossScaleOptimizer
        globals()[name] = LossScaleOptimizer
        return LossScaleOptimizer
    raise AttributeError(f"module 'tapegrad.keras.mixed_precision' has no attribute {name!r}")
