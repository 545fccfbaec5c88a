"""Convolution and pooling against direct nested-loop references, values and gradients.

The references below loop over every output pixel and kernel tap, straight from the
definitions; they share only TF's padding formula with the library.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError, UnimplementedError

RNG = np.random.default_rng(0)
PADDINGS = ["VALID", "SAME", [[0, 0], [1, 2], [0, 1], [0, 0]]]
STRIDES = [1, 2, [1, 2]]
DILATIONS = [1, 2]


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def resolve(size, kernel, stride, dilation, padding, axis):
    """(output size, pad before) along one axis, by TF's documented formulas."""
    effective = (kernel - 1) * dilation + 1
    if padding == "VALID":
        return (size - effective) // stride + 1, 0
    if padding == "SAME":
        out = -(-size // stride)
        return out, max((out - 1) * stride + effective - size, 0) // 2
    before, after = padding[axis + 1]
    return (size + before + after - effective) // stride + 1, before


class Windows:
    """Every (output pixel, kernel tap) -> input pixel, or None where the tap is in the padding."""

    def __init__(self, image_shape, kernel, strides, dilations, padding):
        self.strides, self.dilations = pair(strides), pair(dilations)
        self.image = image_shape[1:3]
        geo = [resolve(image_shape[1 + a], kernel[a], self.strides[a], self.dilations[a], padding, a)
               for a in range(2)]
        self.out = tuple(g[0] for g in geo)
        self.before = tuple(g[1] for g in geo)
        self.kernel = kernel

    def taps(self, i, j):
        """(tap row, tap column, input row, input column) for output pixel (i, j), inside the image."""
        for p, q in itertools.product(range(self.kernel[0]), range(self.kernel[1])):
            r = i * self.strides[0] + p * self.dilations[0] - self.before[0]
            c = j * self.strides[1] + q * self.dilations[1] - self.before[1]
            if 0 <= r < self.image[0] and 0 <= c < self.image[1]:
                yield p, q, r, c

    def pixels(self):
        return itertools.product(range(self.out[0]), range(self.out[1]))


# -- references -------------------------------------------------------------------------------

def ref_conv2d(x, w, win):
    out = np.zeros((x.shape[0],) + win.out + (w.shape[3],))
    for i, j in win.pixels():
        for p, q, r, c in win.taps(i, j):
            out[:, i, j] += x[:, r, c] @ w[p, q]
    return out


def ref_conv2d_adjoints(x, w, g, win):
    """(d<g, conv2d(x, w)>/dx, .../dw)."""
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i, j in win.pixels():
        for p, q, r, c in win.taps(i, j):
            dx[:, r, c] += g[:, i, j] @ w[p, q].T
            dw[p, q] += x[:, r, c].T @ g[:, i, j]
    return dx, dw


def ref_depthwise(x, w, win):
    channels, multiplier = w.shape[2:]
    out = np.zeros((x.shape[0],) + win.out + (channels * multiplier,))
    for i, j in win.pixels():
        for p, q, r, c in win.taps(i, j):
            out[:, i, j] += (x[:, r, c, :, None] * w[p, q]).reshape(x.shape[0], -1)
    return out


def ref_depthwise_adjoints(x, w, g, win):
    channels, multiplier = w.shape[2:]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i, j in win.pixels():
        gij = g[:, i, j].reshape(-1, channels, multiplier)
        for p, q, r, c in win.taps(i, j):
            dx[:, r, c] += (gij * w[p, q]).sum(-1)
            dw[p, q] += (x[:, r, c, :, None] * gij).sum(0)
    return dx, dw


def ref_max_pool(x, g, win):
    """(max pool of x, the gradient for cotangent g: each window's to its first maximum)."""
    out = np.zeros((x.shape[0],) + win.out + (x.shape[3],))
    dx = np.zeros_like(x)
    for n, k in itertools.product(range(x.shape[0]), range(x.shape[3])):
        for i, j in win.pixels():
            best, at = -np.inf, None
            for _, _, r, c in win.taps(i, j):
                if x[n, r, c, k] > best:  # strictly greater: the first maximum wins
                    best, at = x[n, r, c, k], (r, c)
            out[n, i, j, k] = best
            dx[(n,) + at + (k,)] += g[n, i, j, k]
    return out, dx


def ref_avg_pool(x, g, win):
    """(average pool of x over the window's pixels inside the image, the gradient for g)."""
    out = np.zeros((x.shape[0],) + win.out + (x.shape[3],))
    dx = np.zeros_like(x)
    for i, j in win.pixels():
        inside = [(r, c) for _, _, r, c in win.taps(i, j)]
        for r, c in inside:
            out[:, i, j] += x[:, r, c] / len(inside)
            dx[:, r, c] += g[:, i, j] / len(inside)
    return out, dx


# -- helpers ---------------------------------------------------------------------------------------

def value_and_grads(f, inputs, cotangent):
    tensors = [tf.constant(v) for v in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        y = f(*tensors)
    grads = tape.gradient(y, tensors, output_gradients=tf.constant(cotangent(tuple(y.shape))))
    return y.numpy(), [g.numpy() for g in grads]


def random(*shape):
    return RNG.standard_normal(shape)


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)


WINDOW_COMBOS = list(itertools.product(PADDINGS, STRIDES, DILATIONS))


def combo_id(combo):
    padding, strides, dilations = combo
    name = padding if isinstance(padding, str) else "explicit"
    return f"{name}-s{strides}-d{dilations}".replace(" ", "")


# -- convolutions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [3, 1])  # one channel takes another im2col copy
@pytest.mark.parametrize("combo", WINDOW_COMBOS, ids=combo_id)
def test_conv2d_matches_loops(combo, channels):
    padding, strides, dilations = combo
    x, w = random(2, 6, 5, channels), random(3, 2, channels, 2)
    win = Windows(x.shape, w.shape[:2], strides, dilations, padding)
    cotangent = {}
    y, (dx, dw) = value_and_grads(
        lambda x, w: tf.nn.conv2d(x, w, strides, padding, dilations=dilations), [x, w],
        lambda shape: cotangent.setdefault("g", random(*shape)))
    close(y, ref_conv2d(x, w, win))
    expected_dx, expected_dw = ref_conv2d_adjoints(x, w, cotangent["g"], win)
    close(dx, expected_dx)
    close(dw, expected_dw)


@pytest.mark.parametrize("combo", WINDOW_COMBOS, ids=combo_id)
def test_conv2d_transpose_matches_loops(combo):
    padding, strides, dilations = combo
    image, w = (2, 6, 5, 2), random(3, 2, 2, 3)   # filters: [h, w, output channels, input channels]
    win = Windows(image, w.shape[:2], strides, dilations, padding)
    y_in = random(2, *win.out, 3)
    cotangent = {}
    out, (dy, dw) = value_and_grads(
        lambda y, w: tf.nn.conv2d_transpose(y, w, image, strides, padding, dilations=dilations), [y_in, w],
        lambda shape: cotangent.setdefault("g", random(*shape)))
    assert out.shape == image
    expected, _ = ref_conv2d_adjoints(np.zeros(image), w, y_in, win)
    close(out, expected)
    g = cotangent["g"]
    close(dy, ref_conv2d(g, w, win))
    close(dw, ref_conv2d_adjoints(g, w, y_in, win)[1])


@pytest.mark.parametrize("combo", WINDOW_COMBOS, ids=combo_id)
def test_depthwise_conv2d_matches_loops(combo):
    padding, strides, dilations = combo
    x, w = random(2, 6, 5, 3), random(2, 3, 3, 2)
    win = Windows(x.shape, w.shape[:2], strides, dilations, padding)
    cotangent = {}
    y, (dx, dw) = value_and_grads(
        lambda x, w: tf.nn.depthwise_conv2d(x, w, [1, *pair(strides), 1], padding, dilations=dilations),
        [x, w], lambda shape: cotangent.setdefault("g", random(*shape)))
    close(y, ref_depthwise(x, w, win))
    expected_dx, expected_dw = ref_depthwise_adjoints(x, w, cotangent["g"], win)
    close(dx, expected_dx)
    close(dw, expected_dw)


# -- pooling ---------------------------------------------------------------------------------------

POOL_COMBOS = list(itertools.product([(2, 2), (3, 2)], STRIDES, ["VALID", "SAME"]))


@pytest.mark.parametrize("ksize, strides, padding", POOL_COMBOS + [((3, 3), 2, PADDINGS[2])])
def test_max_pool2d_matches_loops(ksize, strides, padding):
    x = random(2, 6, 5, 3)
    x[0, :2, :2, 0] = 1.0  # a tie: the first maximum takes the gradient
    win = Windows(x.shape, ksize, strides, 1, padding)
    cotangent = {}
    y, (dx,) = value_and_grads(lambda x: tf.nn.max_pool2d(x, ksize, strides, padding), [x],
                               lambda shape: cotangent.setdefault("g", random(*shape)))
    expected, expected_dx = ref_max_pool(x, cotangent["g"], win)
    close(y, expected)
    close(dx, expected_dx)


@pytest.mark.parametrize("ksize, strides, padding", POOL_COMBOS)
def test_avg_pool2d_matches_loops(ksize, strides, padding):
    x = random(2, 6, 5, 3)
    win = Windows(x.shape, ksize, strides, 1, padding)
    cotangent = {}
    y, (dx,) = value_and_grads(lambda x: tf.nn.avg_pool2d(x, ksize, strides, padding), [x],
                               lambda shape: cotangent.setdefault("g", random(*shape)))
    expected, expected_dx = ref_avg_pool(x, cotangent["g"], win)
    close(y, expected)
    close(dx, expected_dx)


def test_max_pool_gradient_of_a_constant_window_goes_to_its_first_element():
    x = tf.zeros([1, 2, 2, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    assert tape.gradient(y, x).numpy()[0, :, :, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]


# -- dtypes, aliases, one-dimensional forms --------------------------------------------------------

def test_float32_stays_float32_through_forward_and_backward():
    x = tf.constant(random(1, 5, 5, 2).astype(np.float32))
    w = tf.Variable(random(3, 3, 2, 4).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(tf.nn.conv2d(x, w, 1, "SAME"), 2, 2, "SAME")
        loss = tf.reduce_sum(tf.nn.avg_pool2d(y, 2, 1, "VALID"))
    dx, dw = tape.gradient(loss, [x, w])
    assert y.dtype == dx.dtype == dw.dtype == tf.float32


def test_second_order_through_conv_and_pool():
    x = tf.constant(random(1, 4, 4, 1))
    w = tf.constant(random(2, 2, 1, 2))
    with tf.GradientTape() as outer:
        outer.watch(w)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.nn.max_pool2d(tf.nn.conv2d(x, w, 1, "SAME"), 2, 2, "VALID") ** 2)
        dx = inner.gradient(y, x)
        z = tf.reduce_sum(dx * dx)
    assert outer.gradient(z, w).shape == w.shape


def test_max_pool_and_avg_pool_aliases_and_one_dimensional_forms():
    x = random(2, 7, 3)
    np.testing.assert_allclose(tf.nn.max_pool(x[:, None], [1, 2], [1, 2], "VALID").numpy()[:, 0],
                               tf.nn.max_pool1d(x, 2, 2, "VALID").numpy())
    expected = np.maximum(x[:, 0:6:2], x[:, 1:7:2])
    np.testing.assert_allclose(tf.nn.max_pool(x, 2, 2, "VALID").numpy(), expected)
    np.testing.assert_allclose(tf.nn.avg_pool1d(x, 2, 2, "VALID").numpy(), (x[:, 0:6:2] + x[:, 1:7:2]) / 2)


def test_conv1d_and_convolution_agree_with_conv2d():
    x, w = random(2, 9, 3), random(3, 3, 4)
    as_2d = tf.nn.conv2d(x[:, None], w[None], [1, 2], "SAME").numpy()[:, 0]
    np.testing.assert_allclose(tf.nn.conv1d(x, w, 2, "SAME").numpy(), as_2d)
    np.testing.assert_allclose(tf.nn.convolution(x, w, 2, "SAME").numpy(), as_2d)
    x4, w4 = random(1, 5, 5, 2), random(2, 2, 2, 3)
    np.testing.assert_allclose(tf.nn.convolution(x4, w4).numpy(), tf.nn.conv2d(x4, w4, 1, "VALID").numpy())


def test_separable_conv2d_is_depthwise_then_pointwise():
    x, depthwise, pointwise = random(1, 5, 5, 2), random(3, 3, 2, 2), random(1, 1, 4, 3)
    expected = tf.nn.conv2d(tf.nn.depthwise_conv2d(x, depthwise, [1, 1, 1, 1], "SAME"), pointwise, 1, "VALID")
    np.testing.assert_allclose(tf.nn.separable_conv2d(x, depthwise, pointwise, [1, 1, 1, 1], "SAME").numpy(),
                               expected.numpy())


# -- errors -----------------------------------------------------------------------------------------

def test_channels_first_is_refused_clearly():
    with pytest.raises(UnimplementedError, match="NHWC"):
        tf.nn.conv2d(tf.ones([1, 2, 4, 4]), tf.ones([1, 1, 2, 2]), 1, "VALID", data_format="NCHW")
    with pytest.raises(UnimplementedError, match="NHWC"):
        tf.nn.max_pool2d(tf.ones([1, 2, 4, 4]), 2, 2, "VALID", data_format="NCHW")


@pytest.mark.parametrize("padding", ["same_ish", [[1, 1], [1, 1], [0, 0], [0, 0]],
                                     [[0, 0], [-1, 0], [0, 0], [0, 0]]])
def test_bad_padding_raises_value_error(padding):
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([2, 2, 1, 1]), 1, padding)


def test_avg_pool_refuses_explicit_padding():
    with pytest.raises(ValueError, match="explicit"):
        tf.nn.avg_pool2d(tf.ones([1, 4, 4, 1]), 2, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])


def test_strides_in_batch_dimension_are_refused():
    with pytest.raises(InvalidArgumentError, match="batch and depth"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([2, 2, 1, 1]), [2, 1, 1, 1], "VALID")


def test_kernel_larger_than_input_reports_negative_output_size():
    with pytest.raises(InvalidArgumentError, match="Computed output size would be negative"):
        tf.nn.conv2d(tf.ones([1, 2, 2, 1]), tf.ones([4, 4, 1, 1]), 1, "VALID")


def test_depth_mismatch_and_transpose_shape_mismatch():
    with pytest.raises(InvalidArgumentError, match="depth"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 3]), tf.ones([2, 2, 2, 1]), 1, "VALID")
    with pytest.raises(InvalidArgumentError, match="out_backprop"):
        tf.nn.conv2d_transpose(tf.ones([1, 3, 3, 1]), tf.ones([2, 2, 1, 1]), [1, 8, 8, 1], 1, "VALID")
