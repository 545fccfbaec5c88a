"""Every public tensor function, eagerly and under tf.function: the same results.

For each public callable of ``tf``, ``tf.math``, ``tf.nn``, ``tf.linalg``, ``tf.random``,
``tf.debugging`` and ``tf.dtypes``, the table below builds arguments: tensor arguments (specs:
``F``, ``I``, ``B``, ``V``...) become arguments of the compiled function, everything else (axes,
shapes, flags) is closed over as Python values.  Two argument sets of the same shapes and dtypes but
different values are drawn; the function is called eagerly on both, then compiled once and called on
both:

- ``test_compiled_matches_eager``: equal results (exact for ints and bools), one trace.  A library
  function that read a tensor's value while tracing either raises (its value is abstract) or, had
  it frozen the value, gives the first set's answer on the second call.
- ``test_relaxed_batch_matches_eager``: one trace with an input_signature whose batch axes are None,
  called with two batch sizes: library code must compute with sizes it knows only when it runs.
- ``test_captured_variables_are_read_when_it_runs``: the tensor arguments as variables read from the
  function's closure and assigned between calls: library code must not take a variable's value while
  tracing (``isinstance(v._value, np.ndarray)`` holds for a variable inside a trace too).

Where TensorFlow itself raises inside tf.function (a Python int or float attribute given a tensor),
the case asserts that error (``.raises``).

Random ops are stateful: the eager and the compiled calls each start from ``tf.random.set_seed``,
and the op seed is given, so both draw the same streams (tapegrad.ops.random: an op seed names one
stream that continues across calls, traced or not); stateless ones take their seed as a tensor.

``test_every_public_function_is_covered`` fails for a public callable that is neither in the table
nor skipped with a reason: a new public function must be added here.
"""
from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.core.nest import flatten

SEED = 1234


# -- argument specs -----------------------------------------------------------------------------------

class T:
    """A tensor argument: shape, dtype, values in [lo, hi) (or two given arrays), and the axes a relaxed
    signature makes None (`batch`: an axis or a tuple of axes varied together; None: all static)."""

    def __init__(self, shape, dtype="float32", lo=-2.0, hi=2.0, batch=0, values=None):
        self.shape, self.dtype, self.lo, self.hi, self.values = tuple(shape), np.dtype(dtype), lo, hi, values
        axes = () if batch is None or not self.shape else (batch,) if isinstance(batch, int) else tuple(batch)
        self.batch = tuple(a % len(self.shape) for a in axes)

    def draw(self, rng, k: int, grow: int = 0) -> np.ndarray:
        """Value set k (0 or 1) with the batch axes `grow` longer."""
        if self.values is not None:
            return np.asarray(self.values[k], self.dtype)
        shape = tuple(d + grow if a in self.batch else d for a, d in enumerate(self.shape))
        if self.dtype.kind == "b":
            return rng.random(shape) < 0.5
        if self.dtype.kind in "iu":
            return rng.integers(int(self.lo), int(self.hi), size=shape).astype(self.dtype)
        return rng.uniform(self.lo, self.hi, size=shape).astype(self.dtype)

    def spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None if a in self.batch else d for a, d in enumerate(self.shape)], self.dtype)


def F(*shape, lo=-2.0, hi=2.0, batch=0, dtype="float32"):
    """A float tensor."""
    return T(shape, dtype, lo, hi, batch)


def P(*shape, batch=0):
    """A positive float tensor (log, sqrt, variances)."""
    return F(*shape, lo=0.5, hi=2.0, batch=batch)


def U(*shape, batch=0):
    """Floats in (-0.9, 0.9) (asin, acos, tan)."""
    return F(*shape, lo=-0.9, hi=0.9, batch=batch)


def Pr(*shape, batch=0):
    """Probabilities in [0, 1) (labels of cross-entropies)."""
    return F(*shape, lo=0.0, hi=1.0, batch=batch)


def W(*shape, lo=-2.0, hi=2.0):
    """A float tensor of fixed shape (weights, filters, operands whose sizes others must match)."""
    return F(*shape, lo=lo, hi=hi, batch=None)


def I(*shape, lo=0, hi=3, batch=0, dtype="int32"):  # noqa: E743 - the table reads better so
    """An int tensor in [lo, hi) (indices, labels, counts)."""
    return T(shape, dtype, lo, hi, batch)


def S(*shape):
    """Well-conditioned square matrices (identity plus small noise): inverses, solves, determinants."""
    rng = np.random.default_rng(len(shape))
    eye = np.broadcast_to(np.eye(shape[-1]), shape)
    return T(shape, "float32", batch=None, values=[eye + 0.2 * rng.uniform(-1, 1, shape) for _ in (0, 1)])


def SPD(*shape):
    """Symmetric positive definite matrices: Cholesky, eigh."""
    rng = np.random.default_rng(7 + len(shape))
    values = []
    for _ in (0, 1):
        a = rng.uniform(-1, 1, shape)
        values.append(a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1]))
    return T(shape, "float32", batch=None, values=values)


def B(*shape, batch=0):
    """A bool tensor (masks, conditions)."""
    return T(shape, "bool", batch=batch)


def V(first, second, dtype="int32"):
    """A tensor with the two given values (shapes as tensors, seeds, sizes): never relaxed."""
    return T(np.shape(first), dtype, batch=None, values=(first, second))


class C:
    """One call of a function: positional and keyword arguments, nests of specs and Python values."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.fn = None              # the callable tested (default: the public function)
        self.no_relax = None        # (why the relaxed-batch run does not apply, the error TF raises there)
        self.traced_error = None    # (exception type, TF's behaviour) raised inside tf.function, as TF
        self.stateful = False       # a random op: each run starts from tf.random.set_seed(SEED)
        self.label = ""

    def using(self, fn, label=""):
        self.fn, self.label = fn, label
        return self

    def relax(self, reason, raises=None):
        """The relaxed-batch run does not apply (`reason`), or raises `raises` as TF does there."""
        self.no_relax = (reason, raises)
        return self

    def raises(self, error, why):
        self.traced_error = (error, why)
        return self

    def random(self):
        self.stateful = True
        return self

    def specs(self) -> list:
        return [s for s in flatten([list(self.args), self.kwargs]) if isinstance(s, T)]

    def bind(self, tensors):
        it = iter(tensors)
        return _replace(self.args, it), _replace(self.kwargs, it)

    def describe(self) -> str:
        parts = [_text(a) for a in self.args] + [f"{k}={_text(v)}" for k, v in sorted(self.kwargs.items())]
        return self.label or ",".join(parts)


def _replace(x, it):
    """x with each spec replaced by the next tensor (the same order as flatten: dicts by sorted key)."""
    if isinstance(x, T):
        return next(it)
    if isinstance(x, dict):
        return {k: _replace(x[k], it) for k in sorted(x)}
    if isinstance(x, (list, tuple)):
        return type(x)(_replace(v, it) for v in x)
    return x


def _text(x) -> str:
    if isinstance(x, T):
        return f"{x.dtype.name[0]}{list(x.shape)}" if x.values is None else f"{x.dtype.name[0]}={x.values[0]}"
    if isinstance(x, (list, tuple)):
        return "[" + ",".join(_text(v) for v in x) + "]"
    if callable(x):
        return getattr(x, "__name__", "fn")
    return repr(x)


# -- hand-written callables for the control-flow functions (they take functions, not just tensors) -------

def _cond(x, y):
    return tf.cond(tf.reduce_mean(x) > 0, lambda: x * 2.0 + y, lambda: y - x)


def _case(x, i):
    return tf.case([(tf.equal(i, 0), lambda: x + 1.0), (tf.equal(i, 1), lambda: x * 3.0)], default=lambda: -x)


def _switch_case(x, i):
    return tf.switch_case(i, [lambda: x + 1.0, lambda: x * 3.0, lambda: -x])


def _while_loop(x, n):
    # the number of iterations is a tensor: it differs between the two calls
    _, out = tf.while_loop(lambda k, acc: k < n, lambda k, acc: (k + 1, acc * 0.5 + x), [tf.constant(0), x])
    return out


def _map_fn(x):
    return tf.map_fn(lambda row: tf.reduce_sum(row * row), x)


def _scan(x):
    return tf.scan(lambda acc, row: acc * 0.5 + row, x)


def _foldl(x):
    return tf.foldl(lambda acc, row: acc * 0.5 + row, x, initializer=tf.zeros_like(x[0]))


def _foldr(x):
    return tf.foldr(lambda acc, row: acc * 0.5 + row, x)


def _vectorized_map(x, w):
    return tf.vectorized_map(lambda row: tf.reduce_sum(row * w), x)


_POSITIVE_4 = np.full((3, 4), 0.5) + np.arange(12).reshape(3, 4) / 12

# -- the table -------------------------------------------------------------------------------------------

# The default rule: one float tensor of shape (3, 4), values in [-2, 2).
DEFAULT = """abs atan ceil cos cosh erf exp expm1 floor is_finite is_inf is_nan negative round sigmoid sign
sin sinh square tanh identity stop_gradient ones_like shape size rank convert_to_tensor is_tensor
reduce_min reduce_prod reduce_std reduce_euclidean_norm argmin relu relu6 elu selu gelu softplus softsign
silu swish log_softmax l2_loss""".split()
# Two float tensors of shape (3, 4).
BINARY = """add subtract multiply divide truediv floordiv floormod mod maximum minimum atan2 equal
not_equal less less_equal greater greater_equal squared_difference divide_no_nan multiply_no_nan""".split()
# One positive float tensor; two bool tensors.
POSITIVE = "log log1p sqrt rsqrt reciprocal".split()
LOGICAL = "logical_and logical_or logical_xor".split()

EXPLICIT = {
    # -- math ------------------------------------------------------------------------------------------
    "asin": [C(U(3, 4))], "acos": [C(U(3, 4))], "tan": [C(U(3, 4))],
    "pow": [C(P(3, 4), F(3, 4)), C(P(3, 4), 2.0)],
    "xlogy": [C(F(3, 4), P(3, 4))],
    "logical_not": [C(B(3, 4))],
    "add_n": [C([F(3, 4), F(3, 4), F(3, 4)])],
    "cast": [C(F(3, 4), tf.int32), C(I(3, 4, lo=-5, hi=5), "float64")],
    "saturate_cast": [C(F(3, 4, lo=-300, hi=300), tf.int8), C(I(3, 4, lo=-999, hi=999), tf.uint8)],
    "clip_by_value": [C(F(3, 4), -0.5, 0.5), C(F(3, 4), F(3, 4, lo=-2, hi=-1), F(3, 4, lo=0, hi=1))],
    "where": [C(B(3, 4), F(3, 4), F(3, 4)), C(B(3, 4))],
    "where_indices": [C(B(3, 4))],
    "reduce_all": [C(B(3, 4)), C(B(3, 4), axis=1), C(B(3, 4), V(0, 1))],
    "reduce_any": [C(B(3, 4)), C(B(3, 4), axis=0, keepdims=True)],
    "reduce_sum": [C(F(3, 4)), C(F(2, 3, 4), axis=(0, 2), keepdims=True), C(F(3, 4), axis=V(0, 1)),
                   C(F(2, 3, 4), axis=V([0, 2], [2, 1]), keepdims=True)],
    "reduce_mean": [C(F(3, 4)), C(F(3, 4), axis=1), C(I(3, 4, lo=-9, hi=9), axis=0), C(F(3, 4), V(1, 0))],
    "reduce_max": [C(F(3, 4)), C(F(3, 4), V(1, 0), keepdims=True)],
    "reduce_logsumexp": [C(F(3, 4)), C(F(3, 4), axis=V(1, 0))],
    "reduce_variance": [C(F(3, 4)), C(F(3, 4), axis=V(1, 0))],
    "count_nonzero": [C(F(3, 4)), C(I(3, 4), axis=V(1, 0))],
    "argmax": [C(F(3, 4)), C(F(3, 4), axis=1, output_type=tf.int32), C(F(3, 4), V(1, 0))],
    "cumsum": [C(F(3, 4)), C(F(3, 4), axis=1, exclusive=True, reverse=True),
               C(F(3, 4), V(1, 0), exclusive=True)],
    "norm": [C(F(3, 4)), C(F(3, 4), ord=1, axis=1), C(F(3, 4), ord=np.inf, axis=0), C(F(3, 4), axis=V(1, 0))],
    "unsorted_segment_sum": [C(F(4, 3), I(4), 3), C(F(4, 3), I(4), V(3, 4))],
    "clip_by_norm": [C(F(3, 4), 1.0), C(F(3, 4), P()), C(F(3, 4), 1.0, axes=[1]),
                     C(F(3, 4), 1.0, axes=V([1], [0]))],
    "global_norm": [C([F(3, 4), F(2)])],
    "clip_by_global_norm": [C([F(3, 4), F(2)], 1.0), C([F(3, 4), F(2)], 1.0, use_norm=P())],
    # -- creation and shapes -----------------------------------------------------------------------------
    "constant": [C(F(3, 4)).raises(TypeError, "TF: 'Expected any non-tensor type' (a graph tensor)")],
    "zeros": [C(V([3, 4], [2, 5]))], "ones": [C(V([3, 4], [2, 5]), tf.int32)],
    "zeros_like": [C(F(3, 4)), C(I(3, 4), dtype=tf.float64)],
    "fill": [C([3, 4], F()), C(V([3, 4], [2, 5]), F()), C(V([2], [3]), 7)],
    "eye": [C(V(3, 4)), C(V(2, 3), V(4, 2), batch_shape=[2], dtype=tf.int32)],
    "range": [C(V(5, 7)), C(V(1, 2), V(9, 12), V(2, 3)), C(F(), 4.5, 0.5)],
    "linspace": [C(F(), F(lo=3, hi=5), 5), C(F(), F(), V(3, 6))],
    "reshape": [C(F(3, 4), (-1, 2)), C(W(3, 4), V([4, 3], [2, 6])), C(F(3, 4), V([-1, 2], [2, -1]))],
    "expand_dims": [C(F(3, 4), 1), C(F(3, 4), -1), C(F(3, 4), V(0, -1))],
    "squeeze": [C(F(3, 1)), C(F(3, 1, 4), axis=1),
                C(F(3, 1, 4), V([1], [1])).raises(TypeError, "TF: squeeze_dims is an int-list attribute")],
    "transpose": [C(F(3, 4)), C(F(2, 3, 4), perm=[2, 0, 1]),
                  C(F(2, 3, 4), V([2, 0, 1], [1, 2, 0]))],
    "broadcast_to": [C(F(1, 4, batch=None), (3, 4)), C(F(4, batch=None), V([3, 4], [2, 4]))],
    "concat": [C([F(2, 4), F(3, 4)], axis=0), C([F(3, 2), F(3, 4)], axis=1), C([F(3, 4), F(3, 4)], V(0, 1))],
    "stack": [C([F(3, 4), F(3, 4)]), C([F(3, 4), F(3, 4)], axis=-1)],
    "unstack": [C(F(3, 4), axis=1), C(F(3, 4), V(4, 4), axis=1).raises(TypeError, "TF: an int attr"),
                C(F(3, 4)).relax("TF cannot infer num from a None axis", raises=ValueError)],
    "split": [C(F(3, 4), 2, axis=1), C(F(3, 4), [1, 3], axis=1), C(F(3, 4), [1, -1], axis=1),
              C(F(3, 4), V([1, 3], [2, 2]), axis=1)],
    "tile": [C(F(3, 4), [2, 1]), C(F(3, 4), V([2, 1], [1, 3]))],
    "pad": [C(F(3, 4), [[1, 0], [0, 2]]), C(F(3, 4), [[1, 0], [2, 1]], constant_values=F()),
            C(F(3, 4), [[1, 2], [2, 1]], "REFLECT"), C(F(3, 4), [[1, 2], [2, 1]], "SYMMETRIC"),
            C(F(3, 4), V([[1, 0], [0, 2]], [[0, 2], [1, 1]]))],
    "reverse": [C(F(3, 4), [1]), C(F(3, 4), [0, -1]), C(F(3, 4), V([0], [1]))],
    "slice": [C(F(3, 4), [1, 0], [2, 3]), C(F(3, 4), V([1, 0], [0, 1]), [2, -1])],
    "boolean_mask": [C(F(3, 4), B(3)), C(F(3, 4), B(3, 4)), C(F(3, 4), B(4, batch=None), axis=1)],
    "repeat": [C(F(3, 4), 2, axis=1), C(F(3, 4), I(4, lo=0, hi=3, batch=None), axis=1), C(F(3, 4), V(2, 3)),
               C(F(3, 4), I(3, lo=0, hi=3), axis=0), C(F(3, 4), [V(1, 3), 0, 2, 1], axis=1)],
    "getitem": [C(F(3, 4), key=(slice(1, 3),)), C(F(3, 4), key=(Ellipsis, 0))],
    "gather": [C(F(5, 4), I(3, hi=5)), C(F(3, 4), I(2, 2, hi=4, batch=None), axis=1),
               C(F(3, 4), I(3, 2, hi=4), axis=1, batch_dims=1), C(F(4, 4), I(2, hi=4), axis=V(0, 1))],
    "gather_nd": [C(F(3, 4), I(5, 2))],
    "scatter_nd": [C(I(4, 1), F(4, 3), (3, 3)), C(I(4, 1), F(4, 3), V([3, 3], [4, 3]))],
    "one_hot": [C(I(4), 3), C(I(2, 3), V(3, 5), on_value=2.0, off_value=-1.0, axis=0),
                C(I(4), 3, on_value=F(), off_value=F()), C(I(4), 3, off_value=I(lo=-5, hi=5))],
    "matmul": [C(F(3, 4), W(4, 2)), C(F(3, 4), F(5, 4), transpose_b=True), C(F(2, 3, 4), F(2, 4, 2))],
    "einsum": [C("ij,jk->ik", F(3, 4), W(4, 2)), C("ij->j", F(3, 4))],
    "tensordot": [C(F(3, 4), W(4, 2), 1), C(F(2, 3, 4), W(3, 4, 2), [[1, 2], [0, 1]])],
    # -- linalg --------------------------------------------------------------------------------------------
    "matvec": [C(F(3, 4), W(4))],
    "matrix_transpose": [C(F(2, 3, 4))],
    "diag_part": [C(F(3, 3, batch=(0, 1)))],
    "trace": [C(F(3, 3, batch=(0, 1)))],
    "adjoint": [C(F(2, 3, 4))],
    "band_part": [C(F(2, 4, 4), 1, 0), C(F(4, 4, batch=None), -1, 1)],
    "set_diag": [C(F(2, 3, 3), F(2, 3))],
    "diag": [C(F(2, 3))],
    "inv": [C(S(2, 3, 3))],
    "det": [C(S(2, 3, 3))],
    "slogdet": [C(S(2, 3, 3))],
    "logdet": [C(SPD(2, 3, 3))],
    "solve": [C(S(2, 3, 3), W(2, 3, 2))],
    "triangular_solve": [C(S(2, 3, 3), W(2, 3, 2), lower=True)],
    "cholesky": [C(SPD(2, 3, 3))],
    "cholesky_solve": [C(W(3, 3, lo=0.5, hi=1.0), F(3, 2, batch=None))],
    "eigh": [C(SPD(2, 3, 3))],
    "eigvalsh": [C(SPD(2, 3, 3))],
    "svd": [C(F(2, 4, 3))],
    "qr": [C(F(2, 4, 3))],
    "pinv": [C(F(2, 4, 3))],
    "lstsq": [C(S(2, 3, 3), W(2, 3, 2))],
    # -- sorting and sets ---------------------------------------------------------------------------------
    "sort": [C(F(3, 4)), C(F(3, 4), axis=0, direction="DESCENDING")],
    "argsort": [C(F(3, 4)), C(F(3, 4), axis=0, direction="DESCENDING", stable=True)],
    "top_k": [C(F(3, 4), k=2)],
    "unique": [C(I(6, lo=0, hi=3, batch=None))],
    "unique_with_counts": [C(I(6, lo=0, hi=3, batch=None))],
    "bincount": [C(I(6, lo=0, hi=4), minlength=4, maxlength=4)],
    "searchsorted": [C(V([[1.0, 2.0, 3.0]], [[0.0, 5.0, 9.0]], dtype="float32"), F(1, 4, batch=None))],
    "invert_permutation": [C(V([2, 0, 1], [1, 2, 0]))],
    "unsorted_segment_mean": [C(F(4, 3, batch=None), V([0, 1, 0, 2], [2, 2, 1, 0]), 3)],
    "unsorted_segment_max": [C(F(4, 3, batch=None), V([0, 1, 0, 2], [2, 2, 1, 0]), 3)],
    "unsorted_segment_min": [C(F(4, 3, batch=None), V([0, 1, 0, 2], [2, 2, 1, 0]), 3)],
    # -- nn ----------------------------------------------------------------------------------------------
    "leaky_relu": [C(F(3, 4)), C(F(3, 4), alpha=0.5),
                   C(F(3, 4), alpha=P()).raises(TypeError, "TF: alpha is an attribute (float)")],
    "softmax": [C(F(3, 4)), C(F(3, 4), axis=0)],
    "l2_normalize": [C(F(3, 4)), C(F(3, 4), axis=1)],
    "bias_add": [C(F(3, 4), W(4)), C(F(2, 3, 2, 2), W(3), data_format="NCHW")],
    "batch_normalization": [C(F(3, 4), W(4), W(4, lo=0.5), W(4), W(4), 1e-3)],
    "moments": [C(F(3, 4), axes=[0]), C(F(2, 3, 4), axes=[0, 1], keepdims=True)],
    "compute_average_loss": [C(F(4)), C(F(4), sample_weight=P(4)), C(F(4), global_batch_size=8)],
    "scale_regularization_loss": [C(F(3, 4)), C([F(), F()])],
    "dropout": [C(F(3, 4), 0.5, seed=3).random(), C(F(3, 4), 0.25, noise_shape=[1, 4], seed=4).random(),
                C(F(3, 4), Pr(), seed=5).random(),
                C(F(3, 4), 0.5, noise_shape=V([3, 1], [1, 4]), seed=6).random()],
    "embedding_lookup": [C(F(5, 4), I(3, hi=5))],
    "sigmoid_cross_entropy_with_logits": [C(labels=Pr(3, 4), logits=F(3, 4))],
    "softmax_cross_entropy_with_logits": [C(Pr(3, 4), F(3, 4))],
    "sparse_softmax_cross_entropy_with_logits": [C(labels=I(3, hi=4), logits=F(3, 4))],
    "conv1d": [C(F(2, 8, 3), W(3, 3, 4), 1, "VALID"), C(F(2, 8, 3), W(3, 3, 4), 2, "SAME")],
    "conv2d": [C(F(2, 5, 5, 3), W(3, 3, 3, 4), 1, "SAME"), C(F(2, 6, 6, 3), W(2, 2, 3, 4), 2, "VALID")],
    "convolution": [C(F(2, 5, 5, 3), W(3, 3, 3, 4)), C(F(2, 8, 3), W(3, 3, 4), padding="SAME")],
    "depthwise_conv2d": [C(F(2, 5, 5, 3), W(2, 2, 3, 2), [1, 1, 1, 1], "VALID")],
    "separable_conv2d": [C(F(2, 5, 5, 3), W(3, 3, 3, 2), W(1, 1, 6, 4), [1, 1, 1, 1], "SAME")],
    "conv2d_transpose": [C(F(2, 3, 3, 4), W(3, 3, 2, 4), [2, 6, 6, 2], 2).relax(
        "output_shape is a Python list with the batch size in it"),
        C(W(2, 3, 3, 4), W(3, 3, 2, 4), V([2, 6, 6, 2], [2, 5, 5, 2]), 2)],
    "conv_transpose": [C(F(2, 2, 2, 1), W(2, 2, 1, 1), [2, 4, 4, 1], 2).relax(
        "output_shape is a Python list with the batch size in it")],
    "max_pool2d": [C(F(2, 5, 5, 3), 2, 2, "VALID"), C(F(2, 5, 5, 3), 3, 2, "SAME")],
    "avg_pool2d": [C(F(2, 5, 5, 3), 2, 2, "VALID"), C(F(2, 5, 5, 3), 3, 2, "SAME")],
    "max_pool": [C(F(2, 6, 6, 3), 2, 2, "VALID"), C(F(2, 6, 3), 2, 1, "SAME")],
    "avg_pool": [C(F(2, 6, 6, 3), 2, 2, "VALID"), C(F(2, 6, 3), 2, 1, "SAME")],
    "max_pool1d": [C(F(2, 6, 3), 2, 2, "VALID")],
    "avg_pool1d": [C(F(2, 6, 3), 3, 1, "SAME")],
    # -- random: the same op seed in the eager and the compiled runs -----------------------------------------
    "uniform": [C([3, 4], minval=F(), maxval=F(lo=3, hi=4), seed=1).random(),
                C(V([3, 4], [2, 5]), seed=2).random(), C([4], maxval=10, dtype=tf.int32, seed=3).random(),
                C([4], minval=V(-3, 2), maxval=V(5, 9), dtype=tf.int32, seed=4).random()],
    "normal": [C([3, 4], mean=F(), stddev=P(), seed=1).random(), C(V([3, 4], [2, 5]), seed=2).random()],
    "truncated_normal": [C([3, 4], mean=F(), stddev=P(), seed=1).random(), C(V([3], [5]), seed=2).random()],
    "shuffle": [C(F(5, 3), seed=2).random()],
    "categorical": [C(F(2, 4), 3, seed=5).random(), C(F(2, 4), V(2, 5), seed=6).random()],
    "stateless_uniform": [C([3, 4], V([1, 2], [3, 4])), C(V([3, 4], [2, 5]), V([1, 2], [1, 2]), maxval=5.0),
                          C([4], V([1, 2], [3, 4]), minval=2, maxval=9, dtype=tf.int32)],
    "stateless_normal": [C([3, 4], V([1, 2], [3, 4]), mean=F(), stddev=P())],
    "stateless_truncated_normal": [C([3, 4], V([1, 2], [3, 4]))],
    "stateless_categorical": [C(F(2, 4), 3, V([1, 2], [3, 4]))],
    # -- debugging -------------------------------------------------------------------------------------------
    "check_numerics": [C(F(3, 4), "finite")],
    "assert_all_finite": [C(F(3, 4), "finite")],
    # -- control flow: hand-written callables (they take functions) -----------------------------------------
    "cond": [C(F(3, 4, lo=0.5, hi=2), F(3, 4)).using(_cond),
             C(V(_POSITIVE_4, -_POSITIVE_4, "float32"), F(3, 4, batch=None)).using(_cond, "both branches")],
    "case": [C(F(3, 4), V(0, 1)).using(_case), C(F(3, 4), V(1, 7)).using(_case, "default")],
    "switch_case": [C(F(3, 4), V(0, 2)).using(_switch_case),
                    C(F(3, 4), V(1, 9)).using(_switch_case, "out of range")],
    "while_loop": [C(F(3, 4), V(2, 5)).using(_while_loop)],
    "map_fn": [C(F(3, 4)).using(_map_fn)],
    "scan": [C(F(3, 4)).using(_scan)],
    "foldl": [C(F(3, 4)).using(_foldl)],
    "foldr": [C(F(3, 4)).using(_foldr)],
    "vectorized_map": [C(F(3, 4), W(4)).using(_vectorized_map)],
}
CASES: dict = {name: [C(F(3, 4))] for name in DEFAULT}
CASES.update({name: [C(F(3, 4), F(3, 4))] for name in BINARY})
CASES.update({name: [C(P(3, 4))] for name in POSITIVE})
CASES.update({name: [C(B(3, 4), B(3, 4))] for name in LOGICAL})
CASES.update(EXPLICIT)

# Public callables that are not functions of tensors: name -> why.
SKIPPED = {
    "DType": "a class (dtypes)", "GradientTape": "a class (recording, tested in tests/core)",
    "ForwardAccumulator": "a class (forward mode, tested in tests/core)",
    "IndexedSlices": "a class (sparse gradients)", "Tensor": "a class", "TensorArray": "a class (tests/ops)",
    "TensorShape": "a class (shapes)", "TensorSpec": "a class (signatures)", "Variable": "a class (state)",
    "UnconnectedGradients": "an enum", "as_dtype": "takes a dtype, not a tensor",
    "function": "tf.function itself",
    "custom_gradient": "a decorator (tests/compiler/test_custom_gradient.py)",
    "init_scope": "a context manager lifting code out of the trace",
    "print": "a staged side effect with no result (tests/compiler/test_print.py)",
    "set_seed": "sets the global random state; no tensor",
    "enable_check_numerics": "a global debugging switch (tests/debugging)",
    "disable_check_numerics": "a global debugging switch (tests/debugging)",
    "Module": "a class (tests/test_module.py)", "name_scope": "a context manager for names",
    "device": "a placement context (tests/test_public_api.py)",
    "executing_eagerly": "reports the mode, not a tensor function (tests/test_public_api.py)",
    "py_function": "runs Python on the values (tests/ops/test_strings.py, tests/ops/test_script.py)",
    "numpy_function": "runs Python on the values (tests/ops/test_strings.py, tests/ops/test_script.py)",
    "constant_initializer": "an initializer class", "ones_initializer": "an initializer class",
    "zeros_initializer": "an initializer class", "random_normal_initializer": "an initializer class",
    "random_uniform_initializer": "an initializer class",
}
# tapegrad's own ops behind TF syntax (x[...], tf.where(c)): kept out of dir(tf), tested here all the same
INTERNAL_OPS = ("getitem", "where_indices")

# The namespaces enumerated; the others (keras, data, summary, train, config, test, inspect, autograph,
# types) are not op namespaces, and tf.errors holds exception classes.
NAMESPACES = ("", "math", "nn", "linalg", "random", "autodiff", "debugging", "dtypes")


def _public() -> dict:
    """name -> the public callable, over NAMESPACES (a name found in two namespaces is one object)."""
    found: dict = {}
    for space in NAMESPACES:
        module = getattr(tf, space) if space else tf
        for name in dir(module) + (list(INTERNAL_OPS) if not space else []):
            obj = getattr(module, name)
            if name.startswith("_") or isinstance(obj, types.ModuleType) or not callable(obj) or \
                    isinstance(obj, tf.DType):
                continue
            found.setdefault(name, []).append((f"tf.{space + '.' if space else ''}{name}", obj))
    return found


PUBLIC = _public()


def _function(name):
    return PUBLIC[name][0][1]


PARAMS = [pytest.param(name, case, id=f"{name}[{case.describe()}]")
          for name in sorted(CASES) for case in CASES[name]]


# -- running ---------------------------------------------------------------------------------------------

def _positional(fn, n: int):
    """A function of n positional parameters calling fn (an input_signature names each one)."""
    names = ", ".join(f"a{i}" for i in range(n))
    scope = {"fn": fn}
    exec(f"def call({names}):\n    return fn({names})", scope)  # noqa: S102 - a fixed template
    return scope["call"]


def _caller(name, case):
    fn = case.fn or _function(name)

    def call(*tensors):
        args, kwargs = case.bind(tensors)
        return fn(*args, **kwargs)
    return call


def _draws(name, case, grow=(0, 0)):
    rng = np.random.default_rng(zlib.crc32(f"{name}{case.describe()}".encode()))
    sets = []
    for k in (0, 1):
        values = [s.draw(rng, k, grow[k]) for s in case.specs()]
        if k and all(np.array_equal(a, b) for a, b in zip(values, sets[0])) and values:
            values = [s.draw(rng, k, grow[k]) for s in case.specs()]  # small int ranges: draw again
        sets.append(values)
    return sets


def _run(fn, sets, stateful):
    if stateful:
        tf.random.set_seed(SEED)
    try:
        return [fn(*[tf.constant(v) for v in values]) for values in sets]
    finally:
        if stateful:
            tf.random.set_seed(None)


def _assert_same(got, expected, what):
    got_leaves, expected_leaves = flatten(got), flatten(expected)
    assert len(got_leaves) == len(expected_leaves), \
        f"{what}: {len(got_leaves)} results, eagerly {len(expected_leaves)}"
    for k, (g, e) in enumerate(zip(got_leaves, expected_leaves)):
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype and g.shape == e.shape, \
            f"{what}, result {k}: {g.dtype}{list(g.shape)}, eagerly {e.dtype}{list(e.shape)}"
        if e.dtype.kind == "f":
            tol = {2: 1e-3, 4: 1e-5, 8: 1e-12}[e.dtype.itemsize]
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=f"{what}, result {k}")
        else:
            np.testing.assert_array_equal(g, e, err_msg=f"{what}, result {k}")


@pytest.mark.parametrize("name, case", PARAMS)
def test_compiled_matches_eager(name, case):
    call = _caller(name, case)
    sets = _draws(name, case)
    expected = _run(call, sets, case.stateful)
    compiled = tf.function(call, autograph=False)
    if case.traced_error is not None:
        error, _ = case.traced_error
        with pytest.raises(error):
            _run(compiled, sets[:1], case.stateful)
        return
    got = _run(compiled, sets, case.stateful)
    for k in (0, 1):
        _assert_same(got[k], expected[k], f"call {k + 1}")
    assert compiled.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("name, case", PARAMS)
def test_relaxed_batch_matches_eager(name, case):
    if case.traced_error:
        pytest.skip("raises inside tf.function")
    if case.no_relax and case.no_relax[1] is None:
        pytest.skip(case.no_relax[0])
    specs = case.specs()
    if not any(s.batch for s in specs):
        pytest.skip("no tensor argument with an axis to relax (scalars, shapes, seeds, weights)")
    call = _positional(_caller(name, case), len(specs))
    sets = _draws(name, case, grow=(0, 2))  # the second call's batch axes 2 longer
    expected = _run(call, sets, case.stateful)
    compiled = tf.function(call, input_signature=[s.spec() for s in specs], autograph=False)
    if case.no_relax:
        with pytest.raises(case.no_relax[1]):
            _run(compiled, sets[:1], case.stateful)
        return
    got = _run(compiled, sets, case.stateful)
    for k in (0, 1):
        _assert_same(got[k], expected[k], f"batch call {k + 1}")
    assert compiled.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("name, case", PARAMS)
def test_captured_variables_are_read_when_it_runs(name, case):
    """The arguments as variables the function reads from its closure, assigned between calls."""
    if case.traced_error:
        pytest.skip("raises inside tf.function")
    if not case.specs():
        pytest.skip("no tensor argument")
    fn = case.fn or _function(name)
    sets = _draws(name, case)
    expected = _run(_caller(name, case), sets, case.stateful)
    variables = [tf.Variable(v) for v in sets[0]]
    args, kwargs = case.bind(variables)
    compiled = tf.function(lambda: fn(*args, **kwargs), autograph=False)

    def call(*values):
        for variable, value in zip(variables, values):
            variable.assign(value)
        return compiled()
    got = _run(lambda *tensors: call(*[t.numpy() for t in tensors]), sets, case.stateful)
    for k in (0, 1):
        _assert_same(got[k], expected[k], f"call {k + 1}")
    assert compiled.experimental_get_tracing_count() == 1


# -- the table covers every public function ----------------------------------------------------------------

def test_every_public_function_is_covered():
    missing = sorted(name for name in PUBLIC if name not in CASES and name not in SKIPPED)
    assert not missing, (f"public functions with neither a case in CASES nor a reason in SKIPPED: "
                         f"{', '.join(missing)}")
    stale = sorted(name for name in list(CASES) + list(SKIPPED) if name not in PUBLIC)
    assert not stale, f"entries for names that are not public: {', '.join(stale)}"
    overlap = sorted(set(CASES) & set(SKIPPED))
    assert not overlap, f"both tested and skipped: {', '.join(overlap)}"
    grouped = DEFAULT + BINARY + POSITIVE + LOGICAL
    twice = sorted({n for n in grouped if grouped.count(n) > 1} | (set(grouped) & set(EXPLICIT)))
    assert not twice, f"listed twice (a default group and the table): {', '.join(twice)}"


# op families whose names are internal: what traced programs record (variable reads, tf.shape's op, sizes)
INTERNAL_FAMILIES = {"symbolic"}


def test_every_op_family_export_is_public():
    """What the op families export (their __all__) is reachable from the namespaces enumerated here."""
    import importlib

    from tapegrad.ops import FAMILIES
    hidden = []
    for family in sorted(set(FAMILIES) - INTERNAL_FAMILIES):
        module = importlib.import_module(f"tapegrad.ops.{family}")
        hidden += [f"{family}.{n}" for n in getattr(module, "__all__", ())
                   if callable(getattr(module, n)) and n not in PUBLIC and n.rstrip("_") not in PUBLIC]
    assert not hidden, f"exported by an op family but in no public namespace: {', '.join(hidden)}"


def test_a_name_in_two_namespaces_is_one_function():
    # CASES and SKIPPED are keyed by bare name: tf.sigmoid and tf.nn.sigmoid must be the same object
    differ = [[q for q, _ in where] for where in PUBLIC.values() if len({id(obj) for _, obj in where}) > 1]
    assert not differ, f"same name, different functions: {differ}"


def test_a_frozen_value_fails_the_comparison():
    """The comparison catches what it is for: a compiled function that kept its first call's value."""
    case = C(F(3, 4))
    sets = _draws("frozen", case)
    frozen = tf.constant(sets[0][0])  # what a library function reading the first call's value would keep
    got = _run(tf.function(lambda x: x * 0.0 + frozen, autograph=False), sets, False)
    expected = _run(tf.identity, sets, False)
    _assert_same(got[0], expected[0], "call 1")  # the first call agrees
    with pytest.raises(AssertionError):
        _assert_same(got[1], expected[1], "call 2")
