"""``tf.nn``: activations, losses, normalisation, convolution and pooling."""
from .ops.conv import *  # noqa: F403
from .ops.nn import *  # noqa: F403
