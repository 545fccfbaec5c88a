"""Why a gradient is None: the cause in plain words, with the user's line.

TensorFlow answers a disconnected source with a silent None (and, later, "No gradients
provided for any variable").  The tape knows more: what it watched, what it recorded, and
- from the notes it keeps (``core/state.py``) - where a taped value left tapegrad, went
through a non-differentiable op, or was computed inside ``stop_recording()``.  The user's
own source (read with ``ast``, as tracebacks read it) names the expressions and finds the
lines that rebind a variable or compute the target outside the tape.
"""
from __future__ import annotations

import ast
import linecache
import threading
from dataclasses import dataclass

from ..core.source import format_site, site_line
from ..core.tape import on_path
from ..core.nest import flatten
from ..core.tensor import Tensor, Variable

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
        raise RuntimeError("This GradientTape was used by gradient() for other targets or sources and has let "
                           "go of its record. Call explain() before gradient(), or make the tape with "
                           "persistent=True.")
    call = _CallSite.find(site)
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

    def why(self, s, name: str) -> Reason | None:
        tape = self.tape
        if not isinstance(s, Tensor):
            return Reason(name, "not_a_tensor", f"it is a {type(s).__name__}, not a tf.Tensor or tf.Variable",
                          self.site)
        sid = s._id
        if s._value.dtype.kind not in "fc":
            return Reason(name, "integer_dtype",
                          f"{name} has dtype {s._value.dtype.name}: gradients flow only to floating-point "
                          f"tensors. Make it a float (e.g. tf.constant(3.0), or tf.cast({name}, tf.float32) "
                          f"before the tape) - TensorFlow returns None here too", self.site, sid)
        if self.targets and all(t._value.dtype.kind not in "fc" for t in self.targets):
            t = self.targets[0]
            made = self._made_by(t)
            how = f" (made by {made[1]} at {format_site(made[0])})" if made else ""
            return Reason(name, "integer_target",
                          f"{self.target_name} has dtype {t._value.dtype.name}{how}: an integer or bool result "
                          f"has no gradient. Differentiate a float loss instead", made[0] if made else self.site,
                          sid)
        shadowed = next((t for t in self.targets if t._id in tape._shadow_ids), None)
        if shadowed is not None and sid not in tape._ids:
            return self._paused(name, shadowed, sid)
        if type(s) is Variable and sid not in tape._variables:
            return self._unseen_variable(s, name)
        if type(s) is not Variable and sid not in tape._ids and sid not in tape._shadow_ids:
            return self._unwatched_tensor(s, name)
        return self._disconnected(s, name)

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
                          f"passed to tape.watch(). Call tape.watch({name}) inside the tape", tape._site, v._id)
        twin = self._look_alikes().get(_role(v))
        twin = twin if twin is not v else None
        if twin is not None:
            return Reason(name, "other_variable",
                          f"the tape read a different variable of the same kind and shape, "
                          f"{getattr(twin, 'path', twin.name)!r} (created at {format_site(twin._site)}), not "
                          f"this one, {getattr(v, 'path', v.name)!r} (created at {format_site(v._site)}). The "
                          f"model or layer was probably built again after these variables were listed: take "
                          f"the variables from the model that computed {self.target_name}", v._site, v._id)
        return Reason(name, "variable_unused",
                      f"the tape never read {name} (created at {format_site(v._site)}): the computation of "
                      f"{self.target_name} does not use it inside the tape. Was its layer called inside the "
                      f"`with tf.GradientTape()` block?", tape._site, v._id)

    # -- a plain tensor the tape never watched -----------------------------------------------------
    def _unwatched_tensor(self, s, name: str) -> Reason:
        rebind = self.call.rebinding(name)
        if rebind is not None:
            line, text = rebind
            return Reason(name, "rebound_variable",
                          f"line {line} rebinds {name} to a new tensor (`{text}`), so {name} is no longer the "
                          f"tf.Variable the tape watches. Update a variable in place: {name}.assign(...), "
                          f"assign_add or assign_sub", self.call.site_at(line), s._id)
        return Reason(name, "unwatched_constant",
                      f"{name} is a constant tensor that the tape never watched. Call tape.watch({name}) "
                      f"inside the `with tf.GradientTape()` block, or make it a tf.Variable", self.tape._site,
                      s._id)

    # -- watched, but no recorded path reaches the target ------------------------------------------
    def _disconnected(self, s, name: str) -> Reason | None:
        tape = self.tape
        tname = self.target_name
        path, reach = on_path(tape._eqns, {s._id})
        if any(t._id in reach for t in self.targets):
            return None  # connected: its gradient is not None
        # the first place, in program order, where a value computed from the source left the tape
        for kind, ids, site, detail in tape._notes or ():
            if kind == "exit" and ids[0] in reach:
                return Reason(name, "left_tapegrad",
                              f"a value computed from {name} left tapegrad through {detail}; what was computed "
                              f"from the NumPy/Python value is a constant to the tape. Keep the computation in "
                              f"tapegrad ops (tf.math.*, operators on tensors)", site, s._id)
            if kind == "break" and not reach.isdisjoint(ids[:-1]):
                if detail == "stop_gradient":
                    return Reason(name, "stop_gradient",
                                  f"{name} reaches {tname} only through tf.stop_gradient, which blocks gradients "
                                  f"by definition", site, s._id)
                return Reason(name, "non_differentiable",
                              f"{name} reaches {tname} only through {detail}, which has no gradient (an integer "
                              f"or bool result, or a piecewise-constant op). Use a differentiable alternative "
                              f"(e.g. softmax instead of argmax, a float instead of an integer cast)", site,
                              s._id)
        shadowed = next((t for t in self.targets if t._id in tape._shadow_ids), None)
        if shadowed is not None:
            return self._paused(name, shadowed, s._id)
        if not any(t._id in tape._ids for t in self.targets):
            return self._outside_tape(s, name)
        return Reason(name, "not_connected",
                      f"{tname} does not depend on {name}: no op the tape recorded leads from {name} to it",
                      self.site, s._id)

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

    def _outside_tape(self, s, name: str) -> Reason:
        tname = self.target_name
        line = self.call.assignment_line(self.call.target_name)
        block = self.call.with_block(self.tape._site)
        if line is not None and block is not None and not block[0] <= line <= block[1]:
            when = "before the tape was entered" if line < block[0] else "after the tape stopped recording"
            return Reason(name, "target_outside_tape",
                          f"{tname} was computed at line {line}, {when} (the tape records lines {block[0]}-"
                          f"{block[1]}). Compute it inside the `with tf.GradientTape()` block",
                          self.call.site_at(line), s._id)
        return Reason(name, "target_outside_tape",
                      f"{tname} was not computed while this tape was recording (before its `with` block, after "
                      f"it, or from nothing it watched). Compute it from {name} inside the block",
                      self.tape._site, s._id)

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


def _no_sources(call, site) -> Reason:
    text = call.sources_text or "sources"
    line = call.assignment_line(call.sources_text)
    made = f" (it was taken at line {line})" if line is not None else ""
    return Reason(text, "no_sources",
                  f"{text} is empty{made}. A Keras model or layer creates its variables when it is first "
                  f"called (built): read model.trainable_variables after that call, not before",
                  call.site_at(line) if line is not None else site)


# -- the user's source ---------------------------------------------------------------------------

class _CallSite:
    """The user's call (gradient, explain, why_none) at a site, read from the source with ast."""

    _METHODS = {"gradient": 0, "explain": 0, "jacobian": 0, "why_none": 1}  # -> index of the target arg

    def __init__(self, code=None, tree=None, call=None, scope=None):
        self.code, self.tree, self.node, self.scope = code, tree, call, scope
        self.target_name = self.sources_text = None
        self._sources = None
        if call is not None:
            first = self._METHODS[_callee(call)]
            args = list(call.args)
            kw = {k.arg: k.value for k in call.keywords}
            target = args[first] if len(args) > first else kw.get("target")
            sources = args[first + 1] if len(args) > first + 1 else kw.get("sources", kw.get("source"))
            self.target_name = ast.unparse(target) if target is not None else None
            self.sources_text = ast.unparse(sources) if sources is not None else None
            self._sources = sources

    @classmethod
    def find(cls, site) -> "_CallSite":
        """The call at `site`; cached, since a training loop asks at the same line every step."""
        if site is None:
            return cls()
        tree = _parse(site[0].co_filename)
        hit = _call_sites.get(site)
        if hit is None or hit.tree is not tree:
            if len(_call_sites) > 256:
                _call_sites.clear()
            hit = _call_sites[site] = cls._find(site, tree)
        return hit

    @classmethod
    def _find(cls, site, tree) -> "_CallSite":
        code = site[0]
        line = site_line(site)
        if tree is None or line is None:
            return cls(code)
        best = scope = None
        for node, parents in _walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in cls._METHODS and \
                    node.lineno <= line <= (node.end_lineno or node.lineno):
                if best is None or node.lineno >= best.lineno:
                    best = node
                    scope = next((p for p in reversed(parents)
                                  if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef))), tree)
        return cls(code, tree, best, scope)

    def source_names(self, n: int) -> list[str]:
        node = self._sources
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == n and \
                not any(isinstance(e, ast.Starred) for e in node.elts):
            return [ast.unparse(e) for e in node.elts]
        if node is not None and n == 1:
            return [ast.unparse(node)]
        text = self.sources_text or "sources"
        return [f"{text}[{i}]" for i in range(n)]

    def _assignments(self, name: str):
        """(line, statement text, value node) of every assignment to `name` in the call's scope."""
        if self.scope is None or not name:
            return []
        found = []
        for node, _ in _walk(self.scope, into_functions=False):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            if any(ast.unparse(t) == name for t in targets):
                found.append((node.lineno, ast.unparse(node), getattr(node, "value", None)))
        return sorted(found, key=lambda a: a[0])

    def assignment_line(self, name: str | None) -> int | None:
        """The line of the last assignment to `name` before the call (None when unknown)."""
        before = [a for a in self._assignments(name) if self.node is None or a[0] <= self.node.lineno]
        return before[-1][0] if before else None

    def rebinding(self, name: str):
        """(line, text) of a statement that rebinds a variable's name to a computed tensor."""
        found = self._assignments(name)
        made = [a for a in found if _creates_variable(a[2])]
        rebinds = [a for a in found if not _creates_variable(a[2]) and a[2] is not None and
                   (made or any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(a[2])))]
        return (rebinds[0][0], rebinds[0][1]) if rebinds else None

    def with_block(self, tape_site) -> tuple | None:
        """(first, last) line of the `with` statement that opened the tape."""
        if self.tree is None or tape_site is None or tape_site[0] is not self.code:
            return None
        line = site_line(tape_site)
        for node, _ in _walk(self.tree):
            if isinstance(node, (ast.With, ast.AsyncWith)) and node.lineno == line:
                return node.lineno, node.end_lineno or node.lineno
        return None

    def site_at(self, line: int):
        """A site for `line` of the call's code (what format_site shows), or None."""
        if self.code is not None:
            for start, _, ln in self.code.co_lines():
                if ln == line:
                    return self.code, start
        return None


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _creates_variable(value) -> bool:
    return isinstance(value, ast.Call) and _callee(value) == "Variable"


def _walk(node, into_functions=True, parents=()):
    """ast.walk with each node's ancestors; optionally not into nested function bodies."""
    yield node, parents
    for child in ast.iter_child_nodes(node):
        if not into_functions and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                     ast.ClassDef)):
            continue
        yield from _walk(child, into_functions, parents + (node,))


_parsed: dict = {}
_call_sites: dict = {}


def _parse(filename: str):
    """The file's ast (cached by its text); None when the source is not available."""
    lines = linecache.getlines(filename)
    if not lines:
        return None
    text = "".join(lines)
    hit = _parsed.get(filename)
    if hit is not None and hit[0] == text:
        return hit[1]
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    if len(_parsed) > 64:
        _parsed.clear()
    _parsed[filename] = (text, tree)
    return tree


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
