"""``tf.config``: run-time switches."""
from __future__ import annotations

import os

_run_eagerly = False


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Make every tf.function call its Python function directly (for debugging), as TF.

    >>> import tapegrad as tf
    >>> tf.config.run_functions_eagerly(True); tf.config.functions_run_eagerly()
    True
    >>> tf.config.run_functions_eagerly(False)
    """
    global _run_eagerly
    _run_eagerly = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    return _run_eagerly


# read once at import: TAPEGRAD_FUSED_KERNELS=0 turns the fused updates off for a whole process
_fused_kernels = os.environ.get("TAPEGRAD_FUSED_KERNELS", "1") != "0"


def set_fused_kernels(enabled: bool) -> None:
    """Let the built-in optimizers (SGD, Adam, AdamW, RMSprop) update each variable in one fused
    numba pass when numba is installed (the ``fast`` extra); False keeps the NumPy path.

    On by default; the environment variable ``TAPEGRAD_FUSED_KERNELS=0`` starts a process with it
    off. Both paths give the same values.

    >>> import tapegrad as tf
    >>> before = tf.config.fused_kernels_enabled()
    >>> tf.config.set_fused_kernels(False); tf.config.fused_kernels_enabled()
    False
    >>> tf.config.set_fused_kernels(before)
    """
    global _fused_kernels
    _fused_kernels = bool(enabled)


def fused_kernels_enabled() -> bool:
    """The ``set_fused_kernels`` switch (whether numba is installed is not checked here)."""
    return _fused_kernels
