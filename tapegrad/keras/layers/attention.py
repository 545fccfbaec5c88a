"""Attention layers (Keras 3): MultiHeadAttention, with Keras' per-head projection weights, and
Attention (dot-product or concat scores between a query and a value sequence).

Masks follow Keras: the Keras masks of the query, value and key, ``attention_mask`` and the causal
mask are combined (AND); masked scores get -1e9 before the softmax.
"""

from __future__ import annotations

import math

from ...core.aval import dims
from ...ops.array import expand_dims, reshape, transpose
from ...ops.creation import ones
from ...ops.linalg import matmul
from ...ops.math import cast, greater_equal, logical_and, tanh, where
from ...ops.nn import softmax
from ...ops.reduce import cumsum, reduce_sum
from ._utils import lookup, serialize
from .base import Layer
from .masking import get_keras_mask
from .regularization import Dropout

__all__ = ["MultiHeadAttention", "Attention"]


class _HeadDense(Layer):
    """Keras' EinsumDense as MultiHeadAttention uses it: (..., dim) -> (..., heads, size) with a kernel
    (dim, heads, size), or (..., heads, size) -> (..., out) with a kernel (heads, size, out)."""

    def __init__(self, kernel_shape_tail, bias_shape, merge_heads, use_bias, init, reg, con, **kwargs):
        super().__init__(**kwargs)
        self._tail, self._bias_shape, self._merge = tuple(kernel_shape_tail), tuple(bias_shape), merge_heads
        self._use_bias, self._init, self._reg, self._con = use_bias, init, reg, con

    def build(self, input_shape) -> None:
        lead = tuple(input_shape)[-2:] if self._merge else (tuple(input_shape)[-1],)
        init, reg, con = self._init, self._reg, self._con
        self.kernel = self.add_weight(
            shape=lead + self._tail, initializer=init[0], regularizer=reg[0], constraint=con[0], name="kernel"
        )
        self.bias = (
            self.add_weight(
                shape=self._bias_shape,
                initializer=init[1],
                regularizer=reg[1],
                constraint=con[1],
                name="bias",
            )
            if self._use_bias
            else None
        )
        self.built = True

    def call(self, x):
        shape = tuple(dims(x))
        k = self.kernel
        if self._merge:  # (..., heads, size) @ (heads, size, out)
            flat = reshape(x, (-1, shape[-2] * shape[-1]))
            y = reshape(matmul(flat, reshape(k, (-1, dims(k)[-1]))), shape[:-2] + (dims(k)[-1],))
        else:  # (..., dim) @ (dim, heads, size)
            kd = dims(k)
            y = reshape(
                matmul(reshape(x, (-1, shape[-1])), reshape(k, (kd[0], -1))), shape[:-1] + tuple(kd[1:])
            )
        return y if self.bias is None else y + self.bias


def _causal_mask(query, value):
    """(1, T, S) booleans: query step t attends to value steps <= t (Keras' cumsum construction)."""
    t, s = dims(query)[1], dims(value)[1]
    base = ones((1, t, s), dtype="int32")
    return greater_equal(cumsum(base, axis=-2), cumsum(base, axis=-1))


def _and(a, b):
    return b if a is None else logical_and(a, b)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with Keras 3's weights: ``query``/``key``/``value``
    kernels (dim, num_heads, key_dim or value_dim), ``attention_output`` kernel (num_heads, value_dim,
    output_dim), biases shaped like the kernels' trailing axes.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    >>> out, scores = layer(tf.ones([1, 4, 6]), tf.ones([1, 5, 6]), return_attention_scores=True)
    >>> out.shape, scores.shape
    (TensorShape([1, 4, 6]), TensorShape([1, 2, 4, 5]))
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        if not isinstance(num_heads, int) or isinstance(num_heads, bool) or num_heads <= 0:
            raise ValueError(
                "Received an invalid value for argument `num_heads`, expected a positive "
                f"integer. Received: num_heads={num_heads}"
            )
        super().__init__(activity_regularizer=lookup("regularizers", activity_regularizer), **kwargs)
        if use_gate or sliding_window is not None:
            raise NotImplementedError(
                f"Layer '{self.name}': tapegrad's MultiHeadAttention does not support "
                "use_gate or sliding_window yet."
            )
        self.supports_masking = True
        self._num_heads, self._key_dim = num_heads, key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout, self._use_bias, self._output_shape = dropout, use_bias, output_shape
        self._attention_axes = attention_axes
        self._sliding_window, self._flash_attention, self._use_gate = (
            sliding_window,
            flash_attention,
            use_gate,
        )
        self._kernel_initializer = lookup("initializers", kernel_initializer)
        self._bias_initializer = lookup("initializers", bias_initializer)
        self._kernel_regularizer = lookup("regularizers", kernel_regularizer)
        self._bias_regularizer = lookup("regularizers", bias_regularizer)
        self._kernel_constraint = lookup("constraints", kernel_constraint)
        self._bias_constraint = lookup("constraints", bias_constraint)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _dense(self, tail, bias_shape, merge, name):
        return _HeadDense(
            tail,
            bias_shape,
            merge,
            self._use_bias,
            (self._kernel_initializer, self._bias_initializer),
            (self._kernel_regularizer, self._bias_regularizer),
            (self._kernel_constraint, self._bias_constraint),
            name=name,
            dtype=self.dtype_policy,
        )

    def build(self, query_shape, value_shape=None, key_shape=None) -> None:
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        rank = len(query_shape)
        axes = self._attention_axes
        if axes is not None:
            axes = (axes,) if isinstance(axes, int) else tuple(axes)
            if tuple(a % rank for a in axes) != (rank - 2,):
                raise NotImplementedError(
                    f"Layer '{self.name}': tapegrad's MultiHeadAttention attends over "
                    f"axis {rank - 2} only; got attention_axes={self._attention_axes}"
                )
        h = self._num_heads
        self._query_dense = self._dense((h, self._key_dim), (h, self._key_dim), False, "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._dense((h, self._key_dim), (h, self._key_dim), False, "key")
        self._key_dense.build(key_shape)
        self._value_dense = self._dense((h, self._value_dim), (h, self._value_dim), False, "value")
        self._value_dense.build(value_shape)
        out = self._output_shape
        out = (query_shape[-1],) if out is None else ((out,) if isinstance(out, int) else tuple(out))
        if len(out) != 1:
            raise NotImplementedError(
                f"Layer '{self.name}': output_shape must be one dimension in tapegrad; "
                f"got {self._output_shape}"
            )
        self._output_dense = self._dense(out, out, True, "attention_output")
        self._output_dense.build(query_shape[:-1] + (h, self._value_dim))
        self._dropout_layer = Dropout(rate=self._dropout, seed=self.seed)
        self.built = True

    def _build_from(self, args, kwargs) -> None:
        shape = lambda t: None if t is None else tuple(t.shape)  # noqa: E731
        query = args[0] if args else kwargs.get("query")
        value = args[1] if len(args) > 1 else kwargs.get("value")
        key = args[2] if len(args) > 2 else kwargs.get("key")
        self.build(shape(query), shape(value), shape(key))
        self._build_input_shape = shape(query)
        self.built = True

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        if key is None:
            key = value
        query_mask = get_keras_mask(query) if query_mask is None else query_mask
        value_mask = get_keras_mask(value) if value_mask is None else value_mask
        key_mask = get_keras_mask(key) if key_mask is None and key is not value else key_mask
        mask = None
        for m, axis in ((query_mask, -1), (value_mask, -2), (key_mask, -2)):
            if m is not None:
                mask = _and(mask, expand_dims(cast(m, "bool"), axis))
        if use_causal_mask:
            mask = _and(mask, _causal_mask(query, value))
        if attention_mask is not None:
            mask = (
                _and(cast(attention_mask, "bool"), mask) if mask is not None else cast(attention_mask, "bool")
            )
        q = self._query_dense(query) * self._inverse_sqrt_key_dim  # (B, T, H, K)
        k = self._key_dense(key)
        v = self._value_dense(value)
        scores = matmul(transpose(q, (0, 2, 1, 3)), transpose(k, (0, 2, 1, 3)), transpose_b=True)  # (B,H,T,S)
        if mask is not None:
            scores = where(expand_dims(mask, -3), scores, -1e9)
        probs = softmax(scores, axis=-1)
        dropped = self._dropout_layer(probs, training=training) if self._dropout else probs
        out = transpose(matmul(dropped, transpose(v, (0, 2, 1, 3))), (0, 2, 1, 3))  # (B, T, H, Vd)
        out = self._output_dense(out)
        if return_attention_scores:
            return out, probs
        return out

    def compute_mask(self, query, previous_mask=None):
        mask = previous_mask[0] if isinstance(previous_mask, list) else previous_mask
        return mask

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        out = self._output_shape
        if out is None:
            return query_shape
        return query_shape[:-1] + ((out,) if isinstance(out, int) else tuple(out))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "output_shape": self._output_shape,
            "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            "kernel_initializer": serialize("initializers", self._kernel_initializer),
            "bias_initializer": serialize("initializers", self._bias_initializer),
            "kernel_regularizer": serialize("regularizers", self._kernel_regularizer),
            "bias_regularizer": serialize("regularizers", self._bias_regularizer),
            "activity_regularizer": serialize("regularizers", self.activity_regularizer),
            "kernel_constraint": serialize("constraints", self._kernel_constraint),
            "bias_constraint": serialize("constraints", self._bias_constraint),
            "seed": self.seed,
        }


class Attention(Layer):
    """Dot-product attention (Luong-style): ``softmax(query @ key^T) @ value`` on ``[query, value]`` or
    ``[query, value, key]``; ``score_mode='concat'`` uses ``sum(tanh(query + key))`` instead.

    >>> import tapegrad as tf
    >>> out = tf.keras.layers.Attention()([tf.ones([1, 2, 3]), tf.ones([1, 4, 3])])
    >>> out.shape
    TensorShape([1, 2, 3])
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                "Invalid value for argument score_mode. Expected one of {'dot', 'concat'}. "
                f"Received: score_mode={score_mode}"
            )
        self.use_scale, self.score_mode, self.dropout, self.seed = use_scale, score_mode, dropout, seed
        self.supports_masking = True
        self._dropout_layer = Dropout(rate=dropout, seed=seed)

    def _validate(self, inputs, mask=None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                f"{name} layer must be called on a list of inputs, namely [query, value] or "
                f"[query, value, key]. Received: inputs={inputs}."
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3)):
            raise ValueError(
                f"{name} layer mask must be a list of length 2, namely [query_mask, "
                f"value_mask]. Received: mask={mask}."
            )

    def build(self, input_shape) -> None:
        self._validate(input_shape)
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") if self.use_scale else None
        self.concat_score_weight = (
            self.add_weight(name="concat_score_weight", shape=(), initializer="ones")
            if self.score_mode == "concat"
            else None
        )
        self.built = True

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        if self.score_mode == "dot":
            scores = matmul(q, k, transpose_b=True)
            if self.scale is not None:
                scores = scores * self.scale
        else:
            summed = expand_dims(q, -2) + expand_dims(k, -3)
            if self.scale is not None:
                summed = self.scale * summed
            scores = self.concat_score_weight * reduce_sum(tanh(summed), axis=-1)
        scores_mask = None if v_mask is None else expand_dims(cast(v_mask, "bool"), -2)
        if use_causal_mask:
            scores_mask = _and(scores_mask, _causal_mask(q, v))
        if scores_mask is not None:
            scores = where(scores_mask, scores, scores - 1e9)
        weights = softmax(scores, axis=-1)
        dropped = self._dropout_layer(weights, training=training) if self.dropout else weights
        out = matmul(dropped, v)
        if q_mask is not None:
            out = where(expand_dims(cast(q_mask, "bool"), -1), out, 0.0)
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], tuple(input_shape[1])[-1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }
