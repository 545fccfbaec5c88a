"""``tf.test``: a gradient checker for your own functions and custom gradients.

``check_gradients`` compares one inner product per input, HIPS-autograd style: for a
random output cotangent u and input direction v, the central difference
⟨u, (f(x+εv) − f(x−εv)) / 2ε⟩ must match ⟨Jᵀu, v⟩ from ``GradientTape`` (reverse mode)
and ⟨u, Jv⟩ from ``ForwardAccumulator`` (forward mode).  Higher orders check the
first-order VJP, as a function of x and u, the same way, with nested tapes.  When an input
fails, its elements are checked one by one (∂⟨u, f⟩/∂x_i, numerically and analytically), and
the report shows the worst ones with a hint read from the pattern of the disagreement.
"""
from __future__ import annotations

import numpy as np

from ..core.forward import ForwardAccumulator
from ..core.sparse import IndexedSlices
from ..core.tape import GradientTape
from ..core.nest import flatten
from ..core.tensor import Tensor, convert_to_array
from ..ops.reduce import reduce_sum

__all__ = ["check_gradients"]

_MODES = ("rev", "fwd")


def check_gradients(f, inputs, order=2, eps=None, rtol=1e-5, atol=1e-6, seed=0, modes=("rev", "fwd")):
    """Check the gradients of ``f(*inputs)`` against float64 central differences.

    `inputs` is the list of f's arguments (a single tensor, array or number is one argument).
    Floating inputs are cast to float64 and checked; integer and bool inputs are passed
    unchanged and not perturbed.  f returns a tensor or a nest of tensors.  Each check
    compares one number per input; it passes when
    ``|analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)``.

    order: 1 checks first derivatives; 2 (the default) also differentiates the
        first-order VJP again, with nested tapes, with respect to the inputs and to the
        output cotangent.
    eps: the central-difference step (1e-6 when None).
    seed: seeds the random cotangents and directions.
    modes: "rev" checks ``GradientTape.gradient``, "fwd" ``tf.autodiff.ForwardAccumulator``;
        at order 2, "fwd" is forward-over-reverse.

    Returns None; raises AssertionError naming the input, the order and the mode, with
    both numbers and the relative error, when a derivative is wrong; then, for each input that
    failed, the elements that disagree most (analytic and numeric ∂⟨u, f⟩/∂x_i) and a hint.

    >>> import tapegrad as tf
    >>> tf.test.check_gradients(lambda x, y: tf.sin(x) * y, [[0.5, 1.0], 2.0])
    >>> @tf.custom_gradient
    ... def bad_square(x):
    ...     return x * x, lambda dy: dy * x           # forgot the factor 2
    >>> tf.test.check_gradients(bad_square, [3.0], order=1, modes=("rev",))
    Traceback (most recent call last):
    ...
    AssertionError: check_gradients: 1 mismatch at order 1
      reverse mode (GradientTape.gradient), input #0 float64[]: analytic <J^T u, v> = ...
        element (scalar): analytic ..., numeric ..., relative error 0.5
        hint: analytic = 0.5 x numeric at every element: a constant factor is wrong or missing ...
    """
    unknown = set(modes) - set(_MODES)
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of {_MODES}, got {modes!r}")
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    args = [_as_argument(x) for x in _argument_list(inputs)]
    labels = [f"input #{i} {_describe(a)}" for i, a in enumerate(args)]
    tolerance = _Tolerance(1e-6 if eps is None else float(eps), float(rtol), float(atol))
    _check(f, args, labels, order, 1, modes, tolerance, np.random.default_rng(seed))


class _Tolerance:
    __slots__ = ("atol", "eps", "rtol")

    def __init__(self, eps, rtol, atol):
        self.eps, self.rtol, self.atol = eps, rtol, atol

    def accepts(self, analytic: float, numeric: float) -> bool:
        return abs(analytic - numeric) <= self.atol + self.rtol * max(abs(analytic), abs(numeric))


def _argument_list(inputs) -> list:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _as_argument(x) -> Tensor:
    value = np.asarray(convert_to_array(x))
    if value.dtype.kind == "f":
        value = value.astype(np.float64)
    return Tensor(value)


def _describe(t: Tensor) -> str:
    return f"{t._value.dtype.name}{list(t._value.shape)}"


def _is_float(t) -> bool:
    return isinstance(t, Tensor) and t._value.dtype.kind == "f"


def _float_outputs(f, args) -> list:
    """f's floating outputs, flattened; other outputs carry no derivative to check."""
    return [y for y in flatten(f(*args)) if _is_float(y)]


def _dense(g):
    """A gradient as a dense tensor, differentiably (IndexedSlices densify through tapegrad ops)."""
    return g.__tapegrad_dense__() if isinstance(g, IndexedSlices) else g


def _check(f, args, labels, order, current, modes, tolerance, rng):
    outputs = _float_outputs(f, args)
    if not outputs:
        raise ValueError("check_gradients: f has no floating-point output to differentiate")
    cotangents = [Tensor(rng.standard_normal(y._value.shape).astype(y._value.dtype)) for y in outputs]
    checked = [k for k, a in enumerate(args) if _is_float(a)]
    directions = {k: rng.standard_normal(args[k]._value.shape) for k in checked}

    failures = []
    reverse = _reverse_gradients(f, args, checked, cotangents) if "rev" in modes else None
    for k in checked:
        v = directions[k]
        numeric = _numeric_directional(f, args, k, v, cotangents, tolerance.eps)
        if reverse is not None:
            g = reverse[k]
            if g is not None and tuple(g.shape) != args[k]._value.shape:
                failures.append(f"reverse mode, {labels[k]}: the gradient has shape {list(g.shape)}")
            else:
                full = np.zeros(args[k]._value.shape) if g is None else np.asarray(g._value)
                failures += _compare("reverse mode (GradientTape.gradient)", labels[k], "<J^T u, v>",
                                     float(np.vdot(full, v)), numeric, tolerance,
                                     lambda: _elements(f, args, k, cotangents, tolerance, full.flat.__getitem__))
        if "fwd" in modes:
            analytic = _forward_directional(f, args, k, v, cotangents)
            failures += _compare("forward mode (ForwardAccumulator.jvp)", labels[k], "<u, J v>",
                                 analytic, numeric, tolerance, lambda: _elements(
                                     f, args, k, cotangents, tolerance,
                                     lambda i: _forward_directional(f, args, k, _one_hot(args[k], i), cotangents)))
    if failures:
        what = "" if current == 1 else \
            f" (derivatives of the order-{current - 1} check's <J^T u, w>, a function of its inputs and u)"
        raise AssertionError(f"check_gradients: {len(failures)} mismatch{'es' if len(failures) > 1 else ''} "
                             f"at order {current}{what}\n  " + "\n  ".join(failures))
    if current < order:
        vjp, vjp_args = _vjp_as_function(f, args, checked, cotangents, rng)
        vjp_labels = labels + [f"cotangent of output #{j} {_describe(u)}" for j, u in enumerate(cotangents)]
        _check(vjp, vjp_args, vjp_labels, order, current + 1, modes, tolerance, rng)


def _compare(mode, label, what, analytic, numeric, tolerance, elements) -> list:
    """[] when the numbers agree, else one report line, with `elements()` (the per-element detail)."""
    if tolerance.accepts(analytic, numeric):
        return []
    error = abs(analytic - numeric)
    relative = error / max(abs(analytic), abs(numeric), np.finfo(np.float64).tiny)
    hint = "" if analytic else "; nothing reached this input: is a derivative missing or computed outside " \
                               "tapegrad ops?"
    return [(f"{mode}, {label}: analytic {what} = {analytic:.12g}, numeric = {numeric:.12g} "
             f"(central differences, eps={tolerance.eps:g}); abs error {error:.3g}, relative error "
             f"{relative:.3g} (rtol={tolerance.rtol:g}, atol={tolerance.atol:g}){hint}" + elements())]


_MAX_ELEMENTS = 1000  # checking an element costs two evaluations of f (and one jvp in forward mode)
_SHOWN = 5


def _one_hot(x: Tensor, i: int) -> np.ndarray:
    v = np.zeros(x._value.shape)
    v.flat[i] = 1.0
    return v


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), np.finfo(np.float64).tiny)


def _elements(f, args, k, cotangents, tolerance, analytic_at) -> str:
    """Report lines: the elements of input k whose ∂⟨u, f⟩/∂x_i disagree most, and a hint."""
    shape = args[k]._value.shape
    size = int(np.prod(shape, dtype=np.int64))
    n = min(size, _MAX_ELEMENTS)
    analytic = np.array([float(analytic_at(i)) for i in range(n)])
    numeric = np.array([_numeric_directional(f, args, k, _one_hot(args[k], i), cotangents, tolerance.eps)
                        for i in range(n)])
    wrong = [i for i in range(n) if not tolerance.accepts(analytic[i], numeric[i])]
    if not wrong:
        return ""
    checked = f"{n} of {size} elements checked; " if n < size else ""
    lines = [f"\n    {checked}{len(wrong)} of {n} element{'s' * (n != 1)} disagree (d<u, f>/dx_i, u the "
             f"random output cotangent):"] if size > 1 else []
    for i in sorted(wrong, key=lambda i: -abs(analytic[i] - numeric[i]))[:_SHOWN]:
        where = f"[{', '.join(map(str, np.unravel_index(i, shape)))}]" if shape else "(scalar)"
        lines.append(f"\n    element {where}: analytic {analytic[i]:.6g}, numeric {numeric[i]:.6g}, "
                     f"relative error {_relative(analytic[i], numeric[i]):.3g}")
    return "".join(lines) + f"\n    hint: {_hint(analytic, numeric, wrong, n)}"


def _hint(analytic, numeric, wrong, n) -> str:
    """What the pattern of the disagreement suggests."""
    if not np.all(np.isfinite(analytic[wrong])):
        return "the analytic gradient has NaN or Inf: a division by zero or a log of 0 in the rule?"
    if not np.any(analytic[wrong]):
        return "the analytic gradient is 0 there: the rule misses a path, or the value left tapegrad " \
               "(NumPy, .numpy(), Python math) so the tape did not see it"
    nonzero = [i for i in wrong if numeric[i] != 0]
    ratios = analytic[nonzero] / numeric[nonzero] if nonzero else np.array([])
    if len(wrong) == n and len(nonzero) == n and np.allclose(ratios, ratios[0], rtol=1e-3):
        if np.isclose(ratios[0], -1.0, rtol=1e-3):
            return "analytic = -numeric at every element: the gradient's sign is flipped"
        return f"analytic = {ratios[0]:.4g} x numeric at every element: a constant factor is wrong or missing " \
               f"in the gradient"
    if len(wrong) < n and np.all(np.abs(numeric[wrong]) <= 1e-9):
        return "the function is flat at these elements but the rule passes a gradient: a missing mask " \
               "(as relu's, clip's or where's)?"
    if len(wrong) < n:
        return "only some elements disagree: a case the rule gets wrong (a branch, a boundary, an index), " \
               "or an input too close to a kink or a pole for central differences - try other values"
    return "every element disagrees without a common factor: check the rule's formula (which input or " \
           "output value it uses, a missing chain-rule term)"


def _reverse_gradients(f, args, checked, cotangents) -> dict:
    """Jᵀu for every checked input, by one backward pass (None where unconnected)."""
    sources = [args[k] for k in checked]
    with GradientTape() as tape:
        tape.watch(sources)
        outputs = _float_outputs(f, args)
    grads = tape.gradient(outputs, sources, output_gradients=cotangents)
    return {k: _dense(g) for k, g in zip(checked, grads)}


def _forward_directional(f, args, k, v, cotangents) -> float:
    """⟨u, J v⟩ with the tangent v on input k."""
    tangent = Tensor(v.astype(args[k]._value.dtype))
    with ForwardAccumulator(args[k], tangent) as acc:
        outputs = _float_outputs(f, args)
    total = 0.0
    for y, u in zip(outputs, cotangents):
        jv = acc.jvp(y)
        if jv is not None:
            total += float(np.vdot(np.asarray(u._value), np.asarray(_dense(jv)._value)))
    return total


def _numeric_directional(f, args, k, v, cotangents, eps) -> float:
    """⟨u, (f(x + εv) − f(x − εv)) / 2ε⟩ with only input k moved."""
    def at(sign):
        moved = list(args)
        moved[k] = Tensor((args[k]._value + sign * eps * v).astype(args[k]._value.dtype))
        return _float_outputs(f, moved)
    plus, minus = at(1.0), at(-1.0)
    return sum(float(np.vdot(np.asarray(u._value), (np.asarray(p._value, np.float64)
                                                   - np.asarray(m._value, np.float64)) / (2 * eps)))
               for u, p, m in zip(cotangents, plus, minus))


def _vjp_as_function(f, args, checked, cotangents, rng):
    """(x..., u...) -> Σ_k ⟨(Jᵀu)_k, w_k⟩ for fixed random w: the next order checks its derivatives."""
    weights = {k: Tensor(rng.standard_normal(args[k]._value.shape)) for k in checked}
    n_args = len(args)

    def vjp(*xs_and_us):
        xs, us = list(xs_and_us[:n_args]), list(xs_and_us[n_args:])
        sources = [xs[k] for k in checked]
        with GradientTape() as tape:
            tape.watch(sources)
            outputs = _float_outputs(f, xs)
        grads = tape.gradient(outputs, sources, output_gradients=us)
        total = Tensor(np.array(0.0))
        for k, g in zip(checked, grads):
            if g is not None:
                total = total + reduce_sum(_dense(g) * weights[k])
        return total

    return vjp, list(args) + list(cotangents)
