"""docs/compat.md, generated from the code: for each TensorFlow namespace, the names tapegrad has.  Run
``python -m tapegrad._compat_doc`` to rewrite it (``--check``: exit 1 when it is stale, writing nothing).

A package, or a module of re-exports (``tf.math``, ``tf.nn``, ...), lists its public names; another module
lists its ``__all__`` when it has one, else the classes and functions it defines itself (helpers it
imports are not its API).
"""
from __future__ import annotations

import importlib
import os
import sys
import types


DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "compat.md")
_REEXPORTS = frozenset(("tapegrad.math", "tapegrad.nn", "tapegrad.linalg", "tapegrad.random", "tapegrad.dtypes",
                        "tapegrad.autodiff", "tapegrad.debugging"))

# The namespaces docs/compat.md lists: (TF's name, where tapegrad keeps it)
NAMESPACES = (
    ("tf", "tapegrad"), ("tf.math", "tapegrad.math"), ("tf.nn", "tapegrad.nn"),
    ("tf.linalg", "tapegrad.linalg"), ("tf.random", "tapegrad.random"), ("tf.dtypes", "tapegrad.dtypes"),
    ("tf.config", "tapegrad.config"), ("tf.config.experimental", "tapegrad.config:experimental"),
    ("tf.config.threading", "tapegrad.config:threading"), ("tf.types.experimental", "tapegrad.types:experimental"),
    ("tf.version", "tapegrad:version"), ("tf.autodiff", "tapegrad.autodiff"), ("tf.data", "tapegrad.data"),
    ("tf.train", "tapegrad.train"), ("tf.summary", "tapegrad.summary"), ("tf.debugging", "tapegrad.debugging"),
    ("tf.errors", "tapegrad.errors"), ("tf.test", "tapegrad.test"), ("tf.keras", "tapegrad.keras"),
    ("tf.keras.layers", "tapegrad.keras.layers"), ("tf.keras.models", "tapegrad.keras.models"),
    ("tf.keras.losses", "tapegrad.keras.losses"), ("tf.keras.metrics", "tapegrad.keras.metrics"),
    ("tf.keras.optimizers", "tapegrad.keras.optimizers"), ("tf.keras.activations", "tapegrad.keras.activations"),
    ("tf.keras.initializers", "tapegrad.keras.initializers"),
    ("tf.keras.regularizers", "tapegrad.keras.regularizers"),
    ("tf.keras.constraints", "tapegrad.keras.constraints"), ("tf.keras.callbacks", "tapegrad.keras.callbacks"),
    ("tf.keras.backend", "tapegrad.keras.backend"), ("tf.keras.utils", "tapegrad.keras.utils"),
    ("tf.keras.datasets", "tapegrad.keras.datasets"), ("tf.keras.saving", "tapegrad.keras.saving"),
    ("tf.keras.mixed_precision", "tapegrad.keras.mixed_precision"),
)
# tapegrad's own modules and helpers that TF has no name for
_INTERNAL = frozenset(("annotations", "core", "ops", "compiler", "apps", "cli", "getitem", "where_indices",
                       "init_ops", "module"))


def _resolve(where: str):
    module, _, attr = where.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def _public(value, namespaces, defined_in) -> bool:
    """A value TF code may use: not a foreign module, function or class (``np``, ``typing.Any``); with
    `defined_in`, only the classes and functions defined in that module."""
    if isinstance(value, types.ModuleType):
        return value.__name__ in namespaces
    owner = getattr(value, "__module__", None) if isinstance(value, (types.FunctionType, type)) else None
    if defined_in is not None:
        return owner == defined_in
    return owner is None or owner.startswith("tapegrad")


def supported(where: str) -> list:
    """The public names of the tapegrad module (or ``module:attribute`` namespace) `where`, sorted.

    >>> "Module" in supported("tapegrad") and "reduce_sum" in supported("tapegrad.math")
    True
    """
    obj = _resolve(where)
    module_names = {m for _, m in NAMESPACES if ":" not in m}
    names, defined_in = dir(obj), None
    if isinstance(obj, types.ModuleType) and hasattr(obj, "__all__"):
        names = obj.__all__  # what dir() shows of a package grows as its lazy names are first used
    elif isinstance(obj, types.ModuleType) and not hasattr(obj, "__path__") and obj.__name__ not in _REEXPORTS:
        defined_in = obj.__name__
    out = []
    for name in sorted(set(names)):
        if name.startswith("_") or name in _INTERNAL:
            continue
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        if _public(value, module_names, defined_in):
            out.append(name)
    return out


def render() -> str:
    """docs/compat.md's text: what each TensorFlow namespace holds in tapegrad.

    >>> render().startswith("# What tapegrad implements")
    True
    """
    lines = ["# What tapegrad implements", "",
             "Generated from the code by `python -m tapegrad._compat_doc`; do not edit by hand.", "",
             ("Code written for TensorFlow 2.21 and Keras 3 runs with `import tapegrad as tf` when it uses the "
             "names below. Any other name raises `AttributeError: tapegrad does not implement tf.X yet` "
             "(so `hasattr` is False). `tf.__version__` is `\"2.21.0\"`, the TensorFlow version whose "
             "behaviour tapegrad follows (code checking for TF 2 takes the TF 2 path); tapegrad's own "
             "version is `tf.__tapegrad_version__` (also `tf.version.TAPEGRAD_VERSION`). Devices: the "
             "CPU only; `tf.device('/GPU:0')` is accepted and runs on the CPU (soft placement)."), ""]
    for tf_name, where in NAMESPACES:
        try:
            names = supported(where)
        except (ImportError, AttributeError):
            continue
        lines += [f"## `{tf_name}` ({len(names)})", "", ", ".join(f"`{n}`" for n in names), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    """Write docs/compat.md (``--check``: exit 1 when it differs from the code instead)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        with open(DOC, encoding="utf-8") as f:
            same = f.read() == text
        print("docs/compat.md is up to date" if same else "docs/compat.md is stale: run python -m tapegrad._compat_doc")
        return 0 if same else 1
    from ._files import atomic_write
    atomic_write(DOC, lambda f: f.write(text.encode("utf-8")))
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
