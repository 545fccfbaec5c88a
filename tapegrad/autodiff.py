"""``tf.autodiff``: GradientTape and ForwardAccumulator."""
from .core.forward import ForwardAccumulator  # noqa: F401
from .core.tape import GradientTape  # noqa: F401

from ._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.autodiff")  # a name not implemented: an honest AttributeError
