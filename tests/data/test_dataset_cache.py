"""Dataset.cache: in memory and in a file; filled by a complete pass only, files safe and checked."""
from __future__ import annotations

import collections
import os
import warnings
import zipfile

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.data._cache import DataLossError
from tapegrad.errors import InvalidArgumentError

Dataset = tf.data.Dataset
Point = collections.namedtuple("Point", "x y")


def counted(n=5):
    """range(n) through a map that counts how often the input pipeline runs."""
    calls = []
    ds = Dataset.range(n).map(lambda x: calls.append(int(x)) or x)
    return ds, calls


def ints(ds):
    return [x.numpy().tolist() for x in ds]


def test_memory_cache_replays_the_first_complete_pass():
    ds, calls = counted()
    cached = ds.cache()
    assert ints(cached) == ints(cached) == [0, 1, 2, 3, 4]
    # the map ran for the one pass that filled the cache (plus none for element_spec: not asked)
    assert calls == [0, 1, 2, 3, 4]


def test_partial_pass_does_not_fill_the_cache():
    ds, calls = counted()
    cached = ds.cache()
    with pytest.warns(UserWarning, match="not read to the end"):
        assert ints(cached.take(2)) == [0, 1]
    assert ints(cached) == [0, 1, 2, 3, 4]
    assert calls == [0, 1, 0, 1, 2, 3, 4]  # the partial pass was discarded, the full one kept
    assert ints(cached) == [0, 1, 2, 3, 4] and len(calls) == 7


def test_cache_then_shuffle_reshuffles_without_rerunning_the_input():
    ds, calls = counted(20)
    shuffled = ds.cache().shuffle(20, seed=1)
    orders = [ints(shuffled) for _ in range(3)]
    assert len(calls) == 20
    assert all(sorted(order) == list(range(20)) for order in orders) and orders[0] != orders[1]


def test_shuffle_then_cache_freezes_one_order():
    ds = Dataset.range(20).shuffle(20).cache()
    assert ints(ds) == ints(ds)


def test_file_cache_round_trip_and_persistence(tmp_path):
    path = str(tmp_path / "train.cache")
    def gen():
        for i in range(5):
            yield np.arange(i, dtype=np.float32), {"word": "w" * i, "p": Point(i, -i)}
    ragged = Dataset.from_generator(
        gen, output_signature=(tf.data.TensorSpec((None,), tf.float32),
                          {"word": tf.data.TensorSpec((), tf.string),
                           "p": Point(tf.data.TensorSpec((), tf.int32), tf.data.TensorSpec((), tf.int32))}))
    expected = [(x.numpy().tolist(), e["word"].numpy(), tuple(e["p"])) for x, e in ragged]
    written = [(x.numpy().tolist(), e["word"].numpy(), tuple(e["p"])) for x, e in ragged.cache(path)]
    assert written == expected and os.path.exists(path)
    assert os.listdir(tmp_path) == ["train.cache"]  # the temporary file was renamed, none left over

    # a later run: the same pipeline shape, but different data; the file wins, as in TF
    changed = ragged.map(lambda x, e: (x * 100, e)).cache(path)
    read = list(changed)
    assert [x.numpy().tolist() for x, _ in read] == [x for x, _, _ in expected]
    assert type(read[2][1]["p"]) is Point and int(read[2][1]["p"].y) == -2
    assert read[3][1]["word"].dtype == tf.string and read[3][1]["word"].numpy() == b"www"

    # plain npz: NumPy reads it without pickles
    with np.load(path, allow_pickle=False) as archive:
        assert "meta" in archive.files


def test_file_cache_of_batches_with_a_smaller_last_batch(tmp_path):
    path = tmp_path / "batches"
    ds = Dataset.from_tensor_slices(np.arange(10.0).reshape(5, 2)).batch(2).cache(path)
    assert [b.shape for b in ds] == [(2, 2), (2, 2), (1, 2)]
    assert [b.numpy().tolist() for b in ds][-1] == [[8.0, 9.0]]
    assert len(ds) == 3


def test_file_cache_written_only_by_a_complete_pass(tmp_path):
    path = tmp_path / "partial"
    ds = Dataset.range(10).cache(str(path))
    with pytest.warns(UserWarning, match="not read to the end"):
        next(iter(ds))
    assert list(tmp_path.iterdir()) == []  # nothing written, temporary file removed
    it = iter(ds)  # an iterator never advanced creates nothing either
    del it
    assert list(tmp_path.iterdir()) == []
    assert ints(ds) == list(range(10)) and path.exists()


def test_empty_dataset_cache_file(tmp_path):
    path = tmp_path / "empty"
    assert ints(Dataset.range(0).cache(path)) == []
    assert ints(Dataset.range(0).cache(path)) == []


def test_pipeline_with_another_structure_is_refused(tmp_path):
    path = str(tmp_path / "c")
    list(Dataset.range(3).cache(path))
    with pytest.raises(InvalidArgumentError, match="delete it"):
        list(Dataset.range(3).map(lambda x: (x, x)).cache(path))
    with pytest.raises(InvalidArgumentError, match=r"float32\[rank 0\]"):
        list(Dataset.range(3).map(lambda x: tf.cast(x, tf.float32)).cache(path))


def corrupt_member(path, flip_at):
    """Flip a byte inside the stored data of the first chunk."""
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo("c0_0_data.npy").header_offset + flip_at
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0xFF]))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped byte", "foreign npz"])
def test_corrupt_cache_file_is_a_clear_error(tmp_path, damage):
    path = str(tmp_path / "c")
    list(Dataset.range(50).cache(path))
    if damage == "garbage":
        with open(path, "wb") as f:
            f.write(b"not a zip file at all")
    elif damage == "truncated":
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "flipped byte":
        corrupt_member(path, flip_at=200)
    else:
        np.savez(path + ".npz", x=np.arange(3))
        os.replace(path + ".npz", path)
    with pytest.raises(DataLossError, match="corrupt or was not written by tapegrad.*Delete it"):
        list(Dataset.range(50).cache(path))


def test_cache_ignores_a_look_at_element_spec():
    ds, _ = counted(3)
    cached = ds.cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a structure look is not a partial pass
        assert cached.element_spec == tf.data.TensorSpec((), tf.int64)
    assert ints(cached) == [0, 1, 2]
    assert ints(cached) == [0, 1, 2]
