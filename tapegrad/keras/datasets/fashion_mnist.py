"""Fashion-MNIST (28×28 clothing images, 10 classes), from files you provide (never downloaded).

The four IDX files are looked up where Keras keeps them, ``~/.keras/datasets/fashion-mnist/``; an
``.npz`` with keys x_train, y_train, x_test, y_test works too.
"""
from __future__ import annotations

from ._files import load


def load_data(path="fashion-mnist"):
    """Return ``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.fashion_mnist.load_data``
    does: uint8 images (n, 28, 28) and uint8 labels 0-9 (T-shirt/top, Trouser, ..., Ankle boot).

    `path` is a folder holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` (gzipped as Zalando ships
    them, or not), or an ``.npz`` file; a relative path that does not exist is looked up in
    ``~/.keras/datasets``.  Without the files: FileNotFoundError saying where to put which file.

    >>> import os, struct, tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> def idx(name, array):
    ...     with open(os.path.join(folder, name), "wb") as f:
    ...         _ = f.write(struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
    ...         _ = f.write(array.tobytes())
    >>> idx("train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    >>> idx("train-labels-idx1-ubyte", np.array([9, 0, 0], np.uint8))
    >>> idx("t10k-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    >>> idx("t10k-labels-idx1-ubyte", np.array([2], np.uint8))
    >>> (x_train, y_train), _ = load_data(folder)
    >>> x_train.shape, y_train.tolist()
    ((3, 28, 28), [9, 0, 0])
    """
    return load(path, "fashion_mnist", "fashion-mnist")
