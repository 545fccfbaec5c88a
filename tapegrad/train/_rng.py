"""The random state a checkpoint keeps: tapegrad's (global seed, op-seed sequence, Philox streams),
NumPy's global generator and Python's ``random``, as JSON-able values.

All three are saved because training code draws from all three (``keras.utils.set_random_seed``
seeds all three): a run resumed from a checkpoint then draws exactly what the uninterrupted run
would have.
"""
from __future__ import annotations

import random

import numpy as np

from ..ops import random as tf_random


def capture() -> dict:
    """The current random state of tapegrad, NumPy's global generator and Python's ``random``.

    >>> state = capture()
    >>> a = (random.random(), float(np.random.rand()))
    >>> restorer(state)()
    >>> a == (random.random(), float(np.random.rand()))
    True
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {"tapegrad": tf_random.STATE.get_state(),
            "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "python": [version, list(internal), gauss]}


def restorer(state) -> callable:
    """A function putting back `state` (from ``capture``), checked now: ValueError if it is not one,
    so that a caller can check everything before changing anything.

    >>> state = capture()
    >>> a = random.random()
    >>> restorer(state)()
    >>> a == random.random()
    True
    """
    try:
        name, keys, pos, has_gauss, cached = state["numpy"]
        numpy_state = (str(name), np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached))
        np.random.RandomState().set_state(numpy_state)
        version, internal, gauss = state["python"]
        python_state = (version, tuple(internal), gauss)
        random.Random().setstate(python_state)
        tf_random.RandomState().set_state(state["tapegrad"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"it holds no random state this tapegrad can restore ({type(e).__name__}: {e})") \
            from None

    def restore() -> None:
        tf_random.STATE.set_state(state["tapegrad"])
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return restore
