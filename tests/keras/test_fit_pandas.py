"""fit/predict and from_tensor_slices take pandas DataFrames and Series as the arrays `to_numpy()`
gives (Keras 3 and TF 2.21 do): `y` as a Series, `validation_split`, `dict(df)` inputs."""
import numpy as np
import pytest

import tapegrad as tf


class Frame:
    """A duck-typed stand-in for a pandas DataFrame/Series: to_numpy, index, columns, [name]."""

    def __init__(self, data):
        self.data = data
        self.index = np.arange(len(next(iter(data.values())) if isinstance(data, dict) else data))
        self.columns = list(data) if isinstance(data, dict) else None

    def to_numpy(self):
        if isinstance(self.data, dict):
            return np.stack([np.asarray(v) for v in self.data.values()], axis=1)
        return np.asarray(self.data)

    def __getitem__(self, name):
        return Frame(np.asarray(self.data[name]))

    def __len__(self):
        return len(self.index)


def _model(n):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Input((n,)), tf.keras.layers.Dense(1)])
    model.compile("adam", "mse")
    return model


def test_frames_as_arrays_in_fit_and_predict():
    df = Frame({"a": [1.0, 2.0, 3.0, 4.0], "b": [5.0, 6.0, 7.0, 8.0]})
    target = Frame(np.array([0.0, 1.0, 0.0, 1.0]))
    model = _model(2)
    assert sorted(model.fit(df, target, epochs=1, verbose=0).history) == ["loss"]
    history = model.fit(df, target, validation_split=0.25, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "val_loss"]
    assert model.predict(df, verbose=0).shape == (4, 1)


def test_dict_of_series_in_from_tensor_slices_keeps_numpy_dtypes():
    df = {"a": Frame(np.array([1.0, 2.0])), "b": Frame(np.array([5, 6]))}
    ds = tf.data.Dataset.from_tensor_slices((df, Frame(np.array([0, 1]))))
    assert ds.element_spec == ({"a": tf.TensorSpec((), tf.float64), "b": tf.TensorSpec((), tf.int64)},
                               tf.TensorSpec((), tf.int64))


def test_real_pandas():
    pd = pytest.importorskip("pandas", reason="pandas is optional: the stand-in above covers the library")
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [5, 6, 7, 8]})
    y = pd.Series([0, 1, 0, 1])
    model = _model(2)
    history = model.fit(df, y, validation_split=0.25, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "val_loss"]
    model.fit(df, df[["a"]], epochs=1, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices((dict(df), y))
    assert ds.element_spec[0]["b"] == tf.TensorSpec((), tf.int64)
