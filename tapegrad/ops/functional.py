"""tf.map_fn, tf.scan, tf.foldl, tf.foldr and tf.vectorized_map: functions applied along an axis.

Eagerly they loop in Python and stack the results (a GradientTape records every step).  In a
traced function they are a ``tf.while_loop`` writing TensorArrays, as TensorFlow builds
them: ``fn`` is traced once, whatever the number of elements, and the loop's gradient
compiles with it.
"""
from __future__ import annotations

from ..core import dtypes
from ..core.op import state
from ..core.nest import flatten, pack_sequence_as
from ..core.tensor import Tensor, convert_to_tensor
from .control_flow import converted, while_loop

__all__ = ["map_fn", "scan", "foldl", "foldr", "vectorized_map"]


def _traced(values) -> bool:
    from .control_flow import _traced as traced
    return traced(values)


def _length(flat):
    """The number of elements along axis 0 (a tensor when tracing), checked equal for all."""
    if not flat:
        raise ValueError("elems must be a non-empty tensor or nest of tensors")
    for t in flat:
        if t.ndim == 0:
            raise ValueError("elems must be tensors of rank >= 1 (the axis to map over comes first)")
    static = [t._value.shape[0] for t in flat]
    if all(isinstance(n, int) for n in static) and len(set(static)) > 1:
        raise ValueError(f"All elems must have the same size along axis 0, got sizes {static}")
    if state.graph is None:
        return static[0]
    from .symbolic import shape_of
    return shape_of(flat[0])[0]


def _signature_dtypes(signature, template):
    """The output dtypes: from fn_output_signature (dtypes or TensorSpecs), else those of `template`."""
    if signature is None:
        return [t.dtype for t in flatten(template)], template
    leaves = flatten(signature)
    return [dtypes.as_dtype(getattr(s, "dtype", s)) for s in leaves], signature


def _slices(elems):
    """elems' tensors, their length along axis 0 and ``element(i)``: slice i in elems' structure."""
    flat = [convert_to_tensor(t) for t in flatten(elems)]
    n = _length(flat)

    def element(i):
        from .indexing import gather
        xs = [gather(t, i) for t in flat]
        return xs[0] if isinstance(elems, Tensor) else pack_sequence_as(elems, xs)
    return flat, n, element


def _first_accumulator(initializer, element, n, reverse):
    """The accumulator to start from and the step it stands for: the initializer, else the first slice."""
    if initializer is None:
        return element(n - 1 if reverse else 0), 1
    return initializer, 0


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False,
           infer_shape=True, name=None, fn_output_signature=None):
    """``fn`` applied to each slice of `elems` along axis 0, the results stacked.

    >>> import tapegrad as tf
    >>> tf.map_fn(lambda x: x * x, tf.constant([1.0, 2.0, 3.0])).numpy()
    array([1., 4., 9.], dtype=float32)
    """
    fn, (flat, n, element) = converted(fn), _slices(elems)
    signature = fn_output_signature if fn_output_signature is not None else dtype
    out_dtypes, out_structure = _signature_dtypes(signature, elems)

    def call(i):
        return fn(element(i))

    if not _traced(flat) and state.graph is None:
        from .array import stack
        from .creation import zeros
        if n == 0:
            return pack_sequence_as(out_structure, [zeros((0,), dt) for dt in out_dtypes])
        first = call(0)
        results = [flatten(first)] + [flatten(call(i)) for i in range(1, n)]
        return pack_sequence_as(out_structure if signature is not None else first,
                                [stack([r[k] for r in results]) for k in range(len(results[0]))])
    from .tensor_array import TensorArray
    arrays = [TensorArray(dt, size=n) for dt in out_dtypes]

    def body(i, *arrays):
        outs = flatten(call(i))
        if len(outs) != len(arrays):
            raise ValueError(f"map_fn: fn returned {len(outs)} tensors but the output signature has "
                             f"{len(arrays)}; pass fn_output_signature= to describe fn's output")
        return [i + 1] + [a.write(i, convert_to_tensor(o, dtype=a.dtype)) for a, o in zip(arrays, outs)]

    result = while_loop(lambda i, *_: i < n, body, [0] + arrays)
    return pack_sequence_as(out_structure, [a.stack() for a in result[1:]]) \
        if not isinstance(out_structure, Tensor) else result[1].stack()


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False,
         infer_shape=True, reverse=False, name=None):
    """The accumulations ``a = fn(a, x)`` over the slices x of `elems`, stacked.

    >>> import tapegrad as tf
    >>> tf.scan(lambda a, x: a + x, tf.constant([1, 2, 3, 4])).numpy()
    array([ 1,  3,  6, 10], dtype=int32)
    """
    fn, (flat, n, element) = converted(fn), _slices(elems)
    a, start = _first_accumulator(initializer, element, n, reverse)
    acc_structure = a
    if not _traced(flat) and state.graph is None:
        from .array import stack
        outs = [] if initializer is not None else [flatten(a)]
        for step in range(start, n):
            a = fn(a, element(n - 1 - step if reverse else step))
            outs.append(flatten(a))
        if reverse:
            outs = outs[::-1]
        return pack_sequence_as(acc_structure, [stack([o[k] for o in outs]) for k in range(len(outs[0]))]) \
            if outs else a
    from .tensor_array import TensorArray
    acc = [convert_to_tensor(t) for t in flatten(a)]
    arrays = [TensorArray(t.dtype, size=n, element_shape=t.shape) for t in acc]
    if initializer is None:
        arrays = [ta.write(n - 1 if reverse else 0, t) for ta, t in zip(arrays, acc)]
    k = len(acc)

    def body(i, *carried):
        a = pack_sequence_as(acc_structure, list(carried[:k]))
        j = n - 1 - i if reverse else i
        new = [convert_to_tensor(t) for t in flatten(fn(a, element(j)))]
        return [i + 1] + new + [ta.write(j, t) for ta, t in zip(carried[k:], new)]

    result = while_loop(lambda i, *_: i < n, body, [start] + acc + arrays)
    return pack_sequence_as(acc_structure, [ta.stack() for ta in result[1 + k:]])


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """The final accumulation ``a = fn(a, x)`` over the slices of `elems`, first to last.

    >>> import tapegrad as tf
    >>> int(tf.foldl(lambda a, x: a + x, tf.constant([1, 2, 3]), initializer=tf.constant(10)))
    16
    """
    return _fold(fn, elems, initializer, reverse=False)


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """The final accumulation ``a = fn(a, x)`` over the slices of `elems`, last to first.

    >>> import tapegrad as tf
    >>> int(tf.foldr(lambda a, x: a * 10 + x, tf.constant([1, 2, 3])))
    321
    """
    return _fold(fn, elems, initializer, reverse=True)


def _fold(fn, elems, initializer, reverse):
    fn, (flat, n, element) = converted(fn), _slices(elems)
    a, start = _first_accumulator(initializer, element, n, reverse)
    if not _traced(flat) and state.graph is None:
        for step in range(start, n):
            a = fn(a, element(n - 1 - step if reverse else step))
        return a
    structure = a
    acc = [convert_to_tensor(t) for t in flatten(a)]

    def body(i, *carried):
        new = fn(pack_sequence_as(structure, list(carried)), element(n - 1 - i if reverse else i))
        return [i + 1] + [convert_to_tensor(t) for t in flatten(new)]

    result = while_loop(lambda i, *_: i < n, body, [start] + acc)
    return pack_sequence_as(structure, list(result[1:]))


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """``fn`` applied to each slice of `elems`, stacked: the results of ``tf.map_fn``.

    TensorFlow rewrites fn into batched ops (pfor) and falls back to a loop where it cannot;
    tapegrad has no vectorizer and always loops, as ``map_fn`` does: the same results, one
    step per element.  Unlike map_fn the output structure is fn's own (found by tracing fn
    once on the first element, as pfor traces it).

    >>> import tapegrad as tf
    >>> tf.vectorized_map(lambda x: tf.reduce_sum(x), tf.ones([3, 2])).numpy()
    array([2., 2., 2.], dtype=float32)
    """
    if state.graph is None:
        return map_fn(fn, elems)
    fn, (_, _, element) = converted(fn), _slices(elems)
    from ..compiler.control_flow import trace_subgraph
    _, structure = trace_subgraph(state.graph, lambda: fn(element(0)), (), "vectorized_map_probe",
                                  "vectorized_map's fn")
    from ..core.spec import TensorSpec
    signature = pack_sequence_as(structure, [TensorSpec(None, t.dtype) for t in flatten(structure)]) \
        if not isinstance(structure, Tensor) else TensorSpec(None, structure.dtype)
    return map_fn(fn, elems, fn_output_signature=signature)
