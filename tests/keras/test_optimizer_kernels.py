"""The fused numba updates (tapegrad/keras/optimizers/kernels.py): bit for bit the NumPy path's
values, for every option of each fused formula, float32 and float64; the switch and the
fallbacks (no numba, optimizers without a fused loop). tests/keras/test_optimizers.py runs all
its tests on both paths (sparse gradients, clipping, decay, accumulation, EMA included)."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.keras.optimizers import Optimizer, kernels

K = tf.keras.optimizers
needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba is not installed (the `fast` extra): no fused updates")

FUSED = {
    "sgd": lambda: K.SGD(0.1),
    "sgd_momentum": lambda: K.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: K.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: K.Adam(0.1),
    "adam_amsgrad": lambda: K.Adam(0.1, amsgrad=True),
    "adamw_amsgrad": lambda: K.AdamW(0.05, weight_decay=0.1, amsgrad=True),
    "rmsprop": lambda: K.RMSprop(0.01),
    "rmsprop_momentum": lambda: K.RMSprop(0.01, momentum=0.5),
    "rmsprop_centered": lambda: K.RMSprop(0.01, centered=True),
    "rmsprop_centered_momentum": lambda: K.RMSprop(0.01, rho=0.8, momentum=0.3, centered=True),
}


@pytest.fixture
def fused_switch():
    """Sets the switch for the test; restores it afterwards."""
    before = tf.config.fused_kernels_enabled()
    yield tf.config.set_fused_kernels
    tf.config.set_fused_kernels(before)


@pytest.fixture
def no_numpy_path(monkeypatch):
    """The blocked NumPy update fails: a test passing with it ran the fused loop."""
    def refuse(self, dtype):
        raise AssertionError("the NumPy update path ran")
    monkeypatch.setattr(Optimizer, "_scratch_block", refuse)


def four_steps(make, fused: bool, w0, grads):
    tf.config.set_fused_kernels(fused)
    w = tf.Variable(w0)
    opt = make()
    for g in grads:
        opt.apply_gradients([(tf.constant(g), w)])
    return w.numpy(), [s.numpy() for s in opt.variables[2:]]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(FUSED))
def test_fused_values_equal_the_numpy_path_bit_for_bit(case, dtype, fused_switch):
    rng = np.random.default_rng(7)
    n = 70_001  # several NumPy blocks and a ragged last one against one fused loop
    w0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) * scale for scale in (1.0, 0.01, 30.0, 1.0)]
    want_w, want_slots = four_steps(FUSED[case], False, w0, grads)
    got_w, got_slots = four_steps(FUSED[case], True, w0, grads)
    assert got_w.dtype == dtype
    np.testing.assert_array_equal(got_w, want_w)
    for got, want in zip(got_slots, want_slots, strict=True):
        np.testing.assert_array_equal(got, want)


@needs_numba
@pytest.mark.parametrize("case", sorted(FUSED))
def test_the_fused_loop_replaces_the_numpy_update(case, fused_switch, no_numpy_path):
    fused_switch(True)
    w = tf.Variable(np.ones((3, 5), np.float32))
    FUSED[case]().apply_gradients([(tf.ones((3, 5)), w)])
    assert np.all(w.numpy() < 1.0)


@needs_numba
def test_amsgrad_propagates_nan_as_numpy_maximum(fused_switch):
    grads = [np.array([1.0, np.nan, 2.0], np.float32), np.array([np.nan, 1.0, 1.0], np.float32)]
    make = FUSED["adam_amsgrad"]
    w0 = np.zeros(3, np.float32)
    want, got = four_steps(make, False, w0, grads), four_steps(make, True, w0, grads)
    np.testing.assert_array_equal(got[0], want[0])  # equal_nan: NaN where NumPy has NaN
    np.testing.assert_array_equal(got[1][2], want[1][2])


@pytest.mark.parametrize("make", [lambda: K.Adamax(0.1), lambda: K.Nadam(0.1), lambda: K.Adagrad(0.1),
                                  lambda: K.Lion(0.1)], ids=["adamax", "nadam", "adagrad", "lion"])
def test_optimizers_without_a_fused_loop_update_with_numpy(make, fused_switch):
    fused_switch(True)
    w = tf.Variable(np.ones(4, np.float32))
    opt = make()
    opt.apply_gradients([(tf.ones(4), w)])
    # Adamax and Nadam subclass Adam but override its update: not Adam's loop
    assert getattr(type(opt)._update_dense, "fused_kernel", None) is None
    assert np.all(w.numpy() < 1.0)


def test_a_subclass_with_its_own_update_dense_is_not_fused(fused_switch, no_numpy_path):
    class HalfAdam(K.Adam):
        def _update_dense(self, w, g, slots, s, factors):
            w -= 0.5 * g

    fused_switch(True)
    w = tf.Variable(np.ones(2, np.float32))
    with pytest.raises(AssertionError, match="NumPy update path ran"):
        HalfAdam().apply_gradients([(tf.ones(2), w)])


def test_switch_off_or_no_numba_falls_back_to_numpy(fused_switch, monkeypatch):
    fused_switch(False)
    assert kernels.get("adam", np.float32) is None and not kernels.active()
    fused_switch(True)
    monkeypatch.setattr(kernels, "_numba", False)  # as if numba failed to import
    monkeypatch.setattr(kernels, "_compiled", {})
    assert kernels.get("adam", np.float32) is None and not kernels.active()
    w = tf.Variable([1.0, 2.0])
    K.Adam(0.1).apply_gradients([(tf.constant([1.0, 1.0]), w)])
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9], rtol=1e-6)


def test_float16_variables_update_with_numpy(fused_switch):
    fused_switch(True)
    w = tf.Variable(np.ones(3, np.float16), dtype=tf.float16)
    K.Adam(0.1).apply_gradients([(tf.constant(np.ones(3, np.float16)), w)])
    assert w.dtype == tf.float16
    np.testing.assert_allclose(w.numpy(), 0.9, rtol=1e-3)


def test_import_does_not_load_numba_and_the_environment_switch():
    code = ("import sys, tapegrad as tf; print('numba' in sys.modules, tf.config.fused_kernels_enabled())")
    env = dict(os.environ, TAPEGRAD_FUSED_KERNELS="0")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["False", "False"]
