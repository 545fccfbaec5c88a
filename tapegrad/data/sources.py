"""More ``tf.data.Dataset`` sources and combinators: ``list_files`` (file names matching glob
patterns), ``sample_from_datasets`` (a random mixture), ``interleave`` and ``flat_map``
(a dataset per input element, read in turn).  ``tapegrad.data`` attaches them to ``Dataset``.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from ..core import dtypes
from ..core.spec import TensorSpec
from ..core.tensor import Tensor
from ..errors import InvalidArgumentError
from .dataset import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, _call_user, _name_of

__all__ = ["flat_map", "interleave", "list_files", "sample_from_datasets"]


def _patterns(file_pattern) -> list:
    if isinstance(file_pattern, Tensor):
        return [os.fsdecode(p) for p in np.asarray(file_pattern.numpy(), dtype=object).reshape(-1)]
    if isinstance(file_pattern, (str, bytes, os.PathLike)):
        return [os.fsdecode(file_pattern)]
    return [os.fsdecode(Tensor(p).numpy() if isinstance(p, Tensor) else p) for p in file_pattern]


def list_files(file_pattern, shuffle=None, seed=None, name=None) -> Dataset:
    """The file names matching `file_pattern` (a glob, or a list of globs) as scalar strings, in
    sorted order, or shuffled anew each epoch unless ``shuffle=False`` (TF's default shuffles).

    >>> import os, tempfile, tapegrad as tf
    >>> folder = tempfile.mkdtemp()
    >>> for n in ("b.txt", "a.txt"):
    ...     _ = open(os.path.join(folder, n), "w").write("x")
    >>> ds = tf.data.Dataset.list_files(os.path.join(folder, "*.txt"), shuffle=False)
    >>> [os.path.basename(f.numpy().decode()) for f in ds]
    ['a.txt', 'b.txt']
    """
    patterns = _patterns(file_pattern)
    found = sorted({f for p in patterns for f in glob.glob(p)})
    if not found:
        raise InvalidArgumentError("Expected 'tf.Tensor(False, shape=(), dtype=bool)' to be true. Summarized "
                                   f"data: b'No files matched pattern: {', '.join(patterns)}'")
    names = np.array([f.encode() for f in found])
    ds = Dataset.from_tensor_slices(names)
    if shuffle is None or shuffle:
        ds = ds.shuffle(len(found), seed=seed)
    return ds


def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False,
                         rerandomize_each_iteration=None) -> Dataset:
    """Elements drawn at random from `datasets`, dataset ``i`` with probability ``weights[i]``
    (uniform by default); an exhausted dataset is left out of the draws, or ends the whole with
    ``stop_on_empty_dataset=True``.  The datasets need the same element structure.

    >>> import tapegrad as tf
    >>> a, b = tf.data.Dataset.range(3), tf.data.Dataset.range(10, 12)
    >>> sorted(int(x) for x in tf.data.Dataset.sample_from_datasets([a, b], seed=1))
    [0, 1, 2, 10, 11]
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("Invalid `datasets`. `datasets` should not be empty.")
    p = np.full(len(datasets), 1.0 / len(datasets)) if weights is None else \
        np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, dtype=np.float64)
    if p.shape != (len(datasets),):
        raise ValueError(f"Invalid `weights`. The shape of `weights` should be compatible with "
                         f"`[len(datasets)]` but is {list(p.shape)}.")
    epoch = [0]

    def make():
        rng = np.random.RandomState(None if seed is None else seed + epoch[0])
        epoch[0] += 1
        iterators = [d._make_iterator() for d in datasets]
        live = p.copy()
        while live.sum() > 0:
            i = rng.choice(len(datasets), p=live / live.sum())
            item = next(iterators[i], None)
            if item is None:
                if stop_on_empty_dataset:
                    return
                live[i] = 0.0
                continue
            yield item

    def cardinality():
        cards = [d._cardinality() for d in datasets]
        if all(c == INFINITE_CARDINALITY for c in cards):
            return INFINITE_CARDINALITY
        return UNKNOWN_CARDINALITY
    return Dataset(make, cardinality, lambda: datasets[0].element_spec, "DirectedInterleaveDataset")


def _as_dataset(out, what):
    if not isinstance(out, Dataset):
        raise TypeError(f"{what} must return a `tf.data.Dataset`, but returned a {type(out).__name__}.")
    return out


def interleave(self, map_func, cycle_length=None, block_length=None, num_parallel_calls=None,
               deterministic=None, name=None) -> Dataset:
    """The datasets ``map_func`` makes from each element, `cycle_length` of them read at a time,
    `block_length` elements from each in turn.

    >>> import tapegrad as tf
    >>> ds = tf.data.Dataset.range(1, 3).interleave(
    ...     lambda x: tf.data.Dataset.from_tensors(x).repeat(3), cycle_length=2, block_length=2)
    >>> [int(x) for x in ds]
    [1, 1, 2, 2, 1, 2]
    """
    what = f"Dataset.interleave({_name_of(map_func)})"
    cycle = 16 if cycle_length in (None, -1) else max(int(cycle_length), 1)
    block = 1 if block_length is None else max(int(block_length), 1)
    spec = []

    def open_one(index, element):
        ds = _as_dataset(_call_user(map_func, element, what, index), what)
        if not spec:
            spec.append(ds.element_spec)
        return ds._make_iterator()

    def make():
        inputs = enumerate(self._make_iterator())
        active = []
        while True:
            while len(active) < cycle:
                nxt = next(inputs, None)
                if nxt is None:
                    break
                active.append(open_one(*nxt))
            if not active:
                return
            for k, reader in enumerate(list(active)):
                for _ in range(block):
                    item = next(reader, None)
                    if item is None:
                        active[k] = None
                        break
                    yield item
            active = [a for a in active if a is not None]

    def element_spec():
        if not spec:
            first = next(iter(self._make_iterator()), None)
            if first is None:
                return TensorSpec((), dtypes.float32)
            open_one(0, first)
        return spec[0]
    return self._then("InterleaveDataset", make, cardinality=lambda: UNKNOWN_CARDINALITY,
                      element_spec=element_spec)


def flat_map(self, map_func, name=None) -> Dataset:
    """The elements of the datasets ``map_func`` makes from each element, one dataset after another.

    >>> import tapegrad as tf
    >>> ds = tf.data.Dataset.range(3).flat_map(lambda x: tf.data.Dataset.range(x))
    >>> [int(x) for x in ds]
    [0, 0, 1]
    """
    out = interleave(self, map_func, cycle_length=1)
    out._kind = "FlatMapDataset"
    return out


def concatenate(self, dataset, name=None) -> Dataset:
    """This dataset's elements, then `dataset`'s; both must have the same structure and dtypes (the
    shapes of the result are the most specific both fit).

    >>> import tapegrad as tf
    >>> [int(x) for x in tf.data.Dataset.range(2).concatenate(tf.data.Dataset.range(5, 7))]
    [0, 1, 5, 6]
    """
    from . import _nest
    first, second = self.element_spec, dataset.element_spec
    if _nest.layout(first) != _nest.layout(second) or any(
            a.dtype != b.dtype for a, b in zip(_nest.flatten(first), _nest.flatten(second))):
        raise TypeError(f"Incompatible dataset elements:\n  {first}\nvs.\n  {second}")

    def make():
        yield from self._make_iterator()
        yield from dataset._make_iterator()

    def cardinality():
        a, b = self._cardinality(), dataset._cardinality()
        if INFINITE_CARDINALITY in (a, b):
            return INFINITE_CARDINALITY
        return UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in (a, b) else a + b

    def element_spec():
        pairs = zip(_nest.flatten(first), _nest.flatten(second))
        return _nest.pack(first, [_relaxed(a, b) for a, b in pairs])
    return Dataset(make, cardinality, element_spec, "ConcatenateDataset")


def _relaxed(a: TensorSpec, b: TensorSpec) -> TensorSpec:
    """The most specific spec both `a` and `b` fit: a dim kept where they agree, else None."""
    dims_a = a.shape.as_list() if a.shape.rank is not None else None
    dims_b = b.shape.as_list() if b.shape.rank is not None else None
    if dims_a is None or dims_b is None or len(dims_a) != len(dims_b):
        return TensorSpec(None, a.dtype)
    return TensorSpec([x if x == y else None for x, y in zip(dims_a, dims_b)], a.dtype)
