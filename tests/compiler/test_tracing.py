"""When tf.function traces: the counts TensorFlow 2.21 reports for the guide's and spec §2's examples.

Every expected number here was observed with TensorFlow 2.21 (tensorflow-cpu) running the same code
with ``import tensorflow as tf``; comments quote what TensorFlow printed where that matters.
"""
import logging
import warnings

import numpy as np
import pytest

import tapegrad as tf


def count(f):
    return f.experimental_get_tracing_count()


# -- tensors: dtype and shape, never values ----------------------------------------------------

def test_tensors_trace_per_dtype_and_shape_not_per_value():
    @tf.function
    def f(x):
        return x * 2

    f(tf.constant([1.0, 2.0]))
    f(tf.constant([3.0, 4.0]))
    assert count(f) == 1
    np.testing.assert_array_equal(f(tf.constant([5.0, 6.0])).numpy(), [10.0, 12.0])
    f(tf.constant([1.0, 2.0, 3.0]))
    assert count(f) == 2
    f(tf.constant([1, 2]))
    assert count(f) == 3
    np.testing.assert_array_equal(f(tf.constant([7, 8])).numpy(), [14, 16])
    assert count(f) == 3


def test_numpy_arrays_are_traced_like_tensors():
    @tf.function
    def f(x):
        return x + 1

    f(np.ones(2, np.float32))
    f(np.zeros(2, np.float32))
    assert count(f) == 1
    f(tf.constant([1.0, 2.0]))            # TF: a tensor of the same dtype and shape reuses it
    assert count(f) == 1
    f(np.ones(3, np.float32))
    assert count(f) == 2
    np.testing.assert_array_equal(f(np.zeros(2, np.float32)).numpy(), [1.0, 1.0])


def test_separate_functions_never_share_traces():
    def double(x):
        return x * 2

    a, b = tf.function(double), tf.function(double)
    a(tf.constant(1.0))
    b(tf.constant(1.0))
    assert count(a) == 1 and count(b) == 1


def test_doc_example_double_counts_one_then_two():
    @tf.function
    def double(a):
        return a + a

    double(tf.constant(1))
    double(tf.constant(2))
    assert count(double) == 1
    double(tf.constant("a"))
    assert count(double) == 2


# -- Python values: by value --------------------------------------------------------------------

def test_python_scalars_trace_per_value():
    @tf.function
    def f(x):
        return tf.constant(2) * x

    f(1)
    f(2)
    assert count(f) == 2
    assert int(f(1)) == 2            # the trace for 1 is reused
    assert count(f) == 2
    assert int(f(2)) == 4
    assert count(f) == 2


def test_python_bool_training_flag_traces_twice():
    @tf.function
    def f(x, training):
        return x * 2 if training else x

    x = tf.constant(1.0)
    f(x, training=True)
    f(x, training=False)
    f(x, True)
    f(x, training=False)
    assert count(f) == 2
    assert float(f(x, training=True)) == 2.0 and float(f(x, training=False)) == 1.0


def test_python_numbers_as_step_counts_retrace_and_tensors_do_not():
    @tf.function
    def train(num_steps):
        return num_steps

    train(num_steps=10)
    train(num_steps=20)
    assert count(train) == 2
    train(num_steps=tf.constant(10))
    train(num_steps=tf.constant(20))
    assert count(train) == 3


def test_lists_tuples_and_dicts_by_structure():
    @tf.function
    def f(x):
        return x

    f([1, 2])
    f([2, 1])                                    # Python values in order: a new trace
    assert count(f) == 2
    f([1, 2])
    assert count(f) == 2
    f((1, 2))                                    # a tuple is not a list
    assert count(f) == 3
    f([tf.constant(1.0), tf.constant(2.0)])
    f([tf.constant(3.0), tf.constant(4.0)])      # same tensor types: same trace
    assert count(f) == 4
    f([tf.constant(1.0), tf.constant(2.0), tf.constant(3.0)])
    assert count(f) == 5
    f({"a": tf.constant(1.0), "b": 2})
    f({"b": 2, "a": tf.constant(5.0)})           # key order does not matter
    assert count(f) == 6
    f({"a": tf.constant(1.0), "b": 3})           # a Python value in the dict changed
    assert count(f) == 7


def test_nested_structures_come_back_with_their_values():
    @tf.function
    def f(d):
        return {"sum": d["a"] + d["b"][0], "pair": (d["b"][1] * 2, d["b"][0])}

    out = f({"a": tf.constant(1.0), "b": [tf.constant(2.0), tf.constant(3.0)]})
    out = f({"a": tf.constant(10.0), "b": [tf.constant(20.0), tf.constant(30.0)]})
    assert count(f) == 1
    assert float(out["sum"]) == 30.0
    assert isinstance(out["pair"], tuple)
    assert [float(v) for v in out["pair"]] == [60.0, 20.0]


# -- objects and variables ---------------------------------------------------------------------

def test_objects_by_identity_and_mutations_are_not_seen():
    class Config:
        scale = 2.0

    c1, c2 = Config(), Config()

    @tf.function
    def f(c, x):
        return x * c.scale

    x = tf.constant(1.0)
    f(c1, x)
    f(c1, x)
    f(c2, x)
    assert count(f) == 2
    f(c1, x)
    assert count(f) == 2
    c1.scale = 10.0                    # the guide's SimpleModel.bias: same object, stale value
    assert float(f(c1, x)) == 2.0
    assert count(f) == 2


def test_variables_by_dtype_and_shape():
    # TF 2.21: two different Variables of one dtype and shape share a trace (each is read
    # correctly); a different shape or dtype retraces.  Passing the same variable twice
    # (aliasing) is a different signature from two variables.
    v1, v2 = tf.Variable(1.0), tf.Variable(5.0)

    @tf.function
    def f(v):
        return v + 1

    assert float(f(v1)) == 2.0
    assert float(f(v2)) == 6.0
    assert count(f) == 1
    v1.assign(3.0)
    assert float(f(v1)) == 4.0               # read live, not frozen at trace time
    assert count(f) == 1
    f(tf.Variable([1.0, 2.0]))
    assert count(f) == 2
    f(tf.Variable(1, dtype=tf.int32))
    assert count(f) == 3

    @tf.function
    def g(a, b):
        return a + b

    g(v1, v1)
    g(v1, v2)
    assert count(g) == 2
    g(v2, v2)
    assert count(g) == 2


def test_global_variables_are_read_live_and_python_globals_are_frozen():
    box = {"foo": 1}
    v = tf.Variable(1.0)

    @tf.function
    def buggy_add():
        return tf.constant(1) + box["foo"]

    @tf.function
    def var_add():
        return v + 1.0

    assert int(buggy_add()) == 2
    box["foo"] = 100
    assert int(buggy_add()) == 2              # the guide: still 2
    assert float(var_add()) == 2.0
    v.assign(100.0)
    assert float(var_add()) == 101.0


# -- reduce_retracing ----------------------------------------------------------------------------

def test_reduce_retracing_guide_example():
    @tf.function(reduce_retracing=True)
    def g(x):
        return x

    g(tf.constant([1, 2, 3]))
    assert count(g) == 1
    g(tf.constant([1, 2, 3, 4, 5]))            # TF traces shape=(None,)
    assert count(g) == 2
    out = g(tf.constant([1, 2, 3, 4, 5, 6, 7]))
    g(tf.constant([1, 2, 3, 4, 5, 6, 7, 8, 9]))
    assert count(g) == 2
    np.testing.assert_array_equal(out.numpy(), [1, 2, 3, 4, 5, 6, 7])
    g(tf.constant([[1, 2]]))                   # another rank: TF traces an unknown-rank shape
    assert count(g) == 3
    g(tf.constant([[1, 2, 3]]))
    assert count(g) == 3
    # TF's unknown-rank trace also serves the scalar; a tapegrad program has a rank (its shape rules
    # need one), so a third rank traces again - counted, as the Python function runs again (TF: 3)
    g(tf.constant(1))
    assert count(g) == 4
    g(tf.constant([1.0]))                       # another dtype
    assert count(g) == 5


def test_reduce_retracing_computes_each_shape_correctly():
    @tf.function(reduce_retracing=True)
    def mean(x):
        return tf.reduce_mean(x) + tf.cast(tf.shape(x)[0], tf.float32)

    for n in (3, 5, 7, 9, 5, 3):
        x = np.arange(n, dtype=np.float32)
        assert float(mean(tf.constant(x))) == pytest.approx(x.mean() + n)
    assert count(mean) == 2


def test_experimental_relax_shapes_is_a_deprecated_alias(caplog):
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @tf.function(experimental_relax_shapes=True)
        def g(x):
            return x

    # TF logs "experimental_relax_shapes is deprecated, use reduce_retracing instead"
    said = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert any("experimental_relax_shapes is deprecated, use reduce_retracing instead" in s for s in said)
    for n in (3, 5, 7, 9):
        g(tf.constant(list(range(n))))
    assert count(g) == 2


# -- input_signature -----------------------------------------------------------------------------

def _signature_fn():
    @tf.function(input_signature=(tf.TensorSpec(shape=[None], dtype=tf.int32),))
    def next_collatz(x):
        return tf.where(x % 2 == 0, x // 2, 3 * x + 1)
    return next_collatz


def test_input_signature_traces_once():
    f = _signature_fn()
    np.testing.assert_array_equal(f(tf.constant([1, 2])).numpy(), [4, 1])
    np.testing.assert_array_equal(f(tf.constant([1, 2, 3, 4, 5])).numpy(), [4, 1, 10, 2, 16])
    f([6, 7])                                 # convertible Python values are accepted
    assert count(f) == 1
    assert f.input_signature == (tf.TensorSpec(shape=[None], dtype=tf.int32),)


@pytest.mark.parametrize("bad, got", [
    (lambda: tf.constant([[1, 2], [3, 4]]), "TensorSpec(shape=(2, 2), dtype=tf.int32, name=None)"),
    (lambda: tf.constant([1.0, 2.0]), "TensorSpec(shape=(2,), dtype=tf.float32, name=None)"),
], ids=["rank", "dtype"])
def test_input_signature_mismatch_is_a_type_error(bad, got):
    f = _signature_fn()
    with pytest.raises(TypeError) as info:
        f(bad())
    message = str(info.value)
    assert message.startswith(
        f"Binding inputs to tf.function failed due to `Can not cast {got} to "
        f"TensorSpec(shape=(None,), dtype=tf.int32, name=None)`. Received args: (")
    assert message.endswith(
        "and kwargs: {} for signature: (x: TensorSpec(shape=(None,), dtype=tf.int32, name=None)).")


def test_input_signature_too_many_arguments():
    f = _signature_fn()
    with pytest.raises(TypeError, match="^Binding inputs to tf.function failed due to `too many positional "
                                        "arguments`"):
        f(tf.constant([1, 2]), 3)


def test_input_signature_must_be_a_sequence():
    with pytest.raises(TypeError, match=r"^input_signature must be either a tuple or a list, got <class"):
        tf.function(lambda x: x, input_signature=tf.TensorSpec([], tf.float32))


# -- concrete functions ---------------------------------------------------------------------------

def test_get_concrete_function_traces_without_running_and_is_reused():
    log = []

    @tf.function
    def f(x, b=2):
        log.append("trace")
        tf.print("ran")
        return x * b

    cf = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
    assert count(f) == 1 and log == ["trace"]
    np.testing.assert_array_equal(cf(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    f(tf.constant([1.0, 2.0, 3.0]))              # the (None,) trace takes it
    assert count(f) == 1
    assert f.get_concrete_function(tf.constant([1.0, 2.0])) is cf
    assert count(f) == 1


def test_concrete_function_rejects_other_types():
    @tf.function
    def f(x, b=2):
        return x * b

    cf = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError):       # TF: wrong dtype tensor
        cf(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="^Binding inputs to tf.function failed due to `Can not cast 3 to "
                                        r"Literal\[2\]`"):
        cf(tf.constant([1.0]), b=3)


# -- variables created inside ---------------------------------------------------------------------

def test_variable_creating_first_call_traces_twice(capsys):
    class Scale:
        def __init__(self):
            self.v = None

        @tf.function
        def __call__(self, x):
            print("Tracing", x)
            if self.v is None:
                self.v = tf.Variable(2.0)
            return self.v * x

    m = Scale()
    assert float(m(tf.constant(3.0))) == 6.0
    assert count(m.__call__) == 2
    assert capsys.readouterr().out.count("Tracing") == 2
    assert float(m(tf.constant(4.0))) == 8.0
    assert count(m.__call__) == 2
    assert capsys.readouterr().out == ""
    m2 = Scale()                                   # per instance: its own first call
    m2(tf.constant(3.0))
    assert count(m2.__call__) == 2 and count(m.__call__) == 2
    assert count(Scale.__call__) == 0


def test_singleton_variable_on_first_call_then_new_shapes_trace_once_each(capsys):
    holder = {}

    @tf.function
    def f(x):
        print("Traced with", x)
        if "v" not in holder:
            holder["v"] = tf.Variable(1.0)
        return holder["v"] + x

    assert float(f(tf.constant(1.0))) == 2.0
    assert count(f) == 2
    f(tf.constant(1.0))
    assert count(f) == 2
    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 3.0])
    assert count(f) == 3
    assert capsys.readouterr().out.count("Traced with") == 3


def test_creating_a_variable_on_a_later_trace_is_a_value_error():
    @tf.function
    def g(x):
        if x.shape[0] == 2:
            tf.Variable(1.0)
        return x

    g(tf.constant([1.0]))
    with pytest.raises(ValueError, match="^Creating variables on a non-first call to a function decorated "
                                         "with tf.function."):
        g(tf.constant([1.0, 2.0]))
    assert count(g) == 2                         # TF counts the trace that raised


def test_variable_created_on_every_trace_is_a_value_error():
    @tf.function
    def f(x):
        v = tf.Variable(1.0)
        return v + x

    for _ in range(2):                           # and again on the next call
        with pytest.raises(ValueError) as info:
            f(1.0)
        assert "tf.function only supports singleton tf.Variables created on the first call. Make sure the " \
               "tf.Variable is only created once or created outside tf.function. See " \
               "https://www.tensorflow.org/guide/function#creating_tfvariables for more information." \
               in str(info.value)


# -- methods, python_function, run_functions_eagerly ---------------------------------------------

def test_methods_trace_per_instance():
    class A:
        def __init__(self, k):
            self.k = k

        @tf.function
        def f(self, x):
            return x * self.k

    a1, a2 = A(2.0), A(3.0)
    assert float(a1.f(tf.constant(1.0))) == 2.0
    assert float(a1.f(tf.constant(2.0))) == 4.0
    assert float(a2.f(tf.constant(1.0))) == 3.0
    assert count(a1.f) == 1 and count(a2.f) == 1 and count(A.f) == 0
    assert a1.f is a1.f and a1.f is not a2.f
    a1.k = 10.0                                  # self is keyed by identity: stale
    assert float(a1.f(tf.constant(1.0))) == 2.0


def test_python_function_is_the_original():
    def square(x):
        return x * x

    f = tf.function(square)
    assert f.python_function is square
    assert f.python_function(3) == 9
    assert count(f) == 0


def test_run_functions_eagerly_calls_python_every_time(capsys):
    tf.config.run_functions_eagerly(True)

    @tf.function
    def f(x):
        print("body", x.numpy())
        return x * 2

    assert float(f(tf.constant(2.0))) == 4.0
    assert float(f(tf.constant(3.0))) == 6.0
    assert capsys.readouterr().out == "body 2.0\nbody 3.0\n"
    assert count(f) == 0


# -- the retracing warning --------------------------------------------------------------------------

TF_WARNING = (" triggered tf.function retracing. Tracing is expensive and the excessive number of tracings "
              "could be due to (1) creating @tf.function repeatedly in a loop, (2) passing tensors with "
              "different shapes, (3) passing Python objects instead of tensors. For (1), please define your "
              "@tf.function outside of the loop. For (2), @tf.function has reduce_retracing=True option that "
              "can avoid unnecessary retracing. For (3), please refer to "
              "https://www.tensorflow.org/guide/function#controlling_retracing and "
              "https://www.tensorflow.org/api_docs/python/tf/function for  more details.")


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if "triggered tf.function retracing" in r.getMessage()]


def test_retracing_warning_on_fifth_and_sixth_trace_only(caplog):
    caplog.set_level(logging.WARNING)

    @tf.function
    def f(x):
        return x

    seen = []
    for i in range(12):
        f(i)
        seen.append(len(_warnings(caplog)))
    assert seen == [0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2]   # TF 2.21, at most 2 per function
    first, second = _warnings(caplog)
    assert first.startswith("5 out of the last 5 calls to <function ")
    assert second.startswith("6 out of the last 6 calls to <function ")
    assert TF_WARNING in first
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    # beyond TF: which argument changed between the last two traces
    assert "x" in first.split(TF_WARNING, 1)[1] and "3" in first.split(TF_WARNING, 1)[1]


def test_retracing_warning_for_a_function_recreated_in_a_loop(caplog):
    caplog.set_level(logging.WARNING)

    def square(x):
        return x * x

    seen = []
    for _ in range(6):
        tf.function(square)(tf.constant(1.0))
        seen.append(len(_warnings(caplog)))
    assert seen == [0, 0, 0, 0, 1, 2]


def test_no_warning_for_calls_that_reuse_traces(caplog):
    caplog.set_level(logging.WARNING)

    @tf.function
    def f(x):
        return x

    for i in range(3):
        f(i)
    for _ in range(20):
        f(tf.constant(1.0))
    assert _warnings(caplog) == []


def test_warning_names_a_changed_shape(caplog):
    caplog.set_level(logging.WARNING)

    @tf.function
    def step(images, labels):
        return images

    labels = tf.constant([1, 2])
    for n in range(1, 6):
        step(tf.zeros([n, 4]), labels)
    (message,) = _warnings(caplog)
    extra = message.split(TF_WARNING, 1)[1]
    assert "images" in extra and "shape" in extra and "labels" not in extra
    assert "reduce_retracing" in extra


# -- AutoGraph: Python control flow on tensor values ------------------------------------------------

def test_if_on_a_tensor_takes_either_branch_without_retracing():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:
            y = x * 2
        else:
            y = -x
        return y

    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(f(tf.constant([-1.0, -2.0])).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(f(tf.constant([3.0, 2.0])).numpy(), [6.0, 4.0])
    assert count(f) == 1


def test_while_and_for_over_tf_range_run_per_value_without_retracing():
    @tf.function
    def w(n):
        i = tf.constant(0)
        s = tf.constant(0)
        while i < n:
            s += i
            i += 1
        return s

    @tf.function
    def r(n):
        s = tf.constant(0)
        for i in tf.range(n):
            s += i * i
        return s

    assert (int(w(tf.constant(5))), int(w(tf.constant(10))), int(w(tf.constant(5)))) == (10, 45, 10)
    assert (int(r(tf.constant(4))), int(r(tf.constant(6)))) == (14, 55)
    assert count(w) == 1 and count(r) == 1


def test_structured_input_signature_splits_args_and_kwargs_and_names_nested_tensors_as_tf():
    # what TF 2.21 returns for the same calls
    @tf.function
    def f(x, n=4, t=(1, 2), *args, k=3, **kw):
        return x
    args, kwargs = f.get_concrete_function(tf.ones([2, 3]), 1, (tf.ones([1]), {"b": tf.ones([2])}),
                                           tf.ones([1]), [tf.ones([2]), 5], k=tf.ones([4]),
                                           z={"a": tf.ones([1])}).structured_input_signature
    spec = tf.TensorSpec
    assert args == (spec([2, 3], tf.float32, "x"), 1,
                    (spec([1], tf.float32, "t_0"), {"b": spec([2], tf.float32, "t_1_b")}),
                    spec([1], tf.float32, "args_0"), [spec([2], tf.float32, "args_1_0"), 5])
    assert kwargs == {"k": spec([4], tf.float32, "k"), "z": {"a": spec([1], tf.float32, "z_a")}}
    assert f.get_concrete_function(tf.ones([2])).structured_input_signature == \
        ((spec([2], tf.float32, "x"), 4, (1, 2)), {"k": 3})


def test_structured_input_signature_has_relaxed_and_given_shapes_and_spec_names():
    @tf.function(reduce_retracing=True)
    def double(x):
        return x * 2.0
    double(tf.ones([4]))
    double(tf.ones([5]))
    assert double.get_concrete_function(tf.ones([9])).structured_input_signature == \
        ((tf.TensorSpec([None], tf.float32, "x"),), {})

    @tf.function
    def same(x):
        return x
    named = same.get_concrete_function(tf.TensorSpec([None, 2], tf.int32, name="foo"))
    assert named.structured_input_signature == ((tf.TensorSpec([None, 2], tf.int32, "foo"),), {})
    assert repr(same.get_concrete_function(tf.Variable(1.0)).structured_input_signature) == \
        "((VariableSpec(shape=(), dtype=tf.float32, trainable=True, alias_id=0),), {})"
