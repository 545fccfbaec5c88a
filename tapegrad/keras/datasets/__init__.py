"""Data sets (``tf.keras.datasets``).  ``digits`` is bundled, so everything works offline; ``mnist``
and ``fashion_mnist`` read the files Keras would have downloaded, from where you put them."""
from . import digits, fashion_mnist, mnist  # noqa: F401
