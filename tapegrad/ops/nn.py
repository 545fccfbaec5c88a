"""Activations, losses and normalisation (``tf.nn``; convolution and pooling live in ``conv``).

Primitives, each for a stated reason: ``relu`` and its gradient ``relu_grad`` (one
NumPy call each way, and TF's exact gradient 0 at x = 0), ``leaky_relu`` and its gradient
``leaky_relu_grad`` (a maximum and a product instead of np.where, several times faster),
``softplus`` (no overflow at large |x|), ``softmax`` and ``log_softmax`` (max-shifted, one op each), and
``sparse_softmax_cross_entropy_with_logits`` (fused, and it checks its labels).
Everything else is a composite of those and the ``math``/``reduce`` ops.
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.aval import ShapedArray, broadcast_shapes, dims
from ..core.op import NONZERO, REAL, Domain, defop
from ..core.tensor import Tensor, convert_to_tensor
from ..errors import InvalidArgumentError
from .array import expand_dims, reshape, squeeze, stop_gradient
from .creation import zeros_like
from .indexing import gather, one_hot
from .math import (abs, add_n, cast, erf, exp, expm1, log1p, maximum, minimum, rsqrt, sigmoid, square,
                   squared_difference, tanh, where)
from .random import uniform
from .reduce import reduce_mean, reduce_sum

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "softplus", "softsign", "silu", "swish",
    "sigmoid", "tanh", "softmax", "log_softmax", "sparse_softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits", "moments",
    "batch_normalization", "l2_normalize", "l2_loss", "bias_add", "dropout", "embedding_lookup",
    "compute_average_loss", "scale_regularization_loss",
]


# -- activations ----------------------------------------------------------------------------

# out= kernels (``inplace``) computing exactly what relu's and relu_grad's forwards do

def _relu_into(features, out=None):
    return np.maximum(features, np.zeros((), features.dtype), out=out)


def _relu_grad_into(gradients, features, out=None):
    return np.multiply(gradients, features > 0, out=out)


@defop(vjp=(lambda gg, out, g, features: relu_grad(gg, features), None),
       jvp=(lambda t, out, g, features: relu_grad(t, features), None),
       domain=(REAL, NONZERO), batch_vjp=True, elementwise=True, inplace=_relu_grad_into)
def relu_grad(gradients, features):
    """`gradients` where `features` > 0, else 0: the vjp of relu (TF's ReluGrad).

    `features` may be relu's input or its output: both are positive at the same places.
    A product with the mask, as TF's kernel (and several times faster than np.where).

    >>> from tapegrad.ops.nn import relu_grad
    >>> relu_grad([1.0, 1.0, 1.0], [-1.0, 0.0, 2.0]).numpy()
    array([0., 0., 1.], dtype=float32)
    """
    return gradients * (features > 0)


@defop(vjp=(lambda g, out, x: relu_grad(g, out),), jvp=(lambda t, out, x: relu_grad(t, out),),
       saves="out", domain=(NONZERO,), batch_vjp=True, elementwise=True, inplace=_relu_into)
def relu(features):
    """max(features, 0); a primitive for speed, with TF's gradient (0 at 0).

    >>> import tapegrad as tf
    >>> tf.nn.relu([-1.0, 0.0, 2.0]).numpy()
    array([0., 0., 2.], dtype=float32)
    """
    return np.maximum(features, np.zeros((), features.dtype))


def relu6(features, name=None):
    """min(max(features, 0), 6); the gradient is 0 at 0 and at 6, as TF's.

    >>> import tapegrad as tf
    >>> tf.nn.relu6([-1.0, 3.0, 9.0]).numpy()
    array([0., 3., 6.], dtype=float32)
    """
    features = convert_to_tensor(features)
    # where, not minimum: minimum would pass the gradient at exactly 6
    return where(features < 6, relu(features), 6)


def _leaky_relu_vjp(g, out, features, alpha):
    return leaky_relu_grad(g, features, alpha=alpha)


@defop(vjp=(lambda gg, out, g, features, alpha: leaky_relu_grad(gg, features, alpha=alpha), None),
       jvp=(lambda t, out, g, features, alpha: leaky_relu_grad(t, features, alpha=alpha), None),
       domain=(REAL, NONZERO), batch_vjp=True,
       cases=[dict(shapes=((3, 4), (3, 4))), dict(shapes=((3, 1), (4,))),
              dict(shapes=((3, 4), (3, 4)), params=dict(alpha=1.5))],
       elementwise=True)
def leaky_relu_grad(gradients, features, alpha=0.2):
    """`gradients` where `features` > 0, else alpha * `gradients`: the vjp of leaky_relu (TF's
    LeakyReluGrad, slope alpha at 0).

    For 0 <= alpha <= 1 a product with max(mask, alpha) (1 where positive, alpha elsewhere)
    gives np.where's bits several times faster.

    >>> from tapegrad.ops.nn import leaky_relu_grad
    >>> leaky_relu_grad([1.0, 1.0, 1.0], [-1.0, 0.0, 2.0], alpha=0.5).numpy()
    array([0.5, 0.5, 1. ], dtype=float32)
    """
    positive = features > 0
    if 0 <= alpha <= 1:
        return gradients * np.maximum(positive, gradients.dtype.type(alpha))
    return np.where(positive, gradients, gradients * alpha)


@defop(vjp=(_leaky_relu_vjp,), jvp=(_leaky_relu_vjp,), domain=(NONZERO,), batch_vjp=True, name="leaky_relu",
       elementwise=True,
       cases=[dict(shapes=((3, 4),)), dict(shapes=((),)), dict(shapes=((3, 4),), params=dict(alpha=1.5)),
              dict(shapes=((3, 4),), params=dict(alpha=-0.5))])
def _leaky_relu(features, alpha=0.2):
    """The primitive of `leaky_relu` (for speed: one maximum or minimum against alpha * features,
    the bits of np.where(features > 0, features, alpha * features) several times faster)."""
    scaled = np.asarray(np.multiply(features, alpha))  # an array even at rank 0, for out=
    # alpha <= 1: alpha x <= x where x > 0 and >= x where x < 0; alpha > 1 the other way round
    return (np.maximum if alpha <= 1 else np.minimum)(features, scaled, out=scaled)


def leaky_relu(features, alpha=0.2, name=None):
    """features where positive, alpha * features elsewhere (slope alpha at 0, as TF).

    >>> import tapegrad as tf
    >>> tf.nn.leaky_relu([-1.0, 2.0]).numpy()
    array([-0.2,  2. ], dtype=float32)
    """
    features = convert_to_tensor(features)
    if features.dtype.is_integer:
        features = cast(features, dtypes.float32)
    return _leaky_relu(features, alpha=float(alpha))


def _exponential_linear(features, alpha):
    """features where positive, alpha * (exp(features) - 1) elsewhere."""
    # expm1 of min(x, 0): the unselected branch never overflows, so its zero cotangent
    # cannot meet an infinite derivative (0 * inf = nan) at large positive x
    negative_part = expm1(minimum(features, 0))
    if alpha != 1:
        negative_part = negative_part * alpha
    return where(features > 0, features, negative_part)


def elu(features, name=None):
    """Exponential linear unit: x for x > 0, exp(x) - 1 otherwise.

    >>> import tapegrad as tf
    >>> tf.nn.elu([0.0, 1.0]).numpy()
    array([0., 1.], dtype=float32)
    """
    return _exponential_linear(convert_to_tensor(features), 1)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features, name=None):
    """Scaled exponential linear unit: scale * elu with TF's alpha and scale.

    >>> import tapegrad as tf
    >>> round(float(tf.nn.selu(1.0)), 6)
    1.050701
    """
    return _exponential_linear(convert_to_tensor(features), _SELU_ALPHA) * _SELU_SCALE


def gelu(features, approximate=False, name=None):
    """Gaussian error linear unit x * Phi(x); `approximate` uses TF's tanh form.

    >>> import tapegrad as tf
    >>> round(float(tf.nn.gelu(1.0)), 5), round(float(tf.nn.gelu(1.0, approximate=True)), 5)
    (0.84134, 0.84119)
    """
    x = convert_to_tensor(features)
    if approximate:
        inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))  # sqrt(2/pi) (x + c x^3)
        return 0.5 * x * (1.0 + tanh(inner))
    return 0.5 * x * (1.0 + erf(x / 1.4142135623730951))


@defop(vjp=(lambda g, out, x: g * sigmoid(x),), jvp=(lambda t, out, x: t * sigmoid(x),),
       domain=(REAL,), batch_vjp=True, elementwise=True)
def softplus(features):
    """log(1 + exp(features)); a primitive so that it cannot overflow (log-add-exp) at large |x|.

    >>> import tapegrad as tf
    >>> tf.nn.softplus([0.0, 1e4, -1e4]).numpy()
    array([6.931472e-01, 1.000000e+04, 0.000000e+00], dtype=float32)
    """
    return np.logaddexp(features, np.zeros((), features.dtype))


def softsign(features, name=None):
    """features / (1 + |features|).

    >>> import tapegrad as tf
    >>> tf.nn.softsign([-3.0, 1.0]).numpy()
    array([-0.75,  0.5 ], dtype=float32)
    """
    features = convert_to_tensor(features)
    return features / (1 + abs(features))


def silu(features, beta=1.0, name=None):
    """features * sigmoid(beta * features) (also called swish).

    >>> import tapegrad as tf
    >>> round(float(tf.nn.silu(1.0)), 6)
    0.731059
    """
    features = convert_to_tensor(features)
    return features * sigmoid(features if beta == 1.0 else beta * features)


swish = silu


# -- softmax ----------------------------------------------------------------------------------

def _class_axis(axis, ndim: int) -> int:
    """The class axis counted from the end, so rules also fit cotangents with leading axes."""
    axis = -1 if axis is None else int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for a tensor of rank {ndim}")
    return axis - ndim if axis >= 0 else axis


def _shifted_dtypes(dtype) -> tuple:
    """The dtypes of logits - max(logits) and of its exp (integers give floats; bool has no
    subtract: TypeError, as the forward)."""
    shifted = np.subtract.resolve_dtypes((dtype, dtype, None))[-1]
    return shifted, np.exp.resolve_dtypes((shifted, None))[-1]


def _softmax_type(logits, axis=-1):
    _class_axis(axis, logits.ndim)
    return ShapedArray(logits.shape, _shifted_dtypes(logits.dtype)[1])


def _log_softmax_type(logits, axis=-1):
    _class_axis(axis, logits.ndim)
    return ShapedArray(logits.shape, np.subtract.resolve_dtypes(_shifted_dtypes(logits.dtype) + (None,))[-1])


def _softmax_vjp(g, out, logits, axis):
    return out * (g - reduce_sum(g * out, _class_axis(axis, out.ndim), keepdims=True))


@defop(vjp=(_softmax_vjp,), jvp=(_softmax_vjp,), saves="out", domain=(REAL,), batch_vjp=True,
       shape=_softmax_type, result="fresh", layout="like_inputs",
       cases=[dict(shapes=((2, 4),)), dict(shapes=((3, 2, 4),), params=dict(axis=1)),
              dict(shapes=((5,),), params=dict(axis=0))])
def softmax(logits, axis=-1):
    """exp(logits) / sum(exp(logits)) along `axis`; a primitive, max-shifted so it cannot overflow.

    >>> import tapegrad as tf
    >>> tf.nn.softmax([[1e4, 0.0]]).numpy()
    array([[1., 0.]], dtype=float32)
    """
    axis = _class_axis(axis, logits.ndim)
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _log_softmax_vjp(g, out, logits, axis):
    return g - exp(out) * reduce_sum(g, _class_axis(axis, out.ndim), keepdims=True)


def _log_softmax_jvp(t, out, logits, axis):
    return t - reduce_sum(exp(out) * t, _class_axis(axis, out.ndim), keepdims=True)


@defop(vjp=(_log_softmax_vjp,), jvp=(_log_softmax_jvp,), saves="out", domain=(REAL,), batch_vjp=True,
       shape=_log_softmax_type,
       cases=[dict(shapes=((2, 4),)), dict(shapes=((3, 2, 4),), params=dict(axis=1)),
              dict(shapes=((5,),), params=dict(axis=0))])
def log_softmax(logits, axis=-1):
    """logits - logsumexp(logits) along `axis`; a primitive, exact where softmax underflows.

    >>> import tapegrad as tf
    >>> tf.nn.log_softmax([[1e4, 0.0]]).numpy()
    array([[     0., -10000.]], dtype=float32)
    """
    axis = _class_axis(axis, logits.ndim)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# -- losses -----------------------------------------------------------------------------------

def _sparse_xent_slope(labels, logits):
    """d loss / d logits: softmax(logits) - one_hot(labels)."""
    return softmax(logits) - one_hot(labels, depth=dims(logits)[-1], dtype=logits.dtype)


def _sparse_softmax_xent_type(labels, logits):
    if labels.ndim != logits.ndim - 1:  # the forward's take_along_axis needs labels[..., None]
        raise ValueError(f"Rank mismatch: Rank of labels (received {labels.ndim}) should equal rank of "
                         f"logits minus 1 (received {logits.ndim}).")
    # log-sum-exp (of exp's dtype) minus the picked shifted logit
    dtype = np.subtract.resolve_dtypes(_shifted_dtypes(logits.dtype)[::-1] + (None,))[-1]
    return ShapedArray(broadcast_shapes(logits.shape[:-1], labels.shape), dtype)


@defop(vjp=(None, lambda g, out, labels, logits: expand_dims(g, -1) * _sparse_xent_slope(labels, logits)),
       jvp=(None, lambda t, out, labels, logits: reduce_sum(t * _sparse_xent_slope(labels, logits), -1)),
       domain=(Domain(0, 3, dtype=np.int32, integer=True), REAL), same_dtype=(), batch_vjp=True,
       name="sparse_softmax_cross_entropy_with_logits", shape=_sparse_softmax_xent_type,
       cases=[dict(shapes=((4,), (4, 3))), dict(shapes=((2, 3), (2, 3, 5))), dict(shapes=((), (3,)))])
def _sparse_softmax_xent(labels, logits):
    """-log softmax(logits)[labels], fused: one max-shifted log-sum-exp minus the picked logit."""
    classes = logits.shape[-1]
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        bad = labels[outside].reshape(-1)[0]
        values = " ".join(str(v) for v in labels.reshape(-1)[:10])
        raise InvalidArgumentError(f"Received a label value of {bad} which is outside the valid range of "
                                   f"[0, {classes}).  Label values: {values}")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    picked = np.take_along_axis(shifted, labels[..., None].astype(np.intp), axis=-1)[..., 0]
    return np.log(np.exp(shifted).sum(axis=-1)) - picked


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-example cross-entropy of integer class `labels` against `logits` [..., classes].

    Differentiable in logits only; a label outside [0, classes) raises InvalidArgumentError.

    >>> import tapegrad as tf
    >>> loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0], logits=[[0.0, 0.0]])
    >>> round(float(loss[0]), 6)  # log 2
    0.693147
    """
    labels, logits = convert_to_tensor(labels), convert_to_tensor(logits)
    if not labels.dtype.is_integer:
        raise TypeError(f"labels must be an integer tensor (int32 or int64), got {labels.dtype.name}")
    if labels.ndim != logits.ndim - 1:
        raise ValueError(f"Rank mismatch: Rank of labels (received {labels.ndim}) should equal rank of "
                         f"logits minus 1 (received {logits.ndim}).")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"Shape mismatch: The shape of labels (received {tuple(labels.shape)}) should "
                         f"equal the shape of logits except for the last dimension (received "
                         f"{tuple(logits.shape)}).")
    return _sparse_softmax_xent(labels, logits)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Cross-entropy of class-probability `labels` against `logits` along `axis`.

    Composite -sum(labels * log_softmax(logits)), so it is differentiable in labels too.

    >>> import tapegrad as tf
    >>> tf.nn.softmax_cross_entropy_with_logits([[0.5, 0.5]], [[1e4, -1e4]]).numpy()
    array([10000.], dtype=float32)
    """
    logits = convert_to_tensor(logits)
    return -reduce_sum(labels * log_softmax(logits, axis), axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise binary cross-entropy of `labels` in [0, 1] against `logits`.

    TF's stable composite max(x, 0) - x z + log(1 + exp(-|x|)), written with `where` so that
    the gradient at x = 0 is exactly sigmoid(0) - z.

    >>> import tapegrad as tf
    >>> tf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0, 0.0], logits=[1e4, 1e4]).numpy()
    array([    0., 10000.], dtype=float32)
    """
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels, dtype=logits.dtype)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"logits and labels must have the same shape ({tuple(logits.shape)} vs "
                         f"{tuple(labels.shape)})")
    zeros = zeros_like(logits)
    nonnegative = logits >= zeros
    relu_logits = where(nonnegative, logits, zeros)
    neg_abs_logits = where(nonnegative, -logits, logits)
    return relu_logits - logits * labels + log1p(exp(neg_abs_logits))


def l2_loss(t, name=None):
    """sum(t ** 2) / 2.

    >>> import tapegrad as tf
    >>> float(tf.nn.l2_loss([1.0, 2.0]))
    2.5
    """
    return reduce_sum(square(t)) * 0.5


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """sum(per_example_loss * sample_weight) / global_batch_size (default: the batch size here).

    >>> import tapegrad as tf
    >>> float(tf.nn.compute_average_loss([1.0, 2.0, 3.0], global_batch_size=6))
    1.0
    """
    loss = convert_to_tensor(per_example_loss)
    if sample_weight is not None:
        loss = loss * sample_weight
    if global_batch_size is None:
        # one replica (a size known when it runs, traced)
        global_batch_size = dims(loss)[0] if loss.ndim else 1
    total = reduce_sum(loss)
    return total / (cast(global_batch_size, total.dtype) if isinstance(global_batch_size, Tensor) else
                    global_batch_size if not isinstance(global_batch_size, (int, float)) else
                    float(global_batch_size))


def scale_regularization_loss(regularization_loss):
    """The regularization loss (a tensor or a list, summed) scaled by 1 / replicas, here 1.

    >>> import tapegrad as tf
    >>> float(tf.nn.scale_regularization_loss([1.0, 2.0]))
    3.0
    """
    if isinstance(regularization_loss, (list, tuple)):
        regularization_loss = add_n([convert_to_tensor(r) for r in regularization_loss])
    return reduce_sum(regularization_loss)


# -- normalisation ----------------------------------------------------------------------------

def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) of `x` over `axes`; float16 is computed in float32, as TF.

    >>> import tapegrad as tf
    >>> mean, variance = tf.nn.moments(tf.constant([1.0, 2.0, 3.0, 4.0]), axes=[0])
    >>> float(mean), float(variance)
    (2.5, 1.25)
    """
    x = convert_to_tensor(x)
    y = cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    mean = reduce_mean(y, axes, keepdims=True)
    # the gradient of the variance through the mean is zero: TF stops it
    variance = reduce_mean(squared_difference(y, stop_gradient(mean)), axes, keepdims=True)
    if not keepdims:
        mean, variance = squeeze(mean, axes), squeeze(variance, axes)
    if x.dtype == dtypes.float16:
        return cast(mean, dtypes.float16), cast(variance, dtypes.float16)
    return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, in TF's operation order.

    >>> import tapegrad as tf
    >>> tf.nn.batch_normalization(tf.constant([1.0, 3.0]), 2.0, 1.0, None, None, 0.0).numpy()
    array([-1.,  1.], dtype=float32)
    """
    x = convert_to_tensor(x)
    inv = rsqrt(convert_to_tensor(variance, dtype=x.dtype) + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    shift = -mean * inv if offset is None else offset - mean * inv
    return x * inv + shift


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon)).

    >>> import tapegrad as tf
    >>> tf.nn.l2_normalize([3.0, 4.0]).numpy()
    array([0.6, 0.8], dtype=float32)
    """
    x = convert_to_tensor(x)
    axis = dim if axis is None else axis
    square_sum = reduce_sum(square(x), axis, keepdims=True)
    return x * rsqrt(maximum(square_sum, epsilon))


def bias_add(value, bias, data_format=None, name=None):
    """value + bias along the channel axis (last, or the second for 'NC...' formats).

    >>> import tapegrad as tf
    >>> tf.nn.bias_add(tf.zeros([2, 3]), [1.0, 2.0, 3.0]).numpy()[0]
    array([1., 2., 3.], dtype=float32)
    """
    value = convert_to_tensor(value)
    bias = convert_to_tensor(bias, dtype=value.dtype)
    if value.ndim < 2:
        raise ValueError(f"Input tensor must be at least 2D: {list(value.shape)}")
    if bias.ndim != 1:
        raise ValueError(f"Biases must be 1D: {list(bias.shape)}")
    channels_first = data_format is not None and data_format.startswith("NC")
    channels = dims(value)[1] if channels_first else dims(value)[-1]
    if isinstance(channels, int) and isinstance(dims(bias)[0], int) and channels != dims(bias)[0]:
        raise InvalidArgumentError(f"Must provide as many biases as the channel dimension of the input "
                                   f"tensor: {list(bias.shape)} vs. {list(value.shape)}")
    if channels_first:
        bias = reshape(bias, (channels,) + (1,) * (value.ndim - 2))
    return value + bias


# -- dropout ----------------------------------------------------------------------------------

def _noise_shape(x: Tensor, noise_shape) -> tuple:
    if noise_shape is None:
        return tuple(dims(x))
    from .array import _static
    wanted = list(_static(noise_shape)) if isinstance(noise_shape, Tensor) else list(noise_shape)
    if len(wanted) != x.ndim:
        raise ValueError(f"noise_shape {wanted} must have the rank of x, {x.ndim}")
    # TF fills unknown (None) entries from x's shape
    return tuple(dims(x)[i] if d is None else d if not isinstance(d, (int, np.integer)) else int(d)
                 for i, d in enumerate(wanted))


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each element with probability `rate` and scale the rest by 1 / (1 - rate).

    Always applied (tf.nn has no training flag; Keras' Dropout layer decides when to call
    it).  The mask is drawn with ``tf.random.uniform`` under `seed`; ``noise_shape``
    broadcasts one draw over axes of length 1.

    >>> import tapegrad as tf
    >>> y = tf.nn.dropout(tf.ones([1000]), rate=0.5, seed=1)
    >>> sorted(set(y.numpy().tolist()))
    [0.0, 2.0]
    """
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(f"x has to be a floating point tensor since it's going to be scaled. Got a "
                         f"{x.dtype.name} tensor instead.")
    if isinstance(rate, Tensor):  # a rate given as a tensor: an input of the program (TF's), not frozen
        rate = cast(rate, x.dtype)
    else:
        rate = float(rate)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
        if rate == 0:
            return x  # TF's fast path: no draw at all
    keep = uniform(_noise_shape(x, noise_shape), dtype=x.dtype, seed=seed) >= rate
    return x * (cast(keep, x.dtype) * (1 / (1 - rate)))


def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows of `params` at `ids` (a gather; the gradient is an IndexedSlices).

    >>> import tapegrad as tf
    >>> tf.nn.embedding_lookup(tf.constant([[0.0], [1.0], [2.0]]), [2, 0]).numpy()
    array([[2.],
           [0.]], dtype=float32)
    """
    if max_norm is not None:
        raise NotImplementedError("embedding_lookup with max_norm is not supported")
    return gather(params, ids)
