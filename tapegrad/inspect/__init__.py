"""``tapegrad.inspect``: see what the differentiation does."""
from .graph_view import render, summary, to_dot  # noqa: F401
