"""``tf.types``: the base classes TF's public types are checked against (``tf.types.experimental``)."""
from __future__ import annotations

import typing

from ._compat import Namespace, module_getattr

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


def _tensor_like():
    """TF's ``TensorLike``: what ``tf.convert_to_tensor`` accepts, as a typing Union."""
    import numpy as np
    from .core.tensor import Tensor
    return typing.Union[Tensor, int, float, bool, str, bytes, complex, tuple, list, np.ndarray, np.generic]


@typing.runtime_checkable
class SupportsTracingProtocol(typing.Protocol):
    """An object that says how a tf.function keys it: ``__tf_tracing_type__(context)`` returns a TraceType.

    >>> isinstance(object(), SupportsTracingProtocol)
    False
    """

    def __tf_tracing_type__(self, context) -> TraceType:
        ...


def _experimental():
    from .compiler.concrete import ConcreteFunction
    from .compiler.function import Function
    return Namespace("tf.types.experimental", TraceType=TraceType, TensorLike=_tensor_like(),
                     SupportsTracingProtocol=SupportsTracingProtocol, ConcreteFunction=ConcreteFunction,
                     GenericFunction=Function, PolymorphicFunction=Function, Callable=typing.Callable)


experimental = _experimental()
__getattr__ = module_getattr("tf.types")
