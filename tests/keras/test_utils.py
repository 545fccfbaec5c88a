"""tf.keras.utils and tf.keras.backend."""
import math
import random

import numpy as np
import pytest

import tapegrad as tf

keras = tf.keras


def test_set_random_seed_repeats_python_numpy_and_tapegrad_draws():
    def draws():
        return random.random(), np.random.rand(), tf.random.normal([3]).numpy().tolist()

    keras.utils.set_random_seed(1234)
    first = draws()
    keras.utils.set_random_seed(1234)
    assert draws() == first
    keras.utils.set_random_seed(2**40)  # larger than NumPy's 32-bit legacy seed
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer"):
        keras.utils.set_random_seed(1.5)


class Batches(keras.utils.Sequence):
    def __init__(self, n, batch_size):
        super().__init__()
        self.data = np.arange(n)
        self.batch_size = batch_size
        self.epochs = 0

    def __len__(self):
        return math.ceil(len(self.data) / self.batch_size)

    def __getitem__(self, index):
        return self.data[index * self.batch_size:(index + 1) * self.batch_size]

    def on_epoch_end(self):
        self.epochs += 1
        self.data = self.data[::-1]


def test_sequence_iterates_its_batches_and_ends():
    ds = Batches(5, batch_size=2)
    assert len(ds) == ds.num_batches == 3
    assert [b.tolist() for b in ds] == [[0, 1], [2, 3], [4]]
    ds.on_epoch_end()
    assert [b.tolist() for b in ds] == [[4, 3], [2, 1], [0]] and ds.epochs == 1
    assert keras.utils.PyDataset is keras.utils.Sequence


def test_sequence_without_methods_says_what_is_missing():
    class Empty(keras.utils.Sequence):
        pass
    with pytest.raises(NotImplementedError, match="must define `__len__"):
        list(Empty())
    assert Empty().num_batches is None


def test_to_categorical():
    out = keras.utils.to_categorical(np.array([[1], [0], [2]]))
    assert out.shape == (3, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.eye(3)[[1, 0, 2]])
    assert keras.utils.to_categorical([[0, 1], [1, 0]], num_classes=2).shape == (2, 2, 2)
    np.testing.assert_array_equal(keras.utils.to_categorical(tf.constant([1, 0])), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        keras.utils.to_categorical([0, 2], num_classes=2)
    with pytest.raises(ValueError, match="integer class labels"):
        keras.utils.to_categorical([0.5])


def test_normalize_numpy_and_tensor():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize(x, axis=0, order=1), [[1.0, 1.0], [0.0, 0.0]])
    t = tf.constant([[3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = keras.utils.normalize(t)
        total = tf.reduce_sum(y)
    np.testing.assert_allclose(y.numpy(), [[0.6, 0.8]], rtol=1e-6)
    # d/dx of (x0 + x1) / |x| at (3, 4): (|x|^2 - x0 (x0 + x1)) / |x|^3 and the same for x1
    np.testing.assert_allclose(tape.gradient(total, t).numpy(), [[(25 - 21) / 125, (25 - 28) / 125]],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="`order` must be an int >= 1"):
        keras.utils.normalize(x, order=0)


def test_backend_settings_and_clear_session():
    assert keras.backend.floatx() == "float32" and keras.backend.epsilon() == 1e-7
    keras.backend.clear_session()
    first = keras.layers.Dense(1).name
    keras.layers.Dense(1)
    keras.backend.clear_session()
    assert first == keras.layers.Dense(1).name == "dense"
