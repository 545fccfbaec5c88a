"""``tf.config``: run-time switches, and the devices: tapegrad computes on the one CPU and says so
(``list_physical_devices('GPU')`` is empty; a ``tf.device('/GPU:0')`` block runs on the CPU).
"""
from __future__ import annotations

import collections
import os
import threading as _threading

from ._compat import Namespace, module_getattr

_run_eagerly = False


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Make every tf.function call its Python function directly (for debugging), as TF.

    >>> import tapegrad as tf
    >>> tf.config.run_functions_eagerly(True); tf.config.functions_run_eagerly()
    True
    >>> tf.config.run_functions_eagerly(False)
    """
    global _run_eagerly
    _run_eagerly = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    return _run_eagerly


# read once at import: TAPEGRAD_FUSED_KERNELS=0 turns the fused updates off for a whole process
_fused_kernels = os.environ.get("TAPEGRAD_FUSED_KERNELS", "1") != "0"


def set_fused_kernels(enabled: bool) -> None:
    """Let the built-in optimizers (SGD, Adam, AdamW, RMSprop) update each variable in one fused
    numba pass when numba is installed (the ``fast`` extra); False keeps the NumPy path.

    On by default; the environment variable ``TAPEGRAD_FUSED_KERNELS=0`` starts a process with it
    off. Both paths give the same values.

    >>> import tapegrad as tf
    >>> before = tf.config.fused_kernels_enabled()
    >>> tf.config.set_fused_kernels(False); tf.config.fused_kernels_enabled()
    False
    >>> tf.config.set_fused_kernels(before)
    """
    global _fused_kernels
    _fused_kernels = bool(enabled)


def fused_kernels_enabled() -> bool:
    """The ``set_fused_kernels`` switch (whether numba is installed is not checked here)."""
    return _fused_kernels


# -- devices -------------------------------------------------------------------------------------

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])
_CPU = PhysicalDevice(name="/physical_device:CPU:0", device_type="CPU")
_lock = _threading.Lock()
_settings = {"visible": [_CPU], "soft_placement": True, "tf32": True, "intra_op": 0, "inter_op": 0}


def list_physical_devices(device_type=None) -> list:
    """The devices tapegrad computes on, of `device_type` ('CPU', 'GPU', ...; case matters, as TF).

    >>> import tapegrad as tf
    >>> tf.config.list_physical_devices(), tf.config.list_physical_devices("GPU")
    ([PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')], [])
    """
    return [d for d in (_CPU,) if device_type is None or d.device_type == device_type]


def list_logical_devices(device_type=None) -> list:
    """The visible devices, as ``LogicalDevice('/device:CPU:0', 'CPU')``.

    >>> import tapegrad as tf
    >>> tf.config.list_logical_devices("CPU")
    [LogicalDevice(name='/device:CPU:0', device_type='CPU')]
    """
    return [LogicalDevice(name=d.name.replace("/physical_device:", "/device:"), device_type=d.device_type)
            for d in get_visible_devices(device_type)]


def get_visible_devices(device_type=None) -> list:
    """The physical devices left visible by ``set_visible_devices`` (all of them by default).

    >>> import tapegrad as tf
    >>> tf.config.get_visible_devices("GPU")
    []
    """
    return [d for d in _settings["visible"] if device_type is None or d.device_type == device_type]


def set_visible_devices(devices, device_type=None) -> None:
    """Choose which physical devices of `device_type` are used (the CPU must stay visible: tapegrad
    computes on it).

    >>> import tapegrad as tf
    >>> tf.config.set_visible_devices([], "GPU")
    >>> tf.config.get_visible_devices()
    [PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')]
    """
    devices = [devices] if isinstance(devices, PhysicalDevice) else list(devices)
    for d in devices:
        if d not in list_physical_devices():
            raise ValueError(f"Unrecognized device: {d!r}")
    if device_type is not None:
        devices = [d for d in devices if d.device_type == device_type]
    if device_type in (None, "CPU") and _CPU not in devices:
        raise ValueError("set_visible_devices: the CPU must stay visible; tapegrad runs every op on it.")
    with _lock:
        _settings["visible"] = [_CPU]


def set_memory_growth(device, enable: bool) -> None:
    """Let a GPU's memory grow as needed; there are no GPUs here, so the CPU is refused, as TF refuses it.

    >>> import tapegrad as tf
    >>> for gpu in tf.config.list_physical_devices("GPU"):  # what tutorials do: no GPU, nothing to set
    ...     tf.config.experimental.set_memory_growth(gpu, True)
    """
    _check_gpu(device)


def get_memory_growth(device) -> bool:
    """Whether memory growth is on for a GPU (there are none here: ValueError, as for any non-GPU)."""
    _check_gpu(device)


def _check_gpu(device) -> None:
    if device not in list_physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}")
    raise ValueError("Cannot set memory growth on non-GPU and non-Pluggable devices")


def set_soft_device_placement(enabled: bool) -> None:
    """Record TF's soft-placement switch; tapegrad always places on the CPU.

    >>> import tapegrad as tf
    >>> tf.config.set_soft_device_placement(True); tf.config.get_soft_device_placement()
    True
    """
    _settings["soft_placement"] = bool(enabled)


def get_soft_device_placement() -> bool:
    """The value ``set_soft_device_placement`` recorded (True by default)."""
    return _settings["soft_placement"]


def enable_op_determinism() -> None:
    """Nothing to do: tapegrad's ops are deterministic (seeded random ops give the same values)."""


def enable_tensor_float_32_execution(enabled: bool) -> None:
    """Record TF's TensorFloat-32 switch (it concerns GPUs; tapegrad computes in full float32 anyway).

    >>> import tapegrad as tf
    >>> tf.config.experimental.tensor_float_32_execution_enabled()
    True
    """
    _settings["tf32"] = bool(enabled)


def tensor_float_32_execution_enabled() -> bool:
    """The value ``enable_tensor_float_32_execution`` recorded (True by default)."""
    return _settings["tf32"]


# -- threads -------------------------------------------------------------------------------------

def set_intra_op_parallelism_threads(num_threads: int) -> None:
    """Record the number of threads one op may use (0: the system chooses).

    >>> import tapegrad as tf
    >>> tf.config.threading.set_intra_op_parallelism_threads(2)
    >>> tf.config.threading.get_intra_op_parallelism_threads()
    2
    >>> tf.config.threading.set_intra_op_parallelism_threads(0)
    """
    _settings["intra_op"] = int(num_threads)


def get_intra_op_parallelism_threads() -> int:
    """The value ``set_intra_op_parallelism_threads`` recorded (0 by default)."""
    return _settings["intra_op"]


def set_inter_op_parallelism_threads(num_threads: int) -> None:
    """Record the number of ops that may run at once (0: the system chooses).

    >>> import tapegrad as tf
    >>> tf.config.threading.get_inter_op_parallelism_threads()
    0
    """
    _settings["inter_op"] = int(num_threads)


def get_inter_op_parallelism_threads() -> int:
    """The value ``set_inter_op_parallelism_threads`` recorded (0 by default)."""
    return _settings["inter_op"]


experimental_run_functions_eagerly = run_functions_eagerly  # TF's older names, still exported
experimental_functions_run_eagerly = functions_run_eagerly

threading = Namespace("tf.config.threading",
                      get_inter_op_parallelism_threads=get_inter_op_parallelism_threads,
                      get_intra_op_parallelism_threads=get_intra_op_parallelism_threads,
                      set_inter_op_parallelism_threads=set_inter_op_parallelism_threads,
                      set_intra_op_parallelism_threads=set_intra_op_parallelism_threads)
experimental = Namespace("tf.config.experimental", enable_op_determinism=enable_op_determinism,
                         enable_tensor_float_32_execution=enable_tensor_float_32_execution,
                         get_memory_growth=get_memory_growth, get_visible_devices=get_visible_devices,
                         list_logical_devices=list_logical_devices, list_physical_devices=list_physical_devices,
                         set_memory_growth=set_memory_growth, set_visible_devices=set_visible_devices,
                         tensor_float_32_execution_enabled=tensor_float_32_execution_enabled)
__getattr__ = module_getattr("tf.config")
