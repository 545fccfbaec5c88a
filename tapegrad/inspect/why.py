"""Why a gradient is None: the cause in plain words, with the user's line.

TensorFlow answers a disconnected source with a silent None (and, later, "No gradients
provided for any variable").  The tape knows more: what it watched, what it recorded, and
- from the notes it keeps (``core/state.py``) - where a taped value left tapegrad, went
through a non-differentiable op, or was computed inside ``stop_recording()``, or which
integer tensor it was asked to watch.  The user's own source (``_user_source.py``, read with
``ast`` as tracebacks read it) names the expressions and finds the lines that rebind a
variable, make an integer source, or compute the target - or a value it uses - outside the tape.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from ..core.nest import flatten
from ..core.source import format_site
from ..core.tape import on_path
from ..core.tensor import Tensor, Variable
from ._user_source import CallSite, as_float, computed, in_place, origins

__all__ = ["why_none", "Explanation", "Reason"]


@dataclass(frozen=True)
class Reason:
    """Why one source gets no gradient: `cause` is a short code, `message` the plain words."""
    source: str
    cause: str
    message: str
    site: tuple | None = None    # the user's (code, offset) the message points at
    source_id: int = 0

    @property
    def where(self) -> str:
        return format_site(self.site) if self.site is not None else ""

    def __str__(self) -> str:
        at = f"\n    at {self.where}" if self.site is not None else ""
        return f"{self.source}: no gradient - {self.message}{at}"


class Explanation(tuple):
    """The Reasons of every source whose gradient is None (empty when all are connected)."""

    @property
    def causes(self) -> list[str]:
        return [r.cause for r in self]

    def __str__(self) -> str:
        return "\n".join(str(r) for r in self) if self else "every source gets a gradient"

    def __repr__(self) -> str:
        return str(self)


def why_none(tape, target, sources) -> Explanation:
    """Why `tape.gradient(target, sources)` gives None for some sources (``tape.explain``).

    >>> import tapegrad as tf
    >>> w = tf.Variable(2.0)
    >>> with tf.GradientTape() as tape:
    ...     y = tf.round(w * 1.5)
    >>> print(tf.inspect.why_none(tape, y, w))  # doctest: +ELLIPSIS
    w: no gradient - w reaches y only through round, which has no gradient ...
        at <doctest ...>:2 (in <module>)
    """
    from ..core.source import user_site
    return explain(tape, target, sources, user_site(2))


def explain(tape, target, sources, site, flat_sources=None, results=None) -> Explanation:
    """The Explanation for the user's call at `site`; `results` (from gradient) say which are None."""
    if tape._eqns is None and tape._last_use is None:
        raise RuntimeError("This GradientTape has recorded nothing yet: use it in a `with` block (or watch "
                           "something) before asking why a gradient is None.")
    if tape._eqns is None:  # used up by gradient(): it can answer only about that call
        last = tape._last_use
        if last is not None and _same(last[0], flatten(target)) and _same(last[1], flatten(sources)):
            return tape._explained or Explanation(())
        raise RuntimeError("This GradientTape was used by gradient() for other targets or sources and has "
                           "let go of its record. Call explain() before gradient(), or make the tape with "
                           "persistent=True.")
    call = CallSite.find(site)
    flat_sources = flatten(sources) if flat_sources is None else flat_sources
    targets = [t for t in flatten(target) if isinstance(t, Tensor)]
    names = call.source_names(len(flat_sources))
    if not flat_sources:
        return Explanation([_no_sources(call, site)])
    context = _Context(tape, targets, call, site)
    reasons = []
    for i, s in enumerate(flat_sources):
        if results is not None and results[i] is not None:
            continue
        reason = context.why(s, names[i])
        if reason is not None:
            reasons.append(reason)
    return Explanation(reasons)


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


class _Context:
    """One explain() call: the tape, its targets and what the user's source says."""

    def __init__(self, tape, targets, call, site):
        self.tape, self.targets, self.call, self.site = tape, targets, call, site
        self.target_name = call.target_name or "the target"
        self._roles = None
        self.block = call.with_block(tape._site)  # (first, last) line of the tape's `with`, if known

    def why(self, s, name: str) -> Reason | None:
        tape = self.tape
        if not isinstance(s, Tensor):
            return Reason(name, "not_a_tensor", f"it is a {type(s).__name__}, not a tf.Tensor or tf.Variable",
                          self.site)
        sid = s._id
        if s._value.dtype.kind not in "fc":
            return self._integer_source(s, name)
        if self.targets and all(t._value.dtype.kind not in "fc" for t in self.targets):
            t = self.targets[0]
            made = self._made_by(t)
            how = f" (made by {made[1]} at {format_site(made[0])})" if made else ""
            return Reason(name, "integer_target",
                          f"{self.target_name} has dtype {t._value.dtype.name}{how}: an integer or bool "
                          f"result has no gradient. Differentiate a float loss instead",
                          made[0] if made else self.site, sid)
        shadowed = next((t for t in self.targets if t._id in tape._shadow_ids), None)
        if shadowed is not None and sid not in tape._ids:
            return self._paused(name, shadowed, sid)
        if type(s) is Variable and sid not in tape._variables:
            return self._unseen_variable(s, name)
        if type(s) is not Variable and sid not in tape._ids and sid not in tape._shadow_ids:
            return self._unwatched_tensor(s, name)
        return self._disconnected(s, name)

    # -- an integer source -------------------------------------------------------------------------
    def _integer_source(self, s, name: str) -> Reason:
        made = self.call.last_assignment(name)
        site = s._site if type(s) is Variable else self.call.site_at(made.line) if made else None
        if site is None:  # not assigned where explain() was called: the line that watched it, if any
            site = next((n[2] for n in self.tape._notes or () if n[0] == "watch" and n[1][0] == s._id),
                        self.site)
        fix = as_float(made.value) if made is not None else None
        how = f"Create it as a float: `{fix}`" if fix else \
            "Create it as a float (e.g. tf.constant(3.0), or dtype=tf.float32 where it is made)"
        return Reason(name, "integer_dtype",
                      f"{name} has dtype {s._value.dtype.name}: gradients flow only to floating-point "
                      f"tensors. {how}, or tf.cast({name}, tf.float32) before the tape - TensorFlow returns "
                      f"None here too", site, s._id)

    # -- a variable the tape never read or watched -------------------------------------------------
    def _unseen_variable(self, v, name: str) -> Reason:
        tape = self.tape
        if not v.trainable and tape._watch_accessed:
            return Reason(name, "non_trainable",
                          f"{name} is a non-trainable variable (trainable=False), and a tape watches only "
                          f"trainable variables when they are read. Call tape.watch({name}) inside the tape, "
                          f"or create it trainable", v._site, v._id)
        if not tape._watch_accessed:
            return Reason(name, "watch_accessed_off",
                          f"the tape was made with watch_accessed_variables=False and {name} was never "
                          f"passed to tape.watch(). Call tape.watch({name}) inside the tape",
                          tape._site, v._id)
        twin = self._look_alikes().get(_role(v))
        twin = twin if twin is not v else None
        if twin is not None:
            return Reason(name, "other_variable",
                          f"the tape read a different variable of the same kind and shape, "
                          f"{getattr(twin, 'path', twin.name)!r} (created at {format_site(twin._site)}), not "
                          f"this one, {getattr(v, 'path', v.name)!r} (created at {format_site(v._site)}). "
                          f"The model or layer was probably built again after these variables were listed: "
                          f"take the variables from the model that computed {self.target_name}",
                          v._site, v._id)
        early = self._before_tape(v, name) or self._target_outside(v, name)
        if early is not None:
            return early
        layer = _layer_of(v)
        ask = f"Was its layer, {layer!r}, called inside the `with tf.GradientTape()` block?" if layer else \
            f"Use it in computing {self.target_name} inside the `with tf.GradientTape()` block, or leave " \
            f"it out of the sources"
        return Reason(name, "variable_unused",
                      f"the tape never read {name} (created at {format_site(v._site)}): {self.target_name} "
                      f"was computed without using it inside the tape. {ask}", tape._site, v._id)

    # -- a plain tensor the tape never watched -----------------------------------------------------
    def _unwatched_tensor(self, s, name: str) -> Reason:
        rebind = self.call.rebinding(name)
        if rebind is not None:
            block = self.block
            when = f", before the tape began recording at line {block[0]}," if block and \
                rebind.line < block[0] else ""
            return Reason(name, "rebound_variable",
                          f"line {rebind.line}{when} rebinds {name} to a new tensor (`{rebind.text}`), so "
                          f"{name} is a tf.Tensor, no longer the tf.Variable the tape watches. Update the "
                          f"variable in place: `{in_place(name, rebind.node)}`",
                          self.call.site_at(rebind.line), s._id)
        made = self.call.last_assignment(name)
        if made is not None and self.block is not None and made.line < self.block[0] and computed(made.value):
            came = [n for n in origins(made.value) if self.call.made_variable(n, made.line - 1)]
            fix = f"Compute it inside the `with tf.GradientTape()` block from {', '.join(came)} (the tape " \
                f"watches a variable it reads), or call tape.watch({name}) there" if came else \
                f"Call tape.watch({name}) inside the `with tf.GradientTape()` block, or compute it there " \
                f"from a variable the tape reads"
            return Reason(name, "computed_before_tape",
                          f"{name} was computed at line {made.line} (`{made.text}`), before the tape began "
                          f"recording at line {self.block[0]}, so the tape never watched it. {fix}",
                          self.call.site_at(made.line), s._id)
        if made is None:  # made where the source cannot be read (a REPL, another function): it may be either
            return Reason(name, "unwatched_constant",
                          f"{name} is a tf.Tensor that the tape never watched. Call tape.watch({name}) "
                          f"inside the `with tf.GradientTape()` block (if {name} was a tf.Variable, a "
                          f"rebinding such as "
                          f"`{name} = {name} + 1.0` made it a tensor: update the variable in place instead, "
                          f"{name}.assign_add(1.0))", self.tape._site, s._id)
        return Reason(name, "unwatched_constant",
                      f"{name} is a constant tensor that the tape never watched. Call tape.watch({name}) "
                      f"inside the `with tf.GradientTape()` block, or make it a tf.Variable", self.tape._site,
                      s._id)

    # -- watched, but no recorded path reaches the target ------------------------------------------
    def _disconnected(self, s, name: str) -> Reason | None:
        tape = self.tape
        tname = self.target_name
        _, reach = on_path(tape._eqns, {s._id})
        if any(t._id in reach for t in self.targets):
            return None  # connected: its gradient is not None
        # the first place, in program order, where a value computed from the source left the tape
        for kind, ids, site, detail in tape._notes or ():
            if kind == "exit" and ids[0] in reach:
                return Reason(name, "left_tapegrad",
                              f"a value computed from {name} left tapegrad through {detail}; what was "
                              f"computed from the NumPy/Python value is a constant to the tape. Keep the "
                              f"computation in tapegrad ops (tf.math.*, operators on tensors)", site, s._id)
            if kind == "break" and not reach.isdisjoint(ids[:-1]):
                if detail == "stop_gradient":
                    return Reason(name, "stop_gradient",
                                  f"{name} reaches {tname} only through tf.stop_gradient, which blocks "
                                  f"gradients by definition", site, s._id)
                return Reason(name, "non_differentiable",
                              f"{name} reaches {tname} only through {detail}, which has no gradient (an "
                              f"integer or bool result, or a piecewise-constant op). Use a differentiable "
                              f"alternative (e.g. softmax instead of argmax, a float instead of an integer "
                              f"cast)", site, s._id)
        shadowed = next((t for t in self.targets if t._id in tape._shadow_ids), None)
        if shadowed is not None:
            return self._paused(name, shadowed, s._id)
        early = self._before_tape(s, name)
        if early is not None:
            return early
        if not any(t._id in tape._ids for t in self.targets):
            return self._target_outside(s, name) or self._outside_tape(s, name)
        return Reason(name, "not_connected",
                      f"{tname} does not depend on {name}: no op the tape recorded leads from {name} to it",
                      self.site, s._id)

    def _before_tape(self, s, name: str) -> Reason | None:
        """The target uses a value computed from the source before the tape began (h = v * 3.0 above it)."""
        if self.block is None or self.call.target_name is None:
            return None
        early = self.call.feeding(self.call.target_name, name, self.block[0])
        if early is None:
            return None
        return Reason(name, "computed_before_tape",
                      f"{self.target_name} uses {early.name}, which was computed from {name} at line "
                      f"{early.line} (`{early.text}`), before the tape began recording at line "
                      f"{self.block[0]}: the tape never saw {name} used. Compute {early.name} inside the "
                      f"`with tf.GradientTape()` block", self.call.site_at(early.line), s._id)

    def _look_alikes(self) -> dict:
        """The variables the tape read, by role (one index per explain, not a scan per source)."""
        if self._roles is None:
            self._roles = {_role(w): w for w in self.tape._variables.values()}
            self._roles.pop(None, None)
        return self._roles

    def _paused(self, name: str, target, sid: int) -> Reason:
        return Reason(name, "stop_recording",
                      f"{self.target_name} was computed inside `with tape.stop_recording():`, where the tape "
                      f"records nothing", self.tape._shadow_ids[target._id], sid)

    def _target_outside(self, s, name: str) -> Reason | None:
        """The target was assigned before the tape's `with` block or after it."""
        line = self.call.assignment_line(self.call.target_name)
        block = self.block
        if line is None or block is None or block[0] <= line <= block[1]:
            return None
        when = "before the tape was entered" if line < block[0] else "after the tape stopped recording"
        return Reason(name, "target_outside_tape",
                      f"{self.target_name} was computed at line {line}, {when} (the tape records lines "
                      f"{block[0]}-{block[1]}). Compute it inside the `with tf.GradientTape()` block",
                      self.call.site_at(line), s._id)

    def _outside_tape(self, s, name: str) -> Reason:
        return Reason(name, "target_outside_tape",
                      f"{self.target_name} was not computed while this tape was recording (before its `with` "
                      f"block, after it, or from nothing it watched). Compute it from {name} inside the "
                      f"block", self.tape._site, s._id)

    def _made_by(self, t):
        """(site, op name) of the non-differentiable op that made tensor t, if noted."""
        for kind, ids, site, detail in self.tape._notes or ():
            if kind == "break" and ids[-1] == t._id:
                return site, detail
        return None


def _role(v):
    """A variable's role for telling look-alikes apart: (shape, dtype, last name part, e.g. 'kernel');
    None for an unnamed variable, which a name cannot tell apart."""
    role = getattr(v, "path", v.name).rsplit("/", 1)[-1].split(":")[0]
    return None if role == "Variable" else (v._value.shape, v._value.dtype, role)


def _layer_of(v) -> str | None:
    """The layer a Keras weight belongs to ('dense' for 'dense/kernel'); None for a plain tf.Variable."""
    path = getattr(v, "path", "")
    return path.rsplit("/", 1)[0] if "/" in path else None


def _no_sources(call, site) -> Reason:
    text = call.sources_text or "sources"
    line = call.assignment_line(call.sources_text)
    made = f" (it was taken at line {line})" if line is not None else ""
    return Reason(text, "no_sources",
                  f"{text} is empty{made}. A Keras model or layer creates its variables when it is first "
                  f"called (built): read model.trainable_variables after that call, not before",
                  call.site_at(line) if line is not None else site)


# -- for the optimizer's None-gradient warning -----------------------------------------------------

_recent = threading.local()


def remember(explanation: Explanation) -> None:
    """Keep the latest gradient call's reasons (per thread) for apply_gradients to quote."""
    _recent.reasons = {r.source_id: r for r in explanation if r.source_id}


def missing_text(variables) -> str:
    """Why these variables got no gradient, as far as the latest tape.gradient call knows."""
    reasons = getattr(_recent, "reasons", {})
    lines = [str(reasons[v._id]) for v in variables if v._id in reasons]
    return ("Why (tapegrad.inspect.why_none):\n" + "\n".join(lines)) if lines else ""
