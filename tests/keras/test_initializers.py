"""Keras 3 weight helpers: initializers (statistics, shapes, dtypes, seeding, orthogonality,
configs), and the regularizers and constraints that share their registry."""
import math

import numpy as np
import pytest

import tapegrad as tf

INIT = tf.keras.initializers
R = tf.keras.regularizers
C = tf.keras.constraints
TRUNCATED_STD = 0.87962566103423978  # stddev of a standard normal truncated to [-2, 2]


# -- statistics --------------------------------------------------------------------------------

SHAPE = (400, 300)  # fan_in 400, fan_out 300: 120k samples, so moments are within ~1%


@pytest.mark.parametrize("init, n", [
    (INIT.GlorotUniform, 350.0), (INIT.GlorotNormal, 350.0), (INIT.HeNormal, 400 / 2),
    (INIT.HeUniform, 400 / 2),
    (INIT.LecunNormal, 400.0), (INIT.LecunUniform, 400.0),
])
def test_variance_scaling_presets_have_variance_one_over_n(init, n):
    x = init(seed=1)(SHAPE).numpy()
    assert x.shape == SHAPE and x.dtype == np.float32
    assert abs(x.mean()) < 0.02 * x.std()
    assert x.std() == pytest.approx(math.sqrt(1.0 / n), rel=0.02)
    if "Uniform" in init.__name__:
        assert np.abs(x).max() <= math.sqrt(3.0 / n)
    else:  # truncated at two (pre-truncation) standard deviations
        assert np.abs(x).max() <= 2 * math.sqrt(1.0 / n) / TRUNCATED_STD + 1e-6


@pytest.mark.parametrize("mode, n", [("fan_in", 400.0), ("fan_out", 300.0), ("fan_avg", 350.0)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform", "normal"])
def test_variance_scaling_modes_and_distributions(mode, n, distribution):
    x = INIT.VarianceScaling(scale=3.0, mode=mode, distribution=distribution, seed=2)(SHAPE).numpy()
    assert x.std() == pytest.approx(math.sqrt(3.0 / n), rel=0.02)


def test_conv_kernel_fans_count_the_receptive_field():
    assert INIT.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert INIT.compute_fans((5, 8, 4)) == (40, 20)
    assert INIT.compute_fans((7,)) == (7, 7) and INIT.compute_fans(()) == (1, 1)
    x = INIT.HeNormal(seed=3)((3, 3, 64, 128)).numpy()
    assert x.std() == pytest.approx(math.sqrt(2.0 / (9 * 64)), rel=0.02)


def test_random_normal_uniform_truncated():
    x = INIT.RandomNormal(mean=2.0, stddev=0.5, seed=4)((200, 500)).numpy()
    assert x.mean() == pytest.approx(2.0, abs=0.01) and x.std() == pytest.approx(0.5, rel=0.02)
    x = INIT.RandomUniform(minval=-1.0, maxval=3.0, seed=4)((200, 500)).numpy()
    assert x.min() >= -1.0 and x.max() < 3.0 and x.mean() == pytest.approx(1.0, abs=0.02)
    x = INIT.TruncatedNormal(mean=1.0, stddev=2.0, seed=4)((200, 500)).numpy()
    assert np.abs(x - 1.0).max() <= 4.0 + 1e-5
    assert x.std() == pytest.approx(2.0 * TRUNCATED_STD, rel=0.02)
    defaults = INIT.RandomNormal(seed=1).get_config(), INIT.RandomUniform(seed=1).get_config()
    assert defaults == ({"seed": 1, "mean": 0.0, "stddev": 0.05},
                        {"seed": 1, "minval": -0.05, "maxval": 0.05})


# -- shapes, dtypes ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
                                  "lecun_normal", "lecun_uniform", "random_normal", "random_uniform",
                                  "truncated_normal", "variance_scaling", "orthogonal", "zeros", "ones",
                                  "constant"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_shapes_and_dtypes(name, dtype):
    x = INIT.get(name)((4, 6), dtype=dtype)
    assert isinstance(x, tf.Tensor) and x.shape == (4, 6) and x.dtype == tf.as_dtype(dtype)


def test_default_dtype_is_float32_and_integer_constants_work():
    assert INIT.GlorotUniform()((2, 2)).dtype == tf.float32
    assert INIT.Zeros()((2,), dtype=tf.int64).dtype == tf.int64
    assert INIT.Constant(3)((2,), dtype="int32").numpy().tolist() == [3, 3]
    with pytest.raises(ValueError, match="floating point"):
        INIT.RandomNormal()((2,), dtype="int32")


def test_constant_identity():
    np.testing.assert_array_equal(INIT.Constant(0.5)((2, 3)).numpy(), np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(INIT.Identity(gain=3.0)((3, 2)).numpy(), 3.0 * np.eye(3, 2))
    with pytest.raises(ValueError, match=r"^Identity matrix initializer can only be used for 2D matrices\. "
                                         r"Received: shape=\(2, 2, 2\) of rank 3\.$"):
        INIT.Identity()((2, 2, 2))
    assert INIT.IdentityInitializer is INIT.Identity and type(INIT.get("identity")) is INIT.Identity


# -- orthogonal --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (2, 2, 3, 4)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    q = INIT.Orthogonal(gain=2.0, seed=5)(shape).numpy().astype(np.float64)
    assert q.shape == shape
    flat = q.reshape(-1, shape[-1]) / 2.0
    rows, cols = flat.shape
    gram = flat @ flat.T if rows < cols else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5)


def test_orthogonal_needs_two_dimensions():
    with pytest.raises(ValueError, match="must be at least two-dimensional"):
        INIT.Orthogonal()((4,))
    assert type(INIT.get("orthogonal")) is INIT.Orthogonal and INIT.OrthogonalInitializer is INIT.Orthogonal


# -- seeding ------------------------------------------------------------------------------------

def test_a_seeded_initializer_repeats_itself_and_seeds_differ():
    init = INIT.GlorotNormal(seed=7)
    a, b = init((30, 20)).numpy(), init((30, 20)).numpy()
    np.testing.assert_array_equal(a, b)  # Keras 3: the same values at every call
    np.testing.assert_array_equal(a, INIT.GlorotNormal(seed=7)((30, 20)).numpy())
    assert not np.array_equal(a, INIT.GlorotNormal(seed=8)((30, 20)).numpy())


def test_unseeded_initializers_are_reproducible_under_the_global_seed():
    def draw():
        return [INIT.get("glorot_uniform")((10, 10)).numpy(), INIT.HeNormal()((10,)).numpy(),
                INIT.RandomNormal()((3,)).numpy()]
    tf.random.set_seed(123)
    first = draw()
    tf.random.set_seed(123)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # each get() is a new instance with a new seed
    assert not np.array_equal(first[0], INIT.get("glorot_uniform")((10, 10)).numpy())
    tf.random.set_seed(None)


def test_unseeded_instance_fixes_its_seed_at_creation():
    init = INIT.RandomUniform()
    np.testing.assert_array_equal(init((5,)).numpy(), init((5,)).numpy())
    assert init.get_config()["seed"] is None
    assert not np.array_equal(init((50,)).numpy(), INIT.RandomUniform()((50,)).numpy())


def test_bad_seed():
    with pytest.raises(ValueError, match="`seed` argument should be"):
        INIT.RandomNormal(seed="x")


def test_layer_weights_use_the_default_glorot_uniform():
    layer = tf.keras.layers.Layer()
    w = layer.add_weight(shape=(40, 60))
    assert np.abs(w.numpy()).max() <= math.sqrt(6.0 / 100)
    b = layer.add_weight(shape=(3,), initializer="zeros")
    np.testing.assert_array_equal(b.numpy(), np.zeros(3))


# -- lookup, config --------------------------------------------------------------------------------

@pytest.mark.parametrize("init", [
    INIT.Zeros(), INIT.Ones(), INIT.Constant(2.5), INIT.Identity(gain=0.5),
    INIT.RandomNormal(1.0, 2.0, seed=3),
    INIT.RandomUniform(-1.0, 1.0, seed=3), INIT.TruncatedNormal(0.0, 0.1, seed=3),
    INIT.VarianceScaling(2.0, "fan_out", "uniform", seed=3), INIT.GlorotUniform(seed=3), INIT.GlorotNormal(),
    INIT.HeNormal(seed=1), INIT.HeUniform(), INIT.LecunNormal(), INIT.LecunUniform(seed=9),
    INIT.Orthogonal(gain=2.0, seed=4),
])
def test_config_round_trip(init):
    config = init.get_config()
    clone = type(init).from_config(config)
    assert clone.get_config() == config
    again = INIT.deserialize(INIT.serialize(init))
    assert type(again) is type(init) and again.get_config() == config
    if config.get("seed") is not None or not hasattr(init, "seed"):
        np.testing.assert_array_equal(clone((4, 3)).numpy(), init((4, 3)).numpy())


def test_get_accepts_names_dicts_classes_and_callables():
    assert type(INIT.get("GlorotUniform")) is INIT.GlorotUniform
    assert type(INIT.get("glorot_uniform")) is INIT.GlorotUniform
    assert type(INIT.get("uniform")) is INIT.RandomUniform and type(INIT.get("zero")) is INIT.Zeros
    assert type(INIT.get(INIT.HeNormal)) is INIT.HeNormal and INIT.get(None) is None
    init = INIT.Ones()
    assert INIT.get(init) is init
    assert INIT.get({"class_name": "VarianceScaling", "config": {"scale": 2.0}}).scale == 2.0

    def custom(shape, dtype=None):
        return tf.zeros(shape)
    assert INIT.get(custom) is custom
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: nope"):
        INIT.get("nope")
    assert INIT.get("glorot_uniform") is not INIT.get("glorot_uniform")


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="Argument `scale` must be positive float"):
        INIT.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode` argument: fan"):
        INIT.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="Invalid `distribution` argument: cauchy"):
        INIT.VarianceScaling(distribution="cauchy")
    assert INIT.GlorotUniform().get_config() == {"seed": None, "input_axes": None, "output_axes": None}  # 3.15


# -- regularizers ---------------------------------------------------------------------------------

def test_regularizer_values_and_gradients():
    w = tf.Variable([[1.0, -2.0], [3.0, -4.0]])
    assert float(R.L1(0.1)(w)) == pytest.approx(1.0)
    assert float(R.L2(0.1)(w)) == pytest.approx(3.0)
    assert float(R.L1L2(l1=0.1, l2=0.1)(w)) == pytest.approx(4.0)
    assert float(R.L1L2()(w)) == 0.0
    with tf.GradientTape() as tape:
        penalty = R.L1L2(l1=0.5, l2=0.25)(w)
    np.testing.assert_allclose(tape.gradient(penalty, w).numpy(),
                               0.5 * np.sign(w.numpy()) + 0.5 * w.numpy())


def test_orthogonal_regularizer():
    assert float(R.OrthogonalRegularizer(1.0)(tf.eye(4))) == 0.0
    x = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)  # rows at 45 degrees: |cos| = 1/sqrt(2)
    assert float(R.OrthogonalRegularizer(1.0)(x)) == pytest.approx(0.5 * 2 / math.sqrt(2))
    assert float(R.OrthogonalRegularizer(1.0, mode="columns")(x.T)) == pytest.approx(0.5 * 2 / math.sqrt(2))
    with pytest.raises(ValueError, match="must have rank 2"):
        R.OrthogonalRegularizer()(tf.ones([2, 2, 2]))


def test_regularizer_lookup_config_and_errors():
    assert R.get("l1").l1 == 0.01 and R.get("L2").l2 == 0.01 and type(R.get("l1l2")) is R.L1L2
    reg = R.L1L2(l1=0.2, l2=0.3)
    assert R.deserialize(R.serialize(reg)).get_config() == {"l1": 0.2, "l2": 0.3}
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: l3"):
        R.get("l3")
    with pytest.raises(ValueError, match="expected a non-negative float"):
        R.L2(-1.0)


# -- constraints ------------------------------------------------------------------------------------

def test_constraints_project_as_keras():
    w = np.array([[3.0, 0.1], [4.0, 0.1]], np.float32)  # column norms 5 and ~0.14
    norms = np.sqrt((w * w).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(C.MaxNorm(2.0)(w).numpy(), w * np.clip(norms, 0, 2) / (1e-7 + norms),
                               rtol=1e-6)
    np.testing.assert_allclose(C.UnitNorm()(w).numpy(), w / (1e-7 + norms), rtol=1e-6)
    desired = 0.5 * np.clip(norms, 1.0, 2.0) + 0.5 * norms
    np.testing.assert_allclose(C.MinMaxNorm(1.0, 2.0, rate=0.5)(w).numpy(), w * desired / (1e-7 + norms),
                               rtol=1e-6)
    np.testing.assert_array_equal(C.NonNeg()(tf.constant([-1.0, 2.0])).numpy(), [0.0, 2.0])
    np.testing.assert_allclose(C.UnitNorm(axis=1)(w).numpy(),
                               w / (1e-7 + np.sqrt((w * w).sum(axis=1, keepdims=True))), rtol=1e-6)


def test_constraint_lookup_and_config():
    assert type(C.get("max_norm")) is C.MaxNorm and type(C.get("NonNeg")) is C.NonNeg
    c = C.MinMaxNorm(0.5, 3.0, rate=0.2, axis=[0, 1])
    assert C.deserialize(C.serialize(c)).get_config() == c.get_config()
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        C.get("positive")
