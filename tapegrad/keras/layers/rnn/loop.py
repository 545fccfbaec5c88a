"""The time loop of the recurrent layers (Keras 3's ``backend.rnn``): a step function applied along
the time axis, masked steps carrying the previous output and states through.

Eagerly, and with ``unroll=True``, the loop is a Python loop over the (static) time steps.  In a
traced function it is one ``tf.while_loop`` whose body is traced once, whatever the length (a
``None`` time axis included); its outputs are written to a TensorArray.  Both differentiate: each
step reads its input with ``gather`` on the time-major sequence, whose gradient is sparse, so the
backward pass costs one step's size per step.
"""
from __future__ import annotations

from ....core.aval import Dim, dims
from ....core.nest import flatten, pack_sequence_as
from ....core.op import state
from ....ops.array import reshape, stack, transpose
from ....ops.creation import zeros_like
from ....ops.indexing import gather
from ....ops.math import where

__all__ = ["rnn"]


def rnn(step, inputs, initial_states, mask=None, go_backwards=False, unroll=False,
        zero_output_for_mask=False, return_all_outputs=True):
    """Run ``output, states = step(x_t, states)`` over the time axis (1) of `inputs` (batch-major).

    `initial_states` is a nest of tensors, passed to `step` in the same structure; `mask` (batch, time)
    booleans marks the real steps: a masked step keeps the previous states and repeats the previous
    output (zeros with `zero_output_for_mask`).  Returns ``(last_output, outputs, states)``; outputs
    (batch, time, ...) are in the order processed (reversed with `go_backwards`), None unless
    `return_all_outputs`.

    >>> import tapegrad as tf
    >>> from tapegrad.keras.layers.rnn.loop import rnn
    >>> last, outs, states = rnn(lambda x, s: (x + s[0], [x + s[0]]), tf.ones([1, 3, 1]), [tf.zeros([1, 1])])
    >>> outs.numpy().ravel(), float(last[0, 0])
    (array([1., 2., 3.], dtype=float32), 3.0)
    """
    perm = [1, 0] + list(range(2, inputs.ndim))
    inputs_tm = transpose(inputs, perm)
    mask_tm = None
    if mask is not None:
        mask_tm = transpose(mask, [1, 0])
    structure = initial_states
    states = list(flatten(initial_states))
    length = dims(inputs_tm)[0]
    # A traced loop writing every step's output to a TensorArray cannot yet name a symbolic batch size
    # in the compiled program: with a static length such a loop is unrolled instead.
    batch_symbolic = isinstance(dims(inputs_tm)[1], Dim)
    if state.graph is None or unroll or (return_all_outputs and batch_symbolic and isinstance(length, int)):
        if isinstance(length, Dim):
            raise ValueError("Cannot unroll a RNN if the time dimension is undefined.")
        return _unrolled(step, inputs_tm, structure, states, mask_tm, length, go_backwards,
                         zero_output_for_mask, return_all_outputs)
    return _while(step, inputs_tm, structure, states, mask_tm, length, go_backwards,
                  zero_output_for_mask, return_all_outputs)


def _call(step, x, structure, states):
    out, new = step(x, pack_sequence_as(structure, states))
    new = flatten(new if isinstance(new, (list, tuple, dict)) else [new])
    if len(new) != len(states):
        raise ValueError(f"The RNN cell returned {len(new)} states for {len(states)} states given "
                         f"(its state_size says how many it has).")
    return out, list(new)


def _masked(mask_t, new, old):
    """`new` where the step is real (mask_t, (batch,)), else `old`."""
    m = mask_t if new.ndim == 1 else reshape(mask_t, (-1,) + (1,) * (new.ndim - 1))
    return where(m, new, old)


def _unrolled(step, inputs_tm, structure, states, mask_tm, length, go_backwards, zero_output, return_all):
    outputs = []
    out = prev = None
    for t in (range(length - 1, -1, -1) if go_backwards else range(length)):
        out, new = _call(step, gather(inputs_tm, t), structure, states)
        if mask_tm is not None:
            m = gather(mask_tm, t)
            if prev is None:
                prev = zeros_like(out)
            out = _masked(m, out, zeros_like(out) if zero_output else prev)
            new = [_masked(m, n, s) for n, s in zip(new, states)]
            prev = out
        states = new
        if return_all:
            outputs.append(out)
    if out is None:
        raise ValueError("The RNN received a sequence with no time steps.")
    seq = None
    if return_all:
        seq = stack(outputs, axis=1)
    return out, seq, pack_sequence_as(structure, states)


def _while(step, inputs_tm, structure, states, mask_tm, length, go_backwards, zero_output, return_all):
    from ....ops.control_flow import while_loop
    from ....ops.symbolic import shape_of
    from ....ops.tensor_array import TensorArray
    n = length if isinstance(length, int) else shape_of(inputs_tm)[0]
    # one step outside the loop gives the output's type (the pass removing unused code drops it)
    probe, _ = _call(step, gather(inputs_tm, 0), structure, states)
    k = len(states)

    def body(i, *carried):
        carried = list(carried)
        ta = carried.pop(0) if return_all else None
        prev, old = carried[0], carried[1:]
        j = n - 1 - i if go_backwards else i
        out, new = _call(step, gather(inputs_tm, j), structure, old)
        if mask_tm is not None:
            m = gather(mask_tm, j)
            out = _masked(m, out, zeros_like(out) if zero_output else prev)
            new = [_masked(m, a, b) for a, b in zip(new, old)]
        head = [i + 1] + ([ta.write(i, out)] if return_all else [])
        return head + [out] + new

    loop_vars = [0] + ([TensorArray(probe.dtype, size=n)] if return_all else [])
    result = while_loop(lambda i, *_: i < n, body, loop_vars + [zeros_like(probe)] + states)
    result = list(result)
    outputs = None
    if return_all:
        seq = result[1].stack()
        outputs = transpose(seq, [1, 0] + list(range(2, seq.ndim)))
    last, final = result[-k - 1], result[-k:] if k else []
    return last, outputs, pack_sequence_as(structure, list(final))
