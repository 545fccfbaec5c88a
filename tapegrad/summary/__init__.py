"""``tf.summary``: TensorBoard event files from a custom training loop, eagerly or in ``tf.function``.

Writing needs the ``tensorboard`` extra (``pip install 'tapegrad[tensorboard]'``); without a
default writer every summary returns False and nothing is needed.  ``tensorboard --logdir logs``
shows what was written.

>>> import os, tempfile, tapegrad as tf
>>> logdir = os.path.join(tempfile.mkdtemp(), "logs")
>>> try:
...     writer = tf.summary.create_file_writer(logdir)
... except ImportError:  # without the extra: the same code writes nothing
...     writer = tf.summary.create_noop_writer()
>>> w = tf.Variable(1.0)
>>> @tf.function
... def train_step(step):
...     with tf.GradientTape() as tape:
...         loss = w * w
...     grad = tape.gradient(loss, w)
...     w.assign_sub(0.1 * grad)
...     tf.summary.scalar("loss", loss, step=step)  # written on every call, with its values
...     tf.summary.histogram("gradient", grad, step=step)
>>> with writer.as_default():
...     for step in range(3):
...         train_step(tf.constant(step, tf.int64))
>>> writer.close()
"""
from . import experimental
from .summaries import histogram, image, scalar, text
from .trace import trace_export, trace_off, trace_on
from .writer import SummaryWriter, create_file_writer, create_noop_writer, flush

__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "experimental", "flush", "histogram",
           "image", "scalar", "text", "trace_export", "trace_off", "trace_on"]

from .._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.summary")  # a name not implemented: an honest AttributeError
