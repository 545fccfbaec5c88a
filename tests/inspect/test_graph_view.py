"""tape.summary()/to_dot()/render() and the same for a traced function's graph."""
from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.inspect import graph_view


def _line(fn, offset: int) -> str:
    return f"test_graph_view.py:{fn.__code__.co_firstlineno + offset}"


def small_tape():
    x = tf.constant([1.0, 2.0, 3.0])
    w = tf.Variable([[0.5], [1.0], [2.0]], name="w")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = tf.exp(x) * x
        y = tf.matmul(tf.reshape(h, (1, 3)), w) + 1.0
    return tape, x, w, y


def test_tape_summary_golden():
    tape, *_ = small_tape()

    def line(k: int) -> str:
        return _line(small_tape, k)
    assert tape.summary() == (
        "GradientTape (persistent): 5 ops, 2 watched\n"
        "  #  op        inputs                     outputs       kept for backward  line\n"
        f"  0  exp       x0:f32[3]                  t0:f32[3]     t0 (+12 B)         {line(5)}\n"
        f"  1  multiply  t0:f32[3], x0:f32[3]       t1:f32[3]     t0, x0 (+12 B)     {line(5)}\n"
        f"  2  reshape   t1:f32[3]                  t2:f32[1, 3]  -                  {line(6)}\n"
        f"  3  matmul    t2:f32[1, 3], w:f32[3, 1]  t3:f32[1, 1]  t2, w (+24 B)      {line(6)}\n"
        f"  4  add       t3:f32[1, 1], c0:f32[]     t4:f32[1, 1]  -                  {line(6)}\n"
        "kept for backward: 4 arrays, 48 B")


def test_summary_is_a_string_that_shows_as_its_text():
    tape, *_ = small_tape()
    s = tape.summary()
    assert isinstance(s, str) and repr(s) == str(s) and "\n" in repr(s)


def test_each_kept_array_is_counted_once_and_views_count_as_their_buffer():
    x = tf.constant(np.ones(1000))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x              # keeps x (once, though it is both inputs)
        z = tf.sin(x) * y      # keeps x again (sin), and sin(x) and y
        v = tf.reshape(x, (10, 100)) * 2.0   # the reshape is a view of x: no new bytes
    text = tape.summary()
    # x, y, sin(x): 3 x 8000 B, and the constant 2.0 multiply keeps
    assert text.endswith("kept for backward: 4 arrays, 23.4 KiB")
    assert "x0 (+7.8 KiB)" in text and "x0 (+0 B)" in text and "t1, t0 (+15.6 KiB)" in text
    assert "t3, c0 (+8 B)" in text
    del z, v


def test_a_consumed_non_persistent_tape_says_so():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert "1 op" in tape.summary()
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match=r"non-persistent tape is consumed by its first gradient .*"
                                           r"\(persistent=True\) to summarise it after"):
        tape.summary()
    with pytest.raises(RuntimeError, match="holds no record"):
        tape.to_dot()


def test_a_persistent_tape_is_summarised_after_gradient_and_while_recording():
    x = tf.constant(1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.sin(x)
        assert tape.summary().startswith("GradientTape (persistent, recording): 1 op")
    tape.gradient(y, x)
    assert tape.summary().startswith("GradientTape (persistent): 1 op, 1 watched")


def test_tape_to_dot_marks_sources_targets_kept_values_and_the_backward_path():
    tape, x, _, y = small_tape()
    with tf.GradientTape(persistent=True) as side:
        side.watch(x)
        a = tf.sin(x)
        b = tf.cos(x)      # not on the path to a
    dot = side.to_dot(targets=a)
    assert dot.startswith("digraph tape {") and dot.endswith("}\n")
    assert 'v0 [label="x0\\nf32[3]", shape=ellipse, style=filled, fillcolor="#cfe8ff", peripheries=2];' in dot
    assert 'v1 [label="t0\\nf32[3]", shape=ellipse, style=filled, fillcolor="#ffd9a8"];' in dot
    assert '[label="#1 cos\\n' in dot and dot.count(", color=grey60") == 1
    assert "v0 -> op0;" in dot and "op0 -> v1;" in dot
    # names from the summary select sources and targets too; edge labels say the argument order
    dot = tape.to_dot(sources="w", targets=y)
    assert 'label="w\\nf32[3, 1]", shape=ellipse, style=filled, fillcolor="#cfe8ff"' in dot
    assert 'label="x0\\nf32[3]", shape=ellipse, style=filled, fillcolor="#eeeeee"' in dot
    assert '-> op3 [label="1"];' in dot
    with pytest.raises(ValueError, match="no value named 'q'"):
        tape.to_dot(targets="q")
    del b


def traced():
    @tf.function
    def step(x, w):
        with tf.GradientTape() as tape:
            tape.watch(w)
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0))
        summaries.append(tape.summary())    # a tape inside a traced function: summarised as traced
        return loss, tape.gradient(loss, w)
    summaries: list = []
    return step, summaries


def test_traced_graph_summary_golden():
    step, summaries = traced()
    cf = step.get_concrete_function(tf.TensorSpec([2, 3]), tf.TensorSpec([3, 1]))
    loss_line, grad_line = _line(step.python_function, 4), _line(step.python_function, 6)
    assert cf.graph.summary() == (
        "tf.function step: 10 nodes, 2 arguments (36 B), 4 constants (16 B)\n"
        "  #  node          inputs                                   outputs                   "
        "output bytes  line\n"
        f"  0  matmul        x:f32[2, 3], w:f32[3, 1]                 matmul:f32[2, 1]          "
        f"8 B           {loss_line}\n"
        f"  1  subtract      matmul:f32[2, 1], const:f32[]            subtract:f32[2, 1]        "
        f"8 B           {loss_line}\n"
        f"  2  square        subtract:f32[2, 1]                       square:f32[2, 1]          "
        f"8 B           {loss_line}\n"
        f"  3  reduce_mean   square:f32[2, 1]                         reduce_mean:f32[]         "
        f"4 B           {loss_line}\n"
        f"  4  broadcast_to  const_1:f32[]                            broadcast_to:f32[]        "
        f"4 B           {grad_line}\n"
        f"  5  broadcast_to  broadcast_to:f32[]                       broadcast_to_1:f32[2, 1]  "
        f"8 B           {grad_line}\n"
        f"  6  divide        broadcast_to_1:f32[2, 1], const_2:f32[]  divide:f32[2, 1]          "
        f"8 B           {grad_line}\n"
        f"  7  multiply      const_3:f32[], subtract:f32[2, 1]        multiply:f32[2, 1]        "
        f"8 B           {grad_line}\n"
        f"  8  multiply      divide:f32[2, 1], multiply:f32[2, 1]     multiply_1:f32[2, 1]      "
        f"8 B           {grad_line}\n"
        f"  9  matmul        x:f32[2, 3], multiply_1:f32[2, 1]        matmul_1:f32[3, 1]        "
        f"12 B          {grad_line}\n"
        "most intermediate memory alive at once: 28 B")
    # what compiles: the constant part of the gradient folded
    assert cf.compiled_graph.summary().splitlines()[0] == \
        "tf.function step: 7 nodes, 2 arguments (36 B), 3 constants (16 B)"
    # the tape traced inside the function, summarised while tracing
    assert summaries[0].splitlines()[0] == "GradientTape (non-persistent): 4 ops, 1 watched"
    assert cf.graph.summary() == graph_view.summary(cf) == tf.inspect.summary(cf.graph)


def test_traced_graph_to_dot_highlights_arguments_and_results():
    step, _ = traced()
    cf = step.get_concrete_function(tf.TensorSpec([2, 3]), tf.TensorSpec([3, 1]))
    dot = cf.graph.to_dot()
    assert dot.startswith("digraph graph {")
    assert 'label="x\\nf32[2, 3]", shape=ellipse, style=filled, fillcolor="#cfe8ff"' in dot
    assert dot.count('fillcolor="#ffd9a8"') == 2        # the loss and the gradient
    assert dot.count("shape=box") == len(cf.graph.eqns)


def test_peak_memory_counts_intermediates_freed_after_last_use():
    @tf.function
    def f(x):
        a = x * 2.0        # 400 B
        b = a + 1.0        # 400 B, a dies here
        return tf.reduce_sum(b * b)   # b * b: 400 B while b lives
    cf = f.get_concrete_function(tf.TensorSpec([100]))
    assert cf.graph.summary().endswith("most intermediate memory alive at once: 800 B")


def test_render_writes_an_svg(tmp_path):
    pytest.importorskip("graphviz", reason="the optional graphviz extra is not installed")
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    tape, *_ = small_tape()
    path = tmp_path / "tape.svg"
    assert tape.render(str(path)) == str(path)
    assert path.read_text().lstrip().startswith(("<?xml", "<svg")) and "matmul" in path.read_text()
    assert list(tmp_path.iterdir()) == [path]     # the DOT source is cleaned up


def test_render_without_graphviz_names_the_pip_command(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    tape, *_ = small_tape()
    with pytest.raises(ImportError, match=r"pip install 'tapegrad\[graphviz\]'"):
        tape.render("tape.svg")


def test_the_printed_graph_and_its_summary_spell_dtypes_and_lines_alike():
    @tf.function
    def f(x, n):
        return tf.cast(x, tf.complex64) * tf.cast(n, tf.complex64)
    graph = f.get_concrete_function(tf.TensorSpec([2]), tf.TensorSpec([2], tf.int8)).graph
    printed, summary = str(graph), graph.summary()
    for spelling in ("x:f32[2]", "n:i8[2]", "cast:c64[2]", "multiply:c64[2]"):
        assert spelling in printed and spelling in summary
    line = f"test_graph_view.py:{f.python_function.__code__.co_firstlineno + 2}"
    assert printed.count(line) == summary.count(line) == 3
