"""``tf.data``: input pipelines (``Dataset``, its ``TensorSpec`` element specs, ``AUTOTUNE``).

>>> import numpy as np, tapegrad as tf
>>> x, y = np.zeros((100, 4), np.float32), np.arange(100)
>>> ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100).batch(32).prefetch(tf.data.AUTOTUNE)
>>> [int(labels.shape[0]) for features, labels in ds]
[32, 32, 32, 4]
"""
from ..core.spec import TensorSpec
from . import experimental
from . import sources as _sources
from ._workers import AUTOTUNE
from .dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, Iterator
from .text_line import TextLineDataset

Dataset.list_files = staticmethod(_sources.list_files)
Dataset.sample_from_datasets = staticmethod(_sources.sample_from_datasets)
Dataset.interleave = _sources.interleave
Dataset.flat_map = _sources.flat_map
Dataset.concatenate = _sources.concatenate

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset", "Iterator", "TensorSpec",
           "TextLineDataset", "experimental"]

from .._compat import module_getattr as _module_getattr

__getattr__ = _module_getattr("tf.data")  # a name not implemented: an honest AttributeError
