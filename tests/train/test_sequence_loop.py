"""The seed's loop fed by a chapter-13 style loader: a keras.utils.Sequence reading each batch from
.npy files on disk by path (batch-loaded, not pre-loaded)."""
import math

import numpy as np

import tapegrad as tf
from tapegrad.apps.quickstart import MyModel


class DigitFiles(tf.keras.utils.Sequence):
    """One .npy file per image; a batch is loaded from its paths when asked for (ch13's loader)."""

    def __init__(self, paths, labels, batch_size=32, shuffle=False):
        super().__init__()
        self.paths, self.labels = list(paths), np.asarray(labels)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.indices = np.arange(len(self.paths))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.paths) / self.batch_size)

    def __getitem__(self, index):
        batch = self.indices[index * self.batch_size:(index + 1) * self.batch_size]
        images = np.stack([np.load(self.paths[i]) for i in batch])
        return images, self.labels[batch]

    def on_epoch_end(self):
        if self.shuffle:
            np.random.shuffle(self.indices)


def _write_files(folder, images, labels, split):
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{split}_{i:04d}.npy"
        np.save(path, (image[..., None] / 255.0).astype("float32"))
        paths.append(str(path))
    return DigitFiles(paths, labels, shuffle=split == "train")


def test_seed_loop_trains_from_files_on_disk(tmp_path):
    tf.keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
    train_ds = _write_files(tmp_path, x_train[:480], y_train[:480], "train")
    test_ds = _write_files(tmp_path, x_test[:160], y_test[:160], "test")

    model = MyModel()
    loss_function = tf.keras.losses.SparseCategoricalCrossentropy()
    optimizer = tf.keras.optimizers.Adam()
    train_acc = tf.keras.metrics.SparseCategoricalAccuracy()
    test_acc = tf.keras.metrics.SparseCategoricalAccuracy()
    train_loss = tf.keras.metrics.Mean()
    test_loss = tf.keras.metrics.Mean()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images)
            loss = loss_function(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_acc(labels, predictions)

    @tf.function
    def test_step(images, labels):
        predictions = model(images)
        loss = loss_function(labels, predictions)
        test_loss(loss)
        test_acc(labels, predictions)

    losses = []
    for epoch in range(4):
        for metric in (train_loss, train_acc, test_loss, test_acc):
            metric.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        train_ds.on_epoch_end()
        for test_images, test_labels in test_ds:
            test_step(test_images, test_labels)
        losses.append(float(train_loss.result()))
    assert losses[-1] < 0.6 * losses[0], losses
    assert float(test_acc.result()) > 0.5  # chance is 0.1
