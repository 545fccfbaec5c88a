"""tf.image against values recorded from TensorFlow 2.21 (tests/fixtures/*_tf221.json)."""

import json
import os

import numpy as np
import pytest

import tapegrad as tf


def _load(path):
    with open(path) as f:
        return json.load(f)


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
RESIZE = _load(os.path.join(FIXTURES, "resize_tf221.json"))
MISC = _load(os.path.join(FIXTURES, "image_strings_tf221.json"))
IMG = np.random.default_rng(0).uniform(0, 1, (1, 4, 5, 2)).astype(np.float32)


def _misc_image():
    img = np.random.default_rng(1).uniform(0, 1, (5, 6, 3)).astype(np.float32)
    return img, (img * 255).astype(np.uint8)


@pytest.mark.parametrize(
    "case", RESIZE["cases"], ids=lambda c: f"{c['method']}-{c['size']}-aa{c['antialias']}"
)
def test_resize_matches_tf(case):
    out = tf.image.resize(IMG, case["size"], method=case["method"], antialias=case["antialias"])
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy().ravel(), case["out"], atol=1e-5)


def test_resize_gradient_and_aspect_ratio_and_dtypes():
    x = tf.Variable(IMG)
    with tf.GradientTape() as tape:
        y = tf.image.resize(x, (7, 3))
        loss = tf.reduce_sum(y * y)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy().ravel(), RESIZE["grad"], rtol=1e-5, atol=1e-6)
    kept = tf.image.resize(IMG, (8, 8), preserve_aspect_ratio=True)
    assert list(kept.shape) == RESIZE["aspect"]["shape"]
    np.testing.assert_allclose(kept.numpy().ravel(), RESIZE["aspect"]["out"], atol=1e-5)
    u8 = (IMG[0] * 255).astype(np.uint8)
    assert (
        tf.image.resize(u8, (3, 3), "nearest").dtype == tf.uint8
    )  # nearest keeps the dtype, the rest float32
    assert tf.image.resize(u8.astype(np.float64), (3, 3)).dtype == tf.float32


def test_resize_traces_in_a_function():
    f = tf.function(lambda x: tf.image.resize(x, (3, 2), method="bicubic"))
    np.testing.assert_allclose(
        f(tf.constant(IMG)).numpy(), tf.image.resize(IMG, (3, 2), method="bicubic").numpy()
    )


@pytest.mark.parametrize(
    "name, call",
    [
        ("flip_lr", lambda i, u: tf.image.flip_left_right(i)),
        ("flip_ud", lambda i, u: tf.image.flip_up_down(i)),
        ("rot90_1", lambda i, u: tf.image.rot90(i)),
        ("rot90_3", lambda i, u: tf.image.rot90(i, 3)),
        ("transpose", lambda i, u: tf.image.transpose(i)),
        ("central_crop", lambda i, u: tf.image.central_crop(i, 0.5)),
        ("crop_box", lambda i, u: tf.image.crop_to_bounding_box(i, 1, 2, 3, 3)),
        ("pad_box", lambda i, u: tf.image.pad_to_bounding_box(i, 1, 2, 7, 9)),
        ("crop_or_pad", lambda i, u: tf.image.resize_with_crop_or_pad(i, 3, 8)),
        ("with_pad", lambda i, u: tf.image.resize_with_pad(i, 8, 4)),
        ("brightness", lambda i, u: tf.image.adjust_brightness(i, 0.2)),
        ("brightness_u8", lambda i, u: tf.image.adjust_brightness(u, 0.2)),
        ("contrast", lambda i, u: tf.image.adjust_contrast(i, 1.7)),
        ("contrast_u8", lambda i, u: tf.image.adjust_contrast(u, 0.5)),
        ("gray", lambda i, u: tf.image.rgb_to_grayscale(i)),
        ("gray_u8", lambda i, u: tf.image.rgb_to_grayscale(u)),
        ("to_float", lambda i, u: tf.image.convert_image_dtype(u, tf.float32)),
        ("to_u8_sat", lambda i, u: tf.image.convert_image_dtype(i * 1.1, tf.uint8, saturate=True)),
        ("standardize", lambda i, u: tf.image.per_image_standardization(u)),
    ],
)
def test_image_ops_match_tf(name, call):
    img, u8 = _misc_image()
    out = call(tf.constant(img), tf.constant(u8)).numpy()
    expected = np.array(MISC["image"][name])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-5 if out.dtype.kind == "f" else 0)


def test_random_image_ops_keep_shapes_and_values():
    img, _ = _misc_image()
    flipped = tf.image.random_flip_left_right(tf.constant(img[None].repeat(8, 0)), seed=3).numpy()
    for one in flipped:  # each image is itself or its mirror
        assert np.array_equal(one, img) or np.array_equal(one, img[:, ::-1])
    bright = tf.image.random_brightness(img, 0.1).numpy() - img
    assert np.allclose(bright, bright.flat[0], atol=1e-6) and abs(bright.flat[0]) <= 0.1
    assert tf.image.random_crop(img, [2, 3, 3]).shape == (2, 3, 3)


def test_codecs_round_trip():
    pytest.importorskip("PIL", reason="the codecs need Pillow (the images extra)")
    _, u8 = _misc_image()
    png = tf.image.encode_png(u8)
    assert png.dtype == tf.string and png.numpy()[:4] == b"\x89PNG"
    decoded = tf.image.decode_png(png)
    assert list(decoded.shape) == MISC["image"]["png"] and np.array_equal(decoded.numpy(), u8)
    assert tf.image.decode_image(png, channels=1).shape == (5, 6, 1)
    assert tf.image.decode_png(png, dtype=tf.float32).dtype == tf.float32
    flat = np.full((8, 8, 3), [100, 150, 200], np.uint8)
    jpeg = tf.image.decode_jpeg(tf.image.encode_jpeg(flat, quality=100))
    assert np.abs(jpeg.numpy().astype(int) - flat).max() <= 2  # lossy: close, not equal
    with pytest.raises(tf.errors.InvalidArgumentError, match="decode_png"):
        tf.image.decode_png(b"not an image")


def test_image_errors_name_the_op():
    with pytest.raises(ValueError, match="must have either 3 or 4 dimensions"):
        tf.image.resize(np.zeros((4, 4)), (2, 2))
    with pytest.raises(ValueError, match="crop_to_bounding_box"):
        tf.image.crop_to_bounding_box(np.zeros((4, 4, 1)), 3, 0, 2, 2)
