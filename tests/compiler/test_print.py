"""Python print runs while tracing; tf.print runs on every call, in program order.

Expected output is what TensorFlow 2.21 printed for the same code.
"""
import os
import sys

import numpy as np

import tapegrad as tf


def test_print_on_trace_tf_print_on_every_call(capfd):
    @tf.function
    def f(x):
        print("Traced with", x)
        tf.print("Executed with", x)

    f(1)
    f(1)
    f(2)
    out, err = capfd.readouterr()
    assert out == "Traced with 1\nTraced with 2\n"
    assert err == "Executed with 1\nExecuted with 1\nExecuted with 2\n"      # stderr by default


def test_trace_time_print_shows_a_symbolic_tensor(capfd):
    @tf.function
    def f(x):
        print("Traced with", x)
        tf.print("Executed with", x, output_stream=sys.stdout)

    f(tf.constant(1))
    f(tf.constant(2))
    f(tf.constant([1, 2]))
    out, err = capfd.readouterr()
    assert out == ('Traced with Tensor("x:0", shape=(), dtype=int32)\n'
                   "Executed with 1\n"
                   "Executed with 2\n"
                   'Traced with Tensor("x:0", shape=(2,), dtype=int32)\n'
                   "Executed with [1 2]\n")
    assert err == ""


def test_tf_print_keeps_program_order_with_the_computation(capfd):
    @tf.function
    def h(x):
        tf.print("a", x, output_stream=sys.stdout)
        y = x * 2
        tf.print("b", y, output_stream=sys.stdout)
        z = y + 1
        tf.print("c", z, sep="|", end="!\n", output_stream=sys.stdout)
        return z

    assert float(h(tf.constant(1.5))) == 4.0
    assert float(h(tf.constant(2.0))) == 5.0
    assert capfd.readouterr().out == "a 1.5\nb 3\nc|4!\na 2\nb 4\nc|5!\n"


def test_tf_print_sees_variable_updates_in_program_order(capfd):
    v = tf.Variable(0)

    @tf.function
    def step():
        tf.print("before", v, output_stream=sys.stdout)
        v.assign_add(1)
        tf.print("after", v, output_stream=sys.stdout)

    step()
    step()
    assert capfd.readouterr().out == "before 0\nafter 1\nbefore 1\nafter 2\n"


def test_print_of_python_values_and_side_effects_run_only_while_tracing(capfd):
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        print("python", len(calls))
        return x + 1

    for _ in range(3):
        f(tf.constant(1.0))
    assert calls == [1]
    assert capfd.readouterr().out == "python 1\n"


def test_tf_print_formatting(capfd):
    out = sys.stdout
    tf.print(tf.range(10), output_stream=out)
    tf.print(tf.range(10), summarize=-1, output_stream=out)
    tf.print(tf.range(10), summarize=2, output_stream=out)
    tf.print(tf.range(10), summarize=None, output_stream=out)
    tf.print(tf.reshape(tf.range(36), (6, 6)), output_stream=out)
    tf.print({2: tf.range(0, 20, 2)}, output_stream=out)
    tf.print(tf.constant([1.5, 2.0, -0.25]), tf.constant(True), output_stream=out)
    tf.print(tf.constant([True, False]), output_stream=out)
    tf.print("x", "y", sep="", end="", output_stream=out)
    tf.print("", output_stream=out)
    tf.print("loss:", 0.5, 3, output_stream=out)
    assert capfd.readouterr().out == (
        "[0 1 2 ... 7 8 9]\n"
        "[0 1 2 3 4 5 6 7 8 9]\n"
        "[0 1 ... 8 9]\n"
        "[0 1 2 ... 7 8 9]\n"
        "[[0 1 2 3 4 5]\n [6 7 8 9 10 11]\n [12 13 14 15 16 17]\n [18 19 20 21 22 23]\n"
        " [24 25 26 27 28 29]\n [30 31 32 33 34 35]]\n"
        "{2: [0 2 4 ... 14 16 18]}\n"
        "[1.5 2 -0.25] 1\n"
        "[1 0]\n"
        "xy\n"
        "loss: 0.5 3\n")


def test_tf_print_summarizes_every_dimension(capfd):
    tf.print(tf.reshape(tf.range(100), (10, 10)), output_stream=sys.stdout)
    assert capfd.readouterr().out == (
        "[[0 1 2 ... 7 8 9]\n [10 11 12 ... 17 18 19]\n [20 21 22 ... 27 28 29]\n ...\n"
        " [70 71 72 ... 77 78 79]\n [80 81 82 ... 87 88 89]\n [90 91 92 ... 97 98 99]]\n")


def test_tf_print_float_precision(capfd):
    # TF prints float32 with 9 significant digits and float64 with 17 (%g style, no dtype)
    tf.print(tf.constant(1.0) / 3, tf.constant(2.0, tf.float64) / 3, output_stream=sys.stdout)
    tf.print(tf.constant([[0.1, 1e-8], [123456.7, 3.0]]), output_stream=sys.stdout)
    assert capfd.readouterr().out == "0.333333343 0.66666666666666663\n[[0.1 1e-08]\n [123456.703 3]]\n"


def test_tf_print_strings(capfd):
    tf.print("plain", tf.constant("hello"), [1, "two", tf.constant(3.5)], output_stream=sys.stdout)
    assert capfd.readouterr().out == "plain \"hello\" [1, 'two', 3.5]\n"


def test_tf_print_to_stderr_stdout_and_file(capfd, tmp_path):
    path = tmp_path / "log.txt"

    @tf.function
    def f(x):
        tf.print("err", x)
        tf.print("out", x, output_stream=sys.stdout)
        tf.print(x, output_stream="file://" + str(path))

    f(tf.constant([1, 2]))
    f(tf.constant([3, 4]))
    out, err = capfd.readouterr()
    assert out == "out [1 2]\nout [3 4]\n"
    assert err == "err [1 2]\nerr [3 4]\n"
    assert path.read_text() == "[1 2]\n[3 4]\n"                     # appended


def test_tf_print_end_defaults_to_os_linesep(capfd):
    tf.print("x", output_stream=sys.stdout)
    assert capfd.readouterr().out == "x" + os.linesep


def test_tf_print_rejects_unknown_keywords_and_returns_none(capfd):
    try:
        tf.print("a", foo=1)
    except ValueError as e:
        assert str(e) == "Unrecognized keyword arguments for tf.print: {'foo': 1}"
    else:
        raise AssertionError("tf.print accepted an unknown keyword")
    assert tf.print("x", output_stream=sys.stdout) is None


def test_tf_print_inside_a_function_with_numpy_argument(capfd):
    @tf.function
    def f(x):
        tf.print(tf.reduce_sum(x), output_stream=sys.stdout)

    f(np.array([1.0, 2.0], np.float32))
    f(np.array([3.0, 4.0], np.float32))
    assert capfd.readouterr().out == "3\n7\n"
