"""Dense, Embedding, Activation, Masking, Lambda, and the kernel/bias/activation plumbing Dense shares
with the convolutions."""
from __future__ import annotations

import inspect

from ...core import dtypes
from ...core.aval import dims
from ...ops.array import reshape
from ...ops.indexing import gather
from ...ops.linalg import matmul
from ...ops.math import add, cast, not_equal
from ...ops.reduce import reduce_any
from .. import activations
from ._utils import lookup, positive_int, serialize
from .base import Layer
from .input_spec import InputSpec


class KernelLayer(Layer):
    """Base of layers computing ``activation(op(inputs, kernel) + bias)``: Dense and the convolutions.

    It holds the Keras arguments those layers share (activation, use_bias, and the kernel's and the
    bias's initializer, regularizer and constraint), creates the weights in Keras' order (kernel,
    then bias) and writes the shared part of the config.  ``kernel_arg`` is the prefix of the
    kernel's arguments in the config: DepthwiseConv2D calls them ``depthwise_*``.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Dense(2, activation="relu").get_config()["activation"]
    'relu'
    """

    kernel_arg = "kernel"

    def __init__(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=lookup("regularizers", activity_regularizer), **kwargs)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = lookup("initializers", kernel_initializer)
        self.bias_initializer = lookup("initializers", bias_initializer)
        self.kernel_regularizer = lookup("regularizers", kernel_regularizer)
        self.bias_regularizer = lookup("regularizers", bias_regularizer)
        self.kernel_constraint = lookup("constraints", kernel_constraint)
        self.bias_constraint = lookup("constraints", bias_constraint)

    def _add_kernel_and_bias(self, kernel_shape, bias_size: int) -> None:
        self.kernel = self.add_weight(shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(bias_size,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def _finish(self, y):
        """y + bias, then the activation (skipped when it is ``linear``: one call less per step)."""
        if self.bias is not None:
            y = add(y, self.bias)
        if self.activation is not activations.linear:
            y = self.activation(y)
        return y

    def get_config(self) -> dict:
        p = self.kernel_arg
        return {**super().get_config(),
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                f"{p}_initializer": serialize("initializers", self.kernel_initializer),
                "bias_initializer": serialize("initializers", self.bias_initializer),
                f"{p}_regularizer": serialize("regularizers", self.kernel_regularizer),
                "bias_regularizer": serialize("regularizers", self.bias_regularizer),
                "activity_regularizer": serialize("regularizers", self.activity_regularizer),
                f"{p}_constraint": serialize("constraints", self.kernel_constraint),
                "bias_constraint": serialize("constraints", self.bias_constraint)}


class Dense(KernelLayer):
    """``activation(inputs @ kernel + bias)`` on the last axis; kernel (input_dim, units), bias (units,).

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Dense(4, activation="relu")
    >>> layer(tf.ones([2, 3])).shape, [tuple(w.shape) for w in layer.weights]
    (TensorShape([2, 4]), [(3, 4), (4,)])
    """

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        units = positive_int(units, "units")
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.units = units
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"min_ndim=2 with a known last axis, found shape {input_shape}")
        self._add_kernel_and_bias((input_shape[-1], self.units), self.units)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_shape[-1]})
        self.built = True

    def call(self, inputs):
        if inputs.ndim == 2:
            y = matmul(inputs, self.kernel)
        else:
            # one 2-D matmul over the flattened leading axes: a broadcast batched matmul would
            # give the kernel a per-batch gradient to sum back
            lead = tuple(dims(inputs)[:-1])
            y = reshape(matmul(reshape(inputs, (-1, dims(inputs)[-1])), self.kernel), lead + (self.units,))
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


class Embedding(Layer):
    """Rows of an (input_dim, output_dim) table at integer `inputs`; the table's gradient is sparse.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Embedding(10, 3)
    >>> layer(tf.constant([[1, 2], [3, 4]])).shape
    TensorShape([2, 2, 3])
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, activity_regularizer=None, **kwargs):
        input_dim, output_dim = positive_int(input_dim, "input_dim"), positive_int(output_dim, "output_dim")
        super().__init__(activity_regularizer=lookup("regularizers", activity_regularizer), **kwargs)
        self.autocast = False  # the table is read in its own dtype (a sparse gradient); the rows are cast
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = lookup("initializers", embeddings_initializer)
        self.embeddings_regularizer = lookup("regularizers", embeddings_regularizer)
        self.embeddings_constraint = lookup("constraints", embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape=None) -> None:
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")
        self.built = True

    def call(self, inputs):
        if not inputs.dtype.is_integer:
            inputs = cast(inputs, dtypes.int32)
        outputs = gather(self.embeddings, inputs)
        return outputs if outputs.dtype == self._dtype_compute else cast(outputs, self._dtype_compute)

    def compute_mask(self, inputs, mask=None):
        """Where `inputs` != 0 when mask_zero: the steps that RNN and attention layers downstream read."""
        return not_equal(inputs, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": serialize("initializers", self.embeddings_initializer),
                "embeddings_regularizer": serialize("regularizers", self.embeddings_regularizer),
                "activity_regularizer": serialize("regularizers", self.activity_regularizer),
                "embeddings_constraint": serialize("constraints", self.embeddings_constraint),
                "mask_zero": self.mask_zero}


class Activation(Layer):
    """Applies an activation function, given by name or as a callable.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Activation("relu")(tf.constant([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Masking(Layer):
    """Masks the time steps whose features all equal `mask_value`: the steps that layers downstream
    (RNNs, attention) skip; those steps' features are zeroed.

    >>> import tapegrad as tf
    >>> x = tf.constant([[[1.0], [0.0], [2.0]]])
    >>> layer = tf.keras.layers.Masking(mask_value=0.0)
    >>> layer.compute_mask(x).numpy()
    array([[ True, False,  True]])
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return reduce_any(not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        boolean_mask = reduce_any(not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return inputs * cast(boolean_mask, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``function(inputs, **arguments)``.

    ``output_shape`` (without the batch axis, or a function of the input shape) answers
    ``compute_output_shape``; ``mask`` (a mask, or a function ``mask(inputs, previous_mask)``) is the
    output's mask; a function taking ``mask`` or ``training`` receives them.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.Lambda(lambda x, k: x * k, arguments={"k": 3.0})
    >>> layer(tf.constant([1.0, 2.0])).numpy()
    array([3., 6.], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.arguments = arguments or {}
        self.function = function
        self.supports_masking = mask is not None
        self.mask = mask
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_expects_training_arg = "training" in params
        self._fn_expects_mask_arg = "mask" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            try:
                return super().compute_output_shape(input_shape)
            except Exception:
                raise NotImplementedError(
                    f"Layer '{self.name}': we could not automatically infer the shape of the Lambda's "
                    "output. Please specify the `output_shape` argument for this Lambda layer.") from None
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = _first_shape(input_shape)[0]
        return _add_batch(self._output_shape, batch)

    def get_config(self) -> dict:
        config = {**super().get_config(), "function": self.function}
        if self._output_shape is not None:
            config["output_shape"] = self._output_shape
        if self.mask is not None:
            config["mask"] = self.mask
        config["arguments"] = self.arguments
        return config


def _first_shape(shape):
    """The first shape in a nest of shapes (a shape is a tuple of ints and Nones)."""
    while isinstance(shape, (list, tuple, dict)) and shape and \
            not all(d is None or isinstance(d, int) for d in (shape.values() if isinstance(shape, dict)
                                                               else shape)):
        shape = next(iter(shape.values())) if isinstance(shape, dict) else shape[0]
    return tuple(shape)


def _add_batch(shape, batch):
    if isinstance(shape, dict):
        return {k: _add_batch(v, batch) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return type(shape)(_add_batch(s, batch) for s in shape)
    return (batch,) + tuple(shape)
