"""Tensors, dtypes, the op registry, the tape and the backward engine."""
