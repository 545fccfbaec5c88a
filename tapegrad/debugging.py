"""``tf.debugging``: find where NaN and Inf come from.

>>> import tapegrad as tf
>>> float(tf.debugging.check_numerics(tf.constant(1.0), "fine"))
1.0
"""
from .inspect.numerics import disable_check_numerics, enable_check_numerics
from .ops.debugging import assert_all_finite, check_numerics

from ._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.debugging")  # a name not implemented: an honest AttributeError
