"""Keras 3 optimizers: three steps against float64 references of the published Keras formulas,
the apply_gradients bookkeeping (build, None gradients, unknown variables), clipping, weight
decay, sparse gradients, config round trips, minimize, and in-place updates.

Every test runs twice: on the NumPy update path and on the fused numba loops (skipped without
numba); tests/keras/test_optimizer_kernels.py checks that the two agree bit for bit."""
import importlib.util
import math

import numpy as np
import pytest

import tapegrad as tf

K = tf.keras.optimizers
RNG = np.random.default_rng(1234)
SHAPES = [(3, 4), (4,)]
W0 = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]
GRADS = [[RNG.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(3)]


@pytest.fixture(autouse=True, params=["numpy", "fused"])
def update_path(request):
    fused = request.param == "fused"
    if fused and importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed (the `fast` extra): the fused updates are not available")
    before = tf.config.fused_kernels_enabled()
    tf.config.set_fused_kernels(fused)
    yield
    tf.config.set_fused_kernels(before)


# -- float64 references: one function per optimizer, state in a dict ------------------------

def ref_sgd(lr, momentum=0.0, nesterov=False):
    def step(state, w, g, t):
        if momentum == 0:
            return w - lr * g
        m = momentum * state.get("m", 0.0) - lr * g
        state["m"] = m
        return w + (momentum * m - lr * g if nesterov else m)
    return step


def ref_adam(lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    def step(state, w, g, t):
        m = state.get("m", 0.0) + (g - state.get("m", 0.0)) * (1 - b1)
        v = state.get("v", 0.0) + (g * g - state.get("v", 0.0)) * (1 - b2)
        state["m"], state["v"] = m, v
        if amsgrad:
            v = state["vhat"] = np.maximum(state.get("vhat", 0.0), v)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * m / (np.sqrt(v) + eps)
    return step


def ref_rmsprop(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def step(state, w, g, t):
        v = state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        if centered:
            a = state["a"] = rho * state.get("a", 0.0) + (1 - rho) * g
            denominator = v - a * a + eps
        else:
            denominator = v + eps
        increment = lr * g / np.sqrt(denominator)
        if momentum > 0:
            m = state["m"] = momentum * state.get("m", 0.0) + increment
            return w - m
        return w - increment
    return step


def ref_adagrad(lr, initial=0.1, eps=1e-7):
    def step(state, w, g, t):
        acc = state["acc"] = state.get("acc", initial) + g * g
        return w - lr * g / np.sqrt(acc + eps)
    return step


def ref_adamax(lr, b1=0.9, b2=0.999, eps=1e-7):
    def step(state, w, g, t):
        m = state["m"] = state.get("m", 0.0) + (g - state.get("m", 0.0)) * (1 - b1)
        u = state["u"] = np.maximum(b2 * state.get("u", 0.0), np.abs(g))
        return w - lr * m / ((1 - b1 ** t) * (u + eps))
    return step


def ref_nadam(lr, b1=0.9, b2=0.999, eps=1e-7):
    # u_product is shared by all variables and advances once per step: keep it outside the state
    def u(t):
        return b1 * (1 - 0.5 * 0.96 ** t)

    def step(state, w, g, t):
        product = math.prod(u(k) for k in range(1, t + 1))
        m = state["m"] = state.get("m", 0.0) + (g - state.get("m", 0.0)) * (1 - b1)
        v = state["v"] = state.get("v", 0.0) + (g * g - state.get("v", 0.0)) * (1 - b2)
        m_hat = u(t + 1) * m / (1 - product * u(t + 1)) + (1 - u(t)) * g / (1 - product)
        v_hat = v / (1 - b2 ** t)
        return w - m_hat * lr / (np.sqrt(v_hat) + eps)
    return step


def ref_lion(lr, b1=0.9, b2=0.99):
    def step(state, w, g, t):
        m = state.get("m", 0.0)
        w = w - lr * np.sign(b1 * m + (1 - b1) * g)
        state["m"] = b2 * m + (1 - b2) * g
        return w
    return step


def reference(step, grads_per_step, lr, weight_decay=None, clip=None):
    """Weights after each step: Keras's order clip -> decay -> update, per variable state."""
    ws = [w.astype(np.float64) for w in W0]
    states = [{} for _ in ws]
    history = []
    for t, grads in enumerate(grads_per_step, start=1):
        grads = [g.astype(np.float64) for g in grads]
        if clip is not None:
            grads = clip(grads)
        for i, g in enumerate(grads):
            if weight_decay is not None:
                ws[i] = ws[i] - ws[i] * weight_decay * lr
            ws[i] = step(states[i], ws[i], g, t)
        history.append([w.copy() for w in ws])
    return history


def run(opt, grads_per_step):
    variables = [tf.Variable(w, name=f"layer/w{i}") for i, w in enumerate(W0)]
    history = []
    for grads in grads_per_step:
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        history.append([v.numpy() for v in variables])
    return history, variables


def assert_matches(history, expected):
    for got_step, want_step in zip(history, expected, strict=True):
        for got, want in zip(got_step, want_step, strict=True):
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


CASES = {
    "sgd": (lambda: K.SGD(0.1), ref_sgd(0.1)),
    "sgd_momentum": (lambda: K.SGD(0.1, momentum=0.9), ref_sgd(0.1, 0.9)),
    "sgd_nesterov": (lambda: K.SGD(0.1, momentum=0.9, nesterov=True), ref_sgd(0.1, 0.9, True)),
    "adam": (lambda: K.Adam(0.1), ref_adam(0.1)),
    "adam_amsgrad": (lambda: K.Adam(0.1, amsgrad=True), ref_adam(0.1, amsgrad=True)),
    "adam_betas": (lambda: K.Adam(0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
                   ref_adam(0.05, 0.5, 0.9, 1e-3)),
    "rmsprop": (lambda: K.RMSprop(0.01), ref_rmsprop(0.01)),
    "rmsprop_momentum": (lambda: K.RMSprop(0.01, momentum=0.5), ref_rmsprop(0.01, momentum=0.5)),
    "rmsprop_centered": (lambda: K.RMSprop(0.01, centered=True), ref_rmsprop(0.01, centered=True)),
    "rmsprop_centered_momentum": (lambda: K.RMSprop(0.01, rho=0.8, momentum=0.3, centered=True),
                                  ref_rmsprop(0.01, 0.8, 0.3, centered=True)),
    "adagrad": (lambda: K.Adagrad(0.1), ref_adagrad(0.1)),
    "adagrad_initial": (lambda: K.Adagrad(0.1, initial_accumulator_value=0.5), ref_adagrad(0.1, 0.5)),
    "adamax": (lambda: K.Adamax(0.1), ref_adamax(0.1)),
    "nadam": (lambda: K.Nadam(0.1), ref_nadam(0.1)),
    "lion": (lambda: K.Lion(0.1), ref_lion(0.1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_steps_match_the_keras_formulas(case):
    make, step = CASES[case]
    history, _ = run(make(), GRADS)
    assert_matches(history, reference(step, GRADS, lr=None))


def test_weight_decay_is_decoupled_and_applied_before_the_update():
    history, _ = run(K.SGD(0.1, weight_decay=0.3), GRADS)
    assert_matches(history, reference(ref_sgd(0.1), GRADS, lr=0.1, weight_decay=0.3))
    history, _ = run(K.AdamW(0.1), GRADS)  # default weight_decay=0.004
    assert_matches(history, reference(ref_adam(0.1), GRADS, lr=0.1, weight_decay=0.004))
    history, _ = run(K.AdamW(0.1, weight_decay=0.2, amsgrad=True), GRADS)
    assert_matches(history, reference(ref_adam(0.1, amsgrad=True), GRADS, lr=0.1, weight_decay=0.2))


def test_exclude_from_weight_decay():
    opt = K.AdamW(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["w1"])
    history, _ = run(opt, GRADS)
    expected_decayed = reference(ref_adam(0.1), GRADS, lr=0.1, weight_decay=0.5)
    expected_plain = reference(ref_adam(0.1), GRADS, lr=None)
    np.testing.assert_allclose(history[-1][0], expected_decayed[-1][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(history[-1][1], expected_plain[-1][1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["x"])


def clip_norm(c):
    return lambda grads: [g * c / max(np.linalg.norm(g), c) for g in grads]


def clip_global(c):
    def clip(grads):
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
        return [g * c / max(norm, c) for g in grads]
    return clip


@pytest.mark.parametrize("kwargs, clip", [
    (dict(clipnorm=1.0), clip_norm(1.0)),
    (dict(clipvalue=0.5), lambda grads: [np.clip(g, -0.5, 0.5) for g in grads]),
    (dict(global_clipnorm=1.5), clip_global(1.5)),
], ids=["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping(kwargs, clip):
    grads = [[3 * g for g in step] for step in GRADS]  # large enough that every clip bites
    history, _ = run(K.SGD(0.1, momentum=0.5, **kwargs), grads)
    assert_matches(history, reference(ref_sgd(0.1, 0.5), grads, lr=None, clip=clip))
    history, _ = run(K.Adam(0.1, **kwargs), grads)
    assert_matches(history, reference(ref_adam(0.1), grads, lr=None, clip=clip))


def test_clipping_does_not_modify_the_callers_gradients():
    g = tf.constant([3.0, 4.0])
    K.SGD(0.1, clipnorm=1.0).apply_gradients([(g, tf.Variable([0.0, 0.0]))])
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])


def test_loss_scale_factor_unscales_gradients():
    opt = K.SGD(0.1, loss_scale_factor=8.0)
    history, _ = run(opt, [[g * 8.0 for g in step] for step in GRADS])
    assert_matches(history, reference(ref_sgd(0.1), GRADS, lr=None))
    assert float(opt.scale_loss(tf.constant(2.0))) == 16.0


def test_gradient_accumulation_updates_with_the_mean_every_k_steps():
    opt = K.Adam(0.1, gradient_accumulation_steps=3)
    grads = GRADS * 2  # 6 calls: two real updates
    variables = [tf.Variable(w) for w in W0]
    for step_grads in grads[:2]:
        opt.apply_gradients(zip([tf.constant(g) for g in step_grads], variables))
    for v, w in zip(variables, W0):
        np.testing.assert_array_equal(v.numpy(), w)  # only accumulated so far
    assert int(opt.iterations) == 0
    for step_grads in grads[2:]:
        opt.apply_gradients(zip([tf.constant(g) for g in step_grads], variables))
    assert int(opt.iterations) == 2 and int(opt._iterations) == 6
    mean = [sum(step[i] for step in GRADS) / 3 for i in range(len(SHAPES))]
    expected = reference(ref_adam(0.1), [mean, mean], lr=None)
    for v, want in zip(variables, expected[-1]):
        np.testing.assert_allclose(v.numpy(), want, rtol=1e-5, atol=1e-5)


def test_ema_tracks_and_finalize_overwrites():
    opt = K.SGD(0.1, use_ema=True, ema_momentum=0.5)
    w = tf.Variable([1.0])
    values = []
    for _ in range(3):
        opt.apply_gradients([(tf.constant([1.0]), w)])
        values.append(float(w[0]))
    average = values[0]  # the first step copies
    for value in values[1:]:
        average = 0.5 * average + 0.5 * value
    opt.finalize_variable_values([w])
    assert float(w[0]) == pytest.approx(average, abs=1e-6)


# -- sparse gradients --------------------------------------------------------------------

def sparse_and_dense(step_values, indices, rows=5):
    sparse = tf.IndexedSlices(tf.constant(step_values), tf.constant(indices), (rows, 2))
    dense = np.zeros((rows, 2), np.float32)
    np.add.at(dense, indices, step_values)
    return sparse, dense


@pytest.mark.parametrize("make", [
    lambda: K.SGD(0.1), lambda: K.SGD(0.1, momentum=0.9), lambda: K.Adagrad(0.1),
    lambda: K.RMSprop(0.1), lambda: K.RMSprop(0.1, momentum=0.5, centered=True),
    lambda: K.Adam(0.1), lambda: K.Adam(0.1, amsgrad=True), lambda: K.Nadam(0.1), lambda: K.Lion(0.1),
    lambda: K.Adamax(0.1), lambda: K.AdamW(0.1),
], ids=["sgd", "sgd_momentum", "adagrad", "rmsprop", "rmsprop_centered", "adam", "amsgrad", "nadam",
        "lion", "adamax", "adamw"])
def test_indexed_slices_gradients_equal_their_dense_form(make):
    init = RNG.standard_normal((5, 2)).astype(np.float32)
    sparse_var, dense_var = tf.Variable(init), tf.Variable(init)
    sparse_opt, dense_opt = make(), make()
    for k in range(3):
        values = RNG.standard_normal((3, 2)).astype(np.float32)
        sparse, dense = sparse_and_dense(values, [0, 3, 0])  # a duplicate row adds up
        sparse_opt.apply_gradients([(sparse, sparse_var)])
        dense_opt.apply_gradients([(tf.constant(dense), dense_var)])
        np.testing.assert_allclose(sparse_var.numpy(), dense_var.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [lambda: K.SGD(0.1), lambda: K.Adagrad(0.1), lambda: K.RMSprop(0.1)],
                         ids=["sgd", "adagrad", "rmsprop"])
def test_sparse_updates_touch_only_the_gradient_rows(make):
    init = RNG.standard_normal((6, 2)).astype(np.float32)
    w = tf.Variable(init)
    sparse, _ = sparse_and_dense(np.ones((2, 2), np.float32), [1, 4], rows=6)
    make().apply_gradients([(sparse, w)])
    changed = np.any(w.numpy() != init, axis=1)
    assert changed.tolist() == [False, True, False, False, True, False]


def test_sgd_sparse_reference_values():
    w = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2))
    grad = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([2, 2]), (4, 2))
    K.SGD(0.5).apply_gradients([(grad, w)])
    np.testing.assert_allclose(w.numpy()[2], [4.0 - 2.0, 5.0 - 3.0])


# -- bookkeeping: build, None gradients, unknown variables ---------------------------------

def test_builds_on_the_first_call_and_names_the_slots_after_the_variable_paths():
    a, b = tf.Variable([1.0], name="a"), tf.Variable([[1.0]], name="b")
    a.path, b.path = "dense/kernel", "dense/bias"
    opt = K.Adam(name="adam_t")
    assert not opt.built and [v.path for v in opt.variables] == ["adam_t/iteration", "adam_t/learning_rate"]
    it = opt.apply_gradients([(tf.constant([1.0]), a), (tf.constant([[1.0]]), b)])
    assert opt.built and it is opt.iterations
    assert opt.iterations.dtype == tf.int64 and int(opt.iterations) == 1
    paths = [v.path for v in opt.variables]
    assert paths[2:] == ["adam_t/dense_kernel_momentum", "adam_t/dense_kernel_velocity",  # Keras 3's order
                         "adam_t/dense_bias_momentum", "adam_t/dense_bias_velocity"]
    assert all(isinstance(v, tf.Variable) and not v.trainable for v in opt.variables)
    assert opt.variables[4].shape == (1, 1) and opt.variables[4].dtype == tf.float32


def test_slots_follow_the_options():
    def slots(opt):
        opt.build([tf.Variable([1.0], name="v")])
        return [v.path.split("/")[-1] for v in opt.variables[2:]]
    assert slots(K.SGD(0.1)) == []
    assert slots(K.SGD(0.1, momentum=0.5)) == ["v_momentum"]
    assert slots(K.Adam(amsgrad=True)) == ["v_momentum", "v_velocity", "v_velocity_hat"]
    assert slots(K.RMSprop(momentum=0.1, centered=True)) == ["v_velocity", "v_momentum",
                                                            "v_average_gradient"]
    assert slots(K.Adagrad()) == ["v_accumulator"]
    assert slots(K.Adamax()) == ["v_momentum", "v_norm"]
    assert slots(K.Nadam()) == ["v_momentum", "v_velocity", "u_product"]
    opt = K.Adagrad(initial_accumulator_value=0.25)
    opt.build([tf.Variable([1.0, 2.0])])
    np.testing.assert_array_equal(opt.variables[-1].numpy(), [0.25, 0.25])


def test_a_later_unknown_variable_is_refused():
    a, b = tf.Variable([1.0]), tf.Variable([2.0])
    b.path = "other/w"
    opt = K.SGD(0.1)
    opt.apply_gradients([(tf.constant([1.0]), a)])
    with pytest.raises(ValueError) as err:
        opt.apply_gradients([(tf.constant([1.0]), b)])
    text = str(err.value)
    assert text.startswith("Unknown variable: <Variable path=other/w")
    assert text.endswith("This optimizer can only be called for the variables it was originally built "
                         "with. When working with a new set of variables, you should recreate a new "
                         "optimizer instance.")
    opt.apply_gradients([(tf.constant([1.0]), a)])  # a subset of the built list is fine
    assert int(opt.iterations) == 2


def test_none_gradients_are_dropped_with_a_warning():
    a, b = tf.Variable([1.0]), tf.Variable([2.0])
    a.path, b.path = "model/dense/kernel", "model/dense/bias"
    opt = K.SGD(0.5)
    with pytest.warns(UserWarning) as record:
        opt.apply_gradients([(tf.constant([1.0]), a), (None, b)])
    assert str(record[0].message) == (
        "Gradients do not exist for variables ['model/dense/bias'] when minimizing the loss. If using "
        "`model.compile()`, did you forget to provide a `loss` argument?")
    assert record[0].filename == __file__  # points at the caller, not at tapegrad
    assert float(a[0]) == 0.5 and float(b[0]) == 2.0
    with pytest.raises(ValueError, match=r"^No gradients provided for any variable\.$"):
        opt.apply_gradients([(None, a), (None, b)])


def test_missing_gradient_texts_take_the_explanation_hook():
    class Explaining(K.SGD):
        def _explain_missing(self, variables):
            return f"{len(variables)} explained"
    with pytest.raises(ValueError, match=r"^No gradients provided for any variable\.\n1 explained$"):
        Explaining(0.1).apply_gradients([(None, tf.Variable(1.0))])


def test_empty_apply_is_a_no_op_and_apply_needs_a_build_without_variables():
    opt = K.SGD(0.1)
    assert int(opt.apply_gradients([])) == 0
    with pytest.raises(ValueError, match="must already be built"):
        opt.apply([tf.constant(1.0)])
    w = tf.Variable([1.0, 1.0])
    opt.build([w])
    with pytest.raises(ValueError, match="one-to-one"):
        opt.apply([tf.constant(1.0), tf.constant(1.0)])


def test_gradient_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="expected shape"):
        K.Adam().apply_gradients([(tf.constant([1.0, 2.0]), tf.Variable([[1.0, 2.0]]))])


# -- constructor arguments -----------------------------------------------------------------

def test_constructor_errors_and_warnings():
    with pytest.raises(ValueError, match=r"^Argument\(s\) not recognized: \{'lr': 0.1\}$"):
        K.Adam(lr=0.1)
    with pytest.warns(UserWarning, match="^Argument `decay` is no longer supported and will be ignored.$"):
        K.SGD(0.1, decay=0.01)
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        K.SGD(clipnorm=1.0, clipvalue=1.0)
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"^`momentum` must be a float between \[0, 1\]\.$"):
            K.SGD(momentum=bad)
    with pytest.raises(ValueError, match="Argument `learning_rate` should be float"):
        K.Adam(learning_rate=tf.Variable(0.01))
    with pytest.raises(ValueError, match="Argument `learning_rate` should be float"):
        K.SGD(learning_rate=1)
    with pytest.raises(ValueError, match="Argument `weight_decay` must be a float"):
        K.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        K.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="degenerates to SignSGD"):
        K.Lion(beta_1=0.0)


def test_default_hyperparameters_are_keras_3s():
    assert K.SGD().get_config()["learning_rate"] == pytest.approx(0.01)
    adam = K.Adam().get_config()
    assert (adam["learning_rate"], adam["beta_1"], adam["beta_2"], adam["epsilon"], adam["amsgrad"]) == \
        (pytest.approx(0.001), 0.9, 0.999, 1e-7, False)
    assert K.AdamW().weight_decay == 0.004
    rms = K.RMSprop()
    assert (rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.9, 0.0, 1e-7, False)
    assert (K.Adagrad().initial_accumulator_value, K.Adagrad().epsilon) == (0.1, 1e-7)
    assert (K.Lion().beta_1, K.Lion().beta_2) == (0.9, 0.99)
    assert (K.SGD().name, K.Adam().name, K.AdamW().name, K.Nadam().name) == ("SGD", "adam", "adamw", "nadam")
    assert K.Adagrad().name.startswith("adagrad")


def test_learning_rate_property_and_setter():
    opt = K.SGD(0.1)
    assert isinstance(opt.learning_rate, tf.Variable) and opt.learning_rate.dtype == tf.float32
    opt.learning_rate = 0.5
    w = tf.Variable([1.0])
    opt.apply_gradients([(tf.constant([1.0]), w)])
    assert float(w[0]) == 0.5
    opt.learning_rate = lambda: 0.25
    assert opt.learning_rate == 0.25 and all(v.path != "SGD/learning_rate" for v in opt.variables)
    opt.apply_gradients([(tf.constant([1.0]), w)])
    assert float(w[0]) == 0.25
    opt.learning_rate = 0.125  # back to a variable
    assert float(opt.learning_rate) == 0.125

    scheduled = K.SGD(K.schedules.PiecewiseConstantDecay([0], [1.0, 0.5]))
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = 0.1


def test_a_schedule_is_evaluated_at_iterations_each_step():
    schedule = K.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    opt = K.SGD(schedule)
    w = tf.Variable(0.0)
    for _ in range(3):
        opt.apply_gradients([(tf.constant(1.0), w)])
    assert float(w) == pytest.approx(-(1.0 + 0.5 + 0.25))
    assert float(opt.learning_rate) == pytest.approx(0.125)


def test_weight_decay_uses_the_scheduled_rate():
    opt = K.SGD(K.schedules.PiecewiseConstantDecay([0], [0.5, 0.1]), weight_decay=1.0)
    w = tf.Variable(1.0)
    opt.apply_gradients([(tf.constant(0.0), w)])  # iterations 0: lr 0.5
    opt.apply_gradients([(tf.constant(0.0), w)])  # lr 0.1
    assert float(w) == pytest.approx(0.5 * 0.9)


# -- config ------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: K.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0),
    lambda: K.Adam(0.002, beta_1=0.8, amsgrad=True, global_clipnorm=2.0),
    lambda: K.AdamW(0.003, weight_decay=0.1), lambda: K.RMSprop(0.01, centered=True, momentum=0.2),
    lambda: K.Adagrad(0.1, initial_accumulator_value=0.3), lambda: K.Adamax(0.01, clipvalue=0.5),
    lambda: K.Nadam(0.02, use_ema=True), lambda: K.Lion(0.0001, beta_2=0.95),
    lambda: K.Adam(K.schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=10)),
])
def test_config_round_trip(make):
    opt = make()
    config = opt.get_config()
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    again = K.deserialize(K.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config


def test_get_by_name():
    assert type(K.get("adam")) is K.Adam and type(K.get("SGD")) is K.SGD and type(K.get("Nadam")) is K.Nadam
    opt = K.Lion()
    assert K.get(opt) is opt
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        K.get("adamm")


# -- minimize, tapes, constraints, in place -------------------------------------------------

def test_minimize_with_a_tape_and_with_a_callable():
    w = tf.Variable([1.0, 2.0])
    opt = K.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(w * w)
    opt.minimize(loss, [w], tape=tape)
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6], rtol=1e-6)
    opt.minimize(lambda: tf.reduce_sum(w * w), lambda: [w])
    np.testing.assert_allclose(w.numpy(), [0.64, 1.28], rtol=1e-6)
    with pytest.raises(ValueError, match="`tape` is required when a `Tensor` loss is passed"):
        opt.minimize(tf.reduce_sum(w), [w])


def test_updates_are_not_recorded_on_active_tapes():
    w = tf.Variable([1.0, -1.0], constraint=tf.keras.constraints.NonNeg())
    with tf.GradientTape() as tape:
        K.Adam(0.1).apply_gradients([(tf.constant([1.0, 1.0]), w)])
    assert tape.watched_variables() == ()


def test_constraints_apply_after_the_update():
    w = tf.Variable([0.05, 1.0], constraint=tf.keras.constraints.NonNeg())
    K.SGD(0.1).apply_gradients([(tf.constant([1.0, 1.0]), w)])
    np.testing.assert_allclose(w.numpy(), [0.0, 0.9], rtol=1e-6)


def test_in_place_update_keeps_the_array_and_dtype():
    w = tf.Variable(np.ones((64, 64), np.float32))
    opt = K.Adam(0.1)
    opt.apply_gradients([(tf.ones([64, 64]), w)])
    before = id(w._value)  # an id, not a reference: holding the array would (rightly) force a copy
    opt.apply_gradients([(tf.ones([64, 64]), w)])
    assert id(w._value) == before and w.dtype == tf.float32
    assert all(v._value.dtype == np.float32 for v in opt.variables[2:])


def test_float64_variables_stay_float64():
    w = tf.Variable(np.ones(3), dtype=tf.float64)
    opt = K.Nadam(0.1)
    opt.apply_gradients([(tf.constant([1.0, 2.0, 3.0], dtype=tf.float64), w)])
    assert w.dtype == tf.float64 and all(v.dtype == tf.float64 for v in opt.variables[2:])
    want = ref_nadam(0.1)({}, np.ones(3), np.array([1.0, 2.0, 3.0]), 1)
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-8)


def test_persistent_tape_values_survive_an_in_place_update():
    w = tf.Variable([1.0, 2.0, 3.0])
    x = tf.constant([4.0, 5.0, 6.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.reduce_sum(w * x)  # the tape saves w's value for dy/dx
    K.SGD(1.0).apply_gradients([(tape.gradient(y, w), w)])
    np.testing.assert_allclose(w.numpy(), [-3.0, -3.0, -3.0])
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 2.0, 3.0])  # the value read, not now's
    read = w.read_value()
    K.SGD(1.0).apply_gradients([(tf.constant([1.0, 1.0, 1.0]), w)])
    np.testing.assert_allclose(read.numpy(), [-3.0, -3.0, -3.0])


def test_large_variables_are_updated_across_blocks():
    n = 100_003  # several blocks and a ragged last one
    rng = np.random.default_rng(5)
    w0, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    w = tf.Variable(w0)
    K.Adam(0.1).apply_gradients([(tf.constant(g), w)])
    want = ref_adam(0.1)({}, w0.astype(np.float64), g.astype(np.float64), 1)
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-5, atol=1e-5)


class KerasStyle(K.Optimizer):
    """A subclass written the Keras 3 way: slots in build, update_step with tapegrad ops."""

    def __init__(self, learning_rate=0.1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentums = [self.add_variable_from_reference(v, "momentum") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        m = self.momentums[self._get_variable_index(variable)]
        self.assign(m, 0.5 * m + gradient)
        self.assign_sub(variable, learning_rate * m)


def test_keras_style_subclass():
    w = tf.Variable([1.0])
    opt = KerasStyle(clipvalue=1.0)
    for _ in range(2):
        opt.apply_gradients([(tf.constant([4.0]), w)])  # clipped to 1
    assert float(w[0]) == pytest.approx(1.0 - 0.1 * 1.0 - 0.1 * 1.5)
    assert [v.path for v in opt.variables][-1].endswith("_momentum")
    with pytest.raises(NotImplementedError):
        K.Optimizer(0.1).apply_gradients([(tf.constant(1.0), tf.Variable(1.0))])
