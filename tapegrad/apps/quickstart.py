"""The seed's GradientTape quickstart, packaged: what ``tapegrad quickstart`` runs.

The model, ``train_step``, ``test_step`` and the epoch loop are the seed's code (as in the repository's
``examples/quickstart.py``), with what a long run needs around them: a progress bar per epoch, a
checkpoint after every epoch (``tf.train.CheckpointManager``), ``--resume`` from the newest intact
one — bit for bit, data order included, since the checkpoint keeps the shuffle's epoch count and
the random state — with the options recorded beside the checkpoints (``tapegrad.apps.runs``: another
batch size, data or seed is refused, as is a new run into a folder holding an earlier run's
checkpoints, unless ``--overwrite``), and a loss/accuracy curve when matplotlib is installed.  With
``inspect`` (``--inspect``), a ``tapegrad.inspect.GradientMonitor`` records every step's gradients
inside the compiled ``train_step``, its table follows each epoch's line, and its plot is saved at the end.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

import tapegrad as tf
from tapegrad.keras import Model
from tapegrad.keras.layers import Conv2D, Dense, Flatten

from . import runs

TEMPLATES = {
    # the seed's line, verbatim
    "ko": '에포크: {}, 손실: {:.5f}, 정확도: {:.2f}%, 테스트 손실: {:.5f}, 테스트 정확도: {:.2f}%',
    "en": 'Epoch: {}, Loss: {:.5f}, Accuracy: {:.2f}%, Test Loss: {:.5f}, Test Accuracy: {:.2f}%',
}
MESSAGES = {
    "ko": {"resumed": "체크포인트 {path}에서 이어서 학습합니다 (에포크 {epoch} 완료).",
           "no_checkpoint": "{directory}에 체크포인트가 없어 처음부터 학습합니다.",
           "skipped": "경고: {warning}",
           "done": "이미 에포크 {epoch}까지 학습했습니다. 더 학습하려면 --epochs를 늘리세요.",
           "saved": "체크포인트: {path} (이어서 학습: --resume)",
           "curves": "학습 곡선: {path}",
           "no_plot": "학습 곡선을 그리려면 matplotlib이 필요합니다: pip install 'tapegrad[plot]'",
           "epoch": "에포크",
           "inspect": "그래디언트 모니터: 변수마다 그래디언트 노름(평균, 최대)과 업데이트/가중치 비율"
                      "(1e-3 안팎이면 건강합니다), ReLU 층마다 에포크 내내 0만 낸 유닛(죽은 ReLU)",
           "gradient_plot": "그래디언트 그래프: {path}",
           "no_gradient_plot": "그래디언트 그래프를 그리려면 matplotlib이 필요합니다: pip install 'tapegrad[plot]'",
           "overwritten": "{directory}에 있던 이전 학습의 체크포인트를 지우고 처음부터 학습합니다 (--overwrite)."},
    "en": {"resumed": "Resuming from checkpoint {path} ({epoch} epochs done).",
           "no_checkpoint": "No checkpoint in {directory}; training from the start.",
           "skipped": "warning: {warning}",
           "done": "Already trained {epoch} epochs; raise --epochs to train more.",
           "saved": "Checkpoint: {path} (continue with --resume)",
           "curves": "Learning curves: {path}",
           "no_plot": "For learning curves install matplotlib: pip install 'tapegrad[plot]'",
           "epoch": "Epoch",
           "inspect": "Gradient monitor: per variable the gradient norm (mean, max) and the update/weight "
                      "ratio (about 1e-3 is healthy); per ReLU layer the units that gave 0 all epoch "
                      "(dead ReLUs)",
           "gradient_plot": "Gradient plot: {path}",
           "no_gradient_plot": "For the gradient plot install matplotlib: pip install 'tapegrad[plot]'",
           "overwritten": "Deleted the earlier run's checkpoints in {directory}; training from the start "
                          "(--overwrite)."},
}
DATASETS = ("digits", "mnist", "fashion_mnist")


class MyModel(Model):
    """The seed's model: Conv2D(32, 3, relu) → Flatten → Dense(128, relu) → Dense(10, softmax).

    >>> import numpy as np
    >>> MyModel()(np.zeros((2, 8, 8, 1), "float32")).shape  # 8×8 digits: 6×6×32 → 1152 → 128 → 10
    TensorShape([2, 10])
    """

    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(32, 3, activation="relu")
        self.flatten = Flatten()
        self.d1 = Dense(128, activation="relu")
        self.d2 = Dense(10, activation="softmax")

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


def parse_data(spec: str) -> tuple:
    """``(name, path or None)`` from ``digits``, ``mnist[=PATH]`` or ``fashion_mnist[=PATH]``.

    >>> parse_data("digits"), parse_data("mnist=~/data/mnist.npz")
    (('digits', None), ('mnist', '~/data/mnist.npz'))
    """
    name, _, path = spec.partition("=")
    name = name.strip().lower().replace("-", "_")
    if name not in DATASETS or (name == "digits" and path):
        raise ValueError(f"--data must be digits, mnist[=PATH] or fashion_mnist[=PATH], not {spec!r}")
    return name, (path or None)


def load_data(spec: str) -> tuple:
    """The data set `spec` names (see ``parse_data``), as ``keras.datasets`` gives it.

    >>> (x_train, y_train), (x_test, y_test) = load_data("digits")
    >>> x_train.shape
    (1438, 8, 8)
    """
    name, path = parse_data(spec)
    module = getattr(tf.keras.datasets, name)
    return module.load_data() if path is None else module.load_data(path=path)


def data_key(spec: str) -> str:
    """The data `spec` names, as a run's record keeps it: the data set, and its file as an absolute path
    (the same file from another folder is the same data).

    >>> data_key("digits"), data_key("mnist=/data/../data/mnist.npz")
    ('digits', 'mnist=/data/mnist.npz')
    """
    name, path = parse_data(spec)
    return name if path is None else f"{name}={os.path.abspath(os.path.expanduser(path))}"


def default_checkpoint_dir(spec: str) -> str:
    """One folder per data set, so that a run never meets another architecture's checkpoints.

    >>> default_checkpoint_dir("mnist=/data/mnist.npz")
    'tapegrad-checkpoints/quickstart-mnist'
    """
    return f"tapegrad-checkpoints/quickstart-{parse_data(spec)[0]}"


class History:
    """Each epoch's train loss, train accuracy, test loss and test accuracy (%); a checkpoint keeps
    it (TensorFlow's ``_serialize_to_tensors`` protocol), so the curves of a resumed run are whole.

    >>> history = History(); history.append([0.5, 90.0, 0.4, 91.0])
    >>> History.from_tensors(history._serialize_to_tensors()).rows
    [[0.5, 90.0, 0.4, 91.0]]
    """

    def __init__(self):
        self.rows: list = []

    def append(self, row) -> None:
        self.rows.append([float(v) for v in row])

    def _serialize_to_tensors(self) -> dict:
        return {"rows": np.array(self.rows, np.float64).reshape(-1, 4)}

    def _restore_from_tensors(self, tensors: dict) -> None:
        rows = np.asarray(tensors["rows"], np.float64)
        if rows.ndim != 2 or rows.shape[1] != 4:
            raise ValueError(f"Cannot restore the history: expected rows of 4 values, got shape {rows.shape}")
        self.rows = rows.tolist()

    @classmethod
    def from_tensors(cls, tensors: dict) -> History:
        history = cls()
        history._restore_from_tensors(tensors)
        return history


def run(epochs=5, batch_size=32, data="digits", resume=False, lang="ko", checkpoint_dir=None, seed=0,
        out=None, err=None, progress=None, inspect=False, overwrite=False) -> list:
    """Train the seed's model with the seed's loop for `epochs` epochs in all (with `resume`,
    continuing the newest intact checkpoint in `checkpoint_dir`, with the options recorded there; a new
    run refuses a folder holding an earlier run's checkpoints, unless `overwrite` deletes them: see
    ``tapegrad.apps.runs``); print the seed's line per epoch to `out` and the rest to `err` (with
    `inspect`, the gradient monitor's table after each epoch and its plot at the end); return each
    epoch's [loss, accuracy, test loss, test accuracy].

    >>> import io, tempfile
    >>> rows = run(epochs=1, checkpoint_dir=tempfile.mkdtemp(), err=io.StringIO())
    에포크: 1, 손실: ..., 정확도: ...%, 테스트 손실: ..., 테스트 정확도: ...%
    >>> len(rows)
    1
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    say = MESSAGES[lang]
    template = TEMPLATES[lang]
    tf.keras.utils.set_random_seed(seed)

    (x_train, y_train), (x_test, y_test) = load_data(data)
    x_train, x_test = x_train / 255.0, x_test / 255.0
    x_train = x_train[..., tf.newaxis].astype("float32")
    x_test = x_test[..., tf.newaxis].astype("float32")

    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(batch_size)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size)

    model = MyModel()

    # Loss Function을 변수로 정의
    loss_function = tf.keras.losses.SparseCategoricalCrossentropy()
    # Optimizer를 변수로 정의
    optimizer = tf.keras.optimizers.Adam()
    # Metric 을 변수로 정의, Train, Test 분리
    train_acc = tf.keras.metrics.SparseCategoricalAccuracy()
    test_acc = tf.keras.metrics.SparseCategoricalAccuracy()

    # Loss 정의
    train_loss = tf.keras.metrics.Mean()
    test_loss = tf.keras.metrics.Mean()

    @tf.function
    def train_step(images, labels):
        # 미분을 위한 GradientTape을 적용합니다.
        with tf.GradientTape() as tape:
            # 1. 예측 (prediction)
            predictions = model(images)
            # 2. Loss 계산
            loss = loss_function(labels, predictions)

        # 3. 그라디언트(gradients) 계산
        gradients = tape.gradient(loss, model.trainable_variables)
        if monitor is not None:  # Not in the seed: --inspect records each step's gradients (staged)
            monitor.record(gradients, model.trainable_variables)

        # 4. 오차역전파(Backpropagation) - weight 업데이트
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

        # loss와 accuracy를 업데이트 합니다.
        train_loss(loss)
        train_acc(labels, predictions)

    @tf.function
    def test_step(images, labels):
        # 1. 예측 (prediction)
        predictions = model(images)
        # 2. Loss 계산
        loss = loss_function(labels, predictions)

        # loss와 accuracy를 업데이트 합니다.
        test_loss(loss)
        test_acc(labels, predictions)

    # Not in the seed: a checkpoint restores into existing variables, so the model and the
    # optimizer's slots are created now (the same values they would get at the first step).
    model(x_train[:1])
    optimizer.build(model.trainable_variables)
    epoch_done = tf.Variable(0, dtype=tf.int64)
    history = History()
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, train_loss=train_loss,
                                     train_acc=train_acc, test_loss=test_loss, test_acc=test_acc,
                                     epoch=epoch_done, train_ds=train_ds, history=history)
    directory = checkpoint_dir or default_checkpoint_dir(data)
    options = {"data": data_key(data), "batch_size": batch_size, "seed": seed}
    if runs.start(directory, resume, overwrite, extra=("curves.png", "gradients.png")):
        print(say["overwritten"].format(directory=directory), file=err)
    manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=3)  # fails now if unwritable
    if resume:
        if manager.checkpoints:
            runs.check_resume(directory, "quickstart", options)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            restored = manager.restore_or_initialize()
        for warning in caught:
            print(say["skipped"].format(warning=warning.message), file=err)
        message = (say["resumed"].format(path=restored, epoch=int(epoch_done)) if restored
                   else say["no_checkpoint"].format(directory=directory))
        print(message, file=err, flush=True)
    runs.record(directory, "quickstart", options)

    if int(epoch_done) >= epochs:
        print(say["done"].format(epoch=int(epoch_done)), file=err)
        return history.rows
    monitor = None
    if inspect:  # made before train_step's first call, so that its trace records each step
        from tapegrad.inspect import GradientMonitor
        monitor = GradientMonitor(model, optimizer, verbose=False, initial_epoch=int(epoch_done))
        print(say["inspect"], file=err)
    show = err.isatty() if progress is None else progress
    for epoch in range(int(epoch_done), epochs):
        # Not in the seed: TensorFlow's quickstart starts each epoch with fresh metrics; without
        # these four lines every printed number is a running mean over all epochs so far.
        train_loss.reset_state()
        train_acc.reset_state()
        test_loss.reset_state()
        test_acc.reset_state()

        for images, labels in progress_bar(train_ds, f"{say['epoch']} {epoch + 1}/{epochs}", err, show):
            train_step(images, labels)

        for test_images, test_labels in test_ds:
            test_step(test_images, test_labels)

        results = (train_loss.result(), train_acc.result() * 100, test_loss.result(), test_acc.result() * 100)
        print(template.format(epoch + 1, *results), file=out, flush=True)
        if monitor is not None:
            _report_gradients(monitor, say, err)
        history.append(results)
        epoch_done.assign(epoch + 1)
        path = manager.save()
    print(say["saved"].format(path=path), file=err)
    curves = os.path.join(directory, "curves.png")
    plotted = plot_curves(history.rows, curves)
    print(say["curves"].format(path=curves) if plotted else say["no_plot"], file=err)
    if monitor is not None:
        monitor.close()
        plot = os.path.join(directory, "gradients.png")
        try:
            monitor.plot(plot)
            print(say["gradient_plot"].format(path=plot), file=err)
        except ImportError:
            print(say["no_gradient_plot"], file=err)
    return history.rows


def _report_gradients(monitor, say: dict, err) -> None:
    """End the monitor's epoch: print its table, then its warnings in the run's language, to `err`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = monitor.end_epoch()
    print(table, file=err)
    for warning in caught:
        print(say["skipped"].format(warning=warning.message), file=err)
    err.flush()


def progress_bar(batches, label: str, stream, show: bool = True, width: int = 30):
    """Yield `batches`, drawing a bar on `stream` (at most ten times a second) and erasing it at the
    end, so that only the epoch's line stays; `show=False` draws nothing (output to a file).

    >>> list(progress_bar([1, 2], "epoch 1", sys.stderr, show=False))
    [1, 2]
    """
    if not show:
        yield from batches
        return
    total = len(batches)
    start = last = time.perf_counter()
    line = ""
    for i, batch in enumerate(batches, 1):
        yield batch
        now = time.perf_counter()
        if now - last >= 0.1 or i == total:
            last = now
            filled = width * i // max(total, 1)
            line = f"\r{label} [{'=' * filled}{'.' * (width - filled)}] {i}/{total} {now - start:.1f}s"
            stream.write(line)
            stream.flush()
    stream.write("\r" + " " * len(line) + "\r")
    stream.flush()


def plot_curves(rows, path) -> bool:
    """Draw loss and accuracy per epoch to the PNG `path` (atomically); False if matplotlib is missing.

    >>> import tempfile
    >>> plot_curves([[1.0, 50.0, 0.9, 60.0]], os.path.join(tempfile.mkdtemp(), "c.png")) in (True, False)
    True
    """
    try:
        from matplotlib.figure import Figure  # without pyplot: no GUI backend, no global state
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    from tapegrad.keras.saving import atomic_write
    table = np.asarray(rows, np.float64).reshape(-1, 4)
    epochs = np.arange(1, len(table) + 1)
    figure = Figure(figsize=(9, 3.5), layout="tight")
    for axes, (train, test), title in zip(figure.subplots(1, 2), ((0, 2), (1, 3)), ("loss", "accuracy (%)")):
        axes.plot(epochs, table[:, train], "o-", label="train")
        axes.plot(epochs, table[:, test], "s--", label="test")
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)
        axes.legend()
    atomic_write(path, lambda f: figure.savefig(f, format="png"))
    return True
