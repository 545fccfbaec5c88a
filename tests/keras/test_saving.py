"""save_weights / load_weights: Keras 3's .weights.h5 layout, the .npz form, checks, atomic writes."""
import os
import warnings
import zipfile

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import saving

keras = tf.keras


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()
    yield


def _sequential():
    return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                             keras.layers.Dense(1)])


def _functional():
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(4,), name="b")
    shared = keras.layers.Dense(3, name="shared")
    merged = keras.layers.Add()([shared(a), shared(b)])
    return keras.Model([a, b], [keras.layers.Dense(2)(merged), keras.layers.Dense(1)(merged)])


class Block(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.inner = keras.layers.Dense(2)

    def call(self, x):
        return self.inner(x)


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.out = keras.layers.Dense(2)      # sorts after "layers": Keras files it under layers/
        self.a = keras.layers.Dense(3)
        self.block = Block()
        self.heads = [keras.layers.Dense(2), keras.layers.Dense(2)]
        self._private = keras.layers.Dense(3)
        self.scale = tf.Variable(2.0, name="scale")

    def call(self, x):
        h = self.block(self._private(self.a(x)))
        return self.out(self.heads[1](self.heads[0](h))) * self.scale


x4 = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)


def _built(kind):
    model = {"sequential": _sequential, "functional": _functional, "subclassed": Net}[kind]()
    if kind == "subclassed":
        model(x4)
    rng = np.random.default_rng(0)
    for v in model.weights:  # distinct values everywhere, positive where BatchNorm needs it
        v.assign(rng.uniform(0.5, 1.5, tuple(v.shape)).astype(np.float32))
    return model


def _run(model):
    out = model([x4, -x4]) if isinstance(model, keras.models.Functional) else model(x4)
    return [np.asarray(o) for o in (out if isinstance(out, list) else [out])]


def _round_trip(kind, filename, tmp_path):
    model = _built(kind)
    expected = _run(model)
    path = tmp_path / filename
    model.save_weights(path)
    saved = [w.copy() for w in model.get_weights()]
    for v in model.weights:
        v.assign(np.zeros(tuple(v.shape), np.float32))
    model.load_weights(path)
    for want, got in zip(saved, model.get_weights()):
        np.testing.assert_array_equal(got, want)
    for want, got in zip(expected, _run(model)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    return path


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_npz_round_trip(kind, tmp_path):
    _round_trip(kind, "model.npz", tmp_path)


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_weights_h5_round_trip(kind, tmp_path):
    pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    _round_trip(kind, "model.weights.h5", tmp_path)


def _expected_layout(model):
    """The groups Keras 3 writes for `Net`, spelled out by hand: path -> (name attr, arrays)."""
    w = {v.path: v.numpy() for v in model.weights}
    return {
        "vars": ("net", [w["scale"]]),
        "a/vars": ("dense_1", [w["dense_1/kernel"], w["dense_1/bias"]]),
        "block/vars": ("block", []),
        "block/inner/vars": ("dense_2", [w["dense_2/kernel"], w["dense_2/bias"]]),
        "heads/dense/vars": ("dense_3", [w["dense_3/kernel"], w["dense_3/bias"]]),
        "heads/dense_1/vars": ("dense_4", [w["dense_4/kernel"], w["dense_4/bias"]]),
        # `model.layers` sorts before "out" and "_private": they are filed under it, named by their
        # place in that list (out, a, block, heads[0], heads[1], _private)
        "layers/dense/vars": ("dense", [w["dense/kernel"], w["dense/bias"]]),
        "layers/dense_4/vars": ("dense_5", [w["dense_5/kernel"], w["dense_5/bias"]]),
    }


def test_weights_h5_has_keras_3_layout(tmp_path):
    h5py = pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    model = _built("subclassed")
    model.save_weights(tmp_path / "net.weights.h5")
    expected = _expected_layout(model)
    found = {}
    with h5py.File(tmp_path / "net.weights.h5", "r") as f:
        assert dict(f.attrs) == {}
        def collect(name, obj):
            if name.endswith("vars"):
                found[name] = obj.attrs.get("name")
        f.visititems(collect)
        assert found == {path: name for path, (name, _) in expected.items()}
        for path, (_, arrays) in expected.items():
            assert sorted(f[path].keys()) == [str(i) for i in range(len(arrays))]
            for i, array in enumerate(arrays):
                assert f[path][str(i)].dtype == np.float32
                np.testing.assert_array_equal(f[path][str(i)][()], array)


def test_load_a_keras_layout_file_built_by_hand(tmp_path):
    """A file written the way Keras 3 writes it (here with h5py directly) loads into the same model."""
    h5py = pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    source = _built("subclassed")
    target = Net()
    target(x4)
    path = tmp_path / "keras.weights.h5"
    with h5py.File(path, "w") as f:
        for group, (name, arrays) in _expected_layout(source).items():
            g = f.create_group(group)
            g.attrs["name"] = name
            for i, array in enumerate(arrays):
                g[str(i)] = array
    target.load_weights(path)
    np.testing.assert_allclose(_run(target)[0], _run(source)[0], rtol=1e-6)


def test_legacy_layer_checkpoint_dependencies_path(tmp_path):
    h5py = pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    path = tmp_path / "old.weights.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("_layer_checkpoint_dependencies/dense/vars")
        g["0"], g["1"] = np.full((2, 1), 3.0, np.float32), np.array([1.0], np.float32)
    model.load_weights(path)
    np.testing.assert_allclose(model(np.ones((1, 2))).numpy(), [[7.0]])


def test_npz_keys_are_the_h5_paths(tmp_path):
    model = _built("sequential")
    model.save_weights(tmp_path / "s.npz")
    arrays = saving.read_weights(tmp_path / "s.npz")
    assert sorted(arrays) == ["layers/batch_normalization/vars/0", "layers/batch_normalization/vars/1",
                              "layers/batch_normalization/vars/2", "layers/batch_normalization/vars/3",
                              "layers/dense/vars/0", "layers/dense/vars/1",
                              "layers/dense_1/vars/0", "layers/dense_1/vars/1"]
    np.testing.assert_array_equal(arrays["layers/dense_1/vars/0"], model.layers[2].kernel.numpy())


def test_filename_and_build_errors(tmp_path):
    model = _built("sequential")
    with pytest.raises(ValueError, match=r"^The filename must end in `.weights.h5`. Received: filepath=.*w\.h5"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="File format not supported"):
        model.load_weights(tmp_path / "w.pickle")
    with pytest.raises(ValueError, match="You are saving a model that has not yet been built. Try building"):
        Net().save_weights(tmp_path / "n.npz")
    model.save_weights(tmp_path / "s.npz")
    with pytest.raises(ValueError, match="You are loading weights into a model that has not yet been built"):
        Net().load_weights(tmp_path / "s.npz")
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.npz")
    with pytest.raises(FileExistsError):
        model.save_weights(tmp_path / "s.npz", overwrite=False)


def test_mismatched_architecture_is_named_and_nothing_is_assigned(tmp_path):
    small = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    small.save_weights(tmp_path / "small.npz")
    wide = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(5), keras.layers.Dense(1)])
    before = wide.get_weights()
    with pytest.raises(ValueError) as info:
        wide.load_weights(tmp_path / "small.npz")
    message = str(info.value)
    assert "A total of 2 objects could not be loaded" in message
    assert "Shape mismatch for variable 'dense_2/kernel': the model's weight has shape (4, 5)" in message
    assert "has shape (4, 3)" in message
    for want, got in zip(before, wide.get_weights()):
        np.testing.assert_array_equal(got, want)  # all or nothing

    with pytest.warns(UserWarning, match="could not be loaded"):
        wide.load_weights(tmp_path / "small.npz", skip_mismatch=True)
    np.testing.assert_array_equal(wide.get_weights()[0], before[0])  # the mismatched layer is kept

    deeper = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Dense(1),
                               keras.layers.Dense(1, name="extra")])
    with pytest.raises(ValueError, match=r"Layer 'extra' expected 2 variables, but received 0 variables during "
                                         r"loading \(from 'layers/dense_2/vars'\)"):
        deeper.load_weights(tmp_path / "small.npz")


def test_skip_mismatch_loads_what_matches(tmp_path):
    a = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    a.save_weights(tmp_path / "a.npz")
    b = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b.load_weights(tmp_path / "a.npz", skip_mismatch=True)
    assert len(caught) == 1
    np.testing.assert_array_equal(b.layers[0].kernel.numpy(), a.layers[0].kernel.numpy())


def _saved(tmp_path, name="w.npz"):
    model = _built("sequential")
    model.save_weights(tmp_path / name)
    return model, tmp_path / name


def test_truncated_and_corrupt_npz(tmp_path):
    model, path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        model.load_weights(path)
    corrupt = bytearray(data)
    start = data.index(b"\x93NUMPY", data.index(b"layers/dense/vars/0"))
    corrupt[start + 200:start + 210] = b"\xff" * 10  # inside an array's data: the CRC no longer matches
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        model.load_weights(path)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        model.load_weights(path)


def test_npz_that_is_not_a_weights_file(tmp_path):
    model, _ = _saved(tmp_path)
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="Not a tapegrad weights file"):
        model.load_weights(tmp_path / "plain.npz")
    with open(tmp_path / "lone.npz", "wb") as f:      # a .npy array under an .npz name
        np.save(f, np.ones(3))
    with pytest.raises(ValueError, match=r"lone\.npz' holds one NumPy array \(\.npy\), not an \.npz archive"):
        model.load_weights(tmp_path / "lone.npz")
    # an object array needs pickle: it is refused, never unpickled
    arrays = saving.read_weights(tmp_path / "w.npz")
    header = np.load(tmp_path / "w.npz")["__tapegrad_weights__"]
    arrays["layers/dense/vars/0"] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "pickled.npz", __tapegrad_weights__=header, **arrays)
    with pytest.raises(ValueError, match="truncated or corrupt|not numbers"):
        model.load_weights(tmp_path / "pickled.npz")
    arrays["layers/dense/vars/0"] = np.zeros((4, 3), np.float32)
    del arrays["layers/dense/vars/1"]
    np.savez(tmp_path / "short.npz", __tapegrad_weights__=header, **arrays)
    with pytest.raises(ValueError, match=r"missing arrays \['layers/dense/vars/1'\]"):
        model.load_weights(tmp_path / "short.npz")


def test_npz_entry_larger_than_its_weight_is_refused_before_reading(tmp_path):
    model, path = _saved(tmp_path)
    arrays = saving.read_weights(path)
    header = np.load(path)["__tapegrad_weights__"]
    arrays["layers/dense/vars/0"] = np.zeros((4000, 3), np.float32)
    np.savez(tmp_path / "big.npz", __tapegrad_weights__=header, **arrays)
    with pytest.raises(ValueError, match="more than the model's weight of shape"):
        model.load_weights(tmp_path / "big.npz")


def test_truncated_h5_and_soft_links(tmp_path):
    h5py = pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    model, path = _saved(tmp_path, "w.weights.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        model.load_weights(path)
    linked = tmp_path / "linked.weights.h5"
    model.save_weights(linked)
    with h5py.File(linked, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.SoftLink("/layers/dense_1/vars/0")
    with pytest.raises(ValueError, match="SHA-256 checksum does not match"):
        model.load_weights(linked)  # the edit broke tapegrad's seal
    with open(linked, "r+b") as f:
        f.write(bytes(64))  # no seal: a file from Keras, or a crafted one, is still checked for links
    with pytest.raises(ValueError, match="SoftLink"):
        model.load_weights(linked)


def test_keras_archive_weights_are_read(tmp_path):
    pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    model, path = _saved(tmp_path, "w.weights.h5")
    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("config.json", "{}")
        z.write(path, "model.weights.h5")
    expected = model.get_weights()
    for v in model.weights:
        v.assign(np.zeros(tuple(v.shape), np.float32))
    model.load_weights(archive)
    for want, got in zip(expected, model.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("filename", ["w.npz", "w.weights.h5"])
def test_failed_write_leaves_the_previous_file(filename, tmp_path, monkeypatch):
    if filename.endswith(".h5"):
        pytest.importorskip("h5py", reason="the .weights.h5 format needs the optional h5py (tapegrad[h5])")
    model, path = _saved(tmp_path, filename)
    before = path.read_bytes()
    for v in model.weights:
        v.assign(np.zeros(tuple(v.shape), np.float32))

    def fail_half_way(f, entries, *args):
        f.write(b"partial data")  # what a crash mid-write leaves in the file being written
        raise OSError("disk full")

    if filename.endswith(".npz"):
        monkeypatch.setattr(saving, "_write_npz", fail_half_way)
    else:
        monkeypatch.setattr(saving, "_write_h5", lambda h5py, f, entries: fail_half_way(f, entries))
    with pytest.raises(OSError, match="disk full"):
        model.save_weights(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [filename]  # the temporary file is gone too


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    saving.atomic_write(str(path), lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new" and (os.stat(path).st_mode & 0o777) == 0o640


def test_optimizer_and_metric_attributes_are_saved(tmp_path):
    class Trainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)

        def call(self, x):
            return self.dense(x)

    model = Trainer()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x4))
    model.optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                        model.trainable_variables))
    model.loss_tracker.update_state(3.0)
    model.save_weights(tmp_path / "t.npz")
    paths = {path.rsplit("/vars/", 1)[0] for path in saving.read_weights(tmp_path / "t.npz")}
    assert {"dense", "loss_tracker", "optimizer"} <= paths
    other = Trainer()
    other(x4)
    other.optimizer.build(other.trainable_variables)
    other.load_weights(tmp_path / "t.npz")
    assert int(other.optimizer.iterations) == 1 and float(other.loss_tracker.result()) == 3.0
