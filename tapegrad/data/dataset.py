"""Dataset: a re-iterable pipeline of elements (nests of tensors), as ``tf.data.Dataset``.

Each transformation returns a new Dataset wrapping its source; iterating builds
fresh iterators all the way down, so every ``for`` loop over a shuffled dataset
sees a new order (TF's ``reshuffle_each_iteration=True``).  Elements are held as
NumPy nests internally and handed out as tapegrad Tensors.
"""
from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, convert_to_array
from ..ops import random as _random

AUTOTUNE = -1
INFINITE = -1
UNKNOWN = -2


def _map_nest(fn, nest):
    if isinstance(nest, dict):
        return {k: _map_nest(fn, v) for k, v in nest.items()}
    if isinstance(nest, tuple) and hasattr(nest, "_fields"):
        return type(nest)(*(_map_nest(fn, v) for v in nest))
    if isinstance(nest, (tuple, list)):
        return tuple(_map_nest(fn, v) for v in nest)
    return fn(nest)


def _leaves(nest):
    if isinstance(nest, dict):
        return [x for k in nest for x in _leaves(nest[k])]
    if isinstance(nest, (tuple, list)):
        return [x for v in nest for x in _leaves(v)]
    return [nest]


def _to_tensors(nest):
    return _map_nest(lambda a: Tensor(a), nest)


class Dataset:
    """A pipeline of elements; build with ``from_tensor_slices`` and chain transformations.

    >>> import numpy as np, tapegrad as tf
    >>> ds = tf.data.Dataset.from_tensor_slices((np.arange(5.0), np.arange(5))).batch(2)
    >>> [tuple(x.shape) for x, y in ds]
    [(2,), (2,), (1,)]
    """

    def __init__(self, make_iterator, cardinality: int):
        self._make_iterator = make_iterator  # () -> iterator of NumPy nests
        self._cardinality = cardinality

    # -- sources -------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None) -> "Dataset":
        """Slices along axis 0 of every component of a nest (tuple, dict or a single array)."""
        arrays = _map_nest(lambda t: convert_to_array(t) if not isinstance(t, Tensor) else
                           np.asarray(t._value), tensors)
        leaves = _leaves(arrays)
        if not leaves or any(a.ndim == 0 for a in leaves):
            raise ValueError("from_tensor_slices needs components of rank >= 1")
        n = leaves[0].shape[0]
        if any(a.shape[0] != n for a in leaves):
            sizes = [a.shape[0] for a in leaves]
            raise ValueError(f"Dimensions {sizes} in the components of `tensors` must be equal "
                             f"(all components are sliced along their first axis).")
        return Dataset(lambda: (_map_nest(lambda a: a[i], arrays) for i in range(n)), n)

    @staticmethod
    def range(*args, output_type="int64", name=None) -> "Dataset":
        values = np.arange(*args).astype(output_type)
        return Dataset(lambda: iter(values), len(values))

    # -- transformations -----------------------------------------------------------------
    def shuffle(self, buffer_size: int, seed=None, reshuffle_each_iteration=None, name=None) -> "Dataset":
        """Shuffle with a buffer of `buffer_size` elements (a perfect shuffle needs >= the size)."""
        if buffer_size is None or int(buffer_size) < 1:
            raise ValueError(f"buffer_size must be positive, got {buffer_size}")
        buffer_size = int(buffer_size)
        reshuffle = True if reshuffle_each_iteration is None else reshuffle_each_iteration
        seeds, _ = _random.STATE.resolve(seed)  # TF: the op seed is fixed when the dataset is made
        epoch = [0]

        def make():
            if reshuffle:
                epoch[0] += 1
            rng = np.random.default_rng(None if seeds is None else (*seeds, epoch[0]))
            return _shuffled(self._make_iterator(), buffer_size, rng)
        return Dataset(make, self._cardinality)

    def batch(self, batch_size: int, drop_remainder: bool = False, num_parallel_calls=None,
              deterministic=None, name=None) -> "Dataset":
        """Stack consecutive elements; the last batch is smaller unless `drop_remainder`."""
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")

        def make():
            source = self._make_iterator()
            while True:
                items = []
                for item in source:
                    items.append(item)
                    if len(items) == batch_size:
                        break
                if not items or (drop_remainder and len(items) < batch_size):
                    return
                yield _stack(items)
                if len(items) < batch_size:
                    return
        n = self._cardinality
        card = n if n < 0 else (n // batch_size if drop_remainder else -(-n // batch_size))
        return Dataset(make, card)

    def take(self, count: int, name=None) -> "Dataset":
        count = int(count)

        def make():
            it = self._make_iterator()
            return it if count < 0 else (x for _, x in zip(range(count), it))
        n = self._cardinality
        return Dataset(make, n if count < 0 else (count if n < 0 and n == INFINITE else min(n, count)))

    def repeat(self, count=None, name=None) -> "Dataset":
        count = -1 if count is None else int(count)

        def make():
            i = 0
            while count < 0 or i < count:
                yield from self._make_iterator()
                i += 1
        n = self._cardinality
        return Dataset(make, INFINITE if count < 0 else n * count if n >= 0 else n)

    # -- iteration -----------------------------------------------------------------------
    def __iter__(self):
        for element in self._make_iterator():
            yield _to_tensors(element)

    def as_numpy_iterator(self):
        return iter(self._make_iterator())

    def cardinality(self) -> Tensor:
        return Tensor(np.array(self._cardinality, dtype=np.int64))

    def __len__(self) -> int:
        if self._cardinality == INFINITE:
            raise TypeError("The dataset is infinite.")
        if self._cardinality < 0:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality


def _shuffled(source, buffer_size, rng):
    buffer = []
    for item in source:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        i = int(rng.integers(buffer_size))
        yield buffer[i]
        buffer[i] = item
    while buffer:
        yield buffer.pop(int(rng.integers(len(buffer))))


def _stack(items):
    first = items[0]
    if isinstance(first, dict):
        return {k: _stack([it[k] for it in items]) for k in first}
    if isinstance(first, tuple):
        return tuple(_stack([it[i] for it in items]) for i in range(len(first)))
    return np.stack(items)
