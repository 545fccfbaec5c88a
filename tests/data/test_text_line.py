"""tf.data.TextLineDataset against the lines TF 2.21 reads (recorded): endings dropped, GZIP, interleaving."""

import gzip

import pytest

import tapegrad as tf


def _files(tmp_path):
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt.gz", tmp_path / "c.txt"
    a.write_bytes(b"one\r\ntwo\n\nthree")
    with gzip.open(b, "wb") as f:
        f.write(b"x\ny\n")
    c.write_bytes(b"c1\nc2\nc3\n")
    return str(a), str(b), str(c)


def test_lines_as_tf_reads_them(tmp_path):
    a, b, c = _files(tmp_path)
    assert list(tf.data.TextLineDataset(a).as_numpy_iterator()) == [b"one", b"two", b"", b"three"]
    assert list(tf.data.TextLineDataset(b, compression_type="GZIP").as_numpy_iterator()) == [b"x", b"y"]
    assert list(tf.data.TextLineDataset([a, c], num_parallel_reads=2).as_numpy_iterator()) == [
        b"one",
        b"c1",
        b"two",
        b"c2",
        b"",
        b"c3",
        b"three",
    ]
    assert list(tf.data.TextLineDataset(tf.constant([c, c])).as_numpy_iterator()) == [b"c1", b"c2", b"c3"] * 2
    ds = tf.data.TextLineDataset(a)
    assert ds.element_spec == tf.data.TensorSpec((), tf.string) and int(ds.cardinality()) == -2
    batches = list(ds.map(tf.strings.upper).batch(2).as_numpy_iterator())
    assert [b.tolist() for b in batches] == [[b"ONE", b"TWO"], [b"", b"THREE"]]


def test_missing_file(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="No such file"):
        list(tf.data.TextLineDataset(str(tmp_path / "none.txt")))
