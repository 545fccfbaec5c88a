"""``tf.compat``: the string helpers and ``tf.compat.v2`` (the TF 2 API, which is tapegrad itself).

``tf.compat.v1`` (graphs, sessions, placeholders) is not implemented.
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from ._compat import module_getattr

__all__ = ["as_bytes", "as_str", "as_str_any", "as_text", "bytes_or_text_types", "complex_types",
           "dimension_value", "integral_types", "path_to_str", "real_types"]

# a package to the import system, as TF's: `import tensorflow.compat.v2 as tf` resolves `v2` below
__path__: list = []

bytes_or_text_types = (bytes, str)
integral_types = (numbers.Integral, np.integer)
real_types = (numbers.Real, np.integer, np.floating)
complex_types = (numbers.Complex, np.number)


def as_bytes(bytes_or_text, encoding="utf-8") -> bytes:
    """`bytes_or_text` as bytes (text is encoded with `encoding`).

    >>> as_bytes("é")
    b'\\xc3\\xa9'
    """
    if isinstance(bytes_or_text, bytearray):
        return bytes(bytes_or_text)
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


def as_text(bytes_or_text, encoding="utf-8") -> str:
    """`bytes_or_text` as str (bytes are decoded with `encoding`).

    >>> as_text(b"abc")
    'abc'
    """
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


as_str = as_text


def as_str_any(value, encoding="utf-8") -> str:
    """`value` as str: bytes decoded, anything else through ``str``.

    >>> as_str_any(3), as_str_any(b"x")
    ('3', 'x')
    """
    return as_text(value, encoding) if isinstance(value, bytes) else str(value)


def path_to_str(path):
    """A path-like object (``pathlib.Path``) as its str; anything else unchanged.

    >>> import pathlib
    >>> path_to_str(pathlib.Path("/tmp"))
    '/tmp'
    """
    return os.fspath(path) if isinstance(path, os.PathLike) else path


def dimension_value(dimension):
    """The int (or None) of a TensorShape entry; TF 2's shapes already hold ints, so it is unchanged.

    >>> import tapegrad as tf
    >>> dimension_value(tf.TensorShape([3, None])[0]), dimension_value(None)
    (3, None)
    """
    return getattr(dimension, "value", dimension)


_missing = module_getattr("tf.compat")


def __getattr__(name):
    """``v2`` is tapegrad itself (loaded on use: no import cycle); other names are missing."""
    if name == "v2":
        import tapegrad
        return tapegrad
    return _missing(name)
