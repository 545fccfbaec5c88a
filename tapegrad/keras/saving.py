"""Weights files (``model.save_weights`` / ``model.load_weights``).

Two formats hold the same tree of groups, laid out as Keras 3's ``saving_lib`` lays out a
``.weights.h5`` file, so the same architecture exchanges weights with Keras 3:

- the model's own variables in ``vars/0``, ``vars/1``, ...;
- each layer (or optimizer, metric) under the path Keras gives it: its attribute name in a
  subclassed model (``dense1/vars/0``), or, in a list such as ``model.layers``, its class
  name in snake case with a counter (``layers/dense/vars/0``, ``layers/dense_1/vars/0``);
  private attributes come after public ones, each object is written once, where it is
  first reached.

``.weights.h5`` needs h5py (the ``h5`` extra); ``.npz`` needs only NumPy: its keys are the
same paths (``layers/dense/vars/0``) plus a JSON header naming the format and each group.

Files are untrusted input: nothing is unpickled, links and external data in HDF5 files are
refused, every array's shape and dtype is checked against the model before anything is
assigned, and a failed load changes no weight.  A damaged file raises ``WeightsFileError``
naming it: a ``.weights.h5`` written here carries the SHA-256 of its HDF5 data in its user block
(which HDF5, and so Keras, skips), checked before h5py reads it; ``.npz`` members are read whole,
so zip checks their CRC-32.  Writes are atomic (``tapegrad._files``).
"""
from __future__ import annotations

import functools
import io
import json
import math
import os
import sys
import warnings
import zipfile

import numpy as np

from .._files import USER_BLOCK, NpzReader, atomic_write, check_seal, guard, seal
from ..errors import DataLossError
from .layers.base import Layer, to_snake_case

__all__ = ["save_weights", "load_weights", "read_weights", "write_npz_entries", "walk", "atomic_write",
           "WeightsFileError"]

H5_SUFFIX = ".weights.h5"
NPZ_SUFFIX = ".npz"
_HEADER_KEY = "__tapegrad_weights__"
_FORMAT = "tapegrad.weights"
_VERSION = 1
_KERAS_ARCHIVE_MEMBER = "model.weights.h5"
# What a user property named like one of Keras's own Layer attributes holds is not saved
# under that name by Keras, so it is skipped here too.
_KERAS_LAYER_NAMES = {"metrics", "metrics_variables", "losses", "input", "output", "layers",
                      "weights", "variables", "trainable_weights", "non_trainable_weights",
                      "trainable_variables", "non_trainable_variables"}


class WeightsFileError(DataLossError, ValueError):
    """A file that cannot be read as weights at all: truncated, corrupt, unsafe, or another format
    (``tf.errors.DataLossError``, and a ``ValueError`` as Keras raises for a bad file).  The message
    names the file."""


# -- public API ----------------------------------------------------------------------------

def save_weights(model, filepath, overwrite=True) -> None:
    """Write `model`'s weights to `filepath` (``.weights.h5`` or ``.npz``), atomically.

    >>> import os, tempfile, tapegrad as tf
    >>> class Net(tf.keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = tf.Variable([[1.0, 2.0]])
    ...     def call(self, x):
    ...         return tf.matmul(x, self.w)
    >>> net = Net(); _ = net(tf.ones([1, 1]))
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> save_weights(net, path)
    >>> sorted(read_weights(path))
    ['vars/0']
    """
    filepath = os.fspath(filepath)
    kind = _kind_for_writing(filepath)
    if os.path.exists(filepath) and not overwrite and not _confirm_overwrite(filepath):
        return
    if not model.built:
        raise ValueError("You are saving a model that has not yet been built. Try building the model "
                         "first by calling it on some data or by using `build()`.")
    entries = [(path, _name_of(obj), [np.asarray(v.numpy()) for v in variables])
               for path, obj, variables in walk(model)]
    if kind == "h5":
        h5py = _require_h5py()
        atomic_write(filepath, lambda f: _write_h5(h5py, f, entries))
    else:
        atomic_write(filepath, lambda f: _write_npz(f, entries))


def load_weights(model, filepath, skip_mismatch=False) -> None:
    """Load weights written by ``save_weights`` (or Keras 3) into the built `model`.

    Nothing is assigned unless every object's weights match; with ``skip_mismatch=True`` the
    objects that do not match are left as they are, with a warning, and the rest load.

    >>> import os, tempfile, tapegrad as tf
    >>> class Net(tf.keras.Model):
    ...     def __init__(self, n):
    ...         super().__init__()
    ...         self.w = tf.Variable(tf.zeros([n]))
    ...     def call(self, x):
    ...         return x * self.w
    >>> small, big = Net(2), Net(3)
    >>> _ = small(tf.ones([2])); _ = big(tf.ones([3]))
    >>> path = os.path.join(tempfile.mkdtemp(), "small.npz")
    >>> small.save_weights(path)
    >>> big.load_weights(path)
    Traceback (most recent call last):
    ...
    ValueError: A total of 1 objects could not be loaded. ...
    """
    filepath = os.fspath(filepath)
    kind = _kind_for_reading(filepath)
    if not model.built:
        raise ValueError("You are loading weights into a model that has not yet been built. Try building "
                         "the model first by calling it on some data or by using `build()`.")
    targets = walk(model)
    budget = sum(v.shape.num_elements() * np.dtype(v.dtype.as_numpy_dtype).itemsize
                 for _, _, variables in targets for v in variables)
    with _open_store(filepath, kind, budget, len(targets)) as store:
        plan, failures = [], []
        for path, obj, variables in targets:
            try:
                plan.append((variables, _read_group(store, path, obj, variables)))
            except WeightsFileError:
                raise
            except ValueError as e:  # this object does not match the file: the others may
                if _is_optimizer(obj):
                    # Keras 3 too: a freshly compiled optimizer (not built yet) keeps its own state
                    warnings.warn(f"Skipping variable loading for optimizer '{getattr(obj, 'name', obj)}': "
                                  f"{e}", stacklevel=3)
                    continue
                failures.append((obj, e))
    if failures:
        obj, error = failures[0]
        message = (f"A total of {len(failures)} objects could not be loaded. Example error message for "
                   f"object {obj!r}:\n\n{error}\n\nList of objects that could not be loaded:\n"
                   f"{[o for o, _ in failures]}")
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)
    for variables, arrays in plan:
        for v, array in zip(variables, arrays):
            v.assign(array)


def _is_optimizer(obj) -> bool:
    from .optimizers import Optimizer
    return isinstance(obj, Optimizer)


def read_weights(filepath) -> dict:
    """Every array in a weights file, by path (``{"layers/dense/vars/0": array, ...}``).

    For inspecting files; ``load_weights`` is what checks them against a model.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> write_npz_entries(path, [("", "m", [np.ones(2, np.float32)])])
    >>> read_weights(path)
    {'vars/0': array([1., 1.], dtype=float32)}
    """
    filepath = os.fspath(filepath)
    kind = _kind_for_reading(filepath)
    out = {}
    with _open_store(filepath, kind, budget=None, groups=0) as store:
        for path in store.paths():
            for key in store.keys(path):
                out[f"{path}/vars/{key}".lstrip("/")] = store.read(path, key, None, None)
    return out


def write_npz_entries(filepath, entries) -> None:
    """Write ``[(group path, name, [arrays])]`` as a weights ``.npz`` (what save_weights does).

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> write_npz_entries(path, [("", "m", []), ("layers/dense", "dense", [np.zeros((2, 1))])])
    >>> list(read_weights(path))
    ['layers/dense/vars/0']
    """
    atomic_write(os.fspath(filepath), lambda f: _write_npz(f, entries))


def walk(model) -> list:
    """``[(group path, object, its own variables)]`` for `model` and all it holds, in Keras's order.

    >>> import tapegrad as tf
    >>> class Block(tf.keras.layers.Layer):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.b = tf.Variable(0.0)
    >>> class Net(tf.keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.second, self.first = Block(), Block()
    ...         self.blocks = [Block(), Block()]
    >>> [path for path, _, _ in walk(Net())]  # as Keras: `second` is reached first in `layers`
    ['', 'blocks/block', 'blocks/block_1', 'first', 'layers/block']
    """
    out, visited = [], set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj, _own_variables(obj)))
        for attr, child in _children(obj):
            child_path = f"{path}/{attr}" if path else attr
            if _is_saveable(child):
                visit(child, child_path)
            elif isinstance(child, (list, tuple, dict)):
                visit_container(child, child_path, set())

    def visit_container(container, path, seen):
        if id(container) in seen:
            return
        seen.add(id(container))
        used: dict = {}
        for item in (container.values() if isinstance(container, dict) else container):
            if _is_saveable(item):
                visit(item, f"{path}/{_unique(to_snake_case(type(item).__name__), used)}")
            elif isinstance(item, (list, tuple, dict)):
                visit_container(item, f"{path}/{_unique('container', used)}", seen)

    visit(model, "")
    return out


# -- what is saved, and where ----------------------------------------------------------------

@functools.cache
def _saveable_bases() -> tuple:
    """Layer, plus the optimizer and metric base classes where those modules exist."""
    bases = [Layer]
    for module, name in (("optimizers", "Optimizer"), ("metrics", "Metric")):
        try:
            cls = getattr(__import__(f"tapegrad.keras.{module}", fromlist=[name]), name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type):
            bases.append(cls)
    return tuple(bases)


def _is_saveable(obj) -> bool:
    return isinstance(obj, _saveable_bases())


def _own_variables(obj) -> list:
    if isinstance(obj, Layer):
        own = obj._own_variables()
        return [v for v in own if v.trainable] + [v for v in own if not v.trainable]
    return list(getattr(obj, "variables", []))


def _name_of(obj):
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) else None


def _children(obj):
    """(attribute name, value) in Keras's visiting order."""
    from .models.model import Model
    if isinstance(obj, Model) and obj._graph_layers():
        yield "layers", obj.layers  # a Sequential or functional model's own layers come first
    names = {k for k in vars(obj) if not k.startswith("_keras_") and k != "_inbound_nodes"}
    for klass in type(obj).__mro__:
        if not klass.__module__.startswith("tapegrad."):
            names.update(k for k, v in vars(klass).items()
                         if isinstance(v, property) and k not in _KERAS_LAYER_NAMES)
    if isinstance(obj, Model):
        names.add("layers")
    for name in sorted(names, key=lambda n: "~" + n if n.startswith("_") else n):
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001, S112 - a property that fails is not state (Keras skips it too)
            continue
        yield name, value


def _unique(name: str, used: dict) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _describe(obj) -> str:
    kind = "Layer" if isinstance(obj, Layer) else type(obj).__name__
    return f"{kind} '{_name_of(obj) or type(obj).__name__}'"


def _read_group(store, path, obj, variables) -> list:
    """The arrays of one object, checked against its variables (ValueError when they differ)."""
    keys = store.keys(path)
    where = f"'{path}/vars'" if path else "'vars'"
    if len(keys) != len(variables):
        if not variables and isinstance(obj, Layer) and not obj.built:
            raise ValueError(f"Layer '{obj.name}' was never built and thus it doesn't have any variables. "
                             f"However the weights file lists {len(keys)} variables for this layer "
                             f"(in {where}).")
        raise ValueError(f"{_describe(obj)} expected {len(variables)} variables, but received "
                         f"{len(keys)} variables during loading (from {where}). Expected: "
                         f"{[v.name for v in variables]}")
    if sorted(keys, key=str) != [str(i) for i in range(len(keys))]:
        raise ValueError(f"{_describe(obj)}: the entries of {where} should be named 0..{len(keys) - 1}; "
                         f"found {sorted(keys)}.")
    return [store.read(path, str(i), tuple(v.shape), v) for i, v in enumerate(variables)]


def _check_array(shape, dtype, expected_shape, variable, where) -> None:
    if dtype.kind not in "biufc" or dtype.hasobject or dtype.fields is not None:
        raise WeightsFileError(f"{where} holds data of dtype {dtype}, not numbers.")
    if variable is not None and tuple(shape) != expected_shape:
        raise ValueError(f"Shape mismatch for variable {variable.path!r}: the model's weight has shape "
                         f"{expected_shape}, the file's {where} has shape {tuple(shape)}.")


# -- stores: one reader interface over .weights.h5, .keras and .npz ------------------------------

def _open_store(filepath, kind, budget, groups):
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No weights file at {filepath!r}.")
    try:
        if kind == "npz":
            return _NpzStore(filepath, budget, groups)
        return _H5Store(filepath, kind, budget, groups)
    except WeightsFileError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes h5py or zip raise
        raise WeightsFileError(f"Could not read weights file {filepath!r}: it is truncated or corrupt, or "
                               f"not a {_KIND_NAMES[kind]} file ({type(e).__name__}: {e}).") from e


_KIND_NAMES = {"h5": "`.weights.h5`", "keras": "`.keras`", "npz": "weights `.npz`"}


class _Store:
    def __init__(self, filepath):
        self.filepath = filepath

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _corrupt_because(self, why):
        return WeightsFileError(f"Could not read weights file {self.filepath!r}: it is truncated or corrupt "
                                f"({why}).")


class _NpzStore(_Store):
    def __init__(self, filepath, budget, groups):
        super().__init__(filepath)
        with open(filepath, "rb") as f:
            if f.read(6) == b"\x93NUMPY":  # a lone .npy array under an .npz name
                raise WeightsFileError(f"Not a tapegrad weights file: {filepath!r} holds one NumPy array "
                                       f"(.npy), not an .npz archive (was it written by `save_weights`?).")
        self.npz = NpzReader(filepath, self._corrupt_because)
        try:
            self.groups = self._header()
        except Exception:
            self.npz.close()
            raise

    def _header(self) -> dict:
        if _HEADER_KEY not in self.npz.names:
            raise WeightsFileError(f"Not a tapegrad weights file: {self.filepath!r} has no "
                             f"{_HEADER_KEY!r} header (was it written by `save_weights`?).")
        raw = self.npz.read(_HEADER_KEY, limit=64 << 20)
        if raw.dtype.kind != "U" or raw.shape != ():
            raise WeightsFileError(f"Not a tapegrad weights file: bad header in {self.filepath!r}.")
        with self.npz.guard():
            header = json.loads(str(raw[()]))
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise WeightsFileError(f"Not a tapegrad weights file: {self.filepath!r} has format "
                             f"{header.get('format') if isinstance(header, dict) else header!r}.")
        if not isinstance(header.get("version"), int) or header["version"] > _VERSION:
            raise WeightsFileError(f"Not a tapegrad weights file this version reads: {self.filepath!r} has "
                             f"version {header.get('version')!r}; this tapegrad reads up to {_VERSION}.")
        groups = header.get("groups")
        if not isinstance(groups, dict) or not all(
                isinstance(g, dict) and isinstance(g.get("count"), int) and g["count"] >= 0
                for g in groups.values()):
            raise WeightsFileError(f"Not a tapegrad weights file: the header of {self.filepath!r} is malformed.")
        expected = {f"{p}/vars/{i}".lstrip("/") for p, g in groups.items() for i in range(g["count"])}
        present = set(self.npz.names) - {_HEADER_KEY}
        if expected != present:
            missing, extra = sorted(expected - present), sorted(present - expected)
            raise WeightsFileError(f"Could not read weights file {self.filepath!r}: it is truncated or corrupt "
                             f"(missing arrays {missing[:5]}, unexpected arrays {extra[:5]}).")
        return groups

    def paths(self):
        return list(self.groups)

    def keys(self, path):
        group = self.groups.get(path)
        return [str(i) for i in range(group["count"])] if group else []

    def read(self, path, key, expected_shape, variable):
        name = f"{path}/vars/{key}".lstrip("/")
        where = f"'{name}'"
        size = self.npz.size(name)
        if variable is not None:
            # A file cannot make us inflate more than the weight needs (plus the .npy header)
            limit = math.prod(expected_shape) * np.dtype(variable.dtype.as_numpy_dtype).itemsize + 4096
            if size > limit:
                raise ValueError(f"Shape mismatch for variable {variable.path!r}: the file's {where} "
                                 f"holds {size} bytes, more than the model's weight of "
                                 f"shape {expected_shape} needs.")
        array = self.npz.read(name)
        _check_array(array.shape, array.dtype, expected_shape, variable, where)
        return array

    def close(self):
        self.npz.close()


class _H5Store(_Store):
    def __init__(self, filepath, kind, budget, groups):
        super().__init__(filepath)
        h5py = self.h5py = _require_h5py()
        self.archive = None
        if kind == "keras":
            self.archive = zipfile.ZipFile(filepath)
            info = self.archive.getinfo(_KERAS_ARCHIVE_MEMBER)
            # the model's weights and an optimizer's state (up to four slots per weight, as AMSGrad)
            if budget is not None and info.file_size > 5 * budget + (1 << 20) + 8192 * groups:
                raise WeightsFileError(f"Refusing to read {filepath!r}: the archive's {_KERAS_ARCHIVE_MEMBER} ({info.file_size} bytes) is far "
                                 "larger than this model's weights")
            source = io.BytesIO(self.archive.read(_KERAS_ARCHIVE_MEMBER))
        else:
            try:
                check_seal(filepath)  # before the HDF5 library parses anything of a damaged file
            except ValueError as e:
                raise self._corrupt_because(e) from None
            source = filepath
        with guard(self._corrupt_because):
            self.file = h5py.File(source, "r")

    def _group(self, path):
        """The group at path, following hard links only (no soft or external links)."""
        h5py = self.h5py
        current = self.file
        for part in [p for p in path.split("/") if p]:
            if not isinstance(current, h5py.Group) or part not in current:
                return None
            link = current.get(part, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                raise WeightsFileError(f"Refusing to read {self.filepath!r}: it holds a {type(link).__name__} "
                                 f"at '{path}'.")
            current = current[part]
        return current if isinstance(current, h5py.Group) else None

    def _vars(self, path):
        group = self._group(f"{path}/vars" if path else "vars")
        if group is None and path and "_layer_checkpoint_dependencies" in self.file:
            # Files from Keras 2.13-era writers name the layer list differently
            legacy = path.replace("layers", "_layer_checkpoint_dependencies")
            group = self._group(f"{legacy}/vars")
        return group

    def paths(self):
        found = []
        with guard(self._corrupt_because):
            self.file.visit(lambda name: found.append(name[:-len("vars")].rstrip("/"))
                            if name == "vars" or name.endswith("/vars") else None)
        return found

    def keys(self, path):
        with guard(self._corrupt_because):
            group = self._vars(path)
            return list(group.keys()) if group is not None else []

    def read(self, path, key, expected_shape, variable):
        h5py = self.h5py
        where = f"'{path}/vars/{key}'" if path else f"'vars/{key}'"
        with guard(self._corrupt_because):
            group = self._vars(path)
            link = group.get(key, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                raise WeightsFileError(f"Refusing to read {self.filepath!r}: it holds a "
                                       f"{type(link).__name__} at {where}.")
            dataset = group[key]
            if not isinstance(dataset, h5py.Dataset):
                raise WeightsFileError(f"{where} in {self.filepath!r} is not a dataset.")
            if dataset.external or dataset.is_virtual:
                raise WeightsFileError(f"Refusing to read {self.filepath!r}: {where} keeps its data "
                                       f"outside the file.")
            shape, dtype = dataset.shape, dataset.dtype
        _check_array(shape, dtype, expected_shape, variable, where)  # a mismatch, not damage
        with guard(self._corrupt_because):
            return dataset[()]

    def close(self):
        self.file.close()
        if self.archive is not None:
            self.archive.close()


# -- writing ------------------------------------------------------------------------------------

def _write_h5(h5py, fileobj, entries) -> None:
    # HDF5 1.10's format: a third of the size of the earliest one, with checksummed metadata
    with h5py.File(fileobj, "w", userblock_size=USER_BLOCK, libver="v110") as f:
        for path, name, arrays in entries:
            group = f.create_group(f"{path}/vars" if path else "vars")
            if name is not None:
                group.attrs["name"] = name
            for i, array in enumerate(arrays):
                group[str(i)] = array
    seal(fileobj)


def _write_npz(fileobj, entries) -> None:
    arrays = {}
    groups = {}
    for path, name, values in entries:
        groups[path] = {"name": name, "count": len(values)}
        for i, array in enumerate(values):
            arrays[f"{path}/vars/{i}".lstrip("/")] = np.asarray(array)
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "groups": groups})
    np.savez(fileobj, **{_HEADER_KEY: np.array(header)}, **arrays)


# -- file names and dependencies ------------------------------------------------------------------

def _kind_for_writing(filepath: str) -> str:
    if filepath.endswith(H5_SUFFIX):
        return "h5"
    if filepath.endswith(NPZ_SUFFIX):
        return "npz"
    raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath} "
                     "(tapegrad also writes `.npz`, which needs no h5py.)")


def _kind_for_reading(filepath: str) -> str:
    if filepath.endswith(H5_SUFFIX):
        return "h5"
    if filepath.endswith(".keras"):
        return "keras"
    if filepath.endswith(NPZ_SUFFIX):
        return "npz"
    raise ValueError(f"File format not supported: filepath={filepath}. tapegrad reads Keras 3 "
                     "`.weights.h5` files and `.keras` archives, and `.npz` files from `save_weights`.")


def _require_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("`.weights.h5` files need the h5py package: `pip install tapegrad[h5]` (or "
                          "`pip install h5py`). Without it, use a `.npz` path, which needs only NumPy.") from None
    return h5py


def _confirm_overwrite(filepath) -> bool:
    """Keras asks before overwriting when overwrite=False; without a terminal, refuse instead."""
    if sys.stdin is not None and sys.stdin.isatty():
        answer = ""
        while answer not in ("y", "n"):
            answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n] ").strip().lower()
        return answer == "y"
    raise FileExistsError(f"{filepath} already exists and overwrite=False.")


# `tf.keras.saving` also holds whole-model files and serialization, kept in their own modules
_NAMESPACE = {"save_model": "saving_lib", "load_model": "saving_lib", "ModelFileError": "saving_lib",
              **{name: "serialization" for name in (
                  "register_keras_serializable", "get_registered_object", "get_registered_name",
                  "serialize_keras_object", "deserialize_keras_object", "custom_object_scope",
                  "CustomObjectScope", "get_custom_objects")}}


def __getattr__(name):
    if name in _NAMESPACE:
        import importlib
        return getattr(importlib.import_module(f"tapegrad.keras.{_NAMESPACE[name]}"), name)
    raise AttributeError(f"module 'tapegrad.keras.saving' has no attribute {name!r}")
