"""``tf.summary.trace_on`` / ``trace_off`` / ``trace_export``: accepted, with TF's checks and errors.

TensorFlow exports the graphs (and profiles) of the tf.functions run between ``trace_on`` and
``trace_export`` as a summary for TensorBoard's graph dashboard.  tapegrad's traced programs are
not TF GraphDefs (print one with ``concrete.graph`` instead), and it has no profiler, so the export
writes nothing; code written for TF runs unchanged.
"""
from __future__ import annotations

import logging
import threading

from ..core.op import state
from .summaries import _step
from .writer import _state

__all__ = ["trace_export", "trace_off", "trace_on"]

logger = logging.getLogger("tapegrad")
_lock = threading.Lock()
_trace = None  # (graph, profiler) while a trace is on, as TF's process-wide trace context


def trace_on(graph=True, profiler=False, profiler_outdir=None) -> None:
    """Start a trace of the tf.functions run from now on (TF records their graphs and profiles).

    >>> import tapegrad as tf
    >>> tf.summary.trace_on(graph=True)
    >>> tf.summary.trace_off()
    """
    global _trace
    if state.graph is not None:
        logger.warning("Cannot enable trace inside a tf.function.")
        return
    with _lock:
        _trace = (bool(graph), bool(profiler))


def trace_off() -> None:
    """Stop the trace without exporting it.

    >>> import tapegrad as tf
    >>> tf.summary.trace_off()  # no trace on: nothing to do
    """
    global _trace
    with _lock:
        _trace = None


def trace_export(name, step=None, profiler_outdir=None) -> None:
    """Stop the trace and export it under `name` at `step` (TF: its graphs, to the default writer).

    tapegrad writes nothing (see the module's doc).  As TF's: a ValueError without ``trace_on``
    first, or when a default writer is set and neither `step` nor a default step is given.

    >>> import tapegrad as tf
    >>> tf.summary.trace_on(graph=True)
    >>> tf.summary.trace_export(name="my_trace", step=0)
    >>> tf.summary.trace_export(name="again", step=0)
    Traceback (most recent call last):
    ...
    ValueError: Must enable trace before export through tf.summary.trace_on.
    """
    if state.graph is not None:
        logger.warning("Cannot export trace inside a tf.function.")
        return
    with _lock:
        if _trace is None:
            raise ValueError("Must enable trace before export through tf.summary.trace_on.")
    if _state.writer is not None:
        _step(step)  # TF's "No step set" error when there is neither
    trace_off()
