"""Keras 3 initializers (``tf.keras.initializers``): callables ``(shape, dtype=None) -> Tensor``.

Random initializers behave as Keras 3's: an instance draws from a fixed seed, so
calling it twice gives the same values.  An unseeded instance fixes its seed when it
is created, drawn from tapegrad's random state: after ``tf.random.set_seed(s)`` the
same sequence of constructions gives the same weights.  ``get("glorot_uniform")``
builds a new instance each time, so two layers still get different weights.

The module also holds the small name registry that ``regularizers``, ``constraints``
and ``optimizers`` share for ``get``/``serialize``/``deserialize``.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from .. import ops  # noqa: F401  (registers every op)
from ..core import dtypes
from ..core.tensor import Tensor, convert_to_array
from ..ops import random as _random

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "Identity", "IdentityInitializer", "RandomNormal",
           "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal",
           "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal", "OrthogonalInitializer",
           "compute_fans", "get", "serialize", "deserialize"]


# -- the registry shared by initializers, regularizers, constraints, optimizers ----------------

class Registry:
    """Names -> classes for one Keras module, with Keras 3's ``get``/``serialize``/``deserialize``.

    >>> reg = Registry("keras.initializers", "initializer", [Zeros])
    >>> type(reg.get("zeros")).__name__, reg.serialize(Zeros())["class_name"]
    ('Zeros', 'Zeros')
    """

    def __init__(self, module: str, kind: str, classes, aliases=None):
        self.module, self.kind = module, kind
        self.objects = {}
        for cls in classes:
            self.objects[cls.__name__] = cls
            self.objects[_snake(cls.__name__)] = cls
        self.objects.update(aliases or {})

    def serialize(self, obj) -> dict | None:
        """Keras 3's config dict: ``{"module", "class_name", "config", "registered_name"}``."""
        if obj is None:
            return None
        return {"module": self.module, "class_name": type(obj).__name__, "config": obj.get_config(),
                "registered_name": None}

    def deserialize(self, config, custom_objects=None):
        """An instance from a config dict or a name (case-sensitive, as Keras)."""
        if isinstance(config, str):
            config = {"class_name": config, "config": {}}
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(f"Could not interpret {self.kind} identifier: {config}")
        name = config["class_name"]
        cls = (custom_objects or {}).get(name) or self.objects.get(name)
        if cls is None:
            raise ValueError(f"Could not locate class '{name}'. Make sure custom classes are decorated "
                             f"with `@keras.saving.register_keras_serializable()`. Full object config: "
                             f"{config}")
        return cls.from_config(dict(config.get("config") or {}))

    def get(self, identifier):
        """None -> None; a name or config dict -> a new instance; a class -> ``cls()``; a callable as is."""
        if identifier is None:
            return None
        if isinstance(identifier, dict):
            obj = self.deserialize(identifier)
        elif isinstance(identifier, str):
            obj = self.objects.get(identifier)
        else:
            obj = identifier
        if callable(obj):
            return obj() if inspect.isclass(obj) else obj
        raise ValueError(f"Could not interpret {self.kind} identifier: {identifier}")


def _snake(name: str) -> str:
    from .layers.base import to_snake_case
    return to_snake_case(name)


# -- helpers --------------------------------------------------------------------------------

def _dtype(dtype, floating: bool = False) -> dtypes.DType:
    dt = dtypes.as_dtype(dtype or "float32")  # None: Keras's floatx
    if floating and not dt.is_floating:
        raise ValueError(f"Expected `dtype` to be a floating point type for a random initializer. "
                         f"Received: dtype={dt.name}")
    return dt


def _shape(shape) -> tuple:
    return tuple(int(d) for d in shape)


def _default_seed() -> int:
    """A seed in [1, 1e9] from tapegrad's random state: fixed by ``tf.random.set_seed``."""
    return int(_random.uniform((), 1, 10**9 + 1, dtype=dtypes.int64)._value)


# -- base and constant initializers -------------------------------------------------------------

class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``.

    >>> import tapegrad as tf
    >>> class Twos(tf.keras.initializers.Initializer):
    ...     def __call__(self, shape, dtype=None):
    ...         return tf.fill(shape, 2.0)
    >>> Twos()((2,)).numpy()
    array([2., 2.], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serializable."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """``cls(**config)``."""
        return cls(**config)

    def clone(self):
        """A new instance with the same config (an unseeded one keeps drawing a fresh seed)."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_config()}>"


class Zeros(Initializer):
    """All zeros.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.Zeros()((2,), dtype="int32").numpy()
    array([0, 0], dtype=int32)
    """

    def __call__(self, shape, dtype=None):
        return Tensor(np.zeros(_shape(shape), dtype=_dtype(dtype)._np))


class Ones(Initializer):
    """All ones.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.Ones()((2, 2)).numpy()
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        return Tensor(np.ones(_shape(shape), dtype=_dtype(dtype)._np))


class Constant(Initializer):
    """Every element `value` (a scalar).

    >>> import tapegrad as tf
    >>> tf.keras.initializers.Constant(3.5)((3,)).numpy()
    array([3.5, 3.5, 3.5], dtype=float32)
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dt = _dtype(dtype)
        return Tensor(np.full(_shape(shape), convert_to_array(self.value, dt), dtype=dt._np))

    def get_config(self) -> dict:
        value = self.value
        if isinstance(value, (np.ndarray, np.generic, Tensor)):
            value = np.asarray(value).tolist()  # JSON-serializable
        return {"value": value}


class Identity(Initializer):
    """``gain`` times the identity matrix; 2-D shapes only (rectangular allowed).

    >>> import tapegrad as tf
    >>> tf.keras.initializers.Identity(gain=2.0)((2, 3)).numpy()
    array([[2., 0., 0.],
           [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        dt = _dtype(dtype)
        return Tensor((self.gain * np.eye(*shape, dtype=dt._np)).astype(dt._np, copy=False))

    def get_config(self) -> dict:
        return {"gain": self.gain}


IdentityInitializer = Identity


# -- random initializers ----------------------------------------------------------------------

class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed (an int, or None: drawn now).

    >>> import tapegrad as tf
    >>> init = tf.keras.initializers.RandomUniform(seed=1)
    >>> bool((init((3,)).numpy() == init((3,)).numpy()).all())  # same seed, same values
    True
    """

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"`seed` argument should be an instance of `keras.random.SeedGenerator()` "
                             f"or an integer. Received: seed={seed}")
        self._init_seed = None if seed is None else int(seed)
        self.seed = _default_seed() if seed is None else int(seed)

    def get_config(self) -> dict:
        return {"seed": self._init_seed}

    # Keras 3 draws statelessly with the seed pair [seed, 0]: the same values at every call

    def _normal(self, shape, dtype, mean, stddev, truncated=False) -> Tensor:
        """mean + stddev * z, z standard normal (truncated: |z| <= 2, as TF and Keras 3)."""
        draw = _random.stateless_truncated_normal if truncated else _random.stateless_normal
        return draw(_shape(shape), seed=(self.seed, 0), mean=mean, stddev=stddev,
                    dtype=_dtype(dtype, floating=True))

    def _uniform(self, shape, dtype, minval, maxval) -> Tensor:
        return _random.stateless_uniform(_shape(shape), seed=(self.seed, 0), minval=minval, maxval=maxval,
                                         dtype=_dtype(dtype, floating=True))


class RandomNormal(RandomInitializer):
    """Normal samples with `mean` and `stddev`.

    >>> import tapegrad as tf
    >>> x = tf.keras.initializers.RandomNormal(mean=1.0, stddev=0.1, seed=0)((1000,)).numpy()
    >>> round(float(x.mean()), 1), round(float(x.std()), 1)
    (1.0, 0.1)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._normal(shape, dtype, self.mean, self.stddev)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal samples with `mean` and `stddev`, those beyond 2 stddev redrawn.

    >>> import tapegrad as tf
    >>> x = tf.keras.initializers.TruncatedNormal(stddev=1.0, seed=0)((1000,)).numpy()
    >>> bool(abs(x).max() <= 2.0)
    True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._normal(shape, dtype, self.mean, self.stddev, truncated=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform samples in [minval, maxval).

    >>> import tapegrad as tf
    >>> x = tf.keras.initializers.RandomUniform(-1.0, 1.0, seed=0)((1000,)).numpy()
    >>> bool(x.min() >= -1.0 and x.max() < 1.0)
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._uniform(shape, dtype, self.minval, self.maxval)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape) -> tuple:
    """(fan_in, fan_out) of a weight shape, as Keras: conv kernels count the receptive field.

    >>> compute_fans((3, 3, 16, 32)), compute_fans((5, 7)), compute_fans((4,)), compute_fans(())
    ((144, 288), (5, 7), (4, 4), (1, 1))
    """
    shape = _shape(shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])  # 1 for a matrix
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class VarianceScaling(RandomInitializer):
    """Samples with variance ``scale / n``, n = fan_in, fan_out or their mean (`mode`).

    ``distribution``: "truncated_normal" (default; "normal" is an alias) uses stddev
    ``sqrt(scale/n) / .87962566103423978`` so that the variance after truncation at 2
    stddev is ``scale/n``; "untruncated_normal"; "uniform" in ``±sqrt(3 scale / n)``.

    >>> import tapegrad as tf
    >>> init = tf.keras.initializers.VarianceScaling(2.0, "fan_in", "uniform", seed=0)
    >>> x = init((50, 40)).numpy()
    >>> bool(abs(x).max() <= (3 * 2.0 / 50) ** 0.5)
    True
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if input_axes is not None or output_axes is not None:
            raise ValueError(f"{type(self).__name__}: tapegrad computes fans from the last two axes only; "
                             f"input_axes={input_axes!r}, output_axes={output_axes!r} are not supported.")
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in self._MODES:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {set(self._MODES)}")
        distribution = distribution.lower()
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"Invalid `distribution` argument: {distribution}. "
                             f"Please use one of {set(self._DISTRIBUTIONS)}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return self._uniform(shape, dtype, -limit, limit)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, dtype, 0.0, math.sqrt(variance))
        # .8796... is the stddev of a standard normal truncated to [-2, 2]
        return self._normal(shape, dtype, 0.0, math.sqrt(variance) / .87962566103423978, truncated=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": None, "output_axes": None}


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed (scale, mode, distribution): its config is the seed only."""

    _PRESET: tuple = ()

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(*self._PRESET, seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self) -> dict:
        return {"seed": self._init_seed, "input_axes": None, "output_axes": None}


class GlorotUniform(_Preset):
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))``: Keras's default kernel initializer.

    >>> import tapegrad as tf
    >>> x = tf.keras.initializers.GlorotUniform(seed=1)((30, 20)).numpy()
    >>> x.shape, x.dtype, bool(abs(x).max() <= (6 / 50) ** 0.5)
    ((30, 20), dtype('float32'), True)
    """

    _PRESET = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))`` after truncation.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.GlorotNormal(seed=1)((3, 4)).shape
    TensorShape([3, 4])
    """

    _PRESET = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Preset):
    """Truncated normal with stddev ``sqrt(2 / fan_in)`` after truncation.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.HeNormal(seed=1)((3, 3, 8, 4)).shape
    TensorShape([3, 3, 8, 4])
    """

    _PRESET = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """Uniform in ``±sqrt(6 / fan_in)``.

    >>> import tapegrad as tf
    >>> bool(abs(tf.keras.initializers.HeUniform(seed=1)((24, 5)).numpy()).max() <= 0.5)
    True
    """

    _PRESET = (2.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with stddev ``sqrt(1 / fan_in)`` after truncation.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.LecunNormal(seed=1)((4, 2)).dtype
    tf.float32
    """

    _PRESET = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform in ``±sqrt(3 / fan_in)``.

    >>> import tapegrad as tf
    >>> bool(abs(tf.keras.initializers.LecunUniform(seed=1)((12, 5)).numpy()).max() <= 0.5)
    True
    """

    _PRESET = (1.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """``gain`` times a random orthogonal matrix (QR of a normal sample, signs fixed by diag(R)).

    Shapes of rank > 2 are flattened to (prod(shape[:-1]), shape[-1]); with fewer rows than
    columns the rows are orthonormal, else the columns.

    >>> import numpy as np, tapegrad as tf
    >>> q = tf.keras.initializers.Orthogonal(seed=0)((4, 4)).numpy()
    >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-5))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._normal((max(rows, cols), min(rows, cols)), dtype, 0.0, 1.0)._value
        q, r = np.linalg.qr(a if a.dtype != np.float16 else a.astype(np.float32))  # LAPACK has no half
        q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return Tensor((self.gain * q).reshape(shape).astype(a.dtype, copy=False))

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


OrthogonalInitializer = Orthogonal

# Keras 3's lowercase names are the classes themselves (keras.initializers.zeros is Zeros)
zeros, ones, constant, identity, orthogonal = Zeros, Ones, Constant, Identity, Orthogonal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, glorot_normal, glorot_uniform = VarianceScaling, GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
__all__ += ["zeros", "ones", "constant", "identity", "orthogonal", "random_normal", "random_uniform",
            "truncated_normal", "variance_scaling", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
            "lecun_normal", "lecun_uniform"]


# -- lookup ---------------------------------------------------------------------------------------

_REGISTRY = Registry(
    "keras.initializers", "initializer",
    [Initializer, Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal, HeUniform,
     LecunNormal, LecunUniform, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling, Orthogonal],
    aliases={"uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
             "OrthogonalInitializer": Orthogonal, "orthogonal_initializer": Orthogonal,
             "IdentityInitializer": Identity, "identity_initializer": Identity})


def get(identifier):
    """An initializer from a name ("glorot_uniform", "GlorotUniform"), config dict, class or callable.

    >>> import tapegrad as tf
    >>> type(tf.keras.initializers.get("he_normal")).__name__
    'HeNormal'
    >>> tf.keras.initializers.get({"class_name": "Constant", "config": {"value": 2.0}}).value
    2.0
    """
    return _REGISTRY.get(identifier)


def serialize(initializer) -> dict:
    """The config dict of an initializer (``deserialize`` inverts it).

    >>> import tapegrad as tf
    >>> tf.keras.initializers.serialize(tf.keras.initializers.Constant(1.0))["config"]
    {'value': 1.0}
    """
    return _REGISTRY.serialize(initializer)


def deserialize(config, custom_objects=None):
    """An initializer from ``serialize``'s dict or a name.

    >>> import tapegrad as tf
    >>> tf.keras.initializers.deserialize("ones")((1,)).numpy()
    array([1.], dtype=float32)
    """
    return _REGISTRY.deserialize(config, custom_objects)


from .._compat import module_getattr as _module_getattr  # noqa: E402
__getattr__ = _module_getattr("tf.keras.initializers")
