"""Benchmarks of tapegrad against TensorFlow, PyTorch and JAX (peers from the `bench` extra)."""
