"""Keras 3 image preprocessing layers: configs and inference outputs recorded from Keras 3.15."""

import json
import os

import numpy as np
import pytest

import tapegrad as tf


def _load(path):
    with open(path) as f:
        return json.load(f)


L = tf.keras.layers
REF = _load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "image_strings_tf221.json"))["layers"]
IMG = np.random.default_rng(1).uniform(0, 1, (5, 6, 3)).astype(np.float32)[None] * 255

LAYERS = {
    "Resizing": lambda: L.Resizing(4, 5),
    "Resizing_crop": lambda: L.Resizing(3, 3, crop_to_aspect_ratio=True),
    "CenterCrop": lambda: L.CenterCrop(3, 4),
    "RandomFlip": lambda: L.RandomFlip("horizontal", seed=1),
    "RandomRotation": lambda: L.RandomRotation(0.2, seed=1),
    "RandomZoom": lambda: L.RandomZoom(0.1, seed=1),
    "RandomTranslation": lambda: L.RandomTranslation(0.1, 0.2, seed=1),
    "RandomContrast": lambda: L.RandomContrast(0.3, seed=1),
    "RandomBrightness": lambda: L.RandomBrightness(0.2, seed=1),
    "RandomCrop": lambda: L.RandomCrop(3, 3, seed=1),
}


def _plain(value):
    return json.loads(json.dumps(value))  # tuples as lists, as the recorded JSON holds them


@pytest.mark.parametrize("key", sorted(LAYERS))
def test_config_and_inference_match_keras(key):
    layer = LAYERS[key]()
    config = layer.get_config()
    expected = REF[key]["config"]
    assert {k: _plain(config[k]) for k in expected} == expected
    out = layer(IMG, training=False).numpy()
    if "infer" in REF[key]:
        np.testing.assert_allclose(out, np.array(REF[key]["infer"]), rtol=1e-5, atol=1e-3)
    else:  # the random layers are the identity at inference
        np.testing.assert_array_equal(out, IMG)
    clone = type(layer).from_config(config)
    assert _plain(clone.get_config()) == _plain(config)


def test_random_layers_change_images_in_training():
    batch = np.concatenate([IMG] * 4)
    flipped = L.RandomFlip("horizontal")(batch, training=True).numpy()
    assert all(np.array_equal(f, IMG[0]) or np.array_equal(f, IMG[0][:, ::-1]) for f in flipped)
    turned = L.RandomRotation((0.25, 0.25), fill_mode="constant")(
        np.arange(9.0).reshape(1, 3, 3, 1), training=True
    )
    np.testing.assert_allclose(turned.numpy()[0, ..., 0], np.rot90(np.arange(9.0).reshape(3, 3)), atol=1e-4)
    for layer in (
        L.RandomZoom(0.3),
        L.RandomTranslation(0.2, 0.2),
        L.RandomContrast(0.5),
        L.RandomBrightness(0.3),
    ):
        out = layer(batch, training=True).numpy()
        assert out.shape == batch.shape and not np.allclose(out, batch), type(layer).__name__
        assert out.min() >= 0 and out.max() <= 255
    assert L.RandomCrop(2, 3)(batch, training=True).shape == (4, 2, 3, 3)


def test_augmentation_in_a_model_trains():
    model = tf.keras.Sequential(
        [
            tf.keras.Input((5, 6, 3)),
            L.Rescaling(1 / 255),
            L.RandomFlip("horizontal"),
            L.RandomRotation(0.1),
            L.RandomZoom(0.1),
            L.Resizing(4, 4),
            L.Flatten(),
            L.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(np.concatenate([IMG] * 8), np.arange(8) % 2, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(IMG, verbose=0).shape == (1, 2)
