"""``tf.random``: seeded random tensors."""
from .ops.random import (categorical, normal, set_seed, shuffle, stateless_categorical,  # noqa: F401
                         stateless_normal, stateless_truncated_normal, stateless_uniform, truncated_normal,
                         uniform)

from ._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.random")  # a name not implemented: an honest AttributeError
