"""AutoGraph's conversion: calls converted recursively (or not), methods, lambdas, Keras, asserts,
to_code, the cache, and the user's file and lines kept (test_autograph.py: the control flow)."""
from __future__ import annotations

import logging
import threading
import traceback

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.compiler.autograph import convert, converted_call, to_code
from tapegrad.errors import InvalidArgumentError, OperatorNotAllowedInGraphError


def same_as_eager(f, *calls):
    """f (a tf.function) gives the eager Python function's results for each call's arguments."""
    for args in calls:
        args = args if isinstance(args, tuple) else (args,)
        expected = f.python_function(*args)
        got = f(*args)
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6)


def count(f):
    return f.experimental_get_tracing_count()


def line_of(fn, text):
    """The file line number of the first line of fn's source containing `text`."""
    import inspect
    lines, start = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(text)


# -- calls ---------------------------------------------------------------------------------------------

def helper_abs(x, scale=1.0, *, offset=0.0):
    if x < 0:
        x = -x
    return x * scale + offset


def helper_calls_helper(x):
    return helper_abs(x, 2.0) + 1.0


@tf.autograph.experimental.do_not_convert
def helper_not_converted(x):
    if x < 0:
        x = -x
    return x


@tf.autograph.experimental.do_not_convert()
def helper_not_converted_either(x):
    return x


def test_user_functions_called_from_converted_code_are_converted():
    @tf.function
    def f(x):
        return helper_abs(x, 3.0, offset=1.0) + helper_calls_helper(*[x])

    same_as_eager(f, tf.constant(-2.0), tf.constant(2.0))
    assert count(f) == 1


def test_do_not_convert_functions_run_as_they_are():
    @tf.function
    def f(x):
        return helper_not_converted(x)

    with pytest.raises(OperatorNotAllowedInGraphError):
        f(tf.constant(1.0))
    assert convert(helper_not_converted) is helper_not_converted
    assert float(tf.function(lambda x: helper_not_converted_either(x) * 2)(tf.constant(2.0))) == 4.0
    with pytest.raises(ValueError, match="do_not_convert"):
        to_code(helper_not_converted_either)


def test_print_runs_at_trace_time_only(capsys):
    @tf.function
    def f(x):
        print("tracing with", x)
        if x > 0:
            print("tracing the if branch")
        return x

    f(tf.constant(1.0))
    f(tf.constant(-1.0))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("tracing with Tensor(") and out[1] == "tracing the if branch"


def test_converted_call_leaves_library_code_builtins_and_classes_alone():
    import math
    assert converted_call(math.sqrt, (4.0,), None) == 2.0
    assert converted_call(np.sum, ([1, 2],), None) == 3
    assert converted_call(dict, (), {"a": 1}) == {"a": 1}
    assert converted_call(len, ([1, 2, 3],), None) == 3
    assert list(converted_call(range, (3,), None)) == [0, 1, 2]
    assert convert(tf.reduce_sum) is tf.reduce_sum and convert(np.sum) is np.sum
    assert convert(math.sqrt) is math.sqrt and convert(dict) is dict


class Base:
    def scale(self, x):
        return x * 2.0


class Child(Base):
    def __init__(self):
        self.__bias = 100.0   # name-mangled: the converted method must still find it

    def scale(self, x):
        if x > 0:
            y = super().scale(x) + self.__bias
        else:
            y = super().scale(x)
        return y

    def __call__(self, x):
        for _ in [1, 2]:
            x = self.scale(x)
        return x


def test_methods_with_super_and_private_names_are_converted():
    c = Child()
    f = tf.function(c.scale)
    assert float(f(tf.constant(1.0))) == 102.0 and float(f(tf.constant(-1.0))) == -2.0
    assert count(f) == 1
    g = tf.function(lambda x: c(x))
    assert float(g(tf.constant(1.0))) == 2 * 102.0 + 100.0


def test_lambdas_are_converted():
    f = tf.function(lambda x: x if x > 0 else -x)
    assert float(f(tf.constant(-3.0))) == 3.0 and float(f(tf.constant(2.0))) == 2.0
    assert count(f) == 1


def test_nested_functions_are_converted_with_their_closure():
    @tf.function
    def f(x, k):
        def inner(v):
            if v > k:
                v = v - k
            return v
        return inner(x) + inner(x * 10)

    @tf.function
    def g(x):
        def clip(v):                       # converted with g: tf.map_fn traces it as converted code
            if v > 1.0:
                v = v * 0.0 + 1.0
            return v
        return tf.map_fn(clip, x)

    same_as_eager(f, (tf.constant(1.0), tf.constant(5.0)), (tf.constant(0.1), tf.constant(5.0)))
    assert count(f) == 1
    np.testing.assert_allclose(g(tf.constant([0.5, 2.0, 3.0])).numpy(), [0.5, 1.0, 1.0])


@tf.function
def countdown(n):                      # module-level and recursive, as in TF's tf.function guide
    if n > 0:
        print("tracing")
        return countdown(n - 1)
    return 1


class Doubler:
    @tf.function
    def twice_plus(self, x):
        return Doubler.double(x) + x     # the class's own (global) name inside its converted method

    @staticmethod
    def double(x):
        return x * 2


def test_recursive_global_functions_and_a_class_naming_itself_are_converted(caplog, capsys):
    def factorial(n):                  # nested and recursive: its own name is a closure cell
        return 1 if n == 0 else n * factorial(n - 1)

    with caplog.at_level(logging.WARNING):
        assert int(countdown(3)) == 1                       # a Python int: each level traces anew
        assert int(tf.function(factorial)(4)) == 24
        assert int(Doubler().twice_plus(tf.constant(3))) == 9
    assert capsys.readouterr().out.count("tracing") == 3
    assert "could not transform" not in caplog.text
    with pytest.raises(RecursionError):                    # a tensor: TF's "maximum recursion" too
        countdown(tf.constant(5))


def test_keras_subclassed_model_call_is_converted_under_tf_function():
    class Gate(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            y = self.dense(x)
            if tf.reduce_sum(y) > 0:
                y = y * 10.0
            else:
                y = y - 1.0
            return y

    model = Gate()

    @tf.function
    def f(x):
        return model(x)

    assert float(f(tf.ones([1, 2]))[0, 0]) == 20.0
    assert float(f(-tf.ones([1, 2]))[0, 0]) == -3.0


def test_keras_fit_trains_a_model_whose_call_branches_on_tensors():
    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = tf.keras.layers.Dense(4, activation="relu")
            self.out = tf.keras.layers.Dense(1)

        def call(self, x, training=False):
            h = self.hidden(x)
            if tf.reduce_mean(h) > 100.0:
                h = h / 100.0
            return self.out(h)

    model = Net()
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 3), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_autograph_false_keeps_python_control_flow_errors():
    @tf.function(autograph=False)
    def f(x):
        if x > 0:
            x = x + 1
        return x

    with pytest.raises(OperatorNotAllowedInGraphError):
        f(tf.constant(1.0))


def test_keras_call_is_not_converted_under_autograph_false():
    class Gate(tf.keras.layers.Layer):
        def call(self, x):
            if tf.reduce_sum(x) > 0:
                x = x * 10.0
            return x

    layer = Gate()
    f = tf.function(lambda x: layer(x), autograph=False)
    with pytest.raises(OperatorNotAllowedInGraphError):
        f(tf.ones([2]))


def test_do_not_convert_also_keeps_keras_calls_inside_it_unconverted():
    class Gate(tf.keras.layers.Layer):
        def call(self, x):
            if tf.reduce_sum(x) > 0:
                x = x * 10.0
            return x

    layer = Gate()

    @tf.autograph.experimental.do_not_convert
    def plain(x):
        return layer(x)

    assert float(tf.function(lambda x: layer(x))(tf.ones([2]))[0]) == 10.0
    with pytest.raises(OperatorNotAllowedInGraphError):
        tf.function(lambda x: plain(x))(tf.ones([2]))


def test_to_graph_gives_the_converted_function_which_runs_eagerly_as_python():
    def f(x):
        if x > 0:
            x = x * 2
        return x

    g = tf.autograph.to_graph(f)
    assert g.__code__ is convert(f).__code__ and g is not f
    assert float(g(tf.constant(3.0))) == 6.0 and g(-3) == -3
    with pytest.raises(ValueError, match="not a Python function"):
        tf.autograph.to_graph(len)


# -- asserts ---------------------------------------------------------------------------------------------

def test_assert_on_a_tensor_is_checked_when_the_function_runs():
    @tf.function
    def f(x):
        assert x > 0, "x must be positive"
        return x * 2

    assert float(f(tf.constant(1.0))) == 2.0
    with pytest.raises(InvalidArgumentError, match=r"assertion failed: \[x must be positive\]"):
        f(tf.constant(-1.0))
    assert count(f) == 1


def test_assert_on_a_python_value_is_python():
    @tf.function
    def f(x, n):
        assert n > 0, "n must be positive"
        return x * n

    assert float(f(tf.constant(1.0), 2)) == 2.0
    with pytest.raises(AssertionError, match="n must be positive"):
        f(tf.constant(1.0), -1)


# -- conversion ----------------------------------------------------------------------------------------

def test_to_code_shows_the_converted_structure():
    def f(x, n):
        if x > 0:
            y = x
        else:
            y = -x
        while n > 0:
            n -= 1
        for v in x:
            y += v
        return y if n else -y

    code = to_code(f)
    for part in ("def get_state():", "def set_state(vars_):", "nonlocal y", "def if_body():",
                 "def else_body():", "ag__.if_stmt(", "def loop_body():", "def loop_test():",
                 "ag__.while_stmt(", "def loop_body_1(itr):", "ag__.for_stmt(x, None, loop_body_1",
                 "ag__.if_exp(n, lambda: ag__.ld(y), lambda: -ag__.ld(y), 'y if n else -y')"):
        assert part in code, part
    assert "def f(x, n):" in code
    assert tf.autograph.to_code(f) == code


def test_to_code_of_returns_shows_the_flags():
    def f(x):
        if x > 0:
            return x
        return -x

    def first_positive(xs):
        for v in xs:
            if v > 0:
                return v
        return 0.0

    code = to_code(f)
    assert "retval_ = ag__.UndefinedReturnValue()" in code and "return ag__.retval(retval_)" in code
    assert "do_return" not in code           # both branches return: no flag is read
    code = to_code(first_positive)
    assert "do_return = False" in code and "return ag__.not_(do_return)" in code   # the loop's extra test
    assert "ag__.if_stmt(ag__.not_(do_return)" in code                              # the guarded rest


def test_conversion_is_cached_and_keeps_the_functions_attributes():
    secret = [1.0]

    def f(x, scale=2.0, *, shift=1.0):
        """Doc."""
        if x > 0:
            x = x * scale
        return x + shift + secret[0]

    conv = convert(f)
    assert conv is not f and convert(f).__code__ is conv.__code__     # converted once, per code object
    assert conv.__name__ == "f" and conv.__qualname__ == f.__qualname__ and conv.__doc__ == "Doc."
    assert conv.__defaults__ == (2.0,) and conv.__kwdefaults__ == {"shift": 1.0}
    assert conv.__globals__ is f.__globals__ and conv.__module__ == f.__module__
    assert conv.__code__.co_filename == f.__code__.co_filename
    secret[0] = 5.0                           # the closure is the original's
    assert conv(1.0) == 8.0
    assert convert(conv) is conv              # converted code is not converted again
    m = Child().scale
    assert convert(m).__self__ is m.__self__ and convert(m).__func__.__code__ is convert(Child.scale).__code__


def test_closures_of_one_code_convert_once_and_keep_their_own_cells():
    def make(k):
        def add(x):
            if x > 0:
                x = x + k
            return x
        return add

    one, two = convert(make(1.0)), convert(make(2.0))
    assert one.__code__ is two.__code__
    assert (one(1.0), two(1.0), two(-1.0)) == (2.0, 3.0, -1.0)
    assert float(tf.function(make(5.0))(tf.constant(1.0))) == 6.0


def test_decorators_are_stripped_when_converting():
    registered = []

    def register(fn):
        registered.append(fn.__name__)
        return fn

    @register
    def f(x):
        if x > 0:
            x = x + 1
        return x

    assert float(tf.function(f)(tf.constant(1.0))) == 2.0
    assert registered == ["f"]
    assert "@register" not in to_code(f)


def test_source_not_available_runs_as_is_with_one_warning(caplog):
    namespace = {}
    exec("def f(x):\n    return x * 2\n", namespace)  # noqa: S102 - a function without source
    f = namespace["f"]
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        assert convert(f) is f
        assert convert(f) is f
        g = tf.function(f)
        assert float(g(tf.constant(2.0))) == 4.0
    warnings = [r for r in caplog.records if "AutoGraph could not transform" in r.getMessage()]
    assert len(warnings) == 1 and "will run it as-is" in warnings[0].getMessage()
    with pytest.raises(ValueError, match="could not be converted"):
        to_code(f)


def test_an_error_inside_a_converted_branch_points_at_the_users_line():
    @tf.function
    def f(x):
        if x > 0:
            y = tf.reshape(x, [2, 3])   # fails while tracing
        else:
            y = x
        return y

    with pytest.raises(Exception) as info:
        f(tf.constant(1.0))
    frames = [(fs.filename, fs.lineno) for fs in traceback.extract_tb(info.value.__traceback__)]
    assert (__file__, line_of(f.python_function, "tf.reshape")) in frames


def test_traced_ops_are_sited_at_the_users_lines():
    @tf.function
    def f(x):
        while x < 10.0:
            x = x * 3.0
        return x

    graph = str(f.get_concrete_function(tf.constant(1.0)).graph)
    name = __file__.rsplit("/", 1)[-1]
    assert f"{name}:{line_of(f.python_function, 'x * 3.0')}" in graph
    assert f"{name}:{line_of(f.python_function, 'while x')}" in graph


def test_concurrent_conversion_makes_one_function():
    def f(x):
        if x > 0:
            x = x - 1
        return x

    results, barrier = [], threading.Barrier(8)

    def work():
        barrier.wait()
        results.append(convert(f))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r.__code__ is results[0].__code__ for r in results)
