"""Shape rules of every registered op against its forward, generated from the registry.

A traced program sees only ShapedArrays (shape + dtype), so each op's ``shape`` rule (or
``elementwise=True``) must give exactly what its forward gives.  For every op and each of its
gradient-test cases (``test_gradients.cases_of``, plus ``EXTRA_CASES`` below), inputs drawn
from the op's domain:

- ``op.abstract`` on the inputs' ShapedArrays equals the forward's result shape and dtype, with
  float inputs in float32 and float64 (integer and bool inputs as the domain draws them), and
  in every other dtype the forward accepts;
- with every input dim a symbolic leaf ``Dim.axis(input, axis)``, each result dim is None (read
  when the program runs), the real int, or a Dim evaluating to the real size;
- no op falls back to running its forward on placeholders (``abstract_by_running``).

Then: rules with symbolic params, ``getitem`` against NumPy on random keys, errors raised at
trace time where the forward raises, and the ``inplace=`` kernels against the forwards.
"""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from test_gradients import Problem, _case_id, cases_of  # the shared case generation (tests/ has no packages)

import tapegrad as tf
import tapegrad.core.aval as aval_module
from tapegrad.core.aval import Dim, ShapedArray
from tapegrad.core.op import REGISTRY
from tapegrad.ops import load_all

load_all()

FLOATS = (np.float32, np.float64)
# the other dtypes tried: a rule must match the forward for each one the forward accepts
OTHER_DTYPES = (np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_)

# (input, axis) dims that stay static in the symbolic checks: the result's rank depends on them
STATIC_DIMS = {
    "gather_nd": {(1, -1)},   # the index depth
    "scatter_nd": {(0, -1)},
}

# ops whose result size depends on their inputs' values: a traced program reads it when it runs
DATA_DEPENDENT = {"range", "where_indices", "_unique_values", "_unique_counts", "_bincount"}

# cases for paths the gradient cases do not take (dtype params, batch_dims, bool masks, ...)
EXTRA_CASES = {
    "cast": [dict(shapes=((3, 4),), params=dict(dtype="int32")),
             dict(shapes=((2,),), params=dict(dtype="bool")),
             dict(shapes=((2,),), params=dict(dtype=tf.float16))],
    "reshape": [dict(shapes=((6,),), params=dict(shape=6)), dict(shapes=((2, 3),), params=dict(shape=(-1,))),
                dict(shapes=((0, 3),), params=dict(shape=(3, 0)))],
    "transpose": [dict(shapes=((2, 3, 4),), params=dict(perm=(-1, 0, 1))), dict(shapes=((),))],
    "concat": [dict(shapes=((2, 3), (2, 1), (2, 0)), params=dict(axis=-1))],
    "pad": [dict(shapes=((2, 3),), params=dict(paddings=((1, 2),))),
            dict(shapes=((2, 3),), params=dict(paddings=((1,), (2,))))],
    "broadcast_to": [dict(shapes=((1, 3),), params=dict(shape=(1, 1, 3)))],
    "reverse": [dict(shapes=((2, 3),), params=dict(axis=()))],
    "getitem": [dict(shapes=((3, 4),), params=dict(key=(np.array([True, False, True]),))),
                dict(shapes=((3, 4),), params=dict(key=(True,))),
                dict(shapes=((3, 4, 5),), params=dict(key=(np.array([0, 1]), slice(None), 0))),
                dict(shapes=((3, 4, 5),), params=dict(key=(slice(None), 0, np.array([[0], [1]])))),
                dict(shapes=((3, 4),), params=dict(key=(slice(5, 1, -2), None, Ellipsis)))],
    "gather": [dict(shapes=((2, 5, 3), (2, 4)), params=dict(axis=1, batch_dims=1)),
               dict(shapes=((2, 5), (2, 3)), params=dict(axis=1, batch_dims=1)),
               dict(shapes=((2, 5), (1, 3)), params=dict(axis=1, batch_dims=1)),
               dict(shapes=((3, 5, 2), (2, 4)), params=dict(axis=1, batch_dims=1)),  # zip: 2 rows
               dict(shapes=((3, 4), (2,)), params=dict(axis=None))],
    "gather_nd": [dict(shapes=((3, 4), (2,))), dict(shapes=((3, 4), (5, 0)))],
    "one_hot": [dict(shapes=((2, 3),), params=dict(depth=4, axis=0)),
                dict(shapes=((2, 3),), params=dict(depth=4, axis=1, on_value=2.0)),
                dict(shapes=((4,),), params=dict(depth=3, dtype="int64")),
                dict(shapes=((),), params=dict(depth=2, on_value=np.int8(5)))],
    "argmax": [dict(shapes=((3, 4),), params=dict(axis=-1, output_type="int32"))],
    "argmin": [dict(shapes=((3, 4),)), dict(shapes=((2, 3, 4),), params=dict(axis=1))],
    "count_nonzero": [dict(shapes=((3, 4),), params=dict(axis=0, keepdims=True, dtype="int32"))],
    "reduce_all": [dict(shapes=((3, 4),), params=dict(axis=1))],
    "reduce_any": [dict(shapes=((3, 4),), params=dict(axis=(0, 1), keepdims=True))],
    "reduce_sum": [dict(shapes=((3, 0),), params=dict(axis=1))],
    "cumsum": [dict(shapes=((3, 4),), params=dict(axis=5))],
    "matmul": [dict(shapes=((2, 1, 2, 3), (4, 2, 5)), params=dict(transpose_a=True))],
    "einsum": [dict(shapes=((2, 1), (3, 4)), params=dict(equation="ij,jk->ik")),
               dict(shapes=((2, 3), (3,)), params=dict(equation="ij,j"))],
    "multinomial": [dict(shapes=((3, 2),), params=dict(num_samples=1, dtype=tf.int32))],
    "random_uniform": [dict(shapes=(), params=dict(shape=(4,), dtype=tf.float64))],
    "random_uniform_int": [dict(shapes=(), params=dict(shape=(), maxval=3, dtype=tf.int64))],
    "dim_size": [dict(shapes=(), params=dict(dim=3))],
    "softmax": [dict(shapes=((2, 4),), params=dict(axis=-2))],
}


def _all_cases(op) -> list:
    extra = [{"shapes": tuple(c["shapes"]), "params": dict(c.get("params", {}))}
             for c in EXTRA_CASES.get(op.name, [])]
    return cases_of(op) + extra


CASES = [pytest.param(op, case, id=_case_id(op, case)) for op in REGISTRY.values() for case in _all_cases(op)]


@pytest.fixture(autouse=True)
def _no_running_forwards(monkeypatch):
    """A rule that reaches the fallback fails here instead of quietly running the forward."""
    def refuse(op, avals, params):
        raise AssertionError(f"{op.name}: Op.abstract fell back to abstract_by_running")
    monkeypatch.setattr(aval_module, "abstract_by_running", refuse)


# -- helpers ---------------------------------------------------------------------------------------

def _inputs(op, case, dtype):
    """The case's sampled inputs, its float ones as `dtype` (as drawn when None)."""
    problem = Problem(op, case)
    if dtype is None:
        return problem.values
    return [v.astype(dtype) if k in problem.free else v for k, v in enumerate(problem.values)]


def _float_dtypes(op, case) -> tuple:
    return FLOATS if Problem(op, case).free else (None,)


def _params(op, case) -> dict:
    return {**op.param_defaults, **case["params"]}  # what Op.__call__ hands the engine


def _forward(op, values, params) -> list:
    with np.errstate(all="ignore"):
        out = op.impl(*values, **params)
    return [np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))]


def _forward_accepts(op, values, params) -> bool:
    try:
        _forward(op, values, params)
    except Exception:  # noqa: BLE001 - inputs the forward rejects (a dtype, most often)
        return False
    return True


def _abstract(op, avals, params) -> list:
    out = op.abstract(avals, params)
    return list(out) if isinstance(out, tuple) else [out]


def _aval(value) -> ShapedArray:
    return ShapedArray(value.shape, value.dtype)


def _static_mismatch(op, values, params) -> str:
    """'' when the rule gives the forward's exact result types on these inputs, else what differs."""
    real = _forward(op, values, params)
    got = _abstract(op, [_aval(v) for v in values], params)
    if len(got) != len(real):
        return f"{len(got)} results, the forward gives {len(real)}"
    for g, r in zip(got, real):
        if not isinstance(g, ShapedArray):
            return f"the rule returned {g!r}, not a ShapedArray"
        if any(type(d) is not int and not (d is None and op.name in DATA_DEPENDENT) for d in g.shape):
            return f"static inputs gave dims {g.shape} (not all Python ints)"
        if len(g.shape) != len(r.shape) or \
                any(d is not None and d != e for d, e in zip(g.shape, r.shape)) or \
                g.dtype != r.dtype:
            return f"rule {g.dtype}{list(g.shape)}, forward {r.dtype}{list(r.shape)}"
    return ""


def _describe(values) -> str:
    return ", ".join(f"{v.dtype}{list(v.shape)}" for v in values)


# -- every op, every case ----------------------------------------------------------------------------

def test_no_op_falls_back_to_running_its_forward():
    offenders = sorted(op.name for op in REGISTRY.values() if op.shape_rule is None and not op.elementwise)
    assert not offenders, ("ops with neither shape= nor elementwise=True (tracing would run their forward "
                           f"on placeholders): {', '.join(offenders)}")


def test_declared_facts_are_well_formed():
    problems = []
    for op in REGISTRY.values():
        if op.result not in (None, "fresh", "view"):
            problems.append(f"{op.name}: result={op.result!r}")
        layouts = [op.layout(rank) for rank in range(6)] if callable(op.layout) else [op.layout]
        if any(layout not in (None, "c", "like_inputs") for layout in layouts):
            problems.append(f"{op.name}: layout gives {layouts}")
        if op.inplace is not None and not op.elementwise:
            problems.append(f"{op.name}: an inplace kernel on an op not declared elementwise")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("op, case", CASES)
def test_rule_gives_the_forward_result_type(op, case):
    params = _params(op, case)
    failures = []
    for dtype in _float_dtypes(op, case):
        values = _inputs(op, case, dtype)
        why = _static_mismatch(op, values, params)
        if why:
            failures.append(f"{op.name}({_describe(values)}): {why}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("op, case", CASES)
def test_rule_follows_the_forward_in_other_dtypes(op, case):
    """Every dtype the forward accepts for the float inputs (those it rejects are skipped)."""
    if not Problem(op, case).free:
        pytest.skip("no float inputs to vary")
    params = _params(op, case)
    failures = []
    for dtype in OTHER_DTYPES:
        values = _inputs(op, case, dtype)
        if not _forward_accepts(op, values, params):
            continue
        why = _static_mismatch(op, values, params)
        if why:
            failures.append(f"{op.name}({_describe(values)}): {why}")
    assert not failures, "\n".join(failures)


def _symbolic(op, values):
    """The inputs' avals with every dim a leaf Dim (except STATIC_DIMS), and each leaf's real size."""
    static = STATIC_DIMS.get(op.name, set())
    avals, env = [], {}
    for i, v in enumerate(values):
        dims = []
        for k, size in enumerate(v.shape):
            if (i, k) in static or (i, k - v.ndim) in static:
                dims.append(size)
            else:
                dims.append(Dim.axis(i, k))
                env[dims[-1]] = size
        avals.append(ShapedArray(dims, v.dtype))
    return avals, env


def _symbolic_mismatch(got, real_shape, real_dtype, env) -> str:
    if got.dtype != real_dtype or len(got.shape) != len(real_shape):
        return f"rule {got.dtype} of rank {len(got.shape)}, forward {real_dtype}{list(real_shape)}"
    for k, (d, r) in enumerate(zip(got.shape, real_shape)):
        if d is None:
            continue
        if isinstance(d, Dim):
            try:
                value = d.evaluate(env)
            except KeyError as e:
                return f"dim {k} = {d!r} uses {e}, not an input size"
            if value != r:
                return f"dim {k} = {d!r} evaluates to {value}, the forward gives {r}"
        elif type(d) is not int or d != r:
            return f"dim {k} is {d!r}, the forward gives {r}"
    return ""


@pytest.mark.parametrize("op, case", CASES)
def test_rule_with_symbolic_input_dims(op, case):
    params = _params(op, case)
    values = _inputs(op, case, _float_dtypes(op, case)[0])
    real = _forward(op, values, params)
    avals, env = _symbolic(op, values)
    got = _abstract(op, avals, params)
    assert len(got) == len(real)
    failures = [why for g, r in zip(got, real) if (why := _symbolic_mismatch(g, r.shape, r.dtype, env))]
    assert not failures, f"{op.name}({', '.join(map(repr, avals))}) -> {got}: " + "; ".join(failures)


# -- symbolic params ---------------------------------------------------------------------------------

b, n = Dim.axis(0, 0), Dim.value(7)   # a batch size, and the value of a traced integer
F32 = np.dtype(np.float32)


def abstract(name, shapes, dtype=F32, **params):
    op = REGISTRY[name]
    out = op.abstract([ShapedArray(s, dtype) for s in shapes], {**op.param_defaults, **params})
    return out.shape


def test_reshape_with_symbolic_sizes():
    assert abstract("reshape", [(b, 28, 28)], shape=(-1, 784)) == (b, 784)     # (b * 784) // 784 is b
    assert abstract("reshape", [(b, 28, 28)], shape=(b, -1)) == (b, 784)
    assert abstract("reshape", [(b, 28, 28)], shape=(n, 10)) == (n, 10)
    assert abstract("reshape", [(b, 4)], shape=(2, -1)) == (2, b * 2)
    flat = abstract("reshape", [(b, 3)], shape=(-1, 2))[0]                     # (b * 3) // 2
    assert flat.evaluate({b: 4}) == 6


def test_broadcast_to_tile_and_sized_ops_with_symbolic_params():
    assert abstract("broadcast_to", [(1, 3)], shape=(b, 3)) == (b, 3)
    assert abstract("broadcast_to", [(b, 1)], shape=(b, 5)) == (b, 5)
    assert abstract("tile", [(b, 3)], multiples=(2, n)) == (b * 2, n * 3)
    assert abstract("one_hot", [(b,)], dtype=np.int32, depth=n) == (b, n)
    assert abstract("unsorted_segment_sum", [(b, 3), (b,)], num_segments=n) == (n, 3)
    assert abstract("random_uniform", [], shape=(b, 3)) == (b, 3)
    assert abstract("_scatter_slice", [(2, b)], key=(slice(1, 3),), shape=(4, b)) == (4, b)
    assert abstract("pad", [(b, 3)], paddings=((1, 2), (0, 0))) == (b + 3, 3)


def test_getitem_of_a_symbolic_axis():
    assert abstract("getitem", [(b, 5)], key=(slice(None), 2)) == (b,)
    assert abstract("getitem", [(b, 5)], key=(slice(None, None, -1), None)) == (b, 1, 5)
    assert abstract("getitem", [(b, 5)], key=(slice(1, 3),)) == (None, 5)       # max(min(3, b) - 1, 0)
    every_other = abstract("getitem", [(b, 5)], key=(slice(None, None, 2),))[0]
    assert [every_other.evaluate({b: size}) for size in range(6)] == [0, 1, 1, 2, 2, 3]


def test_matmul_conv_and_reductions_keep_a_symbolic_batch():
    assert abstract("matmul", [(b, 3), (3, 4)]) == (b, 4)
    assert abstract("reduce_mean", [(b, 10)], axis=1) == (b,)
    assert abstract("conv2d", [(b, 28, 28, 1), (3, 3, 1, 8)], strides=(1, 1), padding="VALID",
                    dilations=(1, 1)) == (b, 26, 26, 8)
    assert abstract("max_pool2d", [(b, 28, 28, 8)], ksize=(2, 2), strides=(2, 2)) == (b, 14, 14, 8)


def test_axes_known_only_when_the_program_runs_keep_the_rank():
    """An axis given as a traced integer tensor (a Dim): the rank is known, the sizes are not (TF's
    unknown dims), except what no axis can change."""
    m = Dim.value(8)
    assert abstract("reduce_sum", [(3, 4)], axis=n) == (None,)
    assert abstract("reduce_max", [(3, 1, 4)], axis=(n, m), keepdims=True) == (None, 1, None)
    assert abstract("reduce_all", [(2, 3, 4)], dtype=np.bool_, axis=(n, m)) == (None,)
    assert abstract("count_nonzero", [(3, 4)], axis=n) == (None,)
    assert abstract("argmax", [(b, 3, 4)], axis=n) == (None, None)
    assert abstract("cumsum", [(b, 4)], axis=n, exclusive=True) == (b, 4)
    assert abstract("concat", [(b, 4), (b, 4)], axis=n) == (None, None)
    assert abstract("gather", [(5, 4), (2, 3)], axis=n) == (None, None, None)
    assert abstract("transpose", [(b, 3, 4)], perm=(n, m, 0)) == (None, None, None)
    assert abstract("reverse", [(b, 4)], axis=(n,)) == (b, 4)
    for name, params in [("reduce_sum", dict(axis=n)), ("argmax", dict(axis=n)), ("concat", dict(axis=n)),
                         ("transpose", dict(perm=(n, 0)))]:  # the forward with the value it reads then
        op = REGISTRY[name]
        inputs = [np.ones((3, 4), np.float32)] * (2 if name == "concat" else 1)
        for value in (0, 1):
            real = op.impl(*inputs, **{**op.param_defaults, **{k: (value if v is n else tuple(
                value if d is n else 1 - value for d in v)) for k, v in params.items()}})
            got = abstract(name, [x.shape for x in inputs], **params)
            assert len(got) == np.ndim(real), (name, got, np.shape(real))


@pytest.mark.parametrize("padding", ["VALID", "SAME", ((1, 0), (2, 1))])
@pytest.mark.parametrize("strides, dilations", [((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 2), (2, 1))])
def test_conv_spatial_dims_follow_tf_formulas(padding, strides, dilations):
    h, w = Dim.axis(0, 1), Dim.axis(0, 2)
    params = dict(strides=strides, padding=padding, dilations=dilations)
    shape = abstract("conv2d", [(b, h, w, 2), (3, 2, 2, 4)], **params)
    assert shape[0] == b and shape[3] == 4
    for height, width in itertools.product(range(5, 10), range(4, 8)):
        real = REGISTRY["conv2d"].impl(np.zeros((1, height, width, 2)), np.zeros((3, 2, 2, 4)),
                                       **params).shape
        env = {b: 1, h: height, w: width}
        assert (shape[1].evaluate(env), shape[2].evaluate(env)) == real[1:3], (height, width)


# -- getitem against NumPy ---------------------------------------------------------------------------

def _random_key(rng, rank):
    entries = []
    for _ in range(rng.integers(0, rank + 2)):
        kind = rng.choice(["int", "slice", "slice", "none", "ellipsis", "array", "bool"])
        if kind == "int":
            entries.append(int(rng.integers(-4, 4)))
        elif kind == "slice":
            start, stop = (None if rng.random() < 0.4 else int(rng.integers(-5, 6)) for _ in range(2))
            entries.append(slice(start, stop, rng.choice([None, 1, 2, -1, -2])))
        elif kind == "none":
            entries.append(None)
        elif kind == "ellipsis":
            entries.append(Ellipsis)
        elif kind == "array":
            entries.append(rng.integers(-3, 3, size=tuple(rng.integers(1, 3, size=rng.integers(0, 3)))))
        else:
            entries.append(rng.random(tuple(rng.integers(1, 4, size=rng.integers(0, 2)))) < 0.5)
    return tuple(entries)


def test_getitem_matches_numpy_on_random_keys():
    rng = np.random.default_rng(zlib.crc32(b"getitem"))
    getitem = REGISTRY["getitem"]
    checked = 0
    for _ in range(3000):
        shape = tuple(int(d) for d in rng.integers(1, 4, size=rng.integers(0, 4)))
        key = _random_key(rng, len(shape))
        x = np.zeros(shape, np.float32)
        try:
            real = x[key].shape
        except IndexError:
            real = None
        try:
            got = getitem.abstract([_aval(x)], {"key": key})
        except (IndexError, ValueError):
            got = None
        assert (got and got.shape) == real, f"x{list(shape)}[{key}]: rule {got}, NumPy {real}"
        if real is None:
            continue
        checked += 1
        avals, env = _symbolic(getitem, [x])
        why = _symbolic_mismatch(getitem.abstract(avals, {"key": key}), real, x.dtype, env)
        assert not why, f"x{list(shape)}[{key}] with symbolic dims: {why}"
    assert checked > 1000


# -- errors at trace time ----------------------------------------------------------------------------

_ERRORS = [  # (op, input shapes, params, the error both the forward and the rule raise[, input dtypes])
    ("matmul", [(2, 3), (4, 5)], {}, ValueError),
    ("matmul", [(2, 3), (3,)], {}, ValueError),
    ("matmul", [(2, 2, 3), (3, 3, 4)], {}, ValueError),
    ("matmul", [(3, 2), (3, 4)], dict(transpose_b=True), ValueError),
    ("reshape", [(3, 4)], dict(shape=(5, -1)), ValueError),
    ("reshape", [(3, 4)], dict(shape=(5, 2)), ValueError),
    ("reshape", [(3, 4)], dict(shape=(-1, -1)), ValueError),
    ("reduce_sum", [(3, 4)], dict(axis=2), ValueError),
    ("reduce_max", [(3, 0)], dict(axis=1), ValueError),
    ("argmax", [(3, 4)], dict(axis=-3), ValueError),
    ("softmax", [(3, 4)], dict(axis=2), ValueError),
    ("transpose", [(3, 4)], dict(perm=(0, 0)), ValueError),
    ("concat", [(3, 4), (3, 5)], dict(axis=0), ValueError),
    ("concat", [(3, 4), (3, 5)], dict(axis=2), ValueError),
    ("tile", [(3, 4)], dict(multiples=(2,)), ValueError),
    ("broadcast_to", [(3,)], dict(shape=(2, 4)), ValueError),
    ("add", [(3,), (4,)], {}, ValueError),
    ("einsum", [(2, 3), (4, 5)], dict(equation="ij,jk->ik"), ValueError),
    ("conv2d", [(1, 5, 5, 2), (3, 3, 3, 4)], dict(strides=(1, 1), padding="VALID", dilations=(1, 1)),
     ValueError),  # channels
    ("conv2d", [(1, 2, 5, 2), (5, 3, 2, 4)], dict(strides=(1, 1), padding="VALID", dilations=(1, 1)),
     ValueError),  # a negative output size
    ("max_pool2d", [(5, 5, 2)], dict(ksize=(2, 2), strides=(1, 1)), ValueError),
    ("gather", [(3, 4), (2,)], dict(axis=2), ValueError),
    ("getitem", [(3, 4)], dict(key=(3,)), IndexError),
    ("getitem", [(3, 4)], dict(key=(0, 0, 0)), IndexError),
    ("gather_nd", [(3, 4), (2, 3)], {}, IndexError, (np.float32, np.int32)),
    ("unsorted_segment_sum", [(4, 3), (5,)], dict(num_segments=3), ValueError, (np.float32, np.int32)),
    ("scatter_nd", [(2, 1), (1, 2, 3)], dict(shape=(4, 3)), ValueError, (np.int32, np.float32)),
    ("one_hot", [(3,)], dict(depth=2, axis=2), ValueError, (np.int32,)),
]


ERRORS = [pytest.param(name, shapes, params, error, rest[0] if rest else (np.float32,) * len(shapes),
                       id=f"{name}{shapes}{params or ''}") for name, shapes, params, error, *rest in _ERRORS]


@pytest.mark.parametrize("name, shapes, params, error, dtypes", ERRORS)
def test_rule_raises_where_the_forward_does(name, shapes, params, error, dtypes):
    op = REGISTRY[name]
    params = {**op.param_defaults, **params}
    values = [np.zeros(s, dtype) for s, dtype in zip(shapes, dtypes)]
    with pytest.raises(error):
        _forward(op, values, params)
    with pytest.raises(error):
        op.abstract([_aval(v) for v in values], params)


def test_static_dims_still_clash_beside_symbolic_ones():
    with pytest.raises(ValueError, match="mismatch"):
        abstract("matmul", [(b, 3), (4, 5)])
    with pytest.raises(ValueError, match="concatenation axis"):
        abstract("concat", [(b, 3), (b, 4)], axis=0)
    with pytest.raises(ValueError):
        abstract("add", [(b, 3), (b, 4)])


# -- in-place kernels --------------------------------------------------------------------------------

INPLACE = [p for p in CASES if p.values[0].inplace is not None]


@pytest.mark.parametrize("op, case", INPLACE)
def test_inplace_kernel_computes_the_forward(op, case):
    for dtype in FLOATS:
        values = _inputs(op, case, dtype)
        (real,) = _forward(op, values, _params(op, case))
        if real.ndim == 0:
            continue  # the compiler never writes 0-d results in place
        out = np.empty_like(real)
        with np.errstate(all="ignore"):
            result = op.inplace(*values, out=out)
        assert result is out
        np.testing.assert_array_equal(out, real, err_msg=f"{op.name} into out= ({dtype.__name__})")
