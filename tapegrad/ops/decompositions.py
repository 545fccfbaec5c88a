"""Matrix decompositions: cholesky, eigh, svd and qr as primitives, with pinv and lstsq composed.

A primitive has one result, so a decomposition with several (eigh's values and vectors) is one
primitive whose result packs them along the row axis, and the public function slices them
apart: the factorisation runs once and its vjp sees every factor and every cotangent.
"""
from __future__ import annotations

import collections

import numpy as np

from ..core.aval import ShapedArray, dims
from ..core.op import REAL, defop
from ..core.tensor import Tensor
from .array import concat, expand_dims
from .creation import eye
from .inverse import SPD, _tensor, check_float, matrix_triangular_solve, square_type, working
from .linalg import matmul, matrix_band_part, matrix_diag_part, matrix_set_diag, matrix_transpose

__all__ = ["cholesky", "eigh", "eigvalsh", "svd", "qr", "pinv", "lstsq"]

Qr = collections.namedtuple("Qr", ["q", "r"])


def _t(x):
    return matrix_transpose(x)


def _off_diagonal_reciprocal(d):
    """f[..., i, j] = 1 / (d[j] - d[i]) off the diagonal, 0 on it (without dividing by zero)."""
    diff = expand_dims(d, -2) - expand_dims(d, -1)
    n = d.shape[-1]
    one = eye(n, dtype=d.dtype)
    return (1.0 - one) / (diff + one)


# -- cholesky --------------------------------------------------------------------------------------

def _phi(x):
    """The lower triangle with the diagonal halved."""
    low = matrix_band_part(x, -1, 0)
    return low - 0.5 * matrix_set_diag(low * 0.0, matrix_diag_part(low))


def _cholesky_vjp(g, out, a):
    p = _phi(matmul(out, g, transpose_a=True))
    x = matrix_triangular_solve(out, p, lower=True, adjoint=True)                # L⁻ᵀ P
    s = _t(matrix_triangular_solve(out, _t(x), lower=True, adjoint=True))        # L⁻ᵀ P L⁻¹
    return 0.5 * (s + _t(s))


def _cholesky_jvp(t, out, a):
    sym = 0.5 * (t + _t(t))
    x = matrix_triangular_solve(out, sym, lower=True)                             # L⁻¹ T
    inner = _t(matrix_triangular_solve(out, _t(x), lower=True))                   # L⁻¹ T L⁻ᵀ
    return matmul(out, _phi(inner))


@defop(vjp=(_cholesky_vjp,), jvp=(_cholesky_jvp,), saves="out", domain=(SPD,),
       shape=lambda input: square_type("cholesky", input),
       cases=[dict(shapes=((3, 3),)), dict(shapes=((2, 2, 2),))])
def cholesky(input):
    """The lower-triangular L with L Lᵀ = input, for each symmetric positive-definite matrix.

    The input is symmetrised first ((A + Aᵀ)/2, bit-identical for a symmetric A), so the gradient
    is TF's symmetric one and is the true derivative.

    >>> import tapegrad as tf
    >>> tf.linalg.cholesky([[4., 2.], [2., 2.]]).numpy()
    array([[2., 0.],
           [1., 1.]], dtype=float32)
    """
    square_type("cholesky", input)
    a = working(input)
    try:
        return np.linalg.cholesky((a + np.swapaxes(a, -1, -2)) / 2).astype(input.dtype)
    except np.linalg.LinAlgError:
        raise ValueError("Cholesky decomposition was not successful. The input might not be valid.") from None


# -- eigh ------------------------------------------------------------------------------------------

def _eigh_type(tensor):
    a = square_type("self_adjoint_eig", tensor)
    n = a.shape[-1]
    return ShapedArray(a.shape[:-2] + (n + 1, n), a.dtype)


def _eigh_vjp(g, out, a):
    e, v = out[..., 0, :], out[..., 1:, :]
    ge, gv = g[..., 0, :], g[..., 1:, :]
    inner = matrix_set_diag(_off_diagonal_reciprocal(e) * matmul(v, gv, transpose_a=True), ge)
    grad = matmul(v, matmul(inner, v, transpose_b=True))
    # the forward reads only the lower triangle: an off-diagonal entry stands for both
    grad = matrix_band_part(grad + _t(grad), -1, 0)
    return matrix_set_diag(grad, 0.5 * matrix_diag_part(grad))


@defop(vjp=(_eigh_vjp,), saves="out", domain=(REAL,), shape=_eigh_type,
       cases=[dict(shapes=((3, 3),)), dict(shapes=((2, 2, 2),))])
def self_adjoint_eig(tensor):
    """Eigenvalues (row 0, ascending) over eigenvectors (rows 1..n, as columns) of each symmetric
    matrix, packed in one [..., n + 1, n] result; only the lower triangle is read.

    >>> import tapegrad as tf
    >>> self_adjoint_eig(tf.constant([[2., 0.], [0., 1.]])).numpy()
    array([[1., 2.],
           [0., 1.],
           [1., 0.]], dtype=float32)
    """
    _eigh_type(tensor)
    e, v = np.linalg.eigh(working(tensor))
    return np.concatenate([e[..., None, :], v], axis=-2).astype(tensor.dtype)


def eigh(tensor, name=None):
    """(eigenvalues ascending, eigenvectors as columns) of each symmetric matrix (lower triangle read).

    >>> import tapegrad as tf
    >>> e, v = tf.linalg.eigh([[2., 1.], [1., 2.]])
    >>> e.numpy()
    array([1., 3.], dtype=float32)
    """
    packed = self_adjoint_eig(_tensor(tensor))
    return packed[..., 0, :], packed[..., 1:, :]


def eigvalsh(tensor, name=None):
    """The eigenvalues (ascending) of each symmetric matrix.

    >>> import tapegrad as tf
    >>> tf.linalg.eigvalsh([[2., 0.], [0., 1.]]).numpy()
    array([1., 2.], dtype=float32)
    """
    return eigh(tensor)[0]


# -- svd -------------------------------------------------------------------------------------------

def _svd_type(tensor):
    check_float("svd", tensor)
    if tensor.ndim < 2:
        raise ValueError(f"svd: input must be at least 2-D, got shape {list(tensor.shape)}")
    m, n = tensor.shape[-2:]
    k = min(m, n) if isinstance(m, int) and isinstance(n, int) else m if m == n else None
    return ShapedArray(tensor.shape[:-2] + (1 + m + n, k), tensor.dtype)


def _svd_vjp(g, out, a):
    m, n = dims(a)[-2:]
    s, u, v = out[..., 0, :], out[..., 1:1 + m, :], out[..., 1 + m:, :]
    gs, gu, gv = g[..., 0, :], g[..., 1:1 + m, :], g[..., 1 + m:, :]
    f = _off_diagonal_reciprocal(s * s)
    utgu = matmul(u, gu, transpose_a=True)
    vtgv = matmul(v, gv, transpose_a=True)
    j = f * (utgu - _t(utgu))
    k = f * (vtgv - _t(vtgv))
    s_row = expand_dims(s, -2)
    inner = matrix_set_diag(j * s_row + _t(s_row) * k, gs)
    grad = matmul(matmul(u, inner), v, transpose_b=True)
    if not (isinstance(m, int) and m == n):  # the parts outside the spans of u and v
        grad = grad + matmul((gu - matmul(u, utgu)) / s_row, v, transpose_b=True)
        grad = grad + matmul(u, (gv - matmul(v, vtgv)) / s_row, transpose_b=True)
    return grad


@defop(vjp=(_svd_vjp,), saves="inputs+out", domain=(REAL,), shape=_svd_type,
       cases=[dict(shapes=((3, 3),)), dict(shapes=((4, 2),)), dict(shapes=((2, 3),)),
              dict(shapes=((2, 3, 2),))])
def svd_packed(tensor):
    """The thin SVD a = u diag(s) vᵀ packed as rows [s; u; v] of a [..., 1 + m + n, min(m, n)] result.

    >>> import tapegrad as tf
    >>> svd_packed(tf.constant([[3., 0.], [0., 2.]])).numpy()[0]
    array([3., 2.], dtype=float32)
    """
    _svd_type(tensor)
    u, s, vt = np.linalg.svd(working(tensor), full_matrices=False)
    return np.concatenate([s[..., None, :], u, np.swapaxes(vt, -1, -2)], axis=-2).astype(tensor.dtype)


def _full_svd_type(tensor):
    thin = _svd_type(tensor)
    m, n = tensor.shape[-2:]
    width = max(m, n) if isinstance(m, int) and isinstance(n, int) else None
    return ShapedArray(thin.shape[:-1] + (width,), tensor.dtype)


@defop(nondiff="TF has no gradient for full_matrices=True with unequal rows and columns",
       shape=_full_svd_type, cases=[dict(shapes=((3, 2),))])
def svd_full(tensor):
    """The full SVD packed as rows [s; u; v], each padded with zeros to max(m, n) columns.

    >>> import tapegrad as tf
    >>> svd_full(tf.ones([3, 2])).shape
    TensorShape([6, 3])
    """
    _svd_type(tensor)
    u, s, vt = np.linalg.svd(working(tensor), full_matrices=True)
    w = max(tensor.shape[-2:])

    def wide(x):
        return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, w - x.shape[-1])])
    parts = [wide(s[..., None, :]), wide(u), wide(np.swapaxes(vt, -1, -2))]
    return np.concatenate(parts, axis=-2).astype(tensor.dtype)


def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """Singular values s (descending) and, with compute_uv, u and v with tensor = u diag(s) vᵀ.

    Returns (s, u, v) as TF: v is not transposed.

    >>> import tapegrad as tf
    >>> tf.linalg.svd([[3., 0.], [0., -2.]], compute_uv=False).numpy()
    array([3., 2.], dtype=float32)
    """
    tensor = _tensor(tensor)
    shape = tensor.shape
    m, n = shape[-2], shape[-1]
    k = None if m is None or n is None else min(m, n)
    if full_matrices and compute_uv and not (m is not None and m == n):
        packed = svd_full(tensor)
        return packed[..., 0, :k], packed[..., 1:1 + m, :m], packed[..., 1 + m:, :n]
    packed = svd_packed(tensor)
    if not compute_uv:
        return packed[..., 0, :]
    return packed[..., 0, :], packed[..., 1:1 + m, :], packed[..., 1 + m:, :]


# -- qr ----------------------------------------------------------------------------------------------

def _qr_type(input, full_matrices=False):
    check_float("qr", input)
    if input.ndim < 2:
        raise ValueError(f"qr: input must be at least 2-D, got shape {list(input.shape)}")
    m, n = input.shape[-2:]
    if not (isinstance(m, int) and isinstance(n, int)):
        return ShapedArray(input.shape[:-2] + (None, None), input.dtype)
    k = m if full_matrices else min(m, n)
    return ShapedArray(input.shape[:-2] + (m + k, max(k, n)), input.dtype)


def _upper_solve_right(x, r):
    """x R⁻ᵀ for upper-triangular R."""
    return _t(matrix_triangular_solve(r, _t(x), lower=False))


def _qr_grad_tall(q, r, dq, dr):
    qdq = matmul(q, dq, transpose_a=True)
    rdr = matmul(r, dr, transpose_b=True)
    low = matrix_band_part(qdq - _t(qdq) + rdr - _t(rdr), -1, 0)
    return matmul(q, dr + _upper_solve_right(low, r)) + _upper_solve_right(dq - matmul(q, qdq), r)


def _qr_vjp(g, out, a, full_matrices):
    m, n = dims(a)[-2:]
    k = m if full_matrices else min(m, n)
    q, r = out[..., :m, :k], out[..., m:, :n]
    dq, dr = g[..., :m, :k], g[..., m:, :n]
    if m >= n:
        if full_matrices and m > n:
            raise NotImplementedError("QrGrad not implemented when nrows > ncols and full_matrices is true.")
        return _qr_grad_tall(q, r, dq, dr)
    # wide: a = [x | y] with x = q u square, r = [u | qᵀ y]
    y, dv = a[..., :, m:], dr[..., :, m:]
    dx = _qr_grad_tall(q, r[..., :, :m], dq + matmul(y, dv, transpose_b=True), dr[..., :, :m])
    return concat([dx, matmul(q, dv)], axis=-1)


@defop(vjp=(_qr_vjp,), saves="inputs+out", domain=(REAL,), shape=_qr_type,
       cases=[dict(shapes=((3, 3),)), dict(shapes=((4, 2),)), dict(shapes=((2, 3),)),
              dict(shapes=((2, 2, 2),), params=dict(full_matrices=True))])
def qr_packed(input, full_matrices=False):
    """q over r in one [..., m + k, max(k, n)] result (each padded with zero columns to that width).

    >>> import tapegrad as tf
    >>> qr_packed(tf.eye(2)).shape
    TensorShape([4, 2])
    """
    _qr_type(input, full_matrices)
    q, r = np.linalg.qr(working(input), mode="complete" if full_matrices else "reduced")
    w = max(q.shape[-1], r.shape[-1])
    q, r = (np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, w - x.shape[-1])]) for x in (q, r))
    return np.concatenate([q, r], axis=-2).astype(input.dtype)


def qr(input, full_matrices=False, name=None):
    """The QR decomposition of each innermost matrix: Qr(q, r) with q orthonormal columns and r
    upper triangular.

    >>> import tapegrad as tf
    >>> q, r = tf.linalg.qr([[3., 0.], [4., 1.]])
    >>> abs(r.numpy()[0, 0])
    np.float32(5.0)
    """
    input = _tensor(input)
    m, n = input.shape[-2], input.shape[-1]
    k = m if full_matrices else min(m, n)
    packed = qr_packed(input, full_matrices=bool(full_matrices))
    return Qr(packed[..., :m, :k], packed[..., m:, :n])


# -- composed ----------------------------------------------------------------------------------------

def pinv(a, rcond=None, validate_args=False, name=None):
    """The Moore-Penrose pseudo-inverse, from the SVD; singular values at most rcond * max(s) are
    dropped (rcond defaults to 10 * max(m, n) * eps, as TF's).

    >>> import tapegrad as tf
    >>> tf.linalg.pinv([[2., 0.], [0., 0.]]).numpy()
    array([[0.5, 0. ],
           [0. , 0. ]], dtype=float32)
    """
    from .math import where
    from .reduce import reduce_max
    a = _tensor(a)
    m, n = a.shape[-2], a.shape[-1]
    if rcond is None:
        rcond = 10.0 * max(m, n) * np.finfo(a.dtype.as_numpy_dtype).eps
    s, u, v = svd(a)
    cutoff = rcond * reduce_max(s, axis=-1, keepdims=True)
    keep = s > cutoff
    s_inv = where(keep, 1.0 / where(keep, s, 1.0), 0.0)
    return matmul(v * expand_dims(s_inv, -2), u, transpose_b=True)


def lstsq(matrix, rhs, l2_regularizer=0.0, fast=True, name=None):
    """The least-squares solution x of matrix @ x ≈ rhs (with an optional L2 penalty), through the
    normal equations and a Cholesky factor (TF's fast path; used for fast=False too).

    >>> import tapegrad as tf
    >>> tf.linalg.lstsq([[1., 0.], [0., 1.], [0., 0.]], [[1.], [2.], [3.]]).numpy()
    array([[1.],
           [2.]], dtype=float32)
    """
    from .inverse import cholesky_solve
    matrix = _tensor(matrix)
    rhs = rhs if isinstance(rhs, Tensor) else _tensor(np.asarray(rhs, matrix.dtype.as_numpy_dtype))
    m, n = matrix.shape[-2], matrix.shape[-1]
    if m is not None and n is not None and m < n:
        gram = matmul(matrix, matrix, transpose_b=True) + l2_regularizer * eye(m, dtype=matrix.dtype)
        return matmul(matrix, cholesky_solve(cholesky(gram), rhs), transpose_a=True)
    gram = matmul(matrix, matrix, transpose_a=True) + l2_regularizer * eye(n, dtype=matrix.dtype)
    return cholesky_solve(cholesky(gram), matmul(matrix, rhs, transpose_a=True))

