"""keras.datasets.mnist / fashion_mnist: Keras's .npz, IDX files (gzipped or not), damaged files, no network."""
import gzip
import os
import struct

import numpy as np
import pytest

from tapegrad.keras.datasets import _files, fashion_mnist, mnist

rng = np.random.default_rng(0)
X_TRAIN = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
Y_TRAIN = np.array([0, 1, 2, 3, 4, 9], np.uint8)
X_TEST = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
Y_TEST = np.array([5, 7], np.uint8)
PARTS = {"train-images-idx3-ubyte": X_TRAIN, "train-labels-idx1-ubyte": Y_TRAIN,
         "t10k-images-idx3-ubyte": X_TEST, "t10k-labels-idx1-ubyte": Y_TEST}


@pytest.fixture(autouse=True)
def no_keras_home(tmp_path, monkeypatch):
    """Keep the user's real ~/.keras out of every test."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


def _idx(array, code=0x08):
    return struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _write_idx(folder, gz, damage=None):
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in PARTS.items():
        data = _idx(array)
        if damage and stem == "train-images-idx3-ubyte":
            data = damage(data)
        if gz:
            with gzip.open(folder / (stem + ".gz"), "wb") as f:
                f.write(data)
        else:
            (folder / stem).write_bytes(data)
    return folder


def _assert_loaded(result):
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, X_TRAIN)
    np.testing.assert_array_equal(y_train, Y_TRAIN)
    np.testing.assert_array_equal(x_test, X_TEST)
    np.testing.assert_array_equal(y_test, Y_TEST)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8


def test_keras_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST, y_test=Y_TEST)
    _assert_loaded(mnist.load_data(path))


def test_default_npz_is_found_where_keras_keeps_it(tmp_path, monkeypatch):
    cache = tmp_path / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST, y_test=Y_TEST)
    monkeypatch.chdir(tmp_path)
    _assert_loaded(mnist.load_data())


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder(tmp_path, gz):
    _assert_loaded(mnist.load_data(_write_idx(tmp_path / "raw", gz)))


def test_fashion_mnist_default_folder(tmp_path, monkeypatch):
    _write_idx(tmp_path / "keras_home" / "datasets" / "fashion-mnist", gz=True)
    monkeypatch.chdir(tmp_path)
    _assert_loaded(fashion_mnist.load_data())


def test_idx_of_other_dtypes_is_native_order(tmp_path):
    path = tmp_path / "values-idx1-int"
    path.write_bytes(_idx(np.array([1, -2, 300], ">i4"), code=0x0C))
    values = _files.read_idx(path)
    assert values.tolist() == [1, -2, 300] and values.dtype == np.dtype("int32")


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:len(d) - 10], "holds fewer bytes"),
    (lambda d: d + b"\0", "holds more bytes"),
    (lambda d: d[:6], "truncated inside its header"),
    (lambda d: d[:2], "too short for a header"),
    (lambda d: b"\x01" + d[1:], "not an IDX file"),
    (lambda d: d[:2] + b"\x0a" + d[3:], "not an IDX file"),
    (lambda d: d[:3] + b"\x09" + d[4:], "declares 9 dimensions"),
    (lambda d: d[:4] + struct.pack(">I", 7) + d[8:], "declares shape"),
], ids=["truncated", "trailing", "short-dims", "short-magic", "magic", "dtype", "rank", "count"])
def test_damaged_idx_files(tmp_path, gz, damage, message):
    folder = _write_idx(tmp_path / "raw", gz, damage)
    with pytest.raises(_files.DatasetFileError, match=message):
        mnist.load_data(folder)


def test_truncated_gzip(tmp_path):
    folder = _write_idx(tmp_path / "raw", gz=True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(_files.DatasetFileError, match="truncated or corrupt"):
        mnist.load_data(folder)


def test_mismatched_counts_and_labels(tmp_path):
    folder = _write_idx(tmp_path / "raw", gz=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.array([1, 2, 3], np.uint8)))
    with pytest.raises(_files.DatasetFileError, match=r"shapes \(2, 28, 28\) and \(3,\)"):
        mnist.load_data(folder)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.array([1, 12], np.uint8)))
    with pytest.raises(_files.DatasetFileError, match="outside 0..9"):
        mnist.load_data(folder)


@pytest.mark.parametrize("write, message", [
    (lambda p: np.savez(p, x_train=X_TRAIN), r"lacks the arrays \['y_train', 'x_test', 'y_test'\]"),
    (lambda p: np.savez(p, x_train=np.array([{}], dtype=object), y_train=Y_TRAIN, x_test=X_TEST, y_test=Y_TEST),
     "corrupt or not an .npz"),  # a pickle is never loaded
    (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40), "corrupt or not an .npz"),
    (lambda p: p.write_bytes(b""), r"not a zip archive \(.npz\): it starts with b''"),
    (lambda p: p.write_bytes(b"\x93NUMPY" + b"\0" * 40), "not an .npz archive"),
], ids=["keys", "pickle", "zip", "empty", "npy"])
def test_bad_npz(tmp_path, write, message):
    path = tmp_path / "mnist.npz"
    write(path)
    with pytest.raises(_files.DatasetFileError, match=message):
        mnist.load_data(path)


def test_truncated_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST, y_test=Y_TEST)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(_files.DatasetFileError, match="truncated, corrupt"):
        mnist.load_data(path)


def test_no_file_says_where_to_put_which(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = os.path.join(str(tmp_path / "keras_home"), "datasets")
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "never downloads" in message and os.path.join(cache, "mnist.npz") in message
    assert "train-images-idx3-ubyte" in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz.*fashion-mnist"):
        fashion_mnist.load_data()
