"""The traced program as a typed, jaxpr-like IR (``.graph``) and as generated Python (``.code``)."""
import ast
import traceback

import numpy as np
import pytest

import tapegrad as tf


def small_train_step():
    """One Dense layer, MSE, SGD: the train step whose printed graph is pinned below."""
    layer = tf.keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros", name="dense")
    loss_fn = tf.keras.losses.MeanSquaredError()
    opt = tf.keras.optimizers.SGD(0.1)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = layer(x)
            loss = loss_fn(y, pred)
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))
        return loss

    return train_step, layer


X = np.ones((4, 3), np.float32)
Y = np.zeros((4, 2), np.float32)

# @k stands for "test_ir.py:<line k after train_step's @tf.function line>"
GOLDEN = """\
{ lambda x:f32[4, 3] y:f32[4, 2] .
  variables dense.kernel:f32[3, 2] dense.bias:f32[2]
  constants const:f32[] const_1:f32[] const_2:f32[] const_3:f32[]
  let
    kernel:f32[3, 2] = read_variable dense.kernel                                # @3
    matmul:f32[4, 2] = matmul[transpose_a=False, transpose_b=False] x kernel     # @3
    bias:f32[2] = read_variable dense.bias                                       # @3
    add:f32[4, 2] = add matmul bias                                              # @3
    subtract:f32[4, 2] = subtract y add                                          # @4
    square:f32[4, 2] = square subtract                                           # @4
    reduce_mean:f32[4] = reduce_mean[axis=-1, keepdims=False] square             # @4
    reduce_mean_1:f32[] = reduce_mean[axis=None, keepdims=False] reduce_mean     # @4
    broadcast_to:f32[] = broadcast_to[shape=()] const                            # @5
    broadcast_to_1:f32[4] = broadcast_to[shape=(4,)] broadcast_to                # @5
    divide:f32[4] = divide broadcast_to_1 const_1                                # @5
    reshape:f32[4, 1] = reshape[shape=(4, 1)] divide                             # @5
    broadcast_to_2:f32[4, 2] = broadcast_to[shape=(4, 2)] reshape                # @5
    divide_1:f32[4, 2] = divide broadcast_to_2 const_2                           # @5
    multiply:f32[4, 2] = multiply const_3 subtract                               # @5
    multiply_1:f32[4, 2] = multiply divide_1 multiply                            # @5
    negative:f32[4, 2] = negative multiply_1                                     # @5
    reduce_sum:f32[2] = reduce_sum[axis=(0,), keepdims=False] negative           # @5
    reshape_1:f32[2] = reshape[shape=(2,)] reduce_sum                            # @5
    matmul_1:f32[3, 2] = matmul[transpose_a=True, transpose_b=False] x negative  # @5
    () = Optimizer.apply_gradients matmul_1 reshape_1                            # @6
  in (reduce_mean_1) }"""

# what compiles: the constant ones folded, the no-op reshape removed
COMPILED = """\
{ lambda x:f32[4, 3] y:f32[4, 2] .
  variables dense.kernel:f32[3, 2] dense.bias:f32[2]
  constants const_2:f32[] divide_1:f32[4, 2]
  let
    kernel:f32[3, 2] = read_variable dense.kernel                                # @3
    matmul:f32[4, 2] = matmul[transpose_a=False, transpose_b=False] x kernel     # @3
    bias:f32[2] = read_variable dense.bias                                       # @3
    add:f32[4, 2] = add matmul bias                                              # @3
    subtract:f32[4, 2] = subtract y add                                          # @4
    square:f32[4, 2] = square subtract                                           # @4
    reduce_mean:f32[4] = reduce_mean[axis=-1, keepdims=False] square             # @4
    reduce_mean_1:f32[] = reduce_mean[axis=None, keepdims=False] reduce_mean     # @4
    multiply:f32[4, 2] = multiply const_2 subtract                               # @5
    multiply_1:f32[4, 2] = multiply divide_1 multiply                            # @5
    negative:f32[4, 2] = negative multiply_1                                     # @5
    reduce_sum:f32[2] = reduce_sum[axis=(0,), keepdims=False] negative           # @5
    matmul_1:f32[3, 2] = matmul[transpose_a=True, transpose_b=False] x negative  # @5
    () = Optimizer.apply_gradients matmul_1 reduce_sum                           # @6
  in (reduce_mean_1) }"""


def golden(fn, text=GOLDEN):
    first = fn.python_function.__code__.co_firstlineno      # the decorator's line
    for k in range(9, 0, -1):
        text = text.replace(f"@{k}", f"test_ir.py:{first + k}")
    return text


def test_small_train_step_graph_golden():
    step, _ = small_train_step()
    step(tf.constant(X), tf.constant(Y))
    concrete = step.get_concrete_function(tf.constant(X), tf.constant(Y))
    assert str(concrete.graph) == golden(step)
    assert str(concrete.compiled_graph) == golden(step, COMPILED)


def test_graph_from_tensor_specs_before_any_call():
    step, layer = small_train_step()
    layer.build((4, 3))
    cf = step.get_concrete_function(tf.TensorSpec([4, 3], tf.float32), tf.TensorSpec([4, 2], tf.float32))
    assert str(cf.graph) == golden(step)
    np.testing.assert_array_equal(layer.kernel.numpy(), np.ones((3, 2)))     # tracing ran no update


def test_graph_passes_lint():
    from tapegrad.compiler.passes import lint

    step, _ = small_train_step()
    lint(step.get_concrete_function(tf.constant(X), tf.constant(Y)).graph)


def test_compiled_small_train_step_updates_like_sgd():
    step, layer = small_train_step()
    loss = float(step(tf.constant(X), tf.constant(Y)))
    assert loss == pytest.approx(9.0)                      # every prediction is 3, target 0
    # d(mean((xW+b)^2))/dW = 2 * 3 * x^T 1 / 8 per entry: 4 rows * 2 * 3 / 8 = 3
    np.testing.assert_allclose(layer.kernel.numpy(), np.full((3, 2), 1 - 0.1 * 3.0), rtol=1e-6)
    np.testing.assert_allclose(layer.bias.numpy(), np.full(2, -0.1 * 3.0), rtol=1e-6)


def test_code_is_python_with_one_statement_per_node():
    step, _ = small_train_step()
    step(tf.constant(X), tf.constant(Y))
    cf = step.get_concrete_function(tf.constant(X), tf.constant(Y))
    compile(cf.code, "<test>", "exec")
    (fn,) = ast.parse(cf.code).body
    assert isinstance(fn, ast.FunctionDef) and fn.name == "train_step"
    assert [a.arg for a in fn.args.args] == ["x", "y"]
    work = [s for s in fn.body if not isinstance(s, (ast.Delete, ast.Return))]
    n_nodes = str(cf.compiled_graph).count("\n    ")   # one printed line per node of what runs
    assert len(work) == n_nodes > 5
    assert isinstance(fn.body[-1], ast.Return)
    # each statement carries the user's line
    first = step.python_function.__code__.co_firstlineno
    lines = cf.code.splitlines()
    for s in work:
        assert lines[s.lineno - 1].endswith(tuple(f"# test_ir.py:{first + k}" for k in range(1, 8)))


def test_code_frees_values_after_last_use():
    step, _ = small_train_step()
    cf = step.get_concrete_function(tf.constant(X), tf.constant(Y))
    (fn,) = ast.parse(cf.code).body
    deleted = [t.id for s in fn.body if isinstance(s, ast.Delete) for t in s.targets]
    assert "matmul" in deleted and "subtract" in deleted
    assert "reduce_mean_1" not in deleted                 # the output lives to the return
    assert len(deleted) == len(set(deleted))


def test_simple_function_graph_and_code():
    @tf.function
    def f(x, y):
        return tf.exp(x) * y + 1.0

    cf = f.get_concrete_function(tf.TensorSpec([3], tf.float32), tf.TensorSpec([3], tf.float32))
    first = f.python_function.__code__.co_firstlineno
    where = f"test_ir.py:{first + 2}"
    assert str(cf.graph) == (
        "{ lambda x:f32[3] y:f32[3] .\n"
        "  constants const:f32[]\n"
        "  let\n"
        f"    exp:f32[3] = exp x                # {where}\n"
        f"    multiply:f32[3] = multiply exp y  # {where}\n"
        f"    add:f32[3] = add multiply const   # {where}\n"
        "  in (add) }")
    compile(cf.code, "<test>", "exec")
    out = cf(tf.constant([0.0, 1.0, 2.0]), tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out.numpy(), np.exp([0.0, 1.0, 2.0]) * [1, 2, 3] + 1, rtol=1e-6)


def test_staged_calls_appear_in_program_order():
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        tf.print("x", x)
        v.assign_add(x)
        return v * 2

    graph = f.get_concrete_function(tf.constant(1.0)).graph
    body = str(graph).split("  let\n", 1)[1].splitlines()
    names = [line.split("=", 1)[1].split()[0] for line in body if " = " in line]
    assert names == ["print_", "Variable.assign_add", "read_variable", "multiply"]  # v read after the assign


def test_runtime_error_in_compiled_code_is_tensorflows_and_points_at_generated_line():
    @tf.function
    def f(p, i):
        return tf.gather(p, i) * 2

    p = tf.constant([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(f(p, tf.constant([0, 2])).numpy(), [2.0, 6.0])
    # TF 2.21 (eager and in tf.function): InvalidArgumentError "indices[1] = 5 is not in [0, 3)"
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 3\)") as info:
        f(p, tf.constant([0, 5]))
    frames = traceback.extract_tb(info.value.__traceback__)
    generated = [fr for fr in frames if fr.filename.startswith("<tf.function f")]
    assert generated and "gather" in generated[-1].line
