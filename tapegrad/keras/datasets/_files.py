"""Reading MNIST-format data sets from local files: Keras's ``.npz`` or the original IDX files.

Nothing is ever downloaded.  Both formats are untrusted input: ``.npz`` files are read without
unpickling, IDX headers are checked (magic, dtype code, rank, that the data is exactly as long as
the dimensions say) before any data is read, and gzipped files are never inflated past that size.
"""
from __future__ import annotations

import gzip
import math
import os
import struct

import numpy as np

from ..._files import NpzReader
from ...errors import DataLossError

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"): big-endian data
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_PARTS = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
              "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DatasetFileError(DataLossError, ValueError):
    """A data set file that is truncated, corrupt or not what it should be (``tf.errors.DataLossError``,
    and a ``ValueError``)."""


def keras_cache_dir() -> str:
    """Where Keras keeps downloaded data sets: ``$KERAS_HOME/datasets``, by default
    ``~/.keras/datasets``.

    >>> keras_cache_dir().endswith("datasets")
    True
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def load(path, name: str, default: str, num_classes: int = 10) -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` from `path`: a ``.npz`` file with those four keys, or
    a folder of the four IDX files (``train-images-idx3-ubyte[.gz]``, ...).  A relative `path` that
    does not exist is looked up in the Keras cache folder, as Keras does.  `name` and `default`
    (the file Keras would use) are for the message when nothing is found.

    >>> load("/nowhere/mnist.npz", "mnist", "mnist.npz")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No mnist data at '/nowhere/mnist.npz'; tapegrad never downloads. Put Keras's mnist.npz ...
    """
    for candidate in _candidates(path):
        if os.path.isdir(candidate):
            parts = _idx_files(candidate)
            if parts is not None:
                return _checked(_read_idx_parts(parts), candidate, num_classes)
            npz = os.path.join(candidate, "mnist.npz" if name == "mnist" else f"{name}.npz")
            if os.path.isfile(npz):
                return _checked(_read_npz(npz), npz, num_classes)
        elif os.path.isfile(candidate):
            return _checked(_read_npz(candidate), candidate, num_classes)
    raise FileNotFoundError(_not_found(path, name, default))


def _candidates(path) -> list:
    path = os.path.expanduser(os.fspath(path))
    out = [path]
    if not os.path.isabs(path):
        out.append(os.path.join(keras_cache_dir(), path))
    return out


def _idx_files(folder: str):
    """The four IDX files in `folder` (each plain or gzipped), or None if any is missing."""
    found = {}
    for key, stem in _IDX_PARTS.items():
        for candidate in (stem, stem + ".gz"):
            if os.path.isfile(os.path.join(folder, candidate)):
                found[key] = os.path.join(folder, candidate)
                break
    return found if len(found) == len(_IDX_PARTS) else None


def _not_found(path, name: str, default: str) -> str:
    cache = keras_cache_dir()
    where = f"{os.fspath(path)!r}" + ("" if os.path.isabs(os.fspath(path)) else f" (nor in {cache!r})")
    if name == "mnist":
        what = (f"Keras's mnist.npz (https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz) "
                f"at {os.path.join(cache, 'mnist.npz')!r}")
    else:
        what = (f"the four IDX files of {name} (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in {os.path.join(cache, default)!r}")
    return (f"No {name} data at {where}; tapegrad never downloads. Put {what}, or pass load_data(path=...) "
            f"a .npz file with x_train, y_train, x_test, y_test or a folder holding the four IDX files "
            f"(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
            f"t10k-labels-idx1-ubyte[.gz]).")


# -- .npz ------------------------------------------------------------------------------------------

def _read_npz(path: str) -> dict:
    def corrupt(why):
        return DatasetFileError(f"{path!r} is truncated, corrupt or not an .npz archive ({why})")
    with NpzReader(path, corrupt) as data:
        missing = [k for k in _NPZ_KEYS if k not in data.names]
        if missing:
            raise DatasetFileError(f"{path!r} lacks the arrays {missing}; it has {sorted(data.names)}")
        return {key: data.read(key) for key in _NPZ_KEYS}


# -- IDX -------------------------------------------------------------------------------------------

def _read_idx_parts(parts: dict) -> dict:
    return {key: read_idx(path) for key, path in parts.items()}


def read_idx(path) -> np.ndarray:
    """The array in an IDX file (gzipped when its name ends in ``.gz``), in native byte order.

    >>> import gzip, os, struct, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return _parse_idx(f, path)
    except DatasetFileError:
        raise
    except (OSError, EOFError, gzip.BadGzipFile) as e:  # a truncated or damaged gzip stream
        raise DatasetFileError(f"IDX file {path!r} is truncated or corrupt ({type(e).__name__}: {e})") from None


def _parse_idx(f, path: str) -> np.ndarray:
    head = f.read(4)
    if len(head) < 4:
        raise DatasetFileError(f"IDX file {path!r} is too short for a header ({len(head)} bytes)")
    zero, code, rank = struct.unpack(">HBB", head)
    if zero != 0 or code not in _IDX_DTYPES:
        raise DatasetFileError(f"{path!r} is not an IDX file (magic number 0x{head.hex()}; expected "
                               "0x0000 then a type code 08, 09, 0B, 0C, 0D or 0E)")
    if not 1 <= rank <= 4:
        raise DatasetFileError(f"IDX file {path!r} declares {rank} dimensions; MNIST-format files have 1 to 4")
    raw_dims = f.read(4 * rank)
    if len(raw_dims) < 4 * rank:
        raise DatasetFileError(f"IDX file {path!r} is truncated inside its header")
    dims = struct.unpack(f">{rank}I", raw_dims)
    dtype = np.dtype(_IDX_DTYPES[code])
    size = math.prod(dims) * dtype.itemsize
    data = f.read(size + 1)  # one byte more than declared: trailing data means a bad header
    if len(data) != size:
        raise DatasetFileError(f"IDX file {path!r} declares shape {dims} ({size} bytes of data) but holds "
                               f"{'fewer' if len(data) < size else 'more'} bytes: truncated or corrupt")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


# -- checks ------------------------------------------------------------------------------------------

def _checked(arrays: dict, source: str, num_classes: int) -> tuple:
    """The four arrays as Keras gives them, after checking that they are images and labels."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetFileError(f"{source!r}: x_{split} should be images (n, height, width) and y_{split} "
                                   f"n labels; got shapes {x.shape} and {y.shape}")
        if x.dtype.kind not in "uif" or y.dtype.kind not in "ui":
            raise DatasetFileError(f"{source!r}: x_{split}/y_{split} have dtypes {x.dtype}/{y.dtype}, not "
                                   "numeric images and integer labels")
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise DatasetFileError(f"{source!r}: y_{split} holds labels from {y.min()} to {y.max()}, outside "
                                   f"0..{num_classes - 1}")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DatasetFileError(f"{source!r}: training images are {arrays['x_train'].shape[1:]}, test images "
                               f"{arrays['x_test'].shape[1:]}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
