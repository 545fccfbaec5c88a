"""What the losses check about their inputs before computing: no strings where numbers go, class
labels inside ``[0, classes)`` and finite (a NaN label is reported as NaN, not as the integer a
cast makes of it), and ``y_pred`` looking like what ``from_logits`` says (a warning, beyond Keras).
The errors name the loss, the values at fault and the user's line; ``fit`` reports them as they are.
"""
from __future__ import annotations

import sys
import threading
import warnings

import numpy as np

from ..core.op import staged
from ..core.source import format_site, user_frame, user_site
from ..core.tensor import Tensor
from ..errors import InvalidArgumentError

__all__ = [
    "LabelValueError",
    "check_class_labels",
    "check_logits_or_probabilities",
    "reject_text",
    "state",
    "warn_at_user",
]

# Tolerance for "this row sums to 1": loose enough for float16 softmax outputs.
_ROW_SUM_TOL = 1e-3
_SHOWN_LABELS = 10  # how many label values an error lists, as TF's kernel


class LabelValueError(InvalidArgumentError):
    """A class label with no class (out of range, NaN or infinite): the data's fault, not a mismatch
    of shapes, so ``fit`` passes it on unchanged.

    >>> import tapegrad as tf
    >>> try:
    ...     tf.keras.losses.sparse_categorical_crossentropy([0, 5], [[0.5, 0.5], [0.5, 0.5]])
    ... except LabelValueError as e:
    ...     print(str(e).splitlines()[0][:70])
    Loss `sparse_categorical_crossentropy`: Received a label value of 5 wh
    """


class _CallState(threading.local):
    """What the running ``Loss.__call__`` shares with the loss functions it calls."""

    def __init__(self):
        # the Loss object being called: misuse warnings are issued once per object
        self.owner = None
        # (per-sample losses, validity mask): Keras attaches the ignore_class mask to the
        # result tensor; tapegrad tensors take no attributes, so it waits here for __call__
        self.masked = None


state = _CallState()
_warned_sites: set = set()


def _loss_name(fn_name: str) -> str:
    """The name an error gives: the Loss object being called (its own name), else the function."""
    owner = state.owner
    return owner.name if owner is not None else fn_name


def warn_at_user(message: str, category=UserWarning) -> None:
    """warnings.warn attributed to the user's line (the first frame outside tapegrad).

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_at_user("look here")
    >>> str(caught[0].message)
    'look here'
    """
    target = user_frame(2)
    frame, level = sys._getframe(1), 2
    while frame is not None and frame is not target:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level if frame is not None else 2)


# -- strings --------------------------------------------------------------------------------------

def _text_dtype(x):
    """The NumPy dtype of `x` if it holds strings, else None (cheap for tensors and arrays)."""
    if isinstance(x, Tensor):
        dtype = x._value.dtype
    elif isinstance(x, (np.ndarray, np.generic)):
        dtype = x.dtype
    elif isinstance(x, (list, tuple, str, bytes)):
        try:
            dtype = np.asarray(x).dtype  # Python data: what a conversion would make of it
        except ValueError:  # ragged: the conversion itself will say what is wrong
            return None
    else:
        return None
    return dtype if getattr(dtype, "kind", None) in ("U", "S") else None


def reject_text(x, what: str, fn_name: str) -> None:
    """Raise TypeError when `x` (the loss's `what`, "y_true" or "y_pred") holds strings.

    Converting them would fail deep inside with NumPy's words, or (NumPy being lenient) not
    at all; TF refuses to convert strings to numbers with a TypeError too.

    >>> reject_text([0.0, 1.0], "y_true", "mse")
    >>> reject_text(["cat", "dog"], "y_true", "mse")
    Traceback (most recent call last):
    ...
    TypeError: Loss `mse`: `y_true` holds strings (shape (2,), dtype <U3), but a loss computes ...
    """
    dtype = _text_dtype(x)
    if dtype is None:
        return
    shape = tuple(np.shape(x._value if isinstance(x, Tensor) else x))
    raise TypeError(f"Loss `{_loss_name(fn_name)}`: `{what}` holds strings (shape {shape}, dtype {dtype}), "
                    "but a loss computes with numbers. Turn string labels into integer class indices "
                    "first (e.g. `np.unique(labels, return_inverse=True)[1]`).\n"
                    f"  at {format_site(user_site())}")


# -- class labels ---------------------------------------------------------------------------------

def _label_text(value) -> str:
    """A label as the error shows it: NaN and infinities as such, numbers as the class they cast to."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # 'nan', 'inf', '-inf'
    return str(int(value))  # a cast to int64 truncates toward zero: -0.5 is class 0, 2.7 class 2


@staged()
def check_class_labels(labels, classes, loss_name="sparse_categorical_crossentropy") -> None:
    """Raise ``LabelValueError`` unless every label is a class in ``[0, classes)``.

    Float labels (a ``Loss`` converts its targets to float32) are classes when a cast to int64
    makes them one, as in TF; NaN and infinities never are, and are shown as such rather than as
    the integer a cast would make of them.  Inside a ``tf.function`` the check runs on every call.

    >>> check_class_labels(np.array([0.0, 2.0]), 3)
    >>> check_class_labels(np.array([0.0, np.nan]), 3)
    Traceback (most recent call last):
    ...
    tapegrad.keras.loss_checks.LabelValueError: Loss `sparse_categorical_crossentropy`: Received a label ...
    """
    values = np.asarray(labels._value if isinstance(labels, Tensor) else labels)
    if values.size == 0:
        return
    lo, hi = values.min(), values.max()
    floating = values.dtype.kind == "f"
    # NaN fails both comparisons; a float in (-1, classes) casts into [0, classes)
    if (lo > -1 if floating else lo >= 0) and hi < classes:
        return
    flat = values.reshape(-1)
    outside = (flat <= -1) if floating else (flat < 0)
    bad = outside | (flat >= classes) | (~np.isfinite(flat) if floating else False)
    first = flat[np.argmax(bad)]
    shown = " ".join(_label_text(v) for v in flat[:_SHOWN_LABELS])
    why = (" A label must be a class index; a NaN or infinite label is often a missing value in the "
           "targets." if floating and not np.isfinite(first) else "")
    raise LabelValueError(f"Loss `{loss_name}`: Received a label value of {_label_text(first)} which is "
                          f"outside the valid range of [0, {classes}).  Label values: {shown}\n"
                          f"  y_pred has {classes} classes (its last dimension), so labels go from 0 to "
                          f"{classes - 1}.{why}\n  at {format_site(user_site())}")


# -- logits or probabilities ----------------------------------------------------------------------

def _rows_sum_to_one(values: np.ndarray, axis) -> bool:
    sums = values.sum(axis=axis, dtype=np.float64)
    return bool(np.all(np.abs(sums - 1.0) <= _ROW_SUM_TOL))


def check_logits_or_probabilities(fn_name: str, v: np.ndarray, from_logits: bool, class_axis) -> None:
    """Warn when y_pred contradicts `from_logits` (a tapegrad addition; Keras trains silently badly).

    `class_axis` is None for elementwise (binary) losses, whose rows need not sum to 1.  It runs
    every step, so the common cases exit after one NumPy reduction, and a loss object that has
    warned stops checking.

    >>> check_logits_or_probabilities("categorical_crossentropy", np.array([[0.3, 0.7]]), False, -1)
    """
    owner = state.owner
    if owner is not None and getattr(owner, "_misuse_warned", False):
        return
    if not isinstance(v, np.ndarray) or v.size == 0 or v.dtype.kind != "f":  # traced: no values to look at
        return
    categorical = class_axis is not None and v.ndim > 0 and v.shape[class_axis] > 1
    if from_logits:
        if not categorical or v.min() < 0 or v.max() > 1 or not _rows_sum_to_one(v, class_axis):
            return
        problem = ("every value of `y_pred` is in [0, 1] and every row sums to 1: it looks like "
                   "probabilities (a softmax already applied), and the loss would apply softmax again")
        advice = ("Pass `from_logits=False`, or remove the softmax activation from the model's "
                  "output layer.")
    else:
        lo, hi = v.min(), v.max()
        if lo < 0 or hi > 1:
            problem = (f"`y_pred` has values outside [0, 1] (min {lo:.4g}, max {hi:.4g}): it looks "
                       "like logits, which the loss would clip to [1e-07, 1 - 1e-07]")
        elif categorical and not _rows_sum_to_one(v, class_axis):
            problem = ("the rows of `y_pred` do not sum to 1: it does not look like the output of a "
                       "softmax (logits, or per-class sigmoid outputs?)")
        else:
            return
        advice = ("If `y_pred` holds logits (no softmax or sigmoid applied), pass `from_logits=True` "
                  "to the loss; that is also more numerically stable.")
    if owner is not None:
        owner._misuse_warned = True
    else:  # a loss function called directly: once per call site
        site = user_site(2)
        if site in _warned_sites:
            return
        _warned_sites.add(site)
    warn_at_user(f"`{fn_name}` received `from_logits={from_logits}`, but {problem}. {advice}")
