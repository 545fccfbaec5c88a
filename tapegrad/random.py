"""``tf.random``: seeded random tensors."""
from .ops.random import (categorical, normal, set_seed, shuffle, stateless_categorical,  # noqa: F401
                         stateless_normal, stateless_truncated_normal, stateless_uniform, truncated_normal,
                         uniform)
