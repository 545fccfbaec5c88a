"""Higher order (spec §1.6, 1.7, 1.9, 1.12): jacobian, batch_jacobian, Hessians, nested tapes to
any order, gradients of custom gradients, and forward mode (ForwardAccumulator)."""
import contextlib

import numpy as np
import pytest

import tapegrad as tf

# -- 1.6 jacobian -----------------------------------------------------------------------

def test_jacobian_of_an_elementwise_op_is_diagonal():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    j = tape.jacobian(y, x)
    assert j.shape == (3, 3) and j.dtype == tf.float32
    np.testing.assert_allclose(j.numpy(), np.diag([2.0, 4.0, 6.0]))


def test_jacobian_shape_is_target_shape_plus_source_shape():
    x = tf.reshape(tf.range(6.0), [2, 3])
    w = tf.Variable(tf.ones([3, 4]))
    with tf.GradientTape() as tape:
        y = x @ w
    j = tape.jacobian(y, w)
    assert j.shape == (2, 4, 3, 4)
    expected = np.zeros((2, 4, 3, 4), np.float32)
    for i in range(2):
        for k in range(4):
            expected[i, k, :, k] = x.numpy()[i]
    np.testing.assert_allclose(j.numpy(), expected)


def test_jacobian_dense_layer_guide_shapes():
    # advanced_autodiff guide: y = Dense(10)(x[7, 5]); jacobian wrt kernel is (7, 10, 5, 10)
    x = tf.constant(np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32))
    kernel = tf.Variable(tf.ones([5, 10]) * 0.1)
    bias = tf.Variable(tf.zeros([10]))
    with tf.GradientTape(persistent=True) as tape:
        y = tf.sigmoid(x @ kernel + bias)
    j = tape.jacobian(y, {"kernel": kernel, "bias": bias})
    assert set(j) == {"kernel", "bias"}
    assert j["kernel"].shape == (7, 10, 5, 10)
    assert j["bias"].shape == (7, 10, 10)
    # summing over the target axes reproduces the gradient
    np.testing.assert_allclose(tf.reduce_sum(j["kernel"], axis=[0, 1]).numpy(),
                               tape.gradient(y, kernel).numpy(), rtol=1e-5, atol=1e-6)


def test_jacobian_with_scalar_source_has_the_targets_shape():
    s = tf.constant(2.0)
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(s)
        y = s * x
    j = tape.jacobian(y, s)
    assert j.shape == (3,)
    np.testing.assert_allclose(j.numpy(), [1.0, 2.0, 3.0])


def test_jacobian_of_a_scalar_target_is_the_gradient():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x * x)
    j = tape.jacobian(y, x)
    assert j.shape == (3,)
    np.testing.assert_allclose(j.numpy(), [2.0, 4.0, 6.0])


def test_jacobian_preserves_nested_source_structure():
    a, b = tf.Variable([1.0, 2.0]), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = a * b
    ja, (jb,) = tape.jacobian(y, [a, (b,)])
    np.testing.assert_allclose(ja.numpy(), np.diag([3.0, 3.0]))
    assert jb.shape == (2,)
    np.testing.assert_allclose(jb.numpy(), [1.0, 2.0])


def test_jacobian_unconnected_none_and_zero():
    s = tf.constant(2.0)
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(s)
        y = x * 2.0
    assert tape.jacobian(y, s) is None
    m = tf.constant([[1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(m)
        y = x * 2.0
    z = tape.jacobian(y, m, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert z.shape == (2, 1, 3) and z.dtype == tf.float32
    assert not z.numpy().any()


def test_jacobian_densifies_indexed_slices():
    v = tf.Variable(tf.ones([4, 3]))
    with tf.GradientTape() as tape:
        r = tf.gather(v, [1, 3])
    j = tape.jacobian(r, v)
    assert type(j) is tf.Tensor and j.shape == (2, 3, 4, 3)
    expected = np.zeros((2, 3, 4, 3), np.float32)
    for i, row in enumerate([1, 3]):
        for c in range(3):
            expected[i, c, row, c] = 1.0
    np.testing.assert_array_equal(j.numpy(), expected)


@pytest.mark.parametrize("reduce", [
    lambda v: tf.reduce_sum(v * v), lambda v: tf.reduce_sum(v * v, axis=[0]),
    lambda v: tf.reduce_mean(v * v) * 3.0, lambda v: tf.reduce_sum(v * v, keepdims=True),
])
def test_jacobian_through_a_full_reduction(reduce):
    # y = x * sum(x^2): J = sum(x^2) I + 2 x x^T (the reduction's rows must not be transposed)
    x = tf.constant([0.5, 1.0, 2.0], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * reduce(x)
    v = x.numpy()
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), np.eye(3) * (v @ v) + 2 * np.outer(v, v))


def test_jacobian_of_a_longer_target_through_a_full_reduction():
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.constant([1.0, 2.0, 3.0, 4.0]) * tf.reduce_sum(x)
    j = tape.jacobian(y, x)
    assert j.shape == (4, 2, 3)
    np.testing.assert_allclose(j.numpy(), np.arange(1.0, 5.0)[:, None, None] * np.ones((4, 2, 3)))


def test_jacobian_through_an_op_without_batched_vjp():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x[[2, 0, 0]] * x[[0, 1, 2]]       # advanced indexing: the per-row fallback
    j = tape.jacobian(y, x)
    # y = [x2*x0, x0*x1, x0*x2]
    expected = np.array([[3.0, 0.0, 1.0], [2.0, 1.0, 0.0], [3.0, 0.0, 1.0]])
    np.testing.assert_allclose(j.numpy(), expected)


def test_jacobian_without_pfor_on_a_persistent_tape():
    x = tf.constant([0.5, 1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.sin(x)
    j = tape.jacobian(y, x, experimental_use_pfor=False)
    np.testing.assert_allclose(j.numpy(), np.diag(np.cos([0.5, 1.0, 2.0])), rtol=1e-6)
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), j.numpy())  # persistent: again


def test_jacobian_without_pfor_requires_a_persistent_tape():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(RuntimeError, match="GradientTape must be created with persistent=True to compute "
                                           "the jacobian with eager execution enabled"):
        tape.jacobian(y, x, experimental_use_pfor=False)


def test_jacobian_consumes_a_non_persistent_tape():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.jacobian(y, x)
    assert tape._eqns is None
    with pytest.raises(RuntimeError, match="one set of gradients \\(or jacobians\\)"):
        tape.jacobian(y, x)


# -- 1.6 batch_jacobian -----------------------------------------------------------------

def test_batch_jacobian_values_and_shape():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (2, 2, 2)
    np.testing.assert_allclose(bj.numpy(), [np.diag([2.0, 4.0]), np.diag([6.0, 8.0])])


def test_batch_jacobian_equals_the_stack_of_per_example_jacobians():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(3, 4)).astype(np.float32))
    w = tf.constant(rng.normal(size=(4, 5)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.tanh(x @ w)
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (3, 5, 4)
    full = tape.jacobian(y, x).numpy()                  # (3, 5, 3, 4)
    per_example = np.stack([full[i, :, i, :] for i in range(3)])
    np.testing.assert_allclose(bj.numpy(), per_example, rtol=1e-5, atol=1e-6)


def test_batch_jacobian_higher_rank_output_shape():
    x = tf.ones([2, 3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reshape(tf.tile(x, [1, 2]), [2, 2, 3])
    assert tape.batch_jacobian(y, x).shape == (2, 2, 3, 3)


def test_batch_jacobian_unconnected_gives_zeros_even_with_none():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.ones([2, 3]) * 2.0
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (2, 3, 2)
    assert not bj.numpy().any()


def test_batch_jacobian_mismatched_batch_dims_raise_value_error():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.ones([3, 2]) * 1.0
    with pytest.raises(ValueError, match=r"Need first dimension of target shape \(\(3, 2\)\) and source "
                                         r"shape \(\(2, 2\)\) to match\."):
        tape.batch_jacobian(y, x)


def test_batch_jacobian_needs_rank_two():
    x = tf.ones([2, 3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x)
    with pytest.raises(ValueError):
        tape.batch_jacobian(y, x)


def test_batch_jacobian_source_must_be_one_tensor():
    x = tf.ones([2, 3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(AttributeError, match="'list' object has no attribute 'shape'"):
        tape.batch_jacobian(y, [x])


def test_batch_jacobian_without_pfor_requires_a_persistent_tape():
    x = tf.ones([2, 3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(RuntimeError, match="GradientTape must be created with persistent=True to compute "
                                           "the batch_jacobian with eager execution enabled"):
        tape.batch_jacobian(y, x, experimental_use_pfor=False)


def test_batch_jacobian_without_pfor_on_a_persistent_tape():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    bj = tape.batch_jacobian(y, x, experimental_use_pfor=False)
    np.testing.assert_allclose(bj.numpy(), [np.diag([2.0, 4.0]), np.diag([6.0, 8.0])])


# -- Hessians ---------------------------------------------------------------------------

def test_hessian_recipe_jacobian_of_a_gradient():
    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            loss = tf.reduce_sum(v ** 3) + v[0] * v[1]
        g = t1.gradient(loss, v)
    h = t2.jacobian(g, v)
    assert h.shape == (3, 3)
    expected = np.diag([6.0, 12.0, 18.0])
    expected[0, 1] = expected[1, 0] = 1.0
    np.testing.assert_allclose(h.numpy(), expected, rtol=1e-6)


def test_hessian_of_a_matrix_variable_has_shape_v_plus_v():
    w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    x = tf.constant([[1.0, -1.0]])
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            loss = tf.reduce_sum((x @ w) ** 2)
        g = t1.gradient(loss, w)
    h = t2.jacobian(g, w)
    assert h.shape == (2, 2, 2, 2)
    # loss = sum_j (sum_i x_i w_ij)^2  ->  H[i,j,k,l] = 2 x_i x_k [j == l]
    xv = x.numpy()[0]
    expected = 2 * np.einsum("i,k,jl->ijkl", xv, xv, np.eye(2))
    np.testing.assert_allclose(h.numpy(), expected)


# -- 1.7 nested tapes -------------------------------------------------------------------

def test_second_derivative_with_nested_tapes():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)
    assert dy_dx.numpy() == 3.0
    assert d2y_dx2.numpy() == 6.0


def test_physics_example_acceleration():
    time = tf.Variable(0.0)
    with tf.GradientTape() as outer_tape:
        with tf.GradientTape() as inner_tape:
            position = 4.9 * time ** 2
        speed = inner_tape.gradient(position, time)
    acceleration = outer_tape.gradient(speed, time)
    assert speed.numpy() == 0.0
    assert acceleration.numpy() == pytest.approx(9.8)


def test_third_derivative_with_three_tapes():
    x = tf.constant(3.0)
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = x ** 4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    assert (d1.numpy(), d2.numpy(), d3.numpy()) == (108.0, 108.0, 72.0)


def _derivatives(fn, x, order):
    """[f, f', ..., f^(order)] at x with `order` nested tapes (any order)."""
    tapes = [tf.GradientTape() for _ in range(order)]
    with contextlib.ExitStack() as stack:
        for tape in tapes:
            stack.enter_context(tape)
            tape.watch(x)
        values = [fn(x)]
        for tape in reversed(tapes):            # innermost first: each is recorded by the outer ones
            values.append(tape.gradient(values[-1], x))
    return values


def test_derivatives_to_any_order_of_a_polynomial():
    x = tf.constant(2.0, dtype=tf.float64)
    values = _derivatives(lambda t: t ** 5, x, 6)
    assert [float(v) for v in values[:6]] == [32.0, 80.0, 160.0, 240.0, 240.0, 120.0]
    assert values[6] is None or float(values[6]) == 0.0     # x^5 has no 6th-order dependence


def test_derivatives_to_any_order_of_sin():
    x = tf.constant(0.7, dtype=tf.float64)
    values = _derivatives(tf.sin, x, 5)
    cycle = [np.sin, np.cos, lambda v: -np.sin(v), lambda v: -np.cos(v)]
    for k, value in enumerate(values):
        assert float(value) == pytest.approx(cycle[k % 4](0.7), rel=1e-12)


def test_inner_gradient_after_the_outer_context_exits_is_not_recorded():
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x * x
    g = inner.gradient(y, x)
    assert g.numpy() == 6.0
    assert outer.gradient(g, x) is None


def test_outer_tape_also_records_the_inner_computation():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
        dy = inner.gradient(y, x)
    assert outer.gradient(y, x).numpy() == 12.0
    assert outer.gradient(dy, x).numpy() == 12.0     # d(3x^2)/dx = 6x


def test_single_persistent_tape_records_its_own_gradient_inside_its_context():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x ** 3
        dy = tape.gradient(y, x)
        d2y = tape.gradient(dy, x)
    assert dy.numpy() == 12.0
    assert d2y.numpy() == 12.0
    assert tape.gradient(d2y, x).numpy() == 6.0


def test_input_gradient_regularization_pattern():
    # advanced_autodiff guide: inner tape watches only x; the outer differentiates the gradient norm
    x = tf.constant([[1.0, 2.0]])
    w = tf.Variable([[0.5], [-1.0]])
    with tf.GradientTape() as t2:
        with tf.GradientTape(watch_accessed_variables=False) as t1:
            t1.watch(x)
            y = x @ w
        dy_dx = t1.gradient(y, x)                       # = w^T
        penalty = tf.reduce_sum(dy_dx ** 2)
    dp_dw = t2.gradient(penalty, w)
    np.testing.assert_allclose(dy_dx.numpy(), [[0.5, -1.0]])
    np.testing.assert_allclose(dp_dw.numpy(), [[1.0], [-2.0]])


def test_gradient_of_gradient_through_reductions_and_matmul():
    w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    x = tf.constant([[1.0, 1.0]])
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = tf.reduce_sum(tf.exp(x @ w * 0.1))
        g = t1.gradient(y, w)
        s = tf.reduce_sum(g)
    gg = t2.gradient(s, w)
    z = (x.numpy() @ w.numpy()) * 0.1                    # [[0.4, 0.6]]
    expected = np.tile(0.01 * np.exp(z) * 2.0, (2, 1))
    np.testing.assert_allclose(gg.numpy(), expected, rtol=1e-5)


# -- 1.9 custom_gradient at higher order -------------------------------------------------

def test_second_derivative_through_a_differentiable_custom_gradient():
    @tf.custom_gradient
    def cube(x):
        def grad(dy):
            return dy * 3.0 * x * x
        return x * x * x, grad

    x = tf.constant(2.0)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = cube(x)
        dy = t1.gradient(y, x)
    assert dy.numpy() == 12.0
    assert t2.gradient(dy, x).numpy() == 12.0


def test_custom_gradient_grad_fn_is_recorded_on_a_persistent_tape():
    @tf.custom_gradient
    def square(x):
        return x * x, lambda dy: dy * 2.0 * x

    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = square(x)
        dy = tape.gradient(y, x)
    assert dy.numpy() == 6.0
    assert tape.gradient(dy, x).numpy() == 2.0


def test_custom_gradient_jacobian():
    @tf.custom_gradient
    def twice(x):
        return x * 2.0, lambda dy: dy * 2.0

    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = twice(x)
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), 2.0 * np.eye(3))


# -- 1.12 ForwardAccumulator ------------------------------------------------------------

def test_forward_accumulator_jvp_basic():
    x = tf.constant([1.0, 2.0])
    with tf.autodiff.ForwardAccumulator(primals=x, tangents=tf.constant([1.0, 0.0])) as acc:
        y = tf.reduce_sum(x * x)
    assert acc.jvp(y).numpy() == 2.0


def test_forward_accumulator_elementwise_chain():
    x = tf.constant([0.1, 0.2, 0.3])
    t = tf.constant([1.0, -1.0, 2.0])
    with tf.autodiff.ForwardAccumulator(x, t) as acc:
        y = tf.exp(tf.sin(x)) * x
    xv, tv = x.numpy().astype(np.float64), t.numpy().astype(np.float64)
    expected = (np.exp(np.sin(xv)) * np.cos(xv) * xv + np.exp(np.sin(xv))) * tv
    np.testing.assert_allclose(acc.jvp(y).numpy(), expected, rtol=1e-5)


def test_forward_accumulator_dense_doc_example():
    # ForwardAccumulator API page: tangent of a loss along a kernel direction
    x = tf.constant([[2.0, 3.0], [1.0, 4.0]])
    targets = tf.constant([[1.0], [-1.0]])
    kernel = tf.Variable([[0.5], [-0.25]])
    bias = tf.Variable([0.1])
    direction = tf.constant([[1.0], [0.0]])
    with tf.autodiff.ForwardAccumulator(primals=kernel, tangents=direction) as acc:
        loss = tf.reduce_sum((x @ kernel + bias - targets) ** 2.0)
    residual = x.numpy() @ kernel.numpy() + bias.numpy() - targets.numpy()
    expected = np.sum(2.0 * residual * (x.numpy() @ direction.numpy()))
    assert acc.jvp(loss).numpy() == pytest.approx(expected, rel=1e-5)


def test_forward_over_backward_hessian_vector_product_doc_example():
    v = tf.Variable([1.0, 2.0])
    with tf.autodiff.ForwardAccumulator(v, tf.constant([1.0, 0.0])) as acc:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v ** 3.0)
        backward = tape.gradient(y, v)
    np.testing.assert_allclose(backward.numpy(), [3.0, 12.0])
    np.testing.assert_allclose(acc.jvp(backward).numpy(), [6.0, 0.0])


def test_backward_over_forward_hessian_vector_product():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        with tf.autodiff.ForwardAccumulator(x, tf.constant([0.0, 1.0])) as acc:
            y = tf.reduce_sum(x ** 3.0)
        jvp = acc.jvp(y)                                 # 3 x1^2
    assert jvp.numpy() == pytest.approx(12.0)
    np.testing.assert_allclose(tape.gradient(jvp, x).numpy(), [0.0, 12.0])


def test_forward_accumulator_unconnected_none_and_zero():
    x = tf.constant([1.0, 2.0])
    with tf.autodiff.ForwardAccumulator(x, tf.ones([2])) as acc:
        z = tf.constant([3.0, 4.0, 5.0]) * 2.0
    assert acc.jvp(z) is None
    zero = acc.jvp(z, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert zero.shape == (3,) and not zero.numpy().any()
    assert not acc.jvp(z, unconnected_gradients="zero").numpy().any()


def test_forward_accumulator_jvp_of_a_nest_and_of_the_primal():
    x = tf.constant([1.0, 2.0])
    tangent = tf.constant([1.0, 1.0])
    with tf.autodiff.ForwardAccumulator(x, tangent) as acc:
        y = x * x
    out = acc.jvp({"y": y, "rest": [x]})
    assert set(out) == {"y", "rest"} and isinstance(out["rest"], list)
    np.testing.assert_allclose(out["y"].numpy(), [2.0, 4.0])
    np.testing.assert_allclose(out["rest"][0].numpy(), [1.0, 1.0])


def test_forward_accumulator_several_primals_and_watch():
    a, b, c = tf.constant(2.0), tf.constant(3.0), tf.constant(5.0)
    with tf.autodiff.ForwardAccumulator([a, b], [tf.constant(1.0), tf.constant(0.0)]) as acc:
        acc.watch(c, tf.constant(10.0))
        y = a * b * c
    # d(abc) = bc da + ac db + ab dc = 15*1 + 0 + 6*10
    assert acc.jvp(y).numpy() == pytest.approx(75.0)


def test_forward_accumulator_ops_after_exit_are_not_tracked():
    x = tf.constant(2.0)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as acc:
        y = x * x
    z = y * x
    assert acc.jvp(y).numpy() == 4.0
    assert acc.jvp(z) is None


def test_forward_accumulator_tangent_shape_mismatch_raises_value_error():
    with pytest.raises(ValueError):
        tf.autodiff.ForwardAccumulator(tf.constant([1.0, 2.0]), tf.constant([1.0]))


def test_forward_accumulator_tangent_dtype_mismatch_raises_value_error():
    with pytest.raises(ValueError):
        tf.autodiff.ForwardAccumulator(tf.constant([1.0, 2.0]), tf.constant([1.0, 1.0], dtype=tf.float64))


def test_forward_accumulator_python_tangents_take_the_primals_dtype():
    x = tf.constant(2.0, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(x, 1.0) as acc:
        y = x * x
    jvp = acc.jvp(y)
    assert jvp.dtype == tf.float64
    assert jvp.numpy() == 4.0


def test_forward_accumulator_structure_mismatch_raises_value_error():
    with pytest.raises(ValueError):
        tf.autodiff.ForwardAccumulator([tf.constant(1.0), tf.constant(2.0)], [tf.constant(1.0)])


def test_forward_accumulator_through_broadcasting_and_reductions():
    x = tf.constant([[1.0, 2.0, 3.0]])
    w = tf.constant([[1.0], [2.0]])
    with tf.autodiff.ForwardAccumulator(x, tf.constant([[1.0, 0.0, 0.0]])) as acc:
        y = tf.reduce_mean(w * x, axis=1)        # (2, 3) -> (2,)
    np.testing.assert_allclose(acc.jvp(y).numpy(), [1.0 / 3.0, 2.0 / 3.0], rtol=1e-6)


def test_forward_mode_matches_reverse_mode_on_a_jacobian():
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=3).astype(np.float64))
    m = tf.constant(rng.normal(size=(4, 3)).astype(np.float64))

    def f(v):
        return tf.tanh(tf.reshape(m @ tf.reshape(v, [3, 1]), [4])) * tf.reduce_sum(v * v)

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    jac = tape.jacobian(y, x).numpy()
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1.0
        with tf.autodiff.ForwardAccumulator(x, tf.constant(e)) as acc:
            yk = f(x)
        np.testing.assert_allclose(acc.jvp(yk).numpy(), jac[:, k], rtol=1e-10)
