"""``tf.image``/``tf.io`` PNG and JPEG codecs, through Pillow (the ``images`` extra, imported when
first used). They run on values: eagerly, or staged inside a ``tf.function``. JPEG decoding uses
Pillow's libjpeg, whose pixels may differ by a level or two from TensorFlow's.
"""

from __future__ import annotations

import io

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor, convert_to_tensor
from ..errors import InvalidArgumentError
from .script import host_call

__all__ = ["decode_gif", "decode_image", "decode_jpeg", "decode_png", "encode_jpeg", "encode_png"]


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - the extra is optional
        raise ImportError("Decoding and encoding images needs Pillow: pip install tapegrad[images]") from None
    return Image


def pixels(data: bytes, channels: int, what: str) -> np.ndarray:
    """The ``[h, w, c]`` uint8 (or uint16 PNG) pixels of an encoded image, `channels` 0 = as stored."""
    image_mod = _pil()
    try:
        img = image_mod.open(io.BytesIO(data))
        img.load()
    except (OSError, ValueError, SyntaxError, EOFError, image_mod.DecompressionBombError) as e:
        # any decoder failure is TF's InvalidArgumentError
        raise InvalidArgumentError(f"{what}: the data is not a valid image ({e})") from None
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        mode = (
            img.mode
            if img.mode in ("L", "LA", "RGB", "RGBA", "I;16")
            else "RGBA"
            if "A" in img.getbands() or "transparency" in img.info
            else "RGB"
        )
    if img.mode != mode:
        img = img.convert(mode)
    arr = np.asarray(img)
    if arr.dtype != np.uint8 and mode != "I;16":
        arr = arr.astype(np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def _decoder(contents, channels, dtype, what):
    contents = convert_to_tensor(contents, dtypes.string)
    dtype = dtypes.as_dtype(dtype)
    c = int(channels or 0)

    def run(t):
        arr = pixels(t.numpy(), c, what)
        if dtype != dtypes.uint8 and arr.dtype == np.uint8:
            from .image_transform import convert_image_dtype

            return convert_image_dtype(Tensor(arr), dtype)
        return Tensor(arr)

    return host_call(run, [contents], (dtype, (None, None, c or None)), what)


def decode_png(contents, channels=0, dtype=dtypes.uint8, name=None) -> Tensor:
    """PNG bytes as a ``[h, w, channels]`` image (`channels` 0: as the file holds it).

    >>> import tapegrad as tf
    >>> png = tf.image.encode_png(tf.zeros([2, 3, 1], tf.uint8))
    >>> tf.image.decode_png(png).shape
    TensorShape([2, 3, 1])
    """
    return _decoder(contents, channels, dtype, "decode_png")


def decode_jpeg(
    contents,
    channels=0,
    ratio=1,
    fancy_upscaling=True,
    try_recover_truncated=False,
    acceptable_fraction=1,
    dct_method="",
    name=None,
) -> Tensor:
    """JPEG bytes as a ``[h, w, channels]`` uint8 image.

    >>> import tapegrad as tf
    >>> jpg = tf.image.encode_jpeg(tf.zeros([4, 4, 3], tf.uint8))
    >>> tf.image.decode_jpeg(jpg, channels=3).shape
    TensorShape([4, 4, 3])
    """
    return _decoder(contents, channels, dtypes.uint8, "decode_jpeg")


def decode_image(contents, channels=None, dtype=dtypes.uint8, name=None, expand_animations=True) -> Tensor:
    """PNG, JPEG, BMP or (first frame of a) GIF bytes as a ``[h, w, channels]`` image.

    >>> import tapegrad as tf
    >>> tf.image.decode_image(tf.image.encode_png(tf.zeros([1, 2, 3], tf.uint8))).shape
    TensorShape([1, 2, 3])
    """
    return _decoder(contents, channels, dtype, "decode_image")


def decode_gif(contents, name=None) -> Tensor:
    """A GIF's first frame as ``[1, h, w, 3]`` uint8 (animations: only the first frame here).

    >>> import tapegrad as tf  # doctest: +SKIP
    """
    return _decoder(contents, 3, dtypes.uint8, "decode_gif")[None]


def _encoder(image, fmt, what, **options):
    image = convert_to_tensor(image)
    if image.ndim != 3:
        raise ValueError(f"{what}: image must be 3-dimensional [height, width, channels], got {image.shape}")

    def run(t):
        arr = np.asarray(t._value)
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[-1]]
        img = _pil().fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr, mode)
        out = io.BytesIO()
        img.save(out, format=fmt, **options)
        return Tensor(np.array(out.getvalue(), dtype="S"))

    return host_call(run, [image], (dtypes.string, ()), what)


def encode_png(image, compression=-1, name=None) -> Tensor:
    """A ``[h, w, c]`` uint8 image as PNG bytes (a scalar string tensor).

    >>> import tapegrad as tf
    >>> tf.image.encode_png(tf.zeros([1, 1, 3], tf.uint8)).numpy()[:4]
    b'\\x89PNG'
    """
    level = 6 if compression < 0 else int(compression)
    return _encoder(image, "PNG", "encode_png", compress_level=level)


def encode_jpeg(
    image,
    format="",
    quality=95,
    progressive=False,
    optimize_size=False,
    chroma_downsampling=True,
    density_unit="in",
    x_density=300,
    y_density=300,
    xmp_metadata="",
    name=None,
) -> Tensor:
    """A ``[h, w, c]`` uint8 image as JPEG bytes.

    >>> import tapegrad as tf
    >>> tf.image.encode_jpeg(tf.zeros([2, 2, 3], tf.uint8)).numpy()[:2]
    b'\\xff\\xd8'
    """
    return _encoder(image, "JPEG", "encode_jpeg", quality=int(quality), progressive=progressive)
