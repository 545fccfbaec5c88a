"""Graph passes: algebraic simplification and lint.

Each rewrite is shown on a small graph (printed before and after) and must not change values.
"""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.function import passes
from tapegrad.function.passes import LintError, lint, options

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
    """The printed program's lines between `let` and `in`, without the user's line comments."""
    text = str(getattr(graph, "graph", graph)).split("  let\n", 1)[1].rsplit("\n  in ", 1)[0]
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
        return (x * tf.ones((4, 3)), (tf.zeros((3,)) - x) * 2.0, (tf.ones((3,)) / (x * x + 1.0)) * 2.0, x * 2.0 + 0.5,
                tf.cast(z, tf.float32))
    cf = trace(f, spec(3), spec(3, dtype=tf.int32))
    names = [line.split(" = ")[1].split()[0] for line in body(cf.graph)]
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
    assert not set(cf.graph.outputs) & (set(cf.graph.inputs) | set(cf.graph.variables))
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


# -- lint ------------------------------------------------------------------------------------------------

def test_lint_catches_a_node_rewired_to_a_value_of_another_shape():
    cf = trace(lambda x, y: tf.exp(x) + tf.reshape(y, (2, 3)), spec(2, 3), spec(6))
    graph = cf.graph
    lint(graph)
    add = next(n for n in graph.nodes if n.name == "add")
    reshape = next(n for n in graph.nodes if n.name == "reshape")
    add.in_ids = (add.in_ids[0], reshape.in_ids[0])     # bypass the reshape: a broken rewrite
    with pytest.raises(LintError, match=r"node \d \(add\): inputs of shapes \[\(2, 3\), \(6,\)\]"):
        lint(graph, "a bad pass")


def test_lint_catches_wrong_reshape_transpose_and_dtype():
    cf = trace(lambda x: tf.transpose(tf.reshape(x, (3, 2)) * 2.0), spec(6))
    graph = cf.graph
    node = next(n for n in graph.nodes if n.name == "transpose")
    node.params = {**node.params, "perm": (0, 1)}
    with pytest.raises(LintError, match="transpose of"):
        lint(graph)
    node.params = {**node.params, "perm": (1, 0)}
    lint(graph)
    mul = next(n for n in graph.nodes if n.name == "multiply")
    graph.specs[mul.out_ids[0]] = ((3, 2), np.dtype(np.float64))
    with pytest.raises(LintError, match="dtype"):
        lint(graph)


def test_lint_runs_after_every_pass(monkeypatch):
    def bad_simplify(graph):
        node = next(n for n in graph.nodes if n.name == "exp")
        node.in_ids = (graph.inputs[1],)
    monkeypatch.setattr(passes, "simplify", bad_simplify)
    with pytest.raises(LintError, match="after bad_simplify"):
        trace(lambda x, y: tf.exp(x) * 2.0, spec(2), spec(3))
