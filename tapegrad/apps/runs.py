"""One run per folder: what keeps the ``tapegrad`` command's runs from mixing with earlier ones.  A new
run refuses a checkpoint folder that holds an earlier run's checkpoints (``--resume`` continues it,
``--overwrite`` deletes them first): quietly numbering after them would make ``--resume`` pick up
whichever run saved last, and deleting them unasked could throw away hours of training.  The options
that shape a run (data, batch size, seed, ...) are recorded beside its checkpoints in ``run.json``,
written atomically; ``--resume`` reads it back as untrusted JSON and refuses other values, naming the
option and both values, since resuming with another batch size or data would silently train a
different run.  Per-epoch pictures that a run would not continue are removed when it starts, so that a
shorter run never leaves a longer one's later pictures beside its own.
"""
from __future__ import annotations

import json
import os
import re

RECORD = "run.json"
FORMAT = "tapegrad.run"
_MAX_RECORD_BYTES = 1 << 16
_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.npz$")  # CheckpointManager's files, with its default name
_INDEX = "checkpoint"


def add_arguments(parser) -> None:
    """Add ``--resume`` and ``--overwrite`` (one or the other) to the argparse `parser`.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(); add_arguments(parser)
    >>> parser.parse_args(["--resume"]).resume
    True
    """
    run_start = parser.add_mutually_exclusive_group()
    run_start.add_argument("--resume", action="store_true",
                           help="continue from the newest intact checkpoint (with the same options)")
    run_start.add_argument("--overwrite", action="store_true",
                           help="start a new run even if the checkpoint folder holds an earlier run's "
                                "checkpoints (they are deleted); without it such a folder is refused")


def checkpoint_files(directory) -> list:
    """The numbered checkpoint files (``ckpt-N.npz``) in `directory`, oldest first; [] if there is no
    such folder.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("ckpt-10.npz", "ckpt-9.npz", "notes.txt"):
    ...     open(os.path.join(folder, name), "w").close()
    >>> checkpoint_files(folder)
    ['ckpt-9.npz', 'ckpt-10.npz']
    """
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = {n: int(_CHECKPOINT.match(n).group(1)) for n in names if _CHECKPOINT.match(n)}
    return sorted(found, key=found.get)


def start(directory, resume: bool, overwrite: bool, extra=()) -> list:
    """Check that a run may start in the checkpoint folder `directory`: a new run (neither `resume` nor
    `overwrite`) refuses an earlier run's checkpoints (FileExistsError, one line saying what to do);
    with `overwrite` they, their index, the record and the `extra` files (the earlier run's plots) are
    deleted.  Returns the names deleted.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp(); open(os.path.join(folder, "ckpt-3.npz"), "w").close()
    >>> start(folder, resume=False, overwrite=False)
    Traceback (most recent call last):
    ...
    FileExistsError: ... holds the checkpoints of an earlier run (ckpt-3): continue it with --resume, ...
    >>> start(folder, resume=False, overwrite=True), os.listdir(folder)
    (['ckpt-3.npz'], [])
    """
    found = checkpoint_files(directory)
    if resume or not found:
        return []
    if not overwrite:
        shown = found[-1][:-4] if len(found) == 1 else f"{found[0][:-4]} ... {found[-1][:-4]}"
        raise FileExistsError(f"{os.fspath(directory)!r} holds the checkpoints of an earlier run ({shown}): "
                              "continue it with --resume, start over with --overwrite (deletes them) or "
                              "choose another --checkpoint-dir")
    return remove(directory, [*found, _INDEX, RECORD, *extra])


def remove(directory, names) -> list:
    """Delete the files `names` in `directory` (those that exist); returns the names deleted.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp(); open(os.path.join(folder, "a.png"), "w").close()
    >>> remove(folder, ["a.png", "b.png"])
    ['a.png']
    """
    removed = []
    for name in names:
        try:
            os.remove(os.path.join(directory, name))
        except FileNotFoundError:
            continue
        removed.append(name)
    return removed


def remove_pictures(directory, pattern: str, after: int = 0) -> list:
    """Delete the per-epoch pictures in `directory` whose names match `pattern` (a regular expression
    whose group 1 is the epoch number) and whose epoch is beyond `after` (the epoch a run starts from:
    0 for a new run); returns the names deleted, in epoch order.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for epoch in (1, 2, 3):
    ...     open(os.path.join(folder, f"epoch_{epoch:04d}.png"), "w").close()
    >>> remove_pictures(folder, r"epoch_(\\d{4,})\\.(?:png|npy)", after=1), sorted(os.listdir(folder))
    (['epoch_0002.png', 'epoch_0003.png'], ['epoch_0001.png'])
    """
    matcher = re.compile(f"^{pattern}$")
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    stale = sorted((n for n in names if matcher.match(n) and int(matcher.match(n).group(1)) > after),
                   key=lambda n: (int(matcher.match(n).group(1)), n))
    return remove(directory, stale)


def record(directory, command: str, options: dict) -> None:
    """Write the run's `options` (JSON values) beside its checkpoints in `directory`, atomically.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> record(folder, "quickstart", {"batch_size": 32})
    >>> json.load(open(os.path.join(folder, RECORD)))["options"]
    {'batch_size': 32}
    """
    from ..keras.saving import atomic_write
    text = json.dumps({"format": FORMAT, "version": 1, "command": command, "options": options}, indent=1)
    text += "\n"
    atomic_write(os.path.join(directory, RECORD), lambda f: f.write(text.encode("utf-8")))


def read_record(directory, options: dict):
    """The options recorded in `directory` (``record``), checked against the types of `options` (the
    same names); None if there is no record (a folder from before records).  A damaged record is a
    ValueError that names the file.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> record(folder, "quickstart", {"batch_size": 32, "data": "digits"})
    >>> read_record(folder, {"batch_size": 64, "data": "digits"})
    ('quickstart', {'batch_size': 32, 'data': 'digits'})
    >>> with open(os.path.join(folder, RECORD), "w") as f:
    ...     _ = f.write('{"format": "tapegrad.run", "options": {"batch_size": "32"}')
    >>> read_record(folder, {"batch_size": 64})
    Traceback (most recent call last):
    ...
    ValueError: The run record ... is damaged (not valid JSON: ...); delete it to resume without the check
    """
    path = os.path.join(directory, RECORD)
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None

    def damaged(why):
        return ValueError(f"The run record {path!r} is damaged ({why}); delete it to resume without the "
                          "check")
    if len(raw) > _MAX_RECORD_BYTES:
        raise damaged(f"larger than {_MAX_RECORD_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise damaged(f"not valid JSON: {e}") from None
    kept_options = data.get("options") if isinstance(data, dict) else None
    if not isinstance(kept_options, dict) or data.get("format") != FORMAT:
        raise damaged(f"not a {FORMAT!r} object with options")
    if not isinstance(data.get("command"), str):
        raise damaged("no command")
    recorded = {}
    for name, value in options.items():
        if name not in kept_options:
            continue  # an option newer than the record: nothing to compare
        kept = kept_options[name]
        expected = type(value)
        if kept is not None and value is not None and (type(kept) is not expected):
            raise damaged(f"{name} is {kept!r}, not of type {expected.__name__}")
        recorded[name] = kept
    return data["command"], recorded


def check_resume(directory, command: str, options: dict) -> None:
    """Refuse to resume the run recorded in `directory` with other `options` (or as another command):
    a ValueError naming the option and both values.  A folder without a record passes.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> record(folder, "quickstart", {"batch_size": 32, "seed": 0})
    >>> check_resume(folder, "quickstart", {"batch_size": 64, "seed": 0})
    Traceback (most recent call last):
    ...
    ValueError: --batch-size 64 differs from the run being resumed in ... (--batch-size 32): resume with ...
    """
    found = read_record(directory, options)
    if found is None:
        return
    recorded_command, recorded = found
    if recorded_command != command:
        raise ValueError(f"{os.fspath(directory)!r} holds the checkpoints of `tapegrad {recorded_command}`, "
                         f"not `tapegrad {command}`: choose another --checkpoint-dir")
    for name, value in options.items():
        if name in recorded and recorded[name] != value:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {_shown(value)} differs from the run being resumed in "
                             f"{os.fspath(directory)!r} ({flag} {_shown(recorded[name])}): resume with "
                             f"{flag} {_shown(recorded[name])}, or start a new run with --overwrite or "
                             "another --checkpoint-dir")


def _shown(value) -> str:
    return "(not given)" if value is None else str(value)
