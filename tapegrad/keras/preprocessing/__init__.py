"""``tf.keras.preprocessing``: image file helpers (``image.load_img`` ...) and the dataset builders.

>>> import tapegrad as tf
>>> tf.keras.preprocessing.image.img_to_array([[1, 2]]).shape
(1, 2, 1)
"""

from ..dataset_utils import image_dataset_from_directory, text_dataset_from_directory  # noqa: F401
from . import image  # noqa: F401
