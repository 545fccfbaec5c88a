"""tf.keras.callbacks: the hooks fit/evaluate/predict call, and each built-in callback's behaviour."""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import saving
from tapegrad.keras.layers import Dense

keras = tf.keras
callbacks = keras.callbacks


@pytest.fixture(autouse=True)
def seeded():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield


X = np.linspace(-1, 1, 16, dtype="float32").reshape(-1, 1)
Y = 2 * X + 1


def regression(lr=0.1):
    model = keras.Sequential([keras.Input(shape=(1,)), Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


def scripted(monitor, values):
    """A callback that sets logs[monitor] to values[epoch], placed before the callback under test."""
    def set_value(epoch, logs):
        logs[monitor] = values[epoch]
    return callbacks.LambdaCallback(on_epoch_end=set_value)


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name.startswith("on_") and callable(attr):
            def hook(*args, **kwargs):
                self.events.append((name,) + tuple(a for a in args if isinstance(a, int)))
                return attr(*args, **kwargs)
            return hook
        return attr


# -- the hooks --------------------------------------------------------------------------------------

def test_fit_calls_the_hooks_in_keras_order():
    model = regression()
    recorder = Recorder()
    model.fit(X, Y, batch_size=8, epochs=2, validation_data=(X[:4], Y[:4]), callbacks=[recorder], verbose=0)
    fit_epoch = [("on_epoch_begin", 0), ("on_train_batch_begin", 0), ("on_batch_begin", 0),
                 ("on_train_batch_end", 0), ("on_batch_end", 0), ("on_train_batch_begin", 1),
                 ("on_batch_begin", 1), ("on_train_batch_end", 1), ("on_batch_end", 1), ("on_test_begin",),
                 ("on_test_batch_begin", 0), ("on_test_batch_end", 0), ("on_test_end",), ("on_epoch_end", 0)]
    second = [(e[0], 1) if e[0].startswith("on_epoch") else e for e in fit_epoch]
    assert recorder.events == [("on_train_begin",)] + fit_epoch + second + [("on_train_end",)]
    assert recorder.model is model and recorder.params == {"verbose": 0, "epochs": 2, "steps": 2}
    recorder.events.clear()
    model.evaluate(X, Y, batch_size=16, callbacks=[recorder], verbose=0)
    model.predict(X, batch_size=16, callbacks=[recorder], verbose=0)
    assert recorder.events == [("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
                               ("on_test_end",), ("on_predict_begin",), ("on_predict_batch_begin", 0),
                               ("on_predict_batch_end", 0), ("on_predict_end",)]


def test_hooks_receive_the_logs():
    model = regression()
    seen = {}
    spy = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.setdefault("batch", dict(logs)),
        on_epoch_end=lambda epoch, logs: seen.setdefault("epoch", dict(logs)),
        on_train_end=lambda logs: seen.setdefault("end", dict(logs)),
        on_test_end=lambda logs: seen.setdefault("test", dict(logs)),
        on_predict_batch_end=lambda batch, logs: seen.setdefault("outputs", logs["outputs"].shape))
    model.fit(X, Y, validation_split=0.25, callbacks=[spy], verbose=0)
    model.predict(X, callbacks=[spy], verbose=0)
    assert set(seen["batch"]) == {"loss"} and set(seen["epoch"]) == {"loss", "val_loss"}
    assert seen["end"] == seen["epoch"] and set(seen["test"]) == {"loss"} and seen["outputs"] == (16, 1)


def test_callback_list_adds_history_and_progbar_and_rejects_other_objects():
    model = regression()
    listed = callbacks.CallbackList([callbacks.TerminateOnNaN()], add_history=True, add_progbar=True,
                                    model=model, verbose=1, epochs=1, steps=2)
    kinds = [type(c).__name__ for c in listed.callbacks]
    assert kinds == ["TerminateOnNaN", "History", "ProgbarLogger"] and model.history is listed.callbacks[1]
    with pytest.raises(TypeError, match="Callback"):
        model.fit(X, Y, callbacks=["not a callback"], verbose=0)


def test_a_callback_can_stop_training_mid_epoch():
    model = regression()
    stop = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", batch == 1))
    batches = []
    count = callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: batches.append(batch))
    history = model.fit(X, Y, batch_size=4, epochs=3, callbacks=[count, stop], verbose=0)
    assert batches == [0, 1] and history.epoch == [0]


# -- EarlyStopping ------------------------------------------------------------------------------------

def test_early_stopping_patience_and_restore_best_weights():
    model = regression()
    kept = []
    snapshot = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(model.get_weights()))
    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    values = scripted("val_loss", [1.0, 0.5, 0.6, 0.7, 0.1])
    history = model.fit(X, Y, epochs=10, callbacks=[snapshot, values, stop], verbose=0)
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    for got, want in zip(model.get_weights(), kept[1]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(kept[3][0], kept[1][0])


def test_early_stopping_min_delta_mode_baseline_and_start_from_epoch():
    def run(values, **kwargs):
        stop = callbacks.EarlyStopping(monitor="score", **kwargs)
        return regression().fit(X, Y, epochs=len(values), callbacks=[scripted("score", values), stop],
                                verbose=0).epoch

    assert run([1.0, 0.95, 0.9, 0.85], min_delta=0.1, patience=1, mode="min") == [0, 1]
    assert run([0.1, 0.2, 0.3, 0.25, 0.2], patience=1, mode="max") == [0, 1, 2, 3]
    assert run([0.5, 0.5, 0.5, 0.4], patience=2, mode="min") == [0, 1, 2]
    # the baseline is never beaten: the first epoch counts against the patience too
    assert run([0.5, 0.5, 0.5, 0.4], patience=2, mode="min", baseline=0.3) == [0, 1]
    assert run([1.0, 2.0, 3.0, 4.0, 5.0], patience=0, mode="min", start_from_epoch=3) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="maximized or minimized"):
        run([1.0, 2.0], patience=0)


def test_early_stopping_infers_the_direction_of_accuracy():
    model = keras.Sequential([keras.Input(shape=(1,)), Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    history = model.fit(X, (X[:, 0] > 0).astype("int64"), epochs=5, validation_data=(X, (X[:, 0] > 0)),
                        callbacks=[scripted("val_accuracy", [0.5, 0.6, 0.55, 0.7, 0.8]), stop], verbose=0)
    assert stop.monitor_op is np.greater and history.epoch == [0, 1, 2]


def test_early_stopping_warns_about_a_missing_monitor():
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        regression().fit(X, Y, epochs=1, callbacks=[callbacks.EarlyStopping()], verbose=0)


# -- ModelCheckpoint ----------------------------------------------------------------------------------

def test_checkpoint_save_best_only_formats_the_names(tmp_path):
    pytest.importorskip("h5py", reason="the .weights.h5 format needs h5py (tapegrad[h5])")
    model = regression()
    kept = []
    snapshot = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(model.get_weights()))
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.weights.h5")
    checkpoint = callbacks.ModelCheckpoint(pattern, save_best_only=True, save_weights_only=True)
    model.fit(X, Y, epochs=4, callbacks=[snapshot, scripted("val_loss", [0.5, 0.7, 0.3, 0.3]), checkpoint],
              verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01-0.50.weights.h5", "ckpt-03-0.30.weights.h5"]
    restored = regression()
    restored.load_weights(str(tmp_path / "ckpt-03-0.30.weights.h5"))
    for got, want in zip(restored.get_weights(), kept[2]):
        np.testing.assert_array_equal(got, want)


def test_checkpoint_writes_atomically(tmp_path, monkeypatch):
    model = regression()
    path = tmp_path / "best.npz"
    checkpoint = callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=True,
                                           save_weights_only=True)
    model.fit(X, Y, epochs=1, callbacks=[checkpoint], verbose=0)
    first = path.read_bytes()

    def broken(fileobj, entries):
        fileobj.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(saving, "_write_npz", broken)
    with pytest.raises(OSError, match="disk full"):
        model.fit(X, Y, epochs=1, callbacks=[checkpoint], verbose=0)  # the loss improved: a save was tried
    assert path.read_bytes() == first and os.listdir(tmp_path) == ["best.npz"]


def test_checkpoint_every_n_batches_and_overwrites_a_fixed_name(tmp_path):
    model = regression()
    saved = []
    original = model.save_weights
    model.save_weights = lambda filepath, overwrite=True: (saved.append(os.path.basename(filepath)),
                                                           original(filepath, overwrite))
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.npz"), save_weights_only=True,
                                           save_freq=3)
    model.fit(X, Y, batch_size=4, epochs=2, callbacks=[checkpoint], verbose=0)
    assert saved == ["e1-b3.npz", "e2-b2.npz"]
    fixed = callbacks.ModelCheckpoint(str(tmp_path / "last.npz"), save_weights_only=True)
    model.fit(X, Y, epochs=2, callbacks=[fixed], verbose=0)
    restored = regression()
    restored.load_weights(str(tmp_path / "last.npz"))
    np.testing.assert_array_equal(restored.get_weights()[0], model.get_weights()[0])


def test_checkpoint_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        callbacks.ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        callbacks.ModelCheckpoint(str(tmp_path / "model.npz"))
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        callbacks.ModelCheckpoint(str(tmp_path / "w.npz"), save_weights_only=True, save_freq="batch")
    model = regression()  # a whole-model `.keras` checkpoint (model.save) loads back
    model.fit(X, Y, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "m.keras"))], verbose=0)
    restored = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(restored.get_weights()[0], model.get_weights()[0])
    with pytest.raises(KeyError, match="Failed to format"):
        regression().fit(X, Y, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{acc}.npz"),
                                                                    save_weights_only=True)], verbose=0)


# -- learning rates ----------------------------------------------------------------------------------

def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    model = regression(lr=0.1)
    rates = []
    probe = callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: rates.append(
        round(float(model.optimizer.learning_rate), 6)))
    schedule = callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))  # Keras 2's one-argument form
    history = model.fit(X, Y, batch_size=16, epochs=3, callbacks=[schedule, probe], verbose=0)
    assert rates == [0.1, 0.05, 0.033333]
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3], rel=1e-6)


def test_learning_rate_scheduler_output_is_used_by_the_update():
    frozen = regression()
    before = frozen.get_weights()
    frozen.fit(X, Y, epochs=1, callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: 0.0)], verbose=0)
    for got, want in zip(frozen.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="should be a float"):
        regression().fit(X, Y, callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: "fast")],
                         verbose=0)


def test_reduce_lr_on_plateau_with_patience_cooldown_and_min_lr():
    model = regression(lr=1.0)
    values = [1.0] * 6 + [0.5] * 5
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.2)
    history = model.fit(X, Y, epochs=len(values), callbacks=[scripted("val_loss", values), reduce], verbose=0)
    # logged at each epoch's end, before that epoch's cut: cuts at epochs 2 and 5 (after the cooldown), the
    # improvement at 6 restarts the wait, the cut at 8 stops at min_lr, and none follows below it
    assert history.history["learning_rate"] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25,
                                                              0.2, 0.2])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=2.0)


# -- CSVLogger ------------------------------------------------------------------------------------

def test_csv_logger_rows_append_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    model = regression()
    history = model.fit(X, Y, epochs=2, validation_split=0.25, callbacks=[callbacks.CSVLogger(str(path))],
                        verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"] and list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [float(r["loss"]) for r in rows] == history.history["loss"]
    model.fit(X, Y, epochs=1, callbacks=[callbacks.CSVLogger(str(path), append=True)], verbose=0)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines.count("epoch,loss,val_loss") == 1
    model.fit(X, Y, epochs=1, callbacks=[callbacks.CSVLogger(str(path), separator=";")], verbose=0)
    assert path.read_text().splitlines()[0] == "epoch;loss;val_loss"  # not appending: a new file


def test_csv_logger_keeps_validation_columns_when_validation_starts_later(tmp_path):
    path = tmp_path / "log.csv"
    regression().fit(X, Y, epochs=2, validation_data=(X, Y), validation_freq=2,
                     callbacks=[callbacks.CSVLogger(str(path))], verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["val_loss"] == "NA" and float(rows[1]["val_loss"]) >= 0


# -- TerminateOnNaN, LambdaCallback, progress ---------------------------------------------------------

def test_terminate_on_nan_stops_at_the_bad_batch(capsys):
    model = regression()
    x = X.copy()
    x[9] = np.nan  # in the fifth batch of two
    seen = []
    count = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    history = model.fit(x, Y, batch_size=2, epochs=5, callbacks=[count, callbacks.TerminateOnNaN()],
                        shuffle=False, verbose=0)
    assert history.epoch == [0] and len(seen) == 5 and np.isnan(seen[-1]) and np.isfinite(seen[:-1]).all()
    assert capsys.readouterr().out == "Batch 4: Invalid loss, terminating training\n"


def test_lambda_callback_takes_any_hook_by_name():
    model = regression()
    calls = []
    spy = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: calls.append(("batch", batch)),
                                   on_predict_end=lambda logs: calls.append(("predict",)))
    model.fit(X, Y, batch_size=8, callbacks=[spy], verbose=0)
    model.predict(X, callbacks=[spy], verbose=0)
    assert calls == [("batch", 0), ("batch", 1), ("predict",)]
    with pytest.raises(ValueError, match="unknown hooks"):
        callbacks.LambdaCallback(on_epoch_finish=print)


def test_progbar_logger_prints_evaluate_and_predict_but_not_validation(capsys):
    model = regression()
    model.fit(X, Y, batch_size=4, epochs=1, validation_data=(X, Y), verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("4/4 ━━━━━━━━━━━━━━━━━━━━ ") and "val_loss" in lines[0]
    model.evaluate(X, Y, batch_size=8, verbose=2)
    model.predict(X, batch_size=8, verbose=1)
    evaluate_line, predict_line = capsys.readouterr().out.splitlines()
    assert evaluate_line.startswith("2/2 - ") and " - loss: " in evaluate_line
    assert predict_line.startswith("2/2 ━") and "loss" not in predict_line


def test_progbar_unknown_target_and_timing_text():
    import io
    out = io.StringIO()
    bar = callbacks.Progbar(None, stream=out)
    bar.update(5, [("loss", 2e-4)], finalize=True)
    assert out.getvalue().startswith("      5/Unknown ") and out.getvalue().endswith("loss: 2.0000e-04\n")
    averaged = callbacks.Progbar(4, verbose=0)
    averaged.update(2, [("x", 1.0)])
    averaged.update(4, [("x", 3.0)])
    assert averaged._values["x"] == [3.0, 1]  # the final update shows the last value (Keras)


def test_checkpoint_without_h5py_fails_before_training(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_h5py)
    model = regression()
    epochs = []
    seen = callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True)
    with pytest.raises(ImportError, match=r"tapegrad\[h5\]"):
        model.fit(X, Y, epochs=2, callbacks=[checkpoint, seen], verbose=0)
    assert epochs == [] and os.listdir(tmp_path) == []
