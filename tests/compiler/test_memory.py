"""A training step leaves nothing behind: no reference cycles, so a step's arrays die with the step.

Garbage in cycles is freed only when the cycle collector runs, which a few large arrays per step do
not trigger: the gradients of many steps would pile up (memory growing with the steps between
collections), as a recursive closure per call once did.
"""
import gc

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import layers


def _training_step(compiled: bool):
    model = tf.keras.Sequential([layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dense(4)])
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    train_loss = tf.keras.metrics.Mean()
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy()

    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)
        return {"loss": loss, "gradients": gradients}
    return tf.function(train_step) if compiled else train_step


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_training_step_makes_no_reference_cycles(compiled):
    step = _training_step(compiled)
    rng = np.random.default_rng(0)
    images = rng.random((8, 3, 3), dtype=np.float32)
    labels = rng.integers(0, 4, 8)
    for _ in range(3):  # tracing, building the optimizer and first-use caches happen here
        step(images, labels)
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            out = step(images, labels)
        del out
        assert gc.collect() == 0
    finally:
        gc.enable()
