"""The op families, one module each.  ``import tapegrad`` loads the core families (they attach
the Tensor operators); nn, conv and random load on first use of ``tf.nn``/``tf.random`` (or of
Keras).  ``load_all()`` registers every primitive - what the registry's tests iterate."""
from . import math, array, creation, indexing, reduce, linalg, symbolic  # noqa: F401

FAMILIES = ("math", "array", "creation", "indexing", "reduce", "linalg", "symbolic", "tensor_array", "clip",
            "control_flow", "logging", "debugging", "nn", "conv", "random", "sorting",
            "inverse", "decompositions")


def load_all() -> None:
    """Import every op family, so that ``core.op.REGISTRY`` holds every primitive."""
    import importlib
    for family in FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
