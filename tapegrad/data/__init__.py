"""``tf.data``: input pipelines."""
from .dataset import AUTOTUNE, Dataset  # noqa: F401
