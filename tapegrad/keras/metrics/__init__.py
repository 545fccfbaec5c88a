"""Keras 3 metrics (``tf.keras.metrics``): streaming statistics kept in non-trainable variables.

One module per family: ``base`` (Metric, Sum, Mean, MeanMetricWrapper), ``accuracy``,
``regression``, ``probabilistic`` (cross-entropies, KL, Poisson, hinge), ``confusion`` (counts,
precision, recall, AUC, rates at a constraint), ``f_score``. Names are looked up here as Keras's
``get`` does: class names, their snake_case forms and the short aliases ("mae", "bce", ...).

>>> import tapegrad as tf
>>> acc = tf.keras.metrics.SparseCategoricalAccuracy()
>>> acc([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
<tf.Tensor: shape=(), dtype=float32, numpy=0.5>
"""
from __future__ import annotations

import inspect

from ..layers.base import to_snake_case
from ..losses import (
    binary_crossentropy,
    categorical_crossentropy,
    cosine_similarity,
    deserialize_from,
    huber,
    kl_divergence,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_crossentropy,
)
from .accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .base import Mean, MeanMetricWrapper, Metric, Sum
from .confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from .f_score import F1Score, FBetaScore
from .probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    categorical_hinge,
    hinge,
    poisson,
    squared_hinge,
)
from .regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    log_cosh,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
)

_CLASSES = (Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
            SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
            MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
            MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, AUC, TruePositives, FalsePositives,
            TrueNegatives, FalseNegatives, Precision, Recall, PrecisionAtRecall, RecallAtPrecision,
            SensitivityAtSpecificity, SpecificityAtSensitivity, Hinge, SquaredHinge, CategoricalHinge,
            KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            F1Score, FBetaScore)
_FUNCTIONS = (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
              top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, binary_crossentropy,
              categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error,
              mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, huber,
              kl_divergence, cosine_similarity, poisson, hinge, squared_hinge, categorical_hinge, log_cosh)

__all__ = [cls.__name__ for cls in _CLASSES] + [fn.__name__ for fn in _FUNCTIONS] + [
    "get", "serialize", "deserialize"]

# Keras maps class names and their snake_case forms to classes (so "mean_absolute_error" and "mae"
# give a MeanAbsoluteError); a function is found by name where no class has it
_OBJECTS = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_OBJECTS.update({fn.__name__: fn for fn in _FUNCTIONS if fn.__name__ not in _OBJECTS})
for _short, _cls in (("bce", BinaryCrossentropy), ("mse", MeanSquaredError), ("mae", MeanAbsoluteError),
                     ("mape", MeanAbsolutePercentageError), ("msle", MeanSquaredLogarithmicError)):
    _OBJECTS[_short] = _OBJECTS[_short.upper()] = _cls

# Which way is better, for callbacks' mode="auto" (Keras 3 keeps the same on its metrics)
for _cls in (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
             TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC):
    _cls._direction = "up"
MeanSquaredError._direction = "down"


def serialize(metric):
    """A metric as a config dict (``{"class_name", "config"}``), or a metric function as its name.

    >>> import tapegrad as tf
    >>> serialize(tf.keras.metrics.Mean(name="loss"))
    {'class_name': 'Mean', 'config': {'name': 'loss', 'dtype': 'float32'}}
    """
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return getattr(metric, "__name__", metric)


def deserialize(config, custom_objects=None):
    """The metric a ``serialize`` output describes (`custom_objects` maps extra names).

    >>> float(deserialize({"class_name": "AUC", "config": {"num_thresholds": 3}}).thresholds[1])
    0.5
    """
    return deserialize_from({**_OBJECTS, **(custom_objects or {})}, config, "metric")


def get(identifier):
    """A metric from a name ("accuracy", "SparseCategoricalAccuracy", "mse"), a config dict, a class
    (instantiated) or a callable (returned as is); None gives None.

    >>> import tapegrad as tf
    >>> type(tf.keras.metrics.get("sparse_categorical_accuracy")).__name__
    'SparseCategoricalAccuracy'
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
    raise ValueError(f"Could not interpret metric identifier: {identifier}")

from ..._compat import module_getattr as _module_getattr

__getattr__ = _module_getattr("tf.keras.metrics")  # a name not implemented: an honest AttributeError
