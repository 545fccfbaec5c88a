"""The old home of Keras training (``compile``/``fit``/``evaluate``/``predict``), kept so that its
import path works: the code lives in ``tapegrad.keras.trainers``.

>>> from tapegrad.keras.models.training import Trainer, unpack_x_y_sample_weight
>>> Trainer.__module__
'tapegrad.keras.trainers.trainer'
"""
from __future__ import annotations

from ..trainers.compile_utils import CompileLoss, CompileMetrics, MetricsList
from ..trainers.data_adapters import (
                                      class_weight_to_sample_weights,
                                      pack_x_y_sample_weight,
                                      train_validation_split,
                                      unpack_x_y_sample_weight,
)
from ..trainers.epoch_iterator import EpochIterator
from ..trainers.input_checks import check_count
from ..trainers.trainer import Trainer, pythonify_logs

__all__ = ["Trainer", "EpochIterator", "CompileLoss", "CompileMetrics", "MetricsList", "pythonify_logs",
           "unpack_x_y_sample_weight", "pack_x_y_sample_weight", "class_weight_to_sample_weights",
           "train_validation_split", "check_count"]
