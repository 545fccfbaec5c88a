"""``tapegrad.inspect``: see what the differentiation does."""
from .graph_view import render, summary, to_dot  # noqa: F401
from .monitor import GradientMonitor, GradientWarning  # noqa: F401
from .hooks import GradientHook, on_gradient  # noqa: F401
from .why import Explanation, Reason, why_none  # noqa: F401
