"""``tf.autodiff``: GradientTape and ForwardAccumulator."""
from .core.tape import GradientTape  # noqa: F401
