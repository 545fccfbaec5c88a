"""tf.train.CheckpointManager: rotation, the index, recovery after crashes, falling back past damage."""
import os
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.train import CheckpointCorruptError


def _manager(directory, max_to_keep=3, **kwargs):
    step = tf.Variable(0, dtype=tf.int64)
    return step, tf.train.CheckpointManager(tf.train.Checkpoint(step=step), directory, max_to_keep=max_to_keep,
                                            **kwargs)


def _saves(directory, count, max_to_keep=3):
    step, manager = _manager(directory, max_to_keep)
    for _ in range(count):
        step.assign_add(1)
        manager.save()
    return manager


def _names(paths):
    return [os.path.basename(p) for p in paths]


def test_keeps_the_newest_and_deletes_the_rest(tmp_path):
    manager = _saves(tmp_path, 5)
    assert _names(manager.checkpoints) == ["ckpt-3", "ckpt-4", "ckpt-5"]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-3.npz", "ckpt-4.npz", "ckpt-5.npz"]
    assert manager.latest_checkpoint == tf.train.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-5")


def test_index_is_tensorflows_text_format(tmp_path):
    _saves(tmp_path, 2)
    assert (tmp_path / "checkpoint").read_text() == ('model_checkpoint_path: "ckpt-2"\n'
                                                     'all_model_checkpoint_paths: "ckpt-1"\n'
                                                     'all_model_checkpoint_paths: "ckpt-2"\n')


def test_keep_all_and_names(tmp_path):
    _, manager = _manager(tmp_path, max_to_keep=None, checkpoint_name="model")
    for number in (10, 20, 30, 40, 50, 60):
        manager.save(checkpoint_number=number)
    assert _names(manager.checkpoints) == ["model-10", "model-20", "model-30", "model-40", "model-50", "model-60"]
    with pytest.raises(ValueError, match="max_to_keep"):
        _manager(tmp_path, max_to_keep=0)
    with pytest.raises(ValueError, match="checkpoint_name"):
        _manager(tmp_path, checkpoint_name="checkpoint")


def test_a_new_manager_continues_the_folder(tmp_path):
    _saves(tmp_path, 4)
    step, manager = _manager(tmp_path)
    assert _names(manager.checkpoints) == ["ckpt-2", "ckpt-3", "ckpt-4"]
    assert _names([manager.restore_or_initialize()]) == ["ckpt-4"] and int(step) == 4
    step.assign_add(1)
    manager.save()  # save_counter was restored: the numbering goes on
    assert _names(manager.checkpoints) == ["ckpt-3", "ckpt-4", "ckpt-5"]


def test_restore_or_initialize_without_checkpoints(tmp_path):
    calls = []
    _, manager = _manager(tmp_path, init_fn=lambda: calls.append(1))
    assert manager.restore_or_initialize() is None and calls == [1]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "empty"])
def test_falls_back_to_the_newest_intact_checkpoint(tmp_path, damage):
    _saves(tmp_path, 3)
    newest = tmp_path / "ckpt-3.npz"
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[:len(data) // 2])
    elif damage == "flip":
        newest.write_bytes(data[:200] + bytes([data[200] ^ 1]) + data[201:])
    elif damage == "delete":
        newest.unlink()
    else:
        newest.write_bytes(b"")
    step, manager = _manager(tmp_path)
    if damage == "delete":  # gone is gone: the index entry is dropped when the folder is read
        assert _names([manager.restore_or_initialize()]) == ["ckpt-2"]
    else:
        with pytest.warns(UserWarning, match=r"Skipped checkpoint '.*ckpt-3'.*corrupt or incomplete"):
            assert _names([manager.restore_or_initialize()]) == ["ckpt-2"]
    assert int(step) == 2


def test_no_intact_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    _saves(tmp_path, 2)
    for name in ("ckpt-1.npz", "ckpt-2.npz"):
        (tmp_path / name).write_bytes(b"PK\x03\x04garbage")
    _, manager = _manager(tmp_path)
    with pytest.warns(UserWarning), pytest.raises(CheckpointCorruptError, match="No intact checkpoint"):
        manager.restore_or_initialize()


def test_adopts_a_checkpoint_written_before_a_crash_updated_the_index(tmp_path):
    _saves(tmp_path, 3)
    index = (tmp_path / "checkpoint").read_text()
    _saves(tmp_path / "later", 4)
    os.replace(tmp_path / "later" / "ckpt-4.npz", tmp_path / "ckpt-4.npz")
    (tmp_path / "checkpoint").write_text(index)  # as if killed after the data file, before the index
    step, manager = _manager(tmp_path)
    assert _names(manager.checkpoints) == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"][-4:]
    assert _names([manager.restore_or_initialize()]) == ["ckpt-4"] and int(step) == 4
    step.assign_add(1)
    manager.save()
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-3.npz", "ckpt-4.npz", "ckpt-5.npz", "later"]


def test_leftovers_of_a_killed_writer(tmp_path):
    _saves(tmp_path, 2)
    (tmp_path / ".ckpt-3.npz.0123456789ab.tmp").write_bytes(b"half")
    (tmp_path / ".checkpoint.0123456789ab.tmp").write_bytes(b"half")
    (tmp_path / "ckpt-0.npz").write_bytes((tmp_path / "ckpt-1.npz").read_bytes())  # not deleted yet
    (tmp_path / "notes.txt").write_text("mine")
    _, manager = _manager(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-0.npz", "ckpt-1.npz", "ckpt-2.npz", "notes.txt"]
    assert _names(manager.checkpoints) == ["ckpt-0", "ckpt-1", "ckpt-2"]
    manager.save(checkpoint_number=3)  # the stale one goes first
    assert _names(manager.checkpoints) == ["ckpt-1", "ckpt-2", "ckpt-3"]


def test_a_broken_index_is_ignored_with_a_warning(tmp_path):
    _saves(tmp_path, 2)
    (tmp_path / "checkpoint").write_bytes(b"\xff\xfe garbage")
    assert tf.train.latest_checkpoint(tmp_path) is None
    with pytest.warns(UserWarning, match="Ignoring the checkpoint index"):
        _, manager = _manager(tmp_path)
    assert _names(manager.checkpoints) == ["ckpt-1", "ckpt-2"]


def test_unwritable_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="Cannot write checkpoints to .*file/sub"):
        _manager(blocker / "sub")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_read_only_folder_fails_before_training(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OSError, match="Cannot write checkpoints"):
            _manager(tmp_path)
    finally:
        tmp_path.chmod(0o700)


def test_checkpoint_number_from_a_variable(tmp_path):
    step, manager = _manager(tmp_path)
    step.assign(1000)
    assert _names([manager.save(checkpoint_number=step)]) == ["ckpt-1000"]
    with pytest.raises(ValueError, match="integer"):
        manager.save(checkpoint_number=1.5)
    assert int(manager._checkpoint.save_counter) == 1  # the failed save did not count


def test_restored_values(tmp_path):
    w = tf.Variable(np.zeros(3, "float32"))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(w=w), tmp_path)
    w.assign([1.0, 2.0, 3.0])
    manager.save()
    w.assign([0.0, 0.0, 0.0])
    tf.train.CheckpointManager(tf.train.Checkpoint(w=w), tmp_path).restore_or_initialize()
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0, 3.0])
