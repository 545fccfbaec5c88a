"""Fused optimizer updates: one numba loop per optimizer formula (the ``fast`` extra).

The NumPy path of a built-in optimizer makes about a dozen in-place passes over each cache
block; these loops read the gradient and the state once and write the state once per
element.  The update is memory-bound, so one pass is the floor: Adam on the quickstart CNN's
2.77 M float32 parameters takes 2.3 ms fused against 10.3 ms blocked NumPy on the 2-core
benchmark machine (``python -m bench.optimizer_update``).

Each loop does the NumPy path's operations in the NumPy path's order, on scalars of the
variable's dtype and without fast-math, so each rounding is the same and the results are
bit-identical (``tests/keras/test_optimizer_kernels.py`` checks it).  The loops are plain Python
here: numba is imported and a loop compiled (``cache=True``: once per machine and dtype) on
the first update that needs it, never at ``import tapegrad``.  Without numba, or with
``tapegrad.config.set_fused_kernels(False)``, ``get`` returns None and the NumPy path runs.

>>> import numpy as np
>>> w, g, m = np.ones(3, np.float32), np.full(3, 2.0, np.float32), np.zeros(3, np.float32)
>>> sgd(w, g, m, np.float32(0.1), np.float32(0.5), True, False)  # the plain loop, uncompiled
>>> w, m
(array([0.8, 0.8, 0.8], dtype=float32), array([-0.2, -0.2, -0.2], dtype=float32))
"""
from __future__ import annotations

import numpy as np

from ... import config

__all__ = ["active", "adam", "get", "rmsprop", "sgd"]


# -- the loops: arguments are flat C-contiguous arrays of one dtype, scalars of that dtype,
#    and flags; an unused slot is an empty array (one compiled signature per dtype) ------------

def sgd(w, g, m, lr, mu, momentum, nesterov):
    """``SGD._update_dense`` in one pass (``m`` unused without `momentum`)."""
    for i in range(w.shape[0]):
        step = g[i] * lr
        if momentum:
            mi = m[i] * mu - step
            m[i] = mi
            if nesterov:
                w[i] = (w[i] - step) + mi * mu
            else:
                w[i] += mi
        else:
            w[i] -= step


def adam(w, g, m, v, v_hat, alpha, rate_1, rate_2, epsilon, amsgrad):
    """``Adam._update_dense`` in one pass (``v_hat`` unused without `amsgrad`)."""
    for i in range(w.shape[0]):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * rate_1
        vi = v[i] + (gi * gi - v[i]) * rate_2
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = np.maximum(v_hat[i], vi)  # NumPy's maximum: a NaN on either side wins
            v_hat[i] = vi
        w[i] -= alpha / (np.sqrt(vi) + epsilon) * mi


def rmsprop(w, g, v, m, a, lr, rho, rate, mu, epsilon, momentum, centered):
    """``RMSprop._update_dense`` in one pass (``m``, ``a`` unused without `momentum`, `centered`)."""
    for i in range(w.shape[0]):
        gi = g[i]
        vi = v[i] * rho + gi * rate * gi
        v[i] = vi
        if centered:
            ai = a[i] * rho + gi * rate
            a[i] = ai
            denominator = (vi - ai * ai) + epsilon
        else:
            denominator = vi + epsilon
        step = gi / np.sqrt(denominator) * lr
        if momentum:
            mi = m[i] * mu + step
            m[i] = mi
            w[i] -= mi
        else:
            w[i] -= step


# -- compiling on first use -------------------------------------------------------------------

_LOOPS = {"sgd": sgd, "adam": adam, "rmsprop": rmsprop}
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # float16: numba has no arithmetic for it
_compiled: dict = {}  # name -> the numba dispatcher
_numba = None         # the module once imported; False when it cannot be


def _import_numba():
    global _numba
    if _numba is None:
        try:
            import numba
        except ImportError:
            numba = False
        _numba = numba
    return _numba


def get(name: str, dtype):
    """The compiled loop `name` ('sgd', 'adam', 'rmsprop') for arrays of `dtype`, or None when
    fused kernels are off (``tapegrad.config.set_fused_kernels(False)``), numba is not installed,
    or the dtype is neither float32 nor float64.

    >>> import numpy as np, tapegrad as tf
    >>> get("adam", np.float16) is None
    True
    >>> before = tf.config.fused_kernels_enabled()
    >>> tf.config.set_fused_kernels(False)
    >>> get("adam", np.float32) is None
    True
    >>> tf.config.set_fused_kernels(before)
    """
    if not config.fused_kernels_enabled() or np.dtype(dtype) not in _DTYPES:
        return None
    loop = _compiled.get(name)
    if loop is None:
        numba = _import_numba()
        if not numba:
            return None
        # no fastmath: the roundings must be NumPy's.  error_model="numpy": a division by zero
        # gives inf or nan as NumPy's does, where Python's model tests every divisor and raises,
        # and that test per element also keeps LLVM from vectorising the loop (4x slower)
        loop = _compiled[name] = numba.njit(cache=True, error_model="numpy")(_LOOPS[name])
    return loop


def active() -> bool:
    """Whether the built-in optimizers' dense updates run fused (the switch is on and numba
    imports); imports numba to find out.

    >>> import tapegrad as tf
    >>> before = tf.config.fused_kernels_enabled()
    >>> tf.config.set_fused_kernels(False)
    >>> active()
    False
    >>> tf.config.set_fused_kernels(before)
    """
    return config.fused_kernels_enabled() and bool(_import_numba())
