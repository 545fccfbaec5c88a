"""Configs of built-in objects against Keras 3's (tests/fixtures/keras3/configs.json, made by
make_fixtures.py): each Keras config deserializes here and serializes back to the same config."""
import json
from pathlib import Path

import pytest

import tapegrad as tf

CONFIGS = json.loads((Path(__file__).parent.parent / "fixtures" / "keras3" / "configs.json").read_text())
# Keras 3 keys tapegrad does not write (defaults either way), and keys only tapegrad writes
KERAS_ONLY = {"quantization_config", "renorm", "renorm_clipping", "renorm_momentum"}
TAPEGRAD_ONLY = {"activity_regularizer", "delta", "axis"}


def _plain(value):
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy":
            return value["config"]["name"]
        return {k: _plain(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("entry", [e for entries in CONFIGS.values() for e in entries],
                         ids=lambda e: e["class_name"])
def test_keras_config_round_trips(entry):
    obj = tf.keras.saving.deserialize_keras_object(entry)
    ours = _plain(json.loads(json.dumps(tf.keras.saving.serialize_keras_object(obj))))
    theirs = _plain(entry)
    for key in ("module", "class_name", "registered_name"):
        assert ours[key] == theirs[key]
    inner = {k: v for k, v in ours["config"].items() if k not in TAPEGRAD_ONLY}
    assert inner == {k: v for k, v in theirs["config"].items() if k not in KERAS_ONLY | TAPEGRAD_ONLY}


def test_registration_and_functions():
    @tf.keras.saving.register_keras_serializable(package="Cfg")
    def scaled_relu(x):
        return tf.nn.relu(x) * 2.0
    config = tf.keras.saving.serialize_keras_object(scaled_relu)
    assert config["class_name"] == "function" and config["registered_name"] == "Cfg>scaled_relu"
    assert tf.keras.saving.deserialize_keras_object(config) is scaled_relu
    layer = tf.keras.layers.Dense(2, activation=scaled_relu)
    copy = tf.keras.layers.Dense.from_config(layer.get_config())
    assert copy.activation is scaled_relu
    assert tf.keras.saving.serialize_keras_object(tf.keras.activations.relu)["config"] == "relu"


def test_module_named_in_a_file_is_never_imported():
    with pytest.raises(TypeError, match="never imports"):
        tf.keras.saving.deserialize_keras_object({"module": "os", "class_name": "system", "config": {},
                                                  "registered_name": None})
