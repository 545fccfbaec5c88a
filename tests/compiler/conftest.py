"""Every test starts and ends with compiled (not eager) tf.functions."""
import pytest

import tapegrad as tf


@pytest.fixture(autouse=True)
def _compiled_functions():
    tf.config.run_functions_eagerly(False)
    yield
    tf.config.run_functions_eagerly(False)
