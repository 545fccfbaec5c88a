"""Dataset: a re-iterable pipeline of elements (nests of tensors), as ``tf.data.Dataset``.

A Dataset is a recipe: a function that builds a fresh iterator, a cardinality and an element spec.
Each transformation wraps its input's recipe, so every ``for`` loop builds new iterators all the
way down and a shuffled dataset is reshuffled per epoch.  Elements travel through the pipeline
as nests (tuples, namedtuples, dicts) of NumPy arrays and become tapegrad Tensors only when the
user receives them.  Stages are lazy generators: a pipeline holds only its buffers (shuffle
buffer, prefetch queue, the batch being built, the elements in flight in a parallel map).

Differences from TF, by design:
- user functions (map, filter, from_generator, reduce) run eagerly on each element, in Python,
  like ``tf.py_function``: ``print`` and breakpoints work, and a failure names the element;
- a map's element_spec is learnt by running the function on the first two elements (TF traces
  it), so a dim that varies only later may be reported as fixed;
- pipeline code never records on the caller's GradientTapes, as in TF.
"""
from __future__ import annotations

import itertools
import os
import warnings

import numpy as np

from ..core.op import staged, state as _op_state
from ..core import dtypes
from ..core.shape import TensorShape
from ..core.tensor import Tensor, Variable, convert_to_array
from ..errors import InvalidArgumentError, OutOfRangeError
from ..ops import random as _random
from . import _cache, _nest
from ._workers import AUTOTUNE, close, is_peeking, mapped, parallelism, peeking, prefetched, untaped
from ..core.spec import TensorSpec, describe, spec_of

INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2
INFINITE, UNKNOWN = INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
_END = object()

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset", "Iterator"]


class Dataset:
    """A pipeline of elements; build one with a source such as ``from_tensor_slices`` and chain
    transformations.  Iterating gives tapegrad Tensors, in the element's structure.

    >>> import numpy as np, tapegrad as tf
    >>> ds = tf.data.Dataset.from_tensor_slices((np.arange(5.0), np.arange(5))).batch(2)
    >>> [tuple(x.shape) for x, y in ds]
    [(2,), (2,), (1,)]
    """

    _shuffle_epochs: tuple = ()  # the epoch counters of the shuffles upstream: see "checkpoint state"

    def __init__(self, make_iterator, cardinality, element_spec, kind: str = "Dataset"):
        # make_iterator() -> iterator of NumPy nests.  cardinality and element_spec are values,
        # or functions computing them on first use (a map's spec runs the function once).
        self._make_iterator = make_iterator
        self._card = cardinality
        self._spec = element_spec
        self._kind = kind

    def _then(self, kind: str, make_iterator, cardinality=None, element_spec=None) -> Dataset:
        """A dataset reading this one; cardinality and spec default to this one's."""
        out = Dataset(make_iterator,
                      self._cardinality if cardinality is None else cardinality,
                      (lambda: self.element_spec) if element_spec is None else element_spec, kind)
        out._shuffle_epochs = self._shuffle_epochs
        return out

    def _cardinality(self) -> int:
        if callable(self._card):
            self._card = self._card()
        return self._card

    # -- sources ------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None) -> Dataset:
        """One element per row: slices every component of a nest (tuple, namedtuple, dict, or a
        single array) along its first axis.  All components need the same first dimension.

        A Python list is one component (``[[1, 2], [3, 4]]`` is a 2x2 tensor), as in TF; Python
        floats become float32 and ints int32, NumPy arrays keep their dtype.

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.from_tensor_slices({"x": [[1.0, 2.0], [3.0, 4.0]], "y": [0, 1]})
        >>> [(e["x"].numpy().tolist(), int(e["y"])) for e in ds]
        [([1.0, 2.0], 0), ([3.0, 4.0], 1)]
        >>> ds.element_spec["x"]
        TensorSpec(shape=(2,), dtype=tf.float32, name=None)
        """
        arrays = _nest.frozen(_nest.map_structure(_component, tensors))
        leaves = _nest.flatten(arrays)
        if not leaves:
            raise ValueError("from_tensor_slices needs at least one component to slice.")
        for j, a in enumerate(leaves):
            if a.ndim == 0:
                raise ValueError(f"from_tensor_slices slices along the first axis, but component {j} "
                                 f"of {describe(arrays)} is a scalar.")
        n = leaves[0].shape[0]
        if any(a.shape[0] != n for a in leaves):
            sizes = [a.shape[0] for a in leaves]
            raise ValueError(f"Dimensions {sizes} in the components of `tensors` must be equal: all "
                             f"components are sliced along their first axis ({describe(arrays)}).")

        def make():
            return (_nest.pack(arrays, [a[i, ...] for a in leaves]) for i in range(n))
        spec = _nest.map_structure(lambda a: TensorSpec(a.shape[1:], dtypes.from_numpy(a.dtype)), arrays)
        return Dataset(make, n, spec, "TensorSliceDataset")

    @staticmethod
    def from_tensors(tensors, name=None) -> Dataset:
        """A dataset of exactly one element, `tensors` (a nest) as a whole.

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.from_tensors(([1, 2, 3], "label"))
        >>> [(x.numpy().tolist(), y.numpy()) for x, y in ds]
        [([1, 2, 3], b'label')]
        """
        element = _nest.frozen(_nest.map_structure(_component, tensors))
        return Dataset(lambda: iter((element,)), 1, spec_of(element), "TensorDataset")

    @staticmethod
    def range(*args, output_type=dtypes.int64, name=None) -> Dataset:
        """Scalars like Python's ``range(stop)``/``range(start, stop[, step])``, int64 by default.

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(1, 10, 3)]
        [1, 4, 7]
        """
        numbers = range(*(int(a) for a in args))
        np_type = dtypes.as_dtype(output_type)._np
        return Dataset(lambda: (np.asarray(i, np_type) for i in numbers), len(numbers),
                       TensorSpec((), dtypes.as_dtype(output_type)), "RangeDataset")

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None) -> Dataset:
        """Elements yielded by ``generator(*args)``, called afresh for every iteration.

        `output_signature` (a nest of ``TensorSpec``) says the structure, dtypes and shapes;
        the older `output_types` (+ optional `output_shapes`) form is accepted too.  Yielded values
        are converted to the declared dtypes and checked against the declared shapes; `args` reach
        the generator as NumPy values.  The generator runs in the pipeline's thread, so a
        ``prefetch`` after it overlaps it with training.

        >>> import tapegrad as tf
        >>> def pairs(n):
        ...     for i in range(n):
        ...         yield [i] * i, i
        >>> ds = tf.data.Dataset.from_generator(pairs, args=(3,), output_signature=(
        ...     tf.data.TensorSpec(shape=(None,), dtype=tf.int32), tf.data.TensorSpec((), tf.int64)))
        >>> [(x.numpy().tolist(), int(y)) for x, y in ds]
        [([], 0), ([1], 1), ([2, 2], 2)]
        """
        if not callable(generator):
            raise TypeError("`generator` must be a Python callable.")
        signature = _generator_signature(output_types, output_shapes, output_signature)
        specs = _nest.flatten(signature)
        arguments = tuple(Tensor(_component(a)).numpy() for a in (args or ()))

        def make():
            return _generated(generator, arguments, signature, specs)
        return Dataset(make, UNKNOWN, signature, "FlatMapDataset")

    @staticmethod
    def zip(*args, datasets=None, name=None) -> Dataset:
        """Elements of several datasets side by side, in the nest they are given in; ends with the
        shortest.  ``zip(a, b)`` and ``zip((a, b))`` are the same.

        >>> import tapegrad as tf
        >>> a, b = tf.data.Dataset.range(3), tf.data.Dataset.range(10, 15)
        >>> [(int(x), int(y)) for x, y in tf.data.Dataset.zip(a, b)]
        [(0, 10), (1, 11), (2, 12)]
        """
        if datasets is None:
            if not args:
                raise TypeError("Dataset.zip needs at least one dataset.")
            datasets = args[0] if len(args) == 1 else args
        elif args:
            raise TypeError("Dataset.zip takes datasets either positionally or as `datasets`, not both.")
        inputs = _nest.flatten(datasets)
        for d in inputs:
            if not isinstance(d, Dataset):
                hint = " Use a tuple, not a list, to zip several datasets." if isinstance(d, list) else ""
                raise TypeError(f"Dataset.zip takes a (nested) structure of datasets, got a "
                                f"{type(d).__name__}.{hint}")

        def make():
            iterators = [d._make_iterator() for d in inputs]
            return (_nest.pack(datasets, values) for values in zip(*iterators))
        return Dataset(make, lambda: _zip_cardinality([d._cardinality() for d in inputs]),
                       lambda: _nest.pack(datasets, [d.element_spec for d in inputs]), "ZipDataset")

    # -- transformations ------------------------------------------------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None) -> Dataset:
        """``map_func`` applied to every element; what it returns is the new element.

        A tuple element is unpacked into positional arguments; a dict (or namedtuple, or single
        tensor) is passed as one argument.  The function gets Tensors and may return Tensors,
        NumPy arrays or Python values, in any nest (a returned list is a tuple of components).
        With `num_parallel_calls` (an int or ``tf.data.AUTOTUNE``) that many elements are mapped
        at once on worker threads; the order is kept unless ``deterministic=False``.

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.range(4).map(lambda x: (x, x * x))
        >>> [int(total) for total in ds.map(lambda a, b: a + b)]
        [0, 2, 6, 12]
        """
        workers = parallelism(num_parallel_calls, "Dataset.map")
        _check_deterministic(num_parallel_calls, deterministic)
        what = f"Dataset.map({_name_of(map_func)})"

        def apply(index, element):
            return _elementify(_call_user(map_func, element, what, index), what)

        def make():
            first = []  # TF's traced function fixes one output structure; here the first output does

            def apply_checked(index, element):
                out = apply(index, element)
                if not first:
                    first.append(out)
                elif not _nest.same_structure(first[0], out):
                    raise TypeError(f"{what} returned elements of different structures: {describe(first[0])} "
                                    f"first, then {describe(out)} for element {index}.")
                return out
            return mapped(self._make_iterator(), apply_checked, workers, ordered=deterministic is not False)
        kind = "MapDataset" if workers is None else "ParallelMapDataset"
        return self._then(kind, make, element_spec=lambda: self._spec_after(apply, what))

    def filter(self, predicate, name=None) -> Dataset:
        """The elements for which ``predicate`` (called like a map function) returns True.

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(10).filter(lambda x: x % 3 == 0)]
        [0, 3, 6, 9]
        """
        what = f"Dataset.filter({_name_of(predicate)})"

        def keep(index, element):
            flag = _component(_call_user(predicate, element, what, index), copy=False)
            if flag.dtype != np.bool_ or flag.ndim != 0:
                raise TypeError(f"{what}: the predicate must return a scalar bool, but returned "
                                f"{TensorSpec(flag.shape, dtypes.from_numpy(flag.dtype))}.")
            return bool(flag)

        def make():
            return (e for i, e in enumerate(self._make_iterator()) if keep(i, e))
        return self._then("FilterDataset", make, cardinality=lambda: UNKNOWN)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None, name=None) -> Dataset:
        """Randomly shuffled through a buffer of `buffer_size` elements: each output is drawn
        uniformly from the buffer, whose slot is refilled from the input.  Only a buffer at least
        as large as the dataset gives a uniform shuffle.  Each iteration (epoch) draws a new order
        unless ``reshuffle_each_iteration=False``; orders repeat under ``tf.random.set_seed``.

        >>> import tapegrad as tf
        >>> tf.random.set_seed(0)
        >>> ds = tf.data.Dataset.range(10).shuffle(4)
        >>> sorted(int(x) for x in ds) == list(range(10)), int(next(iter(ds))) < 4
        (True, True)
        >>> tf.random.set_seed(None)
        """
        buffer_size = _positive(buffer_size, "buffer_size")
        reshuffle = True if reshuffle_each_iteration is None else bool(reshuffle_each_iteration)
        seeds, _ = _random.STATE.resolve(seed)  # drawn now: TF fixes a dataset's seed when it is made
        if seeds is None and not reshuffle:
            seeds = tuple(np.random.SeedSequence().generate_state(2).tolist())  # one order, every epoch
        epochs = _Epochs()

        def make():
            source = self._make_iterator()
            if is_peeking():
                return source  # a structure look must not use up an epoch's order
            epoch = next(epochs) if reshuffle else 0
            rng = np.random.default_rng(None if seeds is None else [*seeds, epoch])
            return _shuffled(source, buffer_size, rng)
        out = self._then("ShuffleDataset", make)
        out._shuffle_epochs = self._shuffle_epochs + (epochs,)
        return out

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None,
              name=None) -> Dataset:
        """Consecutive elements stacked into batches of `batch_size`; the last batch is smaller
        unless `drop_remainder`.  The spec's batch dimension is None unless `drop_remainder`.
        With `num_parallel_calls` several batches are stacked at once on worker threads.

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.range(7).batch(3)
        >>> [x.numpy().tolist() for x in ds], ds.element_spec
        ([[0, 1, 2], [3, 4, 5], [6]], TensorSpec(shape=(None,), dtype=tf.int64, name=None))
        """
        batch_size = _positive(batch_size, "batch_size")
        workers = parallelism(num_parallel_calls, "Dataset.batch")
        _check_deterministic(num_parallel_calls, deterministic)
        what = f"Dataset.batch({batch_size})"
        return self._grouped("BatchDataset", batch_size, drop_remainder,
                             lambda index, items: _stack(items, what, index),
                             workers=workers, ordered=deterministic is not False)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False,
                     name=None) -> Dataset:
        """Like ``batch``, padding each component to a common shape first.

        `padded_shapes` (a nest like the elements, of shapes) fixes dims; a None or -1 dim, or
        every dim when `padded_shapes` is None, is padded to the longest in the batch.
        `padding_values` (a nest of scalars, or one scalar for every component) default to 0
        (``""`` for strings).

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.range(1, 4).map(lambda n: tf.fill([n], n))
        >>> [b.numpy().tolist() for b in ds.padded_batch(2, padding_values=-1)]
        [[[1, -1], [2, 2]], [[3, 3, 3]]]
        """
        batch_size = _positive(batch_size, "batch_size")
        what = f"Dataset.padded_batch({batch_size})"

        def pad(index, items):
            return _pad_and_stack(items, padded_shapes, padding_values, what, index)
        return self._grouped("PaddedBatchDataset", batch_size, drop_remainder, pad,
                             padded_shapes=padded_shapes)

    def _grouped(self, kind: str, batch_size: int, drop_remainder: bool, combine, padded_shapes=None,
                 workers=None, ordered=True) -> Dataset:
        """Groups of `batch_size` elements, each made one element by ``combine(index, items)``."""
        def make():
            groups = _groups(self._make_iterator(), batch_size, drop_remainder)
            return mapped(groups, combine, workers, ordered)

        def cardinality():
            return _batch_cardinality(self._cardinality(), batch_size, drop_remainder)

        def spec():
            return _batched_spec(self.element_spec, padded_shapes, batch_size, drop_remainder)
        return self._then(kind, make, cardinality=cardinality, element_spec=spec)

    def unbatch(self, name=None) -> Dataset:
        """Each element split along its first axis into separate elements (undoes ``batch``).

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(5).batch(2).unbatch()]
        [0, 1, 2, 3, 4]
        """
        def make():
            return _unbatched(self._make_iterator())

        def spec():
            return _nest.map_structure(_unbatched_spec, self.element_spec)

        def cardinality():
            n = self._cardinality()
            sizes = {s.shape[0] if s.shape.rank else None for s in _nest.flatten(self.element_spec)}
            if n < 0:
                return n
            return n * sizes.pop() if len(sizes) == 1 and None not in sizes else UNKNOWN
        return self._then("UnbatchDataset", make, cardinality=cardinality, element_spec=spec)

    def repeat(self, count=None, name=None) -> Dataset:
        """The dataset `count` times over (None or -1: forever).  Before ``batch`` this makes
        batches straddle epochs; after ``shuffle`` each repetition is reshuffled.

        >>> import tapegrad as tf
        >>> [x.numpy().tolist() for x in tf.data.Dataset.range(3).repeat(2).batch(4)]
        [[0, 1, 2, 0], [1, 2]]
        """
        count = -1 if count is None else int(count)

        def make():
            if count == 0:
                return iter(())
            return _repeated(self._make_iterator(), self._make_iterator, count)
        return self._then("RepeatDataset", make,
                          cardinality=lambda: _repeat_cardinality(self._cardinality(), count))

    def take(self, count, name=None) -> Dataset:
        """The first `count` elements (-1, or more than there are: all of them).

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(100).take(3)]
        [0, 1, 2]
        """
        count = int(count)

        def make():
            source = self._make_iterator()
            return source if count < 0 else itertools.islice(source, count)
        return self._then("TakeDataset", make,
                          cardinality=lambda: _take_cardinality(self._cardinality(), count))

    def skip(self, count, name=None) -> Dataset:
        """All but the first `count` elements (-1: skips everything).

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(5).skip(3)]
        [3, 4]
        """
        count = int(count)

        def make():
            source = self._make_iterator()
            if count < 0:
                return _drained(source)
            return itertools.islice(source, count, None)
        return self._then("SkipDataset", make,
                          cardinality=lambda: _skip_cardinality(self._cardinality(), count))

    def cache(self, filename="", name=None) -> Dataset:
        """Remember the elements of the first complete iteration and replay them afterwards.

        Without `filename` they are kept in memory.  With one, they are written to that file
        (atomically, when the iteration completes) and the file is read by every later iteration
        and by later runs: changes to the pipeline before ``cache`` are ignored until the file is
        deleted.  An iteration stopped part way caches nothing.  Random transformations before
        ``cache`` are frozen, so shuffle after it.

        >>> import tapegrad as tf
        >>> calls = []
        >>> ds = tf.data.Dataset.range(3).map(lambda x: calls.append(1) or x).cache()
        >>> [int(x) for x in ds], [int(x) for x in ds], len(calls)
        ([0, 1, 2], [0, 1, 2], 3)
        """
        filename = os.fspath(filename) if not isinstance(filename, Tensor) else str(filename.numpy())
        store = _cache.FileStore(filename) if filename else _cache.MemoryStore()
        return self._then("CacheDataset",
                          lambda: _cache.cached(self._make_iterator, store, lambda: self.element_spec))

    def prefetch(self, buffer_size, name=None) -> Dataset:
        """Elements prepared ahead by a background thread, up to `buffer_size` of them (counted
        in elements, so batches after ``batch``); ``tf.data.AUTOTUNE`` lets the buffer grow while
        the consumer is waiting.  Errors in the pipeline are raised where the element is read.

        >>> import tapegrad as tf
        >>> [int(x) for x in tf.data.Dataset.range(3).prefetch(tf.data.AUTOTUNE)]
        [0, 1, 2]
        """
        size = int(buffer_size)
        if size < AUTOTUNE:
            raise ValueError(f"prefetch buffer_size must be >= 0 or tf.data.AUTOTUNE (-1), "
                             f"got {buffer_size}.")
        return self._then("PrefetchDataset", lambda: prefetched(self._make_iterator(), size))

    def enumerate(self, start=0, name=None) -> Dataset:
        """``(index, element)`` pairs, the index an int64 scalar counting from `start`.

        >>> import tapegrad as tf
        >>> [(int(i), int(x)) for i, x in tf.data.Dataset.range(10, 12).enumerate(start=1)]
        [(1, 10), (2, 11)]
        """
        start = int(start)

        def make():
            indices = itertools.count(start)
            return ((np.asarray(i, np.int64), e) for i, e in zip(indices, self._make_iterator()))
        return self._then("EnumerateDataset", make,
                          element_spec=lambda: (TensorSpec((), dtypes.int64), self.element_spec))

    def reduce(self, initial_state, reduce_func, name=None):
        """Fold the dataset into one value: ``state = reduce_func(state, element)`` for every element.

        >>> import tapegrad as tf
        >>> int(tf.data.Dataset.range(5).reduce(0, lambda total, x: total + tf.cast(x, tf.int32)))
        10
        """
        what = f"Dataset.reduce({_name_of(reduce_func)})"
        state = _elementify(initial_state, what)
        with untaped():
            source = self._make_iterator()
            for index, element in enumerate(source):
                try:
                    result = reduce_func(_to_tensors(state), _to_tensors(element))
                except Exception as e:
                    _add_note(e, f"{what} failed on element {index}, of structure {describe(element)}.")
                    raise
                new_state = _elementify(result, what)
                if not _nest.same_structure(state, new_state):
                    raise TypeError(f"{what}: the function must return the structure of the initial state, "
                                    f"{describe(state)}, but returned {describe(new_state)}.")
                state = new_state
        return _to_tensors(state)

    # -- checkpoint state (tapegrad.train), TensorFlow's Trackable protocol ---------------------------
    def _serialize_to_tensors(self) -> dict:
        """How many epochs each shuffle of this pipeline has drawn: with the random state, what a
        checkpoint needs to give a resumed run the next epoch's order (``tf.train.Checkpoint(ds=ds)``).

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.range(4).shuffle(4, seed=1).batch(2)
        >>> _ = list(ds); ds._serialize_to_tensors()
        {'shuffle_epochs': array([1])}
        """
        if not self._shuffle_epochs:
            return {}
        return {"shuffle_epochs": np.array([e.count for e in self._shuffle_epochs], np.int64)}

    def _restore_from_tensors(self, tensors: dict) -> None:
        """Set the shuffles' epoch counts from ``_serialize_to_tensors`` of the same pipeline."""
        counts = np.asarray(tensors.get("shuffle_epochs", np.zeros(0, np.int64)))
        if (counts.shape != (len(self._shuffle_epochs),) or counts.dtype.kind not in "iu"
                or (counts < 0).any()):
            raise ValueError(f"Cannot restore the dataset: the checkpoint has the epoch counts "
                             f"{counts.tolist()}, this pipeline has {len(self._shuffle_epochs)} shuffle(s).")
        for epochs, count in zip(self._shuffle_epochs, counts.tolist()):
            epochs.count = count

    # -- iteration and introspection ------------------------------------------------------------
    def __iter__(self) -> Iterator:
        """A new iterator over the elements (each ``for`` loop gets its own: a new epoch).

        >>> import tapegrad as tf
        >>> it = iter(tf.data.Dataset.range(2))
        >>> int(next(it)), int(it.get_next())
        (0, 1)
        """
        if _op_state.graph is not None:
            from ..compiler.graph import RunEagerly
            raise RunEagerly("it iterates over a tf.data.Dataset")
        return Iterator(self)

    def as_numpy_iterator(self) -> Iterator:
        """An iterator giving the elements as NumPy values (scalars for rank 0).

        >>> import tapegrad as tf
        >>> [x.tolist() for x in tf.data.Dataset.from_tensor_slices([[1, 2], [3, 4]]).as_numpy_iterator()]
        [[1, 2], [3, 4]]
        """
        return Iterator(self, _to_numpy)

    @property
    def element_spec(self):
        """The structure, shapes and dtypes of an element, as a nest of ``TensorSpec``.

        >>> import tapegrad as tf
        >>> tf.data.Dataset.range(3).batch(2, drop_remainder=True).element_spec
        TensorSpec(shape=(2,), dtype=tf.int64, name=None)
        """
        if callable(self._spec):
            self._spec = self._spec()
        return self._spec

    def cardinality(self) -> Tensor:
        """The number of elements, or ``tf.data.INFINITE_CARDINALITY`` (-1) or
        ``tf.data.UNKNOWN_CARDINALITY`` (-2), as an int64 scalar.

        >>> import tapegrad as tf
        >>> ds = tf.data.Dataset.range(10)
        >>> [int(d.cardinality()) for d in (ds.batch(3), ds.repeat(), ds.filter(lambda x: x > 2))]
        [4, -1, -2]
        """
        return Tensor(np.array(self._cardinality(), dtype=np.int64))

    def __len__(self) -> int:
        """The number of elements; TypeError when it is infinite or unknown.

        >>> import tapegrad as tf
        >>> len(tf.data.Dataset.range(10).batch(4))
        3
        """
        n = self._cardinality()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self) -> bool:
        """Always True, even when empty or infinite (``__len__`` would otherwise decide, or raise).

        >>> import tapegrad as tf
        >>> bool(tf.data.Dataset.range(0)), bool(tf.data.Dataset.range(1).repeat())
        (True, True)
        """
        return True

    def __repr__(self) -> str:
        """The kind of the last transformation and the element_spec.

        >>> import tapegrad as tf
        >>> tf.data.Dataset.range(3)
        <RangeDataset element_spec=TensorSpec(shape=(), dtype=tf.int64, name=None)>
        """
        try:
            spec = repr(self.element_spec)
        except ValueError:  # a map over an empty dataset: nothing to learn its output from
            spec = "<unknown>"
        return f"<{self._kind} element_spec={spec}>"

    def _spec_after(self, apply, what: str):
        """The element_spec of ``map(apply)`` over this dataset, learnt by mapping its first two
        elements (TF traces the function instead, which tapegrad cannot).

        A dim is kept only if it is the same in both results and is not equal to a dim that this
        dataset leaves unknown (a batch size, a sequence length), so the spec holds for the other
        elements too, as far as two samples can tell.
        """
        with peeking(), untaped():
            source = self._make_iterator()
            try:
                inputs = list(itertools.islice(source, 2))
            finally:
                close(source)
            if not inputs:
                raise ValueError(f"The element_spec of {what} is unknown: tapegrad learns it by mapping "
                                 f"the first elements, and the input is empty.")
            outputs = [apply(i, element) for i, element in enumerate(inputs)]
        unknown = set()
        for element in inputs:
            for spec, array in zip(_nest.flatten(self.element_spec), _nest.flatten(element)):
                dims = [None] * array.ndim if spec.shape.rank is None else spec.shape
                unknown.update(n for n, d in zip(array.shape, dims) if d is None)
        flat = _nest.flatten(spec_of(outputs[0]))
        if len(outputs) == 2 and _nest.same_structure(outputs[0], outputs[1]):
            flat = [TensorSpec(s.shape.most_specific_compatible_shape(other.shape), s.dtype)
                    for s, other in zip(flat, _nest.flatten(spec_of(outputs[1])))]
        def relaxed(s):
            if s.shape.rank is None:
                return s
            return TensorSpec([None if d in unknown else d for d in s.shape], s.dtype)
        return _nest.pack(outputs[0], [relaxed(s) for s in flat])


class Iterator:
    """An iterator over a dataset's elements, as ``iter(dataset)`` gives (TF's ``tf.data.Iterator``).

    >>> import tapegrad as tf
    >>> it = iter(tf.data.Dataset.range(3))
    >>> [int(x) for x in it]
    [0, 1, 2]
    """

    def __init__(self, dataset: Dataset, convert=None):
        self._dataset = dataset
        self._convert = _to_tensors if convert is None else convert
        with untaped():
            self._source = dataset._make_iterator()

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        if _op_state.graph is not None:  # inside a tf.function: the next element when the function runs
            return _staged_next(self)
        with untaped():
            element = next(self._source, _END)
        if element is _END:
            raise StopIteration
        return self._convert(element)

    def get_next(self):
        """The next element; ``tf.errors.OutOfRangeError`` at the end (``next`` raises StopIteration).

        >>> import tapegrad as tf
        >>> it = iter(tf.data.Dataset.range(1))
        >>> int(it.get_next())
        0
        """
        element = next(self, _END)
        if element is _END:
            raise OutOfRangeError("End of sequence")
        return element

    @property
    def element_spec(self):
        """The element_spec of the dataset being iterated.

        >>> import tapegrad as tf
        >>> iter(tf.data.Dataset.range(3).batch(2)).element_spec
        TensorSpec(shape=(None,), dtype=tf.int64, name=None)
        """
        return self._dataset.element_spec


def _next_element(iterator):
    """The next element, read when a traced function runs (TF's IteratorGetNext)."""
    element = next(iterator, _END)
    if element is _END:
        raise OutOfRangeError("End of sequence")
    return element


def _element_placeholders(iterator):
    """What tracing continues with: tensors of the element's types (None dims: sizes read when it runs)."""
    from ..core.aval import ShapedArray
    return _nest.map_structure(
        lambda s: Tensor(ShapedArray(tuple(s.shape) if s.shape.rank is not None else (),
                                     np.dtype(s.dtype.as_numpy_dtype))),
        iterator.element_spec)


_staged_next = staged(trace_result=_element_placeholders)(_next_element)


# -- element conversion -------------------------------------------------------------------------

def _component(value, dtype=None, copy=True) -> np.ndarray:
    """An array for one component, with TF's dtype rules (Python float -> float32, int -> int32).

    Arrays a user hands to a source are copied, so changing them later does not change the
    dataset; arrays a map function returns are fresh and kept as they are (`copy=False`).
    """
    if isinstance(value, Variable):
        value = value.numpy()  # the value now: the variable may be assigned later
    elif _is_frame(value):
        value = value.to_numpy()  # a pandas Series/DataFrame: its NumPy dtype, as tf.constant keeps it
    elif isinstance(value, np.ndarray) and not copy and dtype is None:
        return value
    return convert_to_array(value, dtype)


def _is_frame(value) -> bool:
    """A pandas DataFrame or Series (duck-typed: pandas is no dependency)."""
    return callable(getattr(value, "to_numpy", None)) and hasattr(value, "index") and \
        not isinstance(value, (np.ndarray, Tensor))


def _elementify(value, what: str):
    """A nest of arrays from what a user function returned."""
    if type(value) is list:
        value = tuple(value)  # TF: a returned list is several components, not one stacked tensor

    def leaf(v):
        if v is None:
            raise TypeError(f"{what} returned None as (part of) an element; elements can hold only "
                            f"tensors, arrays and numbers.")
        try:
            return _component(v, copy=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{what} returned {v!r}, which is not convertible to a tensor: {e}") from e
    return _nest.map_structure(leaf, value)


def _to_tensors(element):
    return _nest.map_structure(Tensor, element)


def _to_numpy(element):
    return _nest.map_structure(lambda a: Tensor(a).numpy(), element)


def _name_of(fn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _call_user(fn, element, what: str, index: int):
    """``fn`` on an element as tf.data calls it: a plain tuple is unpacked into arguments.

    A failure gets a note naming the transformation, the element and how it was passed.
    """
    unpack = type(element) is tuple
    args = tuple(_to_tensors(c) for c in element) if unpack else (_to_tensors(element),)
    try:
        return fn(*args)
    except Exception as e:
        how = (f"its {len(element)} components were passed as {len(element)} positional arguments"
               if unpack else "it was passed as one argument")
        _add_note(e, f"{what} failed on element {index} of its input, of structure {describe(element)}; "
                     f"{how}.")
        raise


def _add_note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # Python 3.10: kept on the exception, though tracebacks show notes only from 3.11
        error.__notes__ = [*getattr(error, "__notes__", []), note]


def _check_deterministic(num_parallel_calls, deterministic) -> None:
    if num_parallel_calls is None and deterministic is not None:
        warnings.warn("The `deterministic` argument has no effect unless the `num_parallel_calls` "
                      "argument is specified.", stacklevel=3)


def _positive(value, what: str) -> int:
    n = int(value)
    if n < 1:
        raise ValueError(f"`{what}` must be a positive integer, got {value}.")
    return n


# -- generator source -----------------------------------------------------------------------------

def _generator_signature(output_types, output_shapes, output_signature):
    if output_signature is not None:
        for name, given in (("output_types", output_types), ("output_shapes", output_shapes)):
            if given is not None:
                raise TypeError(f"from_generator takes `output_signature` or `{name}`, not both.")
        for spec in _nest.flatten(output_signature):
            if not isinstance(spec, TensorSpec):
                raise TypeError(f"`output_signature` must be a nest of tf.TensorSpec, but holds a "
                                f"{type(spec).__name__}: {spec!r}.")
        return output_signature
    if output_types is None:
        raise TypeError("from_generator needs the element signature: pass `output_signature` "
                        "(or the older `output_types`, with optional `output_shapes`).")
    types = _nest.flatten(output_types)
    shapes = ([None] * len(types) if output_shapes is None
              else _nest.flatten_up_to(output_types, output_shapes))
    return _nest.pack(output_types, [TensorSpec(TensorShape(s), t) for t, s in zip(types, shapes)])


def _generated(generator, arguments, signature, specs):
    for value in generator(*arguments):
        try:
            values = _nest.flatten_up_to(signature, value)
        except TypeError as e:
            raise TypeError(f"from_generator: `generator` yielded {value!r}, which does not have the "
                            f"structure of the signature {signature!r} ({e}).") from e
        arrays = []
        for j, (v, spec) in enumerate(zip(values, specs)):
            try:
                array = _component(v, spec.dtype)
            except (TypeError, ValueError) as e:
                raise TypeError(f"from_generator: `generator` yielded {v!r} for component {j}, which is not "
                                f"convertible to {spec.dtype.name} ({e}).") from e
            if not spec.shape.is_compatible_with(array.shape):
                raise TypeError(f"from_generator: `generator` yielded a component {j} of shape "
                                f"{TensorShape(array.shape)} where the signature {signature!r} expects "
                                f"{spec.shape}.")
            arrays.append(array)
        yield _nest.pack(signature, arrays)


# -- transformation helpers ---------------------------------------------------------------------

class _Epochs:
    """A shuffle's epoch counter (``next`` gives 0, 1, ...), readable and settable for checkpoints."""

    def __init__(self):
        self.count = 0

    def __next__(self) -> int:
        self.count += 1
        return self.count - 1


def _shuffled(source, buffer_size, rng):
    uniform = _uniforms(rng)
    buffer = []
    for item in source:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        i = int(next(uniform) * buffer_size)
        yield buffer[i]
        buffer[i] = item
    while buffer:
        i = int(next(uniform) * len(buffer))
        buffer[i], buffer[-1] = buffer[-1], buffer[i]  # swap-remove: O(1) where pop(i) is O(n)
        yield buffer.pop()


def _uniforms(rng, block: int = 1024):
    """Floats in [0, 1), drawn a block at a time: one NumPy call per element costs more than the rest."""
    while True:
        yield from rng.random(block).tolist()


def _groups(source, size: int, drop_remainder: bool):
    group = []
    for item in source:
        group.append(item)
        if len(group) == size:  # yield at once: reading one more would overrun a take() or an epoch
            yield group
            group = []
    if group and not drop_remainder:
        yield group


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _same_dtype(a: np.dtype, b: np.dtype) -> bool:
    return a == b or dtypes.from_numpy(a) is dtypes.from_numpy(b)  # strings of any width are one dtype


def _check_batchable(flats, first, what: str, index: int, j: int, compare_shapes: bool) -> None:
    """Raise TF's error for component `j` of a group when dtypes, ranks or (if asked) shapes differ."""
    column = [flat[j] for flat in flats]
    if len({(a.shape if compare_shapes else a.ndim, a.dtype) for a in column}) == 1:
        return  # the common case, checked in one pass
    a0 = column[0]
    for i, a in enumerate(column[1:], 1):
        if not _same_dtype(a.dtype, a0.dtype):
            message = (f"Cannot batch tensors with different dtypes in component {j}. First element had "
                       f"dtype {a0.dtype.name} and element {i} had dtype {a.dtype.name}.")
        elif (a.shape != a0.shape) if compare_shapes else (a.ndim != a0.ndim):
            message = (f"Cannot batch tensors with different shapes in component {j}. First element had "
                       f"shape {_shape_text(a0.shape)} and element {i} had shape {_shape_text(a.shape)}.")
        else:
            continue
        error = InvalidArgumentError(message)
        _add_note(error, f"In {what}, batch {index}, of elements of structure {describe(first)}.")
        raise error


def _stack(items, what: str, index: int):
    flats = [_nest.flatten(item) for item in items]  # one structure: sources and map ensure it
    out = []
    for j in range(len(flats[0])):
        # checked first: np.stack would promote mixed dtypes, and its shape error names no element
        _check_batchable(flats, items[0], what, index, j, compare_shapes=True)
        out.append(np.stack([flat[j] for flat in flats]))
    return _nest.pack(items[0], out)


def _padded_dims(shape, rank: int, j: int):
    """A padded shape as a list of ints and Nones (None and -1: the longest in the batch)."""
    if shape is None:
        return [None] * rank
    dims = list(shape.dims) if isinstance(shape, TensorShape) and shape.rank is not None else list(shape)
    dims = [None if d is None or int(d) == -1 else int(d) for d in dims]
    if len(dims) != rank:
        raise ValueError(f"padded_shapes gives component {j} the shape {dims}, of rank {len(dims)}, "
                         f"but its elements have rank {rank}.")
    return dims


def _padding_values(first, padding_values, count: int) -> list:
    if padding_values is None:
        return [None] * count
    if not isinstance(padding_values, (tuple, dict)):
        return [padding_values] * count  # one value pads every component
    return _nest.flatten_up_to(first, padding_values)


def _pad_and_stack(items, padded_shapes, padding_values, what: str, index: int):
    flats = [_nest.flatten(item) for item in items]  # one structure: sources and map ensure it
    first = items[0]
    count = len(flats[0])
    targets = [None] * count if padded_shapes is None else _nest.flatten_up_to(first, padded_shapes)
    fills = _padding_values(first, padding_values, count)
    out = []
    for j in range(count):
        _check_batchable(flats, first, what, index, j, compare_shapes=False)
        column = [flat[j] for flat in flats]
        dtype = np.result_type(*column) if column[0].dtype.kind in "US" else column[0].dtype
        shape = []
        for d, wanted in enumerate(_padded_dims(targets[j], column[0].ndim, j)):
            longest = max(a.shape[d] for a in column)
            if wanted is not None and wanted < longest:
                error = InvalidArgumentError(
                    f"Attempted to pad to a smaller size than the input element: component {j} has size "
                    f"{longest} in dimension {d}, but padded_shapes asks for {wanted}.")
                _add_note(error, f"In {what}, batch {index}, of elements of structure {describe(first)}.")
                raise error
            shape.append(longest if wanted is None else wanted)
        fill = np.zeros((), dtype) if fills[j] is None else np.asarray(fills[j])
        if fill.ndim != 0:
            raise ValueError(f"{what}: padding values must be scalars, got shape {fill.shape} for "
                             f"component {j}.")
        batch = np.full((len(column), *shape), fill, dtype=dtype)
        for i, a in enumerate(column):
            batch[(i, *(slice(0, n) for n in a.shape))] = a
        out.append(batch)
    return _nest.pack(first, out)


def _batched_spec(spec, padded_shapes, batch_size: int, drop_remainder: bool):
    outer = TensorShape([batch_size if drop_remainder else None])
    leaves = _nest.flatten(spec)
    if padded_shapes is None:
        shapes = [s.shape for s in leaves]
    else:
        shapes = [TensorShape(_padded_dims(p, s.shape.rank if s.shape.rank is not None else len(p), j))
                  for j, (s, p) in enumerate(zip(leaves, _nest.flatten_up_to(spec, padded_shapes)))]
    return _nest.pack(spec, [TensorSpec(outer.concatenate(shape), s.dtype)
                             for s, shape in zip(leaves, shapes)])


def _unbatched(source):
    for element in source:
        flat = _nest.flatten(element)
        if any(a.ndim == 0 for a in flat):
            raise InvalidArgumentError(f"Dataset.unbatch() splits elements along their first axis, but an "
                                       f"element of structure {describe(element)} has a scalar component.")
        sizes = [a.shape[0] for a in flat]
        if len(set(sizes)) > 1:
            raise InvalidArgumentError(f"Dataset.unbatch() needs all components of an element to have the "
                                       f"same first dimension, but an element of structure "
                                       f"{describe(element)} has first dimensions {sizes}.")
        for i in range(sizes[0]):
            yield _nest.pack(element, [a[i, ...] for a in flat])


def _unbatched_spec(spec: TensorSpec) -> TensorSpec:
    if spec.shape.rank == 0:
        raise ValueError(f"Dataset.unbatch() needs components of rank >= 1, but one is {spec}.")
    return TensorSpec(spec.shape if spec.shape.rank is None else spec.shape[1:], spec.dtype)


def _repeated(first, make_iterator, count: int):
    source, epoch = first, 0
    while True:
        empty = True
        for item in source:
            empty = False
            yield item
        epoch += 1
        if empty or 0 <= count <= epoch:  # repeating an empty dataset forever would never yield
            return
        source = make_iterator()


def _drained(source):
    for _ in source:
        pass
    yield from ()  # a generator: the input is read when the result is first advanced, not now


# -- cardinality, as TF computes it ---------------------------------------------------------------

def _batch_cardinality(n: int, size: int, drop_remainder: bool) -> int:
    if n < 0:
        return n
    return n // size if drop_remainder else -(-n // size)


def _repeat_cardinality(n: int, count: int) -> int:
    if count < 0:
        return 0 if n == 0 else INFINITE
    if count == 0:
        return 0
    return n if n < 0 else n * count


def _take_cardinality(n: int, count: int) -> int:
    if count < 0 or n == UNKNOWN:
        return n
    return count if n == INFINITE else min(n, count)


def _skip_cardinality(n: int, count: int) -> int:
    if n < 0:
        return n
    return 0 if count < 0 else max(0, n - count)


def _zip_cardinality(ns) -> int:
    if UNKNOWN in ns:
        return UNKNOWN
    finite = [n for n in ns if n != INFINITE]
    return min(finite) if finite else INFINITE
