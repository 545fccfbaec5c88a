"""Keras 3 losses (``tf.keras.losses``): the ``Loss`` base, its reductions, the built-in losses.

Everything is computed with tapegrad ops, so a loss called inside a ``GradientTape`` is
differentiable.  The arithmetic follows Keras 3 with its TensorFlow backend: probabilities are
clipped to ``[1e-7, 1 - 1e-7]`` (``keras.backend.epsilon()``); ``categorical_crossentropy``
renormalises ``y_pred`` by its sum before clipping; ``sparse_categorical_crossentropy`` takes
the log of the clipped probabilities as logits, which renormalises implicitly.

Beyond Keras, a cross-entropy warns once (per loss object, or per call site for the functions)
when ``y_pred`` does not look like what ``from_logits`` says it is.

>>> import tapegrad as tf
>>> loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
>>> print(f"{loss_fn([0, 1], [[2.0, 0.0], [0.0, 2.0]]):.4f}")
0.1269
"""
from __future__ import annotations

import inspect

import numpy as np

from ..core.aval import compatible
from .. import ops  # noqa: F401  (registers every op and the Tensor operators)
from ..core import dtypes
from ..core.tensor import Tensor, Variable, convert_to_array, convert_to_tensor
from ..ops import nn as _nn
from ..ops.array import expand_dims, squeeze
from ..ops.math import abs as _abs
from ..ops.math import cast, clip_by_value, divide_no_nan, log, square, where
from ..ops.reduce import reduce_mean, reduce_sum
from .layers.base import to_snake_case, unique_name
from .loss_checks import check_class_labels, check_logits_or_probabilities, reject_text, state, warn_at_user

__all__ = [
    "Loss", "LossFunctionWrapper", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
    "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber", "KLDivergence",
    "CosineSimilarity", "sparse_categorical_crossentropy", "categorical_crossentropy",
    "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "huber", "kl_divergence",
    "cosine_similarity", "mse", "MSE", "mae", "MAE", "kld", "KLD", "get", "serialize", "deserialize",
    "squeeze_or_expand_to_same_rank", "reduce_weighted_values",
]

EPSILON = 1e-7  # keras.backend.epsilon(): the probability clipping bound
_REDUCTIONS = {"sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight"}


# -- conversion and rank alignment ---------------------------------------------------------------

def _to_dtype(x, dtype) -> Tensor:
    """`x` as a tensor of `dtype`; a float tensor of another dtype is cast by an op, so gradients flow.

    Integer and bool tensors (labels) carry no gradient: NumPy converts them, with no op to record.
    """
    if isinstance(x, Tensor):
        if type(x) is Variable:
            x = x.read_value()
        value = x._value
        if value.dtype == dtype:
            return x
        return cast(x, dtype)  # an op even for labels: a traced function must not freeze them
    return Tensor(convert_to_array(x).astype(dtype, copy=False))


def _float_tensor(x) -> Tensor:
    """y_pred as Keras converts it: tensors keep their dtype, Python values become float32."""
    x = convert_to_tensor(x)
    return x if x.dtype.is_floating else cast(x, "float32")


def _shape(x) -> tuple:
    return tuple(np.shape(x._value if isinstance(x, Tensor) else x))


def _squeeze_last(x):
    return np.squeeze(x, -1) if isinstance(x, np.ndarray) else squeeze(x, -1)


def _expand_last(x):
    return np.expand_dims(x, -1) if isinstance(x, np.ndarray) else expand_dims(x, -1)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Align ranks that differ by one when the longer one ends in a dimension of 1 (Keras's rule).

    The longer one is squeezed, except that a rank-1 shorter one is expanded instead (when
    `expand_rank_1`).  So targets ``(B,)`` and predictions ``(B, 1)`` pair up elementwise rather
    than broadcasting to ``(B, B)``.  Works on tensors and on NumPy arrays (metrics).

    >>> import tapegrad as tf
    >>> a, b = squeeze_or_expand_to_same_rank(tf.zeros([4]), tf.zeros([4, 1]))
    >>> a.shape, b.shape
    (TensorShape([4, 1]), TensorShape([4, 1]))
    """
    r1, r2 = np.ndim(x1), np.ndim(x2)
    if r1 == r2 + 1 and _shape(x1)[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _expand_last(x2)
        else:
            x1 = _squeeze_last(x1)
    elif r2 == r1 + 1 and _shape(x2)[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _expand_last(x1)
        else:
            x2 = _squeeze_last(x2)
    return x1, x2


# -- reductions -------------------------------------------------------------------------------------

def standardize_reduction(reduction):
    """`reduction` if Keras accepts it, else ValueError with Keras's message.

    >>> standardize_reduction("sum")
    'sum'
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of {_REDUCTIONS}. "
                         f"Received: reduction={reduction}")
    return reduction


def _apply_mask(sample_weight, mask: Tensor | None, dtype, reduction):
    """Merge a validity mask (``ignore_class``) into the sample weights, as Keras does.

    For the mean reductions, valid entries weigh total/valid, so that dividing by the number of
    entries afterwards averages over the valid entries only.
    """
    if mask is None:
        return sample_weight
    float_mask = cast(mask, dtype)  # ops, not NumPy: a traced step recomputes it for every batch
    if reduction in ("mean", "sum_over_batch_size"):
        size = int(np.prod(mask.shape))
        float_mask = float_mask * divide_no_nan(cast(size, dtype), reduce_sum(float_mask))
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def _reduce_values(values: Tensor, sample_weight, reduction) -> Tensor:
    shape = _shape(values)
    if reduction is None or reduction == "none" or shape in ((), (0,)):
        return values
    if reduction == "sum":
        return reduce_sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(reduce_sum(values), reduce_sum(sample_weight))
    # Keras divides the sum by the element count with divide_no_nan: the mean, or 0 for no elements
    return reduce_mean(values) if int(np.prod(shape)) else reduce_sum(values)


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size",
                           dtype=None):
    """Weight per-sample losses and reduce them: the second half of ``Loss.__call__``.

    "sum_over_batch_size" and "mean" divide the weighted sum by the number of loss entries
    (not by the sum of the weights); "mean_with_sample_weight" divides by the sum of the weights.

    >>> import tapegrad as tf
    >>> float(reduce_weighted_values(tf.constant([1.0, 3.0]), sample_weight=[1.0, 0.0]))
    0.5
    >>> float(reduce_weighted_values(tf.constant([1.0, 3.0]), [1.0, 0.0],
    ...                              reduction="mean_with_sample_weight"))
    1.0
    """
    reduction = standardize_reduction(reduction)
    np_dtype = dtypes.as_dtype(dtype)._np if dtype is not None else None
    values = _to_dtype(values, np_dtype) if np_dtype is not None else convert_to_tensor(values)
    if sample_weight is not None:
        sample_weight = _to_dtype(sample_weight, values._value.dtype)
    sample_weight = _apply_mask(sample_weight, mask, values._value.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    return _reduce_values(values, sample_weight, reduction)


# -- the Loss base ---------------------------------------------------------------------------------

class Loss:
    """Base of all losses: ``loss(y_true, y_pred, sample_weight=None)`` -> reduced loss.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample losses; ``__call__``
    converts both inputs to the loss dtype (float32 by default, so integer labels become
    float), calls it, weights by `sample_weight` and applies `reduction`.

    >>> import tapegrad as tf
    >>> class MeanCube(tf.keras.losses.Loss):
    ...     def call(self, y_true, y_pred):
    ...         return tf.reduce_mean((y_pred - y_true) ** 3, axis=-1)
    >>> loss = MeanCube(reduction="sum")
    >>> loss.name, float(loss([[0.0, 0.0]], [[1.0, 2.0]]))
    ('mean_cube', 4.5)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction)
        self._dtype = dtypes.as_dtype(dtype or "float32")
        self._misuse_warned = False

    @property
    def dtype(self) -> str:
        """The computation dtype's name, as Keras gives it ("float32")."""
        return self._dtype.name

    def __call__(self, y_true, y_pred, sample_weight=None):
        reject_text(y_true, "y_true", self.name)
        reject_text(y_pred, "y_pred", self.name)
        np_dtype = self._dtype._np
        y_pred = _to_dtype(y_pred, np_dtype)
        y_true = _to_dtype(y_true, np_dtype)
        outer = state.owner
        state.owner, state.masked = self, None
        try:
            losses = self.call(y_true, y_pred)
            masked = state.masked
        finally:
            state.owner, state.masked = outer, None
        mask = masked[1] if masked is not None and masked[0] is losses else None
        return reduce_weighted_values(losses, sample_weight, mask, self.reduction, self._dtype)

    def call(self, y_true, y_pred):
        """Per-sample losses (the last axis reduced); subclasses implement it."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments, for ``from_config``."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        """A new loss from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def wrapper_config(obj, wrapper_cls, base_config: dict, fn, registry: dict) -> dict:
    """A function wrapper's config: the base config, the wrapped function's kwargs, and the
    function itself (by name when the registry knows it) for the wrapper class itself (its
    subclasses fix their function)."""
    config = {**base_config, **obj._fn_kwargs}
    if type(obj) is wrapper_cls:
        name = getattr(fn, "__name__", None)
        config["fn"] = name if registry.get(name) is fn else fn
    return config


def wrapped_fn_from_config(config: dict, get_fn) -> dict:
    """The constructor arguments of a wrapper from its config (a function given by name looked up)."""
    config = dict(config)
    if isinstance(config.get("fn"), str):
        config["fn"] = get_fn(config["fn"])
    return config


class LossFunctionWrapper(Loss):
    """A ``Loss`` made from a function ``fn(y_true, y_pred, **kwargs)`` of per-sample losses.

    ``y_true`` and ``y_pred`` are rank-aligned first (``squeeze_or_expand_to_same_rank``).
    The built-in loss classes are these wrappers; their config is the base config plus `kwargs`.

    >>> import tapegrad as tf
    >>> loss = LossFunctionWrapper(mean_absolute_error, reduction="sum")
    >>> loss.name, float(loss([1.0, 2.0], [[1.5], [2.5]]))
    ('loss_function_wrapper', 1.0)
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return wrapper_config(self, LossFunctionWrapper, super().get_config(), self.fn, _OBJECTS)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**wrapped_fn_from_config(config, get))

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


# -- loss functions ---------------------------------------------------------------------------------

def _aligned(y_true, y_pred, align=True):
    """(y_true, y_pred) as the regression losses take them: y_true in y_pred's dtype, ranks aligned."""
    y_pred = _float_tensor(y_pred)
    y_true = _to_dtype(y_true, y_pred._value.dtype)
    return squeeze_or_expand_to_same_rank(y_true, y_pred) if align else (y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """mean(square(y_true - y_pred), axis=-1): one value per sample.

    >>> import tapegrad as tf
    >>> tf.keras.losses.mean_squared_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    y_true, y_pred = _aligned(y_true, y_pred)
    return reduce_mean(square(y_true - y_pred), -1)


def mean_absolute_error(y_true, y_pred):
    """mean(abs(y_true - y_pred), axis=-1): one value per sample.

    >>> import tapegrad as tf
    >>> tf.keras.losses.mean_absolute_error([[0.0, 1.0]], [[1.0, 1.0]]).numpy()
    array([0.5], dtype=float32)
    """
    y_true, y_pred = _aligned(y_true, y_pred)
    return reduce_mean(_abs(y_true - y_pred), -1)


def huber(y_true, y_pred, delta=1.0):
    """Huber loss, mean over the last axis: 0.5 x² where |x| <= delta, else delta (|x| - delta / 2).

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.huber([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])[0]:.3f}")
    0.180
    """
    y_true, y_pred = _aligned(y_true, y_pred)
    error = y_pred - y_true
    abs_error = _abs(error)
    delta = float(delta)
    quadratic = 0.5 * square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return reduce_mean(where(abs_error <= delta, quadratic, linear), -1)


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [1e-7, 1].

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.kl_divergence([[0.0, 1.0]], [[0.4, 0.6]])[0]:.4f}")
    0.5108
    """
    y_true, y_pred = _aligned(y_true, y_pred, align=False)
    y_true = clip_by_value(y_true, EPSILON, 1.0)
    y_pred = clip_by_value(y_pred, EPSILON, 1.0)
    return reduce_sum(y_true * log(y_true / y_pred), -1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): Keras 3 returns the negated similarity.

    A zero vector gives 0.

    >>> import tapegrad as tf
    >>> tf.keras.losses.cosine_similarity([[0., 1.], [1., 1.], [1., 1.]],
    ...                                   [[1., 0.], [1., 1.], [-1., -1.]]).numpy()
    array([-0.        , -0.99999994,  0.99999994], dtype=float32)
    """
    y_true, y_pred = _aligned(y_true, y_pred)
    # Keras: x * min(rsqrt(sum x²), 1/eps); the same value, written as max(sum x², eps²) so that
    # a zero vector gets a zero gradient, not rsqrt(0) = inf
    y_pred = _nn.l2_normalize(y_pred, axis, epsilon=EPSILON * EPSILON)
    y_true = _nn.l2_normalize(y_true, axis, epsilon=EPSILON * EPSILON)
    return -reduce_sum(y_true * y_pred, axis)


def _check_same_shape(y_true: Tensor, y_pred: Tensor) -> None:
    """The TF backend's checks for the dense cross-entropies (Keras's messages)."""
    t, o = _shape(y_true), _shape(y_pred)
    if len(t) != len(o):
        raise ValueError("Arguments `target` and `output` must have the same rank (ndim). "
                         f"Received: target.shape={t}, output.shape={o}")
    if t != o:
        raise ValueError("Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={t}, output.shape={o}")


def _clipped(probabilities: Tensor) -> Tensor:
    return clip_by_value(probabilities, EPSILON, 1.0 - EPSILON)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy of integer labels ``(B,)`` or ``(B, 1)`` against class scores ``(B, C)``.

    Probabilities are clipped to [1e-7, 1 - 1e-7] and their log used as logits, which
    renormalises each row.  Entries labelled `ignore_class` get loss 0 (and, in the loss class,
    are left out of the mean).  A label outside [0, C), NaN or infinite raises InvalidArgumentError
    (``loss_checks.LabelValueError``) naming the loss, the label and C.

    >>> import tapegrad as tf
    >>> tf.keras.losses.sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).numpy()
    array([0.05129344, 2.3025851 ], dtype=float32)
    """
    y_pred = _float_tensor(y_pred)
    if axis != -1 and axis != y_pred.ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    # labels stay tensors handled by ops (no gradient flows through integers anyway), so that a
    # traced train step reads each batch's labels rather than freezing the first ones
    reject_text(y_true, "y_true", "sparse_categorical_crossentropy")
    labels = y_true.read_value() if type(y_true) is Variable else convert_to_tensor(y_true)
    if labels.ndim == y_pred.ndim and tuple(labels.shape[-1:]) == (1,):
        labels = squeeze(labels, -1)
    if y_pred.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. "
                         f"Received: output.shape={_shape(y_pred)}")
    if labels.ndim != y_pred.ndim - 1:
        raise ValueError("Argument `output` must have rank (ndim) `target.ndim - 1`. Received: "
                         f"target.shape={labels.shape}, output.shape={_shape(y_pred)}")
    if not compatible(_shape(labels), _shape(y_pred)[:-1]):
        raise ValueError("Arguments `target` and `output` must have the same shape up until the last "
                         f"dimension: target.shape={labels.shape}, output.shape={_shape(y_pred)}")
    valid = None if ignore_class is None else labels != ignore_class
    # ignored entries may hold anything: only the others must look like what from_logits says
    check_logits_or_probabilities("sparse_categorical_crossentropy",
                                   y_pred._value if valid is None or not isinstance(valid._value, np.ndarray)
                                   else y_pred._value[valid._value],
                                   from_logits, -1)
    if valid is not None:
        labels = where(valid, labels, 0)
        # zeroed rows keep the ignored entries finite (and their gradient 0), as in Keras
        y_pred = where(expand_dims(valid, -1), y_pred, np.zeros((), y_pred._value.dtype))
    classes = _shape(y_pred)[-1]
    if isinstance(classes, int):  # a traced class axis of unknown size leaves it to the op
        # before the cast to int64, which would turn a NaN label into -9223372036854775808
        owner = state.owner  # named now: a compiled call runs the check outside the Loss call
        name = owner.name if owner is not None else "sparse_categorical_crossentropy"
        check_class_labels(labels, classes, name)
    logits = y_pred if from_logits else log(_clipped(y_pred))
    losses = _nn.sparse_softmax_cross_entropy_with_logits(labels=cast(labels, "int64"), logits=logits)
    if valid is not None:
        losses = where(valid, losses, np.zeros((), losses._value.dtype))
        state.masked = (losses, valid)
    return losses


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy of one-hot (or soft) targets against class scores along `axis`.

    Probabilities are divided by their sum along `axis`, then clipped to [1e-7, 1 - 1e-7].
    `label_smoothing` ls replaces the targets by ``y * (1 - ls) + ls / C``.

    >>> import tapegrad as tf
    >>> tf.keras.losses.categorical_crossentropy([[0, 1, 0], [0, 0, 1]],
    ...                                          [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).numpy()
    array([0.05129331, 2.3025851 ], dtype=float32)
    """
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    y_pred = _float_tensor(y_pred)
    y_true = _to_dtype(y_true, y_pred._value.dtype)
    if _shape(y_pred)[-1:] == (1,):
        warn_at_user("In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
                      f"num_classes) with num_classes > 1. Received: y_pred.shape={_shape(y_pred)}. "
                      "Consider using 'binary_crossentropy' if you only have 2 classes.", SyntaxWarning)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / _shape(y_true)[-1]
    if y_true.ndim < 1:
        raise ValueError("Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={_shape(y_true)}, output.shape={_shape(y_pred)}")
    _check_same_shape(y_true, y_pred)
    check_logits_or_probabilities("categorical_crossentropy", y_pred._value, from_logits, axis)
    if from_logits:
        return _nn.softmax_cross_entropy_with_logits(y_true, y_pred, axis)
    probabilities = _clipped(y_pred / reduce_sum(y_pred, axis, keepdims=True))
    return -reduce_sum(y_true * log(probabilities), axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Elementwise binary cross-entropy, then the mean over `axis`.

    Probabilities are clipped to [1e-7, 1 - 1e-7]; `label_smoothing` ls squeezes the targets
    towards 0.5: ``y * (1 - ls) + 0.5 * ls``.

    >>> import tapegrad as tf
    >>> tf.keras.losses.binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).numpy()
    array([0.91629076, 0.7135582 ], dtype=float32)
    """
    y_pred = _float_tensor(y_pred)
    y_true = _to_dtype(y_true, y_pred._value.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _check_same_shape(y_true, y_pred)
    check_logits_or_probabilities("binary_crossentropy", y_pred._value, from_logits, None)
    if from_logits:
        elementwise = _nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        p = _clipped(y_pred)
        elementwise = -(y_true * log(p) + (1.0 - y_true) * log(1.0 - p))
    return reduce_mean(elementwise, axis)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kl_divergence


# -- loss classes -----------------------------------------------------------------------------------

class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors over the last axis, then reduced over the batch.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.MeanSquaredError()([1.0, 0.0, 1.0], [0.9, 0.1, 0.8]):.4f}")
    0.0200
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors over the last axis, then reduced over the batch.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.MeanAbsoluteError()([1.0, 0.3, 1.0], [1.9, 0.3, 1.8]):.7f}")
    0.5666667
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for errors up to `delta`, linear beyond.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.Huber()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.3f}")
    0.155
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence of y_pred from y_true (both clipped to [1e-7, 1]).

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.KLDivergence()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]):.3f}")
    0.458
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negated cosine similarity along `axis` (-1 means identical directions), reduced over the batch.

    >>> import tapegrad as tf
    >>> print(f"{tf.keras.losses.CosineSimilarity()([[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]]):.3f}")
    -0.500
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)


class _CrossentropyLoss(LossFunctionWrapper):
    """Keeps `from_logits` and friends as attributes, as Keras's cross-entropy classes do."""

    def __init__(self, fn, reduction, name, dtype, **kwargs):
        super().__init__(fn, name=name, reduction=reduction, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)


class SparseCategoricalCrossentropy(_CrossentropyLoss):
    """Cross-entropy of integer labels against class probabilities (or logits, `from_logits=True`).

    >>> import tapegrad as tf
    >>> scce = tf.keras.losses.SparseCategoricalCrossentropy()
    >>> y_true, y_pred = [1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    >>> print(f"{scce(y_true, y_pred):.3f} {scce(y_true, y_pred, sample_weight=[0.3, 0.7]):.3f}")
    1.177 0.814
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


class CategoricalCrossentropy(_CrossentropyLoss):
    """Cross-entropy of one-hot targets against class probabilities (or logits, `from_logits=True`).

    >>> import tapegrad as tf
    >>> cce = tf.keras.losses.CategoricalCrossentropy(reduction="sum")
    >>> print(f"{cce([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]):.3f}")
    2.354
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class BinaryCrossentropy(_CrossentropyLoss):
    """Binary cross-entropy of 0/1 targets against probabilities (or logits, `from_logits=True`).

    >>> import tapegrad as tf
    >>> bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    >>> print(f"{bce([[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]]):.3f}")
    0.865
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


# -- lookup -----------------------------------------------------------------------------------------

_CLASSES = (Loss, LossFunctionWrapper, SparseCategoricalCrossentropy, CategoricalCrossentropy,
            BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError, Huber, KLDivergence, CosineSimilarity)
_FUNCTIONS = (sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy,
              mean_squared_error, mean_absolute_error, huber, kl_divergence, cosine_similarity)
_OBJECTS = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
_OBJECTS.update({"bce": binary_crossentropy, "BCE": binary_crossentropy, "kld": kl_divergence,
                 "KLD": kl_divergence, "mae": mean_absolute_error, "MAE": mean_absolute_error,
                 "mse": mean_squared_error, "MSE": mean_squared_error})


def serialize(loss):
    """A loss as a config dict (``{"class_name", "config"}``), or a loss function as its name.

    >>> import tapegrad as tf
    >>> serialize(tf.keras.losses.Huber(delta=2.0))["config"]["delta"]
    2.0
    """
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", loss)


def deserialize(config, custom_objects=None):
    """The loss a ``serialize`` output describes (`custom_objects` maps extra names).

    >>> import tapegrad as tf
    >>> deserialize({"class_name": "Huber", "config": {"delta": 2.0}})._fn_kwargs
    {'delta': 2.0}
    """
    return deserialize_from({**_OBJECTS, **(custom_objects or {})}, config, "loss")


def deserialize_from(objects: dict, config, kind: str):
    """The object a name or ``{"class_name", "config"}`` dict names in `objects` (losses, metrics)."""
    if isinstance(config, str):
        obj = objects.get(config)
        if obj is None:
            raise ValueError(f"Could not interpret {kind} identifier: {config}")
        return obj
    cls = objects.get(config.get("class_name"))
    if not inspect.isclass(cls):
        raise ValueError(f"Could not interpret {kind} identifier: {config}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A loss from a name (function or class, e.g. "mse", "CategoricalCrossentropy"), a config
    dict, a class (instantiated) or a callable (returned as is); None gives None.

    >>> import tapegrad as tf
    >>> tf.keras.losses.get("mse").__name__, type(tf.keras.losses.get("BinaryCrossentropy")).__name__
    ('mean_squared_error', 'BinaryCrossentropy')
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _OBJECTS.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret loss identifier: {identifier}")

from .._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.keras.losses")  # a name not implemented: an honest AttributeError
