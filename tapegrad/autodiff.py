"""``tf.autodiff``: GradientTape and ForwardAccumulator."""
from .core.forward import ForwardAccumulator  # noqa: F401
from .core.tape import GradientTape  # noqa: F401
