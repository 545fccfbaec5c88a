"""``tf.strings``: joining, splitting, case, regular expressions and number parsing (re-exports).

>>> import tapegrad as tf
>>> tf.strings.join(["a", "b"], separator="+").numpy()
b'a+b'
"""

from .ops.strings import *
from .ops.strings import format  # noqa: F401 - TF's name shadows the builtin on purpose

from ._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.strings")  # a name not implemented: an honest AttributeError
