"""Matrix products: matmul (batched, with transposes), einsum; tensordot is composed."""
from __future__ import annotations

import numpy as np

from ..core.aval import ShapedArray, broadcast_shapes, dim_max, dims
from ..core.op import REAL, defop
from .array import _differ, broadcast_to, reshape, transpose
from .creation import eye

__all__ = ["matmul", "einsum", "tensordot", "matvec", "diag_part", "trace", "matrix_transpose"]


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
    rank = np.ndim(a)
    return transpose(a, list(range(rank - 2)) + [rank - 1, rank - 2])


def diag_part(input, name="diag_part"):
    return einsum("ii->i", input)


def trace(x, name=None):
    return einsum("ii->", x)
