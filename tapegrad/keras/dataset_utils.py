"""Keras 3's ``image_dataset_from_directory`` and ``text_dataset_from_directory``: a folder with one
subfolder per class becomes a batched ``tf.data.Dataset`` of (images or texts, labels).
``timeseries_dataset_from_array`` makes sliding windows (and their targets) over an array.

Files are listed as Keras does (classes in alphanumeric order, each class folder walked in sorted
order), shuffled with ``np.random.RandomState(seed)`` before the training/validation split, so a
seed gives the same split as Keras; the order within an epoch is reshuffled each epoch.
"""

from __future__ import annotations

import os

import numpy as np

from ..core import dtypes
from ..core.spec import TensorSpec
from ..core.tensor import Tensor

__all__ = ["image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array"]

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _walk(folder, formats, follow_links):
    found = []
    for root, dirs, files in os.walk(folder, followlinks=follow_links):
        dirs.sort()
        for f in sorted(files):
            if f.lower().endswith(formats):
                found.append(os.path.join(root, f))
    return found


def index_directory(directory, labels, formats, class_names, shuffle, seed, follow_links, verbose=True):
    """(file paths, labels, class names) as Keras' ``index_directory`` lists them."""
    if labels == "inferred":
        subdirs = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        if class_names is not None:
            if sorted(class_names) != sorted(subdirs) and set(class_names) - set(subdirs):
                raise ValueError(
                    f"The `class_names` passed did not match the names of the subdirectories of the "
                    f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                    f"class_names={class_names}"
                )
            subdirs = list(class_names)
        class_names = subdirs
        paths, found_labels = [], []
        for i, name in enumerate(class_names):
            files = _walk(os.path.join(directory, name), formats, follow_links)
            paths += files
            found_labels += [i] * len(files)
    else:
        paths = _walk(directory, formats, follow_links)
        found_labels = None if labels is None else list(labels)
        if found_labels is not None and len(found_labels) != len(paths):
            raise ValueError(
                f"Expected the lengths of `labels` to match the number of files in the target "
                f"directory. len(labels) is {len(found_labels)} while we found {len(paths)} files in "
                f"directory {directory}."
            )
        class_names = class_names or ([str(c) for c in sorted(set(found_labels))] if found_labels else None)
    if verbose:
        if labels == "inferred" or labels is not None:
            print(f"Found {len(paths)} files belonging to {len(class_names or [])} classes.")
        else:
            print(f"Found {len(paths)} files.")
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        rng = np.random.RandomState(seed)
        rng.shuffle(paths)
        if found_labels is not None:
            rng = np.random.RandomState(seed)
            rng.shuffle(found_labels)
    return paths, found_labels, class_names


def _check_split(validation_split, subset, shuffle, seed):
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split is None) != (subset is None):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
            "to make sure that there is no overlap between the training and validation subset."
        )


def _split(paths, labels, validation_split, subset, verbose=True):
    n_val = int(validation_split * len(paths))
    if subset == "training":
        if verbose:
            print(f"Using {len(paths) - n_val} files for training.")
        return paths[: len(paths) - n_val], None if labels is None else labels[: len(paths) - n_val]
    if verbose:
        print(f"Using {n_val} files for validation.")
    return paths[len(paths) - n_val :], None if labels is None else labels[len(paths) - n_val :]


def _label_array(labels, label_mode, num_classes):
    labels = np.asarray(labels)
    if label_mode == "binary":
        return labels.astype(np.float32).reshape(-1, 1)
    if label_mode == "categorical":
        return np.eye(num_classes, dtype=np.float32)[labels.astype(np.int64)]
    return labels.astype(np.int32)


def _make_dataset(paths, labels, label_mode, class_names, load, spec, batch_size, shuffle, seed):
    from ..data.dataset import Dataset

    labels_arr = (
        None if labels is None or label_mode is None else _label_array(labels, label_mode, len(class_names))
    )
    n = len(paths)
    epoch = [0]

    def make():
        order = np.arange(n)
        if shuffle:  # a new order each epoch, from the seed
            np.random.RandomState(None if seed is None else seed + epoch[0]).shuffle(order)
            epoch[0] += 1
        for i in order:
            x = load(paths[i])
            yield x if labels_arr is None else (x, labels_arr[i])

    if labels_arr is None:
        element = spec
    else:
        element = (spec, TensorSpec(labels_arr.shape[1:], dtypes.as_dtype(labels_arr.dtype)))
    ds = Dataset(make, n, element, "FileDataset")
    if batch_size is not None:
        ds = ds.batch(batch_size)
    ds.class_names = class_names
    ds.file_paths = list(paths)
    return ds


def _both(build, paths, labels, validation_split, subset, verbose):
    if subset == "both":
        train = build(*_split(paths, labels, validation_split, "training", verbose))
        val = build(*_split(paths, labels, validation_split, "validation", verbose))
        return train, val
    if subset is not None:
        return build(*_split(paths, labels, validation_split, subset, verbose))
    return build(paths, labels)


def _check_labels(labels, label_mode, class_names):
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(
            f"`labels` argument should be a list/tuple of integer labels, of length equal to the number "
            f"of files in the target directory. If you wish to infer the labels from the subdirectory "
            f'names in the target directory, pass `labels="inferred"`. If you wish to get a dataset '
            f"that only contains images (no labels), pass `labels=None`. Received: labels={labels}"
        )
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(
            f'`label_mode` argument must be one of "int", "categorical", "binary", or None. '
            f"Received: label_mode={label_mode}"
        )
    if class_names is not None and labels != "inferred":
        raise ValueError(
            "You can only pass `class_names` if `labels='inferred'`. "
            f"Received: labels={labels}, and class_names={class_names}"
        )


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    verbose=True,
):
    """A dataset of ``(images, labels)`` batches from `directory`/<class>/*.{png,jpg,bmp,gif}: images
    float32 ``[batch, *image_size, channels]``, labels int32 (``"int"``), float32 one-hot
    (``"categorical"``) or float32 ``[batch, 1]`` (``"binary"``). ``subset="both"`` gives both.

    >>> import os, tempfile, numpy as np, tapegrad as tf
    >>> root = tempfile.mkdtemp()
    >>> for name in ("cats", "dogs"):
    ...     os.makedirs(os.path.join(root, name))
    ...     tf.keras.utils.save_img(os.path.join(root, name, "a.png"), np.zeros((4, 4, 3)))
    >>> ds = tf.keras.utils.image_dataset_from_directory(root, image_size=(2, 2), verbose=False)
    >>> ds.class_names, [tuple(x.shape) for x, y in ds]
    (['cats', 'dogs'], [(2, 2, 2, 3)])
    """
    from .preprocessing.image import load_array

    _check_labels(labels, label_mode, class_names)
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ValueError(
            f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: color_mode={color_mode}'
        )
    _check_split(validation_split, subset, shuffle, seed)
    seed = np.random.randint(1e6) if shuffle and seed is None else seed
    paths, found, names = index_directory(
        directory, labels, IMAGE_FORMATS, class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(names or []) != 2:
        raise ValueError(
            f'When passing `label_mode="binary"`, there must be exactly 2 class_names. '
            f"Received: class_names={names}"
        )
    if not paths:
        raise ValueError(f"No images found in directory {directory}. Allowed formats: {IMAGE_FORMATS}")
    height, width = (int(s) for s in image_size)

    def load(path):
        from ..ops.image import resize
        from .layers.image_preprocessing import Resizing

        arr = load_array(path, channels)
        if crop_to_aspect_ratio or pad_to_aspect_ratio:
            layer = Resizing(height, width, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio)
            return np.asarray(layer(Tensor(arr.astype(np.float32)))._value)
        return np.asarray(resize(Tensor(arr), [height, width], method=interpolation)._value, np.float32)

    spec = TensorSpec((height, width, channels), dtypes.float32)

    def build(p, lab):
        return _make_dataset(
            p, lab, label_mode if labels is not None else None, names, load, spec, batch_size, shuffle, seed
        )

    return _both(build, paths, found, validation_split, subset, verbose)


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    verbose=True,
):
    """A dataset of ``(texts, labels)`` batches from `directory`/<class>/*.txt; texts are string
    tensors of the files' bytes (cut to `max_length` characters when given).

    >>> import os, tempfile, tapegrad as tf
    >>> root = tempfile.mkdtemp()
    >>> for name in ("neg", "pos"):
    ...     os.makedirs(os.path.join(root, name))
    ...     _ = open(os.path.join(root, name, "a.txt"), "w").write(name + " review")
    >>> ds = tf.keras.utils.text_dataset_from_directory(root, shuffle=False, verbose=False)
    >>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    [([b'neg review', b'pos review'], [0, 1])]
    """
    _check_labels(labels, label_mode, class_names)
    _check_split(validation_split, subset, shuffle, seed)
    seed = np.random.randint(1e6) if shuffle and seed is None else seed
    paths, found, names = index_directory(
        directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(names or []) != 2:
        raise ValueError(
            f'When passing `label_mode="binary"`, there must be exactly 2 class_names. '
            f"Received: class_names={names}"
        )

    def load(path):
        with open(path, "rb") as f:
            data = f.read()
        if max_length is not None:
            data = data.decode("utf-8", "replace")[:max_length].encode("utf-8")
        return np.array(data, dtype="S") if data else np.array(b"", dtype="S1")

    spec = TensorSpec((), dtypes.string)

    def build(p, lab):
        return _make_dataset(
            p, lab, label_mode if labels is not None else None, names, load, spec, batch_size, shuffle, seed
        )

    return _both(build, paths, found, validation_split, subset, verbose)


def _as_numpy(data):
    """An array from a NumPy array, a tensor, a list, or a DataFrame/Series (``to_numpy()``)."""
    if isinstance(data, Tensor):
        return data.numpy()
    to_numpy = getattr(data, "to_numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else data)


def _check_window_args(n, sequence_stride, sampling_rate, start_index, end_index):
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError("`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= n:
            raise ValueError("`end_index` must be lower than the length of the data. Received: "
                             f"end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
        if value >= n:
            raise ValueError(f"`{name}` must be lower than the length of the data. Received: "
                             f"{name}={value}, for data of length {n}")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None,
                                  end_index=None):
    """Sliding windows over `data` (axis 0 is time) as a ``tf.data.Dataset``, as Keras 3 makes them.

    Window ``i`` starts at ``start_index + i * sequence_stride`` and takes `sequence_length` rows,
    `sampling_rate` apart; its target is ``targets[start]`` (the row where the window starts).
    Windows use ``data[start_index:end_index]`` only; with `targets` there are at most
    ``len(targets)`` windows.  `shuffle` shuffles the window order (from `seed`), then batches.

    >>> import numpy as np
    >>> ds = timeseries_dataset_from_array(np.arange(6), np.arange(6) * 10, sequence_length=3,
    ...                                    batch_size=2)
    >>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    [([[0, 1, 2], [1, 2, 3]], [0, 10]), ([[2, 3, 4], [3, 4, 5]], [20, 30])]
    """
    from ..data.dataset import Dataset

    data = _as_numpy(data)
    n = len(data)
    _check_window_args(n, sequence_stride, sampling_rate, start_index, end_index)
    start = start_index or 0
    stop = end_index if end_index is not None else n
    count = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = _as_numpy(targets)
        count = min(count, len(targets))
    starts = np.arange(0, max(count, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1_000_000)
        np.random.RandomState(seed).shuffle(starts)
    offsets = np.arange(sequence_length) * sampling_rate
    window = data[start:stop]
    target = None if targets is None else targets[start:stop]

    def make():
        for s in starts:
            x = window[s + offsets]
            yield x if target is None else (x, target[s])

    x_spec = TensorSpec((None,) + data.shape[1:], dtypes.as_dtype(data.dtype))
    element = x_spec if target is None else (
        x_spec, TensorSpec(target.shape[1:], dtypes.as_dtype(target.dtype)))
    ds = Dataset(make, len(starts), element, "TimeseriesDataset")
    if batch_size is not None:
        if shuffle:
            ds = ds.shuffle(buffer_size=batch_size * 8, seed=seed)
        return ds.batch(batch_size)
    return ds.shuffle(buffer_size=1024, seed=seed) if shuffle else ds
