"""``tf.nn``: activations, losses, normalisation, convolution and pooling."""
from .ops.conv import *  # noqa: F403
from .ops.nn import *  # noqa: F403
from .ops.sorting import top_k  # noqa: F401
from ._compat import module_getattr as _module_getattr
__getattr__ = _module_getattr("tf.nn")  # names tapegrad lacks: an honest AttributeError
