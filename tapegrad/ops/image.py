"""Image resizing as TensorFlow 2's ``tf.image.resize``: every method is a separable linear map.

Each method (bilinear and nearest with half-pixel centres, bicubic, area, and the antialiased
scale-and-translate kernels) is, along one axis, a fixed ``(out, in)`` weight matrix computed
from the sizes alone; resizing applies the row matrix and the column matrix with ``einsum``.
So resizing is differentiable through the registered einsum/gather gradients, traces in a
``tf.function`` and needs no primitive of its own. Nearest-neighbour resizing is a gather
(it keeps the dtype, as TF's).
"""

from __future__ import annotations

import math

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor, convert_to_tensor
from .indexing import gather
from .linalg import einsum
from .math import cast

__all__ = ["ResizeMethod", "resize", "weights_matrix"]


class ResizeMethod:
    """The names ``tf.image.resize`` takes as `method`.

    >>> import tapegrad as tf
    >>> tf.image.ResizeMethod.BILINEAR
    'bilinear'
    """

    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


def _keys_cubic(x, a=-0.5):
    x = np.abs(x)
    return np.where(
        x < 1,
        ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0),
    )


def _lanczos(radius):
    def kernel(x):
        x = np.abs(x)
        return np.where(x > radius, 0.0, np.sinc(x) * np.sinc(x / radius))

    return kernel, radius


def _mitchell(x):
    x = np.abs(x)
    b = c = 1.0 / 3.0
    near = ((12 - 9 * b - 6 * c) * x**3 + (-18 + 12 * b + 6 * c) * x**2 + (6 - 2 * b)) / 6
    far = ((-b - 6 * c) * x**3 + (6 * b + 30 * c) * x**2 + (-12 * b - 48 * c) * x + (8 * b + 24 * c)) / 6
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


# the scale-and-translate kernels: (kernel, radius)
_KERNELS = {
    "bilinear": (lambda x: np.maximum(0.0, 1.0 - np.abs(x)), 1.0),
    "bicubic": (_keys_cubic, 2.0),
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
    "gaussian": (lambda x: np.where(np.abs(x) < 1.5, np.exp(-x * x / (2 * 0.5**2)), 0.0), 1.5),
    "mitchellcubic": (_mitchell, 2.0),
}


def _scale_and_translate(n_in: int, n_out: int, kernel_name: str, antialias: bool) -> np.ndarray:
    """TF's ScaleAndTranslate spans: each output sample's kernel over the input, normalised."""
    kernel, radius = _KERNELS[kernel_name]
    f32 = np.float32  # in float32 as TF's kernel: a tap at exactly the radius is in or out by rounding
    inv_scale = f32(1) / (f32(n_out) / f32(n_in))
    kernel_scale = max(inv_scale, f32(1)) if antialias else f32(1)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        sample = f32(i + 0.5) * inv_scale
        if sample < 0 or sample > n_in:
            continue
        lo = min(max(math.ceil(sample - f32(radius) * kernel_scale - f32(0.5)), 0), n_in - 1)
        hi = min(max(math.floor(sample + f32(radius) * kernel_scale - f32(0.5)), 0), n_in - 1) + 1
        src = np.arange(lo, hi)
        k = kernel(((src + f32(0.5)).astype(f32) - sample) * (f32(1) / kernel_scale)).astype(np.float64)
        total = k.sum()
        w[i, lo:hi] = k / total if abs(total) >= 1000 * np.finfo(np.float32).eps else k
    return w


def _bilinear(n_in: int, n_out: int) -> np.ndarray:
    """ResizeBilinear with half-pixel centres: lerp between the two nearest input samples."""
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = (i + 0.5) * (n_in / n_out) - 0.5
        f = math.floor(x)
        t = x - f
        w[i, min(max(f, 0), n_in - 1)] += 1 - t
        w[i, min(max(f + 1, 0), n_in - 1)] += t
    return w


def _bicubic(n_in: int, n_out: int) -> np.ndarray:
    """ResizeBicubic with half-pixel centres: Keys' cubic (a = -0.5); taps outside the image
    get no weight and the rest are renormalised, as TF's kernel does."""
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = (i + 0.5) * (n_in / n_out) - 0.5
        f = math.floor(x)
        t = np.rint((x - f) * 1024) / 1024  # TF reads the weights from a 1024-entry table
        taps = np.arange(f - 1, f + 3)
        k = _keys_cubic(t - np.arange(-1, 3))
        k = np.where((taps >= 0) & (taps < n_in), k, 0.0)
        k = k / k.sum()
        for j, kj in zip(taps, k):
            w[i, min(max(j, 0), n_in - 1)] += kj
    return w


def _area(n_in: int, n_out: int) -> np.ndarray:
    """ResizeArea: each output sample averages the input span it covers, by coverage."""
    scale = n_in / n_out
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(math.floor(lo), math.ceil(hi)):
            w[i, min(j, n_in - 1)] += (min(j + 1, hi) - max(j, lo)) / scale
    return w


def weights_matrix(n_in: int, n_out: int, method: str = "bilinear", antialias: bool = False) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix resizing one axis as ``tf.image.resize`` does (float64).

    >>> from tapegrad.ops.image import weights_matrix
    >>> weights_matrix(2, 4).round(2).tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    if method in ("lanczos3", "lanczos5", "gaussian", "mitchellcubic") or (
        antialias and method in ("bilinear", "bicubic")
    ):
        return _scale_and_translate(n_in, n_out, method, antialias)
    if method == "bilinear":
        return _bilinear(n_in, n_out)
    if method == "bicubic":
        return _bicubic(n_in, n_out)
    if method == "area":
        return _area(n_in, n_out)
    raise ValueError(f"Resize method is not implemented: [{method}]")


def _nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    scale = n_in / n_out
    return np.minimum(np.floor((np.arange(n_out) + 0.5) * scale), n_in - 1).astype(np.int32)


def _target_size(height, width, size, preserve_aspect_ratio: bool):
    new_h, new_w = (int(s) for s in np.asarray(size).reshape(-1))
    if preserve_aspect_ratio:  # as TF: the largest size of the same aspect that fits `size`
        scale = min(new_h / height, new_w / width)
        new_h = max(round(float(np.float32(height) * np.float32(scale))), 1)
        new_w = max(round(float(np.float32(width) * np.float32(scale))), 1)
    return new_h, new_w


def resize(
    images, size, method=ResizeMethod.BILINEAR, preserve_aspect_ratio=False, antialias=False, name=None
) -> Tensor:
    """Resize `images` (``[batch, h, w, c]`` or ``[h, w, c]``) to `size` ``[new_h, new_w]``.

    As TF 2: half-pixel centres; the result is float32 except for ``"nearest"`` (which keeps the
    dtype). Differentiable (every method is linear).

    >>> import tapegrad as tf
    >>> image = tf.reshape(tf.range(4, dtype=tf.float32), [2, 2, 1])
    >>> tf.image.resize(image, [3, 3])[..., 0].numpy().round(3).tolist()
    [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]]
    """
    images = convert_to_tensor(images)
    method = str(method).lower()
    if images.ndim not in (3, 4):
        raise ValueError(
            f"'images' must have either 3 or 4 dimensions, got shape {images.shape} (tf.image.resize)"
        )
    h, w = images.shape[-3], images.shape[-2]
    if h is None or w is None:
        raise ValueError("tf.image.resize needs the input's height and width to be known")
    size = np.asarray(size.numpy() if isinstance(size, Tensor) else size)
    if size.shape != (2,):
        raise ValueError(
            f"'size' must be a 1-D Tensor of 2 elements: new_height, new_width; got {size.tolist()}"
        )
    new_h, new_w = _target_size(h, w, size, preserve_aspect_ratio)
    if method == "nearest":
        out = gather(images, _nearest_indices(h, new_h), axis=-3)
        return gather(out, _nearest_indices(w, new_w), axis=-2)
    if method not in _KERNELS and method != "area":
        raise ValueError(f"Resize method is not implemented: [{method}]")
    dtype = dtypes.float32  # TF 2 computes and returns float32 for every input dtype
    x = cast(images, dtype)
    rows = Tensor(weights_matrix(h, new_h, method, antialias).astype(dtype._np))
    cols = Tensor(weights_matrix(w, new_w, method, antialias).astype(dtype._np))
    if images.ndim == 3:
        return einsum("hwc,ph,qw->pqc", x, rows, cols)
    return einsum("bhwc,ph,qw->bpqc", x, rows, cols)
