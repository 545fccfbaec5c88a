"""Keras layers (``tf.keras.layers``)."""
from .base import Layer  # noqa: F401
