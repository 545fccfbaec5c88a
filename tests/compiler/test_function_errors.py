"""Inside a trace tensors are symbolic: Python may pass them to ops but not read them.

Error types are TensorFlow 2.21's for the same code (run with autograph=False where AutoGraph
would otherwise rewrite the construct); tapegrad's messages also say what to do instead.
"""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import OperatorNotAllowedInGraphError


def trace(fn):
    """Trace fn on a float vector; return the exception it raised."""
    @tf.function(autograph=False)
    def f(x):
        return fn(x)

    with pytest.raises(Exception) as info:
        f(tf.constant([1.0, 2.0]))
    return info.value


def says_what_to_do(message):
    return "tf.print" in message or "run_functions_eagerly" in message


def test_numpy_is_an_attribute_error():
    e = trace(lambda x: x.numpy())
    assert type(e) is AttributeError
    assert "has no attribute 'numpy'" in str(e)
    assert says_what_to_do(str(e))


@pytest.mark.parametrize("use", [lambda x: bool(x[0] > 0), lambda x: 1 if x[0] > 0 else 2,
                                 lambda x: x[0] > 0 and x[1] > 0, lambda x: not x[0]],
                         ids=["bool", "if", "and", "not"])
def test_python_bool_is_operator_not_allowed(use):
    e = trace(use)
    assert isinstance(e, OperatorNotAllowedInGraphError)
    assert isinstance(e, TypeError)                  # TF: OperatorNotAllowedInGraphError is a TypeError
    assert "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed" in str(e)
    assert "tf.cond" in str(e) or "tf.where" in str(e)


def test_iterating_is_operator_not_allowed():
    e = trace(lambda x: [y for y in x])
    assert isinstance(e, OperatorNotAllowedInGraphError)
    assert "Iterating over a symbolic `tf.Tensor`" in str(e)


@pytest.mark.parametrize("use", [np.asarray, np.sum, lambda x: np.array(x) + 1],
                         ids=["asarray", "sum", "array"])
def test_numpy_conversion_is_not_implemented(use):
    e = trace(use)
    assert type(e) is NotImplementedError
    assert str(e).startswith("Cannot convert a symbolic tf.Tensor (x")
    assert "to a numpy array" in str(e)
    assert says_what_to_do(str(e))


@pytest.mark.parametrize("use", [lambda x: float(x[0]), lambda x: int(x[0]), lambda x: [1, 2, 3][x[0]],
                                 lambda x: f"{x[0]:.2f}"], ids=["float", "int", "index", "format"])
def test_python_numbers_are_type_errors(use):
    e = trace(use)
    assert type(e) is TypeError


def test_len_is_a_type_error_pointing_to_shape():
    e = trace(len)
    assert type(e) is TypeError
    assert "Please call `x.shape` rather than `len(x)` for shape information." in str(e)


def test_str_and_repr_are_tensorflows(capsys):
    @tf.function
    def f(x):
        print(str(x))
        print(repr(x))
        return x

    f(tf.constant([1.0, 2.0]))
    assert capsys.readouterr().out == ('Tensor("x:0", shape=(2,), dtype=float32)\n'
                                       "<tf.Tensor 'x:0' shape=(2,) dtype=float32>\n")


def test_static_shape_and_dtype_are_readable():
    @tf.function
    def f(x):
        assert x.shape == (2, 3) and x.shape[0] == 2 and x.dtype == tf.float32
        return tf.reshape(x, [x.shape[0] * x.shape[1]])

    assert f(tf.zeros([2, 3])).shape == (6,)


def test_error_inside_trace_leaves_the_function_usable():
    @tf.function
    def f(x, bad):
        if bad:
            return x.numpy()
        return x + 1

    with pytest.raises(AttributeError):
        f(tf.constant(1.0), True)
    assert float(f(tf.constant(1.0), False)) == 2.0
    # and nothing of the failed trace stays active: eager code reads values again
    assert tf.constant(3.0).numpy() == 3.0


# -- leaked symbolic tensors -------------------------------------------------------------------------

def _leak():
    leaked = []

    @tf.function
    def leaky(x):
        y = x * 2
        leaked.append(y)
        return y

    leaky(tf.constant(1.0))
    return leaked[0]


def test_leaked_tensor_used_eagerly_is_a_type_error():
    y = _leak()
    with pytest.raises(TypeError, match="is out of scope and cannot be used here"):
        y + 1


def test_leaked_tensor_read_is_an_error():
    y = _leak()
    with pytest.raises(AttributeError):
        y.numpy()


def test_leaked_tensor_used_in_another_function_is_a_type_error():
    y = _leak()

    @tf.function
    def use(x):
        return x + y

    with pytest.raises(TypeError, match="out of scope"):
        use(tf.constant(1.0))


def test_tensor_cached_on_an_object_by_an_earlier_trace_is_a_type_error():
    class Cache:
        def __init__(self):
            self.t = None

        @tf.function
        def __call__(self, x):
            if self.t is None:
                self.t = x * 2
            return x + self.t

    c = Cache()
    assert float(c(tf.constant(1.0))) == 3.0
    with pytest.raises(TypeError, match="out of scope"):
        c(tf.constant([1.0, 2.0]))          # a new trace reads the first trace's tensor


def test_concrete_function_binding_errors_name_the_signature():
    @tf.function
    def f(x, b=2):
        return x * b

    cf = f.get_concrete_function(tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"`Can not cast 3 to Literal\[2\]`.*signature: \(x: TensorSpec\("
                                        r"shape=\(2,\), dtype=tf.float32, name=None\), b: Literal\[2\]\) "
                                        r"-> TensorSpec"):
        cf(tf.constant([1.0, 2.0]), 3)
    with pytest.raises(TypeError, match="`missing a required argument: 'x'`"):
        cf()
    with pytest.raises(TypeError, match=r"Can not cast TensorSpec\(shape=\(3,\)"):
        cf(tf.constant([1.0, 2.0, 3.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input #0\(zero-based\) was expected to be a "
                                                             "float32 tensor but is a int32 tensor"):
        cf(tf.constant([1, 2]))
    assert cf(tf.constant([1.0, 2.0]), 2.0).numpy().tolist() == [2.0, 4.0]   # 2.0 == 2: TF takes it

    @tf.function
    def g(v):
        return v * 2.0

    cg = g.get_concrete_function(tf.Variable([1.0]))
    assert cg(tf.Variable([4.0])).numpy().tolist() == [8.0]                    # any variable of the type
    with pytest.raises(TypeError, match=r"Can not cast VariableSpec\(shape=\(2,\), dtype=tf.float32, "
                                        r"trainable=True, alias_id=0\) to VariableSpec\(shape=\(1,\)"):
        cg(tf.Variable([1.0, 2.0]))
