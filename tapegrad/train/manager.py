"""``tf.train.CheckpointManager`` and ``tf.train.latest_checkpoint``.

A folder of checkpoints ``ckpt-1.npz``, ``ckpt-2.npz``, ... and an index, ``checkpoint`` (TF's name
and text format), listing them oldest first and naming the latest.  The order of every save is
what makes a crash harmless:

1. the new checkpoint is written to a temporary file, synced and renamed into place (atomic);
2. then the index is rewritten the same way, listing it;
3. only then are the checkpoints beyond ``max_to_keep`` deleted.

A kill at any point leaves the previous checkpoints listed and intact, and at most a complete new
checkpoint the index does not list yet; the manager adopts that one when it next opens the folder.
Restoring verifies each file, and ``restore_or_initialize`` falls back to the newest intact one.
One folder has one writer at a time (as in TF): a new manager removes the temporary files that
a killed writer left behind.
"""
from __future__ import annotations

import os
import re
import tempfile
import warnings

from ..errors import NotFoundError
from .._files import atomic_write, fsync_directory, remove_dead_temporaries
from ._format import SUFFIX, CheckpointCorruptError, file_of

INDEX = "checkpoint"
_MAX_INDEX_BYTES = 1 << 20
_INDEX_LINE = re.compile(r'^(model_checkpoint_path|all_model_checkpoint_paths): "((?:[^"\\]|\\.)*)"$')
_INDEX_OTHER = re.compile(r"^(all_model_checkpoint_timestamps|last_preserved_timestamp): [0-9.eE+-]+$")


class CheckpointManager:
    """Keep the last `max_to_keep` checkpoints of `checkpoint` in `directory` (None: keep all).

    The folder is created, and checked to be writable, here: a run learns at once, not after its
    first epoch, that it could not save.

    >>> import tempfile, tapegrad as tf
    >>> step = tf.Variable(0, dtype=tf.int64)
    >>> manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), tempfile.mkdtemp(), max_to_keep=2)
    >>> for _ in range(3):
    ...     _ = step.assign_add(1)
    ...     _ = manager.save()
    >>> [os.path.basename(p) for p in manager.checkpoints]
    ['ckpt-2', 'ckpt-3']
    >>> _ = step.assign(0)
    >>> os.path.basename(manager.restore_or_initialize()), int(step)
    ('ckpt-3', 3)
    """

    def __init__(self, checkpoint, directory, max_to_keep=5, checkpoint_name: str = "ckpt", init_fn=None):
        if max_to_keep is not None and (isinstance(max_to_keep, bool) or int(max_to_keep) < 1):
            raise ValueError(f"max_to_keep must be a positive integer or None, got {max_to_keep!r}.")
        if not checkpoint_name or os.sep in checkpoint_name or checkpoint_name == INDEX:
            raise ValueError(f"checkpoint_name must be a plain file name other than {INDEX!r}, got "
                             f"{checkpoint_name!r}.")
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        self._max_to_keep = None if max_to_keep is None else int(max_to_keep)
        self._name = checkpoint_name
        self._init_fn = init_fn
        _make_writable(self._directory)
        self._numbered = re.compile(rf"^{re.escape(checkpoint_name)}-(\d+){re.escape(SUFFIX)}$")
        remove_dead_temporaries(self._directory)
        self._kept = self._recover()

    @property
    def directory(self) -> str:
        """The folder the checkpoints are in."""
        return self._directory

    @property
    def checkpoints(self) -> list:
        """The paths of the checkpoints kept, oldest first.

        >>> import tempfile, tapegrad as tf
        >>> tf.train.CheckpointManager(tf.train.Checkpoint(), tempfile.mkdtemp()).checkpoints
        []
        """
        return list(self._kept)

    @property
    def latest_checkpoint(self):
        """The newest checkpoint's path, or None (not verified: ``restore_or_initialize`` verifies)."""
        return self._kept[-1] if self._kept else None

    def save(self, checkpoint_number=None) -> str:
        """Write a new checkpoint, named after `checkpoint_number` (an int or an integer Variable;
        default: the checkpoint's ``save_counter``, counted up first); returns its path.

        >>> import tempfile, tapegrad as tf
        >>> manager = tf.train.CheckpointManager(tf.train.Checkpoint(), tempfile.mkdtemp())
        >>> os.path.basename(manager.save(checkpoint_number=tf.Variable(10)))
        'ckpt-10'
        """
        counter = self._checkpoint.save_counter
        counter.assign_add(1)
        try:
            number = int(counter.numpy() if checkpoint_number is None else _number(checkpoint_number))
            path = self._checkpoint.write(os.path.join(self._directory, f"{self._name}-{number}"))
        except BaseException:
            counter.assign_sub(1)
            raise
        kept = [p for p in self._kept if p != path] + [path]
        drop = kept[:-self._max_to_keep] if self._max_to_keep else []
        self._kept = kept[len(drop):]
        write_index(self._directory, self._kept)
        for old in drop:  # only now: the new checkpoint and the index naming it are on disk
            try:
                os.remove(file_of(old))
            except FileNotFoundError:
                pass
        if drop:
            fsync_directory(self._directory)
        return path

    def restore_or_initialize(self):
        """Restore the newest intact checkpoint and return its path; with none, call ``init_fn`` (if
        given) and return None.

        A checkpoint that is missing, truncated or corrupt is skipped with a warning saying which
        and why, and the next older one is tried.  If there are checkpoints but none is intact,
        ``CheckpointCorruptError`` is raised rather than silently starting over.

        >>> import tempfile, warnings, tapegrad as tf
        >>> step = tf.Variable(0)
        >>> manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), tempfile.mkdtemp())
        >>> for _ in range(2):
        ...     _ = step.assign_add(1); _ = manager.save()
        >>> with open(manager.latest_checkpoint + ".npz", "r+b") as f:
        ...     _ = f.truncate(100)  # the newest is damaged
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     print(os.path.basename(manager.restore_or_initialize()), int(step))
        ckpt-1 1
        >>> print(caught[0].message)
        Skipped checkpoint '...ckpt-2': Checkpoint '...ckpt-2.npz' is corrupt or incomplete: ...
        """
        self._kept = self._recover()  # what is on disk now
        skipped = []
        for path in reversed(self._kept):
            try:
                self._checkpoint.restore(path)
            except (CheckpointCorruptError, NotFoundError) as e:
                warnings.warn(f"Skipped checkpoint {path!r}: {e}", stacklevel=2)
                skipped.append((path, e))
                continue
            return path
        if skipped:
            raise CheckpointCorruptError(f"No intact checkpoint in {self._directory!r}: "
                                         f"{[os.path.basename(p) for p, _ in skipped]} cannot be used. The "
                                         f"newest: {skipped[0][1]}")
        if self._init_fn is not None:
            self._init_fn()
        return None

    # -- the folder ---------------------------------------------------------------------------------
    def _number_of(self, path) -> int:
        return int(self._numbered.match(os.path.basename(file_of(path))).group(1))

    def _on_disk(self) -> list:
        """The numbered checkpoint files in the folder, as checkpoint paths (no suffix)."""
        found = []
        for entry in os.listdir(self._directory):
            if self._numbered.match(entry):
                found.append(os.path.join(self._directory, entry[:-len(SUFFIX)]))
        return found

    def _recover(self) -> list:
        """The checkpoints kept: those the index lists, plus any file it does not list — one newer
        than all it lists (a writer killed before updating the index) goes last, older ones (killed
        before deleting them) first, so that they are the next to go."""
        try:
            _, listed = read_index(self._directory)
        except ValueError as e:
            warnings.warn(f"Ignoring the checkpoint index of {self._directory!r}: {e}", stacklevel=3)
            listed = []
        unlisted = {os.path.basename(p): p for p in self._on_disk()}
        kept = [unlisted.pop(os.path.basename(p)) for p in listed if os.path.basename(p) in unlisted]
        newest = max(map(self._number_of, kept), default=-1)
        extra = sorted(unlisted.values(), key=self._number_of)
        return ([p for p in extra if self._number_of(p) < newest] + kept
                + [p for p in extra if self._number_of(p) > newest])


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The path of the latest checkpoint the folder's index names, or None if there is none.

    >>> import tempfile, tapegrad as tf
    >>> folder = tempfile.mkdtemp()
    >>> tf.train.latest_checkpoint(folder) is None
    True
    >>> path = tf.train.Checkpoint(v=tf.Variable(1.0)).save(os.path.join(folder, "ckpt"))
    >>> tf.train.latest_checkpoint(folder) == path
    True
    """
    try:
        latest, _ = read_index(checkpoint_dir, latest_filename or INDEX)
    except ValueError:
        return None
    return latest if latest is not None and os.path.isfile(file_of(latest)) else None


def read_index(directory, filename: str = INDEX) -> tuple:
    """``(latest path or None, [all paths, oldest first])`` from a folder's index file; paths relative
    to the folder are joined to it.  No index: ``(None, [])``; an unreadable one: ValueError.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_index(folder, [os.path.join(folder, "ckpt-1")])
    >>> latest, paths = read_index(folder)
    >>> os.path.basename(latest), [os.path.basename(p) for p in paths]
    ('ckpt-1', ['ckpt-1'])
    """
    directory = os.fspath(directory)
    try:
        with open(os.path.join(directory, filename), "rb") as f:
            raw = f.read(_MAX_INDEX_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None, []
    if len(raw) > _MAX_INDEX_BYTES:
        raise ValueError(f"its {filename!r} file is larger than {_MAX_INDEX_BYTES} bytes")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"its {filename!r} file is not text ({e})") from None
    latest, paths = None, []
    for number, line in enumerate(lines, 1):
        match = _INDEX_LINE.match(line.strip())
        if match is None:
            if line.strip() and not _INDEX_OTHER.match(line.strip()):
                raise ValueError(f"line {number} of its {filename!r} file is not a checkpoint entry: {line!r}")
            continue
        path = os.path.join(directory, re.sub(r"\\(.)", r"\1", match.group(2)))
        if match.group(1) == "model_checkpoint_path":
            latest = path
        else:
            paths.append(path)
    if latest is not None and latest not in paths:
        paths.append(latest)
    return latest, paths


def write_index(directory, paths) -> None:
    """Atomically rewrite a folder's index: `paths` kept, oldest first, the last the latest.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_index(folder, [os.path.join(folder, "ckpt-1"), os.path.join(folder, "ckpt-2")])
    >>> with open(os.path.join(folder, "checkpoint")) as f:
    ...     print(f.read(), end="")
    model_checkpoint_path: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-1"
    all_model_checkpoint_paths: "ckpt-2"
    """
    def entry(path):
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(directory))
        return '"' + relative.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = [f"model_checkpoint_path: {entry(paths[-1])}"] if paths else []
    lines += [f"all_model_checkpoint_paths: {entry(p)}" for p in paths]
    text = "".join(line + "\n" for line in lines)
    atomic_write(os.path.join(os.fspath(directory), INDEX), lambda f: f.write(text.encode("utf-8")))


def _make_writable(directory: str) -> None:
    """Create `directory` and prove that a file can be written there (OSError saying so if not)."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise OSError(f"Cannot write checkpoints to {directory!r}: {e.strerror or e}. Choose a writable "
                      "folder.") from None


def _number(value) -> int:
    value = value.numpy() if hasattr(value, "numpy") else value
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"checkpoint_number must be an integer, got {value!r}.")
    return int(value)
