"""``tf.data.TextLineDataset``: the lines of text files as scalar string tensors (bytes, without
their ``\\n`` or ``\\r\\n``), read lazily, from plain, GZIP or ZLIB files; several files are read
in turn, or interleaved a line at a time with `num_parallel_reads`, as TF's.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ..core import dtypes
from ..core.spec import TensorSpec
from ..core.tensor import Tensor
from ..errors import NotFoundError
from .dataset import UNKNOWN_CARDINALITY, Dataset

__all__ = ["TextLineDataset"]


def _file_names(filenames) -> list:
    if isinstance(filenames, Dataset):
        filenames = [e for e in filenames.as_numpy_iterator()]
    elif isinstance(filenames, Tensor):
        filenames = np.asarray(filenames.numpy(), dtype=object).reshape(-1).tolist()
    elif isinstance(filenames, (str, bytes, os.PathLike)):
        filenames = [filenames]
    names = [os.fsdecode(f) for f in filenames]
    if not names:
        raise ValueError("TextLineDataset: `filenames` must hold at least one file name")
    return names


def _zlib_lines(f):
    data = zlib.decompress(f.read())
    return iter(data.splitlines(keepends=True))


def _lines(path: str, compression_type):
    """The lines of one file, each without its line ending."""
    if not os.path.exists(path):
        raise NotFoundError(f"{path}; No such file or directory (TextLineDataset)")
    kind = (compression_type or "").upper()
    if kind not in ("", "GZIP", "ZLIB"):
        raise ValueError(
            f"TextLineDataset: compression_type must be '', 'GZIP' or 'ZLIB', got {compression_type!r}"
        )
    with gzip.open(path, "rb") if kind == "GZIP" else open(path, "rb") as f:
        for line in _zlib_lines(f) if kind == "ZLIB" else f:
            if line.endswith(b"\n"):
                line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            yield np.array(line, dtype="S") if line else np.array(b"", dtype="S1")


def _interleaved(paths, compression_type, cycle_length):
    """Lines from `cycle_length` files at a time, one from each in turn (TF's interleave)."""
    pending = list(paths)
    active = []
    while pending or active:
        while pending and len(active) < cycle_length:
            active.append(_lines(pending.pop(0), compression_type))
        for reader in list(active):
            line = next(reader, None)
            if line is None:
                index = active.index(reader)
                active[index] = _lines(pending.pop(0), compression_type) if pending else None
                continue
            yield line
        active = [a for a in active if a is not None]


class TextLineDataset(Dataset):
    """The lines of `filenames` (a name, a list, a string tensor or a dataset of names).

    >>> import os, tempfile, tapegrad as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(path, "w").write("first\\nsecond\\n")
    >>> [line.numpy() for line in tf.data.TextLineDataset(path)]
    [b'first', b'second']
    """

    def __init__(
        self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None, name=None
    ):
        paths = _file_names(filenames)
        cycle = (
            None
            if num_parallel_reads in (None, 1)
            else max(int(num_parallel_reads), 1)
            if num_parallel_reads != -1
            else len(paths)
        )

        def make():
            if cycle:
                return _interleaved(paths, compression_type, cycle)
            return (line for p in paths for line in _lines(p, compression_type))

        super().__init__(make, UNKNOWN_CARDINALITY, TensorSpec((), dtypes.string), "TextLineDataset")
