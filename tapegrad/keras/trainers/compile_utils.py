"""The loss and metrics given to ``compile``: ``CompileLoss`` (one loss, or one per output, with
weights) and ``CompileMetrics`` (metrics and weighted metrics per output), resolved against the
first batch's targets and outputs ("accuracy" and "crossentropy" pick their variant by the shapes).
"""
from __future__ import annotations

import numpy as np

from ...core.tensor import Tensor, convert_to_tensor
from ...ops.math import add_n, cast, multiply
from .. import losses as losses_module
from .. import metrics as metrics_module
from ..loss_checks import LabelValueError
from .data_adapters import _batch_size, _describe, _flatten, _is_nested, _shape


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
    except LabelValueError:
        raise  # about the labels' values, not a mismatch: the loss's own message says it all
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
