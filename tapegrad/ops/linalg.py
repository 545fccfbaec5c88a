"""Matrix products (matmul batched and with transposes, einsum; tensordot composed) and the ops that
read or write parts of matrices: diagonals, bands, transposes, trace."""
from __future__ import annotations

import numpy as np

from ..core.aval import ShapedArray, broadcast_shapes, dim_max, dims
from ..core.op import REAL, defop
from .array import _differ, broadcast_to, reshape, transpose
from .creation import eye, zeros

__all__ = ["matmul", "einsum", "tensordot", "matvec", "diag_part", "trace", "matrix_transpose", "adjoint",
           "diag", "set_diag", "band_part"]


def _t(x):
    return np.swapaxes(x, -1, -2)


_HALF = np.dtype(np.float16)


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` on arrays; float16 operands are multiplied in float32 and the result rounded to float16.

    NumPy has no float16 BLAS (its own loop is ~100x slower than float32's), and accelerators
    accumulate float16 products in float32 too, so the result is as theirs would be.

    >>> gemm(np.ones((2, 3), np.float16), np.ones((3, 2), np.float16)).dtype
    dtype('float16')
    """
    if a.dtype is _HALF or b.dtype is _HALF:
        # silently inf/NaN past float16's range, as TF: loss scaling expects overflowing steps
        with np.errstate(over="ignore", invalid="ignore"):
            return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.result_type(a, b))
    return np.matmul(a, b)


def _matmul_dx(g, out, a, b, transpose_a, transpose_b):
    if transpose_a:
        return matmul(b, g, transpose_a=transpose_b, transpose_b=True)
    return matmul(g, b, transpose_b=not transpose_b)


def _matmul_dy(g, out, a, b, transpose_a, transpose_b):
    if transpose_b:
        return matmul(g, a, transpose_a=True, transpose_b=transpose_a)
    return matmul(a, g, transpose_a=not transpose_a)


def _matmul_type(a, b, transpose_a=False, transpose_b=False):
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul needs tensors of rank >= 2, got shapes {a.shape} and {b.shape}")
    m, k = a.shape[-1:-3:-1] if transpose_a else a.shape[-2:]
    k2, n = b.shape[-1:-3:-1] if transpose_b else b.shape[-2:]
    if _differ(k, k2):
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc "
                         f"signature (n?,k),(k,m?)->(n?,m?) (size {k2} is different from {k})")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return ShapedArray(batch + (m, n), np.result_type(a.dtype, b.dtype))


def _c_order_up_to_2d(rank: int) -> str:
    return "c" if rank <= 2 else "like_inputs"  # a batched product: C-contiguous when its inputs are


@defop(vjp=(_matmul_dx, _matmul_dy),
       jvp=(lambda t, out, a, b, transpose_a, transpose_b: matmul(t, b, transpose_a, transpose_b),
            lambda t, out, a, b, transpose_a, transpose_b: matmul(a, t, transpose_a, transpose_b)),
       domain=(REAL, REAL), batch_vjp=True, method=("__matmul__", "__rmatmul__"),
       shape=_matmul_type, result="fresh", layout=_c_order_up_to_2d,
       cases=[dict(shapes=((2, 3), (3, 4))),
              dict(shapes=((2, 3), (4, 3)), params=dict(transpose_b=True)),
              dict(shapes=((3, 2), (3, 4)), params=dict(transpose_a=True)),
              dict(shapes=((3, 2), (4, 3)), params=dict(transpose_a=True, transpose_b=True)),
              dict(shapes=((2, 2, 3), (3, 4))),
              dict(shapes=((2, 1, 2, 3), (3, 3, 2)))])
def matmul(a, b, transpose_a=False, transpose_b=False):
    """a @ b over the last two axes, batch axes broadcast; either side may be transposed.

    >>> import tapegrad as tf
    >>> tf.matmul(tf.ones([2, 3]), tf.ones([3, 4])).shape
    TensorShape([2, 4])
    """
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul needs tensors of rank >= 2, got shapes {a.shape} and {b.shape}")
    return gemm(_t(a) if transpose_a else a, _t(b) if transpose_b else b)


def _einsum_parts(equation: str, n: int):
    eq = equation.replace(" ", "")
    if "..." in eq:
        raise NotImplementedError("einsum with '...' is not supported; spell the axes out")
    if "->" in eq:
        ins, out = eq.split("->")
    else:
        ins = eq
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    subs = ins.split(",")
    if len(subs) != n:
        raise ValueError(f"einsum: equation {equation!r} has {len(subs)} operands, got {n} tensors")
    return subs, out


def _einsum_vjp(k, g, out, *xs, equation):
    subs, out_sub = _einsum_parts(equation, len(xs))
    unique = "".join(dict.fromkeys(subs[k]))
    others = [s for i, s in enumerate(subs) if i != k]
    present = "".join(c for c in unique if c in out_sub or any(c in o for o in others))
    lead = "".join(chr(ord("A") + i) for i in range(g.ndim - len(out_sub)))  # jacobian axes
    eq = ",".join([lead + out_sub] + others) + "->" + lead + present
    grad = einsum(eq, g, *[x for i, x in enumerate(xs) if i != k])
    lead_shape = tuple(dims(g)[:len(lead)])
    sizes = dict(zip(subs[k], dims(xs[k])))
    if present != unique:  # axes summed away in the forward get a broadcast gradient
        grad = reshape(grad, lead_shape + tuple(sizes[c] if c in present else 1 for c in unique))
        grad = broadcast_to(grad, lead_shape + tuple(sizes[c] for c in unique))
    if unique != subs[k]:  # a repeated index read a diagonal: the gradient goes back onto it
        grad = _onto_diagonal(grad, lead, unique, subs[k], sizes, equation)
    return grad


def _onto_diagonal(grad, lead, unique, sub, sizes, equation):
    """grad (axes lead + unique) placed on the diagonals of `sub`.  An einsum output cannot repeat
    a letter, so each repeat gets a fresh letter, tied to the first by an identity matrix."""
    fresh = iter(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in equation)
    target, pairs = "", []
    for i, c in enumerate(sub):
        if c in sub[:i]:
            pairs.append(c + next(fresh))
            target += pairs[-1][1]
        else:
            target += c
    return einsum(",".join([lead + unique] + pairs) + "->" + lead + target, grad,
                  *[eye(sizes[pair[0]], dtype=grad.dtype) for pair in pairs])


def _einsum_jvp(k, t, out, *xs, equation):
    return einsum(equation, *[t if i == k else x for i, x in enumerate(xs)])


def _einsum_type(*inputs, equation=""):
    subs, out = _einsum_parts(equation, len(inputs))
    sizes: dict = {}
    for sub, x in zip(subs, inputs):
        if len(sub) != x.ndim:
            raise ValueError(f"einsum: operand of rank {x.ndim} has {len(sub)} subscripts {sub!r}")
        mine: dict = {}
        for c, d in zip(sub, x.shape):  # a repeated letter takes a diagonal: equal sizes
            if c in mine and _differ(mine[c], d):
                raise ValueError(f"dimensions in single operand for collapsing index '{c}' don't match "
                                 f"({mine[c]} != {d})")
            mine[c] = d if c not in mine or isinstance(d, int) else mine[c]
        for c, d in mine.items():  # across operands sizes broadcast
            if c in sizes and sizes[c] != 1 and d != 1 and _differ(sizes[c], d):
                raise ValueError(f"einsum: operands could not be broadcast together: subscript '{c}' has "
                                 f"sizes {sizes[c]} and {d}")
            sizes[c] = dim_max(sizes[c], d) if c in sizes else d
    for c in out:
        if c not in sizes or out.count(c) > 1:
            raise ValueError(f"einsum: output subscript '{c}' appears more than once or in no input")
    return ShapedArray(tuple(sizes[c] for c in out), np.result_type(*[x.dtype for x in inputs]))


@defop(vjp=_einsum_vjp, jvp=_einsum_jvp, domain=(REAL, REAL), batch_vjp=True, name="einsum",
       shape=_einsum_type,
       cases=[dict(shapes=((2, 3), (3, 4)), params=dict(equation="ij,jk->ik")),
              dict(shapes=((3,), (3,)), params=dict(equation="i,i->")),
              dict(shapes=((2, 3),), params=dict(equation="ij->j")),
              dict(shapes=((2, 3), (3, 2)), params=dict(equation="ij,jk")),
              dict(shapes=((2, 3), (3, 4), (4, 2)), params=dict(equation="ij,jk,kl->il")),
              dict(shapes=((2, 3, 4), (2, 4, 5)), params=dict(equation="bij,bjk->bik")),
              dict(shapes=((3, 3),), params=dict(equation="ii->i")),
              dict(shapes=((3, 3),), params=dict(equation="ii")),
              dict(shapes=((3, 3), (3,)), params=dict(equation="ii,i->i")),
              dict(shapes=((2, 2, 3),), params=dict(equation="iij->ji"))])
def _einsum(*inputs, equation=""):
    _einsum_parts(equation, len(inputs))
    return np.einsum(equation, *inputs, optimize=len(inputs) > 2)


def einsum(equation, *inputs, **kwargs):
    """Einstein summation, e.g. 'ij,jk->ik' (letters only; no '...').

    >>> import tapegrad as tf
    >>> tf.einsum("ij,j->i", tf.ones([2, 3]), tf.ones([3])).numpy()
    array([3., 3.], dtype=float32)
    """
    kwargs.pop("name", None)
    return _einsum(*inputs, equation=equation)


def tensordot(a, b, axes, name=None):
    """Sum products over the given axes of a and b (an int: the last/first `axes` axes)."""
    a_shape, b_shape = tuple(dims(a)), tuple(dims(b))
    if isinstance(axes, (int, np.integer)):
        a_axes = list(range(len(a_shape) - axes, len(a_shape)))
        b_axes = list(range(axes))
    else:
        a_axes, b_axes = ([x] if isinstance(x, int) else list(x) for x in axes)
    a_axes = [x % len(a_shape) for x in a_axes]
    b_axes = [x % len(b_shape) for x in b_axes]
    a_free = [i for i in range(len(a_shape)) if i not in a_axes]
    b_free = [i for i in range(len(b_shape)) if i not in b_axes]
    k = int(np.prod([a_shape[i] for i in a_axes]))
    a2 = reshape(transpose(a, a_free + a_axes), (-1, k))
    b2 = reshape(transpose(b, b_axes + b_free), (k, -1))
    return reshape(matmul(a2, b2), [a_shape[i] for i in a_free] + [b_shape[i] for i in b_free])


def matvec(a, b, transpose_a=False, name=None):
    """Matrix times vector over the last axes: matmul(a, b[..., None])[..., 0]."""
    from .array import expand_dims, squeeze
    return squeeze(matmul(a, expand_dims(b, -1), transpose_a=transpose_a), -1)


def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """Swap the last two axes of a batch of matrices.

    >>> import tapegrad as tf
    >>> tf.linalg.matrix_transpose(tf.ones([2, 3, 4])).shape
    TensorShape([2, 4, 3])
    """
    rank = len(dims(a))
    if rank < 2:
        raise ValueError(f"matrix_transpose: input must be at least 2-D, got rank {rank}")
    return transpose(a, list(range(rank - 2)) + [rank - 1, rank - 2])


def adjoint(matrix, name=None):
    """The conjugate transpose of the innermost matrices (the transpose for real ones).

    >>> import tapegrad as tf
    >>> tf.linalg.adjoint(tf.constant([[1., 2.]])).numpy()
    array([[1.],
           [2.]], dtype=float32)
    """
    return matrix_transpose(matrix, conjugate=True)


def _diag_part_type(x):
    if x.ndim < 2:
        raise ValueError(f"matrix_diag_part: input must be at least 2-D, got shape {list(x.shape)}")
    m, n = x.shape[-2:]
    k = m if m == n else min(m, n) if isinstance(m, int) and isinstance(n, int) else None
    return ShapedArray(x.shape[:-2] + (k,), x.dtype)


@defop(vjp=(lambda g, out, x: matrix_set_diag(zeros(dims(x), g.dtype), g),),
       jvp=(lambda t, out, x: matrix_diag_part(t),), saves="", domain=(REAL,), shape=_diag_part_type,
       cases=[dict(shapes=((3, 3),)), dict(shapes=((2, 3, 4),))])
def matrix_diag_part(x):
    """The main diagonal of each innermost matrix (length min(rows, cols)).

    >>> import tapegrad as tf
    >>> tf.linalg.diag_part(tf.constant([[1., 2.], [3., 4.]])).numpy()
    array([1., 4.], dtype=float32)
    """
    _diag_part_type(x)
    return np.diagonal(x, axis1=-2, axis2=-1).copy()


def _set_diag_type(x, d):
    expect = _diag_part_type(x).shape
    if d.ndim != len(expect) or any(_differ(a, b) for a, b in zip(d.shape, expect)):
        raise ValueError(f"matrix_set_diag: diagonal of shape {list(d.shape)} does not fit input of shape "
                         f"{list(x.shape)} (expected {list(expect)})")
    return ShapedArray(x.shape, np.result_type(x.dtype, d.dtype))


@defop(vjp=(lambda g, out, x, d: matrix_set_diag(g, zeros(dims(d), g.dtype)),
            lambda g, out, x, d: matrix_diag_part(g)),
       jvp=(lambda t, out, x, d: matrix_set_diag(t, zeros(dims(d), t.dtype)),
            lambda t, out, x, d: matrix_set_diag(zeros(dims(x), t.dtype), t)),
       saves="", domain=(REAL, REAL), shape=_set_diag_type,
       cases=[dict(shapes=((3, 3), (3,))), dict(shapes=((2, 3, 4), (2, 3)))])
def matrix_set_diag(x, d):
    """x with the main diagonal of each innermost matrix replaced by d.

    >>> import tapegrad as tf
    >>> tf.linalg.set_diag(tf.zeros([2, 2]), [1., 2.]).numpy()
    array([[1., 0.],
           [0., 2.]], dtype=float32)
    """
    _set_diag_type(ShapedArray(x.shape, x.dtype), ShapedArray(d.shape, d.dtype))
    out = x.copy()
    k = min(x.shape[-2:])
    out[..., np.arange(k), np.arange(k)] = d
    return out


def _no_offsets(op: str, k) -> None:
    if k != 0:
        raise NotImplementedError(f"tf.linalg.{op}: only the main diagonal (k=0) is supported, got k={k}")


def diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):
    """The main diagonal of each innermost matrix (k=0 only).

    >>> import tapegrad as tf
    >>> tf.linalg.diag_part(tf.eye(2, batch_shape=[3])).shape
    TensorShape([3, 2])
    """
    _no_offsets("diag_part", k)
    return matrix_diag_part(input)


def set_diag(input, diagonal, name="set_diag", k=0, align="RIGHT_LEFT"):
    """`input` with its main diagonal replaced by `diagonal` (k=0 only).

    >>> import tapegrad as tf
    >>> tf.linalg.set_diag(tf.ones([2, 2]), [0., 0.]).numpy()
    array([[0., 1.],
           [1., 0.]], dtype=float32)
    """
    _no_offsets("set_diag", k)
    return matrix_set_diag(input, diagonal)


def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"):
    """Square (or num_rows x num_cols) matrices with `diagonal` on the main diagonal, zeros elsewhere.

    >>> import tapegrad as tf
    >>> tf.linalg.diag([1., 2.]).numpy()
    array([[1., 0.],
           [0., 2.]], dtype=float32)
    """
    _no_offsets("diag", k)
    from ..core.tensor import Tensor, convert_to_array
    diagonal = diagonal if isinstance(diagonal, Tensor) else Tensor(convert_to_array(diagonal))
    shape = tuple(dims(diagonal))
    n = shape[-1]
    rows = n if num_rows in (-1, None) else num_rows
    cols = n if num_cols in (-1, None) else num_cols
    base = zeros(shape[:-1] + (rows, cols), diagonal.dtype)
    if padding_value != 0:
        base = base + padding_value
    return matrix_set_diag(base, diagonal)


def _band_type(input, num_lower=-1, num_upper=-1):
    if input.ndim < 2:
        raise ValueError(f"matrix_band_part: input must be at least 2-D, got shape {list(input.shape)}")
    return ShapedArray(input.shape, input.dtype)


@defop(vjp=(lambda g, out, x, num_lower, num_upper: matrix_band_part(g, num_lower, num_upper),),
       jvp=(lambda t, out, x, num_lower, num_upper: matrix_band_part(t, num_lower, num_upper),),
       saves="", domain=(REAL,), shape=_band_type, batch_vjp=True,
       cases=[dict(shapes=((3, 4),), params=dict(num_lower=-1, num_upper=0)),
              dict(shapes=((2, 3, 3),), params=dict(num_lower=1, num_upper=-1))])
def matrix_band_part(input, num_lower=-1, num_upper=-1):
    """Zero everything outside a band: num_lower subdiagonals and num_upper superdiagonals are kept
    (-1: all of them); (-1, 0) is the lower triangle.

    >>> import tapegrad as tf
    >>> tf.linalg.band_part(tf.ones([2, 2]), 0, -1).numpy()
    array([[1., 1.],
           [0., 1.]], dtype=float32)
    """
    _band_type(input)
    m, n = input.shape[-2:]
    i, j = np.arange(m)[:, None], np.arange(n)[None, :]
    keep = ((num_lower < 0) | (i - j <= num_lower)) & ((num_upper < 0) | (j - i <= num_upper))
    return np.where(keep, input, np.zeros((), input.dtype))


def band_part(input, num_lower, num_upper, name=None):
    """Keep a band of each innermost matrix (see ``matrix_band_part``).

    >>> import tapegrad as tf
    >>> tf.linalg.band_part(tf.ones([2, 2]), -1, 0).numpy()
    array([[1., 0.],
           [1., 1.]], dtype=float32)
    """
    from ..core.tensor import Tensor
    from .array import _static
    lower = int(_static(num_lower) if isinstance(num_lower, Tensor) else num_lower)
    upper = int(_static(num_upper) if isinstance(num_upper, Tensor) else num_upper)
    return matrix_band_part(input, num_lower=lower, num_upper=upper)


def trace(x, name=None):
    """The sum of each innermost matrix's main diagonal.

    >>> import tapegrad as tf
    >>> tf.linalg.trace(tf.eye(3, batch_shape=[2])).numpy()
    array([3., 3.], dtype=float32)
    """
    from .reduce import reduce_sum
    return reduce_sum(matrix_diag_part(x), axis=-1)
