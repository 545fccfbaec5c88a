"""Is AutoGraph on for the code running now?  (Keras converts a layer's ``call`` only then.)

It is while a ``tf.function`` traces with ``autograph=True`` (its root Graph's ``autograph``
attribute, set by Function; absent it is taken as on, tf.function's default), except inside
a ``do_not_convert`` function called by that trace.  Per thread, as tracing is.
"""
from __future__ import annotations

import threading

from ...core.op import state


class _Status(threading.local):
    disabled = None   # the root graph of the trace a do_not_convert function runs in


_status = _Status()


def enabled_in_trace() -> bool:
    """Does the trace running now convert code (a tf.function tracing with autograph on)?"""
    graph = state.graph
    if graph is None:
        return False
    root = graph.root
    return getattr(root, "autograph", True) is not False and _status.disabled is not root


class disabled:
    """Within: code the current trace runs is not converted (a do_not_convert function)."""

    __slots__ = ("_saved",)

    def __enter__(self):
        self._saved = _status.disabled
        graph = state.graph
        _status.disabled = graph.root if graph is not None else None

    def __exit__(self, *exc):
        _status.disabled = self._saved
