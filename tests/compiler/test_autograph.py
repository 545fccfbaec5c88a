"""AutoGraph: Python control flow on tensors inside tf.function, converted as TensorFlow 2.21 does.

Each construct is checked against the same function run eagerly as plain Python, over inputs
taking every branch and running loops 0, 1 and many times, with one trace; Python side
effects run at trace time (once per branch per trace); the errors are TF's.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError


def same_as_eager(f, *calls):
    """f (a tf.function) gives the eager Python function's results for each call's arguments."""
    for args in calls:
        args = args if isinstance(args, tuple) else (args,)
        expected = f.python_function(*args)
        got = f(*args)
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6)


def count(f):
    return f.experimental_get_tracing_count()


# -- if -------------------------------------------------------------------------------------------

def test_if_else_on_a_tensor_takes_either_branch_in_one_trace():
    @tf.function
    def f(x):
        if tf.reduce_sum(x) > 0:
            y = x * 2
        else:
            y = -x
        return y

    same_as_eager(f, tf.constant([1.0, 2.0]), tf.constant([-1.0, -2.0]), tf.constant([3.0, -1.0]))
    assert count(f) == 1


def test_elif_chain_and_nested_ifs():
    @tf.function
    def f(x):
        if x > 10:
            y = x * 3
        elif x > 5:
            if x > 7:
                y = x + 100
            else:
                y = x - 100
        elif x < -5:
            y = x * 0
        else:
            y = x
        return y

    same_as_eager(f, *[tf.constant(v) for v in (11.0, 8.0, 6.0, -6.0, 0.0)])
    assert count(f) == 1


def test_if_without_else_keeps_the_value_from_before():
    @tf.function
    def f(x):
        y = x
        if x < 0:
            y = -x
        return y

    same_as_eager(f, tf.constant(-3.0), tf.constant(4.0))
    assert count(f) == 1


def test_both_branches_are_traced_once_per_trace():
    traced = []

    @tf.function
    def f(x):
        if x > 0:
            traced.append("if")
            y = x + 1
        else:
            traced.append("else")
            y = x - 1
        return y

    assert float(f(tf.constant(1.0))) == 2.0
    assert float(f(tf.constant(-1.0))) == -2.0
    assert traced == ["if", "else"]
    assert count(f) == 1


def test_a_python_condition_traces_only_the_branch_taken():
    traced = []

    @tf.function
    def f(x, training):
        if training:
            traced.append("training")
            x = x * 0.5
        else:
            traced.append("inference")
        return x

    assert float(f(tf.constant(4.0), True)) == 2.0
    assert float(f(tf.constant(4.0), False)) == 4.0
    assert traced == ["training", "inference"]


def test_python_numbers_assigned_in_branches_become_tensors():
    @tf.function
    def f(x):
        if x > 0:
            y = 1
        else:
            y = 2
        return y

    assert int(f(tf.constant(3.0))) == 1 and int(f(tf.constant(-3.0))) == 2
    assert f(tf.constant(1.0)).dtype == tf.int32
    assert count(f) == 1


def test_a_symbol_set_in_one_branch_only_and_used_after_is_tfs_error():
    @tf.function
    def only_if(x):
        if x > 0:
            y = x
        return y

    @tf.function
    def only_else(x):
        if x > 0:
            pass
        else:
            y = x
        return y

    with pytest.raises(ValueError, match="'y' must also be initialized in the else branch"):
        only_if(tf.constant(1.0))
    with pytest.raises(ValueError, match="'y' must also be initialized in the if branch"):
        only_else(tf.constant(1.0))


def test_a_symbol_set_in_one_branch_and_not_used_after_is_fine():
    @tf.function
    def f(x):
        if x > 0:
            unused = x * 2
            z = unused + 1
        else:
            z = x
        return z

    same_as_eager(f, tf.constant(1.0), tf.constant(-1.0))


def test_branches_of_different_dtypes_name_the_symbol():
    @tf.function
    def f(x):
        if x > 0:
            y = 1
        else:
            y = 2.0
        return y

    with pytest.raises(TypeError, match="'y' has dtype int32 in the main branch, but dtype float32 in the "
                                        "else branch"):
        f(tf.constant(1.0))


def test_return_inside_a_tensor_if():
    @tf.function
    def relu(x):
        if x > 0:
            return x
        return 0.0

    @tf.function
    def sign(x):
        if x > 0:
            return 1.0
        elif x < 0:
            return -1.0
        else:
            return 0.0

    same_as_eager(relu, tf.constant(3.0), tf.constant(-3.0))
    same_as_eager(sign, tf.constant(3.0), tf.constant(-3.0), tf.constant(0.0))
    assert count(relu) == 1 and count(sign) == 1


def test_a_return_in_one_branch_only_is_tfs_error():
    @tf.function
    def f(x):
        if x > 0:
            return x

    with pytest.raises(ValueError, match="the else branch must also have a return statement"):
        f(tf.constant(1.0))


def test_code_after_a_conditional_return_is_guarded():
    @tf.function
    def f(x):
        y = x
        if x > 10:
            return x * 0
        y = y + 1
        if y > 5:
            return y * 10
        y = y + 1
        return y

    same_as_eager(f, *[tf.constant(v) for v in (11.0, 5.0, 1.0)])
    assert count(f) == 1


def test_a_tensor_condition_must_be_a_scalar_bool():
    @tf.function
    def f(x):
        if x:
            x = x + 1
        return x

    with pytest.raises(ValueError, match="condition of if statement expected to be `tf.bool` scalar"):
        f(tf.constant(1.0))


# -- expressions ------------------------------------------------------------------------------

def test_conditional_expression_on_a_tensor():
    @tf.function
    def f(x):
        return x * 2 if x > 0 else -x

    same_as_eager(f, tf.constant(2.0), tf.constant(-2.0))
    assert count(f) == 1


def test_and_or_not_on_tensors_are_lazy_conds():
    @tf.function
    def f(x, y):
        if x > 0 and y > 0:
            r = 1.0
        elif x > 0 or not y > 0:
            r = 2.0
        else:
            r = 3.0
        return r

    same_as_eager(f, *[(tf.constant(a), tf.constant(b)) for a in (1.0, -1.0) for b in (1.0, -1.0)])
    assert count(f) == 1


def test_and_or_keep_python_short_circuits():
    calls = []

    def side(v):
        calls.append(v)
        return v

    @tf.function
    def f(x, flag):
        if flag and side(True):
            x = x + 1
        if flag or side(False):
            x = x + 10
        return x

    assert float(f(tf.constant(0.0), False)) == 0.0
    assert calls == [False]       # `False and ...` never called side; `False or side(False)` did


def test_not_on_a_python_value_is_python():
    @tf.function
    def f(x, skip):
        if not skip:
            x = x + 1
        return x

    assert float(f(tf.constant(1.0), False)) == 2.0 and float(f(tf.constant(1.0), True)) == 1.0


# -- while --------------------------------------------------------------------------------------

def test_while_on_a_tensor_runs_zero_one_and_many_times_in_one_trace():
    @tf.function
    def f(n):
        i = tf.constant(0)
        s = tf.constant(0)
        while i < n:
            s += i
            i += 1
        return s

    same_as_eager(f, *[tf.constant(v) for v in (0, 1, 2, 10)])
    assert count(f) == 1


def test_python_numbers_as_loop_variables_become_tensors():
    @tf.function
    def f(n):
        i = 0
        total = 0.0
        while i < n:
            total += 0.5
            i += 1
        return i, total

    for n in (0, 3):
        i, total = f(tf.constant(n))
        assert int(i) == n and float(total) == 0.5 * n
    assert count(f) == 1


def test_a_tensor_while_loop_prints_each_iteration_when_it_runs(capsys):
    @tf.function
    def halve_until_small(x):
        while tf.reduce_max(x) > 0.5:
            tf.print(x, output_stream=sys.stdout)
            x = x * 0.5
        return x

    result = halve_until_small(tf.constant([4.0, 2.0]))
    assert capsys.readouterr().out.splitlines() == ["[4 2]", "[2 1]", "[1 0.5]"]
    np.testing.assert_allclose(result.numpy(), [0.5, 0.25])
    halve_until_small(tf.constant([0.1, 0.1]))
    assert capsys.readouterr().out == ""      # the loop ran 0 times: nothing printed
    assert count(halve_until_small) == 1


def test_while_with_break_continue_and_else():
    @tf.function
    def f(n):
        i = tf.constant(0)
        s = tf.constant(0)
        hit = tf.constant(False)
        while i < 20:
            i += 1
            if i % 3 == 0:
                continue
            if i > n:
                break
            s += i
        else:
            hit = tf.constant(True)
        return s, hit

    same_as_eager(f, *[tf.constant(v) for v in (0, 4, 7, 30)])
    assert count(f) == 1


def test_a_python_while_unrolls():
    traced = []

    @tf.function
    def f(x):
        i = 0
        while i < 3:
            traced.append(i)
            x = x * 2
            i += 1
        return x

    assert float(f(tf.constant(1.0))) == 8.0
    assert traced == [0, 1, 2]


def test_a_python_while_whose_condition_becomes_a_tensor_stages_the_rest():
    @tf.function
    def f(x):
        n = 3
        while n > 0:
            n = n - x           # a tensor from the first iteration on
            x = x + 1
        return x

    same_as_eager(f, tf.constant(0.5), tf.constant(2.0), tf.constant(5.0))


def test_a_loop_variable_changing_dtype_is_tfs_error():
    @tf.function
    def f(n):
        x = tf.constant(0)
        while x < n:
            x = tf.cast(x, tf.float32) + 1.0
        return x

    with pytest.raises(TypeError, match="'x' has dtype int32 before the loop, but dtype float32 after one "
                                        "iteration"):
        f(tf.constant(3))


def test_a_loop_variable_changing_shape_is_tfs_error():
    @tf.function
    def f(x):
        while tf.reduce_sum(x) < 10.0:
            x = tf.concat([x, x], 0)
        return x

    with pytest.raises(ValueError, match=r"'x' has shape \(1,\) before the loop, but shape \(2,\) after one "
                                         r"iteration. Use tf.autograph.experimental.set_loop_options to set "
                                         r"shape invariants."):
        f(tf.constant([1.0]))


def test_a_symbol_read_in_the_loop_before_being_defined_is_tfs_error():
    @tf.function
    def f(n):
        i = tf.constant(0)
        while i < n:
            y = y + 1  # noqa: F821 - read before assignment, on purpose
            i += 1
        return y

    with pytest.raises(ValueError, match="'y' must be defined before the loop"):
        f(tf.constant(3))


def test_a_symbol_first_defined_in_the_loop_body_and_used_after():
    # TF 2.21 traces one iteration to learn its type and starts it as zeros; the loop must run
    @tf.function
    def f(n):
        i = tf.constant(0)
        while i < n:
            last = i * 10
            i += 1
        return last

    assert int(f(tf.constant(3))) == 20 and int(f(tf.constant(1))) == 0
    with pytest.raises(InvalidArgumentError, match="loop must iterate at least once to initialize last"):
        f(tf.constant(0))
    assert count(f) == 1


def test_set_loop_options_maximum_iterations():
    @tf.function
    def f(n):
        i = tf.constant(0)
        while i < n:
            tf.autograph.experimental.set_loop_options(maximum_iterations=5)
            i += 1
        return i

    assert int(f(tf.constant(3))) == 3 and int(f(tf.constant(100))) == 5
    assert "set_loop_options" not in tf.autograph.to_code(f)          # moved onto the loop
    assert "{'maximum_iterations': 5}" in tf.autograph.to_code(f)


def test_set_loop_options_shape_invariants():
    @tf.function
    def f(x):
        while tf.reduce_sum(x) < 10.0:
            tf.autograph.experimental.set_loop_options(shape_invariants=[(x, tf.TensorShape([None]))])
            x = tf.concat([x, x], 0)
        return x

    assert f(tf.constant([1.0])).shape == (16,)
    assert f(tf.constant([3.0])).shape == (4,)


def test_a_shape_invariant_the_initial_value_does_not_fit_is_tfs_error():
    from tapegrad.autograph.experimental import set_loop_options

    @tf.function
    def f(x):
        while tf.reduce_sum(x) < 10.0:
            set_loop_options(shape_invariants=[(x, tf.TensorShape([None, 3]))])
            x = x * 2
        return x

    with pytest.raises(ValueError, match=r"'x' has shape \(1,\) before the loop, which does not conform "
                                         r"with the shape invariant \(None, 3\)"):
        f(tf.constant([1.0]))


def test_variable_updates_in_converted_branches_and_loops_run_when_the_function_runs():
    v = tf.Variable(0.0)
    hits = tf.Variable(0)

    @tf.function
    def f(x):
        for row in x:
            if tf.reduce_sum(row) > 0:
                v.assign_add(tf.reduce_sum(row))
            else:
                hits.assign_add(1)
        while v > 10.0:
            v.assign(v / 2.0)
        return v.read_value()

    assert float(f(tf.constant([[1.0, 2.0], [-1.0, -1.0], [4.0, 0.0]]))) == 7.0 and int(hits.numpy()) == 1
    assert float(f(tf.constant([[5.0, 5.0], [-1.0, -1.0], [0.0, 0.0]]))) == 8.5 and int(hits.numpy()) == 3
    assert count(f) == 1


def test_gradients_through_converted_control_flow():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            while tf.reduce_sum(y) < 100.0:
                y = y * 2.0
            if tf.reduce_sum(y) > 150.0:
                y = y * y
        return tape.gradient(y, x)

    same_as_eager(f, tf.constant([1.0, 2.0]), tf.constant([30.0, 40.0]), tf.constant([50.0, 60.0]))


def test_nested_tensor_loops_with_breaks():
    @tf.function
    def f(x):
        total = tf.constant(0.0)
        for row in x:
            for v in row:
                if v < 0:
                    break
                total += v
            if total > 100:
                break
        return total

    same_as_eager(f, tf.constant([[1.0, 2.0, -1.0, 5.0], [3.0, 4.0, 5.0, 6.0]]),
                  tf.constant([[100.0, 2.0, -1.0, 5.0], [3.0, 4.0, 5.0, 6.0]]))
    assert count(f) == 1


def test_state_declared_nonlocal_in_the_function():
    def make():
        total = tf.constant(0.0)

        def add(x):
            nonlocal total
            if x > 0:
                total = total + x
            return total
        return add

    assert float(tf.function(make())(tf.constant(2.0))) == 2.0
    assert float(tf.function(make())(tf.constant(-2.0))) == 0.0


# -- for ---------------------------------------------------------------------------------------------

def test_for_over_a_tensor_iterates_its_rows_in_a_while_loop():
    @tf.function
    def f(x):
        s = tf.zeros([2])
        for row in x:
            s += row * row
        return s

    same_as_eager(f, tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
                  tf.constant([[7.0, 8.0], [9.0, 1.0], [0.0, 2.0]]))
    assert count(f) == 1
    same_as_eager(f, tf.zeros([0, 2]), tf.ones([1, 2]))


def test_for_over_a_tensor_with_break_continue_and_else():
    @tf.function
    def f(x):
        s = tf.constant(0.0)
        done = tf.constant(False)
        for v in x:
            if v < 0:
                break
            if v > 10:
                continue
            s += v
        else:
            done = tf.constant(True)
        return s, done

    same_as_eager(f, tf.constant([1.0, 20.0, 2.0, -1.0, 5.0]), tf.constant([3.0, 4.0, 50.0, 1.0, 1.0]))
    assert count(f) == 1


def test_for_over_enumerate_and_zip_of_tensors():
    @tf.function
    def f(x, y):
        s = tf.constant(0.0)
        for i, (a, b) in enumerate(zip(x, y)):
            s += tf.cast(i, tf.float32) * a * b
        return s

    same_as_eager(f, (tf.constant([1.0, 2.0, 3.0]), tf.constant([4.0, 5.0, 6.0])))
    assert float(f(tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 1.0, 1.0]))) == 8.0
    assert count(f) == 1


def test_len_of_a_tensor_is_its_static_first_dimension():
    @tf.function
    def f(x):
        return x * len(x)

    np.testing.assert_allclose(f(tf.ones([3])).numpy(), [3.0, 3.0, 3.0])


def test_for_over_a_python_list_unrolls():
    traced = []

    @tf.function
    def f(x, scales):
        for s in scales:
            traced.append(s)
            x = x * s
        return x

    assert float(f(tf.constant(1.0), [2.0, 3.0])) == 6.0
    assert traced == [2.0, 3.0]


def test_a_return_inside_a_tensor_loop_is_tfs_error():
    @tf.function
    def f(x):
        for v in x:
            if v > 2:
                return v
        return -1.0

    with pytest.raises(NotImplementedError,
                       match="a return statement cannot be placed inside this TensorFlow loop"):
        f(tf.constant([1.0, 3.0]))


def test_a_tensor_break_in_a_python_loop_guards_the_remaining_iterations():
    @tf.function
    def f(x):
        s = tf.constant(0.0)
        for k in [1.0, 2.0, 3.0, 4.0]:
            if s + k > x:
                break
            s += k
        return s

    same_as_eager(f, *[tf.constant(v) for v in (0.5, 3.5, 100.0)])
    assert count(f) == 1


def test_for_over_a_dataset_runs_the_function_eagerly():
    ds = tf.data.Dataset.from_tensor_slices(tf.constant([1.0, 2.0, 3.0]))

    @tf.function
    def f(d):
        s = tf.constant(0.0)
        for v in d:
            s += v
        return s

    assert float(f(ds)) == 6.0


def test_a_loop_over_a_python_list_unrolls_one_copy_per_item():
    @tf.function
    def total_gap(pairs):
        total = tf.constant(0)
        for a, b in pairs:
            total += tf.abs(a - b)
        return total

    assert int(total_gap([(2, 2)] * 3)) == 0 and int(total_gap([(1, 3), (5, 2)])) == 5
    # one copy of the body per item (tensors here: Python numbers fold while tracing)
    one = tf.constant(1)
    short = len(total_gap.get_concrete_function([(one, one)] * 3).graph.eqns)
    long = len(total_gap.get_concrete_function([(one, one)] * 10).graph.eqns)
    assert long > short > 0


def label_by_divisors(i):
    """An if/elif chain on a tensor: each branch prints once when traced, tf.print each run."""
    if i % 6 == 0:
        print("traced: six")
        tf.print("six", output_stream=sys.stdout)
    elif i % 2 == 0:
        print("traced: two")
        tf.print("two", output_stream=sys.stdout)
    elif i % 3 == 0:
        print("traced: three")
        tf.print("three", output_stream=sys.stdout)
    else:
        print("traced: other")
        tf.print(i, output_stream=sys.stdout)


TRACED_BRANCHES = ["traced: six", "traced: two", "traced: three", "traced: other"]


def test_a_loop_over_a_tensor_traces_each_branch_once(capsys):
    @tf.function
    def label_all(numbers):
        for i in numbers:
            print("traced: loop")
            label_by_divisors(i)

    label_all(tf.range(1, 8))
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == ["traced: loop"] + TRACED_BRANCHES
    assert out[5:] == ["1", "two", "three", "two", "5", "six", "7"]
    label_all(tf.range(8, 15))                 # the same signature: no new trace, nothing printed by Python
    assert capsys.readouterr().out.splitlines() == ["two", "three", "two", "11", "six", "13", "two"]
    assert count(label_all) == 1


def test_a_loop_over_tf_range_of_a_traced_limit(capsys):
    @tf.function
    def label_up_to(n):
        for i in tf.range(1, n + 1):
            print("traced: loop")
            label_by_divisors(i)

    label_up_to(tf.constant(3))
    label_up_to(tf.constant(12))
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == ["traced: loop"] + TRACED_BRANCHES
    assert out[5:8] == ["1", "two", "three"] and out[-1] == "six" and len(out) == 5 + 3 + 12
    assert count(label_up_to) == 1


def test_a_running_total_accumulates_in_a_tensor_array():
    @tf.function
    def running_total(steps, start):
        """steps: [time, features]; a static length from the shape, one loop step per row."""
        totals = tf.TensorArray(tf.float32, size=steps.shape[0])
        total = start
        for t in tf.range(steps.shape[0]):
            total = total + steps[t]
            totals = totals.write(t, total)
        return totals.stack()

    @tf.function
    def running_total_of_length(steps, start, n):
        totals = tf.TensorArray(tf.float32, size=n)
        total = start
        for t in tf.range(n):              # a traced length: a tf.while_loop carrying the TensorArray
            total = total + steps[t]
            totals = totals.write(t, total)
        return totals.stack()

    x = tf.random.uniform([3, 4])
    expected = np.cumsum(x.numpy(), axis=0)
    np.testing.assert_allclose(running_total(x, tf.zeros([4])).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(running_total_of_length(x, tf.zeros([4]), tf.constant(3)).numpy(), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(running_total_of_length(x, tf.zeros([4]), tf.constant(2)).numpy(),
                               expected[:2], rtol=1e-5)
    assert count(running_total_of_length) == 1
