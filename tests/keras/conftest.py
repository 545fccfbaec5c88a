"""What every Keras test starts from: a clear session and seed 0."""
import pytest

import tapegrad as tf


@pytest.fixture(autouse=True)
def seeded():
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    yield
