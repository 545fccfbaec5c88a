"""``tf.train``: checkpoints of a training run (``Checkpoint``, ``CheckpointManager``).

>>> import tempfile, tapegrad as tf
>>> step = tf.Variable(0, dtype=tf.int64)
>>> manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), tempfile.mkdtemp())
>>> _ = step.assign(5); path = manager.save()
>>> _ = step.assign(0); manager.restore_or_initialize() == path, int(step)
(True, 5)
"""
from ._format import CheckpointCorruptError
from .checkpoint import Checkpoint, CheckpointLoadStatus, list_variables, load_variable
from .manager import CheckpointManager, latest_checkpoint

__all__ = ["Checkpoint", "CheckpointCorruptError", "CheckpointLoadStatus", "CheckpointManager",
           "latest_checkpoint", "list_variables", "load_variable"]

from .._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.train")  # a name not implemented: an honest AttributeError
