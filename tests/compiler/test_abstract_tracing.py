"""Tracing sees shapes and dtypes, never values: nothing can be frozen, and TF's counts hold.

The Python body of a tf.function runs exactly once per TensorFlow trace; a program traced with
None dims serves every shape of its signature; reading a traced value raises TensorFlow's error.
"""
import numpy as np
import pytest

import tapegrad as tf


def runs_counter():
    runs = []
    return runs, lambda: runs.append(1)


# -- no value can be frozen ------------------------------------------------------------------------

@pytest.mark.parametrize("make, args", [
    (lambda x: tf.fill([2], x), [3.0, -1.5]),
    (lambda a: tf.linspace(a, 1.0, 3), [0.0, -2.0]),
    (lambda c: tf.where(c > 0.0), [[1.0, -1.0, 2.0], [-1.0, -1.0, 3.0]]),
    (lambda n: tf.range(n), [3, 5]),
    (lambda x: tf.zeros([tf.shape(x)[0] + 1]) + tf.reduce_sum(x), [[1.0, 2.0], [4.0, 5.0, 6.0]]),
    (lambda m: tf.boolean_mask(tf.constant([1, 2, 3]), m), [[True, False, True], [False, True, True]]),
], ids=["fill", "linspace", "where", "range", "shape_arithmetic", "boolean_mask"])
def test_results_follow_each_calls_values(make, args):
    f = tf.function(make, reduce_retracing=True)
    for a in args:
        np.testing.assert_array_equal(f(tf.constant(a)).numpy(), make(tf.constant(a)).numpy())


@pytest.mark.parametrize("read, error, text", [
    (lambda x: x.numpy(), AttributeError, "has no attribute 'numpy'"),
    (lambda x: float(x), TypeError, "as a Python float"),
    (lambda x: int(x), TypeError, "as a Python int"),
    (lambda x: np.asarray(x), NotImplementedError, "Cannot convert a symbolic tf.Tensor"),
    (lambda x: len(x), TypeError, "len is not well defined for symbolic Tensors"),
    (lambda x: bool(x > 0), tf.errors.OperatorNotAllowedInGraphError, "as a Python `bool` is not allowed"),
    (lambda x: [v for v in x], tf.errors.OperatorNotAllowedInGraphError, "Iterating over a symbolic"),
], ids=["numpy", "float", "int", "asarray", "len", "bool", "iter"])
def test_reading_a_traced_value_raises_tensorflows_error(read, error, text):
    f = tf.function(lambda x: read(x), autograph=False)
    with pytest.raises(error, match=text):
        f(tf.constant([1.0, 2.0]))


def test_reading_a_variable_inside_a_trace_raises():
    v = tf.Variable(1.0)
    with pytest.raises(NotImplementedError, match="only available when eager execution is enabled"):
        tf.function(lambda: v.numpy())()
    with pytest.raises(TypeError, match="as a Python float"):
        tf.function(lambda: float(v), autograph=False)()   # (AutoGraph makes float() a cast, as TF's)


def test_library_code_that_reads_a_value_fails_loudly_not_silently():
    def frozen(x):
        return tf.constant(np.asarray(x) * 2)   # a value read while tracing: the old way to freeze it
    with pytest.raises(NotImplementedError, match="Cannot convert a symbolic tf.Tensor"):
        tf.function(frozen)(tf.constant([1.0]))


# -- TF's counts: one Python run per trace ---------------------------------------------------------

def test_input_signature_with_a_none_dim_runs_python_once_for_every_shape():
    runs, run = runs_counter()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def f(x):
        run()
        return tf.reduce_sum(x) * 2.0

    for n in range(1, 6):
        assert float(f(tf.ones([n]))) == 2.0 * n
    assert len(runs) == 1 and f.experimental_get_tracing_count() == 1


def test_reduce_retracing_over_six_shapes_runs_python_twice():
    runs, run = runs_counter()

    @tf.function(reduce_retracing=True)
    def f(x):
        run()
        return tf.reduce_mean(x) + tf.cast(tf.shape(x)[0], tf.float32)

    for n in range(1, 7):
        x = np.arange(n, dtype=np.float32)
        assert float(f(tf.constant(x))) == pytest.approx(x.mean() + n)
    assert len(runs) == 2 == f.experimental_get_tracing_count()


def test_tracing_count_equals_python_runs_across_dtypes_and_python_values():
    runs, run = runs_counter()

    @tf.function
    def f(x, scale):
        run()
        return x * scale

    f(tf.constant(1.0), 2.0)
    f(tf.constant(2.0), 2.0)
    f(tf.constant(1.0), 3.0)
    f(tf.constant([1.0, 2.0]), 3.0)
    f(tf.constant(1), 2)
    assert len(runs) == f.experimental_get_tracing_count() == 4


# -- symbolic shapes where users see them ----------------------------------------------------------

def test_structured_outputs_output_shapes_and_the_printed_graph_show_none_dims():
    @tf.function
    def f(x):
        return {"flat": tf.reshape(x, [-1]), "rows": tf.reduce_sum(x, axis=1)}

    concrete = f.get_concrete_function(tf.TensorSpec([None, 3]))
    assert concrete.output_shapes == {"flat": tf.TensorShape([None]), "rows": tf.TensorShape([None])}
    assert concrete.structured_outputs["rows"].shape == tf.TensorShape([None])
    text = str(concrete.graph)
    assert "x:f32[None, 3]" in text and "reshape:f32[None]" in text and "reduce_sum:f32[None]" in text
    for n in (1, 4):
        out = concrete(tf.ones([n, 3]))
        assert out["flat"].shape == (3 * n,) and out["rows"].shape == (n,)


def test_a_size_from_tf_shape_is_read_when_the_program_runs():
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def f(x):
        batch = tf.shape(x)[0]
        return tf.reshape(x, [batch, -1, 1]), tf.zeros([batch * 2, 3])

    concrete = f.get_concrete_function()
    assert "x.shape[0]" in str(concrete.graph)     # the size as the program reads it
    for shape in ((2, 3), (5, 1)):
        a, b = f(tf.ones(shape))
        assert a.shape == shape + (1,) and b.shape == (shape[0] * 2, 3)


def test_inside_a_trace_a_relaxed_dim_is_none():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def f(x):
        seen.append(x.shape)
        return x

    f(tf.ones([3, 2]))
    assert seen == [tf.TensorShape([None, 2])]


# -- pruning, constants, variables created while tracing --------------------------------------------

def test_an_unused_failing_op_is_pruned_as_in_tensorflow():
    @tf.function
    def gather_unused(x):
        tf.gather(x, [1])       # out of range for a length-1 x: TF prunes it, so it never runs
        return x

    np.testing.assert_array_equal(gather_unused(tf.constant([0.0])).numpy(), [0.0])


def test_a_python_number_returned_is_a_tensor():
    @tf.function
    def f(x):
        return x, 1, 2.5, None

    x, one, half, none = f(tf.constant(1.0))
    assert isinstance(one, tf.Tensor) and one.dtype == tf.int32 and int(one) == 1
    assert isinstance(half, tf.Tensor) and half.dtype == tf.float32 and float(half) == 2.5
    assert none is None


def test_a_variable_made_on_the_first_trace_from_a_random_initializer():
    holder = {}

    @tf.function
    def f(x):
        if "w" not in holder:
            holder["w"] = tf.Variable(tf.random.normal([3]))   # lifted out of the trace, as TF's
        return x * holder["w"]

    first = f(tf.ones([3])).numpy()
    np.testing.assert_array_equal(f(tf.ones([3])).numpy(), first)
    np.testing.assert_array_equal(first, holder["w"].numpy())


def test_init_scope_runs_eagerly_inside_a_trace():
    class Counter(tf.Module if hasattr(tf, "Module") else object):
        def __init__(self):
            self.v = tf.Variable(0)
            self.counter = 0

        @tf.function
        def __call__(self):
            if self.counter == 0:
                with tf.init_scope():       # TF's guide: lifted out of the trace, runs once
                    self.counter += 1
                    self.v.assign_add(1)
            return self.v.read_value()

    m = Counter()
    assert [int(m()) for _ in range(3)] == [1, 1, 1]


# -- one trace of a value-dependent loop --------------------------------------------------------------

def test_a_python_while_on_tensors_traces_once_for_every_trip_count():
    runs, run = runs_counter()

    def loop(n):
        run()
        i, s = tf.constant(0), tf.constant(0.0)
        while i < n:
            s = s + tf.cast(i, tf.float32)
            i = i + 1
        return s

    compiled = tf.function(loop)
    for n in range(0, 300, 7):
        assert float(compiled(tf.constant(n))) == float(sum(range(n)))
    assert compiled.experimental_get_tracing_count() == 1
    assert len(runs) == 1
