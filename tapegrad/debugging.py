"""``tf.debugging``: find where NaN and Inf come from.

>>> import tapegrad as tf
>>> float(tf.debugging.check_numerics(tf.constant(1.0), "fine"))
1.0
"""
from .inspect.numerics import disable_check_numerics, enable_check_numerics
from .ops.debugging import assert_all_finite, check_numerics
