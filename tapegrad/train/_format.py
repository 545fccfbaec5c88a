"""The checkpoint file: one ``.npz`` (a zip of ``.npy`` members, stored, never pickled) holding

- ``__header__``: JSON naming the format and version, every entry's shape and dtype, the objects
  and the random state;
- one member per entry (``model/d1/vars/0``, ``optimizer/vars/3``, ``save_counter``, ...);
- ``__sha256__``: the SHA-256 of the header text and then, in the header's order, each entry's
  name, dtype, shape and bytes.

A reader trusts nothing before the checksum matches: members are read whole (zip checks their
CRC-32) and decoded by ``tapegrad._files.NpzReader``, the header's bounds (members, sizes, dtypes)
are checked as it goes, so a truncated, corrupt or half-written file raises
``CheckpointCorruptError`` naming it and is never used.  Files are written atomically
(``tapegrad._files``): a crash leaves either the old file or the new one, never part of one.
"""
from __future__ import annotations

import json
import math
import os
import zipfile

import numpy as np

from .._files import NpzReader, array_digest, atomic_write
from ..errors import DataLossError

FORMAT = "tapegrad.checkpoint"
VERSION = 1
SUFFIX = ".npz"
_HEADER = "__header__"
_CHECKSUM = "__sha256__"
_MAX_HEADER_BYTES = 64 << 20  # generous for the names and shapes of any real model; bounds a bad file
_NPY_HEADER_BYTES = 4096      # the .npy header of one member is far smaller


class CheckpointCorruptError(DataLossError, ValueError):
    """A checkpoint file that cannot be trusted: truncated, corrupt, half-written or not a checkpoint
    (``tf.errors.DataLossError``, as TensorFlow raises for a damaged checkpoint)."""


def file_of(path) -> str:
    """The file holding the checkpoint `path` (a prefix such as ``ckpt-3``, or the file itself).

    >>> file_of("train/ckpt-3"), file_of("train/ckpt-3.npz")
    ('train/ckpt-3.npz', 'train/ckpt-3.npz')
    """
    path = os.fspath(path)
    return path if path.endswith(SUFFIX) else path + SUFFIX


def write(path, arrays: dict, meta: dict) -> None:
    """Write `arrays` (name → ndarray) and the JSON-able `meta` to the checkpoint file of `path`,
    atomically and durably (the file and its folder entry are synced before this returns).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt-1")
    >>> write(path, {"w": np.arange(3.0)}, {"objects": {}})
    >>> read(path)[0]["w"]
    array([0., 1., 2.])
    """
    arrays = {name: np.asarray(a, order="C") for name, a in arrays.items()}
    for name, array in arrays.items():
        if name in (_HEADER, _CHECKSUM):
            raise ValueError(f"{name!r} is a reserved checkpoint entry name.")
        if not _numeric(array.dtype):
            raise TypeError(f"Checkpoint entry {name!r} has dtype {array.dtype}; only numbers are saved.")
    entries = {name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in arrays.items()}
    header = json.dumps({"format": FORMAT, "version": VERSION, "entries": entries, **meta})
    digest = _digest(header, arrays)

    def write_zip(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in ((_HEADER, np.array(header)), *arrays.items(), (_CHECKSUM, np.array(digest))):
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    file = file_of(path)
    os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
    atomic_write(file, write_zip)


def read(path) -> tuple:
    """``(arrays, header)`` of the checkpoint file of `path`, verified entry by entry and by checksum.

    Raises ``tapegrad.errors.NotFoundError`` when there is no such file and
    ``CheckpointCorruptError`` when it cannot be trusted.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt-1")
    >>> write(path, {"step": np.int64(7)}, {})
    >>> with open(path + ".npz", "r+b") as f:
    ...     _ = f.seek(-30, os.SEEK_END); _ = f.write(b"x")
    >>> read(path)
    Traceback (most recent call last):
    ...
    tapegrad.train._format.CheckpointCorruptError: Checkpoint ... is corrupt or incomplete: ...
    """
    from ..errors import NotFoundError
    file = file_of(path)
    if not os.path.isfile(file):
        raise NotFoundError(f"No checkpoint at {os.fspath(path)!r} (no file {file!r}).")

    def corrupt(why):
        return CheckpointCorruptError(f"Checkpoint {file!r} is corrupt or incomplete: {why}.")
    with NpzReader(file, corrupt) as npz:
        return _verified(npz, corrupt)


def _verified(npz, corrupt) -> tuple:
    members = set(npz.names)
    if _HEADER not in members or _CHECKSUM not in members:
        raise corrupt(f"it lacks the {_HEADER!r} or {_CHECKSUM!r} entry (is it a tapegrad checkpoint?)")
    text = _text(npz, _HEADER, _MAX_HEADER_BYTES, corrupt)
    try:
        header = json.loads(text)
    except ValueError as e:
        raise corrupt(f"its header is not JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise corrupt("its header does not name the tapegrad checkpoint format")
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise corrupt(f"it has format version {header.get('version')!r}; this tapegrad reads up to "
                      f"version {VERSION}")
    entries = header.get("entries")
    if not isinstance(entries, dict) or set(entries) != members - {_HEADER, _CHECKSUM}:
        listed = set(entries) if isinstance(entries, dict) else set()
        raise corrupt(f"its header and its entries differ (missing {sorted(listed - members)[:3]}, unlisted "
                      f"{sorted(members - listed - {_HEADER, _CHECKSUM})[:3]})")
    arrays = {}
    for name, spec in entries.items():
        shape, dtype = _spec(name, spec, corrupt)
        # The member may not hold more than its header says: a bad file cannot make us inflate more
        array = npz.read(name, limit=math.prod(shape) * dtype.itemsize + _NPY_HEADER_BYTES)
        if array.shape != shape or array.dtype != dtype:
            raise corrupt(f"entry {name!r} is {array.dtype}{list(array.shape)}, its header says "
                          f"{dtype}{list(shape)}")
        arrays[name] = array
    if _text(npz, _CHECKSUM, 128, corrupt) != _digest(text, arrays):
        raise corrupt("its SHA-256 checksum does not match its contents")
    return arrays, header


def _text(npz, name: str, limit: int, corrupt) -> str:
    value = npz.read(name, limit=limit + _NPY_HEADER_BYTES)
    if value.dtype.kind != "U" or value.shape != ():
        raise corrupt(f"its {name!r} entry is not a text")
    return str(value[()])


def _spec(name: str, spec, corrupt) -> tuple:
    try:
        shape = tuple(int(d) for d in spec["shape"])
        dtype = np.dtype(spec["dtype"])
    except (KeyError, TypeError, ValueError) as e:
        raise corrupt(f"the header entry of {name!r} is malformed ({e})") from None
    if any(d < 0 for d in shape) or not _numeric(dtype):
        raise corrupt(f"the header entry of {name!r} is malformed ({spec})")
    return shape, dtype


def _numeric(dtype: np.dtype) -> bool:
    return dtype.kind in "biufc" and not dtype.hasobject and dtype.fields is None


def _digest(header: str, arrays: dict) -> str:
    return array_digest(arrays.items(), prefix=header)
