"""``tf.linalg``: matrix products and norms."""
from .ops.linalg import *  # noqa: F401,F403
from .ops.reduce import norm  # noqa: F401
from .ops.creation import eye  # noqa: F401
