"""tf.linalg's inverses, solves, determinants and decompositions against values recorded from
TensorFlow 2.21 (tests/fixtures/tf_sorting_linalg.json): results, dtypes, batched shapes, gradients."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import tapegrad as tf

REF = json.loads((pathlib.Path(__file__).parents[1] / "fixtures" / "tf_sorting_linalg.json").read_text())
A, B, S, M, W = (np.array(REF[f"inputs.{k}"]) for k in "ABSMW")


def expect(name, got, atol=1e-10):
    ref = REF[name]
    got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
    assert got.dtype.name == ref["dtype"], name
    assert list(got.shape) == ref["shape"], name
    np.testing.assert_allclose(got, np.array(ref["value"]), atol=atol, rtol=1e-8, err_msg=name)


@pytest.mark.parametrize("name, f", [
    ("inv", lambda: tf.linalg.inv(A)), ("inv.adjoint", lambda: tf.linalg.inv(A, adjoint=True)),
    ("solve", lambda: tf.linalg.solve(A, B)), ("solve.adjoint", lambda: tf.linalg.solve(A, B, adjoint=True)),
    ("det", lambda: tf.linalg.det(A)), ("logdet", lambda: tf.linalg.logdet(S)),
    ("cholesky", lambda: tf.linalg.cholesky(S)),
    ("cholesky_solve", lambda: tf.linalg.cholesky_solve(tf.linalg.cholesky(S), B)),
    ("triangular_solve", lambda: tf.linalg.triangular_solve(A, B)),
    ("triangular_solve.upper_adj", lambda: tf.linalg.triangular_solve(A, B, lower=False, adjoint=True)),
    ("eigvalsh", lambda: tf.linalg.eigvalsh(A)), ("svd.s", lambda: tf.linalg.svd(M, compute_uv=False)),
    ("lstsq", lambda: tf.linalg.lstsq(M, np.arange(8.).reshape(4, 2))),
    ("lstsq.l2", lambda: tf.linalg.lstsq(M, np.arange(8.).reshape(4, 2), l2_regularizer=0.5)),
    ("pinv", lambda: tf.linalg.pinv(M)),
    ("pinv.singular", lambda: tf.linalg.pinv(np.array([[1., 2.], [2., 4.]]))),
    ("band_part", lambda: tf.linalg.band_part(M, 1, 0)), ("diag_part", lambda: tf.linalg.diag_part(M)),
    ("trace", lambda: tf.linalg.trace(A)), ("diag", lambda: tf.linalg.diag(B[..., 0])),
    ("set_diag", lambda: tf.linalg.set_diag(M, [9., 8., 7.])), ("adjoint", lambda: tf.linalg.adjoint(M)),
    ("matvec", lambda: tf.linalg.matvec(A, B[..., 0])),
])
def test_values_match_tf(name, f):
    expect(name, f())


def test_slogdet_is_a_named_pair():
    result = tf.linalg.slogdet(A - 3 * np.eye(3))
    expect("slogdet.0", result.sign)
    expect("slogdet.1", result.log_abs_determinant)


def test_eigh_and_svd_up_to_the_signs_of_vectors():
    e, v = tf.linalg.eigh(S)
    expect("eigh.0", e)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(np.array(REF["eigh.1"]["value"])), atol=1e-10)
    for name, full in (("svd", False), ("svd.full", True)):
        s, u, vv = tf.linalg.svd(M, full_matrices=full)
        expect(f"{name}.0", s)
        for got, k in ((u, 1), (vv, 2)):
            assert list(got.shape) == REF[f"{name}.{k}"]["shape"]
        k = 3 if not full else None
        want_u = np.abs(np.array(REF[f"{name}.1"]["value"]))
        np.testing.assert_allclose(np.abs(u.numpy()[:, :k]), want_u[:, :k], atol=1e-10)
        want_v = np.abs(np.array(REF[f"{name}.2"]["value"]))
        np.testing.assert_allclose(np.abs(vv.numpy()), want_v, atol=1e-10)


@pytest.mark.parametrize("name, x, full", [("qr", M, False), ("qr.full", M, True), ("qr.wide", W, False)])
def test_qr_matches_tf(name, x, full):
    q, r = tf.linalg.qr(x, full_matrices=full)
    assert list(q.shape) == REF[f"{name}.0"]["shape"]
    assert list(r.shape) == REF[f"{name}.1"]["shape"]
    np.testing.assert_allclose(q.numpy() @ r.numpy(), x, atol=1e-12)
    k = min(x.shape)  # columns of q past min(m, n) are any orthonormal completion
    np.testing.assert_allclose(np.abs(r.numpy()), np.abs(np.array(REF[f"{name}.1"]["value"])), atol=1e-10)
    want_q = np.abs(np.array(REF[f"{name}.0"]["value"]))
    np.testing.assert_allclose(np.abs(q.numpy()[:, :k]), want_q[:, :k], atol=1e-10)


def _grads(f, *xs):
    xs = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = f(*xs)
        ys = y if isinstance(y, (tuple, list)) else [y]
        loss = sum(tf.reduce_sum(tf.sin(tf.cast(tf.range(tf.size(z)), z.dtype) + 1.0) * tf.reshape(z, [-1]))
                   for z in ys)
    return tape.gradient(loss, xs)


@pytest.mark.parametrize("name, f, xs", [
    ("grad.inv", tf.linalg.inv, (A,)), ("grad.solve", tf.linalg.solve, (A, B)),
    ("grad.det", tf.linalg.det, (A,)), ("grad.slogdet", lambda a: tf.linalg.slogdet(a)[1], (A,)),
    ("grad.logdet", tf.linalg.logdet, (S,)), ("grad.cholesky", tf.linalg.cholesky, (S,)),
    ("grad.triangular_solve", tf.linalg.triangular_solve, (A, B)),
    ("grad.eigh", lambda a: (tf.linalg.eigh(a)[0], tf.abs(tf.linalg.eigh(a)[1])), (S,)),
    ("grad.svd_s", lambda a: tf.linalg.svd(a, compute_uv=False), (M,)),
    ("grad.svd", lambda a: [tf.linalg.svd(a)[0], tf.abs(tf.linalg.svd(a)[1]), tf.abs(tf.linalg.svd(a)[2])],
     (M,)),
    ("grad.qr", lambda a: list(tf.linalg.qr(a)), (M,)),
    ("grad.qr_wide", lambda a: list(tf.linalg.qr(a)), (W,)),
    ("grad.pinv", tf.linalg.pinv, (M,)),
    ("grad.lstsq", lambda a: tf.linalg.lstsq(a, np.arange(8.).reshape(4, 2)), (M,)),
])
def test_gradients_match_tf(name, f, xs):
    for k, g in enumerate(_grads(f, *xs)):
        expect(f"{name}.{k}", g, atol=1e-8)


def test_float32_results_and_batched_shapes():
    a = tf.constant(A, tf.float32)
    assert tf.linalg.inv(a).dtype == tf.float32 and tf.linalg.det(a).shape == [2]
    assert tf.linalg.svd(tf.ones([5, 4, 3]))[1].shape == [5, 4, 3]
    q, r = tf.linalg.qr(tf.ones([2, 4, 3]))
    assert q.shape == [2, 4, 3] and r.shape == [2, 3, 3]


def test_errors_name_the_op():
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        tf.linalg.inv([[1., 2.], [2., 4.]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Cholesky decomposition was not successful"):
        tf.linalg.cholesky([[1., 2.], [2., 1.]])
    with pytest.raises(TypeError, match="matrix_inverse"):
        tf.linalg.inv(tf.constant([[1, 0], [0, 1]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="square"):
        tf.linalg.det(tf.ones([2, 3]))


def test_traced_function_gives_the_eager_result():
    @tf.function
    def f(a, b):
        s = tf.linalg.svd(a)[0]
        return tf.linalg.solve(a, b), s, tf.linalg.cholesky(tf.matmul(a, a, transpose_b=True))
    a, b = tf.constant(A), tf.constant(B)
    for got, want in zip(f(a, b), (tf.linalg.solve(a, b), tf.linalg.svd(a)[0],
                                   tf.linalg.cholesky(tf.matmul(a, a, transpose_b=True)))):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)
