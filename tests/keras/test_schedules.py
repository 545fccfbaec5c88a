"""Learning-rate schedules: values at chosen steps against the Keras 3 formulas, warmup,
boundaries, cycling, configs, and errors."""
import math

import numpy as np
import pytest

import tapegrad as tf

S = tf.keras.optimizers.schedules


def value(schedule, step):
    out = schedule(step)
    assert isinstance(out, tf.Tensor) and out.dtype == tf.float32 and out.shape == ()
    return float(out)


@pytest.mark.parametrize("step", [0, 1, 7, 10, 25, 1000])
def test_exponential_decay(step):
    assert value(S.ExponentialDecay(0.1, 10, 0.5), step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-6)
    assert value(S.ExponentialDecay(0.1, 10, 0.5, staircase=True), step) == \
        pytest.approx(0.1 * 0.5 ** (step // 10), rel=1e-6)


def test_piecewise_constant_boundaries_belong_to_the_left_interval():
    schedule = S.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    got = [value(schedule, s) for s in (0, 100, 101, 200, 201, 10**6)]
    assert got == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.1, 0.1])
    with pytest.raises(ValueError, match="The length of boundaries should be 1 less than the length"):
        S.PiecewiseConstantDecay([1, 2], [1.0, 0.5])


@pytest.mark.parametrize("step", [0, 3, 10, 17])
def test_inverse_time_decay(step):
    assert value(S.InverseTimeDecay(1.0, 4, 0.5), step) == pytest.approx(1.0 / (1 + 0.5 * step / 4), rel=1e-6)
    assert value(S.InverseTimeDecay(1.0, 4, 0.5, staircase=True), step) == \
        pytest.approx(1.0 / (1 + 0.5 * (step // 4)), rel=1e-6)


def test_polynomial_decay():
    schedule = S.PolynomialDecay(1.0, 10, end_learning_rate=0.1, power=2.0)
    for step in (0, 4, 10, 30):
        fraction = 1 - min(step, 10) / 10
        assert value(schedule, step) == pytest.approx(0.9 * fraction ** 2 + 0.1, rel=1e-6)
    cycling = S.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert value(cycling, 0) == pytest.approx(1.0)
    assert value(cycling, 5) == pytest.approx(0.5)
    assert value(cycling, 15) == pytest.approx(1 - 15 / 20)  # decay_steps becomes 20
    assert value(cycling, 20) == pytest.approx(0.0)
    assert value(S.PolynomialDecay(0.5, 3), 1) == pytest.approx((0.5 - 1e-4) * (2 / 3) + 1e-4)


def cosine(step, decay_steps, alpha=0.0):
    step = min(step, decay_steps)
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha


@pytest.mark.parametrize("step", [0, 25, 50, 99, 100, 150])
def test_cosine_decay(step):
    assert value(S.CosineDecay(0.2, 100), step) == pytest.approx(0.2 * cosine(step, 100), rel=1e-5, abs=1e-7)
    assert value(S.CosineDecay(0.2, 100, alpha=0.1), step) == pytest.approx(0.2 * cosine(step, 100, 0.1),
                                                                             rel=1e-5)


@pytest.mark.parametrize("step, expected", [
    (0, 0.01), (5, 0.01 + (0.5 - 0.01) * 5 / 20), (19, 0.01 + 0.49 * 19 / 20),
    (20, 0.5), (70, 0.5 * cosine(50, 100, 0.1)), (120, 0.5 * 0.1), (500, 0.5 * 0.1),
])
def test_cosine_decay_with_linear_warmup(step, expected):
    schedule = S.CosineDecay(0.01, 100, alpha=0.1, warmup_target=0.5, warmup_steps=20)
    assert value(schedule, step) == pytest.approx(expected, rel=1e-5)


def test_cosine_decay_restarts():
    schedule = S.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5, alpha=0.0)
    assert value(schedule, 0) == pytest.approx(1.0)
    assert value(schedule, 5) == pytest.approx(0.5)
    assert value(schedule, 10) == pytest.approx(0.5)  # second period: peak halved, 20 steps long
    assert value(schedule, 20) == pytest.approx(0.25)
    assert value(schedule, 30) == pytest.approx(0.25)  # third period starts
    steady = S.CosineDecayRestarts(1.0, 10, t_mul=1.0)
    assert value(steady, 13) == pytest.approx(value(steady, 3))


def test_steps_may_be_tensors_and_variables():
    schedule = S.ExponentialDecay(1.0, 1, 0.5)
    assert value(schedule, tf.constant(2)) == 0.25
    assert value(schedule, tf.Variable(3, dtype=tf.int64)) == 0.125
    assert value(schedule, np.int64(1)) == 0.5


def test_decay_steps_must_be_positive():
    for make in (lambda: S.ExponentialDecay(0.1, 0, 0.5), lambda: S.InverseTimeDecay(0.1, -1, 0.5),
                 lambda: S.PolynomialDecay(0.1, 0), lambda: S.CosineDecay(0.1, 0)):
        with pytest.raises(ValueError, match=r"Argument `decay_steps` must be > 0"):
            make()
    with pytest.raises(ValueError, match="first_decay_steps"):
        S.CosineDecayRestarts(0.1, 0)


@pytest.mark.parametrize("schedule", [
    S.ExponentialDecay(0.1, 10, 0.9, staircase=True), S.PiecewiseConstantDecay([5], [0.1, 0.01]),
    S.InverseTimeDecay(0.1, 2, 0.5), S.PolynomialDecay(0.1, 10, 0.01, power=0.5, cycle=True),
    S.CosineDecay(0.0, 50, alpha=0.1, warmup_target=0.1, warmup_steps=5),
    S.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.01),
])
def test_config_round_trip(schedule):
    config = schedule.get_config()
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    again = S.deserialize(S.serialize(schedule))
    assert type(again) is type(schedule)
    assert [value(again, s) for s in (0, 3, 12)] == [value(schedule, s) for s in (0, 3, 12)]


def test_custom_schedule_and_the_optimizer_step():
    class Halving(S.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2 ** float(step)

    opt = tf.keras.optimizers.SGD(Halving())
    w = tf.Variable(0.0)
    for _ in range(3):
        opt.apply_gradients([(tf.constant(1.0), w)])
    assert float(w) == pytest.approx(-1.75)
    with pytest.raises(NotImplementedError, match=r"must override `get_config\(\)`"):
        Halving().get_config()
    with pytest.raises(NotImplementedError, match=r"must override `__call__\(self, step\)`"):
        S.LearningRateSchedule()(0)


def test_schedules_take_an_array_of_steps():
    # recorded from Keras 3.15 (TF 2.21): the curve over the steps, float32, the steps' shape
    s = tf.keras.optimizers.schedules
    steps = np.linspace(0, 100000, 5)
    cases = [(s.InverseTimeDecay(0.001, 20, 1),
              [1e-3, 7.9936058e-07, 3.9984008e-07, 2.665956e-07, 1.9996e-07]),
             (s.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), [1.0, 0.1, 0.1, 0.1, 0.1]),
             (s.PolynomialDecay(0.1, 50000, 0.01), [0.1, 0.055, 0.01, 0.01, 0.01]),
             (s.CosineDecay(0.1, 50000), [0.1, 0.05, 0.0, 0.0, 0.0]),
             (s.CosineDecayRestarts(0.1, 20000), [0.1, 0.09619398, 0.01464466, 0.09157348, 0.05])]
    for schedule, expected in cases:
        rates = schedule(steps)
        assert rates.dtype == tf.float32 and tuple(rates.shape) == (5,)
        np.testing.assert_allclose(rates.numpy(), expected, rtol=1e-5, atol=1e-8)
    assert tuple(s.InverseTimeDecay(0.001, 20, 1)(np.array([[0, 20]])).shape) == (1, 2)
