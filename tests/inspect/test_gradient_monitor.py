"""GradientMonitor: norms, update/weight ratios and dead ReLUs as measured by hand; the same history
eagerly, compiled with record() inside the train step, and compiled with record() outside; warnings for
exploding, vanishing and None gradients and dead layers; evaluation passes are not counted; the layers
are given back; a writer gets the steps; the plot."""
import glob
import os
import sys
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.inspect import GradientMonitor, GradientWarning


def _data():
    rng = np.random.RandomState(0)
    x = rng.randn(16, 3).astype("float32")
    return x, (x[:, :1] * 2.0 - x[:, 1:2]).astype("float32")


def _model(bias=0.0):
    return tf.keras.Sequential([
        tf.keras.layers.Dense(6, activation="relu", name="hidden",
                              bias_initializer=tf.keras.initializers.Constant(bias)),
        tf.keras.layers.Dense(1, name="out")])


def _train(monitor, model, optimizer, epochs=2, steps=3, compiled=False, record_inside=True, scale=1.0):
    """The custom loop of the docs: record() between tape.gradient and apply_gradients."""
    x, y = _data()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2) * scale
        grads = tape.gradient(loss, model.trainable_variables)
        if record_inside:
            monitor.record(grads, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        model(x * 0.0 - 1e3)  # an evaluation pass, off the tape: it must not count as dead units
        return grads

    step = tf.function(train_step) if compiled else train_step
    for _ in range(epochs):
        for _ in range(steps):
            grads = step(x, y)
            if not record_inside:
                monitor.record(grads, model.trainable_variables, applied=True)
        monitor.end_epoch()
    return monitor


def _run(compiled=False, record_inside=True, **kwargs):
    tf.keras.utils.set_random_seed(1)
    model = _model()
    optimizer = tf.keras.optimizers.Adam(0.01)
    monitor = GradientMonitor(model, optimizer, verbose=False, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientWarning)
        return _train(monitor, model, optimizer, compiled=compiled, record_inside=record_inside), model


def test_the_same_history_eagerly_and_compiled_with_record_inside_or_outside():
    eager, _ = _run()
    inside, _ = _run(compiled=True)
    assert len(eager.steps) == 6 and [e["epoch"] for e in eager.epochs] == [1, 2]
    assert _close(inside.steps, eager.steps)
    assert inside.summary(0) == eager.summary(0) and inside.summary() == eager.summary()
    assert set(eager.steps[0]["grad_norm"]) == {"hidden/kernel", "hidden/bias", "out/kernel", "out/bias"}
    assert set(eager.steps[0]["dead_relu"]) == {"hidden"}

    # recorded after the compiled step applied the update: the same, but for the first step's update,
    # made before anything was kept to measure it against
    outside, _ = _run(compiled=True, record_inside=False)
    assert outside.steps[0]["update_ratio"] == {}
    outside.steps[0]["update_ratio"] = eager.steps[0]["update_ratio"]
    assert _close(outside.steps, eager.steps)
    assert outside.summary() == eager.summary()


def _close(a, b) -> bool:
    """Equal structures with floats equal to 1e-6 (compiled arithmetic may round differently)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-6)
    return a == b


def test_keep_steps_bounds_the_history_but_not_the_epochs():
    everything, _ = _run(keep_steps=None)
    latest, _ = _run(keep_steps=2)
    assert [s["step"] for s in latest.steps] == [4, 5]
    assert _close(latest.steps, everything.steps[-2:])
    assert [e["steps"] for e in latest.epochs] == [3, 3]
    assert _close(latest.epochs, everything.epochs)
    assert latest.summary(0) == everything.summary(0)


def test_the_weights_kept_for_the_update_ratio_are_not_widened():
    tf.keras.utils.set_random_seed(2)
    model = _model()
    monitor = GradientMonitor(model, tf.keras.optimizers.SGD(0.1), verbose=False)
    x, _ = _data()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x))
    monitor.record(tape.gradient(loss, model.trainable_variables))
    assert [old.dtype for _, _, old in monitor._snapshot[2]] == [np.float32] * 4


def test_norms_and_update_ratios_are_what_they_say():
    tf.keras.utils.set_random_seed(2)
    model = _model(bias=0.5)
    optimizer = tf.keras.optimizers.SGD(0.1)
    monitor = GradientMonitor(model, optimizer, verbose=False)
    x, y = _data()
    before = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    monitor.record(grads, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    monitor.end_epoch()
    (step,) = monitor.steps
    for g, v, w in zip(grads, model.trainable_variables, before):
        assert step["grad_norm"][v.path] == pytest.approx(np.linalg.norm(g.numpy()), rel=1e-6)
        expected = np.linalg.norm(v.numpy() - w) / np.linalg.norm(w)  # SGD: 0.1 * |g| / |w|
        assert step["update_ratio"][v.path] == pytest.approx(expected, rel=1e-5)
        assert expected == pytest.approx(0.1 * np.linalg.norm(g.numpy()) / np.linalg.norm(w), rel=1e-4)
    record = monitor.epochs[0]["variables"]["hidden/kernel"]
    assert record["grad_norm"] == record["grad_norm_max"] == step["grad_norm"]["hidden/kernel"]
    assert record["shape"] == (3, 6) and record["non_finite"] == record["no_gradient"] == 0


def test_an_epoch_ended_right_after_a_record_measures_no_update():
    """Without an update between record() and end_epoch(), no ratio is made up."""
    tf.keras.utils.set_random_seed(2)
    model = _model()
    optimizer = tf.keras.optimizers.SGD(0.1)
    monitor = GradientMonitor(model, optimizer, verbose=False)
    x, y = _data()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    monitor.record(grads, model.trainable_variables)
    monitor.end_epoch()
    assert monitor.steps[0]["update_ratio"] == {} and monitor.epochs[0]["variables"]["out/kernel"]["update_ratio"] is None


def test_without_an_optimizer_there_are_norms_but_no_ratios():
    monitor = GradientMonitor(verbose=False)
    v = tf.Variable([3.0, 4.0])
    monitor.record([tf.constant([0.3, 0.4])], [v])
    v.assign([0.0, 0.0])
    monitor.record([tf.constant([0.0, 0.0])], [v])
    monitor.end_epoch()
    assert [s["grad_norm"] for s in monitor.steps] == [{"Variable": pytest.approx(0.5)}, {"Variable": 0.0}]
    assert all(s["update_ratio"] == {} for s in monitor.steps)


def test_sparse_gradients_are_measured_dense():
    """An Embedding's gradient is IndexedSlices: repeated rows add up before the norm is taken."""
    embedding = tf.keras.layers.Embedding(5, 2)
    embedding.build((None,))
    monitor = GradientMonitor(verbose=False)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(embedding(tf.constant([1, 1, 3])))
    (grad,) = tape.gradient(loss, embedding.trainable_variables)
    assert isinstance(grad, tf.IndexedSlices)
    monitor.record([grad], embedding.trainable_variables)
    assert monitor.steps[0]["grad_norm"][embedding.trainable_variables[0].path] == pytest.approx(np.sqrt(4 + 4 + 1 + 1))


def test_dead_relus_counted_in_training_passes_only_and_warned():
    tf.keras.utils.set_random_seed(3)
    model = _model(bias=-100.0)  # every unit's pre-activation is far below 0: all dead
    optimizer = tf.keras.optimizers.SGD(0.01)
    monitor = GradientMonitor(model, optimizer, verbose=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _train(monitor, model, optimizer, epochs=1)
    messages = [str(w.message) for w in caught]
    assert all(w.category is GradientWarning for w in caught)
    assert any(m.startswith("hidden: 6 of 6 ReLU units gave 0 for every training example") for m in messages)
    # and so nothing flows back to the layer, nor to the next layer's kernel (it sees only zeros)
    assert sorted(m.split(":")[0] for m in messages if "vanishing" in m) == ["hidden/bias", "hidden/kernel",
                                                                             "out/kernel"]
    assert monitor.epochs[0]["dead_relu"] == {"hidden": (6, 6)}
    assert [s["dead_relu"] for s in monitor.steps] == [{"hidden": 1.0}] * 3
    assert "hidden      6/6 (100.0%)" in monitor.summary()

    healthy, _ = _run()  # its evaluation passes (all inputs -1e3) would kill many units if counted
    assert healthy.epochs[0]["dead_relu"]["hidden"][0] < 6
    assert all(s["dead_relu"]["hidden"] < 1.0 for s in healthy.steps)


def test_conv_units_are_channels():
    conv = tf.keras.layers.Conv2D(4, 1, activation="relu", name="conv",
                                  kernel_initializer="ones", bias_initializer=tf.keras.initializers.Constant(-0.5))
    monitor = GradientMonitor(conv, verbose=False)
    x = np.zeros((2, 3, 3, 1), np.float32)
    x[0, 0, 0, 0] = 1.0  # one pixel of one example makes every channel active
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(conv(x))
    monitor.record(tape.gradient(loss, conv.trainable_variables), conv.trainable_variables)
    monitor.end_epoch()
    assert monitor.epochs[0]["dead_relu"] == {"conv": (0, 4)}


def test_exploding_vanishing_non_finite_and_none_gradients_warn():
    for scale, expected in ((1e6, "exploding gradients"), (1e-12, "vanishing gradients"),
                            (np.nan, "NaN or Inf gradient in 3 of 3 steps")):
        tf.keras.utils.set_random_seed(1)
        model = _model(bias=0.1)
        optimizer = tf.keras.optimizers.SGD(0.0)  # scale the loss, not the weights
        monitor = GradientMonitor(model, optimizer, verbose=False)
        with pytest.warns(GradientWarning, match=expected):
            _train(monitor, model, optimizer, epochs=1, scale=scale)

    monitor = GradientMonitor(verbose=False, exploding=1.0)
    a, b = tf.Variable(1.0, name="a"), tf.Variable(1.0, name="b")
    monitor.record([tf.constant(2.0), None], [a, b])
    with pytest.warns(GradientWarning) as caught:
        monitor.end_epoch()
    messages = [str(w.message) for w in caught]
    assert messages == [("a: gradient norm up to 2, above 1 (exploding gradients); lower the learning rate or "
                         "clip gradients (clipnorm=1.0)"),
                        "b: gradient None in 1 of 1 steps: the loss does not depend on it there"]
    assert "None x1" in monitor.summary()


def test_verbose_prints_the_table_and_epochs_number_on(capsys):
    monitor = GradientMonitor(initial_epoch=4)
    monitor.record([tf.constant(1.0)], [tf.Variable(1.0, name="w")])
    table = monitor.end_epoch()
    assert capsys.readouterr().out == table + "\n"
    assert table.splitlines() == ["Gradients, epoch 5 (1 steps)",
                                  "variable  shape  grad norm  max        update/weight",
                                  "w         ()     1.000e+00  1.000e+00  -"]


def test_close_gives_the_layers_their_calls_back():
    model = _model()
    monitor = GradientMonitor(model, verbose=False)
    hidden = model.layers[0]
    assert "call" in hidden.__dict__ and hidden.get_config()["activation"] == "relu"
    assert hidden.layers == [] and len(model.trainable_variables) == 0  # the wrapper is no sublayer or weight
    monitor.close()
    assert "call" not in hidden.__dict__
    with tf.GradientTape():
        model(np.ones((2, 3), np.float32))
    assert monitor._relu["hidden"].pending == []  # no longer watched


def test_record_needs_matching_lists():
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        GradientMonitor(verbose=False).record([tf.constant(1.0)] * 2, [tf.Variable(1.0)])
    with pytest.raises(ValueError, match="pass the variables"):
        GradientMonitor(verbose=False).record([tf.constant(1.0)])


def test_a_writer_gets_every_step(tmp_path):
    pytest.importorskip("tensorboard", reason="writing event files needs the tensorboard extra: "
                                              "pip install 'tapegrad[tensorboard]'")
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
    from tensorboard.util.tensor_util import make_ndarray
    writer = tf.summary.create_file_writer(str(tmp_path))
    monitor, _ = _run(compiled=True, writer=writer)
    writer.close()
    (path,) = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    reader = pywrap_tensorflow.PyRecordReader_New(path)
    written = {}
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        event = event_pb2.Event.FromString(reader.record())
        for value in event.summary.value:
            written[(value.tag, event.step)] = float(make_ndarray(value.tensor))
    for step in monitor.steps:
        for kind in ("grad_norm", "update_ratio", "dead_relu"):
            for name, value in step[kind].items():
                assert written.pop((f"{kind}/{name}", step["step"])) == pytest.approx(value, rel=1e-6)
    assert written == {}


def test_plot_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="plotting needs the plot extra: pip install 'tapegrad[plot]'")
    monitor, _ = _run()
    path = tmp_path / "gradients.png"
    monitor.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["gradients.png"]  # written atomically: no temporary file left


def test_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    for name in ["matplotlib", *(m for m in sys.modules if m.startswith("matplotlib."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed, though loaded by another test
    with pytest.raises(ImportError, match=r"pip install 'tapegrad\[plot\]'"):
        GradientMonitor(verbose=False).plot(tmp_path / "g.png")
