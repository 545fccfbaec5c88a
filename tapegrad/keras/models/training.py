"""Keras 3 training for models: ``compile``, ``fit``, ``evaluate``, ``predict`` and their parts.

``Trainer`` is a mixin of ``Model``.  Every batch goes through ``train_step`` (or
``test_step``, ``predict_step``), which are the seed's GradientTape loop: forward pass, loss
(plus ``model.losses``), ``tape.gradient``, ``optimizer.apply_gradients``, metric updates.
Override them as Keras 3's "customizing what happens in fit" guide shows; ``fit`` and the
callbacks keep working.

``fit``, ``evaluate`` and ``predict`` share one batch loop (``Trainer._run_epoch``) over an
``EpochIterator``, which turns NumPy arrays, tensors, dicts, ``tf.data.Dataset``,
``keras.utils.PyDataset`` and plain iterables of ``(x, y[, sample_weight])`` batches into
batches of tensors.

Steps run eagerly: ``run_eagerly``, ``jit_compile`` and ``steps_per_execution`` are accepted
and recorded as Keras does (``steps_per_execution=N`` calls the batch callbacks every N
batches), but nothing is compiled.

``model.optimizer`` is a plain attribute, so the weights files hold its variables under
"optimizer" as Keras 3's do.  The compiled loss and metrics and the loss tracker live in
``_keras_*`` attributes, which layer tracking and the weights files skip: their state is
per-run bookkeeping, rebuilt by ``compile``.
"""
from __future__ import annotations

import inspect
import itertools
import math
import random
import warnings

import numpy as np

from ...core.tape import GradientTape
from ...core.tensor import Tensor, convert_to_tensor
from ...ops.math import add_n, cast, multiply
from ...ops.reduce import reduce_sum
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module

_OUT_OF_DATA = ("Your input ran out of data; interrupting training. Make sure that your dataset or "
                "generator can generate at least `steps_per_epoch * epochs` batches. You may need to use "
                "the `.repeat()` function when building your dataset.")
_STOP_FLAGS = {"train": "stop_training", "test": "stop_evaluating", "predict": "stop_predicting"}
_END = object()


# -- nested structures (tuples, lists and dicts of leaves; dicts in sorted key order) ---------------

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
    dtype = getattr(dtype, "name", dtype) if dtype is not None else type(x).__name__
    return f"shape {_shape(x)}, {dtype}"


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


# -- data -----------------------------------------------------------------------------------------

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


def _is_array_data(x) -> bool:
    """Arrays, tensors, or lists/tuples/dicts of them (several inputs), not a stream of batches."""
    if isinstance(x, (np.ndarray, Tensor)) or np.isscalar(x):
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


class EpochIterator:
    """The batches of one epoch after another, from any input ``fit``/``evaluate``/``predict`` take.

    - Arrays and tensors (or lists/dicts of them) with ``y`` and ``sample_weight``: batches of
      `batch_size` (32 by default), in a new random order each epoch when `shuffle` is true
      (``"batch"`` shuffles the order of the batches only).
    - A ``tf.data.Dataset``, a ``keras.utils.PyDataset`` (batch order shuffled when `shuffle`,
      ``on_epoch_end`` called after each pass), or any iterable of ``x`` / ``(x, y)`` /
      ``(x, y, sample_weight)`` batches, iterated afresh each epoch.

    With `steps`, an epoch is that many batches; with ``persistent=True`` (``fit``) the next
    epoch goes on where the last one stopped, as a Keras iterator does.  `class_weight` turns
    the labels of each batch into sample weights.  Batches come as tuples of tensors.

    >>> it = EpochIterator(np.arange(5.0), np.arange(5), batch_size=2)
    >>> it.num_batches, [tuple(x.shape) for x, y in it.epoch()]
    (3, [(2,), (2,), (1,)])
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False,
                 class_weight=None, persistent=False):
        if steps is not None and (not isinstance(steps, (int, np.integer)) or steps < 1):
            raise ValueError(f"The number of steps must be a positive integer or None; received {steps!r}.")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"`batch_size` must be a positive integer or None; received {batch_size!r}.")
        self._steps = None if steps is None else int(steps)
        self._shuffle = shuffle
        self._class_weight = class_weight
        self._persistent = persistent
        self._stream = None
        self.ran_out = False  # the last epoch ended before its `steps` batches
        if x is None:
            raise ValueError("No input data: pass `x` (arrays, a tf.data.Dataset, a PyDataset or an iterable "
                             "of batches).")
        if _is_array_data(x):
            self._kind = "arrays"
            self._x, self._y, self._sample_weight = _as_array(x), _as_array(y), _as_array(sample_weight)
            if class_weight is not None:
                if sample_weight is not None:
                    raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
                self._sample_weight = class_weight_to_sample_weights(self._y, class_weight)
                self._class_weight = None  # applied once, here
            self._size = _check_cardinality(self._x, self._y, self._sample_weight)
            self._batch_size = int(batch_size or 32)
            known = -(-self._size // self._batch_size)
        else:
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(f"`{name}` argument is not supported when using a dataset, PyDataset "
                                     f"or iterable as input (`{type(x).__name__}`): yield "
                                     "`(x, y, sample_weight)` batches from it instead.")
            self._kind = "pydataset" if _is_pydataset(x) else "iterable"
            self._source = x
            known = _known_length(x)
            if known == -1 and self._steps is None:
                raise ValueError("The input is an infinite dataset: pass `steps_per_epoch` (in `fit`) or "
                                 "`steps` (in `evaluate` and `predict`) to say how many batches make an "
                                 "epoch.")
            known = None if known is not None and known < 0 else known
        self.num_batches = self._steps if self._steps is not None else known

    def epoch(self):
        """Yield the batches of one epoch (tuples of tensors)."""
        self.ran_out = False
        if self._steps is None:
            yield from self._one_pass()
            return
        stream = self._stream if self._stream is not None else self._one_pass()
        self._stream = stream if self._persistent else None
        for _ in range(self._steps):
            batch = next(stream, _END)
            if batch is _END:
                self.ran_out = True
                self._stream = None  # the next epoch starts a new pass
                return
            yield batch

    def _one_pass(self):
        if self._kind == "arrays":
            yield from self._array_batches()
            return
        if self._kind == "pydataset":
            begin = getattr(self._source, "on_epoch_begin", None)
            if callable(begin):
                begin()
            indices = list(range(len(self._source)))
            if self._shuffle:
                random.shuffle(indices)  # Python's generator: keras.utils.set_random_seed seeds it
            for i in indices:
                yield self._batch(self._source[i])
            self._source.on_epoch_end()
            return
        for element in self._source:
            yield self._batch(element)

    def _array_batches(self):
        n, size = self._size, self._batch_size
        order = np.arange(n)
        if self._shuffle == "batch":
            starts = np.random.permutation(np.arange(0, n, size))
            order = np.concatenate([order[s:s + size] for s in starts]) if n else order
        elif self._shuffle:
            order = np.random.permutation(n)  # NumPy's generator: keras.utils.set_random_seed seeds it
        for start in range(0, n, size):
            rows = order[start:start + size]
            yield pack_x_y_sample_weight(*_rows((self._x, self._y, self._sample_weight), rows))

    def _batch(self, element):
        x, y, sample_weight = unpack_x_y_sample_weight(element)
        if self._class_weight is not None and y is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time: the "
                                 "batches already carry sample weights.")
            sample_weight = class_weight_to_sample_weights(y, self._class_weight)
        return pack_x_y_sample_weight(*_map(_to_tensor, (x, y, sample_weight)))


def _rows(arrays, rows):
    """The tensors of `rows` of every array in the structure (None stays None)."""
    return _map(lambda a: None if a is None else _to_tensor(a[rows]), arrays)


def _as_array(x):
    """Array data as NumPy: tensors read out, lists of numbers made arrays; lists of arrays stay lists."""
    if x is None or isinstance(x, np.ndarray):
        return x
    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, dict):
        return {key: _as_array(value) for key, value in x.items()}
    if isinstance(x, (list, tuple)) and any(isinstance(v, (np.ndarray, Tensor, dict)) for v in x):
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


# -- compiled losses and metrics -------------------------------------------------------------------

def _output_names(model) -> list | None:
    """The functional model's output names (the layers that make them), as Keras names outputs."""
    if getattr(model, "_keras_graph", None) is None:
        return None  # a subclassed model: its outputs have no names
    try:
        return [t._keras_history.operation.name for t in model.outputs] or None
    except Exception:  # noqa: BLE001 - an unbuilt Sequential has no outputs yet: no names, as Keras
        return None


def _is_binary_or_sparse(y_true, y_pred) -> tuple:
    t, p = _shape(y_true), _shape(y_pred)
    p_last = p[-1] if p else None
    is_binary = p_last == 1
    is_sparse = len(t) < len(p) or (bool(t) and t[-1] == 1 and (p_last or 0) > 1)
    return is_binary, is_sparse


def _get_loss(identifier, y_true, y_pred):
    """A Loss object for a compile() loss identifier; "crossentropy"/"ce" picks by the shapes."""
    if str(identifier).lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = _is_binary_or_sparse(y_true, y_pred)
        loss = (losses_module.binary_crossentropy if is_binary else
                losses_module.sparse_categorical_crossentropy if is_sparse else
                losses_module.categorical_crossentropy)
    else:
        loss = losses_module.get(identifier)
    if isinstance(loss, losses_module.Loss):
        return loss
    name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", type(loss).__name__)
    return losses_module.LossFunctionWrapper(loss, name=name)


def _get_metric(identifier, y_true, y_pred):
    """A Metric for a compile() metric identifier; "accuracy"/"acc" picks the variant by the shapes."""
    if str(identifier).lower() in ("accuracy", "acc"):
        is_binary, is_sparse = _is_binary_or_sparse(y_true, y_pred)
        cls = (metrics_module.BinaryAccuracy if is_binary else
               metrics_module.SparseCategoricalAccuracy if is_sparse else metrics_module.CategoricalAccuracy)
        return cls(name=str(identifier))
    try:
        metric = metrics_module.get(identifier)
    except ValueError:
        if not isinstance(identifier, str):
            raise
        metric = losses_module.get(identifier)  # loss functions are metrics too ("mae", "mse", ...)
    if isinstance(metric, metrics_module.Metric):
        if isinstance(identifier, str):
            metric.name = identifier
        return metric
    name = identifier if isinstance(identifier, str) else getattr(metric, "__name__", type(metric).__name__)
    return metrics_module.MeanMetricWrapper(metric, name=name)


def _align(y_true, y_pred, output_names, what):
    """(names, flat y_true, flat y_pred): the targets matched to the model outputs they go with."""
    if not _is_nested(y_pred):
        if isinstance(y_true, (list, tuple)) and len(y_true) == 1:
            y_true = y_true[0]
        elif isinstance(y_true, dict) and len(y_true) == 1:
            y_true = next(iter(y_true.values()))
        names = output_names if output_names and len(output_names) == 1 else [None]
        return names, [y_true], [y_pred]
    if isinstance(y_pred, dict):
        names = sorted(y_pred)
        preds = [y_pred[k] for k in names]
    else:
        preds = list(y_pred)
        named = output_names and len(output_names) == len(preds)
        names = list(output_names) if named else [None] * len(preds)
    if isinstance(y_true, dict) and all(n is not None and n in y_true for n in names):
        trues = [y_true[n] for n in names]
    elif isinstance(y_true, (list, tuple)) and len(y_true) == len(preds):
        trues = list(y_true)
    else:
        raise ValueError(f"The targets do not match the model's outputs ({what}): y_true is "
                         f"{_describe(y_true)} but y_pred is {_describe(y_pred)}. Give one target per "
                         f"output, in a list in the outputs' order or a dict keyed by output name {names}.")
    return names, trues, preds


def _per_output(spec, names, what):
    """`spec` (one item, a list with one per output, or a dict by output name) as a list per output."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"In the dict argument `{what}`, key(s) {unknown} do not correspond to any "
                             f"model output. The outputs are named {names}.")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and n > 1:
        if len(spec) != n:
            raise ValueError(f"For a model with multiple outputs, when providing the `{what}` argument as a "
                             f"list, it should have as many entries as the model has outputs. Received "
                             f"{what}={spec!r} of length {len(spec)} whereas the model has {n} outputs.")
        return list(spec)
    return [spec] * n


def _hint(loss_name: str, y_true, y_pred) -> str:
    t, p = _shape(y_true), _shape(y_pred)
    dtype = getattr(y_true, "dtype", np.float32)
    integer = np.dtype(getattr(dtype, "as_numpy_dtype", dtype)).kind in "iub"
    if "sparse" not in loss_name and "categorical" in loss_name and integer and len(t) < len(p):
        return " Integer class labels need `sparse_categorical_crossentropy`."
    if "sparse" in loss_name and t == p and len(p) > 1 and p[-1] > 1:
        return " One-hot targets need `categorical_crossentropy`."
    return ""


class CompileLoss:
    """The loss given to ``compile``: one loss, or one per output (list or dict), with weights.

    Called with ``(y_true, y_pred, sample_weight)``, it returns the weighted sum of the
    outputs' losses.  With several losses it also keeps a ``Mean`` per output,
    ``"<output>_loss"``, reported in the logs as Keras does.

    >>> import tapegrad as tf
    >>> loss = CompileLoss("mse", loss_weights=2.0)
    >>> float(loss(tf.constant([[1.0]]), tf.constant([[3.0]])))
    8.0
    """

    def __init__(self, loss, loss_weights=None, output_names=None):
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict, float, int)):
            raise ValueError("Expected `loss_weights` argument to be a float (single output case) or a list, "
                             "tuple, or dict (multiple output case). Received instead: "
                             f"loss_weights={loss_weights} of type {type(loss_weights)}")
        self._user_loss = loss
        self._user_loss_weights = loss_weights
        self.output_names = output_names
        self.metrics: list = []
        self._losses = None  # [(output index, Loss, weight, tracker or None)], made on the first call

    def build(self, y_true, y_pred) -> None:
        """Resolve the loss identifiers against the first batch's targets and outputs."""
        names, trues, preds = _align(y_true, y_pred, self.output_names, "loss")
        user = self._user_loss
        if len(names) == 1 and isinstance(user, (list, tuple)) and len(user) == 1:
            user = user[0]
        if len(names) == 1 and isinstance(user, dict) and len(user) == 1:
            user = next(iter(user.values()))
        losses = _per_output(user, names, "loss")
        weights = self._user_loss_weights
        if isinstance(weights, (list, tuple)) and len(names) == 1 and len(weights) == 1:
            weights = weights[0]
        weights = _per_output(weights, names, "loss_weights")
        self._losses = []
        for i, (name, loss, weight) in enumerate(zip(names, losses, weights)):
            if loss is not None:
                resolved = _get_loss(loss, trues[i], preds[i])
                # an output's name tells its loss apart from the others', a single loss goes by its own
                name = name if len(names) > 1 and name else resolved.name
                self._losses.append((i, name, resolved, weight))
        if not self._losses:
            raise ValueError(f"No loss to compute: `loss={self._user_loss!r}` gives no loss for any output.")
        if len(self._losses) > 1:
            self.metrics = [metrics_module.Mean(name=f"{name}_loss") for _, name, _, _ in self._losses]

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self._losses is None:
            self.build(y_true, y_pred)
        _, trues, preds = _align(y_true, y_pred, self.output_names, "loss")
        weights = (_align(sample_weight, y_pred, self.output_names, "sample_weight")[1]
                   if _is_nested(sample_weight) and _is_nested(y_pred) else [sample_weight] * len(preds))
        total = []
        for k, (i, name, loss, weight) in enumerate(self._losses):
            value = _checked_loss(loss, name, trues[i], preds[i], weights[i])
            if self.metrics:
                self.metrics[k].update_state(value, sample_weight=_batch_size(preds[i]))
            total.append(value if weight is None else multiply(value, float(weight)))
        return total[0] if len(total) == 1 else add_n(total)


def _checked_loss(loss, name, y_true, y_pred, sample_weight):
    """loss(y_true, y_pred, sample_weight) as float32; a mismatch names both shapes and dtypes."""
    t, p = _shape(y_true), _shape(y_pred)
    if t and p and t[0] != p[0]:
        raise ValueError(f"Loss `{name}`: the targets and the model's output have different batch sizes: "
                         f"y_true has {_describe(y_true)}, y_pred has {_describe(y_pred)}.")
    try:
        value = loss(y_true, y_pred, sample_weight)
    except ValueError as e:
        raise ValueError(f"Loss `{name}` cannot compare the targets with the model's output: y_true has "
                         f"{_describe(y_true)}, y_pred has {_describe(y_pred)}.{_hint(name, y_true, y_pred)} "
                         f"({type(e).__name__}: {e})") from e
    return _float32(value)


def _float32(value) -> Tensor:
    value = convert_to_tensor(value)
    return value if value.dtype.name == "float32" else cast(value, "float32")


class MetricsList(metrics_module.Metric):
    """The metrics of one model output (``output_name`` prefixes their names when there are several).

    >>> import tapegrad as tf
    >>> m = MetricsList([tf.keras.metrics.Accuracy()])
    >>> m.update_state([1, 2], [1, 3]); {k: float(v) for k, v in m.result().items()}
    {'accuracy': 0.5}
    """

    def __init__(self, metrics, name="metrics_list", output_name=None):
        super().__init__(name=name)
        self.metrics = list(metrics)
        self.output_name = output_name

    @property
    def variables(self) -> list:
        return [v for m in self.metrics for v in m.variables]

    def update_state(self, y_true, y_pred, sample_weight=None):
        for metric in self.metrics:
            metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def result(self):
        return {metric.name: metric.result() for metric in self.metrics}


class CompileMetrics(metrics_module.Metric):
    """The ``metrics`` and ``weighted_metrics`` given to ``compile``, as one metric named "compile_metrics".

    Built on the first batch, when "accuracy" can be resolved from the shapes of the targets
    and outputs.  ``result()`` is a dict: each metric's name (prefixed by the output's name
    for multi-output models; "weighted_" for a weighted metric whose name is taken) to its value.

    >>> import tapegrad as tf
    >>> m = CompileMetrics(["accuracy"], None)
    >>> m.update_state(tf.constant([2, 1]), tf.constant([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05]]))
    >>> {k: float(v) for k, v in m.result().items()}, type(m.metrics[0]).__name__
    ({'accuracy': 0.5}, 'SparseCategoricalAccuracy')
    """

    def __init__(self, metrics, weighted_metrics, name="compile_metrics", output_names=None):
        super().__init__(name=name)
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(f"Expected `{arg}` argument to be a list, tuple, or dict. Received instead: "
                                 f"{arg}={value} of type {type(value)}")
        self._user_metrics = metrics
        self._user_weighted_metrics = weighted_metrics
        self.output_names = output_names
        self.built = False
        self._flat = []
        self._flat_weighted = []

    @property
    def metrics(self) -> list:
        """Every metric, unweighted ones first (empty until built)."""
        return [m for group in self._flat + self._flat_weighted if group is not None for m in group.metrics]

    @property
    def variables(self) -> list:
        return [v for m in self.metrics for v in m.variables]

    def build(self, y_true, y_pred) -> None:
        """Make the metric objects for the first batch's targets and outputs."""
        names, trues, preds = _align(y_true, y_pred, self.output_names, "metrics")
        prefix = len(names) > 1
        for arg, spec, flat in (("metrics", self._user_metrics, self._flat),
                                ("weighted_metrics", self._user_weighted_metrics, self._flat_weighted)):
            if len(names) == 1:
                items = _flatten(spec) if isinstance(spec, dict) else spec
                per_output = [items]
            else:
                per_output = _per_output(spec, names, arg)
            for name, items, yt, yp in zip(names, per_output, trues, preds):
                if not items:
                    flat.append(None)
                    continue
                items = items if isinstance(items, (list, tuple)) else [items]
                bad = [m for m in items if not (m is None or isinstance(m, str) or callable(m))]
                if bad:
                    raise ValueError(f"Expected all entries in the `{arg}` list to be metric objects, "
                                     f"names or functions. Received instead: {bad}")
                flat.append(MetricsList([_get_metric(m, yt, yp) for m in items if m is not None],
                                        output_name=name if prefix else None))
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        _, trues, preds = _align(y_true, y_pred, self.output_names, "metrics")
        weights = (_align(sample_weight, y_pred, self.output_names, "sample_weight")[1]
                   if _is_nested(sample_weight) and _is_nested(y_pred) else [sample_weight] * len(preds))
        for group, yt, yp in zip(self._flat, trues, preds):
            if group is not None:
                group.update_state(yt, yp)
        for group, yt, yp, sw in zip(self._flat_weighted, trues, preds, weights):
            if group is not None:
                group.update_state(yt, yp, sample_weight=sw)

    def reset_state(self) -> None:
        for group in self._flat + self._flat_weighted:
            if group is not None:
                group.reset_state()

    def result(self):
        if not self.built:
            raise ValueError("Cannot get result() since the metric has not yet been built.")
        results, taken = {}, {}
        for weighted, groups in ((False, self._flat), (True, self._flat_weighted)):
            for group in groups:
                for metric in group.metrics if group is not None else []:
                    name = _prefixed(group.output_name, metric.name)
                    if name in taken and weighted:
                        name = _prefixed(group.output_name, f"weighted_{metric.name}")
                    if name in taken:
                        taken[name] += 1
                        name = f"{name}_{taken[name] - 1}"
                    taken.setdefault(name, 1)
                    results[name] = metric.result()
        return results


def _prefixed(output_name, name):
    return f"{output_name}_{name}" if output_name else name


# -- logs ----------------------------------------------------------------------------------------

def pythonify_logs(logs) -> dict:
    """Logs as callbacks get them: nested dicts flattened, keys sorted, scalars as Python floats.

    >>> import tapegrad as tf
    >>> pythonify_logs({"loss": tf.constant(0.5), "compile_metrics": {"accuracy": tf.constant(1.0)}})
    {'accuracy': 1.0, 'loss': 0.5}
    """
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        value = _to_numpy(value)
        if isinstance(value, (np.ndarray, np.generic, int, float)) and np.size(value) == 1:
            value = float(np.asarray(value).reshape(()))
        result[key] = value
    return result


def _tracked_metrics(layer, seen: set) -> list:
    """Metric objects assigned as attributes of `layer` and its sublayers (Keras tracks them too)."""
    from ..layers.base import _find
    out = []
    for key, value in vars(layer).items():
        if key.startswith("_keras_"):
            continue
        for metric in _find(value, metrics_module.Metric):
            if id(metric) not in seen:
                seen.add(id(metric))
                out.append(metric)
    for sublayer in layer._sublayers():
        if not isinstance(sublayer, Trainer):  # a nested model's own training state is not ours
            out.extend(_tracked_metrics(sublayer, seen))
    return out


_HAS_TRAINING_ARG: dict = {}


def _compute_loss_has_training_arg(cls) -> bool:
    if cls not in _HAS_TRAINING_ARG:
        _HAS_TRAINING_ARG[cls] = "training" in inspect.signature(cls.compute_loss).parameters
    return _HAS_TRAINING_ARG[cls]


# -- the mixin -------------------------------------------------------------------------------------

class Trainer:
    """``compile``/``fit``/``evaluate``/``predict`` and the steps they run, for ``keras.Model``.

    >>> import tapegrad as tf
    >>> tf.keras.utils.set_random_seed(0)
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    >>> x = np.linspace(-1, 1, 32).reshape(-1, 1); y = 3 * x + 1
    >>> history = model.fit(x, y, epochs=60, batch_size=8, verbose=0)
    >>> round(float(model.layers[0].kernel[0, 0]), 2), round(float(model.layers[0].bias[0]), 2)
    (3.0, 1.0)
    """

    # Class-level defaults: Model.__init__ needs no training code, and an uncompiled model has them.
    compiled = False
    stop_training = False
    stop_evaluating = False
    stop_predicting = False
    loss = None
    history = None
    run_eagerly = False
    jit_compile = False
    steps_per_execution = 1
    optimizer = None
    _keras_compile_loss = None
    _keras_compile_metrics = None
    _keras_loss_tracker = None
    _keras_warned_no_weights = False

    # -- compile --------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure the model for ``fit``/``evaluate``: optimizer, loss(es) and metrics.

        Strings name built-in objects ("adam", "sparse_categorical_crossentropy", "mse");
        "accuracy" (or "acc") becomes binary, categorical or sparse categorical accuracy from
        the shapes of the first batch's targets and outputs, and "crossentropy" likewise.
        Multi-output models take a list (in output order) or a dict (by output name) of losses,
        `loss_weights` and metrics.  `metrics` ignore sample weights; `weighted_metrics` use them.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(3)])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> type(model.optimizer).__name__, model.metrics_names
        ('Adam', ['loss', 'compile_metrics'])
        """
        del auto_scale_loss  # no mixed precision here
        self.optimizer = optimizers_module.get(optimizer)
        output_names = _output_names(self)
        self._keras_compile_loss = CompileLoss(loss, loss_weights, output_names) if loss is not None else None
        self.loss = loss
        self._keras_compile_metrics = (CompileMetrics(metrics, weighted_metrics, output_names=output_names)
                                       if metrics is not None or weighted_metrics is not None else None)
        self._keras_loss_tracker = metrics_module.Mean(name="loss")
        if not isinstance(steps_per_execution, (int, np.integer)) or steps_per_execution < 1:
            raise ValueError("`steps_per_execution` must be a positive integer; received "
                             f"{steps_per_execution!r}.")
        if jit_compile is True and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. Disabling "
                          "`jit_compile`.", stacklevel=2)
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = jit_compile is True and not run_eagerly
        self.steps_per_execution = int(steps_per_execution)
        self.stop_training = False
        self.compiled = True

    def _assert_compile_called(self, method_name) -> None:
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{method_name}()`.")

    # -- metrics --------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics, per-output loss trackers, then metrics the model holds.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.metrics
        []
        >>> model.compile(loss="mse"); [m.name for m in model.metrics]
        ['loss']
        """
        out = []
        if self.compiled:
            if self._keras_loss_tracker is not None:
                out.append(self._keras_loss_tracker)
            if self._keras_compile_metrics is not None:
                out.append(self._keras_compile_metrics)
            if self._keras_compile_loss is not None:
                out.extend(self._keras_compile_loss.metrics)
        seen = {id(m) for m in out}
        out.extend(_tracked_metrics(self, seen))
        return out

    @property
    def metrics_names(self) -> list:
        """The names of ``metrics`` ("loss", "compile_metrics", ...), as Keras 3 lists them.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"]); model.metrics_names
        ['loss', 'compile_metrics']
        """
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        """Reset the state of every metric in ``metrics`` (``fit`` does it at each epoch's start).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> _ = model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
        >>> model.reset_metrics(); model.get_metrics_result()
        {'loss': 0.0}
        """
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self) -> dict:
        """The current values of ``metrics``, flattened into one dict of floats (keys sorted).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> sorted(model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)), return_dict=True))
        ['loss', 'mae']
        """
        results = {}
        for metric in self.metrics:
            if isinstance(metric, CompileMetrics) and not metric.built:
                continue
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[metric.name] = value
        return pythonify_logs(results)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss: the compiled loss plus every loss in ``model.losses`` (regularizers, ``add_loss``).

        Override it to change the loss while keeping the default steps.

        >>> import tapegrad as tf
        >>> dense = tf.keras.layers.Dense(1, kernel_initializer="ones",
        ...                               kernel_regularizer=tf.keras.regularizers.L2(0.5))
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), dense])
        >>> model.compile(loss="mse")
        >>> x = tf.ones([1, 1])
        >>> float(model.compute_loss(x, tf.zeros([1, 1]), model(x)))  # mse 1.0 plus 0.5 * 1.0 ** 2
        1.5
        """
        del x, training  # the default loss needs neither
        losses = []
        if self._keras_compile_loss is not None:
            losses.append(self._keras_compile_loss(y, y_pred, sample_weight))
        for extra in self.losses:
            extra = _float32(extra)
            losses.append(reduce_sum(extra) if extra.shape.rank else extra)
        if not losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return losses[0] if len(losses) == 1 else add_n(losses)

    def _compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``compute_loss``, also when an override predates its `training` argument (as Keras)."""
        if _compute_loss_has_training_arg(type(self)):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with a batch; return ``get_metrics_result()``.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> model.compute_metrics(None, tf.constant([[1.0]]), tf.constant([[3.0]]))["mae"]
        2.0
        """
        del x  # the default metrics do not look at the inputs
        if self._keras_compile_metrics is not None:
            self._keras_compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # compiled_loss / compiled_metrics: Keras 2 names that TF 2-era custom train_steps still use
    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """Deprecated (Keras 2): ``compute_loss(x, y, y_pred, sample_weight)``, counted in the "loss" metric.

        >>> import tapegrad as tf, warnings
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)]); model.compile(loss="mse")
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     float(model.compiled_loss(tf.constant([[1.0]]), tf.constant([[3.0]])))
        4.0
        """
        del regularization_losses  # compute_loss adds model.losses itself
        warnings.warn("`model.compiled_loss()` is deprecated. Instead, use "
                      "`model.compute_loss(x, y, y_pred, sample_weight, training)`.", stacklevel=2)
        loss = self.compute_loss(x=None, y=y, y_pred=y_pred, sample_weight=sample_weight)
        if self._keras_loss_tracker is not None:
            # Keras 2's compiled_loss fed the "loss" metric: train_steps written for it report it
            self._keras_loss_tracker.update_state(loss, sample_weight=_batch_size(y_pred))
        return loss

    @property
    def compiled_metrics(self):
        """Deprecated (Keras 2): an object whose ``update_state(y, y_pred)`` updates ``metrics``.

        >>> import tapegrad as tf, warnings
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     model.compiled_metrics.update_state(tf.constant([[1.0]]), tf.constant([[3.0]]))
        >>> model.get_metrics_result()["mae"]
        2.0
        """
        model = self

        class DeprecatedCompiledMetric:
            def update_state(self, y, y_pred, sample_weight=None):
                warnings.warn("`model.compiled_metrics()` is deprecated. Instead, use e.g.:\n"
                              "for metric in self.metrics:\n    metric.update_state(y, y_pred)\n",
                              stacklevel=2)
                for metric in model.metrics:
                    if metric is model._keras_loss_tracker or isinstance(metric, metrics_module.Mean) and \
                            not isinstance(metric, metrics_module.MeanMetricWrapper):
                        continue  # loss trackers take losses, not (y, y_pred)
                    metric.update_state(y, y_pred, sample_weight=sample_weight)

        return DeprecatedCompiledMetric()

    # -- the steps ------------------------------------------------------------------------------
    def train_step(self, data) -> dict:
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns the logs.

        Forward pass and loss under a ``GradientTape``, gradients of the loss with respect to
        ``trainable_variables``, ``optimizer.apply_gradients``, then the loss tracker (weighted
        by the batch size) and the compiled metrics.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss="mse")
        >>> model.train_step((tf.ones([1, 1]), tf.ones([1, 1])))
        {'loss': 1.0}
        >>> float(model.layers[0].kernel[0, 0])  # 0 - 0.5 * d(w - 1)**2/dw at w=0 (and the bias alike)
        1.0
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        self._keras_loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        variables = self.trainable_variables
        if variables:
            gradients = tape.gradient(scaled, variables)
            self.optimizer.apply_gradients(zip(gradients, variables))
        elif not self._keras_warned_no_weights:
            self._keras_warned_no_weights = True
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data) -> dict:
        """One evaluation step on a batch: forward pass (``training=False``), loss, metrics; no tape.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> model.test_step((tf.ones([1, 1]), tf.constant([[2.0]])))
        {'loss': 4.0, 'mae': 2.0}
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        self._keras_loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's output for a batch (``x``, or a tuple whose first item is ``x``), ``training=False``.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.predict_step((tf.ones([1, 2]),)).numpy()
        array([[2.]], dtype=float32)
        """
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # -- the shared batch loop ----------------------------------------------------------------
    def _run_epoch(self, iterator: EpochIterator, step, callbacks, mode: str):
        """Run `step` on each batch of one epoch with the callbacks' batch hooks; the last logs.

        ``steps_per_execution`` batches run between a ``begin`` and an ``end`` hook (the end hook
        gets the index of the last of them, as Keras).  A ``stop_*`` flag set by a callback ends
        the epoch after the current group.
        """
        begin = getattr(callbacks, f"on_{mode}_batch_begin")
        end = getattr(callbacks, f"on_{mode}_batch_end")
        flag = _STOP_FLAGS[mode]
        group = max(1, int(self.steps_per_execution or 1))
        logs, index, batches = None, 0, iterator.epoch()
        try:
            for first in batches:
                begin(index)
                logs = step(first)
                count = 1
                for batch in itertools.islice(batches, group - 1):  # the rest of the group
                    logs = step(batch)
                    count += 1
                index += count
                end(index - 1, logs)
                if getattr(self, flag, False):
                    break
        finally:
            batches.close()  # a persistent stream stays open in the iterator for the next epoch
        return logs

    def _callback_list(self, callbacks, verbose, epochs, steps, history: bool):
        from ..callbacks import CallbackList
        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(callbacks, add_history=history, add_progbar=verbose != 0, model=self,
                            verbose=verbose, epochs=epochs, steps=steps)

    def _logs_or_metrics(self, logs) -> dict:
        """The model's metrics if the step returned them (the usual case), else the step's own logs."""
        metric_logs = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(metric_logs):
            return metric_logs
        return dict(logs or {})

    def _test_loop(self, iterator, callbacks) -> dict:
        """Evaluate over one pass of `iterator` (shared by ``evaluate`` and ``fit``'s validation)."""
        self.stop_evaluating = False
        callbacks.on_test_begin()
        self.reset_metrics()
        logs = self._run_epoch(iterator, lambda batch: pythonify_logs(self.test_step(batch)), callbacks,
                               "test")
        logs = self._logs_or_metrics(logs)
        callbacks.on_test_end(logs)
        return logs

    # -- fit / evaluate / predict -------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        """Train for `epochs` epochs (from `initial_epoch`); return the ``History`` callback.

        `x` (and `y`, `sample_weight`) are NumPy arrays or tensors (lists/dicts for several
        inputs), or `x` is a ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or an iterable of
        ``(x, y[, sample_weight])`` batches.  `validation_split` keeps the last part of array
        data for validation; `validation_data` is ``(x, y[, sample_weight])`` or a dataset.
        The logs hold each metric's running value over the epoch ("loss", "accuracy", ...)
        and, after validation, the same names prefixed by "val_".

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(2, activation="softmax")])
        >>> model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> x, y = np.random.rand(8, 2), np.array([0, 1] * 4)
        >>> history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
        >>> sorted(history.history), history.epoch
        (['accuracy', 'loss', 'val_accuracy', 'val_loss'], [0, 1])
        """
        self._assert_compile_called("fit")
        if validation_split and validation_data is None:
            if _is_array_data(x):
                x, y, sample_weight = _as_array(x), _as_array(y), _as_array(sample_weight)
            (x, y, sample_weight), validation_data = train_validation_split((x, y, sample_weight),
                                                                            validation_split)
        train = EpochIterator(x, y, sample_weight, batch_size=batch_size, steps=steps_per_epoch,
                              shuffle=shuffle, class_weight=class_weight, persistent=True)
        validation = None
        if validation_data is not None:
            val_x, val_y, val_sample_weight = unpack_x_y_sample_weight(validation_data)
            validation = EpochIterator(val_x, val_y, val_sample_weight, steps=validation_steps,
                                       batch_size=validation_batch_size or batch_size)
        callbacks = self._callback_list(callbacks, verbose, epochs, train.num_batches, history=True)
        self.stop_training = False
        callbacks.on_train_begin()
        training_logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = self._run_epoch(train, lambda batch: pythonify_logs(self.train_step(batch)), callbacks,
                                   "train")
            if logs is None or train.ran_out:
                warnings.warn(_OUT_OF_DATA, stacklevel=2)
                if logs is None:  # not one batch this epoch: there is nothing left to train on
                    break
            epoch_logs = self._logs_or_metrics(logs)
            if validation is not None and _should_eval(epoch, validation_freq):
                val_logs = self._test_loop(validation, callbacks)
                epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        if hasattr(self.optimizer, "finalize_variable_values") and epochs > initial_epoch:
            self.optimizer.finalize_variable_values(self.trainable_variables)
        callbacks.on_train_end(training_logs)
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """The loss and metrics over the data in test mode: a scalar, a list, or a dict with `return_dict`.

        The list follows ``metrics_names``, with the compiled metrics expanded in ``compile``'s order.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> model.evaluate(np.ones((4, 1)), np.zeros((4, 1)), verbose=0)
        [1.0, 1.0]
        >>> model.evaluate(np.ones((4, 1)), np.zeros((4, 1)), verbose=0, return_dict=True)
        {'loss': 1.0, 'mae': 1.0}
        """
        self._assert_compile_called("evaluate")
        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        iterator = EpochIterator(x, y, sample_weight, batch_size=batch_size, steps=steps)
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches, history=False)
        logs = self._test_loop(iterator, callbacks)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for all the inputs, batch by batch, concatenated into NumPy arrays.

        A model with several outputs gives the same structure (list or dict) of arrays.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.predict(np.ones((5, 2)), batch_size=2, verbose=0).ravel()
        array([2., 2., 2., 2., 2.], dtype=float32)
        """
        iterator = EpochIterator(x, batch_size=batch_size, steps=steps)
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches, history=False)
        outputs = []

        def step(batch):
            out = self.predict_step(batch)
            outputs.append(_map(_to_numpy, out))
            return {"outputs": out}

        self.stop_predicting = False
        callbacks.on_predict_begin()
        self._run_epoch(iterator, step, callbacks, "predict")
        callbacks.on_predict_end()
        if not outputs:
            raise ValueError("Unexpected result of `predict_step`: no batches came from the input. Either "
                             "the input is empty or `steps` is 0.")
        return _concatenate(outputs)

    def _flatten_metrics_in_order(self, logs):
        """A list of the logs' values in ``metrics`` order (sorted leftovers last); one value alone."""
        names = []
        for metric in self.metrics:
            if isinstance(metric, CompileMetrics):
                names.extend(metric.result() if metric.built else [])
            else:
                names.append(metric.name)
        results = [logs[name] for name in names if name in logs]
        results += [logs[key] for key in sorted(logs) if key not in names]
        return results[0] if len(results) == 1 else results

    # -- one batch --------------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One ``train_step`` on one batch; the metrics keep accumulating across calls (Keras 3).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
        >>> model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
        1.0
        """
        self._assert_compile_called("train_on_batch")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Arguments `sample_weight` and `class_weight` cannot be specified at the "
                                 f"same time. Received: sample_weight={sample_weight}, "
                                 f"class_weight={class_weight}")
            sample_weight = class_weight_to_sample_weights(y, class_weight)
        logs = pythonify_logs(self.train_step(_one_batch(x, y, sample_weight)))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One ``test_step`` on one batch; the metrics keep accumulating across calls (Keras 3).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.compile(loss="mse")
        >>> model.test_on_batch(np.ones((2, 1)), np.zeros((2, 1)))
        1.0
        """
        self._assert_compile_called("test_on_batch")
        logs = pythonify_logs(self.test_step(_one_batch(x, y, sample_weight)))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict_on_batch(self, x):
        """``predict_step`` on one batch, as NumPy arrays.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.predict_on_batch(np.ones((1, 2)))
        array([[2.]], dtype=float32)
        """
        return _map(_to_numpy, self.predict_step(_one_batch(x)))


def _one_batch(x, y=None, sample_weight=None) -> tuple:
    return pack_x_y_sample_weight(*_map(_to_tensor, (x, y, sample_weight)))


def _should_eval(epoch: int, validation_freq) -> bool:
    epoch += 1  # validation_freq counts epochs from 1, as the user sees them
    if isinstance(validation_freq, int):
        return epoch % validation_freq == 0
    if isinstance(validation_freq, (list, tuple, set)):
        return epoch in validation_freq
    raise ValueError(f"Expected `validation_freq` to be a list or int. Received: "
                     f"validation_freq={validation_freq} of the type {type(validation_freq)}.")


def _concatenate(batches: list):
    """Join per-batch outputs (same structure each) along the batch axis; scalars are stacked."""
    first = batches[0]
    if isinstance(first, dict):
        return {key: _concatenate([b[key] for b in batches]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([b[i] for b in batches]) for i in range(len(first)))
    arrays = [np.asarray(b) for b in batches]
    return np.stack(arrays) if arrays[0].ndim == 0 else np.concatenate(arrays, axis=0)
