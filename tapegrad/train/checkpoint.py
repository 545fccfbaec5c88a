"""``tf.train.Checkpoint``: save and restore the state of a training run.

A checkpoint holds every variable of the objects it was given, each under its path in the object
graph: ``model/d1/vars/0`` is the first variable of the layer the model holds as ``d1`` (the paths
of Keras 3's weights files, see ``keras.saving.walk``), ``optimizer/vars/3`` an optimizer slot,
``step`` a Variable given as ``step=``.  Objects with TensorFlow's ``_serialize_to_tensors`` /
``_restore_from_tensors`` methods (a ``tf.data.Dataset``'s shuffle epochs, say) keep their
entries under their name.  It holds the random state too (tapegrad's, NumPy's and Python's), so
that a resumed run draws, shuffles and trains exactly as the uninterrupted run would have.

See ``_format`` for the file, which is written atomically and verified (checksum) before use.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ..core import dtypes
from ..core.tensor import Variable
from . import _format, _rng

_RESERVED = "save_counter"
_GROUP_VARIABLE = re.compile(r"^(.*)/vars/(\d+)$")


class Checkpoint:
    """The state of `objects` (models and layers, optimizers, metrics, Variables, datasets),
    saved to and restored from one file per checkpoint.

    ``save(prefix)`` writes ``prefix-N`` (N counting saves, kept in ``save_counter``) and records
    it as the folder's latest (``tf.train.latest_checkpoint``); ``write(path)`` writes just the
    file; ``restore(path)`` / ``read(path)`` load one back.  Objects must have their variables
    when restored: call a model on a batch (or ``build`` it), and ``optimizer.build(
    model.trainable_variables)``, first.

    >>> import os, tempfile, tapegrad as tf
    >>> step = tf.Variable(0, dtype=tf.int64)
    >>> ckpt = tf.train.Checkpoint(step=step)
    >>> _ = step.assign(42)
    >>> path = ckpt.save(os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> os.path.basename(path), path == tf.train.latest_checkpoint(os.path.dirname(path))
    ('ckpt-1', True)
    >>> _ = step.assign(0)
    >>> ckpt.restore(path).assert_consumed() and int(step)
    42
    """

    def __init__(self, root=None, **objects):
        if root is not None:
            objects = {"root": root, **objects}
        for name, obj in objects.items():
            if name == _RESERVED or name.startswith("_") or hasattr(type(self), name):
                raise ValueError(f"Checkpoint(): {name!r} is reserved; give the object another name.")
            _check_trackable(name, obj)
            setattr(self, name, obj)
        self._objects = objects
        self.save_counter = Variable(0, trainable=False, dtype=dtypes.int64, name="save_counter")

    # -- writing --------------------------------------------------------------------------------
    def save(self, file_prefix) -> str:
        """Write checkpoint ``{file_prefix}-{N}`` (N: this save's number) and record it as the latest
        in its folder's ``checkpoint`` file; returns its path.

        >>> import os, tempfile, tapegrad as tf
        >>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
        >>> prefix = os.path.join(tempfile.mkdtemp(), "run")
        >>> [os.path.basename(ckpt.save(prefix)) for _ in range(2)]
        ['run-1', 'run-2']
        """
        from .manager import write_index
        self.save_counter.assign_add(1)
        try:
            path = self.write(f"{os.fspath(file_prefix)}-{int(self.save_counter.numpy())}")
        except BaseException:
            self.save_counter.assign_sub(1)
            raise
        write_index(os.path.dirname(os.path.abspath(path)), [path])  # after the data file is durable
        return path

    def write(self, file_prefix) -> str:
        """Write the checkpoint to `file_prefix` (the file is ``file_prefix.npz``), atomically and
        durably; ``save_counter`` and the folder's ``checkpoint`` file are left alone.

        >>> import os, tempfile, tapegrad as tf
        >>> path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(os.path.join(tempfile.mkdtemp(), "w"))
        >>> sorted(os.listdir(os.path.dirname(path)))
        ['w.npz']
        """
        arrays = {key: np.asarray(variable.numpy()) for key, variable in self._variables()}
        for name, obj in self._stateful():
            for key, value in obj._serialize_to_tensors().items():
                arrays[f"{name}/{key}"] = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        meta = {"objects": {name: type(obj).__name__ for name, obj in self._objects.items()},
                "random_state": _rng.capture(), "paths": self._paths()}
        _format.write(file_prefix, arrays, meta)
        return os.fspath(file_prefix)

    # -- reading --------------------------------------------------------------------------------
    def restore(self, save_path) -> CheckpointLoadStatus:
        """Load the checkpoint at `save_path` (a path ``save`` or ``write`` returned) into the objects,
        with ``save_counter`` and the random state.  ``None`` restores nothing (a fresh start).

        The file is verified first: a missing one raises ``tapegrad.errors.NotFoundError``, a
        corrupt or incomplete one ``CheckpointCorruptError``, a variable whose shape or dtype
        differs (another architecture) ``ValueError``, each before anything is assigned.  The
        status says what was not matched (``assert_consumed``).

        >>> import os, tempfile, tapegrad as tf
        >>> path = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write(os.path.join(tempfile.mkdtemp(), "c"))
        >>> tf.train.Checkpoint(w=tf.Variable([1.0, 2.0, 3.0])).restore(path)
        Traceback (most recent call last):
        ...
        ValueError: Cannot restore 'w' from checkpoint '...c.npz': the checkpoint holds shape (2,), the object has shape (3,) (a different architecture?).
        """
        return self._load(save_path, counter=True)

    def read(self, save_path) -> CheckpointLoadStatus:
        """``restore`` for a path ``write`` returned: everything but ``save_counter``.

        >>> import os, tempfile, tapegrad as tf
        >>> v = tf.Variable(3.0)
        >>> path = tf.train.Checkpoint(v=v).write(os.path.join(tempfile.mkdtemp(), "c"))
        >>> _ = v.assign(0.0)
        >>> float(tf.train.Checkpoint(v=v).read(path).assert_consumed() and v)
        3.0
        """
        return self._load(save_path, counter=False)

    def _load(self, save_path, counter: bool) -> CheckpointLoadStatus:
        if save_path is None:
            return CheckpointLoadStatus(None, [], [])
        arrays, header = _format.read(save_path)
        where = _format.file_of(save_path)
        try:
            restore_random_state = _rng.restorer(header.get("random_state"))
        except ValueError as e:
            raise _format.CheckpointCorruptError(f"Checkpoint {where!r}: {e}.") from None
        # Everything is checked before anything is assigned: a failed restore changes nothing
        deferred = _deferrable(self._groups(), arrays, header.get("paths"))
        _check_groups([g for g in self._groups() if g[0] not in deferred], arrays, where)
        used = set() if counter else {_RESERVED}
        assignments, unmatched = [], []
        for key, variable in self._variables():
            if variable is self.save_counter and not counter:
                continue
            if key in arrays:
                assignments.append((variable, _checked(key, arrays[key], variable, where)))
                used.add(key)
            else:
                unmatched.append(key)
        restorations = []
        for name, obj in self._stateful():
            mine = {key[len(name) + 1:]: a for key, a in arrays.items() if key.startswith(name + "/")}
            used.update(f"{name}/{key}" for key in mine)
            unmatched += [f"{name}/{key}" for key in obj._serialize_to_tensors() if key not in mine]
            restorations.append((obj, mine))
        for variable, value in assignments:
            variable.assign(value)
        for obj, mine in restorations:
            if mine:
                obj._restore_from_tensors(mine)
        for prefix, (obj, pending) in deferred.items():
            _defer(obj, {path: arrays[f"{prefix}/vars/{i}"] for path, i in pending.items()}, where)
            used.update(f"{prefix}/vars/{i}" for i in pending.values())
        restore_random_state()
        return CheckpointLoadStatus(where, sorted(set(arrays) - used), unmatched)

    # -- the object graph -------------------------------------------------------------------------
    def _groups(self) -> list:
        """``[(key prefix, object, its own variables)]`` for the models, layers, optimizers and metrics."""
        from ..keras.saving import walk
        return [(f"{name}/{path}" if path else name, owner, variables)
                for name, obj in self._objects.items() if not isinstance(obj, Variable) and not _is_stateful(obj)
                for path, owner, variables in walk(obj)]

    def _variables(self) -> list:
        """``[(key, Variable)]``: every variable this checkpoint saves, then ``save_counter``."""
        out = [(name, obj) for name, obj in self._objects.items() if isinstance(obj, Variable)]
        out += [(f"{prefix}/vars/{i}", v) for prefix, _, variables in self._groups() for i, v in enumerate(variables)]
        return out + [(_RESERVED, self.save_counter)]

    def _paths(self) -> dict:
        """``{key: attribute path}`` of the variables of plain tf.Modules (``model/vars/2``:
        ``dense_2/b``), which a restore into a module without its variables yet is matched by."""
        out = {}
        for prefix, obj, variables in self._groups():
            if variables and not hasattr(obj, "built"):
                where = {id(v): path for path, v in _variable_paths(obj)}
                out.update((f"{prefix}/vars/{i}", where[id(v)])
                           for i, v in enumerate(variables) if id(v) in where)
        return out

    def _stateful(self) -> list:
        return [(name, obj) for name, obj in self._objects.items() if _is_stateful(obj)]


class CheckpointLoadStatus:
    """What ``Checkpoint.restore`` matched: its ``assert_*`` methods raise AssertionError when
    something was left unmatched, and return the status otherwise.

    >>> import os, tempfile, tapegrad as tf
    >>> path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).write(
    ...     os.path.join(tempfile.mkdtemp(), "c"))
    >>> status = tf.train.Checkpoint(a=tf.Variable(0.0)).restore(path)
    >>> status.assert_existing_objects_matched() is status
    True
    >>> status.assert_consumed()
    Traceback (most recent call last):
    ...
    AssertionError: Unresolved checkpoint entries in '...c.npz' (no object to restore them into): ['b']
    """

    def __init__(self, path, unused, unmatched):
        self.path = path            # the file read, None for restore(None)
        self.unused = unused        # checkpoint entries no object took
        self.unmatched = unmatched  # object variables the checkpoint did not hold

    def assert_consumed(self) -> CheckpointLoadStatus:
        """Every checkpoint entry was restored into an object, and every object variable restored."""
        self.assert_existing_objects_matched()
        if self.unused:
            raise AssertionError(f"Unresolved checkpoint entries in {self.path!r} (no object to restore "
                                 f"them into): {self.unused}")
        return self

    def assert_existing_objects_matched(self) -> CheckpointLoadStatus:
        """Every variable of the objects was in the checkpoint (extra checkpoint entries are fine)."""
        if self.path is None:
            raise AssertionError("No checkpoint specified (save_path=None); nothing is being restored.")
        if self.unmatched:
            raise AssertionError(f"Checkpoint {self.path!r} holds no values for {self.unmatched}; they "
                                 "keep their current values.")
        return self

    def expect_partial(self) -> CheckpointLoadStatus:
        """Say that a partial match is intended (tapegrad never warns about it; kept for TF code)."""
        return self


# -- checks ---------------------------------------------------------------------------------------

def _is_stateful(obj) -> bool:
    return callable(getattr(obj, "_serialize_to_tensors", None)) and callable(
        getattr(obj, "_restore_from_tensors", None))


def _check_trackable(name: str, obj) -> None:
    from ..keras.layers.base import Layer
    from ..keras.metrics import Metric
    from ..keras.optimizers import Optimizer
    from ..module import Module
    if isinstance(obj, (Variable, Module, Layer, Optimizer, Metric)) or _is_stateful(obj):
        return
    hint = " (wrap a number in tf.Variable to keep it)" if isinstance(obj, (int, float, np.number)) else ""
    raise TypeError(f"Checkpoint(): {name}={obj!r} cannot be checkpointed{hint}. Give models, layers, "
                    "optimizers, metrics, Variables and datasets.")


# -- deferred restoration -------------------------------------------------------------------------
# A tf.Module that makes its variables on its first call has none when restored: as TF, each of them
# is restored when it is made (assigned to an attribute), before the call goes on to use it.

def _variable_paths(root) -> list:
    """``[(attribute path, Variable)]`` of `root` and its submodules (``dense_1/w``)."""
    from ..module import Module
    out, seen, stack = [], {id(root)}, [("", root)]
    while stack:
        path, module = stack.pop()
        for key in sorted(vars(module)):
            value = vars(module)[key]
            if isinstance(value, Variable):
                out.append((f"{path}{key}", value))
            elif isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                stack.append((f"{path}{key}/", value))
    return out


def _module_paths(root) -> list:
    """``[(path prefix, module)]`` of `root` and the submodules it holds as attributes."""
    from ..module import Module
    out, seen, stack = [], {id(root)}, [("", root)]
    while stack:
        path, module = stack.pop()
        out.append((path, module))
        for key in sorted(vars(module)):
            value = vars(module)[key]
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                stack.append((f"{path}{key}/", value))
    return out


def _deferrable(groups, arrays, paths) -> dict:
    """``{prefix: (object, {attribute path: index})}`` for the plain tf.Modules that have no variables
    yet while the checkpoint holds theirs (with their paths)."""
    out = {}
    for prefix, obj, variables in groups:
        if variables or hasattr(obj, "built") or not isinstance(paths, dict):
            continue
        pending = {}
        for key, path in paths.items():
            match = _GROUP_VARIABLE.match(key)
            if match and match.group(1) == prefix and key in arrays and isinstance(path, str):
                pending[path] = int(match.group(2))
        if pending:
            out[prefix] = (obj, pending)
    return out


_DEFERRING: dict = {}  # class -> its subclass that restores variables as they are assigned
# id(module) -> (its path, the restoration's state, its class): kept out of the module's attributes,
# which its `variables` walk reads
_DEFERRED: dict = {}


def _defer(root, pending: dict, where) -> None:
    """Restore `root`'s variables from `pending` (attribute path -> array) as they are assigned."""
    state = {"left": dict(pending), "modules": _module_paths(root), "where": where}
    for path, module in state["modules"]:
        cls = type(module)
        if cls not in _DEFERRING:
            _DEFERRING[cls] = type(cls.__name__, (cls,), {"__setattr__": _restoring_setattr,
                                                          "__module__": cls.__module__,
                                                          "__qualname__": cls.__qualname__})
        _DEFERRED[id(module)] = (path, state, cls)
        object.__setattr__(module, "__class__", _DEFERRING[cls])


def _restoring_setattr(self, name, value) -> None:
    path, state, cls = _DEFERRED[id(self)]
    cls.__setattr__(self, name, value)
    if not isinstance(value, Variable):
        return
    array = state["left"].pop(f"{path}{name}", None)
    if array is not None:
        value.assign(_checked(f"{path}{name}", array, value, state["where"]))
    if not state["left"]:  # all restored: the modules are themselves again
        for _, module in state["modules"]:
            original = _DEFERRED.pop(id(module), (None, None, None))[2]
            if original is not None:
                object.__setattr__(module, "__class__", original)


def _check_groups(groups, arrays, where) -> None:
    """The number of variables of each object matches the checkpoint's (when it holds the object)."""
    counts: dict = {}
    for key in arrays:
        match = _GROUP_VARIABLE.match(key)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    for prefix, obj, variables in groups:
        held = counts.get(prefix, 0)
        if not held or held == len(variables):
            continue
        if not getattr(obj, "built", True):
            fix = ("call optimizer.build(model.trainable_variables)" if hasattr(obj, "apply_gradients")
                   else "call the model on a batch (or build it)")
            raise ValueError(f"Cannot restore {prefix!r} from checkpoint {where!r}: it is not built yet, so it "
                             f"has {len(variables)} of the {held} variables the checkpoint holds; {fix} "
                             "before restoring.")
        raise ValueError(f"Cannot restore {prefix!r} from checkpoint {where!r}: the checkpoint holds {held} "
                         f"variables for it, the object has {len(variables)} (a different architecture?).")


def _checked(key, array, variable, where) -> np.ndarray:
    shape = tuple(variable.shape)
    if array.shape != shape:
        raise ValueError(f"Cannot restore {key!r} from checkpoint {where!r}: the checkpoint holds shape "
                         f"{array.shape}, the object has shape {shape} (a different architecture?).")
    expected = np.dtype(variable.dtype.as_numpy_dtype)
    if array.dtype != expected:
        raise ValueError(f"Cannot restore {key!r} from checkpoint {where!r}: the checkpoint holds dtype "
                         f"{array.dtype}, the object has dtype {expected}.")
    return array


def list_variables(ckpt_dir_or_file) -> list:
    """``[(name, shape)]`` of every entry of a checkpoint (a path, or a folder: its latest).

    >>> import os, tempfile, tapegrad as tf
    >>> path = tf.train.Checkpoint(w=tf.Variable([[1.0, 2.0]])).write(os.path.join(tempfile.mkdtemp(), "c"))
    >>> tf.train.list_variables(path)
    [('save_counter', []), ('w', [1, 2])]
    """
    arrays, _ = _format.read(_resolve(ckpt_dir_or_file))
    return [(name, list(array.shape)) for name, array in sorted(arrays.items())]


def load_variable(ckpt_dir_or_file, name: str) -> np.ndarray:
    """The value of entry `name` of a checkpoint (a path, or a folder: its latest), as NumPy.

    >>> import os, tempfile, tapegrad as tf
    >>> path = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])).write(os.path.join(tempfile.mkdtemp(), "c"))
    >>> tf.train.load_variable(path, "w")
    array([1., 2.], dtype=float32)
    """
    arrays, _ = _format.read(_resolve(ckpt_dir_or_file))
    if name not in arrays:
        raise KeyError(f"Checkpoint {_resolve(ckpt_dir_or_file)!r} has no entry {name!r}; it has "
                       f"{sorted(arrays)}.")
    return arrays[name]


def _resolve(ckpt_dir_or_file) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        from ..errors import NotFoundError
        from .manager import latest_checkpoint
        latest = latest_checkpoint(path)
        if latest is None:
            raise NotFoundError(f"No checkpoint in folder {path!r} (it has no valid 'checkpoint' index).")
        return latest
    return path
