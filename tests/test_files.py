"""Damaged files: every single-bit flip, truncation and zeroed range of the files tapegrad writes
either reads back exactly what was written or raises the format's documented error naming the file
(never a decoder's raw error, never wrong values); killed writers leave nothing behind."""
import collections
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _files
from tapegrad.keras.saving import WeightsFileError, read_weights, walk
from tapegrad.train import CheckpointCorruptError


def _model():
    tf.random.set_seed(1)
    return tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2, name="d1")])


def _damages(data: bytes, bits=None, zero_width=16):
    """(kind, damaged bytes): every flip of the bits in `bits` (default: all); truncation at every
    byte those bits are in and every 64th; every aligned range of `zero_width` bytes that is not zero
    already, set to zero."""
    bits = range(len(data) * 8) if bits is None else bits
    for bit in bits:
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        yield "flip", bytes(damaged)
    for length in sorted({bit // 8 for bit in bits} | set(range(0, len(data), 64))):
        yield "truncate", data[:length]
    for start in range(0, len(data), zero_width):
        window = data[start:start + zero_width]
        if any(window):
            yield "zero", data[:start] + bytes(len(window)) + data[start + len(window):]


def _sweep(path, data, load, expected, error, bits=None):
    """Write each damage of `data` to `path` and load it (a list of arrays); returns the outcome
    counts."""
    outcomes = collections.Counter()
    for kind, damaged in _damages(data, bits):
        with open(path, "wb") as f:
            f.write(damaged)
        try:
            got = load()
        except error as e:
            assert os.fspath(path) in str(e), f"{kind}: the error does not name the file: {e}"
            outcomes[kind, "documented error"] += 1
            continue
        # whatever else is raised fails the test with the decoder's own error
        assert len(got) == len(expected) and all(
            g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w) for g, w in zip(got, expected)), \
            f"{kind}: a damaged file loaded different weights"
        outcomes[kind, "exact"] += 1
    return outcomes


def _weights_sweep(tmp_path, name):
    model = _model()
    path = tmp_path / name
    model.save_weights(path)
    expected = [v.numpy() for _, _, variables in walk(model) for v in variables]
    fresh = _model()
    fresh.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), model.get_weights()))
    saved = path.read_bytes()

    def load():  # what load_weights reads, without matching it to a model 200,000 times
        return list(read_weights(path).values())
    outcomes = _sweep(path, saved, load, expected, WeightsFileError)
    # and load_weights itself gives the documented error, changing no weight
    damaged = bytearray(saved)
    damaged[len(saved) // 2] ^= 0x10
    path.write_bytes(bytes(damaged))
    with pytest.raises(tf.errors.DataLossError, match="truncated or corrupt"):
        fresh.load_weights(path)
    return outcomes, saved


def test_every_damage_of_a_weights_h5_file_is_caught_or_harmless(tmp_path):
    pytest.importorskip("h5py", reason="the .weights.h5 format needs h5py")
    outcomes, saved = _weights_sweep(tmp_path, "m.weights.h5")
    # every flip after the user block's seal is caught before h5py reads the file
    assert outcomes["flip", "documented error"] >= 8 * (len(saved) - _files.USER_BLOCK)


def test_every_damage_of_a_weights_npz_file_is_caught_or_harmless(tmp_path):
    outcomes, _ = _weights_sweep(tmp_path, "m.npz")
    assert outcomes["flip", "documented error"] > 0


def _member_header_bits(data: bytes) -> list:
    """The bits of every zip header and every .npy header in an .npz file (what a flip must not
    turn into a tokenizer or syntax error)."""
    bits, at = [], 0
    while (at := data.find(b"\x93NUMPY", at)) >= 0:
        header_end = data.index(b"\n", at) + 1
        zip_header = data.rfind(b"PK\x03\x04", 0, at)
        bits += range(zip_header * 8, header_end * 8)
        at = header_end
    central = data.find(b"PK\x01\x02")
    bits += range(central * 8, len(data) * 8)
    return bits


def test_every_damage_of_a_checkpoints_headers_is_caught_or_harmless(tmp_path):
    checkpoint = tf.train.Checkpoint(model=_model(), step=tf.Variable(3, dtype=tf.int64))
    prefix = checkpoint.write(str(tmp_path / "ckpt"))
    path = tmp_path / "ckpt.npz"
    data = path.read_bytes()
    from tapegrad.train import _format
    arrays, _ = _format.read(prefix)
    expected = list(arrays.values())

    def load():
        return list(_format.read(prefix)[0].values())
    outcomes = _sweep(path, data, load, expected, CheckpointCorruptError, bits=_member_header_bits(data))
    assert outcomes["truncate", "exact"] == 0
    assert outcomes["flip", "documented error"] > 0


def test_a_damaged_newest_checkpoint_falls_back_to_the_older_one(tmp_path):
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), tmp_path, max_to_keep=3)
    step.assign(1)
    manager.save()
    step.assign(2)
    newest = manager.save()
    data = bytearray(open(newest + ".npz", "rb").read())
    data[data.index(b"\x93NUMPY") + 20] ^= 0x08  # inside the first member's .npy header
    open(newest + ".npz", "wb").write(bytes(data))
    step.assign(0)
    restarted = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), tmp_path, max_to_keep=3)
    with pytest.warns(UserWarning, match="ckpt-2"):
        restored = restarted.restore_or_initialize()
    assert restored.endswith("ckpt-1") and int(step) == 1


_KILLED = textwrap.dedent("""
    import sys
    import numpy as np
    import tapegrad as tf
    from tapegrad import _files

    def stop_before_the_rename(self):
        print("writing", flush=True)
        sys.stdin.readline()  # killed here: the temporary file is written, not yet renamed
    _files.TempFile.commit = stop_before_the_rename
    how, path = sys.argv[1], sys.argv[2]
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    if how == "save_weights":
        model.save_weights(path)
    else:
        model.compile(optimizer="sgd", loss="mse")
        checkpoint = tf.keras.callbacks.ModelCheckpoint(path, save_weights_only=True)
        model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, callbacks=[checkpoint], verbose=0)
""")


@pytest.mark.parametrize("how", ["save_weights", "ModelCheckpoint"])
@pytest.mark.parametrize("name", ["w.weights.h5", "w.npz"])
def test_a_killed_writers_temporary_file_is_removed_by_the_next_save(tmp_path, how, name):
    if name.endswith(".h5"):
        pytest.importorskip("h5py", reason="the .weights.h5 format needs h5py")
    target = tmp_path / name
    writer = subprocess.Popen([sys.executable, "-c", _KILLED, how, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        temporaries = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert len(temporaries) == 1 and temporaries[0].startswith(f".{name}.")
        assert _files.remove_dead_temporaries(tmp_path) == []  # its writer lives: kept
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert os.listdir(tmp_path) == temporaries  # all a killed save leaves
    model = _model()
    if how == "save_weights":
        model.save_weights(target)
    else:
        model.compile(optimizer="sgd", loss="mse")
        checkpoint = tf.keras.callbacks.ModelCheckpoint(str(target), save_weights_only=True)
        model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, callbacks=[checkpoint], verbose=0)
    assert os.listdir(tmp_path) == [name]
    model.load_weights(target)


def test_a_live_writers_temporary_file_is_kept(tmp_path):
    temp = _files.TempFile(tmp_path / "a.bin")
    try:
        _files.atomic_write(tmp_path / "b.bin", lambda f: f.write(b"b"))
        assert os.path.exists(temp.path)
        temp.file.write(b"a")
        temp.commit()
    finally:
        temp.abort()
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "b.bin"]
