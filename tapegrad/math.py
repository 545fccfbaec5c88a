"""``tf.math``: elementwise math and reductions."""
from .ops.math import *  # noqa: F401,F403
from .ops.math import abs, pow, round  # noqa: F401
from .ops.reduce import *  # noqa: F401,F403
from .ops.indexing import unsorted_segment_sum  # noqa: F401
