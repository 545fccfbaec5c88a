"""tf.data.experimental.CsvDataset / make_csv_dataset, Dataset.list_files, sample_from_datasets,
interleave: values recorded from TF 2.21."""
import gzip

import numpy as np
import pytest

import tapegrad as tf

ROWS = 'a,b,c,d\n1,2.5,x,3000000000\n2,,"y,z",4\n3,1e3,,5\n'


@pytest.fixture
def files(tmp_path):
    (tmp_path / "t.csv").write_text(ROWS)
    (tmp_path / "u.csv").write_text("a,b,c,d\n7,0.5,q,6\n")
    with gzip.open(tmp_path / "t.csv.gz", "wt") as f:
        f.write(ROWS)
    return tmp_path


def _rows(ds):
    return [{k: v.numpy().tolist() for k, v in b.items()} for b in ds]


def test_make_csv_dataset_infers_types_and_fills_defaults(files):
    ds = tf.data.experimental.make_csv_dataset(str(files / "t.csv"), batch_size=2, num_epochs=1,
                                               shuffle=False)
    assert {k: s.dtype.name for k, s in ds.element_spec.items()} == \
        {"a": "int32", "b": "float32", "c": "string", "d": "int64"}
    assert tuple(ds.element_spec["a"].shape) == (None,)
    assert _rows(ds) == [{"a": [1, 2], "b": [2.5, 0.0], "c": [b"x", b"y,z"], "d": [3000000000, 4]},
                         {"a": [3], "b": [1000.0], "c": [b""], "d": [5]}]


def test_make_csv_dataset_label_select_gzip_pattern(files):
    ds = tf.data.experimental.make_csv_dataset(str(files / "t.csv"), batch_size=3, label_name="a",
                                               num_epochs=1, shuffle=False, select_columns=["a", "b"])
    [(features, label)] = list(ds)
    assert list(features) == ["b"] and features["b"].numpy().tolist() == [2.5, 0.0, 1000.0]
    assert label.numpy().tolist() == [1, 2, 3] and label.dtype.name == "int32"
    ds = tf.data.experimental.make_csv_dataset(str(files / "t.csv.gz"), batch_size=3, compression_type="GZIP",
                                               num_epochs=2, shuffle=False,
                                               column_defaults=[0, 0.0, "", tf.int64])
    assert [b["d"] for b in _rows(ds)] == [[3000000000, 4, 5]] * 2
    ds = tf.data.experimental.make_csv_dataset(str(files / "*.csv"), batch_size=10, num_epochs=1,
                                               shuffle=False)
    assert _rows(ds)[0]["a"] == [1, 2, 3, 7]
    assert int(tf.data.experimental.make_csv_dataset(str(files / "t.csv"), batch_size=2).cardinality()) == -1
    with pytest.raises(ValueError, match=r"`label_name` provided must be one of the columns: "
                                         r"\['a', 'b', 'c', "
                                         r"'d'\]. Received: zz."):
        tf.data.experimental.make_csv_dataset(str(files / "t.csv"), batch_size=2, label_name="zz")
    with pytest.raises(ValueError, match="No files match `file_pattern`"):
        tf.data.experimental.make_csv_dataset(str(files / "none*.csv"), batch_size=2)


def test_csv_dataset(files):
    path = str(files / "t.csv")
    ds = tf.data.experimental.CsvDataset(path, [tf.int32, tf.float32, tf.string, tf.int64], header=True)
    assert [s.dtype.name for s in ds.element_spec] == ["int32", "float32", "string", "int64"]
    assert int(ds.cardinality()) == -2
    with pytest.raises(tf.errors.InvalidArgumentError, match="Field 1 is required but missing in record!"):
        list(ds)
    ds = tf.data.experimental.CsvDataset(path, [tf.int32, [0.0], ["dflt"], tf.int64], header=True)
    assert [[np.asarray(e.numpy()).item() for e in r] for r in ds] == \
        [[1, 2.5, b"x", 3000000000], [2, 0.0, b"y,z", 4], [3, 1000.0, b"dflt", 5]]
    ds = tf.data.experimental.CsvDataset([path, str(files / "u.csv")], [[0.0], [""]], header=True,
                                         select_cols=[1, 2])
    assert [[np.asarray(e.numpy()).item() for e in r] for r in ds] == \
        [[2.5, b"x"], [0.0, b"y,z"], [1000.0, b""], [0.5, b"q"]]
    assert isinstance(tf.data.experimental.CsvDataset(path, [tf.string]).element_spec, tuple)


def test_list_files_and_interleave(files):
    ds = tf.data.Dataset.list_files(str(files / "*.csv"), shuffle=False)
    assert ds.element_spec == tf.TensorSpec((), tf.string) and int(ds.cardinality()) == 2
    assert [f.numpy() for f in ds] == [str(files / n).encode() for n in ("t.csv", "u.csv")]
    both = tf.data.Dataset.list_files([str(files / "u*.csv"), str(files / "t*")], shuffle=False)
    assert [f.numpy() for f in both] == [str(files / n).encode() for n in ("t.csv", "t.csv.gz", "u.csv")]
    shuffled = tf.data.Dataset.list_files(str(files / "*.csv"))
    assert sorted(f.numpy() for f in shuffled) == [f.numpy() for f in ds]
    with pytest.raises(tf.errors.InvalidArgumentError, match="No files matched pattern"):
        tf.data.Dataset.list_files(str(files / "none*"))
    rows = shuffled.interleave(lambda f: tf.data.experimental.CsvDataset(f, [[""]] * 4, header=True),
                               cycle_length=2)
    assert sorted(r[0].numpy() for r in rows) == [b"1", b"2", b"3", b"7"]
    # one string per element: map gets one argument
    assert [len(p.numpy()) > 0 for p in ds.map(lambda path: path)] == [True, True]


def test_sample_from_datasets():
    a, b = tf.data.Dataset.range(3), tf.data.Dataset.range(10, 12)
    mixed = tf.data.Dataset.sample_from_datasets([a, b], weights=[0.5, 0.5], seed=0)
    assert sorted(int(x) for x in mixed) == [0, 1, 2, 10, 11]
    only_b = tf.data.Dataset.sample_from_datasets([a, b], weights=[0.0, 1.0])
    assert [int(x) for x in only_b] == [10, 11]
    assert int(tf.data.Dataset.sample_from_datasets([a.repeat(), b.repeat()]).cardinality()) == -1
    flat = tf.data.Dataset.range(3).flat_map(lambda x: tf.data.Dataset.range(x))
    assert [int(x) for x in flat] == [0, 0, 1]
