"""Summary writers and the default writer and step, as ``tf.summary`` keeps them (per thread).

An event file is TensorBoard's: length-prefixed, CRC-checked records of ``Event`` protocol
buffers.  The records are framed by the ``tensorboard`` package's ``RecordWriter`` and the
protocol buffers are its own (``tensorboard.compat.proto``); what is ours is the file's life:
its name, when queued events are written, closing.  We do not construct tensorboard's
``EventFileWriter``: it reaches its files through ``tensorboard.compat.tf``, which imports all of
TensorFlow when TensorFlow is installed (seconds, and gigabytes) and the stub only otherwise.

Events are queued and written as TensorFlow's writer writes them: when more than `max_queue` are
waiting, when `flush_millis` have passed since the last write, on ``flush()``, on leaving
``as_default()``, on ``close()``, and at exit for a writer never closed.  A write appends whole
records; a reader stops at a record cut short by a crash and reads on once it is complete.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.tensor import Tensor

__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "flush", "get_step", "set_step"]

_INSTALL = "pip install 'tapegrad[tensorboard]'"
_file_numbers = itertools.count()  # two writers made in the same second get different files


class _State(threading.local):
    """The default writer and step of this thread (TF keeps them per thread too)."""

    writer = None
    step = None


_state = _State()


def set_step(step) -> None:
    """Set the default step for summaries written without a `step` (``tf.summary.experimental``).

    `step` may be an int, a tensor or a variable (``optimizer.iterations``: read at every write).

    >>> import tapegrad as tf
    >>> tf.summary.experimental.set_step(3)
    >>> tf.summary.experimental.get_step()
    3
    >>> tf.summary.experimental.set_step(None)
    """
    _state.step = step


def get_step() -> int | Tensor | None:
    """The default step set by ``set_step`` or ``as_default(step=...)``, or None.

    >>> import tapegrad as tf
    >>> tf.summary.experimental.get_step() is None
    True
    """
    return _state.step


def default_writer() -> SummaryWriter | None:
    """The writer summaries go to now (None: they are not written).

    >>> import tapegrad as tf
    >>> from tapegrad.summary.writer import default_writer
    >>> default_writer() is None
    True
    """
    return _state.writer


def tensorboard_modules():
    """The parts of the ``tensorboard`` package that write events, or an ImportError saying how to get it."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError as e:
        raise ImportError(f"tf.summary writes TensorBoard event files with the tensorboard package, "
                          f"which is not installed: {_INSTALL}") from e
    return event_pb2, summary_pb2, RecordWriter


class SummaryWriter:
    """Where summaries go (``tf.summary.SummaryWriter``): the base of ``create_file_writer``'s writers,
    and itself the writer that writes nothing and never becomes the default (``create_noop_writer``).

    >>> import tapegrad as tf
    >>> writer = tf.summary.create_noop_writer()
    >>> with writer.as_default(step=1):
    ...     bool(tf.summary.scalar("loss", 0.5))  # a no-op writer writes nothing
    False
    """

    def as_default(self, step=None):
        """A context in which this writer (and `step`, if given) is the default; flushes on leaving.

        >>> import tempfile, tapegrad as tf
        >>> try:
        ...     writer = tf.summary.create_file_writer(tempfile.mkdtemp())
        ... except ImportError:  # without the tensorboard extra: write nothing
        ...     writer = tf.summary.create_noop_writer()
        >>> with writer.as_default(step=7):
        ...     tf.summary.experimental.get_step()
        7
        >>> tf.summary.experimental.get_step() is None  # restored on leaving
        True
        >>> writer.close()
        """
        return contextlib.nullcontext(self)

    def set_as_default(self, step=None) -> None:
        """Make this writer (and `step`, if given) the default, until another is set."""

    def init(self) -> None:
        """Open the writer's file (a writer is opened when made: this is for TF's API)."""

    def flush(self) -> None:
        """Write what is queued.

        >>> import tempfile, tapegrad as tf
        >>> try:
        ...     writer = tf.summary.create_file_writer(tempfile.mkdtemp(), max_queue=100)
        ... except ImportError:  # without the tensorboard extra: write nothing
        ...     writer = tf.summary.create_noop_writer()
        >>> with writer.as_default(step=0):
        ...     _ = tf.summary.scalar("loss", 0.5)  # queued (fewer than max_queue wait)
        ...     writer.flush()                      # written now, before leaving the context
        >>> writer.close()
        """

    def close(self) -> None:
        """Flush and close; using the writer afterwards is an error (closing again is not).

        >>> import tempfile, tapegrad as tf
        >>> try:
        ...     writer = tf.summary.create_file_writer(tempfile.mkdtemp())
        ... except ImportError:  # without the tensorboard extra: write nothing
        ...     writer = tf.summary.create_noop_writer()
        >>> writer.close()
        >>> writer.close()  # again: nothing to do
        """


class _FileWriter(SummaryWriter):
    """A writer of one event file in `logdir`, made and opened by ``create_file_writer``."""

    def __init__(self, logdir, max_queue: int, flush_millis: int, filename_suffix: str):
        self._logdir = os.fspath(logdir)
        self._max_queue = max_queue
        self._flush_seconds = flush_millis / 1000.0
        self._suffix = filename_suffix
        self._file = None
        self._closed = False
        self.init()

    def __repr__(self):
        where = self._file.path if self._file is not None else self._logdir
        return f"<tapegrad.summary.SummaryWriter {where}{' (closed)' if self._closed else ''}>"

    @contextlib.contextmanager
    def as_default(self, step=None):
        self._check_open()
        previous = _state.writer, _state.step
        _state.writer = self
        if step is not None:
            _state.step = step
        try:
            yield self
        finally:
            _state.writer, _state.step = previous
            if not self._closed:
                self.flush()

    def set_as_default(self, step=None) -> None:
        self._check_open()
        _state.writer = self
        if step is not None:
            _state.step = step

    def init(self) -> None:
        self._check_open()
        if self._file is None:
            self._file = _EventFile(self._logdir, self._max_queue, self._flush_seconds, self._suffix)
            # an unclosed writer still has its events written when it is collected or at exit
            self._finalizer = weakref.finalize(self, self._file.close)

    def flush(self) -> None:
        if not self._closed:
            self._file.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finalizer()

    def _write(self, summary, step: int) -> None:
        """Queue one ``Summary`` protocol buffer at `step` (what tf.summary.scalar and the others call)."""
        self._check_open()
        self._file.add(summary, step)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"SummaryWriter {self!r} is already closed")


class _EventFile:
    """One event file: named as TensorFlow names them, opened with the version event written."""

    def __init__(self, logdir: str, max_queue: int, flush_seconds: float, suffix: str):
        self._event_pb2, _, record_writer = tensorboard_modules()
        os.makedirs(logdir, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}." \
               f"{next(_file_numbers)}{suffix}"
        self.path = os.path.join(logdir, name)
        # "xb": a file of another writer is never appended to or truncated
        self._records = record_writer(open(self.path, "xb"))  # noqa: SIM115 - closed by close()
        self._queue: list = []
        self._max_queue = max_queue
        self._flush_seconds = flush_seconds
        self._last_flush = now
        self._lock = threading.Lock()  # writers are shared between threads; records must not interleave
        self._queue.append(self._event_pb2.Event(wall_time=now, file_version="brain.Event:2",
                                                 source_metadata=self._event_pb2.SourceMetadata(
                                                     writer="tapegrad.summary")))
        self.flush()

    def add(self, summary, step: int) -> None:
        event = self._event_pb2.Event(wall_time=time.time(), step=step, summary=summary)
        with self._lock:
            # the writer checks before calling, but another thread may close the file in between
            if self._records.closed:
                raise RuntimeError(f"SummaryWriter of {self.path} is already closed")
            self._queue.append(event)
            if len(self._queue) > self._max_queue or time.time() - self._last_flush > self._flush_seconds:
                self._write_queue()

    def flush(self) -> None:
        with self._lock:
            if not self._records.closed:  # closing wrote everything queued
                self._write_queue()

    def close(self) -> None:
        # under the lock: an add() or flush() of another thread must not write to the closed file
        with self._lock:
            if not self._records.closed:
                self._write_queue()
                self._records.close()

    def _write_queue(self) -> None:
        """Write the queued events; the caller holds the lock, so records never interleave."""
        # One write of whole records, then the OS has them: a crashed process loses nothing
        # written (no fsync: an event file is a log, and TensorBoard reads a cut-off tail later).
        if self._queue:
            for event in self._queue:
                self._records.write(event.SerializeToString())
            self._queue.clear()
        self._records.flush()
        self._last_flush = time.time()


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None,
                       name=None) -> SummaryWriter:
    """A writer of a new TensorBoard event file in `logdir` (made if missing): ``tf.summary.create_file_writer``.

    Queued events are written when more than `max_queue` (10) wait, `flush_millis` (120000) after
    the last write, on ``flush()``, on leaving ``as_default()`` and on ``close()``.  The file is
    named ``events.out.tfevents.<time>.<host>.<pid>.<n>`` + `filename_suffix` (".v2").  A
    `logdir` of None gives a no-op writer; `name` is accepted for TF's signature.  Needs the
    ``tensorboard`` extra: ``pip install 'tapegrad[tensorboard]'``.

    >>> import os, tempfile, tapegrad as tf
    >>> logdir = os.path.join(tempfile.mkdtemp(), "logs", "train")
    >>> try:
    ...     writer = tf.summary.create_file_writer(logdir)
    ... except ImportError:  # without the tensorboard extra: write nothing
    ...     writer = tf.summary.create_noop_writer()
    >>> with writer.as_default(step=0):
    ...     _ = tf.summary.scalar("loss", 0.25)
    >>> writer.close()
    """
    del name  # TF scopes its ops with it; there are none here
    if logdir is None:
        return create_noop_writer()
    return _FileWriter(logdir, 10 if max_queue is None else int(max_queue),
                       120_000 if flush_millis is None else int(flush_millis),
                       ".v2" if filename_suffix is None else str(filename_suffix))


def create_noop_writer() -> SummaryWriter:
    """A writer that writes nothing and does not become the default (``tf.summary.create_noop_writer``).

    >>> import tapegrad as tf
    >>> tf.summary.create_noop_writer().flush()
    """
    return SummaryWriter()


def flush(writer=None, name=None) -> None:
    """Write what `writer` (default: the default writer, if any) has queued: ``tf.summary.flush``.

    >>> import tapegrad as tf
    >>> tf.summary.flush()  # no default writer: nothing to do
    """
    del name
    writer = _state.writer if writer is None else writer
    if writer is not None:
        writer.flush()
