"""``tf.keras.utils``: seeding, batch datasets as Python objects, label and norm helpers."""
from __future__ import annotations

import random

import numpy as np

from ..core.tensor import Tensor


def set_random_seed(seed) -> None:
    """Seed Python's `random`, NumPy's global generator and tapegrad's global seed at once.

    >>> import tapegrad as tf
    >>> tf.keras.utils.set_random_seed(3)
    >>> a = (random.random(), np.random.rand(), float(tf.random.uniform([])))
    >>> tf.keras.utils.set_random_seed(3)
    >>> a == (random.random(), np.random.rand(), float(tf.random.uniform([])))
    True
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(  # noqa: TRY004 - Keras raises ValueError here
            f"Expected `seed` argument to be an integer. Received: seed={seed} (of type {type(seed)})")
    from ..ops import random as tf_random
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seeding takes 32 bits
    tf_random.set_seed(seed)


class PyDataset:
    """Batches computed by Python code: subclass it with ``__len__`` and ``__getitem__``.

    ``len(ds)`` is the number of batches and ``ds[i]`` the i-th batch; iterating yields
    the batches in order.  ``on_epoch_end`` is a hook for a training loop to call between
    epochs (to reshuffle, say); iteration does not call it.  (``workers`` and the other
    arguments are accepted for Keras compatibility; batches are made in the calling thread.)

    >>> import tapegrad as tf
    >>> class Squares(tf.keras.utils.Sequence):
    ...     def __init__(self, n, batch_size):
    ...         super().__init__()
    ...         self.x = np.arange(n, dtype="float32")
    ...         self.batch_size = batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, i):
    ...         x = self.x[i * self.batch_size:(i + 1) * self.batch_size]
    ...         return x, x ** 2
    >>> [y.tolist() for _, y in Squares(5, batch_size=2)]
    [[0.0, 1.0], [4.0, 9.0], [16.0]]
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define `__getitem__(self, index)`, "
                                  "returning the batch at `index`.")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define `__len__(self)`, returning the "
                                  "number of batches.")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None when the subclass does not know it."""
        try:
            return len(self)
        except NotImplementedError:
            return None

    def on_epoch_end(self) -> None:
        """Called by a training loop after each epoch; does nothing unless overridden."""

    def __iter__(self):
        # Without this, Python would iterate through __getitem__ until an IndexError that a
        # slicing __getitem__ never raises: the loop would not end.
        for index in range(len(self)):
            yield self[index]


Sequence = PyDataset


def to_categorical(x, num_classes=None):
    """One-hot rows for integer class labels, as a float NumPy array (class axis last).

    A trailing axis of size 1 is dropped first, so labels of shape (n, 1) give (n, classes).

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    if isinstance(x, Tensor):
        x = x.numpy()
    labels = np.asarray(x)
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError(f"to_categorical expects integer class labels; found non-integer values in {x!r}.")
    labels = labels.astype("int64")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if not num_classes:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}); found values from "
                         f"{labels.min()} to {labels.max()}.")
    out = np.zeros((labels.size, num_classes))
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scale `x` to unit `order`-norm along `axis` (zero vectors stay zero).

    NumPy in, NumPy out; a tapegrad Tensor gives a Tensor (differentiable, as Keras's
    ``ops.normalize``: the norm is kept at least ``epsilon()``).

    >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    if not isinstance(x, Tensor):
        x = np.asarray(x)
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis if axis is not None else -1)
    from .. import ops  # noqa: F401  (registers the ops)
    from ..ops.math import abs as tf_abs
    from ..ops.math import maximum
    from ..ops.math import pow as tf_pow
    from ..ops.reduce import reduce_sum
    from .backend import epsilon
    if order == 2:
        norm = tf_pow(reduce_sum(x * x, axis=axis, keepdims=True), 0.5)
    else:
        norm = tf_pow(reduce_sum(tf_pow(tf_abs(x), float(order)), axis=axis, keepdims=True), 1.0 / order)
    return x / maximum(norm, epsilon())


def __getattr__(name):
    """keras.utils also offers the progress bar, the (x, y, sample_weight) helpers fit uses, the image
    file helpers and the datasets from directories (loaded on first use)."""
    if name == "Progbar":
        from .callbacks import Progbar
        return Progbar
    if name in ("image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array"):
        from . import dataset_utils
        return getattr(dataset_utils, name)
    if name in ("load_img", "img_to_array", "array_to_img", "save_img"):
        from .preprocessing import image
        return getattr(image, name)
    if name in ("unpack_x_y_sample_weight", "pack_x_y_sample_weight"):
        from .models import training
        return getattr(training, name)
    if name in ("custom_object_scope", "CustomObjectScope", "get_custom_objects", "get_registered_name",
                "get_registered_object", "register_keras_serializable", "serialize_keras_object",
                "deserialize_keras_object"):
        from . import serialization
        return getattr(serialization, name)
    raise AttributeError(f"module 'tapegrad.keras.utils' has no attribute {name!r}")
