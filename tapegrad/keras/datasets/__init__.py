"""Data sets (``tf.keras.datasets``).  ``digits`` is bundled, so everything works offline."""
from . import digits  # noqa: F401
