"""Dtype policies (Keras 3's ``DTypePolicy``, TF 2's ``mixed_precision.Policy``): the dtype a layer computes
in and the dtype it keeps its variables in, and the process-wide default policy layers take when they are
made.  ``"mixed_float16"`` computes in float16 with float32 variables; a plain dtype name uses it for both.
NumPy has no bfloat16, so the bfloat16 policies are refused with a ValueError.
"""
from __future__ import annotations

from ...core import dtypes

__all__ = [
    "DTypePolicy",
    "FloatDTypePolicy",
    "Policy",
    "dtype_policy",
    "get",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]

_MIXED = {"mixed_float16": ("float16", "float32")}


def _parse(name) -> tuple:
    """(compute dtype, variable dtype) of a policy name, or Keras' errors."""
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a string, such as 'mixed_float16'. Received: name={name!r} "
                        f"(of type {type(name)})")
    if name in _MIXED:
        return _MIXED[name]
    if "bfloat16" in name:
        raise ValueError(f"Cannot use the dtype policy '{name}': tapegrad runs on NumPy, which has no "
                         f"bfloat16. Use 'mixed_float16' (float16 compute, float32 variables) instead.")
    try:
        dtype = dtypes.as_dtype(name)
    except TypeError:
        dtype = None
    if dtype is None:  # "string" is a policy too (Keras 3: the dtype of string inputs)
        raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid policies are "
                         f"'mixed_float16' and the name of a dtype such as 'float32'.")
    return dtype.name, dtype.name


class DTypePolicy:
    """The dtypes of a layer: ``compute_dtype`` (its computations and outputs) and ``variable_dtype``
    (its weights).  `name` is ``"mixed_float16"`` (float16 compute, float32 variables) or a dtype name
    used for both; None takes the global policy's name.

    >>> import tapegrad as tf
    >>> policy = tf.keras.mixed_precision.Policy("mixed_float16")
    >>> policy, policy.compute_dtype, policy.variable_dtype
    (<DTypePolicy "mixed_float16">, 'float16', 'float32')
    >>> tf.keras.layers.Dense(4, dtype=policy).compute_dtype
    'float16'
    """

    def __init__(self, name=None):
        if name is None:
            name = dtype_policy().name
        self._compute_dtype, self._variable_dtype = _parse(name)
        self._name = name

    @property
    def name(self) -> str:
        """The policy's name: ``"mixed_float16"``, ``"float32"``, ..."""
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype layers compute in (and give their outputs in), as a string."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype layers create their weights in, as a string."""
        return self._variable_dtype

    @property
    def quantization_mode(self):
        """None: tapegrad has no quantized policies."""
        return None

    def get_config(self) -> dict:
        """``{"name": ...}``, what ``from_config`` takes.

        >>> DTypePolicy("float16").get_config()
        {'name': 'float16'}
        """
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> DTypePolicy:
        """The policy of ``get_config()``'s dict.

        >>> DTypePolicy.from_config({"name": "mixed_float16"}).compute_dtype
        'float16'
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other) -> bool:
        return isinstance(other, DTypePolicy) and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)


Policy = DTypePolicy           # TF 2's name (keras.mixed_precision.Policy)
FloatDTypePolicy = DTypePolicy  # Keras 3's alias

# The default policy of new layers: a process-wide setting, as Keras keeps it (None: floatx).  It is read
# when a layer is made, never on a call.
_global = None


def get(identifier) -> DTypePolicy:
    """A policy from a policy, a policy name or dtype (string, ``tf.float16``, NumPy dtype), a config
    dict, or None (the global policy).

    >>> import tapegrad as tf
    >>> get("mixed_float16").variable_dtype, get(tf.float64).name
    ('float32', 'float64')
    """
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    if isinstance(identifier, dict):
        config = identifier.get("config", identifier)
        if "class_name" in identifier and identifier["class_name"] not in (
                "DTypePolicy", "FloatDTypePolicy", "Policy"):
            raise ValueError(f"Cannot interpret `dtype` argument: unknown policy class "
                             f"{identifier['class_name']!r} in {identifier}")
        return DTypePolicy.from_config(dict(config))
    try:
        return DTypePolicy(dtypes.as_dtype(identifier).name)
    except (TypeError, ValueError):
        raise ValueError(f"Cannot interpret `dtype` argument. Expected a string or an instance of "
                         f"DTypePolicy. Received: dtype={identifier!r}") from None


def set_dtype_policy(policy) -> None:
    """Make `policy` (a DTypePolicy or its name) the default of the layers made from now on.

    Layers made earlier keep their policy. Set it before building a model, and back to
    ``"float32"`` when done.

    >>> import tapegrad as tf
    >>> tf.keras.mixed_precision.set_global_policy("mixed_float16")
    >>> tf.keras.layers.Dense(2).dtype_policy
    <DTypePolicy "mixed_float16">
    >>> tf.keras.mixed_precision.set_global_policy("float32")
    """
    global _global
    if isinstance(policy, str):
        policy = DTypePolicy(policy)
    elif not isinstance(policy, DTypePolicy):
        raise ValueError(  # noqa: TRY004 - Keras 3's error type
            f"Invalid `policy` argument. Expected the string name of a policy (such as 'mixed_float16') "
            f"or a `DTypePolicy` instance. Received: policy={policy!r} (of type {type(policy)})")
    _global = policy


def dtype_policy() -> DTypePolicy:
    """The global policy (``"float32"`` until ``set_dtype_policy`` changes it).

    >>> dtype_policy()
    <DTypePolicy "float32">
    """
    policy = _global
    if policy is None:
        from ..backend import floatx
        policy = DTypePolicy(floatx())
        set_dtype_policy(policy)
    return policy


def reset_global_policy() -> None:
    """Forget the global policy: layers made from now on take the default (``floatx``), as after
    Keras 3's ``clear_session``.

    >>> import tapegrad as tf
    >>> tf.keras.mixed_precision.set_global_policy("mixed_float16")
    >>> reset_global_policy(); tf.keras.mixed_precision.global_policy()
    <DTypePolicy "float32">
    """
    global _global
    _global = None


set_global_policy = set_dtype_policy  # TF 2's names, which Keras 3 keeps in keras.mixed_precision
global_policy = dtype_policy
