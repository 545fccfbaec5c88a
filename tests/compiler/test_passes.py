"""Graph passes and code generation: algebraic simplification, lint, and in-place buffer reuse.

Each rewrite is shown on a small graph (printed before and after) and must not change values;
code that writes results into dying inputs must give the same bits as code that allocates, and
never write into an input, a variable, a constant, a returned value or a staged call's array.
"""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.core.op import REGISTRY
from tapegrad.compiler import passes
from tapegrad.compiler.passes import LintError, lint, options

RNG = np.random.default_rng(3)


@pytest.fixture
def switches(monkeypatch):
    """Set the compiler's switches for the functions traced in a test (restored after it)."""
    def set_(**values):
        for k, v in values.items():
            monkeypatch.setattr(options, k, v)
    return set_


def trace(fn, *specs):
    return tf.function(fn).get_concrete_function(*specs)


def body(graph) -> list:
    """The optimised program's lines between `let` and `in`, without the user's line comments."""
    text = str(getattr(graph, "compiled_graph", graph)).split("  let\n", 1)[1].rsplit("\n  in ", 1)[0]
    return [line.split("  #")[0].strip() for line in text.splitlines()]


def before_after(switches, fn, *specs):
    switches(simplify=False)
    before = trace(fn, *specs)
    switches(simplify=True)
    after = trace(fn, *specs)
    return before, after


def spec(*shape, dtype=tf.float32):
    return tf.TensorSpec(shape, dtype)


def rand(*shape):
    return tf.constant(RNG.standard_normal(shape).astype(np.float32))


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# -- algebraic simplification -------------------------------------------------------------------------

def test_reshape_of_reshape_is_one_reshape(switches):
    before, after = before_after(switches, lambda x: tf.reshape(tf.reshape(x, (6, 2)), (3, 4)) * 2.0,
                                 spec(2, 6))
    assert body(before)[:2] == ["reshape:f32[6, 2] = reshape[shape=(6, 2)] x",
                                "reshape_1:f32[3, 4] = reshape[shape=(3, 4)] reshape"]
    assert body(after) == ["reshape_1:f32[3, 4] = reshape[shape=(3, 4)] x",
                           "multiply:f32[3, 4] = multiply reshape_1 const"]
    x = rand(2, 6)
    same(before(x), after(x))


def test_reshape_and_broadcast_to_own_shape_are_removed(switches):
    def f(x):
        return tf.broadcast_to(tf.reshape(tf.exp(x), (2, 3)), (2, 3)) + 1.0
    before, after = before_after(switches, f, spec(2, 3))
    assert [line.split(" = ")[1].split()[0] for line in body(before)] == [
        "exp", "reshape[shape=(2,", "broadcast_to[shape=(2,", "add"]
    assert body(after) == ["exp:f32[2, 3] = exp x", "add:f32[2, 3] = add exp const"]
    x = rand(2, 3)
    same(before(x), after(x))


def test_train_step_gradient_reshape_is_removed(switches):
    layer = tf.keras.layers.Dense(2, kernel_initializer="ones")

    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x)))
        return tape.gradient(loss, layer.trainable_variables)
    before, after = before_after(switches, step, spec(4, 3))
    assert "reshape:f32[2] = reshape[shape=(2,)] reduce_sum" in body(before)
    assert not any("reshape" in line for line in body(after))
    x = rand(4, 3)
    for a, b in zip(before(x), after(x)):
        same(a, b)


def test_transposes_with_inverse_permutations_are_removed(switches):
    def f(x):
        return tf.transpose(tf.transpose(x, (1, 2, 0)), (2, 0, 1)) * 3.0
    before, after = before_after(switches, f, spec(2, 3, 4))
    assert len(body(before)) == 3
    assert body(after) == ["multiply:f32[2, 3, 4] = multiply x const"]
    x = rand(2, 3, 4)
    same(before(x), after(x))


def test_transpose_of_transpose_is_one_transpose(switches):
    def f(x):
        return tf.transpose(tf.transpose(x, (1, 2, 0)), (1, 0, 2)) * 3.0
    before, after = before_after(switches, f, spec(2, 3, 4))
    assert body(after)[0] == "transpose_1:f32[4, 3, 2] = transpose[perm=(2, 1, 0), conjugate=False] x"
    x = rand(2, 3, 4)
    same(before(x), after(x))
    same(after(x), np.transpose(x.numpy(), (2, 1, 0)) * np.float32(3))


def test_identity_constants_and_same_dtype_casts_are_removed(switches):
    def f(x):
        ones, zeros = tf.ones((2, 3)), tf.zeros((2, 3))
        y = tf.cast(tf.exp(x), tf.float32)
        return ((ones * (y + zeros)) / ones - zeros) * ones
    before, after = before_after(switches, f, spec(2, 3))
    assert len(body(before)) == 7
    assert body(after) == ["exp:f32[2, 3] = exp x"]
    x = rand(2, 3)
    same(before(x), after(x))


def test_constants_that_broadcast_or_change_values_stay(switches):
    def f(x, z):
        return (x * tf.ones((4, 3)), (tf.zeros((3,)) - x) * 2.0, (tf.ones((3,)) / (x * x + 1.0)) * 2.0,
                x * 2.0 + 0.5, tf.cast(z, tf.float32))
    cf = trace(f, spec(3), spec(3, dtype=tf.int32))
    names = [line.split(" = ")[1].split()[0] for line in body(cf.compiled_graph)]
    assert names == ["multiply", "subtract", "multiply", "multiply", "add", "divide", "multiply", "multiply",
                     "add", "cast[dtype=float32]"]
    x, z = rand(3), tf.constant([1, 2, 3])
    for got, want in zip(cf(x, z), f(x, z)):
        same(got, want)


def test_returned_no_op_is_not_renamed_to_an_input_or_a_variable(switches):
    v = tf.Variable([1.0, 2.0])

    def f(x):
        return tf.reshape(x, (2,)), tf.reshape(v, (2,)) * 1.0
    cf = trace(f, spec(2))
    assert not set(cf.compiled_graph.outputs) & (set(cf.compiled_graph.inputs)
                                                 | set(cf.compiled_graph.variables))
    x = tf.constant([3.0, 4.0])
    a, b = cf(x)
    same(a, [3.0, 4.0])
    same(b, [1.0, 2.0])


def test_no_op_on_a_variable_is_not_moved_across_an_assignment(switches):
    v = tf.Variable([1.0, 2.0])

    @tf.function
    def f():
        before = tf.reshape(v, (2,))
        v.assign([5.0, 6.0])
        return before + 0.0, tf.transpose(tf.transpose(v)) + 0.0

    a, b = f()
    same(a, [1.0, 2.0])
    same(b, [5.0, 6.0])
    m = tf.Variable([[1.0, 2.0], [3.0, 4.0]])

    @tf.function
    def g():
        flat = tf.reshape(m, (4,))                    # read before the assignment
        m.assign([[5.0, 6.0], [7.0, 8.0]])
        return tf.reshape(flat, (2, 2)) * 1.5         # not merged into a reshape of m read after it

    same(g(), [[1.5, 3.0], [4.5, 6.0]])


def test_simplified_graph_lints_and_keeps_types(switches):
    def f(x):
        y = tf.reshape(tf.transpose(tf.reshape(x, (3, 4)), (1, 0)), (4, 3))
        return tf.transpose(tf.transpose(y, (1, 0)), (1, 0)) * tf.ones((4, 3))
    cf = trace(f, spec(12))
    lint(cf.graph)
    out = cf(tf.range(12, dtype=tf.float32))
    assert out.shape == (4, 3) and out.dtype == tf.float32
    same(out, np.arange(12, dtype=np.float32).reshape(3, 4).T)


# -- dead code -------------------------------------------------------------------------------------------

def test_an_unused_metric_result_is_dropped_and_updates_stay():
    # metric(x) stages update_state and then the read-only result(): unused, the read goes
    mean, total = tf.keras.metrics.Mean(), tf.keras.metrics.Sum()

    def step(x):
        mean(x)
        return total(x) * 2.0

    fn = tf.function(step)
    assert body(fn.get_concrete_function(spec(3))) == [
        "() = Mean.update_state x", "() = Sum.update_state x", "Sum.result:f32[] = Sum.result",
        "multiply:f32[] = multiply Sum.result const"]
    assert float(fn(tf.constant([1.0, 2.0, 3.0]))) == 12.0
    assert float(mean.result()) == 2.0  # updated on every call all the same
    fn(tf.constant([3.0, 3.0, 3.0]))
    assert float(mean.result()) == 2.5 and float(total.result()) == 15.0


# -- lint ------------------------------------------------------------------------------------------------

def _replace(graph, name, **changes):
    """The program with the first equation of op `name` rebuilt with other in_ids or params."""
    from tapegrad.core.op import Eqn
    n = next(k for k, e in enumerate(graph.eqns) if e.op.name == name)
    e = graph.eqns[n]
    graph.eqns[n] = Eqn.make(e.op, changes.get("params", e.params), changes.get("in_ids", e.in_ids), e.inputs,
                             e.out_ids, e.out, e.site)
    return graph.eqns[n]


def test_lint_catches_an_equation_rewired_to_a_value_of_another_shape():
    cf = trace(lambda x, y: tf.exp(x) + tf.reshape(y, (2, 3)), spec(2, 3), spec(6))
    graph = cf.graph
    lint(graph)
    add = next(e for e in graph.eqns if e.op.name == "add")
    reshape = next(e for e in graph.eqns if e.op.name == "reshape")
    # bypass the reshape: a broken rewrite
    _replace(graph, "add", in_ids=(add.in_ids[0], reshape.in_ids[0]))
    with pytest.raises(LintError, match=r"equation \d \(add\): its shape rule rejects its inputs"):
        lint(graph, "a bad pass")


def test_lint_catches_wrong_reshape_transpose_and_dtype():
    cf = trace(lambda x: tf.transpose(tf.reshape(x, (3, 2)) * 2.0), spec(6))
    graph = cf.graph
    eqn = next(e for e in graph.eqns if e.op.name == "transpose")
    _replace(graph, "transpose", params={**eqn.params, "perm": (0, 1)})
    with pytest.raises(LintError, match="recorded shape"):
        lint(graph)
    _replace(graph, "transpose", params={**eqn.params, "perm": (1, 0)})
    lint(graph)
    mul = next(e for e in graph.eqns if e.op.name == "multiply")
    graph.avals[mul.out_ids[0]] = type(graph.avals[mul.out_ids[0]])((3, 2), np.float64)
    with pytest.raises(LintError, match="dtype"):
        lint(graph)


def test_lint_runs_after_every_pass(monkeypatch):
    def bad_simplify(graph):
        _replace(graph, "exp", in_ids=(graph.inputs[1],))
    monkeypatch.setattr(passes, "simplify", bad_simplify)
    with pytest.raises(LintError, match="after bad_simplify"):
        trace(lambda x, y: tf.exp(x) * 2.0, spec(2), spec(3))


# -- in-place buffer reuse ---------------------------------------------------------------------------

def compiled(switches, fn, *specs, inplace_on=True):
    switches(inplace=inplace_on)
    return trace(fn, *specs)


def test_dense_relu_chain_writes_in_place(switches):
    w = tf.Variable(RNG.standard_normal((5, 4)).astype(np.float32))
    b = tf.Variable(RNG.standard_normal(4).astype(np.float32))

    def f(x):
        return tf.reduce_sum(tf.nn.relu(tf.matmul(x, w) + b) * 2.0, axis=0)
    cf = compiled(switches, f, spec(3, 5))
    assert "out=matmul)" in cf.code
    assert "_relu_into(add, out=add)" in cf.code
    off = compiled(switches, f, spec(3, 5), inplace_on=False)
    assert "out=" not in off.code
    x = rand(3, 5)
    w_before, b_before = w.numpy().copy(), b.numpy().copy()
    same(cf(x), off(x))
    same(cf(x), f(x))
    same(w.numpy(), w_before)
    same(b.numpy(), b_before)


UNARY = ["negative", "abs", "sign", "square", "sqrt", "exp", "expm1", "log", "log1p", "tanh", "sinh",
         "cosh", "sin", "cos", "tan", "asin", "acos", "atan", "floor", "ceil", "relu", "rsqrt"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "pow", "floordiv", "floormod",
          "relu_grad"]


def special_values(shape, dtype=np.float32):
    x = RNG.standard_normal(shape).astype(dtype) * 3
    flat = x.reshape(-1)
    flat[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30][:flat.size]
    return x


@pytest.mark.parametrize("name", UNARY + BINARY + ["clip_by_value"])
def test_in_place_kernels_give_the_ops_bits(name):
    op = REGISTRY[name]
    kernel = op.inplace
    x = special_values((7, 5))
    args = {1: (x,), 2: (x, special_values((5,))), 3: (x, np.float32(-0.5), np.float32(0.7))}[
        len(op.arg_names) - len(op.param_defaults)]
    with np.errstate(all="ignore"):
        expected = op.impl(*args)
        into = args[0].copy()
        got = kernel(into, *args[1:], out=into)
        fresh = kernel(*args)
    assert got is into
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    np.testing.assert_array_equal(fresh.view(np.uint32), expected.view(np.uint32))


def test_every_op_with_an_in_place_form_is_listed_here():
    in_place = {op.name for op in REGISTRY.values() if op.inplace is not None}
    assert in_place == set(UNARY + BINARY + ["clip_by_value"])


FRESH = sorted(op.name for op in REGISTRY.values() if op.result == "fresh")


@pytest.mark.parametrize("name", FRESH)
def test_fresh_ops_return_new_c_contiguous_arrays(name):
    import tapegrad.ops.conv  # noqa: F401 - registers the convolutions
    op = REGISTRY[name]
    x = RNG.standard_normal((2, 5, 5, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    g = RNG.standard_normal((2, 3, 3, 4)).astype(np.float32)
    cases = {"matmul": ((x[0, 0], x[0, 0].T), {}), "conv2d": ((x, w), {}),
             "conv2d_backprop_input": ((w, g), dict(input_sizes=(2, 5, 5, 3))),
             "conv2d_backprop_filter": ((x, g), dict(filter_sizes=(3, 3, 3, 4))),
             "broadcast_to": ((x[0, 0, 0],), dict(shape=(4, 3))), "softmax": ((x,), {}),
             "identity": ((x,), {}), "reduce_sum": ((x,), dict(axis=())),
             "reduce_mean": ((x,), dict(axis=(1,))),
             "clip_by_value": ((x, np.float32(-1), np.float32(1)), {})}
    n_in = len(op.arg_names) - len(op.param_defaults)
    args, params = cases.get(name, ((x,) * n_in, {}))
    if name in ("asin", "acos"):
        args = (np.clip(x, -1, 1),)
    with np.errstate(all="ignore"):
        out = op.impl(*args, **params)
    assert isinstance(out, np.ndarray) and out.flags.writeable
    assert not any(np.shares_memory(out, a) for a in args)
    layout = op.layout(out.ndim) if callable(op.layout) else op.layout
    if layout == "c" or op.inplace is not None or name in ("matmul", "softmax", "identity"):
        assert out.flags.c_contiguous


CHAINS = {
    "affine_relu": (lambda x, b, c: tf.nn.relu(x * c + b) - c, [(8, 6), (6,), (8, 1)]),
    "broadcast_both_ways": (lambda x, b, c: tf.exp((x + b) * c) / (1.0 + tf.abs(x)),
                            [(4, 1, 5), (3, 5), (4, 3, 1)]),
    "sqrt_log_tanh": (lambda x, b, c: tf.tanh(tf.math.log(tf.sqrt(tf.abs(x) + 1.0) + b * b)) * c,
                      [(16,), (16,), ()]),
    "clip_square_max": (lambda x, b, c: tf.maximum(tf.square(tf.clip_by_value(x, -0.5, 0.5)), b) + c,
                        [(2, 3, 4), (4,), (2, 1, 1)]),
    "grad_chain": (lambda x, b, c: tf.math.rsqrt(tf.square(x) + 1.0) * tf.nn.relu(b) - tf.minimum(x, c),
                   [(5, 7), (5, 7), (7,)]),
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_in_place_chains_equal_allocating_code_bit_for_bit(switches, chain):
    fn, shapes = CHAINS[chain]
    on = compiled(switches, fn, *[spec(*s) for s in shapes])
    off = compiled(switches, fn, *[spec(*s) for s in shapes], inplace_on=False)
    assert "out=" in on.code
    for _ in range(3):
        args = [special_values(s) if s else np.float32(RNG.standard_normal()) for s in shapes]
        kept = [np.copy(a) for a in args]
        with np.errstate(all="ignore"):
            a, b, eager = on(*args), off(*args), fn(*[tf.constant(v) for v in args])
        same(a, b)
        same(a, eager)
        assert a.numpy().flags.c_contiguous == b.numpy().flags.c_contiguous
        for got, was in zip(args, kept):
            same(got, was)                                   # inputs untouched
            assert not np.shares_memory(a.numpy(), got)


def test_fortran_ordered_inputs_are_checked_at_run_time(switches):
    def f(x, y):
        return tf.exp(x * 2.0) + y
    on = compiled(switches, f, spec(6, 4), spec(6, 4))
    off = compiled(switches, f, spec(6, 4), spec(6, 4), inplace_on=False)
    assert ".flags.c_contiguous" in on.code
    x = np.asfortranarray(special_values((6, 4)))
    y = np.asfortranarray(special_values((6, 4)))
    with np.errstate(all="ignore"):
        a, b = on(x, y).numpy(), off(x, y).numpy()
    same(a, b)
    assert (a.flags.c_contiguous, a.flags.f_contiguous) == (b.flags.c_contiguous, b.flags.f_contiguous)


def test_never_writes_into_returned_values_views_or_staged_arrays(switches):
    v = tf.Variable(np.zeros((3, 4), np.float32))

    @tf.function
    def f(x):
        y = x * 2.0                 # returned: never overwritten
        r = tf.reshape(y + 1.0, (4, 3))   # a view of y + 1, used after the add below
        z = y + 1.0
        s = tf.exp(z)               # z is also given to a staged call: never overwritten
        v.assign(z)
        t = s * 3.0                 # s dies here: may be overwritten
        return y, r * 1.5, t - z

    x = RNG.standard_normal((3, 4)).astype(np.float32)
    y, r, u = f(tf.constant(x))
    with np.errstate(all="ignore"):
        y2, r2, u2 = (x * 2).astype(np.float32), ((x * 2 + 1).reshape(4, 3) * np.float32(1.5)), \
            np.exp(x * 2 + 1) * np.float32(3) - (x * 2 + 1)
    same(y, y2)
    same(r, r2.astype(np.float32))
    np.testing.assert_allclose(u.numpy(), u2, rtol=1e-6)
    same(v.numpy(), x * 2 + 1)
    arrays = [t.numpy() for t in (y, r, u)] + [v.numpy()]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)


def test_a_dying_value_with_a_live_view_is_not_overwritten(switches):
    def f(x):
        a = tf.exp(x)
        r = tf.reshape(a, (4, 3))    # a view of a's buffer, used after a's last use
        b = a * 2.0                  # a dies here, but its buffer lives on in r
        return b, r * 1.0 + 0.5

    on = compiled(switches, f, spec(3, 4))
    assert "out=a" not in on.code.replace("out=add", "")
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    b, r = on(x)
    same(b, np.exp(x) * np.float32(2))
    same(r, np.exp(x).reshape(4, 3) + np.float32(0.5))


def test_values_read_by_a_staged_call_or_a_cond_stay(switches):
    v = tf.Variable(np.zeros(5, np.float32))

    @tf.function
    def f(x):
        y = tf.exp(x)
        v.assign(y)                  # the staged call gets y's array
        if tf.reduce_sum(y) > 0:     # a cond reads y
            w = y + 1.0
        else:
            w = y - 1.0
        return w * 2.0

    cf = f.get_concrete_function(spec(5))
    assert "out=exp" not in cf.code
    x = RNG.standard_normal(5).astype(np.float32)
    out = f(tf.constant(x))
    same(v.numpy(), np.exp(x))
    same(out, (np.exp(x) + np.float32(1)) * np.float32(2))


def test_repeated_calls_and_constants_are_stable(switches):
    c = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)

    @tf.function
    def f(x):
        return tf.nn.relu(x + tf.constant(c)) * 2.0

    x = RNG.standard_normal((3, 4)).astype(np.float32)
    first = f(tf.constant(x)).numpy().copy()
    for _ in range(3):
        same(f(tf.constant(x)), first)
    same(first, np.maximum(x + c, 0) * np.float32(2))


def test_compiled_training_matches_eager_bit_for_bit(switches):
    def run(eager):
        tf.config.run_functions_eagerly(eager)
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([tf.keras.layers.Conv2D(4, 3, activation="relu"),
                                     tf.keras.layers.Flatten(),
                                     tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(10)])
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        opt = tf.keras.optimizers.Adam()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                    model.trainable_variables))
            return loss

        x = tf.constant(np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32))
        y = tf.constant(np.arange(16) % 10)
        losses = [float(step(x, y)) for _ in range(3)]
        tf.config.run_functions_eagerly(False)
        return losses, [w.numpy() for w in model.trainable_variables]

    (l_eager, w_eager), (l_comp, w_comp) = run(True), run(False)
    assert l_eager == l_comp
    for a, b in zip(w_eager, w_comp):
        same(a, b)
