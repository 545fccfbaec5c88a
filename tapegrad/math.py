"""``tf.math``: elementwise math and reductions."""
from .ops.math import *  # noqa: F401,F403
from .ops.math import abs, pow, round  # noqa: F401
from .ops.reduce import *  # noqa: F401,F403
from .ops.indexing import unsorted_segment_sum  # noqa: F401
from .ops.sorting import (argsort, bincount, invert_permutation, sort, top_k,  # noqa: F401
                          unsorted_segment_max, unsorted_segment_mean, unsorted_segment_min)
from ._compat import module_getattr as _module_getattr
__getattr__ = _module_getattr("tf.math")  # names tapegrad lacks: an honest AttributeError
