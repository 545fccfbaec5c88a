"""2 epochs, a checkpoint, a fresh process restoring it and 2 more epochs == 4 epochs in one go, bit for bit:
weights, optimizer state, metrics and the order of the data."""
import os
import subprocess
import sys

import numpy as np
import pytest

# The seed's loop on digits with a small model, checkpointing every epoch; it writes what it ends
# with (every variable) and the labels of every batch it trained on, in order.
SCRIPT = """
import sys
import numpy as np
import tapegrad as tf

directory, epochs, out, dropout, traced = sys.argv[1], int(sys.argv[2]), sys.argv[3], *map(int, sys.argv[4:])
tf.keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
x_train, x_test = (x_train[..., None] / 255.0).astype("float32"), (x_test[..., None] / 255.0).astype("float32")
train_ds = tf.data.Dataset.from_tensor_slices((x_train[:400], y_train[:400])).shuffle(10000).batch(32)
test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(64)

model = tf.keras.Sequential([tf.keras.layers.Conv2D(4, 3, activation="relu"), tf.keras.layers.Flatten()]
                            + [tf.keras.layers.Dropout(0.2)] * dropout + [tf.keras.layers.Dense(10, activation="softmax")])
loss_function = tf.keras.losses.SparseCategoricalCrossentropy()
optimizer = tf.keras.optimizers.Adam()
train_acc, test_acc = tf.keras.metrics.SparseCategoricalAccuracy(), tf.keras.metrics.SparseCategoricalAccuracy()
train_loss, test_loss = tf.keras.metrics.Mean(), tf.keras.metrics.Mean()


def train_step(images, labels):
    with tf.GradientTape() as tape:
        predictions = model(images, training=True)  # with dropout, the random state must resume too
        loss = loss_function(labels, predictions)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    train_loss(loss)
    train_acc(labels, predictions)


if traced:
    train_step = tf.function(train_step)
model(x_train[:1])
optimizer.build(model.trainable_variables)
epoch = tf.Variable(0, dtype=tf.int64)
ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, train_loss=train_loss, train_acc=train_acc,
                           test_loss=test_loss, test_acc=test_acc, epoch=epoch, data=train_ds)
manager = tf.train.CheckpointManager(ckpt, directory)
manager.restore_or_initialize()
order = []
while int(epoch) < epochs:
    for metric in (train_loss, train_acc, test_loss, test_acc):
        metric.reset_state()
    for images, labels in train_ds:
        order.append(labels.numpy())
        train_step(images, labels)
    for images, labels in test_ds:
        predictions = model(images)
        test_loss(loss_function(labels, predictions))
        test_acc(labels, predictions)
    epoch.assign_add(1)
    manager.save()
state = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(
    model.variables + optimizer.variables + [v for m in (train_loss, train_acc, test_loss, test_acc)
                                             for v in m.variables])}
np.savez(out, order=np.concatenate(order) if order else np.zeros(0), **state)
"""


def _run(tmp_path, env, directory, epochs, out, dropout, traced):
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / directory), str(epochs), str(tmp_path / out),
                    str(int(dropout)), str(int(traced))], check=True, timeout=120, env=env)
    with np.load(tmp_path / out) as saved:
        return dict(saved)


@pytest.mark.parametrize("dropout, traced", [(False, True), (True, False), (True, True)],
                         ids=["seed-loop", "dropout-eager", "dropout-traced"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, checkout_env, dropout, traced):
    def run(directory, epochs, out):
        return _run(tmp_path, checkout_env, directory, epochs, out, dropout, traced)
    straight = run("straight", 4, "straight.npz")
    first = run("resumed", 2, "first.npz")
    second = run("resumed", 4, "second.npz")  # a new process: restores epoch 2, trains 3 and 4

    n = len(first["order"])
    np.testing.assert_array_equal(np.concatenate([first["order"], second["order"]]), straight["order"])
    assert not np.array_equal(straight["order"][:n // 2], straight["order"][n:n + n // 2])  # reshuffled
    names = [k for k in straight if k != "order"]
    assert len(names) > 10 and set(names) == set(second) - {"order"}
    for name in names:
        np.testing.assert_array_equal(second[name], straight[name], err_msg=name)
    assert not np.array_equal(first[names[0]], straight[names[0]])  # the first run really stopped early
    # and the checkpoints of epoch 4 are the same files, byte for byte
    with open(tmp_path / "straight" / "ckpt-4.npz", "rb") as a, open(tmp_path / "resumed" / "ckpt-4.npz", "rb") as b:
        assert a.read() == b.read()
    assert os.path.exists(tmp_path / "resumed" / "ckpt-2.npz")
