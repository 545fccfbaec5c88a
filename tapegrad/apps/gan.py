"""``tapegrad gan``: two GANs trained the way the seed's "Application" section recommends, with two
GradientTapes (one per model and loss) — TensorFlow's DCGAN and pix2pix tutorials, at a scale that
trains on NumPy in minutes (``tapegrad.apps.dcgan``, ``tapegrad.apps.pix2pix``).

This module holds what both share: the ``gan`` subcommand's options, pictures (PNG grids, an
animated GIF — Pillow, the ``images`` extra; without it the grids are written as ``.npy``), the
loss curves (matplotlib, the ``plot`` extra).  Every file is written
atomically (a temporary file renamed over the target), so an interrupted run never leaves half a
picture.
"""
from __future__ import annotations

import argparse
import io
import os

import numpy as np

from ..cli import positive_int, validated_by
from . import runs, threads
from .threads import blas_threads  # noqa: F401 (examples/ set the threads with gan.blas_threads)

PILLOW_HINT = "for PNG and GIF pictures install Pillow: pip install 'tapegrad[images]'"
PLOT_HINT = "for loss curves install matplotlib: pip install 'tapegrad[plot]'"


# -- the command line --------------------------------------------------------------------------------

def add_parser(commands) -> argparse.ArgumentParser:
    """Add ``gan dcgan`` and ``gan pix2pix`` to the ``tapegrad`` command's subparsers `commands`.

    >>> parser = argparse.ArgumentParser(prog="tapegrad")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["gan", "dcgan", "--epochs", "2", "--eager"])
    >>> args.model, args.epochs, args.eager, args.data
    ('dcgan', 2, True, 'digits')
    """
    from . import dcgan, pairs, pix2pix
    gan = commands.add_parser(
        "gan", help="train a GAN with two GradientTapes (dcgan, pix2pix)",
        description="Train a GAN with two GradientTapes, one per model, as TensorFlow's DCGAN and pix2pix "
                    "tutorials do; pictures of the progress are written every epoch.")
    models = gan.add_subparsers(dest="model", required=True, metavar="MODEL")

    d = models.add_parser(
        "dcgan", help="DCGAN: generate digits from noise",
        description="A DCGAN (TensorFlow's tutorial) on the bundled 8x8 digits or MNIST: a PNG grid of "
                    "samples from a fixed noise vector per epoch, an animated GIF and the loss curves at "
                    "the end.")
    d.add_argument("--epochs", type=positive_int, default=dcgan.EPOCHS, help=f"default {dcgan.EPOCHS}")
    d.add_argument("--data", type=validated_by(dcgan.parse_data), default="digits",
                   help="digits (bundled, 8x8; default) or mnist[=PATH] (28x28, a Keras mnist.npz or a "
                        "folder of IDX files)")
    d.add_argument("--batch-size", type=positive_int, default=dcgan.BATCH_SIZE,
                   help=f"default {dcgan.BATCH_SIZE}")
    d.add_argument("--filters", type=positive_int, default=dcgan.FILTERS,
                   help="width of the models: the discriminator's first convolution "
                        f"(default {dcgan.FILTERS})")
    d.add_argument("--limit", type=positive_int, help="train on the first N images only (a quick try)")
    d.add_argument("--score", action="store_true",
                   help="at the end, label 1,000 samples with a digit classifier trained on the same data "
                        "(the quickstart model) and print the histogram")
    _common(d, "dcgan")

    p = models.add_parser(
        "pix2pix", help="pix2pix: outline -> filled digit (or your paired images)",
        description="pix2pix (TensorFlow's tutorial) at small scale: a U-Net generator and a PatchGAN "
                    "discriminator learn to fill digit outlines (derived from the bundled digits), or a "
                    "folder of side-by-side image pairs; input | target | output panels per epoch, a "
                    "checkpoint per epoch (--resume).")
    p.add_argument("--epochs", type=positive_int, default=pix2pix.EPOCHS, help=f"default {pix2pix.EPOCHS}")
    p.add_argument("--data", default="digits", metavar="digits|DIR",
                   help="digits (bundled, outlines -> filled digits; default) or DIR: a folder of paired "
                        "side-by-side images, target left and input right (the facades layout), in "
                        "train/ and test/ (or val/) subfolders or all in one (needs Pillow)")
    p.add_argument("--image-size", type=positive_int, default=None,
                   help=f"side of the square images (default {pairs.DIGITS_SIZE} for digits, "
                        f"{pairs.FOLDER_SIZE} for a folder); a power of two, at least 8")
    p.add_argument("--batch-size", type=positive_int, default=pix2pix.BATCH_SIZE,
                   help=f"default {pix2pix.BATCH_SIZE}")
    p.add_argument("--filters", type=positive_int, default=pix2pix.FILTERS,
                   help=f"width of the models: the first downsampling's filters (default {pix2pix.FILTERS})")
    p.add_argument("--limit", type=positive_int, help="train on the first N pairs only (a quick try)")
    runs.add_arguments(p)
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="where checkpoints go (default: OUT/checkpoints)")
    _common(p, "pix2pix")
    return gan


def _common(parser, name: str) -> None:
    parser.add_argument("--eager", action="store_true",
                        help="run the train step eagerly instead of compiling it with tf.function")
    parser.add_argument("--out", metavar="DIR",
                        help=f"where pictures and curves go (default: tapegrad-gan/{name}-DATA)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    threads.add_option(parser)


def run(args, out=None, err=None):
    """Run the ``gan`` subcommand parsed into `args` (the command sets ``--threads`` around it); returns
    what the model's ``run`` returns."""
    from . import dcgan, pix2pix
    if args.model == "dcgan":
        return dcgan.run(epochs=args.epochs, data=args.data, batch_size=args.batch_size,
                         filters=args.filters, limit=args.limit, eager=args.eager, out_dir=args.out,
                         seed=args.seed, score=args.score, out=out, err=err)
    return pix2pix.run(epochs=args.epochs, data=args.data, image_size=args.image_size,
                       batch_size=args.batch_size, filters=args.filters, limit=args.limit,
                       eager=args.eager, out_dir=args.out, seed=args.seed, resume=args.resume,
                       overwrite=args.overwrite, checkpoint_dir=args.checkpoint_dir, out=out, err=err)


# -- pictures ------------------------------------------------------------------------------------------

def to_uint8(images) -> np.ndarray:
    """Images in [-1, 1] (what a tanh generator makes) as uint8 0-255.

    >>> to_uint8(np.array([-1.0, 0.0, 1.0, 2.0]))
    array([  0, 128, 255, 255], dtype=uint8)
    """
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images, cols: int, pad: int = 1, scale: int = 1, background: int = 0) -> np.ndarray:
    """Tile `images` (n, h, w[, c], values in [-1, 1]) into rows of `cols`, `pad` pixels apart, each pixel
    repeated `scale` times (small digits stay sharp): uint8 (H, W) or (H, W, c).

    >>> grid(np.ones((3, 2, 2, 1)), cols=2).shape
    (7, 7)
    >>> grid(np.ones((4, 2, 2, 3)), cols=2, pad=0, scale=2).shape
    (8, 8, 3)
    """
    images = to_uint8(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n, h, w = images.shape[:3]
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    rows = -(-n // cols)
    canvas = np.full((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad) + images.shape[3:],
                     background, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top:top + h, left:left + w] = image
    return canvas


def have_pillow() -> bool:
    """Whether Pillow (the ``images`` extra) can be imported."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def save_picture(path: str, picture: np.ndarray) -> str:
    """Write the uint8 `picture` to `path` as PNG (with Pillow), else to ``path`` with ``.npy`` for
    ``.png``; atomically.  Returns the path written.

    >>> import tempfile
    >>> path = save_picture(os.path.join(tempfile.mkdtemp(), "g.png"), np.zeros((4, 4), np.uint8))
    >>> os.path.splitext(path)[1] in (".png", ".npy")
    True
    """
    from ..keras.saving import atomic_write
    if have_pillow():
        from PIL import Image
        image = Image.fromarray(np.ascontiguousarray(picture))
        atomic_write(path, lambda f: image.save(f, format="PNG"))
        return path
    path = os.path.splitext(path)[0] + ".npy"
    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(picture), allow_pickle=False))
    return path


def save_gif(path: str, pictures, seconds_per_frame: float = 0.2) -> str | None:
    """An animated GIF of the uint8 `pictures` (the last shown twice as long), atomically; None
    without Pillow.

    >>> import tempfile
    >>> frames = [np.full((4, 4), v, np.uint8) for v in (0, 255)]
    >>> path = save_gif(os.path.join(tempfile.mkdtemp(), "a.gif"), frames)
    >>> path is None or open(path, "rb").read(6) == b"GIF89a"
    True
    """
    if not have_pillow() or not len(pictures):
        return None
    from PIL import Image

    from ..keras.saving import atomic_write
    frames = [Image.fromarray(np.ascontiguousarray(p)) for p in pictures]
    durations = [int(seconds_per_frame * 1000)] * len(frames)
    durations[-1] *= 5

    def write(f):
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    atomic_write(path, write)
    return path


def plot_curves(curves: dict, path: str, title: str = "") -> bool:
    """Draw each of `curves` ({label: values per epoch}) against the epoch to the PNG `path`
    (atomically); False if matplotlib is missing.

    >>> import tempfile
    >>> plot_curves({"g": [1.0, 0.5]}, os.path.join(tempfile.mkdtemp(), "c.png")) in (True, False)
    True
    """
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    from ..keras.saving import atomic_write
    figure = Figure(figsize=(7, 4), layout="tight")
    axes = figure.subplots()
    for label, values in curves.items():
        values = np.asarray(values, np.float64)
        axes.plot(np.arange(1, len(values) + 1), values, "o-" if len(values) < 30 else "-", label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        axes.set_title(title)
    axes.legend()
    atomic_write(path, lambda f: figure.savefig(f, format="png"))
    return True


def write_text(path: str, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    from ..keras.saving import atomic_write
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def npy_bytes(array) -> bytes:
    """`array` in NumPy's ``.npy`` format, in memory.

    >>> np.load(io.BytesIO(npy_bytes(np.arange(3)))).tolist()
    [0, 1, 2]
    """
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()
