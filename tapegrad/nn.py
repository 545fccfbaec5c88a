"""``tf.nn``: activations, losses, normalisation, convolution and pooling."""
from .ops.nn import *  # noqa: F401,F403
