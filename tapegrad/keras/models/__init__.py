"""Models (``tf.keras.Model``, ``tf.keras.Sequential``, ``tf.keras.Input``) and model helpers."""
from .cloning import clone_model
from .functional import Functional, Input, InputLayer, KerasTensor
from .model import Model
from .sequential import Sequential

__all__ = ["Functional", "Input", "InputLayer", "KerasTensor", "Model", "Sequential", "clone_model"]
