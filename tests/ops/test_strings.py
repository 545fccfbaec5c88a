"""String tensors (bytes, as TF), tf.strings against TF 2.21 values, py_function and numpy_function."""

import json
import os

import numpy as np
import pytest

import tapegrad as tf


def _load(path):
    with open(path) as f:
        return json.load(f)


S = _load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "image_strings_tf221.json"))["strings"]


def _text(t):
    return [x.decode("utf-8") for x in t.numpy().tolist()]


def test_string_tensors_hold_bytes():
    assert tf.constant("a").numpy() == b"a" and type(tf.constant("a").numpy()) is bytes
    arr = tf.constant(["a", "é"]).numpy()
    assert arr.dtype == object and arr.tolist() == [b"a", "é".encode()]
    assert repr(tf.constant("a")) == "<tf.Tensor: shape=(), dtype=string, numpy=b'a'>"
    assert str(tf.constant(["a", "bb"])) == "tf.Tensor([b'a' b'bb'], shape=(2,), dtype=string)"
    assert tf.constant(np.array(["x"])).dtype == tf.string and tf.constant(b"x").numpy() == b"x"
    assert tf.concat([tf.constant(["a"]), tf.constant(["bcd"])], 0).numpy().tolist() == [b"a", b"bcd"]
    assert (tf.constant(["a", "b"]) == "a").numpy().tolist() == [True, False]


def test_strings_match_tf():
    s = tf.strings
    assert s.length(["hi", "héllo", ""]).numpy().tolist() == S["length"]
    assert s.length(["hi", "héllo"], unit="UTF8_CHAR").numpy().tolist() == S["length_char"]
    assert [x.decode("latin1") for x in s.lower(["HeLLo É"]).numpy().tolist()] == S["lower"]
    assert _text(s.upper(["héllo"], encoding="utf-8")) == S["upper_utf8"]
    assert _text(s.strip([" a b\t\n", "c"])) == S["strip"]
    assert _text(s.regex_replace(["a1b22", "x<br />y"], "<br />|[0-9]+", " ")) == S["regex_replace"]
    assert s.regex_replace("john smith", r"(\w+) (\w+)", r"\2 \1").numpy().decode() == S["regex_group"]
    assert s.regex_replace("aaa", "a", "b", replace_global=False).numpy().decode() == S["regex_first"]
    assert s.regex_full_match(["ab", "abc", "a"], "a.").numpy().tolist() == S["full_match"]
    assert _text(s.substr(["hello", "world"], 1, 3)) == S["substr"]
    assert s.substr("hello", -3, 2).numpy().decode() == S["substr_neg"]
    assert s.to_number(["1.5", "-2", "3e2"]).numpy().tolist() == S["to_number"]
    assert s.to_number(["7", "-2"], out_type=tf.int32).numpy().tolist() == S["to_int"]
    assert _text(s.as_string([1.5, 2.0])) == S["as_string_f"]
    assert _text(s.as_string([1.5, 2.25], precision=1)) == S["as_string_p"]
    assert _text(s.as_string([7, -3], width=4)) == S["as_string_i"]
    assert _text(s.as_string([True, False])) == S["as_string_b"]
    assert s.format("x={} y={}", [tf.constant([1, 2]), tf.constant(2.5)]).numpy().decode() == S["format"]
    assert _text(s.join([["a", "b"], "x"], separator="-")) == S["join"]
    assert _text(s.reduce_join([["a", "b"], ["c", "d"]], axis=1, separator=",")) == S["reduce_join"]
    assert s.reduce_join([["a", "b"], ["c", "d"]]).numpy().decode() == S["reduce_join_all"]
    assert _text(s.reduce_join([["a", "b"], ["c", "d"]], axis=0)) == S["reduce_join_0"]
    assert _text(s.split("hello  big world")) == S["split"]
    assert _text(s.split("a,,b", sep=",")) == S["split_sep"]
    assert [[x.decode() for x in r] for r in s.split(["a b", "c"]).to_list()] == S["split_ragged"]
    assert _text(s.split("a b c d", maxsplit=2)) == S["split_max"]
    assert _text(s.unicode_split("hé", "UTF-8")) == S["unicode_split"]


def test_string_errors():
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="StringToNumberOp could not correctly convert string: x"
    ):
        tf.strings.to_number("x")
    with pytest.raises(TypeError, match="string tensor"):
        tf.strings.upper(tf.constant(1.0))


def test_strings_inside_a_function_and_a_dataset():
    f = tf.function(lambda x: tf.strings.length(tf.strings.lower(x)) + 1)
    assert f(tf.constant(["AB", "c"])).numpy().tolist() == [3, 2]
    ds = tf.data.Dataset.from_tensor_slices(["A b", "C"]).map(tf.strings.lower)
    assert [x.numpy() for x in ds] == [b"a b", b"c"]


def test_py_function_eager_traced_taped_and_mapped():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.py_function(lambda v: v * v, [x], tf.float32)
    assert float(y) == 9.0 and float(tape.gradient(y, x)) == 6.0
    calls = []

    @tf.function
    def f(a):
        calls.append(1)
        return tf.py_function(lambda v: v.numpy() * 2, [a], tf.float32) + 1

    assert f(tf.constant([3.0, 1.0])).numpy().tolist() == [7.0, 3.0]
    assert (
        f(tf.constant([5.0, 4.0])).numpy().tolist() == [11.0, 9.0] and len(calls) == 1
    )  # Python runs per call
    g = tf.function(lambda a: tf.py_function(lambda v: v * v, [a], tf.float32))
    with tf.GradientTape() as tape:
        y = g(x)
    assert float(tape.gradient(y, x)) == 6.0
    ds = tf.data.Dataset.range(3).map(lambda i: tf.py_function(lambda j: j.numpy() * 10, [i], tf.int64))
    assert [int(v) for v in ds] == [0, 10, 20]
    a, b = tf.py_function(lambda a, b: (a + b, a * b), [1.0, 2.0], [tf.float32, tf.float32])
    assert (float(a), float(b)) == (3.0, 2.0)


def test_numpy_function():
    out = tf.numpy_function(lambda a: np.sort(a), [tf.constant([3, 1, 2])], tf.int32)
    assert out.numpy().tolist() == [1, 2, 3]
    f = tf.function(lambda a: tf.numpy_function(lambda v: v[::-1].copy(), [a], tf.float32))
    assert f(tf.constant([1.0, 2.0])).numpy().tolist() == [2.0, 1.0]
    with pytest.raises(TypeError, match="expected return value of dtype float32, got float64"):
        tf.numpy_function(lambda a: a.astype(np.float64), [tf.constant([1.0])], tf.float32)
