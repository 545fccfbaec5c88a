"""``tf.data.experimental.CsvDataset`` and ``make_csv_dataset``: CSV files as datasets.

``CsvDataset`` gives one tuple of scalars per record, typed by `record_defaults` (a dtype: the
field is required; a value: its default when the field is empty).  ``make_csv_dataset`` reads the
header for column names, infers each column's type from the first rows as TF does (int32, int64,
float32, float64, then string), and gives batches of ``OrderedDict`` features (and labels).
Fields are split with Python's ``csv`` module (quotes as in TF with `use_quote_delim`).
"""
from __future__ import annotations

import collections
import csv
import glob
import os

import numpy as np

from ..core import dtypes
from ..core.spec import TensorSpec
from ..core.tensor import Tensor
from ..errors import InvalidArgumentError
from .dataset import UNKNOWN_CARDINALITY, Dataset
from .text_line import _file_names, _lines

__all__ = ["CsvDataset", "make_csv_dataset"]

_INT_RANGE = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}


def _column(default):
    """(dtype, default value or None when required) of one entry of `record_defaults`."""
    if isinstance(default, dtypes.DType) or (isinstance(default, type) and issubclass(default, np.generic)):
        return dtypes.as_dtype(default), None
    value = default.numpy() if isinstance(default, Tensor) else default
    array = np.asarray(value)
    if array.size == 0:
        dtype = dtypes.as_dtype(getattr(default, "dtype", None) or array.dtype)
        return dtype, None
    item = array.reshape(-1)[0]
    if isinstance(item, (str, bytes)) or array.dtype.kind in "USO":
        return dtypes.string, item.encode() if isinstance(item, str) else bytes(item)
    if isinstance(default, Tensor) or isinstance(value, np.ndarray) and value.dtype.kind != "O":
        dtype = dtypes.as_dtype(array.dtype)
    else:  # Python numbers: int32 and float32, as tf.constant makes them
        dtype = dtypes.float32 if array.dtype.kind == "f" else dtypes.int32
    return dtype, dtype._np.type(item)


def _parser(columns, na_value):
    """parse(fields) -> tuple of NumPy scalars for one record; InvalidArgumentError as TF's."""
    kinds = [(dtype.name, dtype._np.type, default) for dtype, default in columns]

    def parse(fields):
        out = []
        for i, ((name, make, default), text) in enumerate(zip(kinds, fields)):
            if text == "" or text == na_value:
                if default is None:
                    raise InvalidArgumentError(f"Field {i} is required but missing in record!")
                out.append(np.asarray(default, dtype=make))
                continue
            if name == "string":
                out.append(np.array(text.encode(), dtype=np.bytes_))
                continue
            try:
                value = int(text) if name in _INT_RANGE else float(text)
            except ValueError:
                value = None
            lo, hi = _INT_RANGE.get(name, (None, None))
            if value is None or (lo is not None and not lo <= value <= hi):
                raise InvalidArgumentError(f"Field {i} in record is not a valid {name}: {text}")
            out.append(np.asarray(value, dtype=make))
        return tuple(out)
    return parse


def _records(paths, compression_type, header, field_delim, use_quote_delim, select_cols,
             cycle=None):
    """Lists of field strings, per record, from every file (each one's header skipped)."""
    quoting = csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE

    def one(path):
        lines = (line.item().decode("utf-8", "replace") for line in _lines(path, compression_type))
        for i, fields in enumerate(csv.reader(lines, delimiter=field_delim, quoting=quoting)):
            if i == 0 and header:
                continue
            yield fields if select_cols is None else [fields[j] for j in select_cols if j < len(fields)]
    if cycle:
        return _interleaved_records([one(p) for p in paths], cycle)
    return (fields for p in paths for fields in one(p))


def _interleaved_records(readers, cycle):
    pending, active = list(readers), []
    while pending or active:
        while pending and len(active) < cycle:
            active.append(pending.pop(0))
        for k, reader in enumerate(list(active)):
            item = next(reader, None)
            if item is None:
                active[k] = pending.pop(0) if pending else None
                continue
            yield item
        active = [a for a in active if a is not None]


class CsvDataset(Dataset):
    """The records of CSV files as tuples of scalar tensors, one per column of `record_defaults`.

    >>> import os, tempfile, tapegrad as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> _ = open(path, "w").write("n,x,name\\n1,2.5,a\\n2,,b\\n")
    >>> ds = tf.data.experimental.CsvDataset(path, [tf.int32, [0.0], tf.string], header=True)
    >>> [(int(n), float(x), s.numpy()) for n, x, s in ds]
    [(1, 2.5, b'a'), (2, 0.0, b'b')]
    """

    def __init__(self, filenames, record_defaults, compression_type=None, buffer_size=None, header=False,
                 field_delim=",", use_quote_delim=True, na_value="", select_cols=None, exclude_cols=None,
                 name=None):
        paths = _file_names(filenames)
        columns = [_column(d) for d in record_defaults]
        if select_cols is not None and exclude_cols is not None:
            raise InvalidArgumentError("Either select_cols or exclude_cols should be empty")
        if select_cols is not None:
            select_cols = sorted(int(c) for c in select_cols)
            if len(select_cols) != len(columns):
                raise InvalidArgumentError("select_cols should match output size")
        parse = _parser(columns, na_value)
        exclude = None if exclude_cols is None else {int(c) for c in exclude_cols}

        def make():
            records = _records(paths, compression_type, header, field_delim, use_quote_delim, select_cols)
            for fields in records:
                if exclude is not None:
                    fields = [f for j, f in enumerate(fields) if j not in exclude]
                if len(fields) != len(columns):
                    raise InvalidArgumentError(
                        f"Expect {len(columns)} fields but have {len(fields)} in record")
                yield parse(fields)
        spec = tuple(TensorSpec((), dtype) for dtype, _ in columns)
        super().__init__(make, UNKNOWN_CARDINALITY, spec, "CsvDataset")


def _infer(texts, na_value):
    """The dtype TF infers for a column from its first values (empty ones left out)."""
    order = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64, dtypes.string]
    best = None
    for text in texts:
        if text == "" or text == na_value:
            continue
        rank = 0 if best is None else order.index(best)
        for dtype in order[rank:]:
            if _fits(text, dtype):
                best = dtype
                break
    return best or dtypes.string


def _fits(text, dtype) -> bool:
    if dtype == dtypes.string:
        return True
    try:
        value = int(text) if dtype.name in _INT_RANGE else float(text)
    except ValueError:
        return False
    if dtype.name in _INT_RANGE:
        lo, hi = _INT_RANGE[dtype.name]
        return lo <= value <= hi
    return dtype == dtypes.float64 or abs(value) <= np.finfo(np.float32).max or not np.isfinite(value)


def _file_list(file_pattern) -> list:
    patterns = [file_pattern] if isinstance(file_pattern, (str, bytes, os.PathLike)) else list(file_pattern)
    found = sorted({f for p in patterns for f in glob.glob(os.fsdecode(p))})
    if not found:
        raise ValueError(f"No files match `file_pattern` {file_pattern}.")
    return found


def make_csv_dataset(file_pattern, batch_size, column_names=None, column_defaults=None, label_name=None,
                     select_columns=None, field_delim=",", use_quote_delim=True, na_value="", header=True,
                     num_epochs=None, shuffle=True, shuffle_buffer_size=10000, shuffle_seed=None,
                     prefetch_buffer_size=None, num_parallel_reads=None, sloppy=False,
                     num_rows_for_inference=100, compression_type=None, ignore_errors=False,
                     encoding="utf-8"):
    """Batches of CSV records as ``OrderedDict`` features (and ``(features, labels)`` with
    `label_name`); `num_epochs=None` repeats forever, `shuffle` shuffles files and records.

    >>> import os, tempfile, tapegrad as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> _ = open(path, "w").write("n,x,label\\n1,2.5,0\\n2,,1\\n")
    >>> ds = tf.data.experimental.make_csv_dataset(path, batch_size=2, label_name="label",
    ...                                            num_epochs=1, shuffle=False)
    >>> [({k: v.numpy().tolist() for k, v in f.items()}, y.numpy().tolist()) for f, y in ds]
    [({'n': [1, 2], 'x': [2.5, 0.0]}, [0, 1])]
    """
    paths = _file_list(file_pattern)
    quoting = csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE
    with_header = [] if not header else next(csv.reader(
        (ln.item().decode(encoding) for ln in _lines(paths[0], compression_type)), delimiter=field_delim,
        quoting=quoting), [])
    names = list(column_names) if column_names is not None else with_header
    if not names:
        raise ValueError("Expected unique column names: pass `column_names` or a file with a header.")
    if select_columns is not None:
        chosen = sorted(names.index(c) if isinstance(c, str) else int(c) for c in select_columns)
    else:
        chosen = list(range(len(names)))
    if label_name is not None and label_name not in [names[j] for j in chosen]:
        raise ValueError(f"`label_name` provided must be one of the columns: {names}. "
                         f"Received: {label_name}.")
    if column_defaults is not None:
        columns = [_column(d) for d in column_defaults]
    else:
        sample = []
        for fields in _records(paths, compression_type, header, field_delim, use_quote_delim, chosen):
            sample.append(fields)
            if len(sample) >= num_rows_for_inference:
                break
        types = [_infer([row[k] for row in sample if k < len(row)], na_value) for k in range(len(chosen))]
        columns = [(t, b"" if t == dtypes.string else t._np.type(0)) for t in types]
    keys = [names[j] for j in chosen]
    parse = _parser(columns, na_value)
    cycle = None if num_parallel_reads in (None, 1) else len(paths) if num_parallel_reads == -1 \
        else int(num_parallel_reads)

    def make():
        order = list(paths)
        if shuffle:
            np.random.RandomState(shuffle_seed).shuffle(order) if shuffle_seed is not None \
                else np.random.shuffle(order)
        for fields in _records(order, compression_type, header, field_delim, use_quote_delim, chosen, cycle):
            try:
                if len(fields) != len(columns):
                    raise InvalidArgumentError(
                        f"Expect {len(columns)} fields but have {len(fields)} in record")
                yield parse(fields)
            except InvalidArgumentError:
                if not ignore_errors:
                    raise

    spec = tuple(TensorSpec((), dtype) for dtype, _ in columns)
    ds = Dataset(make, UNKNOWN_CARDINALITY, spec, "CsvDataset")
    if num_epochs != 1:
        ds = ds.repeat(num_epochs)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer_size, seed=shuffle_seed)
    ds = ds.batch(batch_size)

    def to_dict(*values):
        features = collections.OrderedDict(zip(keys, values))
        if label_name is None:
            return features
        label = features.pop(label_name)
        return features, label
    return ds.map(to_dict).prefetch(prefetch_buffer_size or 1)

