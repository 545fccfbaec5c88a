"""Keras 3 pieces for custom training loops (``tf.keras``): layers, models, losses, optimizers, metrics.

Submodules load on first use, so ``import tapegrad`` stays fast.
"""
from __future__ import annotations

import importlib

_SUBMODULES = {"layers", "models", "losses", "metrics", "optimizers", "initializers", "activations",
               "utils", "regularizers", "constraints", "callbacks", "datasets", "backend", "saving",
               "mixed_precision", "preprocessing"}
_FROM_MODELS = {"Model", "Sequential", "Input"}
# `from keras import *` (keras_tuner does it) gives the submodules and classes, as Keras 3's does
__all__ = sorted(_SUBMODULES | _FROM_MODELS | {"InputSpec"})


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name == "InputSpec":
        from .layers.input_spec import InputSpec
        globals()[name] = InputSpec
        return InputSpec
    if name in _FROM_MODELS:
        value = getattr(importlib.import_module(f"{__name__}.models"), name)
        globals()[name] = value
        return value
    from .._compat import missing
    raise missing("tf.keras", name)


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | _FROM_MODELS | {"InputSpec"})
