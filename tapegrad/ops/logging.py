"""tf.print: print tensors as TensorFlow does (NumPy-like, no dtype, summarised, to stderr)."""
from __future__ import annotations

import logging as _logging
import os
import sys

import numpy as np

from ..core.op import staged
from ..core.tensor import Tensor

__all__ = ["print_"]
_KNOWN = {"output_stream", "summarize", "sep", "end", "name"}


def _float(v) -> str:
    """TF's float printing: the short form (6 or 15 digits) when it reads back exactly, else 9 or 17."""
    short, full = (15, 17) if v.dtype == np.float64 else (6, 9)
    text = f"{v:.{short}g}"
    return text if v.dtype.type(text) == v else f"{v:.{full}g}"


_FORMATTER = {"float_kind": _float, "int_kind": str, "bool": lambda v: str(int(v)),
              "numpystr": lambda v: f'"{v.decode("utf-8", "replace") if isinstance(v, bytes) else v}"'}


def _format(value, summarize: int, top: bool = True) -> str:
    if isinstance(value, Tensor) or isinstance(value, np.ndarray):
        arr = np.asarray(value._value if isinstance(value, Tensor) else value)
        threshold = sys.maxsize if summarize < 0 else 2 * summarize
        # numbers without dtype, strings quoted, the middle elided beyond `summarize` per dim (TF)
        return np.array2string(arr, threshold=threshold, edgeitems=max(summarize, 1), separator=" ",
                               formatter=_FORMATTER, max_line_width=sys.maxsize)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_format(k, summarize, False)}: {_format(v, summarize, False)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_format(v, summarize, False) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if hasattr(value, "__tapegrad_dense__"):
        return _format(value.__tapegrad_dense__(), summarize, top)
    return str(value) if top or not isinstance(value, str) else repr(value)


@staged()
def print_(*inputs, **kwargs) -> None:
    """Print tensors and Python values, as ``tf.print`` (to stderr unless told otherwise).

    >>> import sys, tapegrad as tf
    >>> tf.print("x:", tf.range(10), output_stream=sys.stdout)
    x: [0 1 2 ... 7 8 9]
    """
    unknown = {k: v for k, v in kwargs.items() if k not in _KNOWN}
    if unknown:
        raise ValueError(f"Unrecognized keyword arguments for tf.print: {unknown}")
    stream = kwargs.get("output_stream", sys.stderr)
    summarize = kwargs.get("summarize", 3)
    summarize = 3 if summarize is None else int(summarize)
    text = kwargs.get("sep", " ").join(_format(v, summarize) for v in inputs) + kwargs.get("end", os.linesep)
    if isinstance(stream, str) and stream.startswith("file://"):
        with open(stream[len("file://"):], "a", encoding="utf-8") as f:
            f.write(text)
    elif stream in (_logging.info, _logging.warning, _logging.error, _logging.debug):
        stream(text.rstrip("\n"))
    elif hasattr(stream, "write"):
        stream.write(text)
        if hasattr(stream, "flush"):
            stream.flush()
    elif callable(stream):
        stream(text.rstrip("\n"))
    else:
        raise ValueError(f"Unsupported output stream {stream!r}")
