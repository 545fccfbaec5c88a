"""tf.random: TF's global/op seed semantics, shapes and dtypes, and the distributions."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.core.op import REGISTRY
from tapegrad.ops.random import STATE

DRAWS = {
    "uniform": lambda seed=None: tf.random.uniform([3], seed=seed),
    "normal": lambda seed=None: tf.random.normal([3], seed=seed),
    "truncated_normal": lambda seed=None: tf.random.truncated_normal([3], seed=seed),
    "shuffle": lambda seed=None: tf.random.shuffle(tf.range(10), seed=seed),
    "categorical": lambda seed=None: tf.random.categorical(tf.zeros([1, 10]), 5, seed=seed),
    "integer uniform": lambda seed=None: tf.random.uniform([3], maxval=1000, dtype=tf.int64, seed=seed),
}


@pytest.fixture(autouse=True)
def no_global_seed():
    tf.random.set_seed(None)
    yield
    tf.random.set_seed(None)


def values(draws):
    return [d.numpy().tolist() for d in draws]


# -- seeds --------------------------------------------------------------------------------------

@pytest.mark.parametrize("draw", DRAWS.values(), ids=DRAWS.keys())
def test_global_seed_repeats_the_sequence_of_draws(draw):
    tf.random.set_seed(42)
    first = values([draw(), draw(), draw()])
    tf.random.set_seed(42)
    assert values([draw(), draw(), draw()]) == first
    assert first[0] != first[1]  # each call draws the next op seed
    tf.random.set_seed(43)
    assert values([draw(), draw(), draw()]) != first


@pytest.mark.parametrize("draw", DRAWS.values(), ids=DRAWS.keys())
def test_op_seed_stream_continues_across_calls_and_restarts_with_set_seed(draw):
    tf.random.set_seed(1234)
    first, second = draw(seed=1), draw(seed=1)
    assert values([first]) != values([second])
    other = draw(seed=2)
    tf.random.set_seed(1234)
    assert values([draw(seed=1), draw(seed=1)]) == values([first, second])
    assert values([draw(seed=2)]) == values([other])


def test_op_seed_without_a_global_seed_is_deterministic():
    first = values([tf.random.uniform([4], seed=7), tf.random.uniform([4], seed=7)])
    tf.random.set_seed(None)  # a fresh start, as a new program
    assert values([tf.random.uniform([4], seed=7), tf.random.uniform([4], seed=7)]) == first
    tf.random.set_seed(87654321)  # TF's default global seed for op-seeded draws
    assert values([tf.random.uniform([4], seed=7)]) == first[:1]


def test_no_seed_at_all_is_nondeterministic():
    assert values([tf.random.uniform([8])]) != values([tf.random.uniform([8])])


def test_eager_draws_under_a_global_seed_keep_no_stream_per_call():
    tf.random.set_seed(3)
    for _ in range(20):
        tf.random.normal([2])
    tf.random.normal([2], seed=9)
    assert len(STATE._streams) == 1  # only the op-seeded stream, which must continue


STATELESS = {
    "uniform": lambda seed: tf.random.stateless_uniform([5], seed=seed),
    "integer uniform": lambda seed: tf.random.stateless_uniform([5], seed, maxval=100, dtype=tf.int32),
    "normal": lambda seed: tf.random.stateless_normal([5], seed=seed),
    "truncated_normal": lambda seed: tf.random.stateless_truncated_normal([5], seed=seed),
    "categorical": lambda seed: tf.random.stateless_categorical(tf.zeros([1, 10]), 5, seed=seed),
}


@pytest.mark.parametrize("draw", STATELESS.values(), ids=STATELESS.keys())
def test_stateless_draws_depend_on_their_seed_only(draw):
    first = values([draw([1, 2])])
    tf.random.set_seed(99)
    tf.random.uniform([3])
    assert values([draw([1, 2]), draw(tf.constant([1, 2]))]) == first * 2
    assert values([draw([2, 1])]) != first
    assert not STATE._streams
    with pytest.raises(ValueError, match="shape \\[2\\]"):
        draw([1, 2, 3])


def test_random_ops_are_stateful_nondifferentiable_primitives():
    for name in ("random_uniform", "random_uniform_int", "random_standard_normal", "truncated_normal",
                 "random_shuffle", "multinomial"):
        op = REGISTRY[name]
        assert op.stateful and not op.differentiable and op.nondiff_reason


def test_stateless_ops_take_their_seed_as_an_input():
    # a function of its inputs (TF's Stateless* kernels): not stateful, and a traced function draws with
    # each call's seed
    for name in ("stateless_random_uniform", "stateless_random_uniform_int", "stateless_random_normal",
                 "stateless_truncated_normal", "stateless_multinomial"):
        op = REGISTRY[name]
        assert not op.stateful and not op.differentiable and op.n_in >= 1
    draw = tf.function(lambda seed: tf.random.stateless_normal([4], seed=seed))
    for seed in ([1, 2], [3, 4], [1, 2]):
        assert values([draw(tf.constant(seed))]) == values([tf.random.stateless_normal([4], seed=seed)])
    assert draw.experimental_get_tracing_count() == 1


# -- shapes and dtypes --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tf.float16, tf.float32, tf.float64])
def test_float_dtypes_and_shapes(dtype):
    for fn in (tf.random.uniform, tf.random.normal, tf.random.truncated_normal):
        x = fn(tf.constant([2, 3]), dtype=dtype, seed=1)
        assert x.shape == (2, 3) and x.dtype == dtype


def test_integer_uniform_needs_maxval_and_respects_its_range():
    x = tf.random.uniform([10_000], minval=-3, maxval=4, dtype=tf.int32, seed=1)
    assert x.dtype == tf.int32
    assert set(np.unique(x.numpy()).tolist()) == set(range(-3, 4))
    with pytest.raises(ValueError, match="maxval"):
        tf.random.uniform([2], dtype=tf.int64)


def test_normal_refuses_integer_dtypes():
    with pytest.raises(ValueError, match="floating"):
        tf.random.normal([2], dtype=tf.int32)


# -- distributions ------------------------------------------------------------------------------

def test_uniform_range_and_moments():
    x = tf.random.uniform([100_000], minval=-2.0, maxval=6.0, seed=3).numpy().astype(np.float64)
    assert x.min() >= -2.0 and x.max() < 6.0
    assert abs(x.mean() - 2.0) < 0.05 and abs(x.var() - 64 / 12) < 0.1


def test_uniform_and_normal_are_differentiable_in_tensor_bounds():
    low, high = tf.constant(1.0), tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch([low, high])
        x = tf.random.uniform([1000], minval=low, maxval=high, seed=4)
    u = (x.numpy() - 1.0) / 2.0
    d_low, d_high = tape.gradient(x, [low, high])
    np.testing.assert_allclose([float(d_low), float(d_high)], [np.sum(1 - u), np.sum(u)], rtol=1e-4)
    stddev = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(stddev)
        y = tf.random.normal([1000], stddev=stddev, seed=4)
    np.testing.assert_allclose(float(tape.gradient(y, stddev)), np.sum(y.numpy()) / 2.0, rtol=1e-4)


def test_normal_moments():
    x = tf.random.normal([100_000], mean=1.0, stddev=3.0, seed=5).numpy().astype(np.float64)
    assert abs(x.mean() - 1.0) < 0.05 and abs(x.std() - 3.0) < 0.05


def test_truncated_normal_stays_within_two_standard_deviations():
    x = tf.random.truncated_normal([100_000], mean=-1.0, stddev=0.5, seed=6).numpy().astype(np.float64)
    assert x.min() >= -2.0 and x.max() <= 0.0
    # the standard deviation of a standard normal truncated at +-2
    phi = math.exp(-2) / math.sqrt(2 * math.pi)
    truncated_std = math.sqrt(1 - 4 * phi / math.erf(2 / math.sqrt(2)))
    assert abs(x.std() - 0.5 * truncated_std) < 0.01
    assert abs(x.mean() + 1.0) < 0.01


def test_shuffle_permutes_rows_and_keeps_them_whole():
    x = tf.reshape(tf.range(20), [10, 2])
    y = tf.random.shuffle(x, seed=7).numpy()
    assert sorted(map(tuple, y.tolist())) == sorted(map(tuple, x.numpy().tolist()))
    assert np.all(y[:, 1] == y[:, 0] + 1)
    assert int(tf.random.shuffle(tf.constant(5))) == 5


def test_categorical_frequencies_follow_the_softmax():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 1.0]]))
    logits[1, 2] = -np.inf  # probability 0: never drawn
    samples = tf.random.categorical(tf.constant(logits), 20_000, seed=8)
    assert samples.shape == (2, 20_000) and samples.dtype == tf.int64
    for row, probs in zip(samples.numpy(), ([0.1, 0.2, 0.7], [0.5, 0.5, 0.0]), strict=True):
        counts = np.bincount(row, minlength=3) / row.size
        np.testing.assert_allclose(counts, probs, atol=0.015)
    assert 2 not in samples.numpy()[1]
    assert tf.random.categorical([[0.0, 0.0]], 3, dtype=tf.int32).dtype == tf.int32


def test_categorical_gives_no_gradient():
    logits = tf.constant([[0.0, 1.0]])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        samples = tf.cast(tf.random.categorical(logits, 4), tf.float32)
    assert tape.gradient(samples, logits) is None
