"""Tensors, Variables, dtypes, conversion, creation, Python protocol, operators and indexing.

Each behaviour is the one TensorFlow 2 shows for the same code (``import tensorflow as tf``).
"""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError

# -- dtypes -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, name, np_type, floating, integer", [
    (tf.float16, "float16", np.float16, True, False),
    (tf.float32, "float32", np.float32, True, False),
    (tf.float64, "float64", np.float64, True, False),
    (tf.int8, "int8", np.int8, False, True),
    (tf.int16, "int16", np.int16, False, True),
    (tf.int32, "int32", np.int32, False, True),
    (tf.int64, "int64", np.int64, False, True),
    (tf.uint8, "uint8", np.uint8, False, True),
    (tf.bool, "bool", np.bool_, False, False),
    (tf.complex64, "complex64", np.complex64, False, False),
    (tf.complex128, "complex128", np.complex128, False, False),
])
def test_dtype_objects_have_tf_name_numpy_type_and_predicates(dtype, name, np_type, floating, integer):
    assert isinstance(dtype, tf.DType)
    assert dtype.name == name
    assert dtype.as_numpy_dtype is np_type
    assert dtype.is_floating is floating
    assert dtype.is_integer is integer
    assert repr(dtype) == f"tf.{name}"


def test_dtype_predicates_for_complex_and_bool():
    assert tf.complex64.is_complex and not tf.float32.is_complex
    assert tf.bool.is_bool and not tf.int32.is_bool
    assert tf.uint8.is_unsigned and not tf.int8.is_unsigned


def test_dtype_equality_with_numpy_types_and_names():
    assert tf.float32 == np.float32
    assert tf.float32 == np.dtype("float32")
    assert tf.float32 == "float32"
    assert tf.float32 != tf.float64
    assert tf.int32 != np.int64
    assert tf.float32 != "not a dtype"


def test_dtype_aliases_and_as_dtype():
    assert tf.double is tf.float64
    assert tf.half is tf.float16
    assert tf.as_dtype(np.float64) is tf.float64
    assert tf.as_dtype("int32") is tf.int32
    assert tf.as_dtype(tf.int64) is tf.int64
    assert tf.as_dtype(np.dtype(np.bool_)) is tf.bool


def test_as_dtype_takes_tensorflows_datatype_enum_values():
    assert tf.as_dtype(1) is tf.float32 and tf.as_dtype(3) is tf.int32 and tf.as_dtype(np.int64(9)) is tf.int64
    for dtype in (tf.float16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8,
                  tf.uint16, tf.uint32, tf.uint64, tf.bool, tf.complex64, tf.complex128, tf.string):
        assert tf.as_dtype(dtype.as_datatype_enum) is dtype
    assert tf.zeros(1, 1).dtype is tf.float32          # dtype given positionally as the enum, as TF accepts
    with pytest.raises(TypeError, match="enum value 99"):
        tf.as_dtype(99)


def test_dtypes_are_hashable_dict_keys():
    table = {tf.float32: "f", tf.int32: "i"}
    assert table[tf.as_dtype("float32")] == "f"


def test_as_dtype_rejects_unknown_names():
    with pytest.raises(TypeError):
        tf.as_dtype("floaty")


# -- default dtypes as TF ---------------------------------------------------------------

@pytest.mark.parametrize("value, dtype", [
    (1.5, tf.float32),
    ([1.0, 2.0], tf.float32),
    ([1, 2.5], tf.float32),
    (1, tf.int32),
    ([[1, 2], [3, 4]], tf.int32),
    (2 ** 40, tf.int64),
    (True, tf.bool),
    ([True, False], tf.bool),
    (1 + 2j, tf.complex128),
    ("hello", tf.string),
])
def test_python_values_get_tf_default_dtypes(value, dtype):
    assert tf.constant(value).dtype == dtype
    assert tf.convert_to_tensor(value).dtype == dtype


@pytest.mark.parametrize("array, dtype", [
    (np.array([1.0, 2.0]), tf.float64),
    (np.array([1, 2], dtype=np.int64), tf.int64),
    (np.array([1.0], dtype=np.float16), tf.float16),
    (np.array([1], dtype=np.int8), tf.int8),
    (np.array([1.0], dtype=np.float32), tf.float32),
    (np.float64(1.0), tf.float64),
    (np.int64(3), tf.int64),
])
def test_numpy_arrays_and_scalars_keep_their_dtype(array, dtype):
    assert tf.constant(array).dtype == dtype
    assert tf.convert_to_tensor(array).dtype == dtype


def test_constant_with_explicit_dtype_converts_the_value():
    t = tf.constant(1, dtype=tf.float64)
    assert t.dtype == tf.float64 and t.numpy() == 1.0
    assert tf.constant([1.0, 2.0], dtype="float16").dtype == tf.float16
    assert tf.constant(np.array([1.0, 2.0]), dtype=tf.float32).dtype == tf.float32


def test_constant_refuses_to_truncate_a_float_into_an_integer_dtype():
    with pytest.raises(TypeError, match="Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.constant(1.5, dtype=tf.int32)


def test_numbers_and_strings_never_convert_into_each_other():
    with pytest.raises(TypeError, match="Cannot convert 1.0 to EagerTensor of dtype string"):
        tf.constant(["a"]) + 1.0                         # NumPy would give 'a1.0'
    with pytest.raises(TypeError, match="Cannot convert 'b' to EagerTensor of dtype float32"):
        tf.constant(1.0) + "b"
    with pytest.raises(TypeError, match="dtype string"):
        tf.constant(np.array([1, 2]), dtype=tf.string)
    assert bool(tf.reduce_all(tf.constant(["a"]) + "b" == tf.constant(["ab"])))  # strings join, as in TF


def test_constant_shape_reshapes_or_broadcasts_a_scalar():
    np.testing.assert_array_equal(tf.constant([1, 2, 3, 4], shape=[2, 2]).numpy(), [[1, 2], [3, 4]])
    filled = tf.constant(7.0, shape=(2, 3))
    assert filled.shape == (2, 3)
    np.testing.assert_array_equal(filled.numpy(), np.full((2, 3), 7.0, np.float32))


def test_constant_with_incompatible_shape_raises_type_error():
    with pytest.raises(TypeError, match="Eager execution of tf.constant with unsupported shape"):
        tf.constant([1, 2, 3], shape=[2, 2])


def test_constant_does_not_alias_the_callers_array():
    a = np.zeros(3, np.float32)
    t = tf.constant(a)
    a[0] = 5.0
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 0.0])


def test_constant_from_a_list_holding_tensors():
    t = tf.constant([tf.constant(1.0), 2.0])
    assert t.dtype == tf.float32
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_convert_to_tensor_returns_a_tensor_unchanged():
    t = tf.constant([1.0, 2.0])
    assert tf.convert_to_tensor(t) is t
    assert tf.convert_to_tensor(t, dtype=tf.float32) is t


def test_convert_to_tensor_of_a_variable_is_a_plain_tensor_read():
    v = tf.Variable([1.0, 2.0])
    t = tf.convert_to_tensor(v)
    assert type(t) is tf.Tensor
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    v.assign([3.0, 4.0])
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])  # a snapshot, not a view


def test_convert_to_tensor_dtype_mismatch_on_a_tensor_raises_value_error():
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float64"):
        tf.convert_to_tensor(tf.constant(1.0), dtype=tf.float64)


def test_convert_to_tensor_dtype_hint_is_a_preference_for_python_values():
    assert tf.convert_to_tensor(1, dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor(1.5, dtype_hint=tf.int32).dtype == tf.float32  # cannot: default


def test_is_tensor():
    assert tf.is_tensor(tf.constant(1.0))
    assert tf.is_tensor(tf.Variable(1.0))
    assert not tf.is_tensor(np.ones(2))
    assert not tf.is_tensor(1.0)


# -- introspection ----------------------------------------------------------------------

def test_numpy_returns_a_copy_with_the_tensors_dtype():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    arr = t.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    arr[0, 0] = 100.0
    assert t.numpy()[0, 0] == 1.0


def test_numpy_of_a_scalar_is_a_numpy_scalar():
    value = tf.constant(2.5).numpy()
    assert isinstance(value, np.float32) and value == 2.5
    assert isinstance(tf.constant(3).numpy(), np.int32)


def test_shape_is_a_tensor_shape_with_as_list():
    t = tf.zeros([2, 3])
    s = t.shape
    assert isinstance(s, tf.TensorShape)
    assert s.as_list() == [2, 3]
    assert s == (2, 3) and s == [2, 3] and s != (3, 2)
    assert s[0] == 2 and s[-1] == 3
    assert s.rank == 2 and s.num_elements() == 6
    assert s.is_fully_defined()
    assert repr(s) == "TensorShape([2, 3])"
    assert t.get_shape() == s
    assert tf.constant(1.0).shape.as_list() == []


def test_ndim_and_dtype_properties():
    t = tf.ones([2, 3, 4], dtype=tf.float64)
    assert t.ndim == 3
    assert t.dtype is tf.float64
    assert tf.constant(1).ndim == 0


def test_array_protocol_lets_numpy_consume_tensors():
    t = tf.constant([1.0, 2.0, 3.0])
    arr = np.asarray(t)
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, [1.0, 2.0, 3.0])
    as64 = np.array(t, dtype=np.float64)
    assert as64.dtype == np.float64
    assert np.sum(t) == 6.0
    np.testing.assert_allclose(np.sqrt(np.asarray(tf.constant([4.0, 9.0]))), [2.0, 3.0])


def test_format_spec_on_scalar_tensors():
    third = tf.constant(1.0) / 3.0
    assert "{:.5f}".format(third) == "0.33333"
    assert "{:.2f}".format(third * 100) == "33.33"
    assert f"{tf.constant(0.12345):0.2f}" == "0.12"
    assert "{:.3%}".format(tf.constant(0.5)) == "50.000%"
    assert "{:03d}".format(tf.constant(7)) == "007"
    assert "{}".format(tf.constant(7)) == "7"


def test_format_of_a_non_scalar_without_spec_is_the_numpy_text():
    assert f"{tf.constant([1.0, 2.0])}" == "[1. 2.]"


def test_format_spec_on_a_non_scalar_raises_type_error():
    with pytest.raises(TypeError):
        "{:.2f}".format(tf.constant([1.0, 2.0]))


def test_len_is_the_size_of_axis_zero():
    assert len(tf.zeros([3, 2])) == 3
    assert len(tf.constant([1, 2, 3, 4])) == 4


def test_len_of_a_scalar_raises_type_error():
    with pytest.raises(TypeError):
        len(tf.constant(1.0))


def test_iteration_runs_over_axis_zero_yielding_tensors():
    rows = list(tf.constant([[1, 2], [3, 4], [5, 6]]))
    assert len(rows) == 3
    assert all(isinstance(r, tf.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[2].numpy(), [5, 6])
    a, b = tf.constant([10.0, 20.0])
    assert float(a) == 10.0 and float(b) == 20.0


def test_iterating_a_scalar_raises_type_error():
    with pytest.raises(TypeError):
        iter(tf.constant(1.0)).__next__()


def test_bool_of_scalars_drives_python_control_flow():
    assert bool(tf.constant(True)) is True
    assert bool(tf.constant(0.0)) is False
    x = tf.constant(2.0)
    assert ("pos" if x > 0 else "neg") == "pos"


def test_bool_of_a_vector_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tf.constant([True, False]))


def test_python_number_conversions_and_index():
    assert int(tf.constant(3)) == 3
    assert float(tf.constant(2.5)) == 2.5
    assert [10, 20, 30][tf.constant(1)] == 20
    assert range(10)[tf.constant(4)] == 4


def test_tensors_are_unhashable_but_ref_is_a_key():
    t = tf.constant(1.0)
    with pytest.raises(TypeError):
        hash(t)
    table = {t.ref(): "value"}
    assert table[t.ref()] == "value"
    assert t.ref().deref() is t
    assert tf.constant(1.0).ref() not in table


def test_str_and_repr_show_value_shape_and_dtype():
    t = tf.constant([1.0, 2.0])
    assert str(t) == "tf.Tensor([1. 2.], shape=(2,), dtype=float32)"
    r = repr(t)
    assert r.startswith("<tf.Tensor: shape=(2,), dtype=float32, numpy=")
    assert "array([1., 2.], dtype=float32)" in r


# -- creation ---------------------------------------------------------------------------

def test_zeros_and_ones_default_to_float32():
    z, o = tf.zeros([2, 3]), tf.ones((2,))
    assert z.dtype == tf.float32 and o.dtype == tf.float32
    assert z.shape == (2, 3) and o.shape == (2,)
    assert not z.numpy().any() and o.numpy().all()
    assert tf.zeros(3).shape == (3,)
    assert tf.ones([2], dtype=tf.int32).dtype == tf.int32
    assert tf.zeros([], dtype=tf.float64).shape == ()


def test_zeros_like_and_ones_like_keep_shape_and_dtype():
    src = tf.constant([[1, 2, 3]])
    z = tf.zeros_like(src)
    o = tf.ones_like(src)
    assert z.dtype == tf.int32 and z.shape == (1, 3) and not z.numpy().any()
    assert o.dtype == tf.int32 and o.numpy().tolist() == [[1, 1, 1]]
    assert tf.zeros_like(src, dtype=tf.float64).dtype == tf.float64
    assert tf.ones_like(tf.Variable([1.0, 2.0])).dtype == tf.float32
    assert tf.ones_like([1.0, 2.0]).dtype == tf.float32


def test_fill_takes_the_dtype_of_the_value():
    f = tf.fill([2, 2], 3.0)
    assert f.dtype == tf.float32
    np.testing.assert_array_equal(f.numpy(), np.full((2, 2), 3.0))
    assert tf.fill([3], 9).dtype == tf.int32


def test_eye_square_rectangular_batched_and_dtype():
    np.testing.assert_array_equal(tf.eye(2).numpy(), np.eye(2))
    assert tf.eye(2).dtype == tf.float32
    np.testing.assert_array_equal(tf.eye(2, 3).numpy(), np.eye(2, 3))
    batched = tf.eye(2, batch_shape=[3])
    assert batched.shape == (3, 2, 2)
    np.testing.assert_array_equal(batched.numpy()[1], np.eye(2))
    assert tf.eye(3, dtype=tf.float64).dtype == tf.float64


def test_range_like_python_with_tf_dtypes():
    r = tf.range(5)
    assert r.dtype == tf.int32
    np.testing.assert_array_equal(r.numpy(), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(tf.range(1, 10, 3).numpy(), [1, 4, 7])
    np.testing.assert_array_equal(tf.range(10, 0, -3).numpy(), [10, 7, 4, 1])
    f = tf.range(0.0, 1.0, 0.25)
    assert f.dtype == tf.float32
    np.testing.assert_allclose(f.numpy(), [0.0, 0.25, 0.5, 0.75])
    assert tf.range(3.0).dtype == tf.float32
    assert tf.range(5, dtype=tf.float64).dtype == tf.float64


# -- no implicit promotion --------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    (tf.constant(1), tf.constant(1.0)),
    (tf.constant(1.0), tf.constant(1.0, dtype=tf.float64)),
    (tf.constant(1, dtype=tf.int32), tf.constant(1, dtype=tf.int64)),
    (tf.constant([1.0]), tf.constant([1], dtype=tf.int32)),
])
def test_mixed_dtype_tensors_raise_invalid_argument_error(a, b):
    for op in (lambda: a + b, lambda: a * b, lambda: a - b, lambda: tf.add(a, b), lambda: tf.maximum(a, b)):
        with pytest.raises(InvalidArgumentError):
            op()


def test_mixed_dtype_matmul_raises_invalid_argument_error():
    with pytest.raises(InvalidArgumentError):
        tf.ones([2, 2], dtype=tf.int32) @ tf.ones([2, 2])


def test_variable_and_tensor_of_different_float_dtypes_do_not_mix():
    v = tf.Variable(1.0)
    with pytest.raises(InvalidArgumentError):
        v * tf.constant(2.0, dtype=tf.float64)


def test_python_scalars_adopt_the_tensors_dtype():
    assert (tf.constant(1.5) + 1).dtype == tf.float32
    assert (2 * tf.constant(1.5, dtype=tf.float64)).dtype == tf.float64
    assert (tf.constant(3) * 2).dtype == tf.int32
    assert (tf.constant([1, 2], dtype=tf.int64) + 1).dtype == tf.int64


def test_python_float_cannot_join_an_integer_tensor():
    with pytest.raises(TypeError, match="Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.constant(1) + 1.5


def test_true_division_of_integers_gives_float64_as_tf():
    q = tf.constant(7) / 2
    assert q.dtype == tf.float64 and q.numpy() == 3.5


def test_invalid_argument_error_is_a_tf_op_error():
    assert issubclass(InvalidArgumentError, tf.errors.OpError)
    assert tf.errors.InvalidArgumentError is InvalidArgumentError


# -- operators --------------------------------------------------------------------------

@pytest.mark.parametrize("fn, expected", [
    (lambda a, b: a + b, 9.0), (lambda a, b: a - b, 5.0), (lambda a, b: a * b, 14.0),
    (lambda a, b: a / b, 3.5), (lambda a, b: a // b, 3.0), (lambda a, b: a % b, 1.0),
    (lambda a, b: a ** b, 49.0),
])
def test_binary_operators_with_tensors_and_python_numbers(fn, expected):
    a, b = tf.constant(7.0), tf.constant(2.0)
    for x, y in ((a, b), (a, 2.0), (7.0, b)):
        out = fn(x, y)
        assert isinstance(out, tf.Tensor) and out.dtype == tf.float32
        assert out.numpy() == pytest.approx(expected)


def test_operators_with_numpy_operands_return_tensors():
    assert isinstance(np.float32(2.0) * tf.ones([2]), tf.Tensor)
    out = np.ones(2, np.float32) + tf.ones([2])
    assert isinstance(out, tf.Tensor)
    np.testing.assert_array_equal(out.numpy(), [2.0, 2.0])
    out = [1.0, 2.0] + tf.ones([2])
    np.testing.assert_array_equal(out.numpy(), [2.0, 3.0])


def test_matmul_operator_and_reflected_matmul():
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((a @ a).numpy(), np.array([[7, 10], [15, 22]], np.float32))
    r = np.eye(2, dtype=np.float32) @ a
    assert isinstance(r, tf.Tensor)
    np.testing.assert_array_equal(r.numpy(), a.numpy())


def test_unary_negation_and_abs():
    t = tf.constant([-1.5, 2.0])
    np.testing.assert_array_equal((-t).numpy(), [1.5, -2.0])
    np.testing.assert_array_equal(abs(t).numpy(), [1.5, 2.0])
    assert isinstance(abs(t), tf.Tensor)


def test_integer_floordiv_mod_and_pow_stay_integer():
    a = tf.constant([7, -7])
    assert (a // 2).dtype == tf.int32
    np.testing.assert_array_equal((a // 2).numpy(), [3, -4])
    np.testing.assert_array_equal((a % 3).numpy(), [1, 2])
    np.testing.assert_array_equal((tf.constant(2) ** 3).numpy(), 8)


@pytest.mark.parametrize("fn, expected", [
    (lambda x: x < 2.0, [True, False, False]),
    (lambda x: x <= 2.0, [True, True, False]),
    (lambda x: x > 2.0, [False, False, True]),
    (lambda x: x >= 2.0, [False, True, True]),
    (lambda x: x == 2.0, [False, True, False]),
    (lambda x: x != 2.0, [True, False, True]),
])
def test_comparisons_give_elementwise_bool_tensors(fn, expected):
    out = fn(tf.constant([1.0, 2.0, 3.0]))
    assert isinstance(out, tf.Tensor) and out.dtype == tf.bool
    assert out.numpy().tolist() == expected


def test_equality_with_none_is_false():
    assert (tf.constant(1.0) == None) is False
    assert (tf.constant(1.0) != None) is True


def test_logical_operators_on_bool_tensors():
    a, b = tf.constant([True, True, False]), tf.constant([True, False, False])
    assert (a & b).numpy().tolist() == [True, False, False]
    assert (a | b).numpy().tolist() == [True, True, False]
    assert (a ^ b).numpy().tolist() == [False, True, False]
    assert (~a).numpy().tolist() == [False, False, True]


@pytest.mark.parametrize("name, fn, da, db", [
    ("add", lambda a, b: a + b, 1.0, 1.0),
    ("radd", lambda a, b: 2.0 + a, 1.0, None),
    ("sub", lambda a, b: a - b, 1.0, -1.0),
    ("rsub", lambda a, b: 2.0 - a, -1.0, None),
    ("mul", lambda a, b: a * b, 2.0, 3.0),
    ("rmul", lambda a, b: 4.0 * a, 4.0, None),
    ("div", lambda a, b: a / b, 0.5, -0.75),
    ("rdiv", lambda a, b: 1.0 / a, -1.0 / 9.0, None),
    ("floordiv", lambda a, b: a // b, None, None),
    ("mod", lambda a, b: a % b, 1.0, -1.0),
    ("pow", lambda a, b: a ** b, 6.0, 9.0 * np.log(3.0)),
    ("rpow", lambda a, b: 2.0 ** a, 8.0 * np.log(2.0), None),
    ("neg", lambda a, b: -a, -1.0, None),
    ("abs", lambda a, b: abs(-a), 1.0, None),
    ("matmul", lambda a, b: tf.reshape(a, [1, 1]) @ tf.reshape(b, [1, 1]), 2.0, 3.0),
])
def test_operator_gradients(name, fn, da, db):
    a, b = tf.constant(3.0), tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        y = fn(a, b)
    ga, gb = tape.gradient(y, [a, b])
    for got, want in ((ga, da), (gb, db)):
        if want is None:
            assert got is None
        else:
            assert got.dtype == tf.float32
            assert got.numpy() == pytest.approx(want, rel=1e-5)


# -- indexing ---------------------------------------------------------------------------

_X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
_KEYS = [
    1, -1, (0, 2), (1, -1, -2), slice(None, None, -1), (slice(None), slice(1, None), slice(None, None, 2)),
    (Ellipsis, 1), (Ellipsis, slice(None, None, -1)), (None,), (slice(None), None, 1),
    (None, 0, slice(1, None, -2)), (slice(None), None, Ellipsis, slice(None, None, -1)),
    (0, slice(None, None, -2), slice(3, 0, -1)), (-1, -1, -1), slice(5, 10),
]


@pytest.mark.parametrize("key", _KEYS, ids=[repr(k) for k in _KEYS])
def test_indexing_matches_numpy(key):
    got = tf.constant(_X)[key]
    assert isinstance(got, tf.Tensor)
    np.testing.assert_array_equal(got.numpy(), _X[key])
    assert got.shape == _X[key].shape


def test_newaxis_is_none_and_inserts_an_axis():
    assert tf.newaxis is None
    t = tf.zeros([2, 3])
    assert t[tf.newaxis].shape == (1, 2, 3)
    assert t[:, tf.newaxis, :].shape == (2, 1, 3)
    assert t[..., tf.newaxis].shape == (2, 3, 1)
    assert t[tf.newaxis, ..., 1].shape == (1, 2)


def test_indexing_with_scalar_tensors_and_numpy_ints():
    t = tf.constant(_X)
    np.testing.assert_array_equal(t[tf.constant(1)].numpy(), _X[1])
    np.testing.assert_array_equal(t[np.int64(1), tf.constant(2)].numpy(), _X[1, 2])


@pytest.mark.parametrize("key", _KEYS, ids=[repr(k) for k in _KEYS])
def test_indexing_gradient_scatters_the_cotangent_back(key):
    x = tf.constant(_X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x[key]
    g = tape.gradient(y, x)
    expected = np.zeros_like(_X)
    expected[key] = 1.0
    assert g.shape == x.shape and g.dtype == tf.float32
    np.testing.assert_array_equal(g.numpy(), expected)


def test_indexing_gradient_with_weighted_upstream():
    x = tf.constant([1.0, 2.0, 3.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x[::-2] * tf.constant([10.0, 20.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 20.0, 0.0, 10.0])


def test_repeated_elements_from_integer_list_indexing_sum_their_gradients():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x[[0, 0, 2]]
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 0.0, 1.0])


def test_indexing_a_variable_records_a_watched_read():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        y = v[1, ::-1] * tf.constant([1.0, 5.0])
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [[0.0, 0.0], [5.0, 1.0]])


def test_index_out_of_range_raises_invalid_argument_error():
    with pytest.raises(InvalidArgumentError):
        tf.constant([1.0, 2.0])[5]


# -- Variables --------------------------------------------------------------------------

def test_variable_names_take_tf_colon_zero_form():
    assert tf.Variable(1.0, name="w").name == "w:0"
    assert tf.Variable(1.0).name == "Variable:0"
    assert tf.Variable(1.0, name="dense/kernel").name == "dense/kernel:0"


def test_variable_trainable_flag():
    assert tf.Variable(1.0).trainable is True
    assert tf.Variable(1.0, trainable=False).trainable is False


def test_variable_dtype_shape_and_initial_value_forms():
    v = tf.Variable(tf.zeros([2, 3]))
    assert v.shape == (2, 3) and v.shape.as_list() == [2, 3] and v.ndim == 2
    assert v.dtype == tf.float32
    assert tf.Variable(1).dtype == tf.int32
    assert tf.Variable(1, dtype=tf.float32).dtype == tf.float32
    assert tf.Variable(np.ones(2)).dtype == tf.float64
    np.testing.assert_array_equal(tf.Variable(lambda: tf.ones([2])).numpy(), [1.0, 1.0])


def test_variable_without_initial_value_raises():
    with pytest.raises(ValueError):
        tf.Variable()


def test_variable_is_a_tensor_for_ops_and_results_are_plain_tensors():
    v = tf.Variable([1.0, 2.0])
    out = v * 2.0 + v
    assert type(out) is tf.Tensor
    np.testing.assert_array_equal(out.numpy(), [3.0, 6.0])
    assert float(tf.Variable(2.5)) == 2.5
    assert "{:.1f}".format(tf.Variable(2.5)) == "2.5"


def test_variable_assign_family_updates_in_place():
    v = tf.Variable(5.0)
    assert v.assign(2.0).numpy() == 2.0 and v.numpy() == 2.0
    assert v.assign_add(3.0).numpy() == 5.0 and v.numpy() == 5.0
    assert v.assign_sub(1.5).numpy() == 3.5 and v.numpy() == 3.5
    v.assign(tf.constant(1.0))
    assert v.numpy() == 1.0
    v.assign_add(tf.Variable(1.0))
    assert v.numpy() == 2.0


def test_variable_assign_keeps_dtype_and_converts_python_values():
    v = tf.Variable([1.0, 2.0])
    v.assign([3, 4])
    assert v.dtype == tf.float32
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])


def test_variable_assign_with_the_wrong_shape_raises_value_error():
    v = tf.Variable([1.0])
    with pytest.raises(ValueError):
        v.assign([1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [1.0])


def test_variable_numpy_is_a_copy():
    v = tf.Variable([1.0, 2.0])
    v.numpy()[0] = 9.0
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_variable_read_value_and_value_are_tensors():
    v = tf.Variable([1.0, 2.0])
    for read in (v.read_value(), v.value()):
        assert type(read) is tf.Tensor
        np.testing.assert_array_equal(read.numpy(), [1.0, 2.0])


def test_variable_repr_names_it():
    r = repr(tf.Variable([1.0], name="k"))
    assert r.startswith("<tf.Variable 'k:0' shape=(1,) dtype=float32, numpy=")


@pytest.mark.parametrize("read", [
    lambda v: v.read_value(), lambda v: v.value(), lambda v: tf.convert_to_tensor(v),
    lambda v: tf.identity(v), lambda v: v + 0.0, lambda v: v[...],
])
def test_variable_reads_go_through_the_tape(read):
    v = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = read(v) * read(v)
    assert tape.gradient(y, v).numpy() == pytest.approx(6.0)


def test_variable_gradient_sums_over_all_reads():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v + v * v + tf.identity(v)
    assert tape.gradient(y, v).numpy() == pytest.approx(6.0)


def test_tape_keeps_the_value_a_variable_had_when_read():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * w
        w.assign(10.0)
    assert tape.gradient(y, w).numpy() == pytest.approx(4.0)
    assert w.numpy() == 10.0


def test_reading_after_assign_add_blocks_gradient_to_what_was_assigned():
    # autodiff guide: x1.assign_add(x0); y = x1**2 -> dy/dx0 is None
    x0 = tf.Variable(3.0)
    x1 = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        x1.assign_add(x0)
        y = x1 ** 2
    assert tape.gradient(y, x0) is None


def test_replacing_a_variable_by_a_tensor_loses_its_gradient():
    # autodiff guide: `x = x + 1` instead of `x.assign_add(1)`
    x = tf.Variable(2.0)
    results = []
    for _ in range(2):
        with tf.GradientTape() as tape:
            y = x + 1
        results.append((type(x), tape.gradient(y, x)))
        x = x + 1
    assert results[0][0] is tf.Variable and results[0][1].numpy() == 1.0
    assert results[1][0] is tf.Tensor and results[1][1] is None


def test_tensors_are_immutable():
    t = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError):
        t[0] = 5.0
    assert not hasattr(t, "assign")
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_reading_a_variable_after_assign_inside_the_tape_uses_the_new_value():
    v = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        v.assign(3.0)
        y = v * v
    assert y.numpy() == 9.0
    assert tape.gradient(y, v).numpy() == pytest.approx(6.0)


def test_set_shape_checks_and_refines():
    # TF 2.21's behaviour and messages
    t = tf.constant([[1.0, 2.0]])
    for ok in ([1, 2], [None, 2], None, tf.TensorShape([1, None])):
        t.set_shape(ok)
    for bad in ([2, 2], [1, 2, 3], [None]):
        with pytest.raises(ValueError, match=r"Tensor's shape \(1, 2\) is not compatible with supplied shape"):
            t.set_shape(bad)
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, None, None])])
    def f(x):
        x.set_shape([None, 3, None])
        seen.append(tuple(x.shape))
        with pytest.raises(ValueError, match=r"Dimension 1 in both shapes must be equal, but are 3 and 4\. "
                                             r"Shapes are \[\?,3,\?\] and \[\?,4,\?\]\."):
            x.set_shape([None, 4, None])
        return x * 2.0
    assert f(tf.ones([1, 3, 2])).numpy().tolist() == [[[2.0, 2.0]] * 3]
    assert seen == [(None, 3, None)]
