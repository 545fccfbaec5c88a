"""BatchNormalization and LayerNormalization."""
from __future__ import annotations

import numbers

from ... import nn
from ...core import dtypes
from ...ops.array import reshape, stop_gradient
from ...ops.math import cast, rsqrt
from ...ops.reduce import reduce_mean
from ._utils import lookup, serialize
from .base import Layer
from .input_spec import InputSpec


def _axes(layer, axis, rank: int) -> tuple:
    """`axis` (an int or ints, negative from the end) as sorted non-negative axes of a rank-`rank` input."""
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    if not axes or any(not -rank <= a < rank for a in axes):
        raise ValueError(f"Invalid axis {axis} for layer '{layer.name}': the input has rank {rank}.")
    return tuple(sorted(int(a) % rank for a in axes))


def _as(x, dtype):
    """x in `dtype` (None stays None; no op when it already is)."""
    return x if x is None or dtype is None or x.dtype == dtype else cast(x, dtype)


class _Normalization(Layer):
    """Shared by both: epsilon, and the learned scale gamma (created first) and offset beta.

    As Keras 3's, they do not autocast: float16 inputs are normalised in float32 (their statistics
    overflow in float16) with the weights as they are, and the result is cast to the compute dtype.
    """

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, **kwargs):
        super().__init__(**kwargs)
        self.autocast = False
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = lookup("initializers", beta_initializer)
        self.gamma_initializer = lookup("initializers", gamma_initializer)
        self.beta_regularizer = lookup("regularizers", beta_regularizer)
        self.gamma_regularizer = lookup("regularizers", gamma_regularizer)
        self.beta_constraint = lookup("constraints", beta_constraint)
        self.gamma_constraint = lookup("constraints", gamma_constraint)

    def _param_shape(self, input_shape) -> tuple:
        """The shape of the parameters; also fixes the normalised axes and how parameters broadcast."""
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        self._axes = _axes(self, self.axis, rank)
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} of the input shape {input_shape} must be "
                             f"known to create its weights.")
        # parameters of the last axis broadcast as they are; others are reshaped in call
        self._broadcast_shape = None if self._axes == (rank - 1,) else \
            tuple(input_shape[a] if a in self._axes else 1 for a in range(rank))
        return shape

    def _add_gamma_and_beta(self, shape) -> None:
        self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                     name="gamma") if self.scale else None
        self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                    name="beta") if self.center else None

    def _broadcast(self, value, dtype=None):
        value = _as(value, dtype)
        if value is None or self._broadcast_shape is None:
            return value
        return reshape(value, self._broadcast_shape)

    @staticmethod
    def _work_dtype(inputs):
        """float64 for float64 inputs, else float32 (Keras: the result type of the input and float32)."""
        return dtypes.float64 if inputs.dtype == dtypes.float64 else dtypes.float32

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale,
                "beta_initializer": serialize("initializers", self.beta_initializer),
                "gamma_initializer": serialize("initializers", self.gamma_initializer),
                "beta_regularizer": serialize("regularizers", self.beta_regularizer),
                "gamma_regularizer": serialize("regularizers", self.gamma_regularizer),
                "beta_constraint": serialize("constraints", self.beta_constraint),
                "gamma_constraint": serialize("constraints", self.gamma_constraint)}


class BatchNormalization(_Normalization):
    """Normalise each channel (`axis`) with batch statistics while training, moving averages otherwise.

    ``if training and self.trainable``: use the batch mean and (biased) variance and update
    ``moving = moving * momentum + batch * (1 - momentum)`` by plain assigns, off the tape.
    Otherwise, and always once ``layer.trainable = False``, use the moving statistics.
    Weights: gamma, beta (trainable), moving_mean, moving_variance (not trainable).

    >>> import tapegrad as tf
    >>> bn = tf.keras.layers.BatchNormalization(momentum=0.5)
    >>> _ = bn(tf.constant([[1.0], [3.0]]), training=True)
    >>> [w.path for w in bn.weights], bn.moving_mean.numpy()
    (['batch_normalization/gamma', 'batch_normalization/beta', 'batch_normalization/moving_mean',
      'batch_normalization/moving_variance'], array([1.], dtype=float32))
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"Expected an int for the argument 'axis', but received: {axis!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.moving_mean_initializer = lookup("initializers", moving_mean_initializer)
        self.moving_variance_initializer = lookup("initializers", moving_variance_initializer)
        self.synchronized = bool(synchronized)  # one replica: nothing to synchronise

    def build(self, input_shape) -> None:
        shape = self._param_shape(input_shape)
        self._reduction_axes = tuple(a for a in range(len(tuple(input_shape))) if a not in self._axes)
        self._add_gamma_and_beta(shape)
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        input_shape = tuple(input_shape)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: input_shape[self.axis]})
        self.built = True

    def call(self, inputs, training=None):
        work = self._work_dtype(inputs)
        inputs = _as(inputs, work)
        if training and self.trainable:
            mean, variance = nn.moments(inputs, self._reduction_axes)
            self._update_moving(self.moving_mean, mean)
            self._update_moving(self.moving_variance, variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        outputs = nn.batch_normalization(inputs, self._broadcast(mean, work), self._broadcast(variance, work),
                                         self._broadcast(self.beta, work), self._broadcast(self.gamma, work),
                                         self.epsilon)
        return _as(outputs, self._dtype_compute)

    def _update_moving(self, moving, batch_value) -> None:
        # stop_gradient: the update is state, not part of the computation the tape differentiates
        batch_value = _as(stop_gradient(batch_value), moving.dtype)
        moving.assign(moving * self.momentum + batch_value * (1.0 - self.momentum))

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": serialize("initializers", self.moving_mean_initializer),
                "moving_variance_initializer": serialize("initializers", self.moving_variance_initializer),
                "synchronized": self.synchronized}


class LayerNormalization(_Normalization):
    """Normalise each example over `axis` (an int or ints), then scale by gamma and shift by beta.

    With ``rms_scaling=True`` it divides by the root mean square instead and ignores `center`.

    >>> import tapegrad as tf
    >>> ln = tf.keras.layers.LayerNormalization(epsilon=0.0)
    >>> ln(tf.constant([[1.0, 3.0]])).numpy()
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but "
                            f"received: {axis!r}")
        self.rms_scaling = bool(rms_scaling)

    def build(self, input_shape) -> None:
        shape = self._param_shape(input_shape)
        self._add_gamma_and_beta(shape)
        self.built = True

    def call(self, inputs):
        work = self._work_dtype(inputs)
        inputs = _as(inputs, work)
        gamma = self._broadcast(self.gamma, work)
        if self.rms_scaling:
            y = inputs * rsqrt(reduce_mean(inputs * inputs, self._axes, keepdims=True) + self.epsilon)
            return _as(y if gamma is None else y * gamma, self._dtype_compute)
        mean, variance = nn.moments(inputs, self._axes, keepdims=True)
        outputs = nn.batch_normalization(inputs, mean, variance, self._broadcast(self.beta, work), gamma,
                                         self.epsilon)
        return _as(outputs, self._dtype_compute)

    def get_config(self) -> dict:
        return {**super().get_config(), "rms_scaling": self.rms_scaling}
