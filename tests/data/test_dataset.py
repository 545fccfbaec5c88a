"""tf.data.Dataset: sources, transformations, iteration and introspection, with TF's semantics."""
from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError, OutOfRangeError

Dataset = tf.data.Dataset
Point = collections.namedtuple("Point", "x y")


@pytest.fixture(autouse=True)
def no_global_seed():
    tf.random.set_seed(None)
    yield
    tf.random.set_seed(None)


def ints(ds):
    """A dataset of scalars (or of 1-D batches) as Python ints (lists)."""
    return [x.numpy().tolist() for x in ds]


# -- sources ----------------------------------------------------------------------------------

def test_from_tensor_slices_nests_keep_their_structure():
    x, y = np.arange(6.0).reshape(3, 2), np.array([0, 1, 2])
    (first_x, first_y), = list(Dataset.from_tensor_slices((x, y)).take(1))
    assert isinstance(first_x, tf.Tensor) and first_x.numpy().tolist() == [0.0, 1.0]
    assert first_x.dtype == tf.float64 and first_y.dtype == tf.int64  # NumPy dtypes are kept

    element = next(iter(Dataset.from_tensor_slices({"b": y, "a": x})))
    assert list(element) == ["b", "a"] and int(element["b"]) == 0

    point = next(iter(Dataset.from_tensor_slices(Point(x, y))))
    assert type(point) is Point and int(point.y) == 0

    single = Dataset.from_tensor_slices(x)
    assert [e.shape for e in single] == [(2,)] * 3


def test_from_tensor_slices_python_values_and_lists():
    # Python floats -> float32, ints -> int32; a list is one tensor, not a tuple of components
    ds = Dataset.from_tensor_slices([[1.0, 2.0], [3.0, 4.0]])
    assert ds.element_spec == tf.data.TensorSpec((2,), tf.float32)
    assert next(iter(Dataset.from_tensor_slices([1, 2]))).dtype == tf.int32
    ds = Dataset.from_tensor_slices(([1, 2], [[1.5], [2.5]]))
    assert ds.element_spec == (tf.data.TensorSpec((), tf.int32), tf.data.TensorSpec((1,), tf.float32))


def test_from_tensor_slices_copies_its_input():
    data = np.arange(3)
    ds = Dataset.from_tensor_slices(data)
    data[:] = 7
    assert ints(ds) == [0, 1, 2]


def test_from_tensor_slices_errors():
    with pytest.raises(ValueError, match=r"Dimensions \[3, 2\]"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(2)))
    with pytest.raises(ValueError, match="scalar"):
        Dataset.from_tensor_slices((np.zeros(3), 1.0))


def test_from_tensors_is_one_element():
    ds = Dataset.from_tensors({"x": [1, 2], "y": 3.0})
    assert len(ds) == 1
    element, = list(ds)
    assert element["x"].shape == (2,) and element["y"].dtype == tf.float32


def test_range():
    assert ints(Dataset.range(5)) == [0, 1, 2, 3, 4]
    assert ints(Dataset.range(2, 10, 3)) == [2, 5, 8]
    assert ints(Dataset.range(5, 0, -2)) == [5, 3, 1]
    ds = Dataset.range(3, output_type=tf.int32)
    assert ds.element_spec.dtype == tf.int32 and next(iter(ds)).dtype == tf.int32
    assert Dataset.range(4).element_spec == tf.data.TensorSpec((), tf.int64)
    assert len(Dataset.range(10**12)) == 10**12  # lazy: nothing is materialized


def test_from_generator_signature_and_fresh_generator_per_iteration():
    calls = []

    def gen(n):
        calls.append(n)
        for i in range(n):
            yield {"ids": np.arange(i), "label": i % 2}

    ds = Dataset.from_generator(gen, args=(3,), output_signature={
        "ids": tf.data.TensorSpec((None,), tf.int32), "label": tf.data.TensorSpec((), tf.int64)})
    assert [e["ids"].numpy().tolist() for e in ds] == [[], [0], [0, 1]]
    assert [e["label"].dtype for e in ds] == [tf.int64] * 3  # converted to the declared dtype
    assert len(calls) == 2 and isinstance(calls[0], (int, np.integer))
    assert ds.element_spec["ids"].shape.as_list() == [None]
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY


def test_from_generator_output_types_form():
    ds = Dataset.from_generator(lambda: iter([(1, [1.0]), (2, [2.0])]), output_types=(tf.int64, tf.float32),
                                output_shapes=((), (1,)))
    assert ds.element_spec == (tf.data.TensorSpec((), tf.int64), tf.data.TensorSpec((1,), tf.float32))
    ds = Dataset.from_generator(lambda: iter([1, 2]), output_types=tf.int32)
    assert ds.element_spec.shape.rank is None and ints(ds) == [1, 2]


@pytest.mark.parametrize("kwargs, match", [
    ({}, "output_signature"),
    ({"output_types": tf.int32, "output_signature": tf.data.TensorSpec(())}, "not both"),
    ({"output_signature": (tf.int32,)}, "TensorSpec"),
])
def test_from_generator_argument_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        Dataset.from_generator(lambda: iter(()), **kwargs)
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator([1, 2], output_types=tf.int32)


@pytest.mark.parametrize("yielded, match", [
    ((1, 2, 3), "structure"),
    ((1, np.zeros(3)), "shape"),
    ((1, "text"), "convertible"),
])
def test_from_generator_checks_what_is_yielded(yielded, match):
    ds = Dataset.from_generator(lambda: iter([yielded]), output_signature=(
        tf.data.TensorSpec((), tf.int32), tf.data.TensorSpec((2,), tf.float32)))
    with pytest.raises(TypeError, match=match):
        list(ds)


def test_zip():
    a, b = Dataset.range(3), Dataset.range(10, 20)
    assert [(int(x), int(y)) for x, y in Dataset.zip(a, b)] == [(0, 10), (1, 11), (2, 12)]
    nested = Dataset.zip((a, {"b": b, "c": Dataset.range(5).repeat()}))
    first = next(iter(nested))
    assert int(first[0]) == 0 and int(first[1]["b"]) == 10
    assert len(nested) == 3
    assert nested.element_spec[1]["c"] == tf.data.TensorSpec((), tf.int64)
    assert int(Dataset.zip(a.repeat(), b.repeat()).cardinality()) == tf.data.INFINITE_CARDINALITY
    assert int(Dataset.zip(a, a.filter(lambda x: True)).cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="tuple"):
        Dataset.zip([a, b])


# -- map and filter ----------------------------------------------------------------------------

def test_map_unpacks_tuples_only():
    pairs = Dataset.from_tensor_slices((np.arange(3), np.arange(3) * 10))
    assert ints(pairs.map(lambda x, y: x + y)) == [0, 11, 22]
    dicts = Dataset.from_tensor_slices({"a": np.arange(3)})
    assert ints(dicts.map(lambda d: d["a"] * 2)) == [0, 2, 4]
    points = Dataset.from_tensor_slices(Point(np.arange(3), np.arange(3)))
    assert ints(points.map(lambda p: p.x - p.y)) == [0, 0, 0]  # a namedtuple is one argument, as in TF

    def check_types(x, y):
        assert isinstance(x, tf.Tensor) and isinstance(y, tf.Tensor)
        return x
    assert len(list(pairs.map(check_types))) == 3


def test_map_return_values_make_the_new_structure():
    ds = Dataset.range(2).map(lambda x: [x, np.float64(1.5), 2.5, 3])  # a list is a tuple of components
    x, a, b, c = next(iter(ds))
    assert (x.dtype, a.dtype, b.dtype, c.dtype) == (tf.int64, tf.float64, tf.float32, tf.int32)
    ds = Dataset.range(2).map(lambda x: {"x": x, "square": np.square(x.numpy())})
    scalar = tf.data.TensorSpec((), tf.int64)
    assert ds.element_spec == {"x": scalar, "square": scalar}
    with pytest.raises(TypeError, match="returned None"):
        list(Dataset.range(2).map(lambda x: None))


def test_map_error_names_the_transformation_and_element():
    ds = Dataset.from_tensor_slices((np.zeros((3, 2), np.float32), np.arange(3))).map(lambda x: x)
    with pytest.raises(TypeError) as info:
        list(ds)
    note = "\n".join(info.value.__notes__)
    assert "Dataset.map(" in note and "element 0" in note and "2 positional arguments" in note
    assert "TensorSpec(shape=(2,), dtype=tf.float32" in note

    def fails_at_two(x):
        if int(x) == 2:
            raise KeyError("boom")
        return x
    with pytest.raises(KeyError) as info:  # the user's exception type is kept
        list(Dataset.range(5).map(fails_at_two))
    assert "element 2" in info.value.__notes__[0] and "fails_at_two" in info.value.__notes__[0]


def test_map_element_spec_is_learnt_from_the_first_element():
    ds = Dataset.range(10).batch(4).map(lambda x: (tf.reshape(x, [-1, 1]), tf.zeros([3])))
    # the batch dim is unknown in the input spec, so it is unknown in the output spec too
    assert ds.element_spec == (tf.data.TensorSpec((None, 1), tf.int64), tf.data.TensorSpec((3,), tf.float32))
    assert ds.batch(2).element_spec[1].shape.as_list() == [None, 3]


def test_element_spec_look_does_not_use_up_a_shuffle_order():
    tf.random.set_seed(5)
    ds = Dataset.range(20).shuffle(20).map(lambda x: x * 2)
    _ = ds.element_spec
    first = ints(ds)
    tf.random.set_seed(5)
    assert ints(Dataset.range(20).shuffle(20).map(lambda x: x * 2)) == first


def test_map_functions_are_not_recorded_on_tapes():
    scale = tf.Variable(3.0)
    ds = Dataset.from_tensor_slices(np.ones(2, np.float32)).map(lambda x: x * scale)
    with tf.GradientTape() as tape:
        total = tf.add_n(list(ds))
    assert tape.gradient(total, scale) is None  # TF: pipeline values are constants to the model


def test_deterministic_without_parallel_calls_warns():
    with pytest.warns(UserWarning, match="no effect unless the `num_parallel_calls`"):
        Dataset.range(3).map(lambda x: x, deterministic=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.range(3).map(lambda x: x, num_parallel_calls=2, deterministic=True)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        Dataset.range(3).map(lambda x: x, num_parallel_calls=0)


def test_filter():
    assert ints(Dataset.range(10).filter(lambda x: x % 2 == 0)) == [0, 2, 4, 6, 8]
    pairs = Dataset.from_tensor_slices((np.arange(4), np.array([1, 0, 1, 0])))
    assert [int(x) for x, _ in pairs.filter(lambda x, keep: keep == 1)] == [0, 2]
    assert ints(Dataset.range(3).filter(lambda x: bool(x > 0))) == [1, 2]
    with pytest.raises(TypeError, match="scalar bool"):
        list(Dataset.range(3).filter(lambda x: x))


# -- shuffle ----------------------------------------------------------------------------------

def test_shuffle_buffer_bounds_how_far_elements_move():
    # TF's guide: the first batch of shuffle(100).batch(20) over range(1000) has no index > 120
    for seed in range(5):
        first = next(iter(Dataset.range(1000).shuffle(100, seed=seed).batch(20))).numpy()
        assert first.max() < 120
    ds = Dataset.range(50).shuffle(10, seed=1)
    assert sorted(ints(ds)) == list(range(50))
    assert all(x < 10 + i for i, x in enumerate(ints(ds)))


def test_shuffle_reshuffles_each_iteration_unless_told_not_to():
    ds = Dataset.range(30).shuffle(30)
    orders = [ints(ds) for _ in range(3)]
    assert orders[0] != orders[1] != orders[2] and sorted(orders[0]) == list(range(30))
    fixed = Dataset.range(30).shuffle(30, reshuffle_each_iteration=False)
    assert ints(fixed) == ints(fixed) != list(range(30))
    epochs = [ints(x) for x in (ds.take(5), ds.take(5))]
    assert epochs[0] != epochs[1]


def test_shuffle_is_reproducible_with_seeds():
    def two_epochs(seed=None):
        ds = Dataset.range(40).shuffle(40, seed=seed)
        return ints(ds), ints(ds)

    tf.random.set_seed(42)
    first = two_epochs()
    tf.random.set_seed(42)
    assert two_epochs() == first and first[0] != first[1]
    tf.random.set_seed(None)
    assert two_epochs(seed=3) == two_epochs(seed=3)
    assert two_epochs(seed=3) != two_epochs(seed=4)


def test_shuffle_before_repeat_keeps_epochs_whole_and_after_mixes_them():
    per_epoch = ints(Dataset.range(10).shuffle(10, seed=0).repeat(3))
    assert all(sorted(per_epoch[i:i + 10]) == list(range(10)) for i in (0, 10, 20))
    assert per_epoch[:10] != per_epoch[10:20]
    mixed = ints(Dataset.range(10).repeat(3).shuffle(30, seed=0))
    assert any(sorted(mixed[i:i + 10]) != list(range(10)) for i in (0, 10, 20))


# -- batching ---------------------------------------------------------------------------------

def test_batch_remainder_spec_and_cardinality():
    ds = Dataset.range(10).batch(4)
    assert ints(ds) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert ds.element_spec.shape.as_list() == [None] and len(ds) == 3
    dropped = Dataset.range(10).batch(4, drop_remainder=True)
    assert ints(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert dropped.element_spec.shape.as_list() == [4] and len(dropped) == 2
    pairs = Dataset.from_tensor_slices((np.zeros((5, 3), np.float32), np.arange(5))).batch(2)
    assert pairs.element_spec == (tf.data.TensorSpec((None, 3), tf.float32),
                                  tf.data.TensorSpec((None,), tf.int64))
    assert [(x.shape, y.shape) for x, y in pairs][-1] == ((1, 3), (1,))


def test_repeat_before_batch_straddles_epochs():
    assert ints(Dataset.range(5).repeat(2).batch(3)) == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4]]
    assert ints(Dataset.range(5).batch(3).repeat(2)) == [[0, 1, 2], [3, 4], [0, 1, 2], [3, 4]]


def test_batch_error_names_component_and_element():
    ds = Dataset.from_generator(lambda: iter([(np.zeros(3), 1), (np.zeros(3), 2), (np.zeros(4), 3)]),
                                output_signature=(tf.data.TensorSpec((None,), tf.float64),
                                                  tf.data.TensorSpec((), tf.int32)))
    with pytest.raises(InvalidArgumentError) as info:
        list(ds.batch(3))
    assert str(info.value) == ("Cannot batch tensors with different shapes in component 0. First element had "
                               "shape [3] and element 2 had shape [4].")
    assert "Dataset.batch(3)" in info.value.__notes__[0] and "TensorSpec" in info.value.__notes__[0]
    mixed = Dataset.range(2).map(lambda x: 1.5 if int(x) else np.float64(1.5))
    with pytest.raises(InvalidArgumentError, match="different dtypes in component 0"):
        list(mixed.batch(2))


def test_unbatch():
    ds = Dataset.from_tensor_slices((np.arange(6).reshape(3, 2), np.arange(3))).batch(2).unbatch()
    assert [(x.numpy().tolist(), int(y)) for x, y in ds] == [([0, 1], 0), ([2, 3], 1), ([4, 5], 2)]
    assert ds.element_spec[0].shape.as_list() == [2]
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY  # the batch dim is not static
    assert len(Dataset.range(6).batch(2, drop_remainder=True).unbatch()) == 6
    bad = Dataset.from_tensors((np.zeros(2), np.zeros(3)))
    with pytest.raises(InvalidArgumentError, match="same first dimension"):
        list(bad.unbatch())


def test_padded_batch():
    ds = Dataset.range(1, 5).map(lambda n: tf.fill([n], n))
    assert ints(ds.padded_batch(2)) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert ds.padded_batch(2).element_spec.shape.as_list() == [None, None]
    fixed = ds.padded_batch(2, padded_shapes=[5], padding_values=np.int64(-1), drop_remainder=True)
    assert ints(fixed)[0] == [[1, -1, -1, -1, -1], [2, 2, -1, -1, -1]]
    assert fixed.element_spec.shape.as_list() == [2, 5]
    with pytest.raises(InvalidArgumentError, match="smaller size"):
        list(ds.padded_batch(4, padded_shapes=[2]))

    pairs = ds.map(lambda x: (x, tf.shape(x)[0]))
    batch = next(iter(pairs.padded_batch(3, padded_shapes=([None], []), padding_values=(np.int64(9), None))))
    assert batch[0].numpy().tolist() == [[1, 9, 9], [2, 2, 9], [3, 3, 3]]
    assert batch[1].numpy().tolist() == [1, 2, 3]

    words = Dataset.from_generator(lambda: iter([["a"], ["b", "c"]]),
                                   output_signature=tf.data.TensorSpec((None,), tf.string))
    assert next(iter(words.padded_batch(2))).numpy().tolist() == [[b"a", b""], [b"b", b"c"]]  # bytes, as TF


# -- repeat, take, skip -----------------------------------------------------------------------

def test_repeat_take_skip():
    assert ints(Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert ints(Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert ints(Dataset.range(0).repeat()) == []  # repeating nothing forever ends
    assert ints(Dataset.range(3).repeat(0)) == []
    assert ints(Dataset.range(5).take(-1)) == ints(Dataset.range(5).take(10)) == [0, 1, 2, 3, 4]
    assert ints(Dataset.range(5).skip(2)) == [2, 3, 4]
    assert ints(Dataset.range(5).skip(-1)) == ints(Dataset.range(5).skip(9)) == []


@pytest.mark.parametrize("make, expected", [
    (lambda: Dataset.range(5).repeat(3), 15),
    (lambda: Dataset.range(5).repeat(), tf.data.INFINITE_CARDINALITY),
    (lambda: Dataset.range(0).repeat(), 0),
    (lambda: Dataset.range(5).repeat().take(4), 4),
    (lambda: Dataset.range(5).take(9), 5),
    (lambda: Dataset.range(5).skip(2), 3),
    (lambda: Dataset.range(5).skip(-1), 0),
    (lambda: Dataset.range(5).repeat().skip(2), tf.data.INFINITE_CARDINALITY),
    (lambda: Dataset.range(5).filter(lambda x: True).take(2), tf.data.UNKNOWN_CARDINALITY),
    (lambda: Dataset.range(5).map(lambda x: x).shuffle(2).prefetch(1).cache().enumerate(), 5),
])
def test_cardinality(make, expected):
    assert int(make().cardinality()) == expected
    assert int(tf.data.experimental.cardinality(make())) == expected


def test_len_and_bool():
    assert len(Dataset.range(7).batch(2)) == 4
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(2).repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(Dataset.range(2).filter(lambda x: True))
    assert Dataset.range(2).repeat() and Dataset.range(0)


# -- iteration and the rest -------------------------------------------------------------------

def test_each_loop_is_a_new_iterator():
    ds = Dataset.range(3)
    it = iter(ds)
    assert int(next(it)) == 0 and ints(ds) == [0, 1, 2] and int(next(it)) == 1
    assert int(it.get_next()) == 2
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(OutOfRangeError):
        it.get_next()
    assert it.element_spec == ds.element_spec


def test_as_numpy_iterator():
    ds = Dataset.from_tensor_slices({"x": np.arange(4.0).reshape(2, 2), "n": np.arange(2)})
    values = list(ds.as_numpy_iterator())
    assert isinstance(values[0]["x"], np.ndarray) and isinstance(values[0]["n"], np.integer)
    values[0]["x"][:] = -1  # copies: changing them does not change the dataset
    assert next(ds.as_numpy_iterator())["x"].tolist() == [0.0, 1.0]


def test_enumerate_and_reduce():
    ds = Dataset.from_tensor_slices((np.arange(3), np.arange(3) * 2)).enumerate(start=5)
    assert [(int(i), int(x), int(y)) for i, (x, y) in ds] == [(5, 0, 0), (6, 1, 2), (7, 2, 4)]
    assert ds.element_spec[0] == tf.data.TensorSpec((), tf.int64)
    total = Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)
    assert int(total) == 10 and total.dtype == tf.int64
    stats = Dataset.range(4).reduce({"n": np.int64(0), "sum": np.int64(0)},
                                    lambda s, x: {"n": s["n"] + 1, "sum": s["sum"] + x})
    assert (int(stats["n"]), int(stats["sum"])) == (4, 6)
    with pytest.raises(TypeError, match="structure of the initial state"):
        Dataset.range(2).reduce(np.int64(0), lambda s, x: (s, x))


def test_repr_shows_the_element_spec():
    assert repr(Dataset.range(3).batch(2)) == \
        "<BatchDataset element_spec=TensorSpec(shape=(None,), dtype=tf.int64, name=None)>"
    assert "element_spec=<unknown>" in repr(Dataset.range(0).map(lambda x: x))


def test_tensor_spec():
    spec = tf.data.TensorSpec([None, 3], tf.float32, name="x")
    assert spec == tf.data.TensorSpec((None, 3), "float32", "x") != tf.data.TensorSpec((None, 3))
    assert hash(spec) == hash(tf.data.TensorSpec([None, 3], tf.float32, name="x"))
    assert spec.is_compatible_with(tf.zeros([2, 3]))
    assert not spec.is_compatible_with(tf.zeros([2, 3], tf.int32))
    assert repr(tf.data.TensorSpec(None, tf.int32)) == \
        "TensorSpec(shape=<unknown>, dtype=tf.int32, name=None)"
    assert tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE == -1


def test_shared_arrays_cannot_be_changed_through_the_tensors_handed_out():
    for ds in (Dataset.from_tensor_slices(np.arange(3)), Dataset.from_tensors(np.arange(3)),
               Dataset.range(3).map(lambda x: np.array([x.numpy()])).cache()):
        list(ds)  # fills the cache
        with pytest.raises(ValueError, match="read-only"):
            np.asarray(next(iter(ds)))[...] = 9
        assert next(iter(ds)).numpy().ravel()[0] == 0
