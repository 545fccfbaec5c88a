"""Inverses and determinants of batches of square matrices: inv, solve, triangular_solve, det and
slogdet as primitives (their gradients are written with these same ops, so they differentiate
again); cholesky_solve and logdet composed.  float16 is computed in float32 and rounded back.
"""
from __future__ import annotations

import collections

import numpy as np

from ..core.aval import ShapedArray, broadcast_shapes
from ..core.op import Domain, defop
from ..core.tensor import Tensor, convert_to_array
from .array import _differ, expand_dims
from .linalg import matmul, matrix_band_part, matrix_transpose, trace

__all__ = ["inv", "solve", "det", "slogdet", "logdet", "triangular_solve", "cholesky_solve"]

LogMatrixDeterminant = collections.namedtuple("LogMatrixDeterminant", ["sign", "log_abs_determinant"])


class MatrixDomain(Domain):
    """Test inputs that are well-conditioned square matrices: uniform noise plus n on the diagonal
    (``spd``: ``x xᵀ + n I``, symmetric positive definite)."""

    def __init__(self, spd: bool = False):
        super().__init__(-1.0, 1.0)
        self.spd = spd

    def sample(self, rng, shape):
        x = rng.uniform(-1.0, 1.0, size=shape)
        n = shape[-1]
        if self.spd:
            x = x @ np.swapaxes(x, -1, -2)
        return x + n * np.eye(n)


SQUARE, SPD = MatrixDomain(), MatrixDomain(spd=True)


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(convert_to_array(x))


def check_float(op: str, *avals) -> None:
    """TF's linear algebra kernels take float16/32/64 only: TypeError naming the op otherwise."""
    for a in avals:
        if np.dtype(a.dtype).kind != "f":
            raise TypeError(f"{op}: expected a floating-point tensor (float16, float32, float64), "
                            f"got {np.dtype(a.dtype).name}")


def square_type(op: str, a) -> ShapedArray:
    """The aval of a batch of square float matrices (ValueError naming `op` otherwise)."""
    check_float(op, a)
    if a.ndim < 2 or _differ(a.shape[-1], a.shape[-2]):
        raise ValueError(f"{op}: input must be a batch of square matrices, got shape {list(a.shape)}")
    return ShapedArray(a.shape, a.dtype)


def working(a: np.ndarray) -> np.ndarray:
    """float16 is computed in float32 (NumPy's LAPACK has no half precision)."""
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _rhs_type(op, a, b):
    square_type(op, a)
    check_float(op, b)
    if b.ndim < 2 or _differ(a.shape[-1], b.shape[-2]):
        raise ValueError(f"{op}: rhs of shape {list(b.shape)} does not fit matrix of shape {list(a.shape)}")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return ShapedArray(batch + b.shape[-2:], np.result_type(a.dtype, b.dtype))


def _t(x):
    return matrix_transpose(x)


# -- inverse -----------------------------------------------------------------------------------

@defop(vjp=(lambda g, out, a: -matmul(matmul(out, g, transpose_a=True), out, transpose_b=True),),
       jvp=(lambda t, out, a: -matmul(matmul(out, t), out),), saves="out", domain=(SQUARE,),
       shape=lambda a: square_type("matrix_inverse", a),
       cases=[dict(shapes=((3, 3),)), dict(shapes=((2, 2, 2),))])
def matrix_inverse(a):
    """The inverse of each innermost square matrix (InvalidArgumentError when one is singular).

    >>> import tapegrad as tf
    >>> tf.linalg.inv(tf.constant([[2., 0.], [0., 4.]])).numpy()
    array([[0.5 , 0.  ],
           [0.  , 0.25]], dtype=float32)
    """
    square_type("matrix_inverse", a)
    try:
        return np.linalg.inv(working(a)).astype(a.dtype)
    except np.linalg.LinAlgError:
        raise ValueError("Input is not invertible.") from None


def inv(input, adjoint=False, name=None):
    """The inverse of each innermost square matrix (of its adjoint with adjoint=True).

    >>> import tapegrad as tf
    >>> tf.linalg.inv([[1., 1.], [0., 1.]]).numpy()
    array([[ 1., -1.],
           [ 0.,  1.]], dtype=float32)
    """
    input = _tensor(input)
    return matrix_inverse(_t(input) if adjoint else input)


# -- solves --------------------------------------------------------------------------------------

def _solve_da(g, out, a, b, adjoint):
    gb = matrix_solve(a, g, adjoint=not adjoint)
    return -matmul(out, gb, transpose_b=True) if adjoint else -matmul(gb, out, transpose_b=True)


@defop(vjp=(_solve_da, lambda g, out, a, b, adjoint: matrix_solve(a, g, adjoint=not adjoint)),
       jvp=(lambda t, out, a, b, adjoint: -matrix_solve(a, matmul(t, out, transpose_a=adjoint),
                                                        adjoint=adjoint),
            lambda t, out, a, b, adjoint: matrix_solve(a, t, adjoint=adjoint)),
       saves="inputs+out", domain=(SQUARE, Domain(-2.0, 2.0)),
       shape=lambda a, b, adjoint=False: _rhs_type("matrix_solve", a, b),
       cases=[dict(shapes=((3, 3), (3, 2))), dict(shapes=((2, 2, 2), (2, 2, 1)), params=dict(adjoint=True))])
def matrix_solve(a, b, adjoint=False):
    """x with a x = b (adjoint(a) x = b with adjoint=True), for each innermost square matrix.

    >>> import tapegrad as tf
    >>> tf.linalg.solve([[2., 0.], [0., 4.]], [[2.], [2.]]).numpy()
    array([[1. ],
           [0.5]], dtype=float32)
    """
    _rhs_type("matrix_solve", a, b)
    lhs = np.swapaxes(a, -1, -2) if adjoint else a
    try:
        return np.linalg.solve(working(lhs), working(b)).astype(np.result_type(a, b))
    except np.linalg.LinAlgError:
        raise ValueError("Input matrix is not invertible.") from None


def solve(matrix, rhs, adjoint=False, name=None):
    """x with matrix @ x = rhs, batched over leading axes (rhs is [..., n, k]).

    >>> import tapegrad as tf
    >>> tf.linalg.solve([[1., 1.], [0., 1.]], [[3.], [1.]]).numpy()
    array([[2.],
           [1.]], dtype=float32)
    """
    matrix = _tensor(matrix)
    rhs = rhs if isinstance(rhs, Tensor) else Tensor(convert_to_array(rhs, matrix._value.dtype))
    return matrix_solve(matrix, rhs, adjoint=adjoint)


def _triangle(x, lower):
    return matrix_band_part(x, -1, 0) if lower else matrix_band_part(x, 0, -1)


def _trisolve_da(g, out, a, b, lower, adjoint):
    gb = matrix_triangular_solve(a, g, lower=lower, adjoint=not adjoint)
    ga = -matmul(out, gb, transpose_b=True) if adjoint else -matmul(gb, out, transpose_b=True)
    return _triangle(ga, lower)


def _trisolve_jvp_a(t, out, a, b, lower, adjoint):
    return -matrix_triangular_solve(a, matmul(_triangle(t, lower), out, transpose_a=adjoint), lower=lower,
                                    adjoint=adjoint)


@defop(vjp=(_trisolve_da,
            lambda g, out, a, b, lower, adjoint: matrix_triangular_solve(a, g, lower=lower,
                                                                         adjoint=not adjoint)),
       jvp=(_trisolve_jvp_a,
            lambda t, out, a, b, lower, adjoint: matrix_triangular_solve(a, t, lower=lower, adjoint=adjoint)),
       saves="inputs+out", domain=(SQUARE, Domain(-2.0, 2.0)),
       shape=lambda a, b, lower=True, adjoint=False: _rhs_type("matrix_triangular_solve", a, b),
       cases=[dict(shapes=((3, 3), (3, 2))), dict(shapes=((3, 3), (3, 2)), params=dict(lower=False)),
              dict(shapes=((2, 2, 2), (2, 2, 1)), params=dict(adjoint=True))])
def matrix_triangular_solve(matrix, rhs, lower=True, adjoint=False):
    """x with matrix x = rhs where only matrix's lower (or upper) triangle is read.

    >>> import tapegrad as tf
    >>> tf.linalg.triangular_solve([[2., 9.], [1., 1.]], [[2.], [2.]]).numpy()
    array([[1.],
           [1.]], dtype=float32)
    """
    _rhs_type("matrix_triangular_solve", matrix, rhs)
    tri = np.tril(matrix) if lower else np.triu(matrix)
    lhs = np.swapaxes(tri, -1, -2) if adjoint else tri
    try:
        return np.linalg.solve(working(lhs), working(rhs)).astype(np.result_type(matrix, rhs))
    except np.linalg.LinAlgError:
        raise ValueError("Input matrix is not invertible.") from None


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """x with matrix @ x = rhs for lower (or upper) triangular matrices; the other triangle is not read.

    >>> import tapegrad as tf
    >>> tf.linalg.triangular_solve([[1., 0.], [1., 1.]], [[1.], [3.]]).numpy()
    array([[1.],
           [2.]], dtype=float32)
    """
    matrix = _tensor(matrix)
    rhs = rhs if isinstance(rhs, Tensor) else Tensor(convert_to_array(rhs, matrix._value.dtype))
    return matrix_triangular_solve(matrix, rhs, lower=lower, adjoint=adjoint)


def cholesky_solve(chol, rhs, name=None):
    """x with A x = rhs given chol = cholesky(A): two triangular solves.

    >>> import tapegrad as tf
    >>> tf.linalg.cholesky_solve([[2., 0.], [0., 1.]], [[4.], [1.]]).numpy()
    array([[1.],
           [1.]], dtype=float32)
    """
    chol = _tensor(chol)
    y = triangular_solve(chol, rhs, lower=True)
    return matrix_triangular_solve(chol, y, lower=True, adjoint=True)


# -- determinants --------------------------------------------------------------------------------

def _det_type(a):
    square_type("matrix_determinant", a)
    return ShapedArray(a.shape[:-2], a.dtype)


def _scalar_times_inverse_t(g, a):
    return expand_dims(expand_dims(g, -1), -1) * _t(matrix_inverse(a))


@defop(vjp=(lambda g, out, a: _scalar_times_inverse_t(g * out, a),),
       jvp=(lambda t, out, a: out * trace(matrix_solve(a, t)),), saves="inputs+out", domain=(SQUARE,),
       shape=_det_type, cases=[dict(shapes=((3, 3),)), dict(shapes=((2, 2, 2),))])
def matrix_determinant(a):
    """The determinant of each innermost square matrix.

    >>> import tapegrad as tf
    >>> tf.linalg.det([[1., 2.], [3., 4.]]).numpy()
    np.float32(-2.0)
    """
    _det_type(a)
    return np.asarray(np.linalg.det(working(a))).astype(a.dtype)


def det(input, name=None):
    """The determinant of each innermost square matrix.

    >>> import tapegrad as tf
    >>> tf.linalg.det(tf.eye(2, batch_shape=[3])).shape
    TensorShape([3])
    """
    return matrix_determinant(_tensor(input))


@defop(vjp=(lambda g, out, a: _scalar_times_inverse_t(g, a),),
       jvp=(lambda t, out, a: trace(matrix_solve(a, t)),), saves="inputs", domain=(SQUARE,),
       shape=_det_type, cases=[dict(shapes=((3, 3),)), dict(shapes=((2, 2, 2),))])
def log_abs_determinant(a):
    """log |det(a)| of each innermost square matrix, computed without forming det (no overflow).

    >>> import tapegrad as tf
    >>> float(log_abs_determinant(tf.constant([[2., 0.], [0., -3.]])))  # doctest: +ELLIPSIS
    1.79175...
    """
    _det_type(a)
    with np.errstate(divide="ignore"):  # a singular matrix: -inf, as TF
        return np.asarray(np.linalg.slogdet(working(a))[1]).astype(a.dtype)


@defop(nondiff="a sign: piecewise constant", shape=_det_type, domain=(SQUARE,),
       cases=[dict(shapes=((3, 3),))])
def determinant_sign(a):
    """The sign (-1, 0 or 1) of each innermost square matrix's determinant.

    >>> import tapegrad as tf
    >>> float(determinant_sign(tf.constant([[0., 1.], [1., 0.]])))
    -1.0
    """
    _det_type(a)
    return np.asarray(np.linalg.slogdet(working(a))[0]).astype(a.dtype)


def slogdet(input, name=None):
    """(sign, log |det|) of each innermost square matrix; only the log carries a gradient.

    >>> import tapegrad as tf
    >>> sign, log_abs = tf.linalg.slogdet([[0., 2.], [1., 0.]])
    >>> float(sign), round(float(log_abs), 4)
    (-1.0, 0.6931)
    """
    input = _tensor(input)
    return LogMatrixDeterminant(determinant_sign(input), log_abs_determinant(input))


def logdet(matrix, name=None):
    """log det of each innermost Hermitian positive-definite matrix, from its Cholesky factor.

    >>> import tapegrad as tf
    >>> round(float(tf.linalg.logdet([[4., 0.], [0., 1.]])), 4)
    1.3863
    """
    from .decompositions import cholesky
    from .linalg import diag_part
    from .math import log
    from .reduce import reduce_sum
    return 2.0 * reduce_sum(log(diag_part(cholesky(matrix))), axis=-1)
