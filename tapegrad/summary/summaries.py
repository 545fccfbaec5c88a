"""``tf.summary.scalar``, ``histogram``, ``image`` and ``text``: one value at a step, to the default writer.

Each returns a bool tensor, as TF's do: True when written, False when there is no default writer
(then the data is not looked at, and the ``tensorboard`` extra is not needed).  The summary
protocol buffers are built by the ``tensorboard`` package's own builders (``scalar_pb``,
``histogram_pb`` with its 30 buckets by default, ``text_pb``, the image plugin's metadata), the
PNGs by Pillow, which ``tensorboard`` itself requires.

Inside a ``tf.function`` a summary is staged like ``tf.print``: it writes on every call, with that
call's values, to the writer and step that are the default when the call runs.  While tracing,
what the trace can know is checked (a step to write at, the data's rank and dtype), so that those
mistakes raise where TensorFlow raises them.
"""
from __future__ import annotations

import functools
import io

import numpy as np

from ..core import dtypes
from ..core.op import staged
from ..core.tensor import Tensor, constant, convert_to_tensor
from .writer import _state

__all__ = ["histogram", "image", "scalar", "text"]

_NO_STEP = ("No step set. Please specify one either through the `step` argument or through "
            "tf.summary.experimental.set_step()")


def _tensor(data) -> Tensor:
    """`data` as TF converts it (Python floats are float32, a list of tensors is stacked); a variable
    stays itself, so that a summary of one is not a read that an open tape would watch."""
    return data if isinstance(data, Tensor) else convert_to_tensor(data)


def _spec(data):
    """Shape and NumPy dtype of the tensor `data` converts to (known while tracing too: a list of
    traced tensors is looked at, not stacked)."""
    if isinstance(data, (list, tuple)) and data and any(isinstance(v, Tensor) for v in data):
        shape, dtype = _spec(data[0])
        return (len(data),) + shape, dtype
    tensor = _tensor(data)
    return tuple(tensor.shape.as_list()), np.dtype(tensor.dtype.as_numpy_dtype)


def _step(step) -> int:
    step = _state.step if step is None else step
    if step is None:
        raise ValueError(_NO_STEP)
    return int(np.asarray(step._value if isinstance(step, Tensor) else step))


def _traced(data, step, check) -> Tensor:
    """While tracing: raise what TF raises when it traces; the placeholder of the call's result."""
    if _state.writer is not None:
        if step is None and _state.step is None:
            raise ValueError(_NO_STEP)
        check(*_spec(data))
    return constant(False)


def _write(name, data, step, check, make) -> Tensor:
    """Write `make(name, data's array)` at `step` if there is a default writer; whether it was written."""
    writer = _state.writer
    if writer is None:
        return constant(False)
    data = _tensor(data)
    check(*_spec(data))
    step = _step(step)
    writer._write(make(name, np.asarray(data._value)), step)
    return constant(True)


def _check_scalar(shape, dtype) -> None:
    if shape != ():
        raise ValueError(f"Expected scalar shape, saw shape: {shape}.")
    if dtype.kind not in "biuf":
        raise ValueError(f"Cast {_name(dtype)} to float is not supported")


def _name(dtype) -> str:
    return "string" if dtype.kind in "USO" else dtypes.from_numpy(dtype).name


def _make_scalar(name, value, description):
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb
    return scalar_pb(name, value.astype(np.float32), description)


@staged(trace_result=lambda name, data, step=None, description=None: _traced(data, step, _check_scalar))
def scalar(name, data, step=None, description=None) -> Tensor:
    """Write the number `data` under `name` at `step` (default: ``experimental.get_step()``).

    >>> import tapegrad as tf
    >>> bool(tf.summary.scalar("loss", 0.5, step=1))  # no default writer: nothing is written
    False
    """
    return _write(name, data, step, _check_scalar,
                  lambda tag, value: _make_scalar(tag, value, description))


def _check_histogram(buckets, shape, dtype) -> None:
    if buckets is not None and (int(buckets) != buckets or buckets < 0):
        raise ValueError(f"buckets must be a non-negative integer, not {buckets!r}")
    if dtype.kind not in "biuf":
        raise TypeError(f"A histogram of {_name(dtype)} data is not possible: it must be numbers")


def _make_histogram(name, values, buckets, description):
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    return histogram_pb(name, values, buckets, description)


@staged(trace_result=lambda name, data, step=None, buckets=None, description=None:
        _traced(data, step, functools.partial(_check_histogram, buckets)))
def histogram(name, data, step=None, buckets=None, description=None) -> Tensor:
    """Write the distribution of `data` (any shape) in `buckets` equal-width buckets (30) from min to max.

    TensorBoard's histogram: a [buckets, 3] tensor of (left edge, right edge, count); all values
    alike fill the last bucket; no data gives zero counts.

    >>> import tapegrad as tf
    >>> bool(tf.summary.histogram("weights", tf.random.normal([100]), step=1))
    False
    """
    return _write(name, data, step, functools.partial(_check_histogram, buckets),
                  lambda tag, values: _make_histogram(tag, values, buckets, description))


def _check_images(shape, dtype) -> None:
    if len(shape) != 4:
        raise ValueError(f"tf.summary.image needs data of rank 4, [k, h, w, c]; received rank {len(shape)}, "
                         f"shape {shape}")
    if shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"tf.summary.image needs 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA) channels, "
                         f"not {shape[-1]} (shape {shape})")
    if dtype.kind not in "iuf":
        raise TypeError(f"tf.summary.image needs float (in [0, 1]) or integer pixels, not {_name(dtype)}")


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Pixels as bytes, as TF's ``convert_image_dtype(saturate=True)``: floats in [0, 1] scaled by 255.5
    and truncated (so 0.999 is 255), other integers by their range; out of range is clipped.

    >>> to_uint8(np.array([-1.0, 0.0, 0.5, 0.999, 1.0, 2.0, np.nan]))
    array([  0,   0, 127, 255, 255, 255,   0], dtype=uint8)
    >>> to_uint8(np.array([0, 256, 65535], np.uint16))
    array([  0,   1, 255], dtype=uint8)
    """
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype.kind == "f":
        return np.clip(np.nan_to_num(pixels.astype(np.float64) * 255.5, nan=0.0), 0, 255).astype(np.uint8)
    levels = int(np.iinfo(pixels.dtype).max) + 1
    scaled = pixels.astype(np.int64)
    scaled = scaled // (levels // 256) if levels >= 256 else scaled * (256 // levels)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image  # a dependency of tensorboard: present whenever a writer is
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _make_images(name, images, max_outputs, description):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.image.metadata import create_summary_metadata
    from tensorboard.util import tensor_util
    metadata = create_summary_metadata(None, description)
    height, width = images.shape[1:3]
    # TensorBoard's image tensor: width and height as strings, then one PNG per image
    encoded = [str(width).encode(), str(height).encode()] + [_png(to_uint8(i)) for i in images[:max_outputs]]
    tensor = tensor_util.make_tensor_proto(np.array(encoded, dtype=object))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=name, metadata=metadata, tensor=tensor)])


@staged(trace_result=lambda name, data, step=None, max_outputs=3, description=None:
        _traced(data, step, _check_images))
def image(name, data, step=None, max_outputs=3, description=None) -> Tensor:
    """Write up to `max_outputs` of the images `data` [k, h, w, c] as PNGs.

    Pixels are floats in [0, 1] or uint8 (other integers are scaled from their range); c is 1
    (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA).

    >>> import tapegrad as tf
    >>> bool(tf.summary.image("digits", tf.zeros([2, 8, 8, 1]), step=1))
    False
    """
    return _write(name, data, step, _check_images,
                  lambda tag, images: _make_images(tag, images, max_outputs, description))


def _check_strings(shape, dtype) -> None:
    if dtype.kind not in "USO":
        raise TypeError(f"tensor must be of type tf.string; got tf.{_name(dtype)}")


@staged(trace_result=lambda name, data, step=None, description=None: _traced(data, step, _check_strings))
def text(name, data, step=None, description=None) -> Tensor:
    """Write a string, or a tensor of strings (shown as a table), rendered as Markdown by TensorBoard.

    >>> import tapegrad as tf
    >>> bool(tf.summary.text("notes", "first run", step=0))
    False
    """
    return _write(name, data, step, _check_strings,
                  lambda tag, strings: _make_text(tag, strings, description))


def _make_text(name, strings, description):
    from tensorboard.plugins.text.summary_v2 import text_pb
    return text_pb(name, strings, description)
