"""``tf.image``: resizing, cropping, flipping, colour adjustments and PNG/JPEG codecs (re-exports).

>>> import tapegrad as tf
>>> tf.image.flip_left_right(tf.constant([[[1], [2]]])).numpy()[..., 0].tolist()
[[2, 1]]
"""

from .ops.image import ResizeMethod, resize  # noqa: F401
from .ops.image_codec import *
from .ops.image_transform import *
from .ops.image_transform import transpose_image as transpose  # noqa: F401

from ._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.image")  # a name not implemented: an honest AttributeError
