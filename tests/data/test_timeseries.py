"""keras.utils.timeseries_dataset_from_array: windows, targets and errors recorded from Keras 3."""
import numpy as np
import pytest

import tapegrad as tf

window = tf.keras.utils.timeseries_dataset_from_array


def test_windows_and_targets():
    data, targets = np.arange(20).reshape(10, 2).astype("float32"), np.arange(10) * 10
    ds = window(data, targets, sequence_length=3, sequence_stride=2, sampling_rate=2, batch_size=2)
    got = [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    assert got == [([[[0.0, 1.0], [4.0, 5.0], [8.0, 9.0]], [[4.0, 5.0], [8.0, 9.0], [12.0, 13.0]]], [0, 20]),
                   ([[[8.0, 9.0], [12.0, 13.0], [16.0, 17.0]]], [40])]
    assert ds.element_spec == (tf.TensorSpec((None, None, 2), tf.float32), tf.TensorSpec((None,), tf.int64))
    assert int(ds.cardinality()) == 2
    ds = window(np.arange(10), None, sequence_length=4, batch_size=None, start_index=2, end_index=9)
    assert [x.numpy().tolist() for x in ds] == [[2, 3, 4, 5], [3, 4, 5, 6], [4, 5, 6, 7], [5, 6, 7, 8]]
    ds = window(np.arange(10), np.arange(3), sequence_length=2, batch_size=5)
    assert [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds] == \
        [([[0, 1], [1, 2], [2, 3]], [0, 1, 2])]
    spec = window(np.arange(10.0), None, sequence_length=3).element_spec
    assert spec == tf.TensorSpec((None, None), tf.float64)
    assert list(window(np.arange(10), None, sequence_length=20)) == []


def test_shuffle_keeps_every_window():
    ds = window(np.arange(100), np.arange(100), sequence_length=3, batch_size=8, shuffle=True, seed=1)
    xs = [x.numpy() for x, y in ds]
    assert len(xs) == 13 and sorted(np.concatenate(xs)[:, 0].tolist()) == list(range(98))


@pytest.mark.parametrize("kw, message", [
    ({"sampling_rate": 0}, "`sampling_rate` must be higher than 0. Received: sampling_rate=0"),
    ({"sequence_stride": 0}, "`sequence_stride` must be higher than 0. Received: sequence_stride=0"),
    ({"start_index": -1}, "`start_index` must be 0 or greater. Received: start_index=-1"),
    ({"start_index": 10}, ("`start_index` must be lower than the length of the data. Received: "
                           "start_index=10, "
                           "for data of length 10")),
    ({"end_index": 10}, ("`end_index` must be lower than the length of the data. Received: end_index=10, for "
                         "data of length 10")),
    ({"start_index": 5, "end_index": 3}, ("`end_index` must be higher than `start_index`. Received: "
                                          "start_index=5, "
                                       "and end_index=3")),
    ({"sampling_rate": 10}, ("`sampling_rate` must be lower than the length of the data. Received: "
                             "sampling_rate=10, for data of length 10")),
])
def test_errors(kw, message):
    with pytest.raises(ValueError) as info:
        window(np.arange(10), None, **{"sequence_length": 3, **kw})
    assert str(info.value).strip() == message
