"""Gradient clipping helpers (composites): clip_by_norm, global_norm, clip_by_global_norm."""
from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, convert_to_tensor
from .math import cast, maximum, sqrt
from .reduce import _static_axis, reduce_sum

__all__ = ["clip_by_norm", "global_norm", "clip_by_global_norm"]


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t scaled so that its L2 norm over `axes` is at most clip_norm.

    >>> import tapegrad as tf
    >>> tf.clip_by_norm(tf.constant([3.0, 4.0]), 1.0).numpy()
    array([0.6, 0.8], dtype=float32)
    """
    t = convert_to_tensor(t)
    l2sum = reduce_sum(t * t, _static_axis(axes), keepdims=True)
    positive = cast(l2sum > 0, t.dtype)
    # where the norm is 0, divide by 1 instead: the result is t itself (0), with no NaN gradient
    l2norm = sqrt(l2sum * positive + (1 - positive))
    return t * clip_norm / maximum(l2norm, clip_norm)


def global_norm(t_list, name=None) -> Tensor:
    """sqrt(sum of squared L2 norms) of a list of tensors (None entries ignored)."""
    parts = [reduce_sum(convert_to_tensor(t) * convert_to_tensor(t)) for t in t_list if t is not None]
    if not parts:
        return Tensor(np.float32(0))
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return sqrt(total)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scale all tensors by clip_norm / max(global_norm, clip_norm); returns (clipped, global_norm)."""
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else convert_to_tensor(use_norm)
    scale = clip_norm / maximum(norm, clip_norm)
    clipped = [None if t is None else convert_to_tensor(t) * cast(scale, convert_to_tensor(t).dtype)
               for t in t_list]
    return clipped, norm



