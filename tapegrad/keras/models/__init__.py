"""Models (``tf.keras.Model``, ``tf.keras.Sequential``, ``tf.keras.Input``) and model helpers."""
from .cloning import clone_model
from .functional import Functional, Input, InputLayer, KerasTensor
from .model import Model
from .sequential import Sequential

__all__ = ["Functional", "Input", "InputLayer", "KerasTensor", "Model", "Sequential", "clone_model",
           "load_model", "model_from_json", "save_model"]  # noqa: RUF022 - grouped: models, then files


def __getattr__(name):
    """Whole-model files (``saving_lib``), loaded on first use."""
    if name in ("load_model", "save_model", "model_from_json"):
        from .. import saving_lib
        return getattr(saving_lib, name)
    from ..._compat import missing
    raise missing("tf.keras.models", name)
