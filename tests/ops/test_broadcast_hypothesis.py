"""Broadcasting gradients of every binary elementwise op, on shape pairs drawn by Hypothesis.

The binary elementwise ops are read from the registry (two tensor inputs, default cases),
so an op added later is covered too.  For each drawn pair the gradients must have the
inputs' shapes (the engine sums broadcast cotangents back) and match central differences.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tapegrad as tf
import tapegrad.test  # makes tf.test.check_gradients available
from tapegrad.core.op import REGISTRY
from tapegrad.ops import load_all

load_all()

BINARY_ELEMENTWISE = [op for op in REGISTRY.values()
                      if op.differentiable and op.n_in == 2 and op.cases is None]


def test_there_are_binary_elementwise_ops_to_check():
    assert {"add", "multiply", "divide", "pow", "maximum"} <= {op.name for op in BINARY_ELEMENTWISE}


@pytest.mark.parametrize("op", BINARY_ELEMENTWISE, ids=lambda op: op.name)
@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_broadcast_gradients(op, shapes, seed):
    rng = np.random.default_rng(seed)
    x, y = (tf.constant(domain.sample(rng, shape)) for domain, shape in zip(op.domain, shapes.input_shapes))
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        out = op(x, y)
    assert tuple(out.shape) == shapes.result_shape
    for rule, source, grad in zip(op.vjps, (x, y), tape.gradient(out, [x, y])):
        if rule is not None:  # an input without a rule (an op's mask argument) gets None
            assert tuple(grad.shape) == tuple(source.shape)
    tf.test.check_gradients(op, [x, y], order=1, modes=("rev",), seed=seed)
