"""The data ``fit``, ``evaluate`` and ``predict`` take: nested structures of arrays and tensors
(tuples, lists and dicts of leaves, dicts in sorted key order), Keras's ``(x, y, sample_weight)``
batch convention, class weights, the validation split of array data, and how arrays are checked,
sliced and converted into batches of tensors (NumPy float64 becomes Keras's float32).
"""
from __future__ import annotations

import math

import numpy as np

from ...core.tensor import Tensor, convert_to_tensor

# -- nested structures ----------------------------------------------------------------------------


def _is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def _flatten(x) -> list:
    if isinstance(x, dict):
        return [leaf for key in sorted(x) for leaf in _flatten(x[key])]
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _flatten(item)]
    return [x]


def _map(fn, x):
    if isinstance(x, dict):
        return {key: _map(fn, value) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, item) for item in x)
    return fn(x)


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _describe(x) -> str:
    """'shape (32, 10), float32' for a leaf; the structure with shapes for a nest."""
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in x) + "]"
    dtype = getattr(x, "dtype", None)
    if _is_text(x):
        text = x._value.dtype if isinstance(x, Tensor) else dtype
        return f"shape {_shape(x)}, string ({text})"
    dtype = getattr(dtype, "name", dtype) if dtype is not None else type(x).__name__
    return f"shape {_shape(x)}, {dtype}"


def _is_text(x) -> bool:
    """Whether a data leaf holds strings (a string tensor, or a NumPy array of str/bytes)."""
    if isinstance(x, Tensor):
        return x._value.dtype.kind in "US"
    dtype = getattr(x, "dtype", None)
    if not isinstance(dtype, np.dtype):
        return False
    if dtype.kind == "O":  # an object array of Python strings is text too
        return x.size > 0 and isinstance(x.flat[0], (str, bytes))
    return dtype.kind in "US"


def _batch_size(x) -> int:
    first = _flatten(x)[0]
    shape = _shape(first)
    return int(shape[0]) if shape else 1


def _to_tensor(x):
    """A batch leaf as a tensor; NumPy float64 becomes float32 (Keras's floatx), as Keras converts."""
    if isinstance(x, Tensor) or x is None:
        return x
    array = np.asarray(x)
    if array.dtype == np.float64:
        return Tensor(array.astype(np.float32))
    if array.dtype.kind in "biufc":
        return convert_to_tensor(array)  # a copy: a generator may refill the array it yielded
    return x  # strings and objects pass through, for a custom train_step to handle


def _to_numpy(x):
    return x.numpy() if isinstance(x, Tensor) else x


# -- batches --------------------------------------------------------------------------------------


def unpack_x_y_sample_weight(data):
    """Split a batch into ``(x, y, sample_weight)``: Keras's rule for what data elements mean.

    A tuple (or list) of 1, 2 or 3 items is ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``;
    anything else is ``x`` alone.

    >>> unpack_x_y_sample_weight(([1], [2]))
    ([1], [2], None)
    >>> unpack_x_y_sample_weight({"a": 1})
    ({'a': 1}, None, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found a tuple of {len(data)} items: {_describe(data)}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch tuple for ``x``, ``y`` and ``sample_weight``, leaving out the missing tail.

    >>> pack_x_y_sample_weight(1), pack_x_y_sample_weight(1, 2), pack_x_y_sample_weight(1, 2, 3)
    ((1,), (1, 2), (1, 2, 3))
    """
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def class_weight_to_sample_weights(y, class_weight) -> np.ndarray:
    """One weight per sample: ``class_weight[label]`` (1.0 for classes it leaves out).

    One-hot targets are read by their argmax, ``(n, 1)`` labels by their single column.

    >>> class_weight_to_sample_weights(np.array([0, 1, 1, 2]), {1: 3.0})
    array([1., 3., 3., 1.], dtype=float32)
    """
    if _is_nested(y):
        raise ValueError("`class_weight` is only supported for Models with a single output; received "
                         f"targets {_describe(y)}.")
    labels = np.asarray(_to_numpy(y))
    if labels.ndim > 1:
        labels = np.argmax(labels, axis=-1) if labels.shape[-1] != 1 else np.squeeze(labels, -1)
    if labels.ndim != 1:
        raise ValueError("`class_weight` needs one class per sample: targets of shape (n,), (n, 1) or "
                         f"one-hot (n, classes); received targets of shape {_shape(y)}. Use `sample_weight` "
                         "instead.")
    labels = np.round(labels).astype(np.int64)
    return np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=np.float32)


# -- array data -----------------------------------------------------------------------------------


def _is_frame(x) -> bool:
    """A pandas DataFrame or Series, found by duck typing (pandas is no dependency): Keras treats
    them as the arrays ``to_numpy()`` gives."""
    return callable(getattr(x, "to_numpy", None)) and hasattr(x, "index") and \
        not isinstance(x, (np.ndarray, Tensor))


def _is_array_data(x) -> bool:
    """Arrays, tensors, or lists/tuples/dicts of them (several inputs), not a stream of batches."""
    if isinstance(x, (np.ndarray, Tensor)) or np.isscalar(x) or _is_frame(x):
        return True
    if isinstance(x, dict):
        return all(_is_array_data(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        # a list of (x, y) tuples is a stream of batches; a list of numbers or arrays is data
        return not x or not all(isinstance(item, tuple) for item in x)
    return False


def _is_pydataset(x) -> bool:
    from ..utils import PyDataset
    return isinstance(x, PyDataset)


def train_validation_split(arrays, validation_split):
    """``(train, validation)``: the last `validation_split` of the samples is the validation part.

    `arrays` is a structure of arrays with the same number of samples; the split is made before
    any shuffling, as Keras does.

    >>> train, val = train_validation_split((np.arange(10), None), 0.2)
    >>> train[0].tolist(), val[0].tolist(), val[1]
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9], None)
    """
    if not 0.0 < validation_split < 1.0:
        raise ValueError("`validation_split` must be between 0 and 1; received "
                         f"validation_split={validation_split}")
    arrays = _map(lambda a: a.to_numpy() if _is_frame(a) else a, arrays)
    leaves = [leaf for leaf in _flatten(arrays) if leaf is not None]
    unsupported = {type(leaf).__name__ for leaf in leaves if not isinstance(leaf, (np.ndarray, Tensor))}
    if unsupported:
        raise ValueError("`validation_split` is only supported for Tensors or NumPy arrays, found following "
                         f"types in the input: {sorted(unsupported)}")
    n = _shape(leaves[0])[0]
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to split it into a "
                         "validation and training set as specified by "
                         f"`validation_split={validation_split}`. Either provide more data, or a different "
                         "value for the `validation_split` argument.")

    def part(lo, hi):
        return _map(lambda a: None if a is None else _to_numpy(a)[lo:hi], arrays)

    return part(0, split_at), part(split_at, n)


def _rows(arrays, rows):
    """The tensors of `rows` of every array in the structure (None stays None)."""
    return _map(lambda a: None if a is None else _to_tensor(a[rows]), arrays)


def _as_array(x):
    """Array data as NumPy: tensors read out, lists of numbers made arrays; lists of arrays stay lists."""
    if x is None or isinstance(x, np.ndarray):
        return x
    if isinstance(x, Tensor):
        return x.numpy()
    if _is_frame(x):
        return x.to_numpy()
    if isinstance(x, dict):
        return {key: _as_array(value) for key, value in x.items()}
    if isinstance(x, (list, tuple)) and any(isinstance(v, (np.ndarray, Tensor, dict)) or _is_frame(v)
                                            for v in x):
        return type(x)(_as_array(v) for v in x)  # several inputs
    return np.asarray(x)


def _check_cardinality(*parts) -> int:
    sizes = {name: sorted({_shape(a)[0] if _shape(a) else 1 for a in _flatten(part) if a is not None})
             for name, part in zip(("x", "y", "sample_weight"), parts) if part is not None}
    if any(not _shape(a) for part in parts for a in _flatten(part) if a is not None):
        raise ValueError(f"Expected arrays with a batch dimension (one row per sample); received "
                         f"{_describe([p for p in parts if p is not None])}.")
    if len({n for ns in sizes.values() for n in ns}) > 1:
        detail = "\n".join(f"'{name}' sizes: {', '.join(map(str, ns))}" for name, ns in sizes.items())
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of "
                         f"samples.\n{detail}")
    return sizes["x"][0]


def _known_length(source):
    """The number of batches, -1 for an infinite dataset, None when unknown."""
    cardinality = getattr(source, "cardinality", None)
    if callable(cardinality):
        n = int(np.asarray(_to_numpy(cardinality())))
        return n if n >= -1 else None
    try:
        return len(source)
    except (TypeError, NotImplementedError):
        return None
