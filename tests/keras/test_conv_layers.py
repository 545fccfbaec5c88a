"""Conv2D, Conv2DTranspose, DepthwiseConv2D and the pooling layers against direct loops, over
padding x stride x dilation combinations on small images; gradients; configs; argument errors."""
import itertools

import numpy as np
import pytest
from test_layers import check_layer_gradients, round_trip  # the shared helpers (tests/ has no packages)

import tapegrad as tf

layers = tf.keras.layers
RNG = np.random.default_rng(1)


# -- references: plain loops over output pixels, with TF's SAME padding --------------------------

def same_pads(size, kernel, stride, dilation):
    """(before, after) TF pads for "same": the odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def padded(x, kernel, strides, padding, dilation, fill=0.0):
    if padding == "valid":
        return x, ((0, 0), (0, 0))
    pads = tuple(same_pads(x.shape[1 + a], kernel[a], strides[a], dilation[a]) for a in range(2))
    return np.pad(x, ((0, 0),) + pads + ((0, 0),), constant_values=fill), pads


def windows(x, kernel, strides, padding, dilation, fill=0.0):
    """Yield (i, j, window (N, kh, kw, C), valid mask (kh, kw)) for every output pixel."""
    xp, pads = padded(x, kernel, strides, padding, dilation, fill)
    inside = np.pad(np.ones(x.shape[1:3], bool), pads)
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    rows = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    cols = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    for i, j in itertools.product(range(rows), range(cols)):
        r = slice(i * sh, i * sh + (kh - 1) * dh + 1, dh)
        c = slice(j * sw, j * sw + (kw - 1) * dw + 1, dw)
        yield i, j, rows, cols, xp[:, r, c, :], inside[r, c]


def ref_conv2d(x, k, strides, padding, dilation):
    out = None
    for i, j, rows, cols, window, _ in windows(x, k.shape[:2], strides, padding, dilation):
        if out is None:
            out = np.zeros((x.shape[0], rows, cols, k.shape[3]))
        out[:, i, j] = np.einsum("nhwc,hwco->no", window, k)
    return out


def ref_depthwise(x, k, strides, padding, dilation):
    out = None
    for i, j, rows, cols, window, _ in windows(x, k.shape[:2], strides, padding, dilation):
        if out is None:
            out = np.zeros((x.shape[0], rows, cols, k.shape[2] * k.shape[3]))
        out[:, i, j] = np.einsum("nhwc,hwcm->ncm", window, k).reshape(x.shape[0], -1)
    return out


def ref_pool(x, pool, strides, padding, kind):
    out = None
    fill = -np.inf if kind == "max" else 0.0
    for i, j, rows, cols, window, inside in windows(x, pool, strides, padding, (1, 1), fill):
        if out is None:
            out = np.zeros((x.shape[0], rows, cols, x.shape[3]))
        # average pooling counts only pixels inside the image, as TF's SAME padding
        out[:, i, j] = window.max(axis=(1, 2)) if kind == "max" else window.sum(axis=(1, 2)) / inside.sum()
    return out


def ref_conv_transpose(x, k, strides, padding, output_padding, dilation):
    """Scatter every input pixel through the kernel (kernel (kh, kw, filters, in)), then crop as TF."""
    n, h, w, _ = x.shape
    kh, kw, filters, _ = k.shape
    (sh, sw), (dh, dw) = strides, dilation
    eff = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    full = np.zeros((n, (h - 1) * sh + eff[0] + sh, (w - 1) * sw + eff[1] + sw, filters))
    for i, j, a, b in itertools.product(range(h), range(w), range(kh), range(kw)):
        full[:, i * sh + a * dh, j * sw + b * dw] += x[:, i, j] @ k[a, b].T
    sizes = []
    for size, e, s, p in zip((h, w), eff, strides, output_padding or (None, None)):
        if p is None:  # Keras 3's sizes
            sizes.append(size * s + max(e - s, 0) if padding == "valid" else size * s)
        else:
            sizes.append((size - 1) * s + e - 2 * (e // 2 if padding == "same" else 0) + p)
    # the crop start is the forward convolution's top/left pad for an input of the output size
    starts = [0, 0] if padding == "valid" else \
        [max((size - 1) * s + e - out, 0) // 2 for size, s, e, out in zip((h, w), strides, eff, sizes)]
    return full[:, starts[0]:starts[0] + sizes[0], starts[1]:starts[1] + sizes[1]]


# small images with odd and even sides, so that SAME pads asymmetrically
COMBOS = [(padding, strides, dilation)
          for padding in ("valid", "same")
          for strides, dilation in [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 2), (1, 1)), ((3, 2), (1, 1)),
                                    ((1, 1), (2, 2)), ((1, 1), (2, 1))]]


@pytest.mark.parametrize("padding, strides, dilation", COMBOS)
def test_conv2d_matches_loops(padding, strides, dilation):
    x = RNG.normal(size=(2, 7, 6, 3))
    layer = layers.Conv2D(4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation,
                          activation="relu", bias_initializer="random_normal", dtype="float64")
    y = layer(x)
    expected = np.maximum(ref_conv2d(x, layer.kernel.numpy(), strides, padding, dilation) + layer.bias.numpy(), 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == y.shape


def test_grouped_conv2d_is_one_convolution_per_group():
    x = RNG.normal(size=(1, 5, 5, 4))
    layer = layers.Conv2D(6, 3, groups=2, padding="same", dtype="float64")
    y = layer(x).numpy()
    k = layer.kernel.numpy()
    assert k.shape == (3, 3, 2, 6)
    for g in range(2):
        np.testing.assert_allclose(y[..., 3 * g:3 * g + 3],
                                   ref_conv2d(x[..., 2 * g:2 * g + 2], k[..., 3 * g:3 * g + 3], (1, 1), "same",
                                              (1, 1)), atol=1e-12)


@pytest.mark.parametrize("padding, strides, dilation", COMBOS)
def test_depthwise_conv2d_matches_loops(padding, strides, dilation):
    x = RNG.normal(size=(2, 7, 6, 3))
    layer = layers.DepthwiseConv2D((3, 2), strides=strides, padding=padding, depth_multiplier=2,
                                   dilation_rate=dilation, use_bias=False, dtype="float64")
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), ref_depthwise(x, layer.kernel.numpy(), strides, padding, dilation),
                               rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == y.shape


@pytest.mark.parametrize("padding, strides, output_padding, dilation", [
    ("valid", (1, 1), None, (1, 1)), ("same", (1, 1), None, (1, 1)),
    ("valid", (2, 2), None, (1, 1)), ("same", (2, 2), None, (1, 1)),
    ("valid", (3, 2), None, (1, 1)), ("same", (3, 2), None, (1, 1)),
    ("valid", (2, 2), (1, 0), (1, 1)), ("same", (2, 3), (1, 2), (1, 1)),
    ("valid", (1, 1), None, (2, 2)), ("same", (1, 1), None, (2, 1)),
])
def test_conv2d_transpose_matches_loops(padding, strides, output_padding, dilation):
    x = RNG.normal(size=(2, 4, 3, 3))
    layer = layers.Conv2DTranspose(2, (3, 2), strides=strides, padding=padding, output_padding=output_padding,
                                   dilation_rate=dilation, bias_initializer="random_normal", dtype="float64")
    y = layer(x)
    assert layer.kernel.shape == (3, 2, 2, 3)
    expected = ref_conv_transpose(x, layer.kernel.numpy(), strides, padding, output_padding, dilation)
    np.testing.assert_allclose(y.numpy(), expected + layer.bias.numpy(), rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + tuple(y.shape[1:])


def test_conv2d_transpose_output_sizes_follow_keras():
    def size(padding, output_padding=None):
        layer = layers.Conv2DTranspose(1, 3, strides=2, padding=padding, output_padding=output_padding)
        return layer.compute_output_shape((None, 5, 5, 1))[1]

    assert (size("valid"), size("same"), size("valid", 1), size("same", 1), size("same", 0)) == (11, 10, 12, 10, 9)


@pytest.mark.parametrize("kind, padding, pool, strides", [
    (kind, padding, pool, strides) for kind in ("max", "avg") for padding in ("valid", "same")
    for pool, strides in [((2, 2), None), ((3, 3), (2, 2)), ((2, 3), (1, 2)), ((3, 2), (3, 1))]])
def test_pooling_matches_loops(kind, padding, pool, strides):
    x = RNG.normal(size=(2, 7, 6, 3))
    cls = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    layer = cls(pool, strides=strides, padding=padding, dtype="float64")
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), ref_pool(x, pool, strides or pool, padding, kind), rtol=1e-12)
    assert layer.compute_output_shape(x.shape) == y.shape


def test_global_pooling():
    x = RNG.normal(size=(2, 3, 4, 5)).astype("float32")
    np.testing.assert_allclose(layers.GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(layers.GlobalMaxPooling2D()(x).numpy(), x.max(axis=(1, 2)))
    assert layers.GlobalAveragePooling2D(keepdims=True)(x).shape == (2, 1, 1, 5)
    assert layers.GlobalMaxPooling2D().compute_output_shape((None, 3, 4, 5)) == (None, 5)


def test_conv_gradients_match_central_differences():
    check_layer_gradients(layers.Conv2D(2, 2, strides=2, padding="same", activation="tanh", dtype="float64",
                                        bias_initializer="random_normal"), RNG.normal(size=(1, 3, 3, 2)))
    check_layer_gradients(layers.Conv2DTranspose(2, 2, strides=2, dtype="float64"), RNG.normal(size=(1, 2, 2, 2)))
    check_layer_gradients(layers.DepthwiseConv2D(2, dtype="float64"), RNG.normal(size=(1, 3, 3, 2)))
    check_layer_gradients(layers.Conv2D(2, 2, groups=2, dtype="float64"), RNG.normal(size=(1, 3, 3, 2)))
    check_layer_gradients(layers.MaxPooling2D(2, padding="same", dtype="float64"), RNG.normal(size=(1, 3, 3, 1)))
    check_layer_gradients(layers.AveragePooling2D(2, 1, "same", dtype="float64"), RNG.normal(size=(1, 3, 3, 1)))


def test_conv_weights_order_and_paths():
    layer = layers.Conv2D(3, 2, name="c")
    layer(np.ones((1, 4, 4, 2)))
    assert [w.path for w in layer.trainable_weights] == ["c/kernel", "c/bias"]
    assert [tuple(w.shape) for w in layer.weights] == [(2, 2, 2, 3), (3,)]
    depthwise = layers.DepthwiseConv2D(2, depth_multiplier=3, name="dw")
    depthwise(np.ones((1, 4, 4, 2)))
    assert [(w.path, tuple(w.shape)) for w in depthwise.weights] == [("dw/kernel", (2, 2, 2, 3)), ("dw/bias", (6,))]


def test_conv_and_pool_configs_round_trip():
    conv = round_trip(layers.Conv2D(8, 3, strides=2, padding="SAME", activation="relu", groups=2))
    assert (conv.kernel_size, conv.strides, conv.padding, conv.data_format) == ((3, 3), (2, 2), "same",
                                                                                 "channels_last")
    assert round_trip(layers.Conv2DTranspose(4, (3, 2), strides=2, output_padding=1)).output_padding == (1, 1)
    config = layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_initializer="he_normal").get_config()
    assert config["depth_multiplier"] == 2 and config["depthwise_initializer"]["class_name"] == "HeNormal"
    assert "kernel_initializer" not in config
    round_trip(layers.DepthwiseConv2D(3, depth_multiplier=2))
    pool = round_trip(layers.MaxPooling2D(3, strides=2, padding="same"))
    assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), "same")
    assert layers.AveragePooling2D(2).get_config()["strides"] == (2, 2)
    round_trip(layers.GlobalAveragePooling2D(keepdims=True))
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool2D is layers.AveragePooling2D


@pytest.mark.parametrize("make, message", [
    (lambda: layers.Conv2D(0, 3), "expected a positive integer"),
    (lambda: layers.Conv2D(4, 0), "kernel_size"),
    (lambda: layers.Conv2D(4, (3, 3, 3)), "must be a tuple of 2 integers"),
    (lambda: layers.Conv2D(4, 3, padding="full"), "padding"),
    (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), "`strides > 1` not supported"),
    (lambda: layers.Conv2D(5, 3, groups=2), "evenly divisible by the number of groups"),
    (lambda: layers.Conv2D(4, 3, data_format="channels_first"), "channels_last"),
    (lambda: layers.MaxPooling2D(data_format="channels_first"), "channels_last"),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, output_padding=2), "greater than output padding"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
])
def test_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_input_errors_name_the_layer():
    with pytest.raises(ValueError, match="expected ndim=4"):
        layers.Conv2D(2, 3, name="c3")(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match="too small"):
        layers.Conv2D(2, 5)(np.ones((1, 3, 3, 1)))
    with pytest.raises(ValueError, match="evenly divisible"):
        layers.Conv2D(4, 3, groups=2)(np.ones((1, 5, 5, 3)))
    with pytest.raises(ValueError, match="too small"):
        layers.MaxPooling2D(4)(np.ones((1, 3, 3, 1)))
