"""Convolution and pooling over NHWC images (``tf.nn.conv2d``, ``max_pool2d``, ...).

All windowed ops share one geometry (``_geometry``: TF's output sizes and SAME/VALID/
explicit pads) and two data movers:

- ``_windows``: a strided view (N, OH, OW, KH, KW, C) of the padded input, no copy.
  Convolution reshapes it to a contiguous (N*OH*OW, KH*KW*C) matrix (im2col) and does
  one GEMM (depthwise: one einsum per channel multiplier); pooling folds a ufunc over
  the kernel taps (``_reduce_taps``).
- ``_col2im``: the adjoint, adding (N, OH, OW, KH, KW, C) columns back into an image
  with one vectorised strided add per kernel tap (never a loop over pixels or batch).

The three ops of a convolution (forward, backprop to the input, backprop to the
filter) are bilinear and each one's vjp and jvp rules are the others
(``_declare_convolution``), so gradients of any order stay in these primitives.
Pooling gradients are primitives as well: ``max_pool2d_grad`` scatters to the first
maximum of each window, as TF; ``avg_pool2d_grad`` divides by the number of valid
(unpadded) elements, as TF's SAME padding does.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..core.aval import ShapedArray, dims
from ..core.op import REAL, defop
from ..core.tensor import Tensor, convert_to_tensor
from ..errors import InvalidArgumentError, UnimplementedError
from .array import _differ, _dims, _shape_arg, expand_dims, squeeze
from .linalg import gemm

__all__ = [
    "conv2d", "conv2d_transpose", "conv_transpose", "conv1d", "convolution", "depthwise_conv2d",
    "separable_conv2d", "max_pool2d", "avg_pool2d", "max_pool", "avg_pool", "max_pool1d", "avg_pool1d",
]


# -- geometry -----------------------------------------------------------------------------------

class _Geometry(NamedTuple):
    """Where the windows of a 2-D windowed op lie, per spatial axis (rows, columns)."""
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple      # ((top, bottom), (left, right))
    out: tuple       # (output rows, output columns)


def _axis_geometry(size, kernel, stride, dilation, padding):
    """(output size, pad before, pad after) along one axis, as TF computes them."""
    effective = dilation * (kernel - 1) + 1
    if padding == "VALID":
        before = after = 0
        out = (size - effective) // stride + 1
    elif padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
        before, after = total // 2, total - total // 2   # the odd pixel goes after, as TF
    else:
        before, after = padding
        out = (size + before + after - effective) // stride + 1
    if out < 0:
        raise ValueError(f"Computed output size would be negative: {out} [input_size: {size}, "
                         f"effective_filter_size: {effective}, stride: {stride}]")
    return out, before, after


def _geometry(image_hw, kernel, strides, dilations, padding) -> _Geometry:
    per_axis = [_axis_geometry(image_hw[a], kernel[a], strides[a], dilations[a],
                               padding if isinstance(padding, str) else padding[a]) for a in range(2)]
    return _Geometry(tuple(kernel), tuple(strides), tuple(dilations),
                     tuple((before, after) for _, before, after in per_axis),
                     tuple(out for out, _, _ in per_axis))


# -- shape rules: the same geometry on sizes that may be Dims (core/aval.py) ---------------------

def _output_size(size, kernel, stride, dilation, padding):
    """What _axis_geometry computes for the output size, also when size or kernel is a Dim."""
    effective = dilation * (kernel - 1) + 1
    if padding == "SAME":
        out = (size + stride - 1) // stride  # ceil(size / stride)
    else:
        before, after = (0, 0) if padding == "VALID" else padding
        out = (size + before + after - effective) // stride + 1
    if isinstance(out, int) and out < 0:
        raise ValueError(f"Computed output size would be negative: {out} [input_size: {size}, "
                         f"effective_filter_size: {effective}, stride: {stride}]")
    return out


def _window_dims(image_shape, kernel, strides, dilations, padding, channels) -> tuple:
    """The (N, OH, OW, channels) result of a windowed op over NHWC images of image_shape."""
    return (image_shape[0],) + tuple(
        _output_size(image_shape[1 + a], kernel[a], strides[a], dilations[a],
                     padding if isinstance(padding, str) else padding[a]) for a in range(2)) + (channels,)


def _check_dims(what: str, actual, expected) -> None:
    """_expect_shape for shape rules: only sizes known on both sides can clash."""
    if len(actual) != len(expected) or any(_differ(a, e) for a, e in zip(actual, expected)):
        raise ValueError(f"{what} has shape {list(actual)}, but the window geometry gives "
                         f"{list(expected)}")


def _pad(x: np.ndarray, pads, fill) -> np.ndarray:
    """x (N, H, W, C) with `pads` rows and columns of `fill` around it."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    padded = np.full((n, h + top + bottom, w + left + right, c), fill, dtype=x.dtype)
    padded[:, top:top + h, left:left + w] = x
    return padded


def _window_view(padded: np.ndarray, geometry: _Geometry, writeable=False) -> np.ndarray:
    """View (N, OH, OW, KH, KW, C) of an already padded image: [n, i, j, p, q] is the pixel
    that kernel tap (p, q) of output pixel (i, j) reads.  No two pixels of one tap alias."""
    n, _, _, c = padded.shape
    stride_n, stride_h, stride_w, stride_c = padded.strides
    (sh, sw), (dh, dw) = geometry.strides, geometry.dilations
    return as_strided(padded, (n,) + geometry.out + geometry.kernel + (c,),
                      (stride_n, stride_h * sh, stride_w * sw, stride_h * dh, stride_w * dw, stride_c),
                      writeable=writeable)


def _windows(x: np.ndarray, geometry: _Geometry, fill=0) -> np.ndarray:
    """Read-only window view of x padded with `fill`."""
    return _window_view(_pad(x, geometry.pads, fill), geometry)


def _taps(geometry: _Geometry):
    """Kernel taps (p, q) in row-major order (TF's order for choosing the first maximum)."""
    return itertools.product(range(geometry.kernel[0]), range(geometry.kernel[1]))


def _im2col(x: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """The contiguous (N*OH*OW, KH*KW*C) matrix of x's windows (the reshape copies)."""
    windows = _windows(x, geometry)
    if x.shape[3] == 1:
        # One channel: reshape's copy would run its inner loop over only KW elements; a copy
        # per tap runs it along output rows instead, 3x faster on (32, 28, 28, 1) images.
        # With more channels the plain copy is the faster one.
        copied = np.empty(windows.shape, dtype=x.dtype)
        for p, q in _taps(geometry):
            copied[:, :, :, p, q] = windows[:, :, :, p, q]
        windows = copied
    return windows.reshape(-1, int(np.prod(windows.shape[3:])))


def _col2im(tap_columns, image_shape, geometry: _Geometry, dtype) -> np.ndarray:
    """Adjoint of _windows: an image (N, H, W, C) holding the sum, over kernel taps (p, q), of
    tap_columns(p, q) (N, OH, OW, C) added at the pixels that tap reads."""
    n, h, w, c = image_shape
    (top, bottom), (left, right) = geometry.pads
    padded = np.zeros((n, h + top + bottom, w + left + right, c), dtype=dtype)
    targets = _window_view(padded, geometry, writeable=True)
    for p, q in _taps(geometry):  # one vectorised strided add per tap
        tap = targets[:, :, :, p, q]
        tap += tap_columns(p, q)
    if padded.shape[1:3] == (h, w):
        return padded
    return np.ascontiguousarray(padded[:, top:top + h, left:left + w])


def _reduce_taps(windows: np.ndarray, ufunc) -> np.ndarray:
    """ufunc folded over the kernel taps: one vectorised call per tap, faster than reducing the
    6-D view over its short kernel axes."""
    taps = itertools.product(range(windows.shape[3]), range(windows.shape[4]))
    out = windows[:, :, :, 0, 0].copy()
    next(taps)
    for p, q in taps:
        ufunc(out, windows[:, :, :, p, q], out=out)
    return out


def _expect_shape(what: str, actual, expected) -> None:
    if tuple(actual) != tuple(expected):
        raise ValueError(f"{what} has shape {list(actual)}, but the window geometry gives "
                         f"{list(expected)}")


# -- TF-style arguments -------------------------------------------------------------------------

def _check_nhwc(data_format, channels_last=("NHWC",)) -> None:
    if data_format is not None and data_format not in channels_last:
        raise UnimplementedError(f"tapegrad supports only channels-last data ({', '.join(channels_last)}): "
                                 f"got data_format={data_format!r}")


def _spatial(value, name: str, rank: int = 2) -> tuple:
    """TF's int or list of 1, rank or rank+2 ints (batch and channel entries 1) as `rank` ints."""
    if value is None:
        return (1,) * rank
    if isinstance(value, Tensor):
        value = value.numpy().tolist()
    values = [int(value)] if isinstance(value, (int, np.integer)) else [int(v) for v in value]
    if len(values) == 1:
        values = values * rank
    elif len(values) == rank + 2:
        if values[0] != 1 or values[-1] != 1:
            raise InvalidArgumentError(f"Current implementation does not yet support {name} in the batch "
                                       f"and depth dimensions.")
        values = values[1:-1]
    elif len(values) != rank:
        raise ValueError(f"{name} should be of length 1, {rank} or {rank + 2}, got {len(values)}: {value!r}")
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return tuple(values)


def _padding(padding, rank: int = 2):
    """'SAME', 'VALID', or explicit [[0, 0], [before, after] per spatial axis..., [0, 0]] as pairs."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or explicit paddings, got {padding!r}")
        return mode
    pairs = np.asarray(padding.numpy() if isinstance(padding, Tensor) else padding).tolist()
    if len(pairs) == rank + 2:
        if any(pairs[0]) or any(pairs[-1]):
            raise ValueError(f"Explicit padding must be zero in the batch and channel dimensions, "
                             f"got {pairs}")
        pairs = pairs[1:-1]
    if len(pairs) != rank or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"explicit padding must be {rank + 2} non-negative [before, after] pairs, got "
                         f"{padding!r}")
    return tuple((int(before), int(after)) for before, after in pairs)


def _window_params(strides, padding, dilations) -> dict:
    return dict(strides=_spatial(strides, "strides"), padding=_padding(padding),
                dilations=_spatial(dilations, "dilations"))


# -- convolution --------------------------------------------------------------------------------

def _convolution_types(out_channels, layout: str):
    """The shape rules of a convolution's three ops; out_channels(filter shape) is its output depth."""
    def result(image, filters, strides, padding, dilations) -> tuple:
        if len(image) != 4 or len(filters) != 4:  # _filter_geometry's checks
            raise ValueError(f"input and filter must be 4-D (NHWC and {layout}), got shapes {list(image)} "
                             f"and {list(filters)}")
        if _differ(image[3], filters[2]):
            raise ValueError(f"input depth must equal the filter's input channels (grouped convolution is "
                             f"not supported): {image[3]} vs {filters[2]}")
        return _window_dims(image, filters[:2], strides, dilations, padding, out_channels(filters))

    def forward(input, filters, strides=(1, 1), padding="VALID", dilations=(1, 1)):
        shape = result(input.shape, filters.shape, strides, padding, dilations)
        return ShapedArray(shape, np.result_type(input.dtype, filters.dtype))

    def backprop_input(filters, out_backprop, input_sizes=(), strides=(1, 1), padding="VALID",
                       dilations=(1, 1)):
        input_sizes = _dims(input_sizes)
        _check_dims("out_backprop", out_backprop.shape,
                    result(input_sizes, filters.shape, strides, padding, dilations))
        return ShapedArray(input_sizes, np.result_type(filters.dtype, out_backprop.dtype))

    def backprop_filter(input, out_backprop, filter_sizes=(), strides=(1, 1), padding="VALID",
                        dilations=(1, 1)):
        filter_sizes = _dims(filter_sizes)
        _check_dims("out_backprop", out_backprop.shape,
                    result(input.shape, filter_sizes, strides, padding, dilations))
        return ShapedArray(filter_sizes, np.result_type(input.dtype, out_backprop.dtype))

    return forward, backprop_input, backprop_filter


def _declare_convolution(forward, backprop_input, backprop_filter, cases, shapes, **facts):
    """Register a convolution's three bilinear ops, each differentiated by the others.

    forward(input, filters), backprop_input(filters, out_backprop; input_sizes) and
    backprop_filter(input, out_backprop; filter_sizes) all take strides, padding and
    dilations (the `**p` below); the rules name ops declared further down, resolved
    when they run.  `shapes`: the three ops' shape rules; `facts`: more defop facts for all three.
    """
    def declare(impl, vjp, jvp, op_cases, shape):
        return defop(vjp=vjp, jvp=jvp, domain=(REAL, REAL), cases=op_cases, shape=shape,
                     name=impl.__name__.lstrip("_"), **facts)(impl)

    forward_cases, input_cases, filter_cases = cases
    forward_shape, input_shape, filter_shape = shapes
    forward_op = declare(
        forward,
        vjp=(lambda g, out, x, w, **p: input_op(w, g, input_sizes=tuple(dims(x)), **p),
             lambda g, out, x, w, **p: filter_op(x, g, filter_sizes=tuple(dims(w)), **p)),
        jvp=(lambda t, out, x, w, **p: forward_op(t, w, **p),
             lambda t, out, x, w, **p: forward_op(x, t, **p)),
        op_cases=forward_cases, shape=forward_shape)
    input_op = declare(
        backprop_input,
        vjp=(lambda g, out, w, dy, input_sizes, **p: filter_op(g, dy, filter_sizes=tuple(dims(w)), **p),
             lambda g, out, w, dy, input_sizes, **p: forward_op(g, w, **p)),
        jvp=(lambda t, out, w, dy, input_sizes, **p: input_op(t, dy, input_sizes=input_sizes, **p),
             lambda t, out, w, dy, input_sizes, **p: input_op(w, t, input_sizes=input_sizes, **p)),
        op_cases=input_cases, shape=input_shape)
    filter_op = declare(
        backprop_filter,
        vjp=(lambda g, out, x, dy, filter_sizes, **p: input_op(g, dy, input_sizes=tuple(dims(x)), **p),
             lambda g, out, x, dy, filter_sizes, **p: forward_op(x, g, **p)),
        jvp=(lambda t, out, x, dy, filter_sizes, **p: filter_op(t, dy, filter_sizes=filter_sizes, **p),
             lambda t, out, x, dy, filter_sizes, **p: filter_op(x, t, filter_sizes=filter_sizes, **p)),
        op_cases=filter_cases, shape=filter_shape)
    return forward_op, input_op, filter_op


def _convolution_cases(filter_shape, out_channels):
    """Small float64-checkable cases for every padding x stride x dilation combination."""
    image = (2, 5, 4, 2)  # odd and even sizes: SAME pads asymmetrically on one axis
    combos = [(padding, strides, dilations)
              for padding in ("VALID", "SAME", ((1, 0), (0, 2)))
              for strides in ((1, 1), (2, 2))
              for dilations in ((1, 1), (2, 2))] + [("SAME", (1, 2), (2, 1))]
    forward, backprop_input, backprop_filter = [], [], []
    for padding, strides, dilations in combos:
        params = dict(strides=strides, padding=padding, dilations=dilations)
        geometry = _geometry(image[1:3], filter_shape[:2], strides, dilations, padding)
        out = (image[0],) + geometry.out + (out_channels,)
        forward.append(dict(shapes=(image, filter_shape), params=params))
        backprop_input.append(dict(shapes=(filter_shape, out), params=dict(params, input_sizes=image)))
        backprop_filter.append(dict(shapes=(image, out), params=dict(params, filter_sizes=filter_shape)))
    return forward, backprop_input, backprop_filter


def _filter_geometry(image_shape, filter_shape, strides, padding, dilations, layout="HWIO") -> _Geometry:
    """The geometry of a convolution of NHWC images with filters laid out as `layout`."""
    if len(image_shape) != 4 or len(filter_shape) != 4:
        raise ValueError(f"input and filter must be 4-D (NHWC and {layout}), got shapes {list(image_shape)} "
                         f"and {list(filter_shape)}")
    if image_shape[3] != filter_shape[2]:
        raise ValueError(f"input depth must equal the filter's input channels (grouped convolution is not "
                         f"supported): {image_shape[3]} vs {filter_shape[2]}")
    return _geometry(image_shape[1:3], filter_shape[:2], strides, dilations, padding)


def _conv2d(input, filters, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    """2-D convolution (cross-correlation) of NHWC `input` with HWIO `filters`: im2col + one GEMM."""
    geometry = _filter_geometry(input.shape, filters.shape, strides, padding, dilations)
    out_channels = filters.shape[3]
    out = gemm(_im2col(input, geometry), filters.reshape(-1, out_channels))
    return out.reshape((input.shape[0],) + geometry.out + (out_channels,))


def _conv2d_backprop_input(filters, out_backprop, input_sizes=(), strides=(1, 1), padding="VALID",
                           dilations=(1, 1)):
    """Gradient of conv2d with respect to its input: one GEMM to columns, then col2im."""
    geometry = _filter_geometry(input_sizes, filters.shape, strides, padding, dilations)
    out_channels = filters.shape[3]
    _expect_shape("out_backprop", out_backprop.shape, (input_sizes[0],) + geometry.out + (out_channels,))
    columns = gemm(out_backprop.reshape(-1, out_channels), filters.reshape(-1, out_channels).T)
    columns = columns.reshape(out_backprop.shape[:3] + filters.shape[:3])   # (N, OH, OW, KH, KW, C)
    return _col2im(lambda p, q: columns[:, :, :, p, q], input_sizes, geometry, columns.dtype)


def _conv2d_backprop_filter(input, out_backprop, filter_sizes=(), strides=(1, 1), padding="VALID",
                            dilations=(1, 1)):
    """Gradient of conv2d with respect to its filters: im2col, then one GEMM."""
    geometry = _filter_geometry(input.shape, filter_sizes, strides, padding, dilations)
    out_channels = filter_sizes[3]
    _expect_shape("out_backprop", out_backprop.shape, (input.shape[0],) + geometry.out + (out_channels,))
    grad = gemm(_im2col(input, geometry).T, out_backprop.reshape(-1, out_channels))
    return grad.reshape(filter_sizes)


conv2d_op, conv2d_backprop_input_op, conv2d_backprop_filter_op = _declare_convolution(
    _conv2d, _conv2d_backprop_input, _conv2d_backprop_filter, _convolution_cases((3, 2, 2, 3), 3),
    _convolution_types(lambda filters: filters[3], "HWIO"), result="fresh", layout="c")


def _multiplier_major(values: np.ndarray) -> np.ndarray:
    """(..., C, M) as contiguous (M, ..., C): one contiguous matrix per channel multiplier.

    Depthwise products contract over taps or pixels but never over channels, so they are
    einsums over C-contiguous operands (vectorised inner loops), one per multiplier m."""
    return np.ascontiguousarray(np.moveaxis(values, -1, 0))


def _depthwise_conv2d(input, filter, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    """Each input channel c convolved with its own filters [..., c, m]: output channel c*M + m."""
    geometry = _filter_geometry(input.shape, filter.shape, strides, padding, dilations, layout="HWCM")
    kh, kw, c, m = filter.shape
    columns = _im2col(input, geometry).reshape(-1, kh * kw, c)                # (P, K, C)
    filters = _multiplier_major(filter.reshape(kh * kw, c, m))                  # (M, K, C)
    out = np.empty((columns.shape[0], c, m), dtype=columns.dtype)
    for k in range(m):
        out[:, :, k] = np.einsum("pkc,kc->pc", columns, filters[k])
    return out.reshape((input.shape[0],) + geometry.out + (c * m,))


def _depthwise_conv2d_backprop_input(filter, out_backprop, input_sizes=(), strides=(1, 1), padding="VALID",
                                     dilations=(1, 1)):
    """Gradient of depthwise_conv2d with respect to its input."""
    geometry = _filter_geometry(input_sizes, filter.shape, strides, padding, dilations, layout="HWCM")
    kh, kw, c, m = filter.shape
    _expect_shape("out_backprop", out_backprop.shape, (input_sizes[0],) + geometry.out + (c * m,))
    backprop = _multiplier_major(out_backprop.reshape(-1, c, m))                # (M, P, C)
    filters = _multiplier_major(filter.reshape(kh * kw, c, m))                  # (M, K, C)
    columns = np.einsum("pc,kc->pkc", backprop[0], filters[0])
    for k in range(1, m):
        columns += np.einsum("pc,kc->pkc", backprop[k], filters[k])
    columns = columns.reshape(out_backprop.shape[:3] + (kh, kw, c))
    return _col2im(lambda p, q: columns[:, :, :, p, q], input_sizes, geometry, columns.dtype)


def _depthwise_conv2d_backprop_filter(input, out_backprop, filter_sizes=(), strides=(1, 1), padding="VALID",
                                      dilations=(1, 1)):
    """Gradient of depthwise_conv2d with respect to its filter."""
    geometry = _filter_geometry(input.shape, filter_sizes, strides, padding, dilations, layout="HWCM")
    kh, kw, c, m = filter_sizes
    _expect_shape("out_backprop", out_backprop.shape, (input.shape[0],) + geometry.out + (c * m,))
    columns = _im2col(input, geometry).reshape(-1, kh * kw, c)                # (P, K, C)
    backprop = _multiplier_major(out_backprop.reshape(-1, c, m))                # (M, P, C)
    grad = np.empty((kh * kw, c, m), dtype=columns.dtype)
    for k in range(m):
        grad[:, :, k] = np.einsum("pkc,pc->kc", columns, backprop[k])
    return grad.reshape(filter_sizes)


depthwise_conv2d_op, depthwise_conv2d_backprop_input_op, depthwise_conv2d_backprop_filter_op = \
    _declare_convolution(_depthwise_conv2d, _depthwise_conv2d_backprop_input,
                         _depthwise_conv2d_backprop_filter, _convolution_cases((3, 2, 2, 2), 4),
                         _convolution_types(lambda filters: filters[2] * filters[3], "HWCM"))


# -- pooling ------------------------------------------------------------------------------------

def _pool_geometry(image_shape, ksize, strides, padding) -> _Geometry:
    if len(image_shape) != 4:
        raise ValueError(f"pooling input must be 4-D (NHWC), got shape {list(image_shape)}")
    return _geometry(image_shape[1:3], ksize, strides, (1, 1), padding)


def _pooled_dims(image_shape, ksize, strides, padding) -> tuple:
    """_pool_geometry's result shape, for shape rules."""
    if len(image_shape) != 4:
        raise ValueError(f"pooling input must be 4-D (NHWC), got shape {list(image_shape)}")
    return _window_dims(image_shape, ksize, strides, (1, 1), padding, image_shape[3])


def _pool_type(input, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    return ShapedArray(_pooled_dims(input.shape, ksize, strides, padding), input.dtype)


def _max_pool_grad_type(orig_input, grad, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    _check_dims("grad", grad.shape, _pooled_dims(orig_input.shape, ksize, strides, padding))
    return ShapedArray(orig_input.shape, grad.dtype)


def _max_pool_grad_grad_type(orig_input, grad, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    pooled = _pooled_dims(orig_input.shape, ksize, strides, padding)
    _check_dims("grad", grad.shape, orig_input.shape)
    return ShapedArray(pooled, grad.dtype)


def _avg_pool_grad_type(grad, input_sizes=(), ksize=(1, 1), strides=(1, 1), padding="VALID"):
    input_sizes = _dims(input_sizes)
    _check_dims("grad", grad.shape, _pooled_dims(input_sizes, ksize, strides, padding))
    # the forward divides grad by counts of grad's dtype: integers give floats
    return ShapedArray(input_sizes, np.true_divide.resolve_dtypes((grad.dtype, grad.dtype, None))[-1])


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _first_max_masks(x: np.ndarray, geometry: _Geometry) -> dict:
    """{tap: where that tap holds its window's first maximum}, taps in row-major order, as TF's
    gradient chooses among ties; padding (lowest value) never wins."""
    windows = _windows(x, geometry, fill=_lowest(x.dtype))
    maximum = _reduce_taps(windows, np.maximum)
    unclaimed = np.ones(maximum.shape, dtype=bool)
    masks = {}
    for p, q in _taps(geometry):
        masks[p, q] = (windows[:, :, :, p, q] == maximum) & unclaimed
        unclaimed ^= masks[p, q]  # the mask lies within unclaimed: xor removes it
    return masks


def _pool_cases(with_explicit: bool):
    image = (2, 5, 4, 2)
    paddings = ("VALID", "SAME") + ((((1, 0), (0, 1)),) if with_explicit else ())
    combos = [(ksize, strides, padding) for ksize in ((2, 2), (3, 2)) for strides in ((1, 1), (2, 2))
              for padding in paddings]
    forward, backward = [], []
    for ksize, strides, padding in combos:
        params = dict(ksize=ksize, strides=strides, padding=padding)
        out = (image[0],) + _pool_geometry(image, ksize, strides, padding).out + (image[3],)
        forward.append(dict(shapes=(image,), params=params))
        backward.append((image, out, params))
    return forward, backward


_MAX_POOL_CASES, _MAX_POOL_BACKWARD = _pool_cases(with_explicit=True)


@defop(vjp=(lambda g, out, x, **p: max_pool2d_grad(x, g, **p),),
       jvp=(lambda t, out, x, **p: max_pool2d_grad_grad(x, t, **p),),
       domain=(REAL,), cases=_MAX_POOL_CASES, name="max_pool2d", shape=_pool_type)
def _max_pool2d(input, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    """Maximum of each window; padding never wins (it is -inf)."""
    geometry = _pool_geometry(input.shape, ksize, strides, padding)
    return _reduce_taps(_windows(input, geometry, fill=_lowest(input.dtype)), np.maximum)


@defop(vjp=(None, lambda gg, out, x, g, **p: max_pool2d_grad_grad(x, gg, **p)),
       jvp=(None, lambda t, out, x, g, **p: max_pool2d_grad(x, t, **p)),
       domain=(REAL, REAL), shape=_max_pool_grad_type,
       cases=[dict(shapes=(image, out), params=params) for image, out, params in _MAX_POOL_BACKWARD])
def max_pool2d_grad(orig_input, grad, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    """Gradient of max_pool2d: each window's gradient goes to its first maximum in orig_input.

    Piecewise constant in orig_input, so that input gets no gradient.

    >>> import tapegrad as tf
    >>> from tapegrad.ops.conv import max_pool2d_grad
    >>> x = tf.constant([[[[1.0], [3.0]], [[3.0], [2.0]]]])        # one 2x2 image, a tie at 3
    >>> max_pool2d_grad(x, tf.ones([1, 1, 1, 1]), ksize=(2, 2), strides=(2, 2))[0, :, :, 0].numpy()
    array([[0., 1.],
           [0., 0.]], dtype=float32)
    """
    geometry = _pool_geometry(orig_input.shape, ksize, strides, padding)
    _expect_shape("grad", grad.shape, (orig_input.shape[0],) + geometry.out + (orig_input.shape[3],))
    masks = _first_max_masks(orig_input, geometry)
    # products with the masks: several times faster than np.where on unpredictable masks
    return _col2im(lambda p, q: grad * masks[p, q], orig_input.shape, geometry, grad.dtype)


@defop(vjp=(None, lambda gg, out, x, g, **p: max_pool2d_grad(x, gg, **p)),
       jvp=(None, lambda t, out, x, g, **p: max_pool2d_grad_grad(x, t, **p)),
       domain=(REAL, REAL), shape=_max_pool_grad_grad_type,
       cases=[dict(shapes=(image, image), params=params) for image, out, params in _MAX_POOL_BACKWARD])
def max_pool2d_grad_grad(orig_input, grad, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    """Adjoint of max_pool2d_grad in `grad` (shaped like orig_input): grad at each window's first max.

    >>> import tapegrad as tf
    >>> from tapegrad.ops.conv import max_pool2d_grad_grad
    >>> x = tf.constant([[[[1.0], [3.0]], [[3.0], [2.0]]]])
    >>> grad = tf.constant([[[[10.0], [20.0]], [[30.0], [40.0]]]])
    >>> max_pool2d_grad_grad(x, grad, ksize=(2, 2), strides=(2, 2)).numpy().ravel()
    array([20.], dtype=float32)
    """
    geometry = _pool_geometry(orig_input.shape, ksize, strides, padding)
    _expect_shape("grad", grad.shape, orig_input.shape)
    windows = _windows(grad, geometry)
    picked = np.zeros(windows.shape[:3] + windows.shape[5:], dtype=grad.dtype)
    for (p, q), mask in _first_max_masks(orig_input, geometry).items():
        picked += windows[:, :, :, p, q] * mask  # the masks are disjoint: one term survives
    return picked


def _window_counts(geometry: _Geometry, image_hw) -> np.ndarray:
    """(OH, OW, 1): how many unpadded elements each window covers (TF's SAME average divides by it)."""
    per_axis = []
    for axis in range(2):
        starts = np.arange(geometry.out[axis]) * geometry.strides[axis] - geometry.pads[axis][0]
        ends = np.minimum(starts + geometry.kernel[axis], image_hw[axis])
        per_axis.append(ends - np.maximum(starts, 0))
    return (per_axis[0][:, None] * per_axis[1][None, :])[:, :, None]


_AVG_POOL_CASES, _AVG_POOL_BACKWARD = _pool_cases(with_explicit=False)


@defop(vjp=(lambda g, out, x, **p: avg_pool2d_grad(g, input_sizes=tuple(dims(x)), **p),),
       jvp=(lambda t, out, x, **p: _avg_pool2d(t, **p),),
       saves="", domain=(REAL,), cases=_AVG_POOL_CASES, name="avg_pool2d", shape=_pool_type)
def _avg_pool2d(input, ksize=(1, 1), strides=(1, 1), padding="VALID"):
    """Mean of each window over its unpadded elements."""
    geometry = _pool_geometry(input.shape, ksize, strides, padding)
    total = _reduce_taps(_windows(input, geometry), np.add)
    total /= _window_counts(geometry, input.shape[1:3]).astype(total.dtype)
    return total


@defop(vjp=(lambda gg, out, g, input_sizes, **p: _avg_pool2d(gg, **p),),
       jvp=(lambda t, out, g, input_sizes, **p: avg_pool2d_grad(t, input_sizes=input_sizes, **p),),
       saves="", domain=(REAL,), shape=_avg_pool_grad_type,
       cases=[dict(shapes=(out,), params=dict(params, input_sizes=image))
              for image, out, params in _AVG_POOL_BACKWARD])
def avg_pool2d_grad(grad, input_sizes=(), ksize=(1, 1), strides=(1, 1), padding="VALID"):
    """Gradient of avg_pool2d: each window's gradient shared among its unpadded elements.

    >>> import tapegrad as tf
    >>> from tapegrad.ops.conv import avg_pool2d_grad
    >>> avg_pool2d_grad(tf.ones([1, 1, 1, 1]), input_sizes=(1, 2, 2, 1), ksize=(2, 2), strides=(2, 2)
    ...                 ).numpy().ravel()
    array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    geometry = _pool_geometry(input_sizes, ksize, strides, padding)
    _expect_shape("grad", grad.shape, (input_sizes[0],) + geometry.out + (input_sizes[3],))
    share = grad / _window_counts(geometry, input_sizes[1:3]).astype(grad.dtype)
    return _col2im(lambda p, q: share, input_sizes, geometry, share.dtype)


# -- the public functions ---------------------------------------------------------------------

def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """2-D convolution of NHWC `input` with `filters` [height, width, in_channels, out_channels].

    strides and dilations: an int, or a list of 1, 2 or 4 ints; padding: 'SAME', 'VALID'
    or explicit [[0, 0], [top, bottom], [left, right], [0, 0]].

    >>> import tapegrad as tf
    >>> tf.nn.conv2d(tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 2, 4]), strides=2, padding="SAME").shape
    TensorShape([1, 3, 3, 4])
    """
    _check_nhwc(data_format)
    return conv2d_op(input, filters, **_window_params(strides, padding, dilations))


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None):
    """The transpose (gradient) of conv2d: `filters` is [height, width, output_channels, in_channels].

    >>> import tapegrad as tf
    >>> tf.nn.conv2d_transpose(tf.ones([1, 3, 3, 4]), tf.ones([3, 3, 2, 4]), [1, 6, 6, 2], 2).shape
    TensorShape([1, 6, 6, 2])
    """
    _check_nhwc(data_format)
    return conv2d_backprop_input_op(filters, input, input_sizes=_shape_arg(output_shape),
                                    **_window_params(strides, padding, dilations))


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):
    """Each input channel convolved with its own `channel_multiplier` filters.

    `filter` is [height, width, in_channels, channel_multiplier]; the output has
    in_channels * channel_multiplier channels, channel c*M + m from filter [..., c, m].

    >>> import tapegrad as tf
    >>> tf.nn.depthwise_conv2d(tf.ones([1, 4, 4, 3]), tf.ones([2, 2, 3, 2]), [1, 1, 1, 1], "VALID").shape
    TensorShape([1, 3, 3, 6])
    """
    _check_nhwc(data_format)
    return depthwise_conv2d_op(input, filter, **_window_params(strides, padding, dilations))


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None,
                     dilations=None, name=None):
    """depthwise_conv2d followed by a 1x1 conv2d with `pointwise_filter` [1, 1, C*M, out_channels].

    >>> import tapegrad as tf
    >>> tf.nn.separable_conv2d(tf.ones([1, 4, 4, 3]), tf.ones([3, 3, 3, 2]), tf.ones([1, 1, 6, 5]),
    ...                        [1, 1, 1, 1], "SAME").shape
    TensorShape([1, 4, 4, 5])
    """
    depthwise = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations)
    return conv2d(depthwise, pointwise_filter, 1, "VALID", data_format)


def _lift_1d(value, name: str) -> tuple:
    """A 1-D op's int or list of 1 or 3 ints as the 2-D pair (1, value): 1-D ops run as 2-D ones."""
    return (1,) + _spatial(value, name, rank=1)


def _lift_padding_1d(padding):
    padding = _padding(padding, rank=1)
    return padding if isinstance(padding, str) else ((0, 0),) + padding


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):
    """1-D convolution of NWC `input` with `filters` [width, in_channels, out_channels] (as a 2-D one).

    >>> import tapegrad as tf
    >>> tf.nn.conv1d(tf.ones([2, 10, 3]), tf.ones([3, 3, 4]), stride=1, padding="VALID").shape
    TensorShape([2, 8, 4])
    """
    _check_nhwc(data_format, channels_last=("NWC",))
    out = conv2d_op(expand_dims(input, 1), expand_dims(filters, 0), strides=_lift_1d(stride, "stride"),
                    padding=_lift_padding_1d(padding), dilations=_lift_1d(dilations, "dilations"))
    return squeeze(out, 1)


def convolution(input, filters, strides=None, padding="VALID", data_format=None, dilations=None, name=None):
    """conv1d or conv2d, by the rank of `input` (3 or 4), with TF's argument conventions.

    >>> import tapegrad as tf
    >>> tf.nn.convolution(tf.ones([1, 4, 4, 1]), tf.ones([2, 2, 1, 1])).shape
    TensorShape([1, 3, 3, 1])
    """
    rank = convert_to_tensor(input).ndim
    if rank == 4:
        return conv2d(input, filters, 1 if strides is None else strides, padding, data_format, dilations)
    if rank == 3:
        return conv1d(input, filters, 1 if strides is None else strides, padding, data_format or "NWC",
                      dilations)
    raise UnimplementedError(f"tapegrad convolves 1-D and 2-D inputs (rank 3 or 4), got rank {rank}")


def conv_transpose(input, filters, output_shape, strides, padding="SAME", data_format=None, dilations=None,
                   name=None):
    """conv2d_transpose for rank-4 `input` (the only rank tapegrad transposes).

    >>> import tapegrad as tf
    >>> tf.nn.conv_transpose(tf.ones([1, 2, 2, 1]), tf.ones([2, 2, 1, 1]), [1, 4, 4, 1], 2).shape
    TensorShape([1, 4, 4, 1])
    """
    rank = convert_to_tensor(input).ndim
    if rank != 4:
        raise UnimplementedError(f"tapegrad's conv_transpose takes rank-4 (NHWC) input, got rank {rank}")
    return conv2d_transpose(input, filters, output_shape, strides, padding, data_format or "NHWC", dilations)


def _pool_params(ksize, strides, padding, explicit_allowed: bool) -> dict:
    padding = _padding(padding)
    if not explicit_allowed and not isinstance(padding, str):
        raise ValueError(f"avg_pool takes padding 'SAME' or 'VALID', not explicit paddings {padding}")
    return dict(ksize=_spatial(ksize, "ksize"), strides=_spatial(strides, "strides"), padding=padding)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Maximum over each window; its gradient goes to the window's first maximum, as TF's.

    ksize and strides: an int or a list of 1, 2 or 4 ints; padding 'SAME', 'VALID' or
    explicit [[0, 0], [top, bottom], [left, right], [0, 0]] (padding never wins).

    >>> import tapegrad as tf
    >>> x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    >>> tf.nn.max_pool2d(x, 2, 2, "VALID")[0, :, :, 0].numpy()
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """
    _check_nhwc(data_format)
    return _max_pool2d(input, **_pool_params(ksize, strides, padding, explicit_allowed=True))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Mean over each window; SAME padding averages only the elements inside the image, as TF's.

    >>> import tapegrad as tf
    >>> tf.nn.avg_pool2d(tf.ones([1, 3, 3, 1]), 2, 2, "SAME")[0, :, :, 0].numpy()
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    """
    _check_nhwc(data_format)
    return _avg_pool2d(input, **_pool_params(ksize, strides, padding, explicit_allowed=False))


def _pool(pool_2d, input, ksize, strides, padding, data_format):
    """A rank-3 (NWC) or rank-4 (NHWC) pool through the 2-D op."""
    rank = convert_to_tensor(input).ndim
    if rank == 4:
        return pool_2d(input, ksize, strides, padding, data_format or "NHWC")
    if rank == 3:
        _check_nhwc(data_format, channels_last=("NWC",))
        lifted = pool_2d(expand_dims(input, 1), _lift_1d(ksize, "ksize"), _lift_1d(strides, "strides"),
                         _lift_padding_1d(padding))
        return squeeze(lifted, 1)
    raise UnimplementedError(f"tapegrad pools 1-D and 2-D inputs (rank 3 or 4), got rank {rank}")


def max_pool(input, ksize, strides, padding, data_format=None, name=None):
    """max_pool2d for rank-4 input, max_pool1d for rank 3.

    >>> import tapegrad as tf
    >>> tf.nn.max_pool(tf.ones([1, 6, 2]), 2, 2, "VALID").shape
    TensorShape([1, 3, 2])
    """
    return _pool(max_pool2d, input, ksize, strides, padding, data_format)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):
    """avg_pool2d for rank-4 input, avg_pool1d for rank 3.

    >>> import tapegrad as tf
    >>> tf.nn.avg_pool(tf.ones([1, 4, 4, 1]), 2, 2, "VALID").shape
    TensorShape([1, 2, 2, 1])
    """
    return _pool(avg_pool2d, input, ksize, strides, padding, data_format)


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """Maximum over windows of NWC `input`.

    >>> import tapegrad as tf
    >>> tf.nn.max_pool1d([[[1.0], [3.0], [2.0]]], 2, 1, "VALID")[0, :, 0].numpy()
    array([3., 3.], dtype=float32)
    """
    return _pool(max_pool2d, convert_to_tensor(input), ksize, strides, padding, data_format)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """Mean over windows of NWC `input`.

    >>> import tapegrad as tf
    >>> tf.nn.avg_pool1d([[[1.0], [3.0], [2.0]]], 2, 1, "VALID")[0, :, 0].numpy()
    array([2. , 2.5], dtype=float32)
    """
    return _pool(avg_pool2d, convert_to_tensor(input), ksize, strides, padding, data_format)
