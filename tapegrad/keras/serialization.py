"""Keras 3's object serialization (``tf.keras.saving.serialize_keras_object`` and friends).

An object becomes ``{"module", "class_name", "config", "registered_name"}`` (plus
``build_config``/``compile_config`` for layers and models); plain values stay as they are,
NumPy arrays become ``__numpy__`` dicts and functions ``"function"`` dicts, as Keras 3 writes
them.  Deserializing looks a class up in the ``custom_objects`` given, the active
``custom_object_scope``s, the ``register_keras_serializable`` registry and tapegrad's own
``tf.keras`` namespaces - never by importing a module a file names - and a lambda that Keras
stored as marshalled bytecode is refused: tapegrad never loads Python code from a file.
"""
from __future__ import annotations

import inspect
import threading
import types

import numpy as np

__all__ = [
    "CustomObjectScope",
    "SafeModeScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "serialize_keras_object",
]

_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}
_registry_lock = threading.Lock()
_local = threading.local()  # per thread: the custom_object_scope stack and the safe_mode scope

_PLAIN = (str, int, float, bool)


# -- registration ------------------------------------------------------------------------------

def register_keras_serializable(package="Custom", name=None):
    """Register a class or function under ``"package>name"`` so saved files can name it.

    >>> import tapegrad as tf
    >>> @tf.keras.saving.register_keras_serializable(package="Doc")
    ... def halve(x):
    ...     return x / 2
    >>> tf.keras.saving.get_registered_name(halve)
    'Doc>halve'
    >>> tf.keras.saving.get_registered_object("Doc>halve") is halve
    True
    """
    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        with _registry_lock:
            _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
            _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg
    return decorator


def get_registered_name(obj) -> str:
    """The name `obj` was registered under, else its ``__name__``.

    >>> import tapegrad as tf
    >>> tf.keras.saving.get_registered_name(tf.keras.layers.Dense)
    'Dense'
    """
    with _registry_lock:
        if obj in _GLOBAL_CUSTOM_NAMES:
            return _GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def get_custom_objects() -> dict:
    """The global registry: ``{"package>name": object}`` (a live dict, as Keras's).

    >>> import tapegrad as tf
    >>> isinstance(tf.keras.saving.get_custom_objects(), dict)
    True
    """
    return _GLOBAL_CUSTOM_OBJECTS


def _scoped_objects() -> dict:
    merged: dict = {}
    for objects in getattr(_local, "scopes", ()):
        merged.update(objects)
    return merged


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or passed in `custom_objects`, or in a scope) under `name`, else None.

    >>> import tapegrad as tf
    >>> tf.keras.saving.get_registered_object("Nope>nothing") is None
    True
    """
    if name is None:
        return None
    scoped = _scoped_objects()
    if name in scoped:
        return scoped[name]
    with _registry_lock:
        if name in _GLOBAL_CUSTOM_OBJECTS:
            return _GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


class CustomObjectScope:
    """Within ``with custom_object_scope({...}):``, deserialization also finds these objects.

    Scopes are per thread and nest.

    >>> import tapegrad as tf
    >>> def twice(x):
    ...     return 2 * x
    >>> with tf.keras.saving.custom_object_scope({"twice": twice}):
    ...     tf.keras.saving.get_registered_object("twice") is twice
    True
    """

    def __init__(self, custom_objects=None, *more):
        self.custom_objects = {}
        for objects in (custom_objects, *more):
            self.custom_objects.update(objects or {})

    def __enter__(self):
        _local.scopes = (*getattr(_local, "scopes", ()), self.custom_objects)
        return self

    def __exit__(self, *exc):
        _local.scopes = getattr(_local, "scopes", ())[:-1]


custom_object_scope = CustomObjectScope


class SafeModeScope:
    """Within it, ``deserialize_keras_object`` uses this `safe_mode` (None: each call's own).

    >>> with SafeModeScope(False):
    ...     _safe_mode(True)
    False
    """

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self.previous = getattr(_local, "safe_mode", None)
        _local.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _local.safe_mode = self.previous


def _safe_mode(default) -> bool:
    scoped = getattr(_local, "safe_mode", None)
    return default if scoped is None else scoped


# -- where tapegrad's built-in classes live, by Keras module -------------------------------------

def _namespaces() -> dict:
    """Keras public module -> tapegrad module (loaded on use)."""
    import importlib
    names = {"keras.layers": "layers", "keras.initializers": "initializers", "keras.losses": "losses",
             "keras.metrics": "metrics", "keras.optimizers": "optimizers",
             "keras.regularizers": "regularizers",
             "keras.constraints": "constraints", "keras.activations": "activations",
             "keras.optimizers.schedules": "optimizers.schedules", "keras.dtype_policies": "mixed_precision",
             "keras.mixed_precision": "mixed_precision", "keras.models": "models"}
    return {k: importlib.import_module(f"tapegrad.keras.{v}") for k, v in names.items()}


def _saveable_bases() -> tuple:
    from . import constraints, initializers, losses, metrics, regularizers
    from .layers.base import Layer
    from .mixed_precision.policy import DTypePolicy
    from .optimizers import Optimizer
    from .optimizers.schedules import LearningRateSchedule
    return (Layer, losses.Loss, metrics.Metric, Optimizer, LearningRateSchedule, initializers.Initializer,
            regularizers.Regularizer, constraints.Constraint, DTypePolicy)


def _public_module(obj_or_cls) -> str | None:
    """The Keras module a tapegrad built-in is public in (``keras.layers``), else None."""
    module = getattr(obj_or_cls, "__module__", "") or ""
    if not module.startswith("tapegrad.keras."):
        return None
    part = module.split(".")[2]
    if part == "optimizers" and module.endswith("schedules"):
        return "keras.optimizers.schedules"
    if part == "mixed_precision" and getattr(obj_or_cls, "__name__", "") != "LossScaleOptimizer":
        return "keras"
    if part == "mixed_precision":
        return "keras.optimizers"
    if part in ("models", "trainers"):
        from .models import Model
        is_layer = isinstance(obj_or_cls, type) and not issubclass(obj_or_cls, Model)
        return "keras.layers" if is_layer else "keras"
    return {"layers": "keras.layers"}.get(part, f"keras.{part}")


def _builtin(module, name):
    """tapegrad's built-in class or function for Keras's (module, name), else None."""
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    if module == "keras" or module.startswith("keras.src.models") or module == "keras.models":
        from . import models
        from .mixed_precision.policy import DTypePolicy
        known = {"Sequential": models.Sequential, "Functional": models.Functional, "Model": models.Model,
                 "DTypePolicy": DTypePolicy, "FloatDTypePolicy": DTypePolicy, "InputLayer": models.InputLayer}
        if name in known:
            return known[name]
    if module.startswith("keras.src."):
        # keras.src.layers.core.dense -> keras.layers; only Keras's public names are looked up
        package = module.split(".")[2]
        module = "keras.optimizers.schedules" if "schedules" in module else f"keras.{package}"
    namespace = _namespaces().get(module)
    if namespace is None:
        return None
    if name in ("Input", "InputLayer") and module == "keras.layers":
        from .models import InputLayer
        return InputLayer
    obj = getattr(namespace, name, None)
    if inspect.isclass(obj) and issubclass(obj, _saveable_bases()):
        return obj
    if isinstance(obj, types.FunctionType) and module in ("keras.activations", "keras.losses",
                                                           "keras.metrics"):
        return obj
    return None


# -- serializing -------------------------------------------------------------------------------

def serialize_keras_object(obj):
    """Keras 3's config of `obj`: plain values as they are, objects as class/config dicts.

    >>> import tapegrad as tf
    >>> config = tf.keras.saving.serialize_keras_object(tf.keras.regularizers.L2(0.5))
    >>> config["module"], config["class_name"], config["config"]
    ('keras.regularizers', 'L2', {'l2': 0.5})
    """
    if obj is None or isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    from ..core.dtypes import DType
    from ..core.shape import TensorShape
    from ..core.tensor import Tensor
    if isinstance(obj, TensorShape):
        return obj.as_list() if obj.rank is not None else None
    if isinstance(obj, DType):
        return obj.name
    if isinstance(obj, Tensor):
        value = np.asarray(obj.numpy())
        return {"class_name": "__tensor__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(obj, (np.ndarray, np.generic)):
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
        return obj.item()
    if isinstance(obj, types.FunctionType):
        return _serialize_function(obj)
    config = _object_config(obj)
    cls = type(obj)
    public = _public_module(cls)
    if public is not None:
        entry = {"module": public, "class_name": cls.__name__, "config": config, "registered_name": None}
        from .models import Functional
        if isinstance(obj, Functional) and type(obj) is Functional:
            entry.update(module="keras.src.models.functional", registered_name="Functional")
    else:
        entry = {"module": cls.__module__, "class_name": cls.__name__, "config": config,
                 "registered_name": get_registered_name(cls)}
    _add_build_and_compile(obj, entry)
    return entry


def _serialize_function(fn):
    if fn.__name__ == "<lambda>":
        return _serialize_lambda(fn)
    public = _public_module(fn)
    if public is not None and _builtin(public, fn.__name__) is fn:
        return {"module": public, "class_name": "function", "config": fn.__name__,
                "registered_name": fn.__name__}
    registered = get_registered_name(fn)
    return {"module": fn.__module__, "class_name": "function", "config": registered,
            "registered_name": registered}


def _serialize_lambda(fn) -> dict:
    """A lambda as Keras 3 writes it (its bytecode, base64), so Keras can load the file with
    ``safe_mode=False``.  Writing is the user's own code leaving the process; tapegrad itself never
    loads bytecode back (``deserialize_keras_object`` refuses it)."""
    import base64
    import marshal
    import warnings
    warnings.warn("The object being serialized includes a `lambda`, stored as Python bytecode: Keras "
                  "reloads it only with `safe_mode=False`, and tapegrad never loads bytecode (pass the "
                  "function through `custom_objects` or register a named function instead).", stacklevel=4)
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
    return {"class_name": "__lambda__", "config": {"value": [code, fn.__defaults__, closure]}}


def _object_config(obj):
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj)}. To be serializable, a class "
                        "must implement the `get_config()` method.")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"The `get_config()` method of {obj!r} should return a dict. It returned: {config!r}")
    return {key: serialize_keras_object(value) for key, value in config.items()}


def _add_build_and_compile(obj, entry) -> None:
    for key, method in (("build_config", "get_build_config"), ("compile_config", "get_compile_config")):
        getter = getattr(obj, method, None)
        if getter is not None:
            value = getter()
        else:
            value = _layer_build_config(obj) if key == "build_config" else None
        if value is not None:
            entry[key] = serialize_keras_object(value)


def _layer_build_config(layer):
    from .layers.base import Layer
    from .models import InputLayer
    shape = getattr(layer, "_build_input_shape", None)
    if not isinstance(layer, Layer) or isinstance(layer, InputLayer) or shape is None:
        return None
    from .models.functional import _map_shapes
    return {"input_shape": _map_shapes(tuple, shape)}


def _build_from_config(instance, build_config) -> None:
    if hasattr(instance, "build_from_config"):
        instance.build_from_config(build_config)
    elif build_config.get("input_shape") is not None:
        instance.build(build_config["input_shape"])
        instance._build_input_shape = build_config["input_shape"]
    instance.built = True


# -- deserializing -----------------------------------------------------------------------------

def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a ``serialize_keras_object`` config (or Keras 3's) describes.

    Classes are found in `custom_objects`, the scopes, the registry and tapegrad's built-ins;
    a module named in the config is never imported.

    >>> import tapegrad as tf
    >>> config = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 2},
    ...           "registered_name": None}
    >>> tf.keras.saving.deserialize_keras_object(config).units
    2
    """
    safe_mode = _safe_mode(safe_mode)
    custom_objects = {**(custom_objects or {}), **_scoped_objects()}
    module_objects = kwargs.pop("module_objects", None)
    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects, module_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode) for x in config]
    if isinstance(config, _PLAIN):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, custom_objects, safe_mode)
                for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    inner = {} if inner is None else inner
    special = _deserialize_special(class_name, inner, config, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    module = config.get("module")
    registered_name = config.get("registered_name") or class_name
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"Expected 'config' to be a function's name (a str), got {inner!r}. Full config: "
                            f"{config}")
        return _retrieve(inner, registered_name, module, "function", config, custom_objects)
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name}, got {type(inner).__name__}. "
                        f"Full config: {config}")
    cls = _retrieve(class_name, registered_name, module, "class", config, custom_objects)
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{class_name}' because the class is missing a "
                        f"`from_config()` method. Full object config: {config}")
    with CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        instance = _from_config(cls, inner, custom_objects, config)
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True):
            _build_from_config(instance, build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


_NOT_SPECIAL = object()


def _deserialize_special(class_name, inner, config, safe_mode):
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=_plain_dtype(inner["dtype"]))
    if class_name == "__tensor__":
        from ..core.tensor import convert_to_tensor
        return convert_to_tensor(np.array(inner["value"], dtype=_plain_dtype(inner["dtype"])))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__tuple__":
        return tuple(inner["value"])
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(inner.get("start"), inner.get("stop"), inner.get("step"))
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError("Requested the deserialization of a Python lambda. This carries a potential "
                             "risk of arbitrary code execution and thus it is disallowed by default "
                             "(safe_mode=True). tapegrad never loads Python bytecode, even with "
                             "safe_mode=False: pass the function itself, e.g. load_model(path, "
                             "custom_objects={'<layer name>': fn}) for a Lambda layer, or register it with "
                             "`@tf.keras.saving.register_keras_serializable()` and use it by name.")
        raise ValueError("This file holds a Python lambda stored as bytecode (a Keras `Lambda` layer made "
                         "from a lambda). tapegrad does not load Python bytecode, even with safe_mode=False: "
                         "give the function through custom_objects (e.g. "
                         "custom_objects={'<layer name>': fn}) "
                         "or save a named function registered with "
                         "`@tf.keras.saving.register_keras_serializable()`.")
    return _NOT_SPECIAL


def _plain_dtype(name):
    dtype = np.dtype(str(name))
    if dtype.kind not in "biufc":
        raise ValueError(f"Refusing to deserialize an array of dtype {name!r}: only numbers are allowed.")
    return dtype


def _retrieve(name, registered_name, module, kind, full_config, custom_objects):
    found = get_registered_object(name if kind == "function" else registered_name, custom_objects)
    if found is None and kind == "class":
        found = get_registered_object(name, custom_objects)  # custom_objects keyed by the class name
    if found is None and kind == "function" and custom_objects:
        found = next((obj for key, obj in custom_objects.items() if key.endswith(f">{name}")), None)
    if found is not None:
        return found
    found = _builtin(module, name)
    if found is None and kind == "class" and module is None:  # Keras 2 style {"class_name", "config"}
        found = _builtin("keras.layers", name) or _builtin("keras", name)
    if found is None and kind == "function" and module in (None, "builtins"):
        for public in ("keras.activations", "keras.losses", "keras.metrics"):
            found = found or _builtin(public, name)
    if found is not None:
        return found
    raise TypeError(f"Could not locate {kind} '{name}'. Make sure custom classes and functions are decorated "
                    "with `@keras.saving.register_keras_serializable()` (or passed in `custom_objects`); "
                    f"tapegrad never imports the module a file names. Full object config: {full_config}")


def _from_config(cls, inner, custom_objects, config):
    try:
        if "custom_objects" in inspect.signature(cls.from_config).parameters:
            return cls.from_config(inner, custom_objects=custom_objects)
        return cls.from_config(inner)
    except TypeError as e:
        raise TypeError(f"{cls} could not be deserialized properly. Please ensure that components that are "
                        "Python object instances (layers, models, etc.) returned by `get_config()` are "
                        f"explicitly deserialized in the model's `from_config()` method.\n\nconfig={config}."
                        f"\n\nException encountered: {e}") from e


# -- layer configs written by Keras 3 -------------------------------------------------------------

# Keras 3 arguments tapegrad's layers do not take, whose value changes nothing unless set
_INERT_KEYS = {"quantization_config", "lora_rank", "lora_alpha", "ragged", "synchronized", "renorm",
               "renorm_clipping", "renorm_momentum"}


def layer_kwargs(cls, config) -> dict:
    """A layer config as `cls`'s constructor takes it: a DTypePolicy dict becomes the policy, and
    for built-in layers the Keras 3 arguments tapegrad lacks are dropped while they are inert.

    >>> import tapegrad as tf
    >>> kwargs = layer_kwargs(tf.keras.layers.Dense, {"units": 2, "lora_rank": None,
    ...     "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}})
    >>> sorted(kwargs), kwargs["dtype"].name
    (['dtype', 'units'], 'float32')
    """
    config = dict(config)
    for value in config.values():
        if isinstance(value, dict) and value.get("class_name") == "__lambda__":
            deserialize_keras_object(value)  # raises: Keras's marshalled lambdas are never loaded
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = deserialize_keras_object(config["dtype"])
    if not cls.__module__.startswith("tapegrad.keras."):
        return config
    from .layers.base import _ALLOWED_KWARGS
    accepted = set(_ALLOWED_KWARGS)
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is not None:
            accepted.update(inspect.signature(init).parameters)
    renorm = config.get("renorm")
    for key in [k for k in config if k not in accepted]:
        value = config.pop(key)
        if not (value is None or value is False or (key in _INERT_KEYS and not renorm)):
            raise ValueError(f"Layer {cls.__name__} ('{config.get('name')}'): tapegrad does not support the "
                             f"Keras argument {key}={value!r} found in its config.")
    return config
