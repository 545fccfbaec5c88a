"""Training inside tf.function: the seed's train_step/test_step, tapes (nested too), optimizers,
metrics, variable updates, BatchNormalization, Dropout and random ops, and a two-tape GAN step.

Compiled and eager (``run_functions_eagerly(True)``) runs must agree: the staged stateful calls
(optimizer, metrics, assign) run once per call, with that call's tensors.
"""
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras import Model
from tapegrad.keras.layers import BatchNormalization, Conv2D, Dense, Dropout, Embedding, Flatten

RNG = np.random.default_rng(7)
X = RNG.random((70, 8, 8, 1), dtype=np.float32)            # 70 = 32 + 32 + 6: a partial last batch
Y = RNG.integers(0, 10, 70).astype(np.int64)
X_TEST, Y_TEST = X[:40], Y[:40]                            # 40 = 32 + 8


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def batches(x, y, size=32):
    return [(tf.constant(x[i:i + size]), tf.constant(y[i:i + size])) for i in range(0, len(x), size)]


class MyModel(Model):
    """The seed's quickstart model, smaller."""

    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(4, 3, activation="relu")
        self.flatten = Flatten()
        self.d1 = Dense(16, activation="relu")
        self.d2 = Dense(10, activation="softmax")

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


def quickstart(eager, epochs=2):
    """The seed's loop, verbatim apart from sizes; returns weights, metrics and trace counts."""
    tf.config.run_functions_eagerly(eager)
    tf.keras.utils.set_random_seed(0)
    model = MyModel()
    loss_function = tf.keras.losses.SparseCategoricalCrossentropy()
    optimizer = tf.keras.optimizers.Adam()
    train_acc = tf.keras.metrics.SparseCategoricalAccuracy()
    test_acc = tf.keras.metrics.SparseCategoricalAccuracy()
    train_loss = tf.keras.metrics.Mean()
    test_loss = tf.keras.metrics.Mean()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images)
            loss = loss_function(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_acc(labels, predictions)

    @tf.function
    def test_step(images, labels):
        predictions = model(images)
        loss = loss_function(labels, predictions)
        test_loss(loss)
        test_acc(labels, predictions)

    history = []
    for _ in range(epochs):
        for m in (train_loss, train_acc, test_loss, test_acc):
            m.reset_state()
        for images, labels in batches(X, Y):
            train_step(images, labels)
        for images, labels in batches(X_TEST, Y_TEST):
            test_step(images, labels)
        history.append([float(m.result()) for m in (train_loss, train_acc, test_loss, test_acc)])
    tf.config.run_functions_eagerly(False)
    return {"weights": [w.numpy() for w in model.weights], "history": history,
            "iterations": int(optimizer.iterations.numpy()),
            "counts": (train_step.experimental_get_tracing_count(),
                       test_step.experimental_get_tracing_count())}


@pytest.fixture(scope="module")
def quickstart_runs():
    return quickstart(eager=True), quickstart(eager=False)


def test_quickstart_compiled_matches_eager(quickstart_runs):
    eager, compiled = quickstart_runs
    assert len(compiled["weights"]) == len(eager["weights"]) == 6
    for a, b in zip(eager["weights"], compiled["weights"]):
        close(a, b)
    close(np.array(eager["history"]), np.array(compiled["history"]))
    assert eager["iterations"] == compiled["iterations"] == 6          # 3 batches x 2 epochs


def test_quickstart_learns_and_metrics_are_sane(quickstart_runs):
    _, compiled = quickstart_runs
    (loss1, acc1, tloss1, tacc1), (loss2, acc2, _, _) = compiled["history"]
    assert 0 < loss2 < loss1 < 5 and 0 <= acc1 <= 1 and 0 <= acc2 <= 1
    assert 0 <= tacc1 <= 1 and tloss1 > 0
    # accuracies are multiples of 1/70 (train) and 1/40 (test)
    assert acc1 * 70 == pytest.approx(round(acc1 * 70), abs=1e-4)
    assert tacc1 * 40 == pytest.approx(round(tacc1 * 40), abs=1e-4)


def test_quickstart_trace_counts(quickstart_runs):
    # TF 2.21: train_step traces twice for the variable-creating first batch, once more for
    # the partial last batch; test_step once per batch shape (32, then 8)
    eager, compiled = quickstart_runs
    assert compiled["counts"] == (3, 2)
    assert eager["counts"] == (0, 0)


# -- tapes inside functions ---------------------------------------------------------------------

def test_gradient_tape_inside_a_function():
    w = tf.Variable([1.0, -2.0])

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(w * w * x)
        return y, tape.gradient(y, w)

    for x in (3.0, 5.0):
        y, g = grad(tf.constant(x))
        assert float(y) == pytest.approx(5 * x)
        close(g.numpy(), [2 * x, -4 * x])
    assert grad.experimental_get_tracing_count() == 1


def test_hessian_vector_product_with_nested_tapes_inside_a_function():
    @tf.function
    def hvp(x, v):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(x ** 3) + tf.reduce_sum(tf.sin(x))
            g = inner.gradient(y, x)
            gv = tf.reduce_sum(g * v)
        return outer.gradient(gv, x)

    for seed in (1, 2):
        r = np.random.default_rng(seed)
        x = r.standard_normal(4).astype(np.float32)
        v = r.standard_normal(4).astype(np.float32)
        out = hvp(tf.constant(x), tf.constant(v)).numpy()
        np.testing.assert_allclose(out, (6 * x - np.sin(x)) * v, rtol=1e-5)
    assert hvp.experimental_get_tracing_count() == 1


def test_persistent_tape_and_jacobian_inside_a_function():
    @tf.function
    def jac(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            z = tf.reduce_sum(y)
        return tape.jacobian(y, x), tape.gradient(z, x)

    j, g = jac(tf.constant([1.0, 2.0, 3.0]))
    close(j.numpy(), np.diag([2.0, 4.0, 6.0]))
    close(g.numpy(), [2.0, 4.0, 6.0])


def test_gradient_through_a_function_from_an_outer_tape(capfd):
    @tf.function
    def f(x):
        print("trace f")
        tf.print("run f", output_stream=sys.stdout)
        return tf.reduce_sum(tf.exp(x) * x)

    x = tf.constant([0.5, -1.0])
    xv = x.numpy()
    for _ in range(2):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        close(tape.gradient(y, x).numpy(), np.exp(xv) * (xv + 1))
    f(x)
    # TF 2.21: a call under a tape is a traced call like any other (one trace, reused)
    assert f.experimental_get_tracing_count() == 1
    assert capfd.readouterr().out == "trace f\nrun f\nrun f\nrun f\n"


def test_function_called_from_another_function(capfd):
    v = tf.Variable(0)

    @tf.function
    def inner(x):
        print("trace inner")
        v.assign_add(1)
        tf.print("inner", x, output_stream=sys.stdout)
        return x * 2

    @tf.function
    def outer(x):
        print("trace outer")
        return inner(x) + inner(x + 1)

    assert int(outer(tf.constant(1))) == 6
    assert int(outer(tf.constant(2))) == 10
    assert int(v.numpy()) == 4
    assert capfd.readouterr().out == "trace outer\ntrace inner\ninner 1\ninner 2\ninner 2\ninner 3\n"
    # TF 2.21: the inner function traced once inside the outer trace; a direct call reuses it
    assert (inner.experimental_get_tracing_count(), outer.experimental_get_tracing_count()) == (1, 1)
    assert int(inner(tf.constant(5))) == 10
    assert inner.experimental_get_tracing_count() == 1


def test_tape_inside_a_function_over_another_function(capfd):
    @tf.function
    def inner(x):
        print("trace inner")
        return tf.reduce_sum(tf.sin(x) * x)

    @tf.function
    def outer(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = inner(x)
        return tape.gradient(y, x)

    for xv in ([0.5, 1.0], [1.5, 2.0]):
        x = np.array(xv, np.float32)
        close(outer(tf.constant(x)).numpy(), np.sin(x) + x * np.cos(x))
    # TF 2.21: one trace each
    assert (inner.experimental_get_tracing_count(), outer.experimental_get_tracing_count()) == (1, 1)
    assert capfd.readouterr().out == "trace inner\n"


def test_higher_order_jacobian_and_forward_mode_through_a_function():
    @tf.function
    def f(x):
        return tf.reduce_sum(x ** 3)

    x = tf.constant([0.5, 1.0])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
    close(g.numpy(), [0.75, 3.0])
    close(outer.gradient(g, x).numpy(), [3.0, 6.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = f(x) + f(2 * x)
    close(tape.gradient(y, x).numpy(), [6.75, 27.0])
    close(tape.jacobian(y, x).numpy(), [6.75, 27.0])
    with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0])) as acc:
        y = f(x)
    assert float(acc.jvp(y)) == pytest.approx(0.75)
    assert f.experimental_get_tracing_count() == 1          # TF 2.21: the same trace throughout


def test_gradient_to_variables_read_by_a_function_called_under_a_tape():
    w = tf.Variable([1.0, 2.0])

    @tf.function
    def loss(x):
        return tf.reduce_sum(w * x)

    with tf.GradientTape() as tape:
        y = loss(tf.constant([3.0, 4.0]))
    close(tape.gradient(y, w).numpy(), [3.0, 4.0])
    assert loss.experimental_get_tracing_count() == 1


# -- optimizers, metrics, variables -------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
                                  lambda: tf.keras.optimizers.Adam(0.01)], ids=["sgd", "adam"])
def test_optimizer_steps_compiled_match_eager(make):
    def run(eager):
        tf.config.run_functions_eagerly(eager)
        w = tf.Variable([[1.0, -1.0], [0.5, 2.0]])
        b = tf.Variable([0.0, 0.1])
        opt = make()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((tf.matmul(x, w) + b - y) ** 2)
            opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
            return loss

        losses = [float(step(tf.constant(RNG_X[i]), tf.constant(RNG_Y[i]))) for i in range(4)]
        tf.config.run_functions_eagerly(False)
        return w.numpy(), b.numpy(), losses, int(opt.iterations.numpy())

    we, be, le, ie = run(True)
    wc, bc, lc, ic = run(False)
    close(we, wc)
    close(be, bc)
    close(le, lc)
    assert ie == ic == 4
    assert le[-1] < le[0]


RNG_X = np.random.default_rng(3).standard_normal((4, 5, 2)).astype(np.float32)
RNG_Y = np.random.default_rng(4).standard_normal((4, 5, 2)).astype(np.float32)


def test_optimizer_minimize_style_apply_inside_a_function():
    v = tf.Variable(3.0)
    opt = tf.keras.optimizers.SGD(0.25)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = v * v
        grads = tape.gradient(loss, [v])
        opt.apply(grads, [v])

    step()
    step()
    assert float(v.numpy()) == pytest.approx(3.0 * 0.5 * 0.5)


def test_metrics_update_and_result_inside_a_function():
    mean = tf.keras.metrics.Mean()
    acc = tf.keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def step(x, y, p):
        mean.update_state(x)
        acc.update_state(y, p)
        return mean.result(), acc.result()

    p = tf.constant([[0.9, 0.1], [0.2, 0.8]])
    r1 = step(tf.constant(1.0), tf.constant([0, 0]), p)
    r2 = step(tf.constant(3.0), tf.constant([0, 1]), p)
    r3 = step(tf.constant(8.0), tf.constant([1, 1]), p)
    assert [float(r[0]) for r in (r1, r2, r3)] == [1.0, 2.0, 4.0]
    assert [float(r[1]) for r in (r1, r2, r3)] == pytest.approx([0.5, 0.75, 4 / 6])
    assert step.experimental_get_tracing_count() == 1


def test_metric_reset_inside_a_function():
    mean = tf.keras.metrics.Mean()

    @tf.function
    def step(x):
        mean.reset_state()
        mean(x)
        return mean.result()

    assert float(step(tf.constant(2.0))) == 2.0
    assert float(step(tf.constant(6.0))) == 6.0
    assert float(mean.result()) == 6.0


def test_variable_assign_add_runs_on_every_call():
    counter = tf.Variable(0)
    total = tf.Variable(0.0)

    @tf.function
    def step(x):
        counter.assign_add(1)
        total.assign_add(x)
        return total.assign_sub(0.5) * 2     # the assign's result is the new value

    outs = [float(step(tf.constant(v))) for v in (1.0, 2.0, 3.0)]
    assert int(counter.numpy()) == 3
    assert float(total.numpy()) == pytest.approx(4.5)
    assert outs == pytest.approx([1.0, 4.0, 9.0])
    assert step.experimental_get_tracing_count() == 1


def test_reading_a_variable_after_assign_sees_the_new_value():
    v = tf.Variable(1.0)

    @tf.function
    def f():
        a = v * 1.0
        v.assign(10.0)
        b = v * 1.0
        return a, b

    a, b = f()
    assert (float(a), float(b)) == (1.0, 10.0)
    v.assign(2.0)
    a, b = f()
    assert (float(a), float(b)) == (2.0, 10.0)


def test_logging_every_n_steps_after_the_update(capfd):
    # a common custom-loop pattern: decide on the step counter after the optimizer step
    # (TF 2.21: AutoGraph makes it a tf.cond; prints at steps 3 and 6, one trace)
    w = tf.Variable(1.0)
    opt = tf.keras.optimizers.SGD(0.1)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = (w * x) ** 2
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        if opt.iterations % 3 == 0:
            tf.print("step", opt.iterations, output_stream=sys.stdout)
        return loss

    for _ in range(7):
        step(tf.constant(1.0))
    assert capfd.readouterr().out == "step 3\nstep 6\n"
    assert int(opt.iterations.numpy()) == 7
    assert float(w.numpy()) == pytest.approx(0.8 ** 7)
    assert step.experimental_get_tracing_count() == 1        # plain SGD creates no variables


# -- layers with state or randomness ---------------------------------------------------------------------

def test_batch_normalization_moving_statistics_compiled_match_eager():
    data = [np.random.default_rng(i).standard_normal((16, 3)).astype(np.float32) * (i + 1) + i
            for i in range(3)]

    def run(eager):
        tf.config.run_functions_eagerly(eager)
        bn = BatchNormalization(momentum=0.5)

        @tf.function
        def step(x):
            return bn(x, training=True)

        outs = [step(tf.constant(d)).numpy() for d in data]
        tf.config.run_functions_eagerly(False)
        return outs, bn.moving_mean.numpy(), bn.moving_variance.numpy()

    oe, me, ve = run(True)
    oc, mc, vc = run(False)
    for a, b in zip(oe, oc):
        close(a, b)
    close(me, mc)
    close(ve, vc)
    # momentum 0.5 from (0, 1): the moving mean follows the three batch means
    expected = np.zeros(3)
    for d in data:
        expected = 0.5 * expected + 0.5 * d.mean(axis=0)
    np.testing.assert_allclose(mc, expected, rtol=1e-5)


def test_batch_normalization_inference_uses_moving_statistics():
    bn = BatchNormalization()

    @tf.function
    def f(x, training):
        return bn(x, training=training)

    x = tf.constant(np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32) + 5)
    f(x, True)
    f(x, True)
    moving = bn.moving_mean.numpy().copy()
    assert not np.allclose(moving, 0)
    out = f(x, False)
    np.testing.assert_allclose(bn.moving_mean.numpy(), moving)           # inference: no update
    expected = (x.numpy() - moving) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_dropout_draws_a_fresh_mask_on_every_call():
    layer = Dropout(0.5)

    @tf.function
    def f(x):
        return layer(x, training=True)

    x = tf.ones([1000])
    a, b = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(a, b)
    for out in (a, b):
        assert set(np.unique(out)) <= {0.0, 2.0}
        assert 350 < (out == 0).sum() < 650
    assert f.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("draw", [lambda: tf.random.normal([50]), lambda: tf.random.uniform([50]),
                                  lambda: tf.random.truncated_normal([50])],
                         ids=["normal", "uniform", "truncated"])
def test_random_ops_draw_fresh_numbers_on_every_call(draw):
    @tf.function
    def f():
        return draw()

    a, b, c = f().numpy(), f().numpy(), f().numpy()
    assert not np.array_equal(a, b) and not np.array_equal(b, c)
    assert f.experimental_get_tracing_count() == 1


def test_two_equal_random_draws_in_one_call_differ():
    @tf.function
    def f():
        return tf.random.normal([20]), tf.random.normal([20]), tf.random.uniform([20]) * 1.0

    a, b, c = (t.numpy() for t in f())
    assert not np.array_equal(a, b)
    assert not np.array_equal(c, f()[2].numpy())


def test_random_op_with_shape_from_an_argument():
    @tf.function
    def noisy(x):
        return x + tf.random.normal(tf.shape(x), stddev=0.1)

    x = tf.zeros([3, 4])
    a, b = noisy(x).numpy(), noisy(x).numpy()
    assert a.shape == (3, 4) and not np.array_equal(a, b)


# -- a GAN-style step: two tapes, two models, two optimizers ---------------------------------------

def gan(eager, steps=3):
    tf.config.run_functions_eagerly(eager)
    tf.keras.utils.set_random_seed(1)
    generator = tf.keras.Sequential([Dense(8, activation="relu"), Dense(4)])
    discriminator = tf.keras.Sequential([Dense(8, activation="relu"), Dense(1)])
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer = tf.keras.optimizers.Adam(1e-2)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-2)

    @tf.function
    def train_step(real, noise):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            fake = generator(noise, training=True)
            real_output = discriminator(real, training=True)
            fake_output = discriminator(fake, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + \
                cross_entropy(tf.zeros_like(fake_output), fake_output)
        gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
        disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(disc_grads, discriminator.trainable_variables))
        return gen_loss, disc_loss

    r = np.random.default_rng(5)
    losses = []
    for _ in range(steps):
        real = tf.constant(r.standard_normal((6, 4)).astype(np.float32) + 2)
        noise = tf.constant(r.standard_normal((6, 3)).astype(np.float32))
        losses.append([float(v) for v in train_step(real, noise)])
    tf.config.run_functions_eagerly(False)
    return (losses, [w.numpy() for w in generator.weights + discriminator.weights],
            train_step.experimental_get_tracing_count(),
            (int(generator_optimizer.iterations.numpy()), int(discriminator_optimizer.iterations.numpy())))


def test_two_tape_gan_step_compiled_matches_eager():
    le, we, _, ie = gan(eager=True)
    lc, wc, count, ic = gan(eager=False)
    close(np.array(le), np.array(lc))
    assert len(wc) == 8
    for a, b in zip(we, wc):
        close(a, b)
    assert ie == ic == (3, 3)
    assert count == 2                # the variable-creating first call traces twice


def test_embedding_sparse_gradients_compiled_match_eager():
    # the gradient is an IndexedSlices: the compiled step must hand the optimizer the same
    # sparse gradient the eager step does (TF 2.21: losses 3.9, 2.21545, 1.33691, 0.6015 both ways)
    ids = [np.array([[1, 2, 1], [0, 4, 4]]), np.array([[3, 3, 2], [1, 0, 0]])]

    def run(eager):
        tf.config.run_functions_eagerly(eager)
        init = np.arange(15, dtype=np.float32).reshape(5, 3) / 10 - 0.7
        embed = Embedding(5, 3, embeddings_initializer=tf.keras.initializers.Constant(init))
        opt = tf.keras.optimizers.Adam(0.1)

        @tf.function
        def step(i):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(embed(i) ** 2)
            opt.apply_gradients(zip(tape.gradient(loss, embed.trainable_variables),
                                    embed.trainable_variables))
            return loss

        losses = [float(step(tf.constant(i))) for i in ids * 2]
        tf.config.run_functions_eagerly(False)
        return losses, embed.embeddings.numpy()

    le, we = run(True)
    lc, wc = run(False)
    close(le, lc)
    close(we, wc)
