"""``tf.linalg``: matrix products, norms, inverses, solves and decompositions."""
from .ops.linalg import *  # noqa: F401,F403
from .ops.reduce import norm  # noqa: F401
from .ops.creation import eye  # noqa: F401
from .ops.inverse import *  # noqa: F401,F403
from .ops.decompositions import *  # noqa: F401,F403
from ._compat import module_getattr as _module_getattr
__getattr__ = _module_getattr("tf.linalg")  # names tapegrad lacks: an honest AttributeError
