"""``tf.Module`` and ``tf.name_scope``: a named container whose variables and submodules are found by
walking its attributes, as TensorFlow 2 does (attribute names sorted, lists and tuples in order, dict
keys sorted, depth first, each object once); Keras layers are Modules too, with Keras's own order.
"""
from __future__ import annotations

import functools
import re
import threading

from .core.tensor import Variable

__all__ = ["Module", "name_scope"]

_scopes = threading.local()  # the current name scope of each thread ('' at the top)
_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAMEL = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")


def current_name_scope() -> str:
    """The name scope this thread is in: ``''`` at the top, ``'outer/inner/'`` inside two.

    >>> import tapegrad as tf
    >>> with tf.name_scope("outer"):
    ...     current_name_scope()
    'outer/'
    """
    return getattr(_scopes, "name", "")


class name_scope:  # noqa: N801 - TF's name
    """A context that prefixes names: entering it returns the full scope, ``'outer/inner/'``.

    A name ending in ``/`` is absolute (it replaces the current scope); ``''`` is the top.

    >>> import tapegrad as tf
    >>> with tf.name_scope("outer"):
    ...     with tf.name_scope("inner") as scope:
    ...         scope
    'outer/inner/'
    >>> tf.name_scope("block").name
    'block'
    """

    def __init__(self, name):
        if not isinstance(name, str):
            raise ValueError("name for name_scope must be a string.")  # noqa: TRY004 - TF raises ValueError
        self._name = name
        self._saved = threading.local()  # reentrant and shareable between threads (Module.name_scope)

    @property
    def name(self) -> str:
        return self._name

    def __enter__(self) -> str:
        old = current_name_scope()
        if not self._name or self._name.endswith("/"):
            scope = self._name
        else:
            scope = f"{old}{self._name}/"
        stack = self._saved.__dict__.setdefault("stack", [])
        stack.append(old)
        _scopes.name = scope
        return scope

    def __exit__(self, *exc) -> None:
        _scopes.name = self._saved.stack.pop()

    def __repr__(self) -> str:
        return f"name_scope({self._name!r})"


def camel_to_snake(value: str) -> str:
    """A class name as a module name: ``'MyHTTPModule'`` -> ``'my_http_module'``, as TF names modules.

    >>> camel_to_snake("DenseBlock")
    'dense_block'
    """
    return _CAMEL.sub(r"_\1", value).lower()


class Module:
    """A named container of variables and other modules (``tf.Module``).

    ``variables``, ``trainable_variables``, ``non_trainable_variables`` and ``submodules`` are
    found by walking the attributes: names in sorted order, inside lists, tuples and dicts (dict
    keys sorted), this module's own values first, then each submodule's, depth first, each object
    once.  They are tuples, as TF's.

    >>> import tapegrad as tf
    >>> class Dense(tf.Module):
    ...     def __init__(self, n_in, n_out, name=None):
    ...         super().__init__(name=name)
    ...         self.w = tf.Variable(tf.ones([n_in, n_out]), name="w")
    ...         self.b = tf.Variable(tf.zeros([n_out]), name="b")
    ...     def __call__(self, x):
    ...         return tf.matmul(x, self.w) + self.b
    >>> class MLP(tf.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = [Dense(2, 3), Dense(3, 1, name="head")]
    ...         self.scale = tf.Variable(1.0, trainable=False, name="scale")
    >>> mlp = MLP()
    >>> mlp.name, [m.name for m in mlp.submodules]
    ('mlp', ['dense', 'head'])
    >>> [v.name for v in mlp.trainable_variables], [v.name for v in mlp.non_trainable_variables]
    (['b:0', 'w:0', 'b:0', 'w:0'], ['scale:0'])
    """

    def __init__(self, name=None):
        if name is None:
            name = camel_to_snake(type(self).__name__)
        elif not _VALID_NAME.match(name):  # re.match: a non-string raises TypeError, as TF
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid Python "
                             "identifiers (e.g. a valid class name).")
        self._name = name
        with name_scope(name) as scope:
            self._scope_name = scope  # entering later restores the scope the module was made in

    @property
    def name(self) -> str:
        """The module's name (``camel_to_snake`` of its class name unless given)."""
        return self._name

    @property
    def name_scope(self) -> name_scope:
        """A context entering the scope the module was created in, plus its name (``'outer/mlp/'``).

        >>> import tapegrad as tf
        >>> with tf.Module(name="net").name_scope as scope:
        ...     scope
        'net/'
        """
        scope = self.__dict__.get("_scope_name")
        return name_scope(scope if scope is not None else f"{self.name}/")

    @property
    def variables(self) -> tuple:
        """Every Variable of this module and its submodules, in the walk's order."""
        return tuple(_walk(self, _is_variable))

    @property
    def trainable_variables(self) -> tuple:
        """The variables with ``trainable=True``."""
        return tuple(_walk(self, _is_trainable))

    @property
    def non_trainable_variables(self) -> tuple:
        """The variables with ``trainable=False``."""
        return tuple(_walk(self, _is_non_trainable))

    @property
    def submodules(self) -> tuple:
        """Every module held by this one, directly or through other modules (not itself)."""
        return tuple(_walk(self, _is_module))

    @classmethod
    def with_name_scope(cls, method):
        """Decorate a method to run inside the module's ``name_scope``.

        >>> import tapegrad as tf
        >>> class Scoped(tf.Module):
        ...     @tf.Module.with_name_scope
        ...     def __call__(self):
        ...         return current_name_scope()
        >>> Scoped(name="blk")()
        'blk/'
        """
        @functools.wraps(method)
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return wrapped

    def _flatten(self, recursive: bool = True, predicate=None):
        """The values of the walk that ``predicate`` accepts (all when None), as TF's ``_flatten``."""
        return tuple(_walk(self, predicate or _always, recursive))


def _is_variable(x) -> bool:
    return isinstance(x, Variable)


def _is_trainable(x) -> bool:
    return isinstance(x, Variable) and x.trainable


def _is_non_trainable(x) -> bool:
    return isinstance(x, Variable) and not x.trainable


def _is_module(x) -> bool:
    return isinstance(x, Module)


def _always(x) -> bool:
    return True


# what a Module walk never enters: the layers' bookkeeping of functional models
_IGNORED = frozenset(("_inbound", "_scope_name"))


def _walk(module, predicate, recursive: bool = True):
    """Values of `module`'s attributes (then, depth first, its submodules') that `predicate` accepts.

    A loop over an explicit stack, not a recursive generator: deep models do not nest generators.
    """
    seen = {id(module)}
    stack = [module]
    while stack:
        current = stack.pop()
        found = []
        for key in sorted(vars(current)):
            if key in _IGNORED or key.startswith("_keras_"):
                continue
            for leaf in _leaves(vars(current)[key]):
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
                if predicate(leaf):
                    yield leaf
                if recursive and isinstance(leaf, Module):
                    found.append(leaf)
        stack.extend(reversed(found))  # the first submodule is walked next


def _leaves(value):
    """The leaves of `value` in tf.nest's order: lists and tuples in order, dicts by sorted key."""
    out, stack, open_ = [], [value], set()
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            if id(v) not in open_:  # a list holding itself is walked once
                open_.add(id(v))
                stack.extend(reversed(v))
        elif isinstance(v, dict):
            if id(v) not in open_:
                open_.add(id(v))
                try:
                    keys = sorted(v)
                except TypeError:  # keys of mixed types: insertion order
                    keys = list(v)
                stack.extend(v[k] for k in reversed(keys))
        else:
            out.append(v)
    return out
