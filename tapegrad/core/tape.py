"""GradientTape: records ops on watched tensors and runs reverse mode over the record.

The tape is a list of ``Eqn`` in execution order (the same equations ``function``
traces).  Backward walks the part of it that lies on a path from the sources to
the targets, in reverse, calling each op's vjp rules - written in tapegrad ops, so
an enclosing tape records the backward pass and higher orders come for free.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import sys

import numpy as np

from .aval import ShapedArray, is_static
from .nest import flatten, pack_sequence_as
from .op import _new_tensor, state
from .state import MAX_NOTES
from .sparse import IndexedSlices
from .tensor import Tensor, Variable, convert_to_tensor, next_id
from .source import format_site, user_site
from ..errors import InvalidArgumentError

logger = logging.getLogger("tapegrad")
_warned = {"int_watch": 0, "persistent_inside": False}


_TENSOR_TYPES = (Tensor, Variable)


class UnconnectedGradients(enum.Enum):
    """What `gradient` returns for a source the target does not depend on."""
    NONE = "none"
    ZERO = "zero"


def variable_created(var) -> None:
    """Tell this thread's listeners (tf.function's first-trace rule) of a new variable."""
    for listener in state.creation_listeners:
        listener(var)


class GradientTape:
    """Record operations for automatic differentiation, as ``tf.GradientTape``.

    >>> import tapegrad as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as g:
    ...     g.watch(x)
    ...     y = x * x
    >>> float(g.gradient(y, x))
    6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._eqns = None          # recorded Eqns; None before entering and once consumed
        self._ids = None           # ids of watched tensors and of recorded outputs
        self._variables = {}       # watched variables by id (creation order = id order)
        self._recording = False
        self._site = None          # the user's `with` line
        self._hooks = None         # id -> [fn]: tapegrad.inspect.on_gradient
        self._explained = None     # why the last gradient had Nones (kept past a non-persistent use)
        self._last_use = None      # (targets, sources) of the last gradient call

    # -- context -------------------------------------------------------------------
    def __enter__(self) -> "GradientTape":
        if self._recording:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter an "
                             "already-active tape.")
        if self._eqns is None:
            self._fresh()
        caller = sys._getframe(1)  # the `with` line (user_site's walk costs a microsecond per tape)
        self._site = caller.f_code, caller.f_lasti
        self._push()
        return self

    def __exit__(self, *exc) -> None:
        if self._recording:
            self._pop()

    def _fresh(self):
        self._eqns, self._ids = [], set()
        self._variables = {}
        self._notes = None         # what explain() needs beyond the eqns (core/state.py), made on demand
        self._shadow_ids = {}      # id computed inside stop_recording() -> that block's site
        self._paused_site = None

    def _note(self, kind: str, ids: tuple, site, detail: str) -> None:
        if self._notes is None:
            self._notes = []
        if len(self._notes) < MAX_NOTES:
            self._notes.append((kind, ids, site, detail))

    def _push(self):
        state.tapes.append(self)
        state.active = True
        self._recording = True

    def _pop(self):
        tapes = state.tapes
        if tapes and tapes[-1] is self:  # the usual case: tapes close in the order they opened
            tapes.pop()
        else:
            for i in range(len(tapes) - 1, -1, -1):
                if tapes[i] is self:
                    del tapes[i]
                    break
        if not tapes:
            state.refresh()
        self._recording = False

    # -- watching ------------------------------------------------------------------
    def watch(self, tensor) -> None:
        """Track `tensor` (or a nest of tensors/variables) so gradients flow to it."""
        if self._eqns is None:
            self._fresh()
        for t in ((tensor,) if type(tensor) is Tensor else flatten(tensor)):
            if not isinstance(t, Tensor):
                raise ValueError(f"Passed in object {t} of type {type(t).__name__!r}, not tf.Tensor "
                                 f"or tf.Variable or ExtensionType.")
            if type(t) is Variable:
                self._watch_variable(t)
            else:
                if t._id == 0:
                    t._id = next_id()
                self._ids.add(t._id)
            if t._value.dtype.kind not in "fc":
                self._note("watch", (t._id,), user_site(2), t._value.dtype.name)  # explain() points here
                if _warned["int_watch"] < 5:
                    _warned["int_watch"] += 1
                    logger.warning("The dtype of the watched tensor must be floating (e.g. tf.float32), "
                                   "got tf.%s", t._value.dtype.name)

    def _watch_variable(self, var) -> None:
        self._ids.add(var._id)
        self._variables[var._id] = var

    def watched_variables(self) -> tuple:
        """The variables this tape watched, in order of creation."""
        return tuple(self._variables[k] for k in sorted(self._variables))

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stop recording: ops inside the block are not on the tape."""
        if self._eqns is None:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._pop()
        # still noted (not recorded), so that explain() can say a target was computed in here
        self._paused_site = user_site(3)
        state.shadows.append(self)
        state.active = True
        try:
            yield
        finally:
            state.shadows.remove(self)
            self._push()

    def reset(self) -> None:
        """Forget everything recorded so far and keep recording."""
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._fresh()

    # -- gradients -----------------------------------------------------------------
    def _begin_use(self, what: str) -> None:
        if self._eqns is None:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set "
                               "of gradients (or jacobians)")
        if self._recording:
            if not self._persistent:
                self._pop()
            elif not _warned["persistent_inside"]:
                _warned["persistent_inside"] = True
                logger.warning(
                    "Calling GradientTape.%s on a persistent tape inside its context is significantly "
                    "less efficient than calling it outside the context (it causes the gradient ops to "
                    "be recorded on the tape, leading to increased CPU and memory usage). Only call "
                    "GradientTape.%s inside the context if you actually want to trace the gradient in "
                    "order to compute higher order derivatives.", what, what)

    def _end_use(self) -> None:
        if not self._persistent:
            self._eqns = None
            self._ids = None
            self._notes, self._shadow_ids = None, {}

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """d(sum of all `target` elements)/d`sources`, with `sources`' structure.

        Entries are None where a source is not connected (or zeros with
        ``unconnected_gradients='zero'``).
        """
        # the common case (a used-up or recording tape aside) without a call: this is the eager hot path
        if self._eqns is None or self._recording:
            self._begin_use("gradient")
        if target is None:
            raise TypeError("Argument `target` should be a list or nested structure of Tensors, "
                            "Variables or CompositeTensors to be differentiated, but received None.")
        zero = False if unconnected_gradients is UnconnectedGradients.NONE else \
            _unconnected(unconnected_gradients)
        targets = [target] if type(target) is Tensor else flatten(target)
        flat_sources = [sources] if type(sources) in _TENSOR_TYPES else flatten(sources)
        for s in flat_sources:
            if not isinstance(s, Tensor):
                raise ValueError(f"Passed in object {s} of type {type(s).__name__!r}, not tf.Tensor "
                                 f"or tf.Variable or ExtensionType.")
        if output_gradients is None:
            seeds_in = [None] * len(targets)
        else:
            seeds_in = flatten(output_gradients)
            if len(seeds_in) != len(targets):
                raise ValueError(f"output_gradients has {len(seeds_in)} entries for {len(targets)} targets")
        seeds: dict = {}
        ids = self._ids
        for t, s in zip(targets, seeds_in):
            t = t if isinstance(t, Tensor) else convert_to_tensor(t)
            if t._value.dtype.kind not in "fc":
                continue
            if t._id == 0 or t._id not in ids:
                # TF: a target that is itself a source gets ones even when the tape never saw it
                if not any(t is src for src in flat_sources):
                    continue
                if t._id == 0:
                    t._id = next_id()
            s = _ones(t._value) if s is None else convert_to_tensor(s, dtype=t.dtype)
            seeds[t._id] = s if t._id not in seeds else seeds[t._id] + s
        source_ids = _source_ids(flat_sources, ids, seeds)
        cts = backprop(self._eqns, seeds, source_ids, hooks=self._hooks) if seeds else {}
        results = [_result(s, cts.get(s._id) if s._id in source_ids else None, zero)
                   for s in flat_sources]
        self._explained, self._last_use = None, (targets, flat_sources)  # what explain() may answer later
        if not zero:
            for r in results:
                if r is None:
                    self._remember_missing(target, sources, flat_sources, results)
                    break
            else:
                if not flat_sources:
                    self._remember_missing(target, sources, flat_sources, results)
        self._end_use()
        return results[0] if type(sources) in _TENSOR_TYPES else pack_sequence_as(sources, results)

    # -- seeing the differentiation (tapegrad/inspect) ------------------------------------------
    def explain(self, target, sources):
        """Why each source's gradient of `target` is None, in plain words with the user's lines.

        Call it where you would call `gradient` (also after it: a non-persistent tape keeps the
        explanation of its last gradient's Nones).  See ``tapegrad.inspect.why_none``.

        >>> import tapegrad as tf
        >>> x = tf.constant(3.0)
        >>> with tf.GradientTape() as tape:
        ...     y = x * x
        >>> print(tape.explain(y, x))  # doctest: +ELLIPSIS
        x: no gradient - x is a tf.Tensor that the tape never watched. Call tape.watch(x) ...
            at <doctest ...>:1 (in <module>)
        """
        from ..inspect.why import explain
        return explain(self, target, sources, user_site(2))

    def on_gradient(self, tensor, fn):
        """Call ``fn(gradient)`` when backward reaches `tensor`; a non-None result replaces it.

        See ``tapegrad.inspect.on_gradient``.  Returns a handle with ``remove()``.

        >>> import tapegrad as tf
        >>> x = tf.constant([1.0, 2.0])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     h = tf.exp(x)
        ...     _ = tape.on_gradient(h, lambda g: g * 2.0)   # double what flows into h
        ...     y = tf.reduce_sum(h)
        >>> tape.gradient(y, x).numpy().round(3)
        array([ 5.437, 14.778], dtype=float32)
        """
        from ..inspect.hooks import on_gradient
        return on_gradient(tensor, fn, tapes=[self])

    def _remember_missing(self, target, sources, flat_sources, results) -> None:
        """Before a non-persistent tape forgets its record: why some gradients are None, for
        apply_gradients' warning and for explain() after gradient()."""
        from ..inspect.why import explain, remember
        try:
            self._explained = explain(self, target, sources, user_site(3), flat_sources=flat_sources,
                                      results=results)
        except Exception as e:  # a diagnostic must never fail a gradient that worked
            logger.debug("tapegrad could not explain the None gradients: %r", e)
            return
        remember(self._explained)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """The full Jacobian: each result has shape target.shape + source.shape.

        Vectorised: one backward pass over a stack of one-hot seeds when every op on
        the path accepts batched cotangents, else one pass per target element.
        """
        if not experimental_use_pfor and not self._persistent:
            raise RuntimeError("GradientTape must be created with persistent=True to compute the "
                               "jacobian with eager execution enabled and with  experimental_use_pfor "
                               "set to False.")
        self._begin_use("jacobian")
        zero = _unconnected(unconnected_gradients)
        target = convert_to_tensor(target)
        flat_sources = flatten(sources)
        source_ids = _source_ids(flat_sources, self._ids)
        n = int(np.prod(target._value.shape))
        tshape = tuple(target._value.shape)
        cts = {}
        if n and target._id in self._ids and target._value.dtype.kind in "fc":
            seed = np.eye(n, dtype=target._value.dtype).reshape((n,) + tshape)
            cts = _batched_backprop(self._eqns, target._id, seed, source_ids)
        self._end_use()
        from ..ops.array import reshape
        out = []
        for s in flat_sources:
            ct = cts.get(s._id) if s._id in source_ids else None
            if isinstance(ct, IndexedSlices):
                ct = ct.__tapegrad_dense__()
            if ct is None:
                out.append(_result_zero(tshape + tuple(s._value.shape), s) if zero else None)
            else:
                out.append(reshape(ct, tshape + tuple(s._value.shape)))
        return pack_sequence_as(sources, out)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example Jacobians: [b, y1..yn, x1..xm] for target [b, y...] and source [b, x...]."""
        if not experimental_use_pfor and not self._persistent:
            raise RuntimeError("GradientTape must be created with persistent=True to compute the "
                               "batch_jacobian with eager execution enabled and  with "
                               "experimental_use_pfor set to False.")
        self._begin_use("batch_jacobian")
        _unconnected(unconnected_gradients)
        target = convert_to_tensor(target)
        tshape, sshape = tuple(target._value.shape), tuple(source.shape)
        if len(tshape) < 2 or len(sshape) < 2:
            self._end_use()
            raise ValueError(f"batch_jacobian needs target and source of rank >= 2, got shapes "
                             f"{tshape} and {sshape}")
        if tshape[0] != sshape[0]:
            self._end_use()
            raise ValueError(f"Need first dimension of target shape ({tshape}) and source shape "
                             f"({sshape}) to match.")
        b, m = tshape[0], int(np.prod(tshape[1:]))
        ct = None
        if m and _source_ids([source], self._ids) and target._id in self._ids and \
                target._value.dtype.kind in "fc":
            seed = np.zeros((m, b, m), dtype=target._value.dtype)
            seed[np.arange(m), :, np.arange(m)] = 1
            cts = _batched_backprop(self._eqns, target._id, seed.reshape((m,) + tshape), {source._id})
            ct = cts.get(source._id)
        self._end_use()
        from ..ops.array import reshape, transpose
        from ..ops.creation import zeros
        if ct is None:
            return zeros(tshape + sshape[1:], dtype=source.dtype)
        if isinstance(ct, IndexedSlices):
            ct = ct.__tapegrad_dense__()
        ct = reshape(ct, (m, b) + sshape[1:])
        perm = (1, 0) + tuple(range(2, ct.ndim))
        return reshape(transpose(ct, perm), tshape + sshape[1:])

    def __repr__(self):
        n = "consumed" if self._eqns is None else f"{len(self._eqns)} ops"
        return f"<GradientTape persistent={self._persistent} recording={self._recording} {n}>"

    # -- inspection: tapegrad/inspect/graph_view.py ----------------------------------------
    def summary(self) -> str:
        """The recorded ops: shapes, dtypes, bytes kept for backward, the user's lines; with totals.

        >>> import tapegrad as tf
        >>> x = tf.constant(2.0)
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> print(tape.summary().splitlines()[0])
        GradientTape (non-persistent): 1 op, 1 watched
        """
        from ..inspect.graph_view import summary
        return summary(self)

    def to_dot(self, sources=None, targets=None) -> str:
        """The recorded ops as Graphviz DOT text (see ``tapegrad.inspect.graph_view.to_dot``)."""
        from ..inspect.graph_view import to_dot
        return to_dot(self, sources, targets)

    def render(self, path: str, sources=None, targets=None) -> str:
        """Draw the recorded ops to `path` through the graphviz package; returns the path."""
        from ..inspect.graph_view import render
        return render(self, path, sources, targets)


def _source_ids(flat_sources, ids, seeds=()) -> set:
    """Ids of the float sources backward may reach.  A Variable counts only when watched: in TF
    its read is an op of its own, so an unwatched variable never reaches the tape."""
    return {s._id for s in flat_sources if s._id and s._value.dtype.kind in "fc" and
            (type(s) is not Variable or s._id in ids or s._id in seeds)}


def _unconnected(value) -> bool:
    """True for ZERO; validates strings as TF does."""
    if value is UnconnectedGradients.NONE:
        return False
    if isinstance(value, UnconnectedGradients):
        return value is UnconnectedGradients.ZERO
    try:
        return UnconnectedGradients(value) is UnconnectedGradients.ZERO
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}") from None


def _ones(value) -> Tensor:
    if type(value) is ShapedArray:  # a traced target: ones of its (symbolic) shape, made when it runs
        from ..ops.array import broadcast_to
        return broadcast_to(Tensor(np.ones((), value.dtype)), value.shape)
    seed = np.empty(value.shape, value.dtype)
    seed.fill(1)
    out = _new_tensor(Tensor)  # as apply makes tensors: no __init__ call on the gradient's hot path
    out._value, out._id = seed, 0
    return out


def _result(source, ct, zero: bool):
    if ct is None or source._value.dtype.kind not in "fc":
        return _result_zero(source._value.shape, source) if zero else None
    return ct


def _result_zero(shape, source):
    from ..ops.creation import zeros
    return zeros(shape, dtype=source.dtype)


# -- the engine -------------------------------------------------------------------------

def on_path(eqns, source_ids):
    """The eqns that depend on a source, in execution order, and every id they reach."""
    reach = set(source_ids)
    path = []
    for e in eqns:
        if not reach.isdisjoint(e[2]):  # e.in_ids
            reach.update(e[4])          # e.out_ids
            path.append(e)
    return path, reach


def backprop(eqns, seeds: dict, source_ids: set, batch_dims: int = 0, path=None, hooks=None) -> dict:
    """Reverse mode over `eqns`: cotangents of every id on a path from sources to seeds.

    `hooks` (id -> [fn], from on_gradient) see each hooked cotangent once it is complete:
    when backward reaches the op that made the value, or at the end for a source.
    """
    path, reach = on_path(eqns, source_ids) if path is None else path
    cts = dict(seeds)
    hooked = set() if hooks else None  # a source that is also an op's output is hooked once
    for op, params, in_ids, inputs, out_ids, out, site in reversed(path):
        if hooks:
            _run_hooks(hooks, out_ids, cts, hooked)
        if len(out_ids) == 1:
            out_id = out_ids[0]
            g = cts.get(out_id)
            if g is None:
                continue
            if out_id not in source_ids:
                del cts[out_id]  # free it: nothing upstream needs this cotangent again
            if type(g) is IndexedSlices:
                g = g.__tapegrad_dense__()
        else:
            g = tuple([cts.get(o) for o in out_ids])
            if all(x is None for x in g):
                continue
        vjps = op.vjps
        for k, in_id in enumerate(in_ids):
            if in_id not in reach or vjps[k] is None:
                continue
            ct = vjps[k](g, out, *inputs, **params)
            if ct is None:
                continue
            meta = inputs[k]._value
            if type(ct) is not Tensor or ct._value.shape != meta.shape or ct._value.dtype != meta.dtype:
                ct = _fit(ct, op, inputs, k, batch_dims, site)
            prev = cts.get(in_id)
            cts[in_id] = ct if prev is None else _accumulate(prev, ct)
    if hooks:
        _run_hooks(hooks, tuple(source_ids), cts, hooked)
    return cts


def _run_hooks(hooks, ids, cts, hooked: set) -> None:
    for i in ids:
        fns = hooks.get(i)
        if fns and i not in hooked and cts.get(i) is not None:
            hooked.add(i)
            cts[i] = _call_hooks(fns, cts[i])


def _call_hooks(fns, grad):
    from ..inspect.hooks import call_hooks  # here: importing inspect with tapegrad would slow the import
    return call_hooks(fns, grad)


def _batched_backprop(eqns, target_id, seed: np.ndarray, source_ids):
    """One pass with a leading seed axis when all ops allow it, else one pass per seed row."""
    path = on_path(eqns, source_ids)
    if all(_batchable(e) for e in path[0]):
        return backprop(eqns, {target_id: Tensor(seed)}, source_ids, batch_dims=1, path=path)
    from ..ops.array import stack
    rows = [backprop(eqns, {target_id: Tensor(s)}, source_ids, path=path) for s in seed]
    out = {}
    for sid in source_ids:
        per_row = [r.get(sid) for r in rows]
        if any(p is not None for p in per_row):
            from ..ops.creation import zeros_like
            anchor = next(p for p in per_row if p is not None)
            anchor = anchor.__tapegrad_dense__() if isinstance(anchor, IndexedSlices) else anchor
            out[sid] = stack([zeros_like(anchor) if p is None else
                              (p.__tapegrad_dense__() if isinstance(p, IndexedSlices) else p)
                              for p in per_row])
    return out


def _batchable(e) -> bool:
    rule = e.op.batch_vjp
    return rule(e.params) if callable(rule) else rule


def _fit(ct, op, inputs, k: int, batch_dims: int, site=None):
    """Sum a cotangent over broadcast axes back to input k's shape; check it; match dtype."""
    if isinstance(ct, IndexedSlices):
        return ct
    meta = inputs[k]._value
    shape, dtype = meta.shape, meta.dtype
    have = ct._value.shape
    if have[batch_dims:] != shape and not (is_static(have) and is_static(shape)):
        # symbolic sizes: whether an axis was broadcast is known only when the program runs
        if len(have) - batch_dims < len(shape):
            raise InvalidArgumentError(
                f"gradient of {op.name} for input #{k} has rank {len(have) - batch_dims}, which does not "
                f"reduce to the input's rank {len(shape)} (op recorded at {format_site(site)})")
        from ..ops.symbolic import sum_to_shape
        ct = sum_to_shape(ct, shape=have[:batch_dims] + tuple(shape))
    elif have[batch_dims:] != shape:
        from ..ops.array import reshape
        from ..ops.reduce import reduce_sum
        lead = len(have) - batch_dims - len(shape)
        core = have[batch_dims + lead:] if lead >= 0 else None
        if core is None or any(c != s and s != 1 for c, s in zip(core, shape)):
            raise InvalidArgumentError(
                f"gradient of {op.name} for input #{k} has shape {have[batch_dims:]}, which does not "
                f"reduce to the input's shape {shape} (op recorded at {format_site(site)})")
        axes = tuple(range(batch_dims, batch_dims + lead)) + tuple(
            batch_dims + lead + i for i, (c, s) in enumerate(zip(core, shape)) if s == 1 and c != 1)
        if axes:
            ct = reduce_sum(ct, axis=axes)
        ct = reshape(ct, have[:batch_dims] + shape)
    if ct._value.dtype != dtype:
        from ..ops.math import cast
        ct = cast(ct, dtype)
    return ct


def _accumulate(a, b):
    if isinstance(a, IndexedSlices) or isinstance(b, IndexedSlices):
        from ..ops.array import concat
        from ..ops.creation import range as tf_range
        parts = []
        for x in (a, b):
            if isinstance(x, IndexedSlices):
                parts.append(x)
            else:
                parts.append(IndexedSlices(x, tf_range(x.shape[0]), tuple(x.shape)))
        return IndexedSlices(concat([p.values for p in parts], 0),
                             concat([p.indices for p in parts], 0), parts[0].dense_shape)
    return a + b
