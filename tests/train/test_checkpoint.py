"""tf.train.Checkpoint: what it saves, how a restore is checked, and what a damaged file does."""
import io
import json
import os
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.train import CheckpointCorruptError, _format


class Net(tf.keras.Model):
    def __init__(self, hidden=4):
        super().__init__()
        self.d1 = tf.keras.layers.Dense(hidden, activation="relu")
        self.d2 = tf.keras.layers.Dense(3)

    def call(self, x):
        return self.d2(self.d1(x))


def _trained(hidden=4, steps=2):
    """A built net, an Adam with slots and moments, a metric with state: all state a run has."""
    net, opt, metric = Net(hidden), tf.keras.optimizers.Adam(0.01), tf.keras.metrics.Mean()
    x = np.linspace(-1, 1, 10, dtype="float32").reshape(5, 2)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(net(x) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        metric(loss)
    return net, opt, metric


def _state(*objects):
    return [np.array(v.numpy()) for obj in objects for v in (obj.variables if hasattr(obj, "variables") else [obj])]


def test_round_trip_of_model_optimizer_metric_and_step(tmp_path):
    net, opt, metric = _trained()
    step = tf.Variable(7, dtype=tf.int64)
    path = tf.train.Checkpoint(model=net, optimizer=opt, loss=metric, step=step).save(tmp_path / "ckpt")
    assert path == str(tmp_path / "ckpt-1") and os.path.isfile(path + ".npz")

    fresh_net, fresh_opt, fresh_metric = _trained(steps=0)
    fresh_net(np.zeros((1, 2), "float32"))
    fresh_opt.build(fresh_net.trainable_variables)
    fresh_step = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(model=fresh_net, optimizer=fresh_opt, loss=fresh_metric, step=fresh_step)
    ckpt.restore(path).assert_consumed()
    for a, b in zip(_state(net, opt, metric, step), _state(fresh_net, fresh_opt, fresh_metric, fresh_step)):
        np.testing.assert_array_equal(a, b)
    assert int(ckpt.save_counter) == 1


def test_entries_are_named_by_object_graph_path(tmp_path):
    net, opt, _ = _trained()
    path = tf.train.Checkpoint(model=net, optimizer=opt).write(tmp_path / "c")
    names = dict(tf.train.list_variables(path))
    assert names["model/d1/vars/0"] == [2, 4] and names["model/d2/vars/1"] == [3]
    assert names["optimizer/vars/0"] == []  # the iteration counter
    assert len([n for n in names if n.startswith("optimizer/")]) == len(opt.variables)
    np.testing.assert_array_equal(tf.train.load_variable(path, "model/d1/vars/0"), net.d1.kernel.numpy())


def test_save_numbers_and_index(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    paths = [ckpt.save(tmp_path / "run") for _ in range(3)]
    assert [os.path.basename(p) for p in paths] == ["run-1", "run-2", "run-3"]
    assert tf.train.latest_checkpoint(tmp_path) == paths[-1]
    write_only = ckpt.write(tmp_path / "other")  # write() neither counts nor updates the index
    assert int(ckpt.save_counter) == 3 and tf.train.latest_checkpoint(tmp_path) == paths[-1]
    assert write_only == str(tmp_path / "other")


def test_read_leaves_save_counter(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    path = ckpt.save(tmp_path / "c")
    other = tf.train.Checkpoint(v=tf.Variable(0.0))
    other.read(path).assert_consumed()
    assert int(other.save_counter) == 0 and float(other.v) == 1.0


def test_restore_none_is_a_fresh_start():
    status = tf.train.Checkpoint(v=tf.Variable(1.0)).restore(None)
    with pytest.raises(AssertionError, match="No checkpoint specified"):
        status.assert_consumed()


def test_partial_matches_are_reported(tmp_path):
    path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).write(tmp_path / "c")
    status = tf.train.Checkpoint(a=tf.Variable(0.0), c=tf.Variable(3.0)).restore(path)
    assert status.unused == ["b"] and status.unmatched == ["c"]
    with pytest.raises(AssertionError, match=r"holds no values for \['c'\]"):
        status.assert_existing_objects_matched()
    assert status.expect_partial() is status


def test_other_architecture_names_path_and_shapes(tmp_path):
    net, _, _ = _trained(hidden=4)
    path = tf.train.Checkpoint(model=net).write(tmp_path / "c")
    wide = Net(hidden=5)
    wide(np.zeros((1, 2), "float32"))
    before = _state(wide)
    with pytest.raises(ValueError, match=r"'model/d1/vars/0'.*holds shape \(2, 4\).*has shape \(2, 5\)"):
        tf.train.Checkpoint(model=wide).restore(path)
    for a, b in zip(before, _state(wide)):  # nothing assigned
        np.testing.assert_array_equal(a, b)


def test_other_dtype_is_refused(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(tmp_path / "c")
    with pytest.raises(ValueError, match=r"'v'.*dtype float32.*dtype float64"):
        tf.train.Checkpoint(v=tf.Variable([1.0, 2.0], dtype=tf.float64)).restore(path)


def test_unbuilt_objects_say_how_to_build_them(tmp_path):
    net, opt, _ = _trained()
    path = tf.train.Checkpoint(model=net, optimizer=opt).write(tmp_path / "c")
    with pytest.raises(ValueError, match=r"'model/d1'.*not built.*call the model on a batch"):
        tf.train.Checkpoint(model=Net()).restore(path)
    built = Net()
    built(np.zeros((1, 2), "float32"))
    with pytest.raises(ValueError, match=r"'optimizer'.*not built.*optimizer.build\(model.trainable_variables\)"):
        tf.train.Checkpoint(model=built, optimizer=tf.keras.optimizers.Adam()).restore(path)


def test_what_can_be_checkpointed():
    with pytest.raises(TypeError, match="wrap a number in tf.Variable"):
        tf.train.Checkpoint(step=3)
    with pytest.raises(ValueError, match="reserved"):
        tf.train.Checkpoint(save_counter=tf.Variable(1))
    with pytest.raises(ValueError, match="reserved"):
        tf.train.Checkpoint(restore=tf.Variable(1))


def test_random_state_is_restored(tmp_path):
    tf.keras.utils.set_random_seed(3)
    tf.random.uniform([2])  # a stream in use
    ckpt = tf.train.Checkpoint(v=tf.Variable(0.0))
    path = ckpt.write(tmp_path / "c")

    def draws():
        return (tf.random.uniform([3]).numpy().tolist(), tf.random.uniform([2], seed=5).numpy().tolist(),
                np.random.rand(2).tolist(), random.random())
    expected = draws()
    tf.keras.utils.set_random_seed(99)
    draws()
    ckpt.restore(path)
    assert draws() == expected


def test_dataset_shuffle_continues_after_restore(tmp_path):
    def pipeline():
        tf.random.set_seed(11)
        return tf.data.Dataset.range(20).shuffle(20).batch(5)

    def epoch(ds):
        return [b.numpy().tolist() for b in ds]
    ds = pipeline()
    epoch(ds)
    path = tf.train.Checkpoint(data=ds).write(tmp_path / "c")
    expected = [epoch(ds), epoch(ds)]
    resumed = pipeline()
    tf.train.Checkpoint(data=resumed).restore(path).assert_consumed()
    assert [epoch(resumed), epoch(resumed)] == expected
    assert epoch(pipeline()) != expected[0]  # without the restore: the first epoch's order again


# -- damaged files ------------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    ckpt = tf.train.Checkpoint(w=tf.Variable(np.arange(1000, dtype="float32")), step=tf.Variable(5))
    return ckpt.write(tmp_path / "c") + ".npz"


def _restore_fresh(path):
    """Restore into fresh variables, which a failed restore must leave as they were."""
    w, step = tf.Variable(np.zeros(1000, "float32")), tf.Variable(0)
    try:
        tf.train.Checkpoint(w=w, step=step).restore(path)
    except Exception:
        assert not w.numpy().any() and int(step) == 0
        raise


@pytest.mark.parametrize("keep", [0, 1, 30, 200, 2000, -300, -22, -1])
def test_truncated_files_are_refused(saved, keep):
    data = Path(saved).read_bytes()
    with open(saved, "wb") as f:
        f.write(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(CheckpointCorruptError, match="corrupt or incomplete"):
        _restore_fresh(saved)


def test_every_flipped_region_is_detected(saved):
    data = bytearray(Path(saved).read_bytes())
    for offset in range(0, len(data), max(1, len(data) // 40)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x5A
        with open(saved, "wb") as f:
            f.write(damaged)
        with pytest.raises(CheckpointCorruptError):
            _restore_fresh(saved)


def _rewrite(path, replace):
    """Rewrite a checkpoint's zip with some members replaced, so zip CRCs stay valid."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members.update(replace(members))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_checksum_catches_consistent_tampering(saved):
    _rewrite(saved, lambda m: {"w.npy": _npy(np.ones(1000, "float32"))})
    with pytest.raises(tf.errors.DataLossError, match="checksum does not match"):
        _restore_fresh(saved)


@pytest.mark.parametrize("shape, message", [([10], r"header says float32\[10\]"), ([], "'w' is larger than expected")])
def test_header_bounds_are_checked(saved, shape, message):
    def smaller(members):
        header = json.loads(str(np.load(io.BytesIO(members["__header__.npy"]))[()]))
        header["entries"]["w"]["shape"] = shape
        return {"__header__.npy": _npy(np.array(json.dumps(header)))}
    _rewrite(saved, smaller)
    with pytest.raises(CheckpointCorruptError, match=message):
        _restore_fresh(saved)


def test_missing_entry_is_refused(saved):
    _rewrite(saved, lambda m: {})
    with zipfile.ZipFile(saved) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n != "step.npy"}
    with zipfile.ZipFile(saved, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(CheckpointCorruptError, match="header and its entries differ"):
        _restore_fresh(saved)


def test_pickles_are_never_loaded(saved):
    np.savez(saved, __header__=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(CheckpointCorruptError):
        _restore_fresh(saved)


def test_other_files_are_refused(saved):
    np.save(saved, np.zeros(3))
    os.replace(saved + ".npy", saved)
    with pytest.raises(CheckpointCorruptError, match="not a zip archive"):
        _restore_fresh(saved)
    with open(saved, "w") as f:
        f.write("not a checkpoint")
    with pytest.raises(CheckpointCorruptError, match="not a zip archive") as info:
        _restore_fresh(saved)
    assert "pickle" not in str(info.value)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="No checkpoint at"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).restore(tmp_path / "nothing-1")


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    path = ckpt.write(tmp_path / "c")
    real, calls = np.lib.format.write_array, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(*args, **kwargs)
    monkeypatch.setattr(np.lib.format, "write_array", failing)
    v.assign(2.0)
    with pytest.raises(OSError, match="No space"):
        ckpt.write(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.npz"]  # the old file, and no temporary one
    tf.train.Checkpoint(v=v).restore(path).assert_consumed()
    assert float(v) == 1.0
    with pytest.raises(TypeError, match="only numbers"):
        _format.write(path, {"v": np.array(["text"])}, {})
