"""Gradient checks for every registered op, generated from the registry at collection time.

Each differentiable op is checked on each of its ``cases`` (or the default elementwise
cases) with ``tf.test.check_gradients`` in float64: reverse mode to second order, forward
mode (and forward-over-reverse) where the op has jvp rules, and, for ops whose vjp rules
accept batched cotangents, the vectorised ``tape.jacobian`` against a loop of
``tape.gradient``.  Inputs are drawn from the op's ``domain``; integer and bool inputs
(indices, conditions) are held fixed.  Non-differentiable ops must not be recorded.
``test_every_op_is_checked_or_excused`` fails for an op with neither a check nor a
written reason, including ops registered after these tests were generated.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import tapegrad as tf
import tapegrad.test  # makes tf.test.check_gradients available
from tapegrad.core.op import REAL, REGISTRY
from tapegrad.ops import load_all

load_all()  # the registry's every family, not just those `import tapegrad` loads

# Differentiable ops whose gradient is not itself differentiable: op name -> why.
NO_SECOND_ORDER: dict[str, str] = {}

# Differentiable ops the generated checks cannot exercise: op name -> why.
NOT_CHECKED: dict[str, str] = {}

# cases=None means an elementwise op: same shapes, scalars, and broadcasting shapes.
DEFAULT_CASES = {
    1: [((3, 4),), ((),)],
    2: [((3, 4), (3, 4)), ((), ()), ((3, 1), (4,)), ((), (2, 3))],
    3: [((3, 4),) * 3, ((),) * 3, ((3, 1), (4,), (1, 4))],
}


def cases_of(op) -> list[dict]:
    """The op's cases as dicts with `shapes` and `params`."""
    if op.cases is not None:
        return [{"shapes": tuple(c["shapes"]), "params": dict(c.get("params", {}))} for c in op.cases]
    return [{"shapes": shapes, "params": {}} for shapes in DEFAULT_CASES.get(op.n_in, [])]


def _domains(op, n_inputs: int) -> list:
    """One domain per input; variadic ops repeat their last domain, ops without one draw reals."""
    domains = list(op.domain or (REAL,))
    return [domains[min(k, len(domains) - 1)] for k in range(n_inputs)]


def _case_id(op, case) -> str:
    shapes = ",".join("x".join(map(str, s)) or "scalar" for s in case["shapes"])
    params = ",".join(f"{k}={_short(v)}" for k, v in case["params"].items())
    return f"{op.name}[{shapes}{';' + params if params else ''}]"


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.tolist()}"
    if isinstance(value, slice):
        return f"{'' if value.start is None else value.start}:{'' if value.stop is None else value.stop}" + \
            ("" if value.step is None else f":{value.step}")
    if isinstance(value, tuple):
        return "(" + ",".join(_short(v) for v in value) + ")"
    if value is Ellipsis:
        return "..."
    return repr(value) if isinstance(value, str) else str(value)


class Problem:
    """One op applied to sampled inputs: the free (checked) inputs and a function of them."""

    def __init__(self, op, case):
        self.op, self.params = op, case["params"]
        rng = np.random.default_rng(zlib.crc32(_case_id(op, case).encode()))
        domains = _domains(op, len(case["shapes"]))
        self.values = [d.sample(rng, s) for d, s in zip(domains, case["shapes"])]
        # integer and bool inputs (indices, masks) stay as sampled: they are not perturbed
        self.free = [k for k, (d, v) in enumerate(zip(domains, self.values))
                     if not d.integer and v.dtype.kind == "f"]

    def free_inputs(self) -> list:
        return [tf.constant(self.values[k]) for k in self.free]

    def __call__(self, *free_inputs):
        args = [tf.constant(v) for v in self.values]
        for k, x in zip(self.free, free_inputs):
            args[k] = x
        return self.op(*args, **self.params)


def _generated(predicate) -> list:
    return [pytest.param(op, case, id=_case_id(op, case))
            for op in REGISTRY.values() if predicate(op) and op.name not in NOT_CHECKED
            for case in cases_of(op)]


def _batchable(op, params) -> bool:
    return op.batch_vjp({**op.param_defaults, **params}) if callable(op.batch_vjp) else bool(op.batch_vjp)


DIFFERENTIABLE = _generated(lambda op: op.differentiable)
WITH_JVP = _generated(lambda op: op.differentiable and op.jvps is not None)
BATCHED = [p for p in DIFFERENTIABLE if _batchable(p.values[0], p.values[1]["params"])]
NONDIFFERENTIABLE = [pytest.param(op, cases_of(op)[0] if cases_of(op) else None, id=op.name)
                     for op in REGISTRY.values() if not op.differentiable]
CHECKED_NAMES = {p.values[0].name for p in DIFFERENTIABLE}


@pytest.mark.parametrize("op, case", DIFFERENTIABLE)
def test_reverse_mode(op, case):
    problem = Problem(op, case)
    order = 1 if op.name in NO_SECOND_ORDER else 2
    tf.test.check_gradients(problem, problem.free_inputs(), order=order, modes=("rev",))


@pytest.mark.parametrize("op, case", WITH_JVP)
def test_forward_mode(op, case):
    problem = Problem(op, case)
    order = 1 if op.name in NO_SECOND_ORDER else 2  # order 2: forward over reverse
    tf.test.check_gradients(problem, problem.free_inputs(), order=order, modes=("fwd",))


def _as_array(gradient, shape) -> np.ndarray:
    """A gradient or jacobian as an array: zeros where it is None (not connected)."""
    return np.zeros(shape) if gradient is None else np.asarray(tf.convert_to_tensor(gradient))


@pytest.mark.parametrize("op, case", BATCHED)
def test_vectorised_jacobian_matches_gradient_rows(op, case):
    problem = Problem(op, case)
    xs = problem.free_inputs()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xs)
        y = problem(*xs)
    jacobians = tape.jacobian(y, xs)
    y_shape = tuple(y.shape)
    rows = [tape.gradient(y, xs, output_gradients=tf.constant(one_hot.reshape(y_shape)))
            for one_hot in np.eye(int(np.prod(y_shape)))]
    for k, (x, jacobian) in enumerate(zip(xs, jacobians)):
        x_shape = tuple(x.shape)
        expected = np.stack([_as_array(row[k], x_shape) for row in rows]).reshape(y_shape + x_shape)
        np.testing.assert_allclose(_as_array(jacobian, y_shape + x_shape), expected, rtol=1e-12, atol=1e-12,
                                   err_msg=f"jacobian of {op.name} for free input #{k}")


@pytest.mark.parametrize("op, case", NONDIFFERENTIABLE)
def test_nondifferentiable_op_is_not_recorded(op, case):
    if case is None:
        pytest.fail(f"{op.name}: no cases= and n_in={op.n_in} has no default cases to call it with")
    problem = Problem(op, case)
    xs = problem.free_inputs()
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = problem(*xs)
    assert all(g is None for g in tape.gradient(y, xs)), f"{op.name} was recorded on the tape"


def test_every_op_is_checked_or_excused():
    """Iterates the registry now, so ops registered after collection are caught too."""
    problems = []
    for op in list(REGISTRY.values()):
        if not op.differentiable:
            if not (op.nondiff_reason or "").strip():
                problems.append(f"{op.name}: not differentiable, and no written nondiff reason")
            continue
        if op.name in NOT_CHECKED:
            continue
        if op.domain is None:
            problems.append(f"{op.name}: differentiable but declares no domain= to draw test inputs from")
        elif not cases_of(op):
            problems.append(f"{op.name}: no cases= and n_in={op.n_in} has no default elementwise cases")
        elif op.name not in CHECKED_NAMES:
            problems.append(f"{op.name}: registered after the gradient tests were generated; import its "
                            f"module from tapegrad/ops/__init__.py")
        for case in cases_of(op):
            if op.n_in >= 0 and len(case["shapes"]) != op.n_in:
                problems.append(f"{op.name}: case {case} gives {len(case['shapes'])} shapes for "
                                f"{op.n_in} inputs")
        if op.domain is not None and op.n_in >= 0 and len(op.domain) != op.n_in:
            problems.append(f"{op.name}: {len(op.domain)} domains for {op.n_in} inputs")
    for name in set(NO_SECOND_ORDER) | set(NOT_CHECKED):
        if name not in REGISTRY or not REGISTRY[name].differentiable:
            problems.append(f"{name}: listed as an exception but not a registered differentiable op")
    assert not problems, "ops without a gradient check or a written reason:\n  " + "\n  ".join(problems)
