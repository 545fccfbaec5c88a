"""AutoGraph: Python control flow on tensors, converted to tf.cond and tf.while_loop.

``tf.function`` converts the function it traces (``autograph=True``, the default): its
source is transformed (transformer.py, after lowering.py, with analysis.py's liveness) so
that each ``if``, ``while``, ``for``, conditional expression and ``and``/``or``/``not``
calls a runtime operator (operators.py, py_builtins.py), and each call converts the
function it calls (conversion.py).  At trace time an operator runs plain Python unless its
condition (or iterated value) is a traced tensor; then it stages ``tf.cond`` or
``tf.while_loop``, with TensorFlow 2.21's semantics and errors.

>>> import tapegrad as tf
>>> @tf.function
... def collatz(n):
...     steps = 0
...     while n != 1:
...         n = n // 2 if n % 2 == 0 else 3 * n + 1
...         steps += 1
...     return steps
>>> int(collatz(tf.constant(6))), int(collatz(tf.constant(27))), collatz.experimental_get_tracing_count()
(8, 111, 1)
"""
from .context import enabled_in_trace
from .conversion import convert, converted_call, do_not_convert, enabled_call, to_code, to_graph
from .operators import set_loop_options

__all__ = [
           "convert",
           "converted_call",
           "do_not_convert",
           "enabled_call",
           "enabled_in_trace",
           "set_loop_options",
           "to_code",
           "to_graph",
]
