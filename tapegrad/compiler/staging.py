"""What else a traced program runs: staged Python calls and custom-gradient regions.

A ``StagedCall`` is stateful Python-level work (an optimizer or metric update, a variable
assignment, ``tf.print``) recorded while tracing and run with each call's values when the
program runs.  A ``Region`` is a ``custom_gradient`` function's equations, which compile
inline and, interpreted under a tape, call the function again for its ``grad_fn``.  Both take
their tensors as the leaves of the call's arguments (``split_arguments``); the rest of the
arguments - Python values, variables - is kept in the structure.
"""
from __future__ import annotations

import numpy as np

from ..core.op import paused, state
from ..core.sparse import IndexedSlices
from ..core.nest import flatten
from ..core.tensor import Tensor, Variable


class StagedCall:
    """A Python function staged into the program: rebuilt from its tensor inputs on every run.

    A variable argument of the function (see Graph.variable_argument) is an input too: the
    call gets the variable itself (it may assign it), the others arrays.
    """

    __slots__ = ("fn", "structure", "n_outputs", "name", "trace_result", "takes_variables")
    stateful = True

    def __init__(self, fn, structure, n_outputs, name, trace_result, takes_variables):
        self.fn, self.structure, self.n_outputs, self.name = fn, structure, n_outputs, name
        self.trace_result = trace_result  # what staging it again while tracing continues with
        self.takes_variables = takes_variables

    @property
    def read_only(self) -> bool:
        """A read-only call (a metric's ``result()``, staged with ``core.op.read_only``) has no effect."""
        return self.trace_result is self.fn

    def __call__(self, *arrays):
        """Run with the current arrays (and variables); return the output arrays."""
        tensors = [a if isinstance(a, Variable) else Tensor(a) for a in arrays] if self.takes_variables \
            else [Tensor(a) for a in arrays]
        args, kwargs = fill_arguments(self.structure, tensors)
        result = self.fn(*args, **kwargs)
        if not self.n_outputs:
            return ()
        return tuple(np.asarray(t._value if isinstance(t, Tensor) else t) for t in tensor_leaves(result))

    def interpret(self, eqn, tensors, variables):
        """The call made now (or staged into the function being traced)."""
        args, kwargs = fill_arguments(self.structure, tensors)
        graph = state.graph
        if graph is None:
            result = self.fn(*args, **kwargs)
        else:
            with paused(keep_graph=True):
                result = graph.stage(self.fn, args, kwargs, self.trace_result, self.name)
        return tensor_leaves(result)


class Region:
    """A custom_gradient call traced inline: the equations its function recorded, and the call.

    Compiled, the equations run in its place (``inline``: the passes see through it).  An
    interpreted call (under a tape, or inlined into another trace) calls `fn` again on that
    call's tensors, so the tapes record one op whose gradient is that call's ``grad_fn`` - as
    eagerly - rather than the forward's ops.
    """

    __slots__ = ("fn", "structure", "eqns", "name")
    stateful = False

    def __init__(self, fn, structure, eqns, name):
        self.fn, self.structure, self.eqns, self.name = fn, structure, eqns, name

    def interpret(self, eqn, tensors, variables):
        args, kwargs = fill_arguments(self.structure, tensors)
        return tensor_leaves(self.fn(*args, **kwargs))



# -- nests of arguments -----------------------------------------------------------------------

class _Slot:
    """Where a tensor argument goes back when a staged call is rebuilt."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class _SparseSlot:
    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values, indices, dense_shape):
        self.values, self.indices, self.dense_shape = values, indices, dense_shape


def split_arguments(args, kwargs, variable_args=()):
    """Tensor leaves of (args, kwargs), and the structure with _Slot placeholders for them.

    Variables stay in the structure (read by reference) unless their id is in
    `variable_args`: the variables passed to the traced function differ from call to call.
    """
    leaves: list = []
    structure = (_slots(tuple(args), leaves, variable_args), _slots(dict(kwargs), leaves, variable_args))
    return leaves, structure


# The nest walkers are module functions, not closures that call themselves: a recursive closure is a
# reference cycle, and one made per call keeps that call's tensors (a step's gradients) alive until
# the cycle collector happens to run - memory that grows with the steps between collections.
def _slots(x, leaves: list, variable_args):
    if isinstance(x, Tensor) and (not isinstance(x, Variable) or x._id in variable_args):
        leaves.append(x)
        return _Slot(len(leaves) - 1)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_slots(v, leaves, variable_args) for v in x)
    if isinstance(x, dict):
        return {k: _slots(v, leaves, variable_args) for k, v in x.items()}
    if isinstance(x, IndexedSlices):  # staged as its parts, so a sparse update stays sparse
        return _SparseSlot(_slots(x.values, leaves, variable_args), _slots(x.indices, leaves, variable_args),
                           x.dense_shape)
    return x


def fill_arguments(structure, tensors):
    args, kwargs = structure
    return _filled(args, tensors), _filled(kwargs, tensors)


def _filled(x, tensors):
    if isinstance(x, _Slot):
        return tensors[x.index]
    if isinstance(x, _SparseSlot):
        return IndexedSlices(_filled(x.values, tensors), _filled(x.indices, tensors), x.dense_shape)
    if isinstance(x, (list, tuple)):
        return type(x)(_filled(v, tensors) for v in x)
    if isinstance(x, dict):
        return {k: _filled(v, tensors) for k, v in x.items()}
    return x


def tensor_leaves(result) -> list:
    return [t for t in flatten(result) if isinstance(t, Tensor) and not isinstance(t, Variable)]


def _replace_leaves(x, new: dict):
    if isinstance(x, Tensor) and id(x) in new:
        return new[id(x)]
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_replace_leaves(v, new) for v in x)
    if isinstance(x, tuple):
        return type(x)(*(_replace_leaves(v, new) for v in x))
    if isinstance(x, dict):
        return {k: _replace_leaves(v, new) for k, v in x.items()}
    return x
