"""image_dataset_from_directory / text_dataset_from_directory against Keras 3.15 (recorded)."""

import json
import os

import numpy as np
import pytest

import tapegrad as tf


def _load(path):
    with open(path) as f:
        return json.load(f)


REF = _load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "image_strings_tf221.json"))["dir"]


@pytest.fixture
def images(tmp_path):
    pytest.importorskip("PIL", reason="reading image files needs Pillow (the images extra)")
    rng = np.random.default_rng(1)
    rng.uniform(0, 1, (5, 6, 3))  # the recording drew this first
    for c, n in (("cat", 3), ("dog", 2)):
        os.makedirs(tmp_path / c)
        for i in range(n):
            png = tf.image.encode_png(rng.integers(0, 255, (6 + i, 8, 3), dtype=np.uint8)).numpy()
            (tmp_path / c / f"{i}.png").write_bytes(png)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    return str(tmp_path)


def _rel(paths, root):
    return [os.path.relpath(p, root) for p in paths]


def test_images_labels_and_order_match_keras(images, capsys):
    ds = tf.keras.utils.image_dataset_from_directory(images, image_size=(4, 5), batch_size=8, shuffle=False)
    assert "Found 5 files belonging to 2 classes." in capsys.readouterr().out
    x, y = next(iter(ds))
    assert ds.class_names == REF["class_names"] and _rel(ds.file_paths, images) == REF["file_paths"]
    assert [x.dtype.name, y.dtype.name] == REF["dtype"]
    np.testing.assert_allclose(x.numpy(), np.array(REF["x"]), rtol=1e-5, atol=1e-3)
    assert y.numpy().tolist() == REF["y"]


def test_split_with_a_seed_matches_keras(images):
    train, val = tf.keras.utils.image_dataset_from_directory(
        images,
        image_size=(4, 5),
        validation_split=0.4,
        subset="both",
        seed=7,
        label_mode="categorical",
        verbose=False,
    )
    assert (
        _rel(train.file_paths, images) == REF["train_paths"]
        and _rel(val.file_paths, images) == REF["val_paths"]
    )
    assert [str(train.element_spec[1].shape), train.element_spec[1].dtype.name] == REF["cat_spec"]
    assert sum(int(y.shape[0]) for _, y in train) == 3 and sum(int(y.shape[0]) for _, y in val) == 2
    only = tf.keras.utils.image_dataset_from_directory(
        images, image_size=(4, 5), validation_split=0.4, subset="validation", seed=7, verbose=False
    )
    assert _rel(only.file_paths, images) == REF["val_paths"]


def test_binary_grayscale_and_no_labels(images):
    ds = tf.keras.utils.image_dataset_from_directory(
        images, image_size=(4, 5), label_mode="binary", shuffle=False, color_mode="grayscale", verbose=False
    )
    x, y = next(iter(ds))
    assert [list(x.shape), y.numpy().tolist()] == REF["binary"]
    bare = tf.keras.utils.image_dataset_from_directory(
        images, labels=None, image_size=(2, 2), batch_size=2, shuffle=False, verbose=False
    )
    assert [tuple(b.shape) for b in bare] == [(2, 2, 2, 3), (2, 2, 2, 3), (1, 2, 2, 3)]


def test_argument_errors_as_keras(images):
    with pytest.raises(ValueError, match="you must provide a `seed` argument"):
        tf.keras.utils.image_dataset_from_directory(images, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="`label_mode` argument must be one of"):
        tf.keras.utils.image_dataset_from_directory(images, label_mode="sparse")
    with pytest.raises(ValueError, match="If `subset` is set, `validation_split` must be set"):
        tf.keras.utils.image_dataset_from_directory(images, subset="training")


def test_text_dataset(tmp_path):
    for label, texts in (("neg", ["bad", "awful film"]), ("pos", ["great"])):
        os.makedirs(tmp_path / label)
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t)
    ds = tf.keras.utils.text_dataset_from_directory(
        str(tmp_path), batch_size=2, shuffle=False, max_length=4, verbose=False
    )
    assert ds.class_names == ["neg", "pos"]
    batches = [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    assert batches == [([b"bad", b"awfu"], [0, 0]), ([b"grea"], [1])]
    assert ds.element_spec[0].dtype == tf.string


def test_image_file_helpers(tmp_path):
    pytest.importorskip("PIL", reason="image files need Pillow (the images extra)")
    path = str(tmp_path / "x.png")
    arr = np.arange(24, dtype=np.float32).reshape(2, 4, 3) * 10
    tf.keras.utils.save_img(path, arr, scale=False)
    img = tf.keras.preprocessing.image.load_img(path)
    assert img.size == (4, 2)
    back = tf.keras.preprocessing.image.img_to_array(img)
    assert back.dtype == np.float32 and np.array_equal(back, arr)
    assert tf.keras.utils.img_to_array(tf.keras.utils.load_img(path, color_mode="grayscale")).shape == (
        2,
        4,
        1,
    )
    assert tf.keras.utils.load_img(path, target_size=(3, 3)).size == (3, 3)
    scaled = tf.keras.utils.img_to_array(tf.keras.utils.array_to_img(arr))
    assert scaled.min() == 0 and scaled.max() == 255
