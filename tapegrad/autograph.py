"""``tf.autograph``: see and control how tf.function converts Python control flow.

>>> import tapegrad as tf
>>> def absolute(x):
...     if x < 0:
...         x = -x
...     return x
>>> "ag__.if_stmt" in tf.autograph.to_code(absolute)
True
>>> float(tf.function(absolute)(tf.constant(-2.0)))
2.0
"""
from __future__ import annotations

import sys as _sys
import types as _types

from .compiler.autograph import do_not_convert, set_loop_options, to_code, to_graph

__all__ = ["do_not_convert", "experimental", "set_verbosity", "to_code", "to_graph", "trace"]


def set_verbosity(level, alsologtostdout=False):
    """TF's AutoGraph verbosity: level > 0 logs what AutoGraph does (at DEBUG, logger "tapegrad").

    >>> import tapegrad as tf
    >>> tf.autograph.set_verbosity(0)
    """
    import logging
    logging.getLogger("tapegrad").setLevel(logging.DEBUG if level > 0 else logging.NOTSET)


def trace(*args):
    """Print the arguments while the function is traced (TF's ``tf.autograph.trace``).

    >>> import tapegrad as tf
    >>> tf.autograph.trace("tracing", 1)
    tracing 1
    """
    print(*args)


experimental = _types.ModuleType(__name__ + ".experimental",
                                 "``tf.autograph.experimental``: do_not_convert, set_loop_options.")
experimental.do_not_convert = do_not_convert
experimental.set_loop_options = set_loop_options
_sys.modules[experimental.__name__] = experimental
