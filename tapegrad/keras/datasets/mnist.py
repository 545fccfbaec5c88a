"""MNIST handwritten digits (28×28, 60,000 + 10,000), from files you provide (never downloaded).

Keras's ``mnist.npz`` is looked up where Keras keeps it, ``~/.keras/datasets/mnist.npz``; a folder
with the four original IDX files works too.
"""
from __future__ import annotations

from ._files import load


def load_data(path="mnist.npz"):
    """Return ``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.mnist.load_data`` does:
    uint8 images (n, 28, 28) in 0-255 and uint8 labels 0-9.

    `path` is Keras's ``mnist.npz`` (keys x_train, y_train, x_test, y_test) or a folder holding
    ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``
    and ``t10k-labels-idx1-ubyte[.gz]``; a relative path that does not exist is looked up in
    ``~/.keras/datasets`` (``$KERAS_HOME/datasets``).  Without the file: FileNotFoundError saying
    where to put which file.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "mnist.npz")
    >>> np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.array([3, 4], np.uint8),
    ...          x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.array([5], np.uint8))
    >>> (x_train, y_train), (x_test, y_test) = load_data(path)
    >>> x_train.shape, y_train.tolist(), x_test.dtype
    ((2, 28, 28), [3, 4], dtype('uint8'))
    """
    return load(path, "mnist", "mnist.npz")
