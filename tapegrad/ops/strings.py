"""``tf.strings``: operations on string tensors (UTF-8 bytes), run as Python on the values.

Strings have no gradient, so these are not registry primitives: each runs its Python on the
bytes eagerly and is staged (``ops.script.host_call``) inside a ``tf.function``, with the
result's dtype and shape known from the inputs. ``split`` of more than one string gives a
small ``RaggedStrings`` (rows of different lengths) in place of TF's RaggedTensor.
"""

from __future__ import annotations

import re

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor, convert_to_tensor
from ..errors import InvalidArgumentError
from .script import host_call

__all__ = [
    "RaggedStrings",
    "as_string",
    "bytes_split",
    "format",
    "join",
    "length",
    "lower",
    "reduce_join",
    "regex_full_match",
    "regex_replace",
    "split",
    "strip",
    "substr",
    "to_number",
    "unicode_split",
    "upper",
]


def _text(x, what: str) -> Tensor:
    t = convert_to_tensor(x, dtype=dtypes.string) if not isinstance(x, Tensor) else x
    if t.dtype != dtypes.string:
        raise TypeError(f"{what}: input must be a string tensor, got {t.dtype.name}")
    return t


def _b(s) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _map(fn, x, out_dtype, what: str) -> Tensor:
    """fn applied to every element's bytes; the result has x's shape and `out_dtype`."""
    t = _text(x, what)

    def run(t):
        values = np.asarray(t._value)
        flat = [fn(bytes(v)) for v in values.reshape(-1)]
        dt = "S" if out_dtype == dtypes.string else out_dtype._np
        out = np.array(flat, dtype=dt) if flat else np.zeros(0, "S1" if dt == "S" else dt)
        return Tensor(out.reshape(values.shape))

    return host_call(run, [t], (out_dtype, t._value.shape), what)


def length(input, unit="BYTE", name=None) -> Tensor:
    """The length of each string, in bytes or (``unit="UTF8_CHAR"``) characters, as int32.

    >>> import tapegrad as tf
    >>> tf.strings.length(["hi", "héllo"]).numpy().tolist()
    [2, 6]
    """
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise ValueError(f"unit must be one of 'BYTE' or 'UTF8_CHAR', got {unit!r} (tf.strings.length)")
    count = len if unit == "BYTE" else (lambda s: len(s.decode("utf-8", "replace")))
    return _map(count, input, dtypes.int32, "tf.strings.length")


def lower(input, encoding="", name=None) -> Tensor:
    """Lower-case (ASCII letters only, unless ``encoding="utf-8"``), as TF.

    >>> import tapegrad as tf
    >>> tf.strings.lower("Hello World").numpy()
    b'hello world'
    """
    if encoding:
        return _map(
            lambda s: s.decode("utf-8").lower().encode("utf-8"), input, dtypes.string, "tf.strings.lower"
        )
    return _map(bytes.lower, input, dtypes.string, "tf.strings.lower")


def upper(input, encoding="", name=None) -> Tensor:
    """Upper-case (ASCII letters only, unless ``encoding="utf-8"``), as TF.

    >>> import tapegrad as tf
    >>> tf.strings.upper(["ab", "c"]).numpy().tolist()
    [b'AB', b'C']
    """
    if encoding:
        return _map(
            lambda s: s.decode("utf-8").upper().encode("utf-8"), input, dtypes.string, "tf.strings.upper"
        )
    return _map(bytes.upper, input, dtypes.string, "tf.strings.upper")


def strip(input, name=None) -> Tensor:
    """Leading and trailing whitespace removed.

    >>> import tapegrad as tf
    >>> tf.strings.strip("  a b \\n").numpy()
    b'a b'
    """
    return _map(bytes.strip, input, dtypes.string, "tf.strings.strip")


def _rewrite(rewrite: bytes) -> bytes:
    """RE2's rewrite string in Python's: ``\\0`` is the whole match."""
    return re.sub(rb"\\([0-9])", rb"\\g<\1>", rewrite)


def regex_replace(input, pattern, rewrite, replace_global=True, name=None) -> Tensor:
    """Matches of the regular expression `pattern` replaced by `rewrite` (``\\1`` names a group).

    >>> import tapegrad as tf
    >>> tf.strings.regex_replace("a1b22", "[0-9]+", "#").numpy()
    b'a#b#'
    """
    regex = re.compile(_b(_scalar(pattern)))
    sub = _rewrite(_b(_scalar(rewrite)))
    count = 0 if replace_global else 1
    return _map(lambda s: regex.sub(sub, s, count=count), input, dtypes.string, "tf.strings.regex_replace")


def regex_full_match(input, pattern, name=None) -> Tensor:
    """Whether each whole string matches `pattern` (bool).

    >>> import tapegrad as tf
    >>> tf.strings.regex_full_match(["ab", "abc"], "a.").numpy().tolist()
    [True, False]
    """
    regex = re.compile(_b(_scalar(pattern)))
    return _map(lambda s: regex.fullmatch(s) is not None, input, dtypes.bool_, "tf.strings.regex_full_match")


def _scalar(value):
    if isinstance(value, Tensor):
        v = value.numpy()
        return v if isinstance(v, bytes) else np.asarray(v).item()
    return value


def substr(input, pos, len, unit="BYTE", name=None) -> Tensor:
    """`len` bytes (or UTF-8 characters) from `pos` (negative: from the end) of each string.

    >>> import tapegrad as tf
    >>> tf.strings.substr(["hello", "world"], 1, 3).numpy().tolist()
    [b'ell', b'orl']
    """
    pos, n = int(_scalar(pos)), int(_scalar(len))

    def cut(s: bytes) -> bytes:
        text = s if unit == "BYTE" else s.decode("utf-8")
        size = text.__len__()
        if pos > size or pos < -size:
            raise InvalidArgumentError(
                f"pos {pos} out of range for string b'{s.decode('utf-8', 'replace')}' "
                f"at index 0 (tf.strings.substr)"
            )
        start = pos if pos >= 0 else size + pos
        piece = text[start : start + n]
        return piece if unit == "BYTE" else piece.encode("utf-8")

    return _map(cut, input, dtypes.string, "tf.strings.substr")


def to_number(string_tensor, out_type=dtypes.float32, name=None) -> Tensor:
    """Each string parsed as a number of `out_type` (float32 by default).

    >>> import tapegrad as tf
    >>> tf.strings.to_number(["1.5", "-2"]).numpy().tolist()
    [1.5, -2.0]
    """
    out_type = dtypes.as_dtype(out_type)

    def parse(s: bytes):
        text = s.decode("utf-8", "replace").strip()
        try:
            return int(text) if out_type.is_integer else float(text)
        except ValueError:
            raise InvalidArgumentError(
                f"StringToNumberOp could not correctly convert string: {text}"
            ) from None

    return _map(parse, string_tensor, out_type, "tf.strings.to_number")


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None) -> Tensor:
    """Numbers (and bools) as strings, as TF's printf formats (floats: ``%f``).

    >>> import tapegrad as tf
    >>> tf.strings.as_string([1.5, 2.0]).numpy().tolist(), tf.strings.as_string(7).numpy()
    ([b'1.500000', b'2.000000'], b'7')
    """
    t = convert_to_tensor(input)
    kind = t._value.dtype.kind
    if kind == "S":
        raise InvalidArgumentError(
            "Value for attr 'T' of string is not in the list of allowed values (tf.strings.as_string)"
        )
    flag = "0" if fill == "0" else "-" if fill == "-" else ""
    w = "" if width < 0 else str(width)
    if kind == "f":
        conv = "e" if scientific else "g" if shortest else "f"
        spec = f"%{flag}{w}{'' if precision < 0 else '.' + str(precision)}{conv}"
    elif kind == "c":
        spec = None
    else:
        spec = f"%{flag}{w}d"

    def run(t):
        v = np.asarray(t._value)
        if kind == "b":
            flat = [b"true" if e else b"false" for e in v.reshape(-1)]
        elif spec is None:
            flat = [f"({e.real:f},{e.imag:f})".encode() for e in v.reshape(-1)]
        else:
            flat = [(spec % e).encode() for e in v.reshape(-1)]
        return Tensor(np.array(flat, dtype="S" if flat else "S1").reshape(v.shape))

    return host_call(run, [t], (dtypes.string, t._value.shape), "tf.strings.as_string")


def format(template, inputs, placeholder="{}", summarize=3, name=None) -> Tensor:
    """`template` with each `placeholder` replaced by one of `inputs`, printed as ``tf.print``.

    >>> import tapegrad as tf
    >>> tf.strings.format("x={} n={}", [tf.constant([1, 2]), 3]).numpy()
    b'x=[1 2] n=3'
    """
    from .logging import _format

    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    parts = template.split(placeholder)
    if len(parts) - 1 != len(inputs):
        raise ValueError(
            f"num placeholders in template and num inputs must match: {len(parts) - 1} vs "
            f"{len(inputs)} (tf.strings.format)"
        )
    tensors = [convert_to_tensor(x) for x in inputs]

    def run(*ts):
        text = parts[0] + "".join(_format(x, summarize) + p for x, p in zip(ts, parts[1:]))
        return Tensor(np.array(text.encode("utf-8")))

    return host_call(run, tensors, (dtypes.string, ()), "tf.strings.format")


def join(inputs, separator="", name=None) -> Tensor:
    """The strings of `inputs` (tensors of one broadcast shape) joined elementwise.

    >>> import tapegrad as tf
    >>> tf.strings.join([["a", "b"], "x"], separator="-").numpy().tolist()
    [b'a-x', b'b-x']
    """
    tensors = [_text(x, "tf.strings.join") for x in inputs]
    sep = _b(separator)
    shape = np.broadcast_shapes(*[t._value.shape for t in tensors]) if tensors else ()

    def run(*ts):
        arrays = np.broadcast_arrays(*[np.asarray(t._value) for t in ts])
        flat = [sep.join(bytes(a.reshape(-1)[i]) for a in arrays) for i in range(int(np.prod(shape)))]
        return Tensor(np.array(flat, dtype="S" if flat else "S1").reshape(shape))

    return host_call(run, tensors, (dtypes.string, shape), "tf.strings.join")


def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None) -> Tensor:
    """The strings joined along `axis` (all axes by default).

    >>> import tapegrad as tf
    >>> tf.strings.reduce_join([["a", "b"], ["c", "d"]], axis=1, separator=",").numpy().tolist()
    [b'a,b', b'c,d']
    """
    t = _text(inputs, "tf.strings.reduce_join")
    sep = _b(separator)
    nd = t._value.ndim
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in np.atleast_1d(axis).tolist())
    keep = [d for d in range(nd) if d not in axes]
    shape = (
        tuple(1 if d in axes else t._value.shape[d] for d in range(nd))
        if keepdims
        else tuple(t._value.shape[d] for d in keep)
    )

    def run(t):
        v = np.asarray(t._value).transpose(keep + list(axes))
        rows = v.reshape(int(np.prod([v.shape[i] for i in range(len(keep))])), -1)
        flat = [sep.join(bytes(e) for e in row) for row in rows]
        return Tensor(np.array(flat, dtype="S" if flat else "S1").reshape(shape))

    return host_call(run, [t], (dtypes.string, shape), "tf.strings.reduce_join")


class RaggedStrings:
    """Rows of strings of different lengths: what ``tf.strings.split`` gives for a 1-D input
    (TF's RaggedTensor). ``to_tensor()`` pads with `default_value`; rows iterate as tensors.

    >>> import tapegrad as tf
    >>> parts = tf.strings.split(["a b", "c"])
    >>> parts.to_list(), parts.to_tensor().numpy().tolist()
    ([[b'a', b'b'], [b'c']], [[b'a', b'b'], [b'c', b'']])
    """

    def __init__(self, rows):
        self._rows = [np.array(r, dtype="S" if len(r) else "S1") for r in rows]

    dtype = dtypes.string

    @property
    def shape(self):
        from ..core.shape import TensorShape

        return TensorShape([len(self._rows), None])

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, i):
        return Tensor(self._rows[i])

    def __iter__(self):
        return (Tensor(r) for r in self._rows)

    def to_list(self):
        return [[bytes(e) for e in r] for r in self._rows]

    def row_lengths(self) -> Tensor:
        return Tensor(np.array([len(r) for r in self._rows], dtype=np.int64))

    @property
    def flat_values(self) -> Tensor:
        return Tensor(np.concatenate(self._rows) if self._rows else np.zeros(0, "S1"))

    def to_tensor(self, default_value=None, shape=None) -> Tensor:
        width = max((len(r) for r in self._rows), default=0)
        out = np.full((len(self._rows), width), _b(default_value or b""), dtype=object)
        for i, r in enumerate(self._rows):
            out[i, : len(r)] = list(r)
        return Tensor(out.astype("S") if out.size else np.zeros(out.shape, "S1"))

    def __repr__(self):
        return f"<tf.RaggedTensor {self.to_list()}>"


def _split_one(s: bytes, sep, maxsplit):
    return s.split(sep, maxsplit) if sep is not None else s.split(None, maxsplit)


def split(input, sep=None, maxsplit=-1, name=None):
    """Each string split at `sep` (runs of whitespace when None). A scalar gives a 1-D tensor;
    a 1-D input gives ``RaggedStrings`` (TF: a RaggedTensor), one row per string.

    >>> import tapegrad as tf
    >>> tf.strings.split("hello big world").numpy().tolist()
    [b'hello', b'big', b'world']
    """
    t = _text(input, "tf.strings.split")
    sep = None if sep is None or sep == "" else _b(_scalar(sep))
    if t._value.ndim == 0:

        def run(t):
            pieces = _split_one(bytes(np.asarray(t._value)[()]), sep, maxsplit)
            return Tensor(np.array(pieces, dtype="S" if pieces else "S1"))

        return host_call(run, [t], (dtypes.string, (None,)), "tf.strings.split")
    if t._value.ndim != 1:
        raise ValueError(f"tf.strings.split: input must be a scalar or a vector, got shape {t.shape}")
    return RaggedStrings([_split_one(bytes(v), sep, maxsplit) for v in np.asarray(t)])


def unicode_split(input, input_encoding, errors="replace", replacement_char=65533, name=None):
    """Each string split into its UTF-8 characters (as bytes); see ``split`` for the result.

    >>> import tapegrad as tf
    >>> tf.strings.unicode_split("hé", "UTF-8").numpy().tolist()
    [b'h', b'\\xc3\\xa9']
    """

    def chars(s: bytes):
        return [c.encode("utf-8") for c in s.decode(input_encoding.lower(), errors)]

    t = _text(input, "tf.strings.unicode_split")
    if t._value.ndim == 0:

        def run(t):
            pieces = chars(bytes(np.asarray(t._value)[()]))
            return Tensor(np.array(pieces, dtype="S" if pieces else "S1"))

        return host_call(run, [t], (dtypes.string, (None,)), "tf.strings.unicode_split")
    return RaggedStrings([chars(bytes(v)) for v in np.asarray(t)])


def bytes_split(input, name=None):
    """Each string split into single bytes; see ``split`` for the result.

    >>> import tapegrad as tf
    >>> tf.strings.bytes_split("ab").numpy().tolist()
    [b'a', b'b']
    """
    t = _text(input, "tf.strings.bytes_split")
    if t._value.ndim == 0:

        def run(t):
            s = bytes(np.asarray(t._value)[()])
            return Tensor(np.array([s[i : i + 1] for i in range(len(s))], dtype="S" if s else "S1"))

        return host_call(run, [t], (dtypes.string, (None,)), "tf.strings.bytes_split")
    return RaggedStrings([[bytes(v)[i : i + 1] for i in range(len(bytes(v)))] for v in np.asarray(t)])
