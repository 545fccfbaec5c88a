"""Per-thread recording state, and the notes a tape keeps for explaining a None gradient.

Its own module because both tensors (a value leaving tapegrad through ``.numpy()``) and
ops (a non-differentiable op on a taped value) write notes, and tensor.py cannot import
the op registry.
"""
from __future__ import annotations

import itertools
import threading

from .source import user_site

# A note: (kind, ids, site, detail).  kind "exit": the value of ids[0] left tapegrad
# (detail: how); "break": a non-differentiable op took ids[:-1] and made ids[-1] (detail:
# the op's name); "watch": tape.watch() of ids[0], an integer tensor (detail: its dtype), the
# user's line for it when its creation is not in the explain() call's scope.  Values computed
# inside stop_recording() go to the tape's _shadow_ids.
next_id = itertools.count(1).__next__  # ids of recorded values, unique in the process

MAX_NOTES = 1000  # a persistent tape in a long loop must not grow without bound


class _State(threading.local):
    """Per-thread recording state: the active tapes and forward accumulators."""

    def __init__(self):
        self.tapes: list = []
        self.accumulators: list = []
        self.graph = None      # the function graph being traced, if any
        self.numerics = None   # tf.debugging.enable_check_numerics: called on every op's output
        self.shadows: list = []  # tapes inside stop_recording(): they note, never record
        self.creation_listeners: list = []  # called with each new Variable (tf.function's tracing rules)
        self.active = False    # any of the above: the one check on the eager hot path

    def refresh(self) -> None:
        """Recompute `active` after removing something (adding just sets it True)."""
        now = self.__dict__  # this thread's attributes: one thread-local lookup instead of six
        now["active"] = bool(now["tapes"] or now["accumulators"] or now["graph"] is not None
                             or now["numerics"] or now["shadows"])


state = _State()


def note_exit(tensor, how: str) -> None:
    """`tensor`'s value is leaving tapegrad (``.numpy()``, ``np.asarray``, ``float()``)."""
    tid = tensor._id
    if not tid:
        return  # never recorded: nothing to explain later
    for tape in state.tapes:
        if tid not in tape._ids and tensor._trainable and tape._watch_accessed:
            tape._watch_variable(tensor)  # TF's .numpy() of a variable is a read: the tape watches it
        if tid in tape._ids:
            tape._note("exit", (tid,), user_site(3), how)


def note_break(op, tensors, out) -> None:
    """A non-differentiable op (or one with an integer result) consumed taped values."""
    for t in tensors:
        if t._id:
            break
    else:
        return  # no input was ever recorded (data, labels): the common case costs one loop
    site = None
    for tape in state.tapes:
        ids, taped = tape._ids, []
        for t in tensors:
            tid = t._id
            if not tid:
                continue
            if tid not in ids and t._trainable and tape._watch_accessed:
                tape._watch_variable(t)  # TF reads a variable with an op of its own: the tape watches it
            if tid in ids:
                taped.append(tid)
        if taped:
            if out._id == 0:  # named, so that explain() can tell a target made by this op
                out._id = next_id()
            if site is None:
                site = user_site(4)
            tape._note("break", tuple(taped) + (out._id,), site, op.name)


def note_shadow(tensors, out) -> None:
    """An op ran inside stop_recording() on values its tape tracks: remember where the chain went."""
    for tape in state.shadows:
        shadow = tape._shadow_ids
        if len(shadow) >= MAX_NOTES:
            continue
        for t in tensors:
            tid = t._id
            if tid and (tid in tape._ids or tid in shadow or
                        (t._trainable and tape._watch_accessed)):
                if out._id == 0:
                    out._id = next_id()
                shadow[out._id] = tape._paused_site
                break
