"""Numeric preprocessing layers (Rescaling, Normalization with ``adapt``, CategoryEncoding,
Discretization) and what every preprocessing layer shares: ``adapt`` over arrays, tensors, batched
``tf.data`` datasets and iterables of batches; conversion of inputs that keeps strings strings; and
the escape from tracing for layers whose work is Python over values (``tf.function`` then runs eagerly).
"""
from __future__ import annotations

import numbers

import numpy as np

from ...core.op import state
from ...core.tensor import Tensor, convert_to_tensor
from ...ops.array import reshape
from ...ops.math import add, cast, divide, maximum, multiply, sqrt, subtract
from .base import Layer

__all__ = ["CategoryEncoding", "Discretization", "Normalization", "Rescaling"]

_EPSILON = 1e-7  # keras.backend.epsilon()


def batches(data):
    """The batches `adapt` reads from data: an array or tensor is one batch; a dataset or an iterable
    yields them (of an ``(x, y, ...)`` tuple, x), each as a NumPy array."""
    from ...data.dataset import Dataset
    if isinstance(data, (np.ndarray, Tensor)) or np.isscalar(data):
        return [to_numpy(data)]
    if isinstance(data, Dataset) or hasattr(data, "__iter__") and not isinstance(data, (str, bytes, list)):
        return (to_numpy(batch[0] if isinstance(batch, tuple) else batch) for batch in data)
    if isinstance(data, list):
        return [to_numpy(data)]
    raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, tensors, "
                    f"`tf.data.Dataset` and iterables of batches.")


def to_numpy(x) -> np.ndarray:
    """x as a NumPy array; strings (str or bytes, in str, bytes or object arrays) stay strings."""
    if isinstance(x, Tensor):
        return np.asarray(x._value)
    return np.asarray(x)


def run_eagerly_when_traced(layer) -> None:
    """Inside a tf.function trace, make the function run eagerly: this layer's work is Python over values."""
    if state.graph is not None:
        from ...compiler.graph import RunEagerly
        raise RunEagerly(f"layer '{layer.name}' ({type(layer).__name__}) works on values in Python")


class PreprocessingLayer(Layer):
    """Base of the preprocessing layers: inputs are converted without casting strings or integers,
    and the layer has no trainable weights."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def _convert_inputs(self, x):
        if isinstance(x, Tensor):
            return x
        value = to_numpy(x)
        if value.dtype.kind == "f" and self.autocast:
            return convert_to_tensor(value.astype(self._dtype_compute.as_numpy_dtype))
        return convert_to_tensor(value)


class Rescaling(PreprocessingLayer):
    """``inputs * scale + offset`` in the layer's compute dtype (scale and offset may be per channel).

    >>> import tapegrad as tf
    >>> tf.keras.layers.Rescaling(1 / 127.5, offset=-1)(tf.constant([0, 255])).numpy()
    array([-1.,  1.], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        dtype = self._dtype_compute
        inputs = cast(inputs, dtype) if inputs.dtype != dtype else inputs
        return add(multiply(inputs, convert_to_tensor(np.asarray(self.scale), dtype=dtype)),
                   convert_to_tensor(np.asarray(self.offset), dtype=dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(PreprocessingLayer):
    """``(inputs - mean) / max(sqrt(variance), 1e-7)`` per position of the kept `axis` (``invert``: the
    inverse); mean and variance given, or computed by ``adapt(data)`` over every other axis.

    >>> import tapegrad as tf, numpy as np
    >>> layer = tf.keras.layers.Normalization()
    >>> layer.adapt(np.array([[0.0, 7.0], [2.0, 9.0]]))
    >>> layer(np.array([[1.0, 8.0]])).numpy()
    array([[0., 0.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)
        self.mean = self.variance = None
        if (mean is None) != (variance is None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"When setting values directly, `mean` and `variance` must have the same "
                                 f"shape. Received: mean shape {np.shape(mean)} and variance shape "
                                 f"{np.shape(variance)}")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis "
                                 f"{self.axis}")

    def build(self, input_shape) -> None:
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._build_shape = input_shape
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep_axis:
            if input_shape[a] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received "
                                 f"axis={self.axis}, inputs.shape={input_shape}, with unknown axis at index {a}")
        self._reduce_axis = tuple(a for a in range(ndim) if a not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[a] if a in self._keep_axis else 1 for a in range(ndim))
        stats_shape = tuple(input_shape[a] for a in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape, initializer="ones",
                                                  trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64", initializer="zeros",
                                         trainable=False)
            self.built = True
            self.finalize_state()
        else:
            # given stats align with the kept axes from the right, then broadcast
            aligned = [1] * ndim
            for i in range(1, np.ndim(self.input_mean) + 1):
                aligned[self._keep_axis[-i]] = np.shape(self.input_mean)[-i]
            dtype = self._dtype_compute.as_numpy_dtype
            self.mean, self.variance = (
                convert_to_tensor(np.broadcast_to(np.reshape(np.asarray(v, dtype), aligned),
                                                  self._broadcast_shape).astype(dtype))
                for v in (self.input_mean, self.input_variance))
            self.built = True

    def adapt(self, data) -> None:
        """Compute the mean and variance of `data` (an array, a tensor, a batched dataset or an iterable
        of batches), combining batches exactly as Keras does.

        >>> import tapegrad as tf, numpy as np
        >>> layer = tf.keras.layers.Normalization(axis=None)
        >>> layer.adapt(tf.data.Dataset.from_tensor_slices(np.array([[1.0], [3.0]])).batch(1))
        >>> float(layer.adapt_mean.numpy()), float(layer.adapt_variance.numpy())
        (2.0, 1.0)
        """
        from ...data.dataset import Dataset
        if isinstance(data, Dataset) and len(_first_shape(data)) == 1:
            data = data.batch(128)  # Keras: an unbatched dataset of vectors is batched first
        total_mean = total_var = None
        total_count = 0
        for batch in batches(data):
            batch = batch.astype(self._dtype_compute.as_numpy_dtype)
            if not self.built:
                self.build(batch.shape)
            for a in self._keep_axis:
                if batch.shape[a] != self._build_shape[a]:
                    raise ValueError(f"The layer was built with input_shape={self._build_shape}, but adapt() "
                                     f"is being called with data with an incompatible shape, "
                                     f"data.shape={batch.shape}")
            batch_mean = np.mean(batch, axis=self._reduce_axis)
            batch_var = np.var(batch, axis=self._reduce_axis)
            count = int(np.prod([batch.shape[a] for a in self._reduce_axis]))
            if total_mean is None:
                total_mean, total_var = np.zeros_like(batch_mean), np.zeros_like(batch_var)
            total_count += count
            weight = count / total_count
            new_mean = total_mean * (1 - weight) + batch_mean * weight
            # Keras' merge of batch statistics (lack-of-fit sum of squares)
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - weight)
                         + (batch_var + (batch_mean - new_mean) ** 2) * weight)
            total_mean = new_mean
        if total_mean is None:
            raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch.")
        self.adapt_mean.assign(total_mean)
        self.adapt_variance.assign(total_var)
        self.finalize_state()

    def finalize_state(self) -> None:
        """The broadcast mean and variance `call` uses, from the adapted weights."""
        if self.input_mean is not None or not self.built:
            return
        self.mean = cast(reshape(self.adapt_mean, self._broadcast_shape), self._dtype_compute)
        self.variance = cast(reshape(self.adapt_variance, self._broadcast_shape), self._dtype_compute)

    def call(self, inputs):
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        if inputs.dtype != self._dtype_compute:
            inputs = cast(inputs, self._dtype_compute)
        if self.input_mean is None:
            self.finalize_state()  # the weights may have been set (load_weights) since adapt
        scale = maximum(sqrt(self.variance), _EPSILON)
        if self.invert:
            return add(self.mean, multiply(inputs, scale))
        return divide(subtract(inputs, self.mean), scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        def plain(value):
            return np.asarray(value).tolist() if isinstance(value, (np.ndarray, Tensor)) else value
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}


def _first_shape(dataset) -> tuple:
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return tuple(spec.shape)


def encode_categorical(indices: np.ndarray, depth: int, output_mode: str, weights=None,
                       idf=None) -> np.ndarray:
    """Keras' encodings of integer `indices` (negative: no token) as float32 vectors of `depth`.

    ``one_hot`` encodes each element (a trailing axis of 1 dropped; a scalar as a batch of one);
    ``multi_hot``, ``count`` (each occurrence adds its `weights` entry, default 1) and ``tf_idf``
    (count times `idf`) encode each sample: the last axis reduced (a scalar or a vector is one sample).
    """
    if output_mode == "one_hot":
        if indices.ndim == 0:
            indices = indices[None]
        elif indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        valid = indices >= 0
        return ((np.where(valid, indices, -1)[..., None] == np.arange(depth)) & valid[..., None]
                ).astype(np.float32)
    if indices.ndim == 0:
        indices = indices[None]
    rows = indices.reshape(-1, indices.shape[-1])
    row_ids = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)
    valid = rows >= 0
    out = np.zeros((rows.shape[0], depth), np.float32)
    if output_mode == "multi_hot":
        out[row_ids[valid], rows[valid]] = 1.0
    else:
        w = np.ones(rows.shape, np.float32) if weights is None else \
            np.asarray(weights, np.float32).reshape(rows.shape)
        np.add.at(out, (row_ids[valid], rows[valid]), w[valid])
        if output_mode == "tf_idf":
            out *= np.asarray(idf, np.float32)
    return out.reshape(indices.shape[:-1] + (depth,))


class CategoryEncoding(PreprocessingLayer):
    """Integer inputs in [0, num_tokens) as ``one_hot``, ``multi_hot`` or ``count`` vectors (float32).

    >>> import tapegrad as tf
    >>> tf.keras.layers.CategoryEncoding(4, output_mode="count")([[0, 1, 1], [3, 3, 2]]).numpy()
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]], dtype=float32)
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode not in ("one_hot", "multi_hot", "count"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens is not "
                             "known beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise ValueError("tapegrad has no sparse tensors: CategoryEncoding takes sparse=False only")
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False

    def call(self, inputs, count_weights=None):
        run_eagerly_when_traced(self)
        values = to_numpy(inputs)
        if values.size and (values.min() < 0 or values.max() >= self.num_tokens):
            raise ValueError(f"Input values must be in the range 0 <= values < num_tokens with "
                             f"num_tokens={self.num_tokens}, got values from {values.min()} to {values.max()}")
        weights = None if count_weights is None else to_numpy(count_weights)
        out = encode_categorical(values.astype(np.int64), self.num_tokens, self.output_mode, weights)
        return convert_to_tensor(out.astype(self._dtype_compute.as_numpy_dtype))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and input_shape[-1] != 1:
            return input_shape + (self.num_tokens,)
        return input_shape[:-1] + (self.num_tokens,)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": self.sparse}


class Discretization(PreprocessingLayer):
    """Bucket index of each input by sorted `bin_boundaries` (``bisect_right``), as int32; with
    ``output_mode`` one_hot/multi_hot/count, encoded over len(bin_boundaries) + 1 buckets.

    >>> import tapegrad as tf
    >>> tf.keras.layers.Discretization(bin_boundaries=[0.0, 1.0])([[-0.5, 0.0, 0.5, 2.0]]).numpy()
    array([[0, 1, 1, 2]], dtype=int32)
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 dtype=None, name=None, **kwargs):
        super().__init__(dtype=dtype, name=name, **kwargs)
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"num_bins={num_bins} and bin_boundaries={bin_boundaries}")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins, self.epsilon, self.output_mode, self.sparse = num_bins, epsilon, output_mode, sparse

    def adapt(self, data) -> None:
        """Boundaries at the `num_bins` quantiles of `data`, interpolated between the sorted values as
        Keras' quantile summary does (exactly; Keras compresses large data within `epsilon`).

        >>> import tapegrad as tf
        >>> layer = tf.keras.layers.Discretization(num_bins=2)
        >>> layer.adapt([1.0, 2.0, 3.0, 4.0]); layer.bin_boundaries
        [2.0]
        """
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized with "
                             "`bin_boundaries`, use `num_bins` instead.")
        values = np.sort(np.concatenate([b.ravel() for b in batches(data)]).astype(np.float32))
        cumulative = np.arange(1, values.size + 1, dtype=np.float32) / np.float32(values.size)
        quantiles = np.arange(1, self.num_bins, dtype=np.float32) / np.float32(self.num_bins)
        self.bin_boundaries = [float(q) for q in np.interp(quantiles, cumulative, values).astype(np.float32)]

    def call(self, inputs):
        run_eagerly_when_traced(self)
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at construction time or "
                             "call `adapt(dataset)` before you can start using the `Discretization` layer.")
        indices = np.searchsorted(np.asarray(self.bin_boundaries), to_numpy(inputs), side="right")
        if self.output_mode == "int":
            return convert_to_tensor(indices.astype(np.int32))
        out = encode_categorical(indices, len(self.bin_boundaries) + 1, self.output_mode)
        return convert_to_tensor(out.astype(self._dtype_compute.as_numpy_dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse}

