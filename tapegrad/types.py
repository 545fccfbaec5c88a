"""``tf.types``: the base classes TF's public types are checked against (``tf.types.experimental``)."""
from __future__ import annotations

import types as _types

__all__ = ["experimental"]


class TraceType:
    """What a tf.function keys an argument by: an object's ``__tf_tracing_type__(context)`` returns
    one, and the function reuses a trace for a call whose type is a subtype of the traced one.

    Subclasses implement ``is_subtype_of(other)``, ``most_specific_common_supertype(others)``,
    ``placeholder_value(placeholder_context)`` (what the trace is given), ``__eq__`` and
    ``__hash__``.
    """

    def is_subtype_of(self, other) -> bool:
        raise NotImplementedError

    def most_specific_common_supertype(self, others):
        raise NotImplementedError

    def placeholder_value(self, placeholder_context=None):
        raise NotImplementedError


experimental = _types.SimpleNamespace(TraceType=TraceType)
