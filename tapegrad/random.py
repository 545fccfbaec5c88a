"""``tf.random``: seeded random tensors."""
from .ops.random import categorical, normal, set_seed, shuffle, truncated_normal, uniform  # noqa: F401
