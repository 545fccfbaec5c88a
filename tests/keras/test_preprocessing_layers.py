"""Rescaling, Normalization (adapt on arrays and datasets), CategoryEncoding, Discretization, StringLookup,
IntegerLookup and TextVectorization against values recorded from Keras 3.15 / TF 2.21
(tests/fixtures/keras_preprocessing.json, and literals below); configs; errors."""
import json
import os

import numpy as np
import pytest

import tapegrad as tf

layers = tf.keras.layers
with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_preprocessing.json")) as f:
    REC = json.load(f)

DATA = ["The cat sat.", "the DOG, the cat!", "A bird?  sat  on\tthe mat", "dog's day"]
PROBE = ["the cat sat on a mat", "dogs!", ""]
TV = {"default": {}, "max5": dict(max_tokens=5), "len4": dict(output_sequence_length=4), "ngrams2": dict(ngrams=2),
      "multi_hot": dict(output_mode="multi_hot"), "count13": dict(output_mode="count", ngrams=(1, 3)),
      "tf_idf": dict(output_mode="tf_idf"),
      "mh_pad": dict(output_mode="multi_hot", max_tokens=4, pad_to_max_tokens=True),
      "chars": dict(standardize=None, split="character", output_sequence_length=6),
      "lower": dict(standardize="lower"), "strip": dict(standardize="strip_punctuation"), "nosplit": dict(split=None)}


@pytest.mark.parametrize("key", sorted(TV))
def test_text_vectorization_matches_keras(key):
    layer = layers.TextVectorization(**TV[key])
    layer.adapt(DATA)
    expected = REC[f"tv/{key}"]
    assert layer.get_vocabulary() == expected["vocab"]
    np.testing.assert_allclose(layer(PROBE).numpy(), expected["y"], rtol=1e-5, atol=1e-6)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config()["standardize"] == layer.get_config()["standardize"]


def test_text_vectorization_adapts_on_datasets_and_bytes():
    for dataset, key in [(tf.data.Dataset.from_tensor_slices(DATA).batch(3), "tv/ds"),
                         (tf.data.Dataset.from_tensor_slices(DATA), "tv/ds_unbatched")]:
        layer = layers.TextVectorization()
        layer.adapt(dataset)
        assert layer.get_vocabulary() == REC[key]
    layer = layers.TextVectorization()
    layer.adapt(np.array([s.encode() for s in DATA], dtype=object))
    assert layer.get_vocabulary() == REC["tv/default"]["vocab"]
    np.testing.assert_array_equal(layer(np.array([s.encode() for s in PROBE])).numpy(), REC["tv/default"]["y"])


def test_text_vectorization_input_ranks_vocabulary_and_callables():
    layer = layers.TextVectorization(vocabulary=["cat"])
    assert layer("cat dog cat").numpy().tolist() == REC["tv/scalar"]
    assert layer(np.array([["cat cat"], ["x"]])).numpy().tolist() == REC["tv/col"]
    assert layer.vocabulary_size() == 3 and layer.get_config()["vocabulary"] == ["cat"]
    given = layers.TextVectorization(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[0.5, 2.0])
    assert given.get_vocabulary() == REC["tv/idf_given"]["vocab"]
    np.testing.assert_allclose(given(["a b b z"]).numpy(), REC["tv/idf_given"]["y"], rtol=1e-6)
    dashed = layers.TextVectorization(vocabulary=["cat"], standardize=None,
                                      split=lambda s: s.numpy().decode().split("-"))
    assert dashed(["cat-x-cat"]).numpy().tolist() == [[2, 1, 2]]


def test_text_vectorization_runs_inside_tf_function_eagerly():
    layer = layers.TextVectorization(vocabulary=["a", "b"])
    assert tf.function(lambda x: layer(x))(tf.constant(["b a q"])).numpy().tolist() == [[3, 2, 1]]


TOKENS = ["b", "a", "c", "a", "b", "d", "a", "c", "c", "c", "e", "b"]


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "tf_idf", "one_hot"])
@pytest.mark.parametrize("mask", [None, "[M]"])
def test_string_lookup_matches_keras(mode, mask):
    layer = layers.StringLookup(output_mode=mode, mask_token=mask)
    layer.adapt(np.array(TOKENS).reshape(4, 3))
    expected = REC[f"sl/{mode}/{mask}"]
    assert layer.get_vocabulary() == expected["vocab"] and layer.vocabulary_size() == expected["size"]
    x = np.array(["a", "z", "e"]) if mode == "one_hot" else np.array([[b"a", b"z"], [b"c", b"[M]"]], dtype=object)
    np.testing.assert_allclose(layer(x).numpy(), expected["y"], rtol=1e-5)
    clone = layers.StringLookup.from_config(layer.get_config())
    assert clone.get_config()["output_mode"] == mode


def test_string_lookup_max_tokens_invert_padding_and_errors():
    layer = layers.StringLookup(max_tokens=3)
    layer.adapt(np.array(TOKENS))
    assert layer.get_vocabulary() == REC["sl/max3"]
    inverse = layers.StringLookup(vocabulary=["a", "b"], mask_token="", invert=True)
    assert [v.decode() for v in inverse(np.array([[0, 1, 2, 3]])).numpy().ravel()] == REC["sl/invert"]
    padded = layers.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot", max_tokens=5, pad_to_max_tokens=True)
    assert padded(np.array([["a", "q"]])).numpy().tolist() == REC["sl/pad"]
    strict = layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"found OOV values \['q'\]"):
        strict(np.array(["a", "q"]))
    with pytest.raises(ValueError, match="repeated term"):
        layers.StringLookup(vocabulary=["a", "a"])
    assert layers.StringLookup(vocabulary=["[UNK]", "a"]).get_vocabulary() == ["[UNK]", "a"]


def test_integer_lookup_matches_keras():
    layer = layers.IntegerLookup()
    layer.adapt(np.array([3, 3, 7, 1, 7, 7]))
    assert layer.get_vocabulary() == REC["il/adapt"]["vocab"]
    assert layer(np.array([7, 3, 1, 99])).numpy().tolist() == REC["il/adapt"]["y"]
    two = layers.IntegerLookup(num_oov_indices=2, vocabulary=[10, 20])
    assert two.get_vocabulary() == REC["il/oov2"]["vocab"]
    assert two(np.array([10, 5, 6, 7, 20])).numpy().tolist() == REC["il/oov2"]["y"]
    masked = layers.IntegerLookup(mask_token=0, vocabulary=[10, 20])
    assert masked.get_vocabulary() == REC["il/mask"]["vocab"]
    assert masked(np.array([10, 0, 6])).numpy().tolist() == REC["il/mask"]["y"]
    assert layers.IntegerLookup(vocabulary=[10, 20], invert=True)(np.array([0, 1, 2])).numpy().tolist() == \
        REC["il/invert"]
    np.testing.assert_array_equal(layers.IntegerLookup(vocabulary=[10, 20], output_mode="count")(
        np.array([[10, 10, 3], [20, 1, 1]])).numpy(), REC["il/count"])


@pytest.mark.parametrize("key,kwargs,source", [("last", {}, "array"), ("axis1", dict(axis=1), "ds"),
                                                ("axis12", dict(axis=(1, 2)), "array"),
                                                ("none", dict(axis=None), "ds"), ("invert", dict(invert=True), "array")])
def test_normalization_adapt_matches_keras(key, kwargs, source):
    x = np.array(REC["norm/x"], np.float32)
    layer = layers.Normalization(**kwargs, name="n")
    layer.adapt(x if source == "array" else tf.data.Dataset.from_tensor_slices(x).batch(4))
    expected = REC[f"norm/{key}"]
    assert [w.path.split("/")[-1] for w in layer.weights] == expected["weights"]
    assert layer.trainable_weights == []
    np.testing.assert_allclose(layer.adapt_mean.numpy(), expected["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), expected["var"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(x[:2]).numpy(), expected["y"], rtol=1e-5, atol=1e-5)


def test_normalization_given_stats_and_errors():
    layer = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    np.testing.assert_allclose(layer(np.array([[3.0, 2.0], [1.0, 5.0]])).numpy(), REC["norm/given"], rtol=1e-6)
    np.testing.assert_allclose(layers.Normalization(axis=1, mean=2.0, variance=9.0)(np.array([[5.0, 2.0]])).numpy(),
                               REC["norm/scalar_given"], rtol=1e-6)
    assert layer.get_config()["mean"] == [1.0, 2.0] and layer.get_config()["axis"] == (-1,)
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=1.0)
    adapted = layers.Normalization()
    adapted.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="incompatible shape"):
        adapted.adapt(np.ones((4, 2)))


def test_rescaling_matches_keras():
    np.testing.assert_allclose(layers.Rescaling(1 / 127.5, offset=-1)(np.array([[0, 127, 255]], "uint8")).numpy(),
                               REC["rescale"], rtol=1e-6)
    np.testing.assert_allclose(layers.Rescaling([1.0, 2.0], offset=[0.0, 1.0])(np.array([[1, 1]])).numpy(),
                               REC["rescale_list"])
    assert layers.Rescaling(0.5).get_config()["scale"] == 0.5


def test_category_encoding_and_discretization_match_keras():
    # values recorded from Keras 3.15
    count = layers.CategoryEncoding(4, output_mode="count")
    np.testing.assert_allclose(count(np.array([[0, 1, 1], [3, 3, 2]]), count_weights=np.array(
        [[.1, .2, .3], [.4, .5, .6]])).numpy(), [[0.1, 0.5, 0, 0], [0, 0, 0.6, 0.9]], rtol=1e-6)
    assert layers.CategoryEncoding(4, output_mode="one_hot")(np.array(2)).shape == (1, 4)
    assert layers.CategoryEncoding(4, output_mode="one_hot")(np.array([[0, 1, 1], [3, 3, 2]])).shape == (2, 3, 4)
    assert layers.CategoryEncoding(4)(np.array([0, 1, 1])).numpy().tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="num_tokens"):
        layers.CategoryEncoding(4)(np.array([4]))
    for data, boundaries in [([1., 2., 3., 4.], [1.3333334, 2.6666667]), (np.arange(10.), [2.3333333, 5.6666665]),
                             ([0.1, 5, 2, 2, 2, 7, 9], [2.0, 3.9999995])]:
        layer = layers.Discretization(num_bins=3)
        layer.adapt(np.array(data))
        np.testing.assert_allclose(layer.bin_boundaries, boundaries, rtol=1e-6)
    one_hot = layers.Discretization(bin_boundaries=[0., 1.], output_mode="one_hot")
    assert one_hot(np.array([-1., 0.5, 3.])).numpy().tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
