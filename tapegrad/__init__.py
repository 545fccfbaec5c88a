"""tapegrad: automatic differentiation with a GradientTape, TensorFlow 2 style, on NumPy.

>>> import tapegrad as tf
>>> w = tf.Variable(2.0)
>>> with tf.GradientTape() as tape:
...     loss = w * w + 3.0 * w
>>> float(tape.gradient(loss, w))
7.0
"""
from __future__ import annotations

from .core.dtypes import (DType, as_dtype, bool_ as bool, complex64, complex128, double, float16,
                          float32, float64, half, int8, int16, int32, int64, string, uint8, uint16,
                          uint32, uint64)
from .core.shape import TensorShape
from .core.spec import TensorSpec
from .core.sparse import IndexedSlices
from .core.tape import GradientTape, UnconnectedGradients
from .core.custom_gradient import custom_gradient
from .core.op import init_scope
from .core.tensor import Tensor, Variable, constant, convert_to_tensor, is_tensor
from . import errors
from . import ops as _ops
from .ops.math import *  # noqa: F401,F403
from .ops.array import *  # noqa: F401,F403
from .ops.creation import *  # noqa: F401,F403
from .ops.indexing import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.linalg import einsum, matmul, tensordot  # noqa: F401
from .ops.clip import *  # noqa: F401,F403
from .ops.math import abs, pow, round  # noqa: A004 - TF's names shadow builtins on purpose
from .ops.creation import range  # noqa: A004
from .ops.indexing import slice  # noqa: A004
from .ops.logging import print_ as print  # noqa: A004 - tf.print
from .compiler import function  # noqa: F401
from . import math, linalg, autodiff  # noqa: F401

from .module import Module, name_scope  # noqa: F401
from ._eager import device, executing_eagerly  # noqa: F401
from .init_ops import (constant_initializer, ones_initializer, random_normal_initializer,  # noqa: F401
                       random_uniform_initializer, zeros_initializer)
from ._compat import Namespace as _Namespace, missing as _missing

# The TensorFlow version whose behaviour tapegrad follows: code that checks for TF 2 takes the TF 2 path.
# tapegrad's own version is __tapegrad_version__ (the package's, in pyproject.toml).
__version__ = "2.21.0"
__tapegrad_version__ = "0.1.0"
version = _Namespace("tf.version", VERSION=__version__, GIT_VERSION="v2.21.0", COMPILER_VERSION="",
                     GRAPH_DEF_VERSION=0, TAPEGRAD_VERSION=__tapegrad_version__)


def __getattr__(name):
    """Load the heavier packages (keras, data, nn, random, ...) on first use: import stays fast."""
    import importlib
    if name in _LAZY_PACKAGES or name in _LAZY_ALIASES:
        module = importlib.import_module(f"{__name__}.{_LAZY_ALIASES.get(name, name)}")
        globals()[name] = module
        return module
    if name in _LAZY_OPS:
        value = getattr(importlib.import_module(f"{__name__}.ops.{_LAZY_OPS[name]}"), name)
        globals()[name] = value
        return value
    raise _missing("tf", name)


def __dir__():
    return sorted((set(globals()) | set(_LAZY_PACKAGES) | set(_LAZY_ALIASES) | set(_LAZY_OPS)) - _HIDDEN)


# module objects and helpers that are tapegrad's own, not TensorFlow names: kept out of dir(tf)
_HIDDEN = {"annotations", "core", "ops", "compiler", "getitem", "where_indices", "init_ops", "module"}


_LAZY_PACKAGES = ("keras", "data", "inspect", "train", "summary", "config", "debugging", "test", "nn", "random",
                  "autograph", "dtypes", "types", "image", "strings", "compat")
# TF 2's short names for Keras namespaces (tf.metrics is tf.keras.metrics)
_LAZY_ALIASES = {"metrics": "keras.metrics", "losses": "keras.losses", "optimizers": "keras.optimizers",
                 "initializers": "keras.initializers"}
# control flow and the functions over elements: loaded on first use, as the packages
_LAZY_OPS = {"case": "control_flow", "cond": "control_flow", "switch_case": "control_flow",
             "while_loop": "control_flow", "TensorArray": "tensor_array", "foldl": "functional",
             "foldr": "functional", "map_fn": "functional", "scan": "functional", "vectorized_map": "functional",
             "py_function": "script", "numpy_function": "script"}
_LAZY_OPS.update({"sort": "sorting", "argsort": "sorting", "unique": "sorting", "unique_with_counts": "sorting",
                  "searchsorted": "sorting"})
