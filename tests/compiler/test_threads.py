"""tf.function from several threads: tracing state is per thread, the trace cache is locked, and a
program's generated source lives as long as the program."""
import gc
import linecache
import threading

import numpy as np

import tapegrad as tf


def test_one_thread_tracing_while_another_creates_variables():
    errors, stop = [], threading.Event()

    def trace_repeatedly():
        try:
            while not stop.is_set():
                f = tf.function(lambda x: tf.reduce_sum(x * 2.0))  # a new function: a new trace each time
                assert float(f(tf.constant([1.0, 2.0]))) == 6.0
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    def create_variables(n):
        try:
            for i in range(n):
                v = tf.Variable(float(i))
                assert float(v) == float(i)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    tracer = threading.Thread(target=trace_repeatedly)
    tracer.start()
    creators = [threading.Thread(target=create_variables, args=(2000,)) for _ in range(2)]
    for t in creators:
        t.start()
    for t in creators:
        t.join()
    stop.set()
    tracer.join()
    assert errors == []


def test_concurrent_first_calls_trace_once():
    runs = []
    barrier = threading.Barrier(6)

    @tf.function
    def f(x):
        runs.append(1)   # the Python function runs once per trace
        return x * 3.0

    results = [None] * 6

    def call(k):
        barrier.wait()
        results[k] = f(tf.constant([float(k)])).numpy()

    threads = [threading.Thread(target=call, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert f.experimental_get_tracing_count() == 1 and len(runs) == 1
    for k, r in enumerate(results):
        np.testing.assert_array_equal(r, [3.0 * k])


def test_tapes_in_other_threads_do_not_see_a_trace():
    x = tf.constant(2.0)
    started, done = threading.Event(), threading.Event()

    @tf.function
    def slow(v):
        started.set()
        done.wait(5)
        return v * v

    worker = threading.Thread(target=lambda: slow(tf.constant(1.0)))
    worker.start()
    started.wait(5)
    with tf.GradientTape() as tape:   # this thread records eagerly while the other traces
        tape.watch(x)
        y = x * x
    done.set()
    worker.join()
    assert float(tape.gradient(y, x)) == 4.0


def test_the_generated_source_is_dropped_with_the_program():
    def make():
        f = tf.function(lambda x: x + 1.0)
        f(tf.constant(1.0))
        return f._concrete[0]._run.__code__.co_filename

    filename = make()
    gc.collect()
    assert filename not in linecache.cache
    from tapegrad.core.source import generated
    assert filename not in generated


def test_tf_function_stays_the_decorator_after_the_compiler_loads():
    import tapegrad.compiler.function  # noqa: F401 - loading the compiler must not rebind tf.function
    assert callable(tf.function) and tf.function.__module__ == "tapegrad.compiler"
    assert tf.function(lambda x: x)(tf.constant(1.0)).numpy() == 1.0
