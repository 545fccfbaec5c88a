"""``tf.function``.

For now every decorated function runs eagerly (as TensorFlow does under
``tf.config.run_functions_eagerly(True)``): the tracing compiler is the next
piece of work.  The decorator already accepts TensorFlow's signature, so code
written for TensorFlow runs unchanged.
"""
from __future__ import annotations

import functools
import warnings


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_implements=None, experimental_autograph_options=None,
             experimental_attributes=None, experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None):
    """Decorate a function (or method) as ``tf.function``; usable with and without arguments.

    >>> import tapegrad as tf
    >>> @tf.function(experimental_relax_shapes=True)
    ... def double(x):
    ...     return x * 2
    >>> float(double(tf.constant(2.0)))
    4.0
    """
    if experimental_relax_shapes is not None:
        warnings.warn("experimental_relax_shapes is deprecated, use reduce_retracing instead",
                      DeprecationWarning, stacklevel=2)
    if input_signature is not None and not isinstance(input_signature, (list, tuple)):
        raise TypeError(f"input_signature must be either a tuple or a list, got {type(input_signature)}.")

    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            return fn(*args, **kwargs)
        run.python_function = fn
        run.input_signature = input_signature
        return run

    return decorate if func is None else decorate(func)
