"""``EpochIterator``: the batches of one epoch after another, from any input of ``fit``,
``evaluate`` or ``predict`` (arrays, tensors, ``tf.data.Dataset``, ``keras.utils.PyDataset`` or an
iterable of batches), as tuples of tensors.
"""
from __future__ import annotations

import random

import numpy as np

from .data_adapters import (
    _as_array,
    _check_cardinality,
    _describe,
    _is_array_data,
    _is_pydataset,
    _known_length,
    _map,
    _rows,
    _to_tensor,
    class_weight_to_sample_weights,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from .input_checks import check_count

_END = object()


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
    ``check(x, y)`` runs once, on the arrays here or on a stream's first batch, before any
    batch is made (``fit`` refuses strings with it); `steps_name` is the argument errors name.

    >>> it = EpochIterator(np.arange(5.0), np.arange(5), batch_size=2)
    >>> it.num_batches, [tuple(x.shape) for x, y in it.epoch()]
    (3, [(2,), (2,), (1,)])
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False,
                 class_weight=None, persistent=False, steps_name="steps", check=None):
        check_count(steps_name, steps)
        check_count("batch_size", batch_size)
        self._steps = None if steps is None else int(steps)
        self._shuffle = shuffle
        self._class_weight = class_weight
        self._persistent = persistent
        self._stream = None
        self._check = check  # check(x, y): on the arrays now, or on a stream's first batch
        self.ran_out = False  # the last epoch ended before its `steps` batches
        self.last_count = 0  # the number of batches the last epoch gave
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
            if check is not None:
                check(self._x, self._y)
                self._check = None
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
        self.data_batches = known  # what the data holds (None: unknown until a pass ends)
        self.num_batches = self._steps if self._steps is not None else known

    @property
    def empty(self) -> bool:
        """Whether the data is known to hold no batch at all."""
        return self.data_batches == 0

    def describe(self) -> str:
        """What the data is, for an error: the arrays' shapes and dtypes, or the stream's type."""
        if self._kind == "arrays":
            parts = [f"{name} has {_describe(part)}" for name, part in
                     (("x", self._x), ("y", self._y), ("sample_weight", self._sample_weight))
                     if part is not None]
            return f"{self._size} samples: " + "; ".join(parts)
        length = "" if self.data_batches is None else f" of {self.data_batches} batches"
        return f"`x` is a `{type(self._source).__name__}`{length}"

    def epoch(self):
        """Yield the batches of one epoch (tuples of tensors)."""
        self.ran_out = False
        self.last_count = 0
        if self._steps is None:
            for batch in self._one_pass():
                self.last_count += 1
                yield batch
            return
        stream = self._stream if self._stream is not None else self._one_pass()
        self._stream = stream if self._persistent else None
        for _ in range(self._steps):
            batch = next(stream, _END)
            if batch is _END:
                self.ran_out = True
                self._stream = None  # the next epoch starts a new pass
                return
            self.last_count += 1
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
        if self._check is not None:
            check, self._check = self._check, None
            check(x, y)
        return pack_x_y_sample_weight(*_map(_to_tensor, (x, y, sample_weight)))
