"""Keras' image file helpers: ``load_img`` (a Pillow image), ``img_to_array``, ``array_to_img`` and
``save_img``, as ``keras.utils`` has them. Pillow is the ``images`` extra, imported on first use.
"""

from __future__ import annotations

import numpy as np

from ...core.tensor import Tensor
from ...ops.image_codec import _pil, pixels

__all__ = ["array_to_img", "img_to_array", "load_array", "load_img", "save_img"]

_RESAMPLE = {"nearest": 0, "bilinear": 2, "bicubic": 3, "hamming": 5, "box": 4, "lanczos": 1}


def load_array(path, channels: int) -> np.ndarray:
    """The ``[h, w, channels]`` uint8 pixels of an image file (as ``tf.image.decode_image``)."""
    with open(path, "rb") as f:
        return pixels(f.read(), channels, f"decode_image({path})")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """The image file at `path` as a Pillow image (`target_size` ``(height, width)`` resizes it).

    >>> import os, tempfile, numpy as np, tapegrad as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> tf.keras.utils.save_img(path, np.zeros((3, 5, 3)))
    >>> tf.keras.utils.load_img(path, target_size=(2, 2)).size
    (2, 2)
    """
    image_mod = _pil()
    if isinstance(path, (bytes, bytearray)):
        raise TypeError("path should be path-like or io.BytesIO, not bytes")
    img = image_mod.open(path)
    mode = {"grayscale": "L", "rgba": "RGBA", "rgb": "RGB"}.get(color_mode)
    if mode is None:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if color_mode == "grayscale" and img.mode in ("L", "I;16", "I"):
        pass
    elif img.mode != mode:
        img = img.convert(mode)
    if target_size is not None:
        size = (target_size[1], target_size[0])
        if img.size != size:
            if interpolation not in _RESAMPLE:
                raise ValueError(
                    f"Invalid interpolation method {interpolation} specified. Supported methods "
                    f"are {', '.join(_RESAMPLE)}"
                )
            if keep_aspect_ratio:  # the largest centred box of the target's aspect
                w, h = img.size
                cw, ch = min(w, h * size[0] // size[1]), min(h, w * size[1] // size[0])
                left, top = (w - cw) // 2, (h - ch) // 2
                img = img.crop((left, top, left + cw, top + ch))
            img = img.resize(size, _RESAMPLE[interpolation])
    return img


def img_to_array(img, data_format=None, dtype=None) -> np.ndarray:
    """A Pillow image (or array) as a float32 ``[h, w, c]`` NumPy array.

    >>> import numpy as np, tapegrad as tf
    >>> tf.keras.utils.img_to_array(tf.keras.utils.array_to_img(np.arange(12.0).reshape(2, 2, 3))).max()
    np.float32(255.0)
    """
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return np.transpose(x, (2, 0, 1)) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A ``[h, w, c]`` array as a Pillow image; `scale` stretches its values to 0..255.

    >>> import numpy as np, tapegrad as tf
    >>> tf.keras.utils.array_to_img(np.zeros((2, 3, 3))).size
    (3, 2)
    """
    image_mod = _pil()
    x = np.asarray(x._value if isinstance(x, Tensor) else x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if data_format == "channels_first":
        x = np.transpose(x, (1, 2, 0))
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    if channels not in (1, 3, 4):
        raise ValueError(f"Unsupported channel number: {channels}")
    arr = x.astype("uint8")
    if channels == 1:
        return image_mod.fromarray(arr[:, :, 0], "L")
    return image_mod.fromarray(arr, "RGB" if channels == 3 else "RGBA")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs) -> None:
    """Save the ``[h, w, c]`` array `x` as an image file (format from the name or `file_format`).

    >>> import os, tempfile, numpy as np, tapegrad as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> tf.keras.utils.save_img(path, np.zeros((2, 2, 3))); os.path.exists(path)
    True
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (
        file_format == "jpg" or file_format == "jpeg" or str(path).lower().endswith((".jpg", ".jpeg"))
    ):
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
