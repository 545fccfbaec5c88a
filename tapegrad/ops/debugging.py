"""``tf.debugging``'s ops: ``check_numerics`` (an identity that refuses NaN and Inf) and its alias."""
from __future__ import annotations

import numpy as np

from ..core.aval import ShapedArray
from ..core.op import REAL, defop

__all__ = ["assert_all_finite", "check_numerics"]


def _gradient_message(message: str) -> str:
    return f"{message} (in its gradient)" if message else "in the gradient of check_numerics"


def _check_numerics_type(tensor, message=""):
    if tensor.dtype.kind not in "fc":
        raise TypeError(f"check_numerics takes floating-point tensors, got {tensor.dtype.name}")
    return ShapedArray(tensor.shape, tensor.dtype)


# stateful: the check is the point, so a tf.function keeps it even when its result is unused
# (dead-code elimination) and never folds it away at trace time
@defop(vjp=(lambda g, out, tensor, message="": check_numerics(g, message=_gradient_message(message)),),
       jvp=(lambda t, out, tensor, message="": check_numerics(t, message=_gradient_message(message)),),
       saves="", domain=(REAL,), batch_vjp=True, stateful=True, shape=_check_numerics_type)
def check_numerics(tensor, message=""):
    """`tensor` unchanged, or InvalidArgumentError with `message` when it has NaN or Inf values.

    The gradient passes through, and is checked the same way.

    >>> import tapegrad as tf
    >>> tf.debugging.check_numerics(tf.constant([1.0, 2.0]), "weights").numpy()
    array([1., 2.], dtype=float32)
    >>> tf.debugging.check_numerics(tf.constant([0.0, float("nan")]), "input")
    Traceback (most recent call last):
    ...
    tapegrad.errors.InvalidArgumentError: check_numerics(float32[2]): input : Tensor had NaN values ...
    """
    if tensor.dtype.kind not in "fc":
        raise TypeError(f"check_numerics takes floating-point tensors, got {tensor.dtype.name}")
    finite = np.isfinite(tensor)
    if not finite.all():
        found = [what for what, bad in (("+Inf", np.isposinf(tensor)), ("-Inf", np.isneginf(tensor)),
                                         ("NaN", np.isnan(tensor))) if bad.any()]
        # a ValueError: the op machinery makes it InvalidArgumentError with the op and the user's line
        raise ValueError(f"{message} : Tensor had {' and '.join(found)} values")
    return tensor


def assert_all_finite(t, msg, name=None):
    """``tf.debugging.assert_all_finite``: `t` unchanged, or InvalidArgumentError with `msg`.

    >>> import tapegrad as tf
    >>> float(tf.debugging.assert_all_finite(tf.constant(3.0), "loss"))
    3.0
    """
    return check_numerics(t, message=msg)
