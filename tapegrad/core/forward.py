"""Forward mode: ForwardAccumulator pushes tangents through every op as it runs.

Each op's jvp rules give the output tangent from the input tangents.  Tangents are
computed with tapegrad ops, so an enclosing GradientTape records them
(forward-over-backward gives Hessian-vector products).
"""
from __future__ import annotations

from .op import state
from .tape import UnconnectedGradients, _unconnected
from .nest import flatten, pack_sequence_as
from .tensor import Tensor, convert_to_tensor, next_id


class ForwardAccumulator:
    """Compute Jacobian-vector products with forward-mode autodiff, as tf.autodiff.ForwardAccumulator.

    >>> import tapegrad as tf
    >>> x = tf.constant([1.0, 2.0])
    >>> with tf.autodiff.ForwardAccumulator(primals=x, tangents=tf.constant([1.0, 0.0])) as acc:
    ...     y = tf.reduce_sum(x * x)
    >>> float(acc.jvp(y))
    2.0
    """

    def __init__(self, primals, tangents):
        self._tangents: dict = {}
        self._active = False
        self.watch(primals, tangents)

    def __enter__(self) -> "ForwardAccumulator":
        if self._active:
            raise ValueError("Accumulator is already recording.")
        state.accumulators.append(self)
        state.active = True
        self._active = True
        return self

    def __exit__(self, *exc) -> None:
        if self._active:
            _remove(state.accumulators, self)
            state.refresh()
            self._active = False

    def watch(self, primals, tangents) -> None:
        """Start tracking `tangents` as the directional derivative of `primals`."""
        flat_p, flat_t = flatten(primals), flatten(tangents)
        if len(flat_p) != len(flat_t):
            raise ValueError(f"primals and tangents must have the same structure: {len(flat_p)} "
                             f"primals, {len(flat_t)} tangents")
        for p, t in zip(flat_p, flat_t):
            if not isinstance(p, Tensor):
                raise TypeError(f"ForwardAccumulator primals must be tensors or variables, got {p!r}")
            if not p.dtype.is_floating and not p.dtype.is_complex:
                raise ValueError(f"ForwardAccumulator only supports floating primals, got {p.dtype.name}")
            t = convert_to_tensor(t, dtype=p.dtype)
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"Tangent {tuple(t.shape)} does not match the primal's shape "
                                 f"{tuple(p.shape)}.")
            if p._id == 0:
                p._id = next_id()
            self._tangents[p._id] = t

    def jvp(self, primals, unconnected_gradients=UnconnectedGradients.NONE):
        """The tangent of each of `primals` (a nest), None where it does not depend on the watched ones."""
        zero = _unconnected(unconnected_gradients)
        from ..ops.creation import zeros_like
        out = []
        for p in flatten(primals):
            t = self._tangents.get(p._id) if p._id else None
            out.append(zeros_like(p) if t is None and zero else t)
        return pack_sequence_as(primals, out)


def _remove(stack: list, item) -> None:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is item:
            del stack[i]
            return


def push_tangents(op, tensors, out, params) -> None:
    """Give `out` a tangent on every active accumulator that has one for an input."""
    if out._value.dtype.kind not in "fc":
        return
    jvps = op.jvps
    for acc in list(state.accumulators):
        tangents = acc._tangents
        ins = [tangents.get(t._id) if t._id else None for t in tensors]
        if all(t is None for t in ins):
            continue
        _remove(state.accumulators, acc)  # its own tangent ops are not primal ops for it
        try:
            total = None
            for k, t in enumerate(ins):
                if t is None or op.vjps[k] is None:
                    continue
                if jvps is not None and jvps[k] is not None:
                    part = jvps[k](t, out, *tensors, **params)
                else:
                    part = transpose_vjp(op.vjps, [k], out, tensors, [t], params)[0]
                total = part if total is None else total + part
            if total is not None:
                total = _fit_tangent(total, out)
        finally:
            state.accumulators.append(acc)
        if total is not None:
            if out._id == 0:
                out._id = next_id()
            tangents[out._id] = total


def transpose_vjp(vjps, ks, out, tensors, tangents, params, outs=None):
    """Output tangent(s) J t from vjp rules, for ops that have no jvp rule (and custom_gradient).

    A vjp is linear in its cotangent u, so d/du <vjp(u), t> = J t: one small backward pass
    through the vjp gives the forward-mode answer (TF's "double vjp").
    """
    from .tape import GradientTape
    from ..ops.creation import zeros_like
    from ..ops.reduce import reduce_sum
    outs = [out] if outs is None else outs
    us = [zeros_like(o) for o in outs]
    with GradientTape() as tape:
        tape.watch(us)
        g = us[0] if len(us) == 1 else tuple(us)
        total = None
        for k, t in zip(ks, tangents):
            ct = vjps[k](g, out, *tensors, **params)
            if ct is None:
                continue
            if hasattr(ct, "__tapegrad_dense__"):
                ct = ct.__tapegrad_dense__()
            part = reduce_sum(ct * t)  # ct may have the broadcast shape: the sum still pairs it with t
            total = part if total is None else total + part
    if total is None:
        return [None] * len(us)
    return tape.gradient(total, us)


def _fit_tangent(t, out):
    """Broadcast a tangent to the output's shape and dtype (a broadcast input's tangent is smaller)."""
    if t._value.shape != out._value.shape:
        from ..ops.array import broadcast_to
        t = broadcast_to(t, out._value.shape)
    if t._value.dtype != out._value.dtype:
        from ..ops.math import cast
        t = cast(t, out._value.dtype)
    return t
