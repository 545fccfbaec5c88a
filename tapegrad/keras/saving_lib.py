"""Whole-model files in Keras 3's ``.keras`` format (``model.save``, ``tf.keras.models.load_model``).

A ``.keras`` file is a zip archive of ``metadata.json``, ``config.json`` (the model as
``serialize_keras_object`` writes it, with its ``build_config`` and ``compile_config``) and
``model.weights.h5`` (the weights and optimizer state in the layout of ``.weights.h5`` files,
see ``saving.py``), so files move both ways between tapegrad and Keras 3.  Archives are
untrusted: member sizes are bounded before anything is inflated, JSON is only parsed, classes are
looked up (never imported) and no Python code is unmarshalled; a damaged archive raises
``ModelFileError`` naming it.  Writes are atomic.  ``to_json``/``model_from_json`` exchange the
same config without weights.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import numpy as np

from .._files import guard
from ..errors import DataLossError
from . import saving
from .serialization import SafeModeScope, deserialize_keras_object, serialize_keras_object

__all__ = ["ModelFileError", "load_model", "model_from_json", "save_model"]

KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose files these match
_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
_MAX_JSON = 64 << 20


class ModelFileError(DataLossError, ValueError):
    """A ``.keras`` file that cannot be read: not a zip archive, a member missing, truncated or
    corrupt, or JSON that does not parse.  The message names the file."""


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs) -> None:
    """Write `model` (config, weights, optimizer state) to a Keras 3 ``.keras`` archive.

    >>> import os, tempfile, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> tf.keras.saving.save_model(model, path)
    >>> sorted(zipfile.ZipFile(path).namelist())
    ['config.json', 'metadata.json', 'model.weights.h5']
    """
    filepath = os.fspath(filepath)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if zipped is False:
        raise ValueError("tapegrad writes zipped `.keras` archives only (zipped=False is not supported).")
    if not filepath.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add a `.keras` extension for the "
                         f"native Keras format (tapegrad writes no legacy `.h5` models). Received: "
                         f"filepath={filepath}")
    if os.path.exists(filepath) and not overwrite and not saving._confirm_overwrite(filepath):
        return
    if not model.built:
        raise ValueError("You are saving a model that has not yet been built. Try building the model first "
                         "by calling it on some data or by using `build()`.")
    config_json = json.dumps(serialize_keras_object(model), default=_json_default)
    metadata = json.dumps({"keras_version": KERAS_FORMAT_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    h5py = saving._require_h5py()
    entries = [(path, saving._name_of(obj), [np.asarray(v.numpy()) for v in variables])
               for path, obj, variables in saving.walk(model)]
    weights = io.BytesIO()
    saving._write_h5(h5py, weights, entries)

    def write(f):
        with zipfile.ZipFile(f, "w") as archive:
            archive.writestr(_METADATA, metadata)
            archive.writestr(_CONFIG, config_json)
            archive.writestr(_WEIGHTS, weights.getvalue())
    saving.atomic_write(filepath, write)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a ``.keras`` archive written by tapegrad or Keras 3.

    `custom_objects` maps names in the file to classes and functions; with ``compile=True`` the
    optimizer, loss and metrics come back (with the optimizer's state).

    >>> import os, tempfile, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> copy = tf.keras.models.load_model(path)
    >>> bool((copy.layers[0].kernel.numpy() == model.layers[0].kernel.numpy()).all())
    True
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        if filepath.endswith((".h5", ".hdf5")):
            raise ValueError(f"tapegrad does not read legacy Keras 2 `.h5` models ({filepath}): load the "
                             "model in Keras and save it as `.keras`.")
        raise ValueError(f"File format not supported: filepath={filepath}. Keras 3 only supports V3 `.keras` "
                         "files.")
    if not os.path.exists(filepath):
        raise ValueError(f"File not found: filepath={filepath}. Please ensure the file is an accessible "
                         "`.keras` zip file.")
    config = _read_config(filepath)
    if not compile:
        config.pop("compile_config", None)
    with SafeModeScope(safe_mode):
        model = deserialize_keras_object(config, custom_objects=custom_objects, safe_mode=safe_mode)
    saving.load_weights(model, filepath)
    return model


def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from ``model.to_json()``'s string, tapegrad's or Keras 3's.

    >>> import tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2, name="out")])
    >>> copy = tf.keras.models.model_from_json(model.to_json())
    >>> copy.get_layer("out").units, copy.output_shape
    (2, (None, 2))
    """
    return deserialize_keras_object(json.loads(json_string), custom_objects=custom_objects)


def to_json(model, **kwargs) -> str:
    """The model's Keras 3 config as JSON (``model.to_json()``)."""
    return json.dumps(serialize_keras_object(model), default=_json_default, **kwargs)


def _json_default(value):
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Unable to serialize {value!r} to JSON: it is a {type(value).__name__}.")


def _read_config(filepath) -> dict:
    def corrupt(why):
        return ModelFileError(f"Could not read model file {filepath!r}: it is not a valid `.keras` archive "
                              f"({why}).")
    with guard(corrupt):
        with zipfile.ZipFile(filepath) as archive:
            names = archive.namelist()
            for member in (_CONFIG, _WEIGHTS):
                if member not in names:
                    raise corrupt(f"it has no {member}")
            info = archive.getinfo(_CONFIG)
            if info.file_size > _MAX_JSON:
                raise corrupt(f"its {_CONFIG} states {info.file_size} bytes, more than the "
                              f"{_MAX_JSON >> 20} MiB allowed")
            text = archive.read(_CONFIG)
        config = json.loads(text)
    if not isinstance(config, dict) or "class_name" not in config:
        raise corrupt(f"its {_CONFIG} does not describe a model")
    return config
