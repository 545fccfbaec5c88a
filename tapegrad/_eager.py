"""``tf.executing_eagerly`` and ``tf.device``: tapegrad computes on the CPU, so a device context checks
its name as TensorFlow parses it and places nothing (TF's soft placement: a GPU asked for where there is
none runs on the CPU).
"""
from __future__ import annotations

from .core.op import state

__all__ = ["executing_eagerly", "device"]

_TYPES = ("CPU", "GPU", "TPU")


def executing_eagerly() -> bool:
    """True, except while a ``tf.function`` is being traced (then its Python code builds a program).

    >>> import tapegrad as tf
    >>> @tf.function
    ... def f():
    ...     return tf.constant(tf.executing_eagerly())
    >>> tf.executing_eagerly(), bool(f())
    (True, False)
    """
    return state.graph is None


def parse_device(spec: str) -> dict:
    """The parts of a device name, checked as TF's ``DeviceSpec.from_string``: ``'/GPU:0'`` ->
    ``{'device_type': 'GPU', 'device_index': 0}``.

    >>> parse_device("/job:localhost/replica:0/task:0/device:GPU:1")
    {'job': 'localhost', 'replica': 0, 'task': 0, 'device_type': 'GPU', 'device_index': 1}
    """
    if not isinstance(spec, str):
        raise ValueError(f"Expecting a string device name. Got {type(spec)}({spec})")  # noqa: TRY004 - as TF
    parts: dict = {}
    for component in spec.split("/"):
        if not component:
            continue
        fields = component.split(":")
        key = fields[0].lower()
        if key in ("job", "replica", "task") and len(fields) == 2:
            parts[key] = fields[1] if key == "job" else int(fields[1])
            continue
        if key == "device" and len(fields) in (2, 3):
            kind, index = fields[1], fields[2] if len(fields) == 3 else "*"
        elif fields[0].upper() in _TYPES and len(fields) in (1, 2):
            kind, index = fields[0], fields[1] if len(fields) == 2 else "*"
        else:
            raise ValueError(f"Unknown attribute '{fields[0]}' is encountered while parsing the device spec: "
                             f"'{spec}'.")
        if "device_type" in parts:
            raise ValueError(f"Multiple device types are not allowed while parsing the device spec: {spec}.")
        parts["device_type"] = kind.upper() if kind.upper() in _TYPES else kind
        parts["device_index"] = None if index == "*" else int(index)
    return parts


class _DeviceContext:
    """What ``tf.device`` returns: a context that places nothing (``as`` binds None, as TF)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


def device(device_name):
    """A context naming the device for the ops inside it; tapegrad runs them on the CPU whatever the name
    (a malformed name still raises ValueError, as TF).

    >>> import tapegrad as tf
    >>> with tf.device("/GPU:0"):
    ...     x = tf.constant(1.0) + 1.0
    >>> x.device
    '/job:localhost/replica:0/task:0/device:CPU:0'
    """
    if device_name is not None and not callable(device_name):
        parse_device(device_name)
    return _DeviceContext(device_name)
