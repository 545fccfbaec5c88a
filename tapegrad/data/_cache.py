"""The stores behind ``Dataset.cache``: in memory, or in a file that persists across runs.

A cache is filled by one complete pass over its input; a pass dropped part way is discarded, as
in TF, since keeping it would silently truncate the dataset.

The file is an ``.npz`` archive (NumPy's zip of ``.npy`` members, never pickles) streamed to a
temporary file in the target's directory, synced and then renamed over the target, so a reader
sees either no cache or a complete one.  Elements are grouped into chunks; each chunk stores, per
component, the concatenated raveled values and the per-element shapes, so ragged components
(variable-length sequences, a smaller last batch) cost no padding.  Members are read whole, so
zip's CRC check runs, and every count, dtype and shape is checked against the metadata: a damaged
or foreign file raises DataLossError instead of yielding wrong data.
"""
from __future__ import annotations

import json
import os
import warnings
import zipfile

import numpy as np

from .._files import NpzReader, TempFile, guard
from ..core import dtypes
from ..errors import DataLossError, InvalidArgumentError
from . import _nest
from ._workers import is_peeking

FORMAT = "tapegrad.data.cache"
VERSION = 1
_CHUNK_BYTES = 8 << 20  # a chunk is written once it holds this much data...
_CHUNK_ELEMENTS = 4096  # ...or this many elements; reading holds one chunk at a time

_PARTIAL_WARNING = (
    "A cached dataset was not read to the end, so the part that was read is discarded rather than "
    "cached (a truncated cache would silently drop elements). This happens with pipelines such as "
    "`dataset.cache().take(k).repeat()`; write `dataset.take(k).cache().repeat()` instead.")


def cached(make_input, store, spec_fn):
    """An iterator over the cache if it is complete, else over the input, filling the cache."""
    complete = store.reader(spec_fn)
    if complete is not None:
        return complete
    source = make_input()
    return source if is_peeking() else _filling(source, store)


def _filling(source, store):
    writer = store.writer()  # made here, on the first read: an iterator never read leaves no file
    completed = False
    try:
        for element in source:
            writer.append(element)
            yield element
        writer.commit()
        completed = True
    except GeneratorExit:
        warnings.warn(_PARTIAL_WARNING, stacklevel=2)
        raise
    finally:
        if not completed:
            writer.abort()


class MemoryStore:
    """The elements of the first complete pass, kept in a list."""

    def __init__(self):
        self._elements = None

    def reader(self, spec_fn):
        return None if self._elements is None else iter(self._elements)

    def writer(self):
        return _MemoryWriter(self)


class _MemoryWriter:
    def __init__(self, store):
        self._store, self._elements = store, []

    def append(self, element):
        self._elements.append(_nest.frozen(element))

    def commit(self):
        if self._store._elements is None:  # two passes may fill at once; the first to finish wins
            self._store._elements = self._elements

    def abort(self):
        self._elements = None


class FileStore:
    """A cache file at `path`: read if it exists, else written by the first complete pass."""

    def __init__(self, path: str):
        self.path = path

    def reader(self, spec_fn):
        return _read(self.path, spec_fn) if os.path.exists(self.path) else None

    def writer(self):
        return _FileWriter(self.path)


# -- writing --------------------------------------------------------------------------------

class _FileWriter:
    def __init__(self, path: str):
        self._temp = TempFile(path)
        self._zip = zipfile.ZipFile(self._temp.file, "w", zipfile.ZIP_STORED, allowZip64=True)
        self._layout = None
        self._components = None  # [(DType, rank)] of the first element; all must match
        self._chunk: list = []
        self._chunk_bytes = 0
        self._chunks = self._elements = 0

    def append(self, element):
        flat = _nest.flatten(element)
        components = [(dtypes.from_numpy(a.dtype), a.ndim) for a in flat]
        if self._components is None:
            self._layout, self._components = _nest.layout(element), components
        elif _nest.layout(element) != self._layout or components != self._components:
            raise InvalidArgumentError(
                f"Dataset.cache: element {self._elements} has a different structure or component "
                f"dtypes/ranks than the first element, so it cannot be cached.")
        self._chunk.append(flat)
        self._chunk_bytes += sum(a.nbytes for a in flat)
        self._elements += 1
        if self._chunk_bytes >= _CHUNK_BYTES or len(self._chunk) >= _CHUNK_ELEMENTS:
            self._flush()

    def _flush(self):
        if not self._chunk:
            return
        for j, (dtype, rank) in enumerate(self._components):
            parts = [flat[j] for flat in self._chunk]
            data = np.concatenate([p.ravel() for p in parts])  # strings widen to the longest
            shapes = np.array([p.shape for p in parts], dtype=np.int64).reshape(len(parts), rank)
            self._put(f"c{self._chunks}_{j}_data", data)
            self._put(f"c{self._chunks}_{j}_shapes", shapes)
        self._chunks += 1
        self._chunk, self._chunk_bytes = [], 0

    def _put(self, name: str, array: np.ndarray):
        with self._zip.open(name + ".npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, array, allow_pickle=False)

    def commit(self):
        self._flush()
        components = [[d.name, r] for d, r in (self._components or [])]
        meta = {"format": FORMAT, "version": VERSION, "layout": self._layout, "components": components,
                "elements": self._elements, "chunks": self._chunks}
        self._put("meta", np.array(json.dumps(meta)))
        self._zip.close()
        self._temp.commit()

    def abort(self):
        try:
            self._zip.close()
        finally:
            self._temp.abort()


# -- reading --------------------------------------------------------------------------------

def _read(path: str, spec_fn):
    with _open(path) as archive:
        meta = _checked(path, _meta, archive)
        structure = spec_fn()  # the pipeline's own nest, so namedtuple classes are the user's
        _check_matches(path, meta, *_expected(structure))
        for k in range(meta["chunks"]):
            elements = _checked(path, _chunk, archive, k, meta["components"])
            for flat in elements:
                yield _nest.pack(structure, flat)
            meta["elements"] -= len(elements)
        if meta["elements"] != 0:
            raise _corrupt(path, "its chunks hold a different number of elements than its metadata says")


def _open(path: str) -> NpzReader:
    return NpzReader(path, lambda why: _corrupt(path, why))


def _corrupt(path: str, why: str) -> DataLossError:
    return DataLossError(f"The dataset cache file {path!r} is corrupt or was not written by "
                         f"tapegrad: {why}. Delete it to rebuild the cache.")


def _checked(path, read, *args):
    """Run a read step, turning any sign of damage into a DataLossError naming the file."""
    with guard(lambda why: _corrupt(path, why)):
        return read(*args)


def _member(archive: NpzReader, name: str) -> np.ndarray:
    return archive.read(name)  # read whole, so that zip checks its CRC


def _meta(archive) -> dict:
    text = _member(archive, "meta")
    if text.dtype.kind != "U" or text.ndim != 0:
        raise ValueError("the metadata is not a JSON string")
    meta = json.loads(str(text[()]))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("no tapegrad cache metadata")
    if meta.get("version") != VERSION:
        raise ValueError(f"format version {meta.get('version')!r}, this tapegrad reads {VERSION}")
    counts_ok = all(isinstance(meta.get(k), int) and meta[k] >= 0 for k in ("elements", "chunks"))
    comps = meta.get("components")
    comps_ok = isinstance(comps, list) and all(
        isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], int) and c[1] >= 0
        for c in comps)
    if not (counts_ok and comps_ok and isinstance(meta.get("layout"), (str, type(None)))):
        raise ValueError("malformed metadata")
    meta["components"] = [(dtypes.as_dtype(name), rank) for name, rank in comps]
    return meta


def _expected(spec):
    """Layout and [(dtype, rank or None)] a pipeline's element_spec asks of the file."""
    comps = [(s.dtype, s.shape.rank) for s in _nest.flatten(spec)]
    return _nest.layout(spec), comps


def _signature(layout, components) -> str:
    leaves = [f"{d.name}[rank {'?' if r is None else r}]"
              for d, r in components]
    return layout.replace("*", "{}").format(*leaves) if layout else "(no elements)"


def _check_matches(path, meta, layout, components):
    if meta["elements"] == 0:
        return  # an empty cache fits any pipeline
    stored = meta["components"]
    fits = meta["layout"] == layout and len(stored) == len(components) and all(
        d is e and (r_e is None or r == r_e) for (d, r), (e, r_e) in zip(stored, components))
    if not fits:
        raise InvalidArgumentError(
            f"The dataset cache file {path!r} holds elements {_signature(meta['layout'], stored)}, but the "
            f"pipeline before .cache() now makes {_signature(layout, components)}. A cache file is reused "
            f"as long as it exists: delete it to rebuild the cache from the current pipeline.")


def _chunk(archive, k: int, components) -> list:
    columns = []
    count = None
    for j, (dtype, rank) in enumerate(components):
        data = _member(archive, f"c{k}_{j}_data")
        shapes = _member(archive, f"c{k}_{j}_shapes")
        if dtypes.from_numpy(data.dtype) is not dtype or data.ndim != 1:
            raise ValueError(f"component {j} of chunk {k} is {data.dtype}, not {dtype.name}")
        if shapes.dtype != np.int64 or shapes.ndim != 2 or shapes.shape[1] != rank or (shapes < 0).any():
            raise ValueError(f"bad shape table for component {j} of chunk {k}")
        if count is not None and shapes.shape[0] != count:
            raise ValueError(f"components of chunk {k} hold different numbers of elements")
        count = shapes.shape[0]
        sizes = np.prod(shapes, axis=1, dtype=np.int64)
        if int(sizes.sum()) != data.size:
            raise ValueError(f"component {j} of chunk {k} has {data.size} values, its shapes "
                             f"need {sizes.sum()}")
        ends = np.cumsum(sizes)
        columns.append([data[end - size:end].reshape(shape)
                        for end, size, shape in zip(ends.tolist(), sizes.tolist(), shapes.tolist())])
    return [list(flat) for flat in zip(*columns)]
