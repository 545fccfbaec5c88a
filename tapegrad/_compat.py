"""The honest public surface: a TensorFlow name tapegrad lacks raises an AttributeError that says so (and
``hasattr`` stays False); ``docs/compat.md`` lists what each namespace has (``tapegrad/_compat_doc.py``).
"""
from __future__ import annotations

import types

__all__ = ["missing", "module_getattr", "Namespace"]


def missing(namespace: str, name: str) -> AttributeError:
    """The error for `name` looked up in `namespace` (``'tf.keras.layers'``): an AttributeError, so
    ``hasattr`` works; private and dunder names get Python's usual message.

    >>> missing("tf.math", "foo")
    AttributeError('tapegrad does not implement tf.math.foo yet; see docs/compat.md for what is supported')
    """
    if name.startswith("_"):
        return AttributeError(f"module {namespace!r} has no attribute {name!r}")
    return AttributeError(f"tapegrad does not implement {namespace}.{name} yet; see docs/compat.md for "
                          "what is supported")


def module_getattr(namespace: str):
    """A module-level ``__getattr__`` (PEP 562) that raises ``missing(namespace, name)``.

    >>> getter = module_getattr("tf.nn")
    >>> getter("foo")
    Traceback (most recent call last):
    ...
    AttributeError: tapegrad does not implement tf.nn.foo yet; see docs/compat.md for what is supported
    """
    def __getattr__(name):
        raise missing(namespace, name)
    __getattr__.namespace = namespace
    return __getattr__


class Namespace(types.SimpleNamespace):
    """A namespace object (``tf.config.threading``, ``tf.types.experimental``) whose missing names raise
    the honest error.

    >>> ns = Namespace("tf.config.threading", answer=42)
    >>> ns.answer, hasattr(ns, "nothing")
    (42, False)
    """

    def __init__(self, _qualname: str, **members):
        super().__init__(**members)
        object.__setattr__(self, "_qualname", _qualname)

    def __getattr__(self, name):
        raise missing(self._qualname, name)

    def __repr__(self) -> str:
        return f"<namespace {self._qualname}>"
