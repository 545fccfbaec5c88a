"""Whole-model `.keras` files: Keras 3's archives load with Keras's predictions, tapegrad's archives
have the structure Keras 3 reads (checked against Keras by hand with tests/fixtures/keras3), configs,
feature extraction and Sequential.build."""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tf

FIXTURES = Path(__file__).parent.parent / "fixtures" / "keras3"
EXPECTED = np.load(FIXTURES / "expected.npz")


class TwoLayer(tf.keras.Model):
    """The subclassed model of make_fixtures.py."""

    def __init__(self, hidden=6, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.dense1 = tf.keras.layers.Dense(hidden, activation="tanh")
        self.dense2 = tf.keras.layers.Dense(2)

    def call(self, x):
        return self.dense2(self.dense1(x))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


def _predict(model, name):
    return model.predict(EXPECTED[f"{name}_x"], verbose=0)


@pytest.mark.parametrize("name, cls, optimizer, steps", [("mlp", "Sequential", "Adam", 1),
                                                         ("cnn", "Functional", "SGD", 4)])
def test_keras3_files_load_with_keras_predictions_and_optimizer_state(name, cls, optimizer, steps):
    model = tf.keras.models.load_model(FIXTURES / f"{name}.keras")
    assert type(model).__name__ == cls
    np.testing.assert_allclose(_predict(model, name), EXPECTED[f"{name}_y"], atol=1e-5)
    assert type(model.optimizer).__name__ == optimizer
    assert int(model.optimizer.iterations.numpy()) == steps
    assert model.compiled


def test_registered_subclassed_model_loads_by_registered_name_or_custom_objects():
    with pytest.raises(TypeError, match="Could not locate class 'TwoLayer'"):
        tf.keras.models.load_model(FIXTURES / "custom.keras")
    model = tf.keras.models.load_model(FIXTURES / "custom.keras", custom_objects={"MyPkg>TwoLayer": TwoLayer})
    np.testing.assert_allclose(_predict(model, "custom"), EXPECTED["custom_y"], atol=1e-5)
    assert model.hidden == 5
    with tf.keras.utils.custom_object_scope({"TwoLayer": TwoLayer}):
        model = tf.keras.saving.load_model(FIXTURES / "custom.keras")
    np.testing.assert_allclose(_predict(model, "custom"), EXPECTED["custom_y"], atol=1e-5)


def test_compile_false_leaves_the_model_uncompiled():
    model = tf.keras.models.load_model(FIXTURES / "mlp.keras", compile=False)
    assert not getattr(model, "compiled", False)
    np.testing.assert_allclose(_predict(model, "mlp"), EXPECTED["mlp_y"], atol=1e-5)


def _h5_groups(data: bytes) -> dict:
    import h5py
    groups = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda n, o: groups.__setitem__(n, getattr(o, "shape", None)))
    return groups


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_saved_archive_has_keras3_structure(tmp_path, name):
    model = tf.keras.models.load_model(FIXTURES / f"{name}.keras")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    ours, theirs = zipfile.ZipFile(path), zipfile.ZipFile(FIXTURES / f"{name}.keras")
    assert sorted(ours.namelist()) == sorted(theirs.namelist())
    assert set(json.loads(ours.read("metadata.json"))) >= {"keras_version", "date_saved"}
    config, keras_config = (json.loads(z.read("config.json")) for z in (ours, theirs))
    for key in ("module", "class_name", "registered_name"):
        assert config[key] == keras_config[key]
    assert [(entry["module"], entry["class_name"]) for entry in config["config"]["layers"]] == \
        [(entry["module"], entry["class_name"]) for entry in keras_config["config"]["layers"]]
    assert config["compile_config"]["optimizer"]["class_name"] == keras_config["compile_config"]["optimizer"][
        "class_name"]
    # the weights (and optimizer slots, in Keras's order) sit where Keras puts them
    with_data = {k: v for k, v in _h5_groups(theirs.read("model.weights.h5")).items() if v is not None}
    assert {k: v for k, v in _h5_groups(ours.read("model.weights.h5")).items() if v is not None} == with_data
    again = tf.keras.models.load_model(path)
    np.testing.assert_allclose(_predict(again, name), EXPECTED[f"{name}_y"], atol=1e-5)
    assert int(again.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_new_model_round_trip_with_compile_config(tmp_path):
    inputs = tf.keras.Input(shape=(4,), name="x")
    hidden = tf.keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, name="out")(hidden))
    model.compile(optimizer=tf.keras.optimizers.RMSprop(0.01), loss="mse", metrics=["mae"])
    x = np.random.RandomState(1).rand(8, 4).astype("float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    copy = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert type(copy.optimizer).__name__ == "RMSprop" and copy.get_compile_config()["loss"] == "mse"
    for a, b in zip(copy.optimizer.variables, model.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy())


def test_to_json_and_model_from_json():
    model = tf.keras.Sequential([tf.keras.Input(shape=(5,)), tf.keras.layers.Dense(3, name="d")])
    copy = tf.keras.models.model_from_json(model.to_json())
    assert copy.get_layer("d").units == 3 and copy.output_shape == (None, 3)
    keras_json = zipfile.ZipFile(FIXTURES / "cnn.keras").read("config.json").decode()
    assert tf.keras.models.model_from_json(keras_json).output_shape == (None, 3)


def _archive_with_config(path, config):
    with zipfile.ZipFile(FIXTURES / "mlp.keras") as source, zipfile.ZipFile(path, "w") as out:
        out.writestr("metadata.json", source.read("metadata.json"))
        out.writestr("config.json", json.dumps(config))
        out.writestr("model.weights.h5", source.read("model.weights.h5"))


def test_lambda_bytecode_is_never_loaded(tmp_path):
    config = json.loads(zipfile.ZipFile(FIXTURES / "mlp.keras").read("config.json"))
    config["config"]["layers"][1]["config"]["activation"] = {"class_name": "__lambda__",
                                                             "config": {"value": ["YQ==", None, None]}}
    path = tmp_path / "lambda.keras"
    _archive_with_config(path, config)
    with pytest.raises(ValueError, match="disallowed by default"):
        tf.keras.models.load_model(path)
    with pytest.raises(ValueError, match="tapegrad does not load Python bytecode"):
        tf.keras.models.load_model(path, safe_mode=False)


def test_damaged_archive_raises_model_file_error_naming_it(tmp_path):
    data = (FIXTURES / "mlp.keras").read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(tf.keras.saving.ModelFileError, match="cut.keras"):
        tf.keras.models.load_model(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(tf.errors.DataLossError, match="cut.keras"):
        tf.keras.models.load_model(path)


def test_save_refuses_other_extensions(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        model.save(tmp_path / "m.h5")


def test_layer_output_feature_extraction():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(4, name="a"),
                                 tf.keras.layers.Dense(2, name="b")])
    extractor = tf.keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    features = extractor(tf.ones([1, 3]))
    assert [tuple(f.shape) for f in features] == [(1, 4), (1, 2)]
    np.testing.assert_allclose(features[-1].numpy(), model(tf.ones([1, 3])).numpy())
    assert model.get_layer("a").input is model.inputs[0]
    with pytest.raises(AttributeError, match="has never been called"):
        _ = tf.keras.layers.Dense(1).output


@pytest.mark.parametrize("build", [lambda m: m.build([None, 128]), lambda m: m.build((None, 128)),
                                   lambda m: m.build(input_shape=[None, 128])])
def test_sequential_build_takes_one_shape_as_a_list(build):
    model = tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.Dense(2)])
    build(model)
    assert model.output_shape == (None, 2) and model.layers[0].kernel.shape == (128, 4)


def test_a_lambda_is_written_as_keras_writes_it_and_never_loaded(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Lambda(lambda x: x * 2.0),
                                 tf.keras.layers.Dense(1)])
    path = tmp_path / "lambda.keras"
    with pytest.warns(UserWarning, match="stored as Python bytecode"):
        model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    function = config["config"]["layers"][1]["config"]["function"]
    assert function["class_name"] == "__lambda__" and len(function["config"]["value"]) == 3
    with pytest.raises(ValueError, match="safe_mode"):
        tf.keras.models.load_model(path)
    with pytest.raises(ValueError, match="does not load Python bytecode"):
        tf.keras.models.load_model(path, safe_mode=False)
