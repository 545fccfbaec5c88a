"""Keras 3 activations (``tf.keras.activations``): elementwise functions, looked up by name.

Each is a composition of ``tf.nn`` / ``tf.math`` ops, so it works on the tape and
differentiates again.  ``get`` maps a name, None (``linear``) or a callable to a function;
``serialize`` gives a built-in's name back, as Keras 3 does.

A softmax output does not remember its logits (tapegrad tensors have fixed slots):
losses recognise probabilities numerically instead.
"""
from __future__ import annotations

import types

from .. import nn
from ..core.tensor import convert_to_tensor
from ..ops.math import cast, clip_by_value, exp, greater, where
from ..ops.math import sigmoid as _sigmoid
from ..ops.math import tanh as _tanh

__all__ = ["deserialize", "elu", "exponential", "gelu", "get", "hard_sigmoid", "hard_silu",
           "hard_swish", "leaky_relu", "linear", "log_softmax", "mish", "relu", "relu6", "selu",
           "serialize", "sigmoid", "silu", "softmax", "softplus", "softsign", "swish", "tanh"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, optionally leaky, capped at `max_value` or shifted to `threshold`.

    >>> import tapegrad as tf
    >>> x = [-10.0, -5.0, 0.0, 5.0, 10.0]
    >>> tf.keras.activations.relu(x).numpy()
    array([ 0.,  0.,  0.,  5., 10.], dtype=float32)
    >>> tf.keras.activations.relu(x, negative_slope=0.5, max_value=5.0).numpy()
    array([-5. , -2.5,  0. ,  5. ,  5. ], dtype=float32)
    """
    if negative_slope == 0 and max_value is None and threshold == 0:
        return nn.relu(x)  # the common case: one primitive, no Python around it
    x = convert_to_tensor(x)
    if negative_slope != 0 and max_value is None and threshold == 0:
        return nn.leaky_relu(x, alpha=negative_slope)
    if negative_slope != 0:
        negative_part = nn.relu(threshold - x if threshold != 0 else -x)
    if threshold != 0:
        y = x * cast(greater(x, threshold), x.dtype)  # x above the threshold, else 0
    elif max_value == 6:
        y, max_value = nn.relu6(x), None
    else:
        y = nn.relu(x)
    if max_value is not None:
        y = clip_by_value(y, 0.0, float(max_value))
    if negative_slope != 0:
        y = y - negative_slope * negative_part
    return y


def leaky_relu(x, negative_slope=0.2):
    """x where positive, negative_slope * x elsewhere.

    >>> import tapegrad as tf
    >>> tf.keras.activations.leaky_relu([-1.0, 2.0]).numpy()
    array([-0.2,  2. ], dtype=float32)
    """
    return nn.leaky_relu(x, alpha=negative_slope)


def relu6(x):
    """min(max(x, 0), 6).

    >>> import tapegrad as tf
    >>> tf.keras.activations.relu6([-1.0, 7.0]).numpy()
    array([0., 6.], dtype=float32)
    """
    return nn.relu6(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`.

    >>> import tapegrad as tf
    >>> tf.keras.activations.softmax([[0.0, 0.0]]).numpy()
    array([[0.5, 0.5]], dtype=float32)
    """
    return nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) along `axis`, computed stably.

    >>> import tapegrad as tf
    >>> round(float(tf.keras.activations.log_softmax([[0.0, 0.0]])[0, 0]), 6)
    -0.693147
    """
    return nn.log_softmax(x, axis=axis)


def elu(x, alpha=1.0):
    """x where positive, alpha * (exp(x) - 1) elsewhere.

    >>> import tapegrad as tf
    >>> tf.keras.activations.elu([0.0, 2.0], alpha=0.5).numpy()
    array([0., 2.], dtype=float32)
    """
    x = convert_to_tensor(x)
    y = nn.elu(x)
    if alpha == 1.0:
        return y
    return where(greater(x, 0.0), y, alpha * y)  # as Keras 3 scales tf.nn.elu's negative side


def selu(x):
    """Scaled ELU with the self-normalising constants (alpha 1.6733, scale 1.0507).

    >>> import tapegrad as tf
    >>> round(float(tf.keras.activations.selu(1.0)), 6)
    1.050701
    """
    return nn.selu(x)


def softplus(x):
    """log(exp(x) + 1).

    >>> import tapegrad as tf
    >>> round(float(tf.keras.activations.softplus(0.0)), 6)
    0.693147
    """
    return nn.softplus(x)


def softsign(x):
    """x / (|x| + 1).

    >>> import tapegrad as tf
    >>> float(tf.keras.activations.softsign(1.0))
    0.5
    """
    return nn.softsign(x)


def silu(x):
    """x * sigmoid(x) (also called swish).

    >>> import tapegrad as tf
    >>> round(float(tf.keras.activations.silu(1.0)), 6)
    0.731059
    """
    return nn.silu(x)


swish = silu


def gelu(x, approximate=False):
    """Gaussian error linear unit x * Phi(x); `approximate` uses the tanh form.

    Keras 3's ``activations.gelu`` (and so ``activation="gelu"``) is exact by default;
    ``keras.ops.gelu`` is the one that defaults to the approximation.

    >>> import tapegrad as tf
    >>> round(float(tf.keras.activations.gelu(1.0)), 5)
    0.84134
    """
    return nn.gelu(x, approximate=approximate)


def tanh(x):
    """Hyperbolic tangent.

    >>> import tapegrad as tf
    >>> float(tf.keras.activations.tanh(0.0))
    0.0
    """
    return _tanh(x)


def sigmoid(x):
    """1 / (1 + exp(-x)).

    >>> import tapegrad as tf
    >>> float(tf.keras.activations.sigmoid(0.0))
    0.5
    """
    return _sigmoid(x)


def exponential(x):
    """exp(x).

    >>> import tapegrad as tf
    >>> float(tf.keras.activations.exponential(0.0))
    1.0
    """
    return exp(x)


def hard_sigmoid(x):
    """Piecewise linear sigmoid: 0 below -3, 1 above 3, x / 6 + 0.5 between (Keras 3's form).

    >>> import tapegrad as tf
    >>> tf.keras.activations.hard_sigmoid([-4.0, 0.0, 1.5, 4.0]).numpy()
    array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)
    """
    return nn.relu6(convert_to_tensor(x) + 3.0) * (1.0 / 6.0)


def hard_silu(x):
    """x * hard_sigmoid(x) (also called hard swish).

    >>> import tapegrad as tf
    >>> tf.keras.activations.hard_silu([-4.0, 0.0, 4.0]).numpy()
    array([-0.,  0.,  4.], dtype=float32)
    """
    x = convert_to_tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def linear(x):
    """The identity (``activation=None`` means this).

    >>> import tapegrad as tf
    >>> tf.keras.activations.linear(tf.constant([1.5])).numpy()
    array([1.5], dtype=float32)
    """
    return x


def mish(x):
    """x * tanh(softplus(x)).

    >>> import tapegrad as tf
    >>> round(float(tf.keras.activations.mish(1.0)), 6)
    0.865098
    """
    x = convert_to_tensor(x)
    return x * _tanh(nn.softplus(x))


_BUILTINS = {fn.__name__: fn for fn in (relu, leaky_relu, relu6, softmax, log_softmax, elu, selu, softplus,
                                        softsign, silu, gelu, tanh, sigmoid, exponential, hard_sigmoid,
                                        hard_silu, linear, mish)}
_ALIASES = {"swish": silu, "hard_swish": hard_silu}


def get(identifier):
    """The activation function for a name, a serialized dict, a callable, or None (``linear``).

    >>> import tapegrad as tf
    >>> tf.keras.activations.get("relu").__name__, tf.keras.activations.get(None).__name__
    ('relu', 'linear')
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        fn = _BUILTINS.get(identifier) or _ALIASES.get(identifier)
        if fn is not None:
            return fn
    elif callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier}")


def serialize(activation):
    """A built-in's name; a custom function's or object's Keras 3 config dict.

    >>> import tapegrad as tf
    >>> tf.keras.activations.serialize(tf.keras.activations.swish)
    'silu'
    """
    if isinstance(activation, types.FunctionType) and _BUILTINS.get(activation.__name__) is activation:
        return activation.__name__
    if hasattr(activation, "get_config"):
        return {"module": type(activation).__module__, "class_name": type(activation).__name__,
                "config": activation.get_config(), "registered_name": type(activation).__name__}
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Unknown activation function '{activation}' cannot be serialized: it has no "
                         f"name. Use an activation name from tf.keras.activations or a named function.")
    from .serialization import get_registered_name
    registered = get_registered_name(activation)  # "package>name" when registered
    return {"module": getattr(activation, "__module__", None), "class_name": "function", "config": registered,
            "registered_name": registered}


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``: a name or a ``{"class_name": "function", "config": name}`` dict.

    >>> import tapegrad as tf
    >>> tf.keras.activations.deserialize({"class_name": "function", "config": "tanh"}).__name__
    'tanh'
    """
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        name = config
    elif isinstance(config, dict) and config.get("class_name") == "function":
        name = config.get("config")
    elif isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(config.get("config") or {})
    else:
        raise ValueError(f"Could not interpret activation function identifier: {config}")
    from .serialization import get_registered_object
    fn = get_registered_object(name, custom_objects) or _BUILTINS.get(name) or _ALIASES.get(name)
    if fn is None:
        raise ValueError(f"Unknown activation function '{name}'. Pass it in `custom_objects`, e.g. "
                         f"custom_objects={{{name!r}: {name}}}.")
    return fn

from .._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.keras.activations")  # a name not implemented: an honest AttributeError
