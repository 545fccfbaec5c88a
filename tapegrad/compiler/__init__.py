"""The compiler behind ``tf.function``: trace a Python function into a program, run it as Python.

graph.py (the traced program and tracing), function.py (trace cache, TF's retracing rules,
calls), interpret.py (running a program op by op), passes.py (optimisations, lint),
inplace.py (buffer reuse), codegen.py (the program as Python source), signature.py (trace
types), control_flow.py (cond and while_loop as ops with sub-programs), autograph (Python
control flow on tensors converted to them).
"""
from __future__ import annotations

import warnings


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_implements=None, experimental_autograph_options=None,
             experimental_attributes=None, experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None):
    """Decorate a function (or method) as ``tf.function``; usable with and without arguments.

    >>> import tapegrad as tf
    >>> @tf.function(reduce_retracing=True)
    ... def double(x):
    ...     return x * 2
    >>> float(double(tf.constant(2.0))), double.experimental_get_tracing_count()
    (4.0, 1)
    """
    if experimental_relax_shapes is not None:
        warnings.warn("experimental_relax_shapes is deprecated, use reduce_retracing instead",
                      DeprecationWarning, stacklevel=2)
        reduce_retracing = reduce_retracing or bool(experimental_relax_shapes)
    if experimental_compile is not None and jit_compile is None:
        jit_compile = experimental_compile
    if input_signature is not None and not isinstance(input_signature, (list, tuple)):
        raise TypeError(f"input_signature must be either a tuple or a list, got {type(input_signature)}.")

    def decorate(fn):
        from .function import Function  # the compiler loads on first use: import tapegrad stays fast
        return Function(fn, input_signature=input_signature, reduce_retracing=reduce_retracing,
                        autograph=autograph, jit_compile=jit_compile)

    return decorate if func is None else decorate(func)
