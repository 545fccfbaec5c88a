"""Liveness-based buffer reuse: an elementwise op writes its result into an input that dies there.

A NumPy ufunc that reads and writes the same buffer moves two streams of memory instead of
three (no fresh output to fault in and fill), so ``relu(add(conv, bias))`` run as

    add = _np_add(conv2d, conv2d_bias._value, out=conv2d)
    relu = _relu_into(add, out=add)

is faster on large arrays than allocating each result, and gives the same bits: the same
ufunc loops run over the same operands, only the destination is another (dead) array of the
same shape, dtype and C layout.  A chain of elementwise ops whose intermediates die at their
single use so runs in one buffer - what fusing the chain into one NumPy kernel would do.

``plan(graph)`` decides, node by node, which input (if any) the node may overwrite.  Values
are grouped into *buffer classes* (a value, and the views and unknown results made from it);
an input ``v`` may be overwritten at node ``n`` when

- the node's op has an in-place form below (``KERNELS``) and no params, and ``v`` has the
  output's exact shape and numeric dtype (never 0-d: ufuncs return scalars there);
- ``v``'s class was allocated by the program itself (its root is the fresh result of an op
  listed in ``FRESH``) and holds no graph input, variable, constant, returned value, nor
  anything given to or returned by a staged call (a staged call may keep what it is given);
- no value of the class is read after ``n``;
- ``v`` and every other operand of the output's full shape are C-contiguous: known from how
  they were made, or checked when the program runs (otherwise the op allocates as before), so
  the result has the layout the allocating op would have given it.
"""
from __future__ import annotations

import numpy as np


def _relu_into(features, out=None):
    return np.maximum(features, np.zeros((), features.dtype), out=out)


def _relu_grad_into(gradients, features, out=None):
    return np.multiply(gradients, features > 0, out=out)


def _rsqrt_into(x, out=None):
    root = np.sqrt(x, out=out)
    return np.divide(1, root, out=root)


def _clip_into(t, clip_value_min, clip_value_max, out=None):
    return np.clip(t, clip_value_min, clip_value_max, out=out)


# op name -> a function computing exactly what the op's forward does, into `out`
KERNELS = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
    "maximum": np.maximum, "minimum": np.minimum, "pow": np.power, "floordiv": np.floor_divide,
    "floormod": np.mod, "negative": np.negative, "abs": np.abs, "sign": np.sign, "square": np.square,
    "sqrt": np.sqrt, "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "floor": np.floor, "ceil": np.ceil,
    "relu": _relu_into, "relu_grad": _relu_grad_into, "rsqrt": _rsqrt_into, "clip_by_value": _clip_into,
}

# ops whose result is a new array (never a view of an input, nor kept anywhere else)
FRESH = frozenset(KERNELS) | frozenset((
    "matmul", "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "broadcast_to", "softmax",
    "identity", "reduce_sum", "reduce_mean"))
# ops whose result is always C-contiguous (matmul: when 2-D)
C_ORDER = frozenset(("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "broadcast_to"))
# ops whose result is C-contiguous when their inputs are (elementwise ones: when there is an
# input of the output's shape and all such inputs are; NumPy lays results out as the inputs)
C_LIKE_INPUTS = frozenset(KERNELS) | frozenset(("matmul", "softmax", "identity", "reduce_sum",
                                                "reduce_mean", "reshape", "cast", "stop_gradient"))
# ops whose result is a view of their input or a new array, never anything else
VIEWS = frozenset(("reshape", "transpose", "getitem", "stop_gradient", "cast", "reverse"))


def kernel(name: str):
    """(a label for generated code, the function) computing op `name` into an ``out=`` array."""
    fn = KERNELS[name]
    return (f"_np_{fn.__name__}" if isinstance(fn, np.ufunc) else fn.__name__), fn


def _c_contiguous(name, rank, in_ids, full, c_order) -> bool:
    """Is the (allocated) result of this op known to be C-contiguous?"""
    if name in C_ORDER or (name == "matmul" and rank <= 2):
        return True
    if name in KERNELS:  # without an input of the result's shape NumPy may pick another layout
        return bool(full) and all(i in c_order for i in full)
    return name in C_LIKE_INPUTS and all(i in c_order for i in in_ids)


class Reuse:
    """Node n writes into `into` (an input id); `checks`: ids whose C layout is checked at run time."""

    __slots__ = ("into", "checks")

    def __init__(self, into, checks):
        self.into, self.checks = into, checks


def plan(graph) -> dict:
    """{node index: Reuse} for the nodes that may write into a dying input (see the module doc)."""
    from ..core.op import REGISTRY
    specs = graph.specs
    outputs = set(graph.outputs)
    last_use: dict = {}
    for n, node in enumerate(graph.nodes):
        for i in node.in_ids:
            last_use[i] = n

    parent: dict = {}
    info: dict = {}        # class root -> [tainted, owned, last use of any member]

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def new(i, owned, tainted=False):
        parent[i] = i
        info[i] = [tainted or i in outputs, owned, last_use.get(i, -1)]

    def join(i, into, owned=True):
        """Put the new value i into into's class (merging the classes of several inputs too)."""
        root = find(into)
        if i not in parent:
            parent[i] = root
            klass = info[root]
            klass[0] = klass[0] or i in outputs
            klass[2] = max(klass[2], last_use.get(i, -1))
        else:
            other = find(i)
            if other != root:
                parent[other] = root
                a, b = info[root], info.pop(other)
                info[root] = [a[0] or b[0], a[1] and b[1], max(a[2], b[2])]
        info[root][1] = info[root][1] and owned

    for i in (*graph.inputs, *graph.variables, *graph.constants):
        new(i, owned=False, tainted=True)
    c_order: set = set()
    reuse: dict = {}
    for n, node in enumerate(graph.nodes):
        if node.guard is not None:
            continue
        if node.op is None:                      # a staged call: it may keep what it gets and returns
            for i in node.in_ids:
                info[find(i)][0] = True
            for o in node.out_ids:
                new(o, owned=False, tainted=True)
            continue
        (out,) = node.out_ids
        name = node.op.name
        shape, dtype = specs[out]
        known = REGISTRY.get(name) is node.op
        full = [i for i in dict.fromkeys(node.in_ids) if tuple(specs[i][0]) == tuple(shape)]
        chosen = None
        if known and name in KERNELS and not node.params and len(shape) > 0 and \
                np.dtype(dtype).kind in "biufc":
            for v in full:
                klass = info[find(v)]
                if (np.dtype(specs[v][1]) == np.dtype(dtype) and not klass[0] and klass[1]
                        and klass[2] == n):
                    chosen = v
                    break
        if chosen is not None:
            checks = tuple(i for i in full if i not in c_order)
            reuse[n] = Reuse(chosen, checks)
            join(out, chosen)
            if not checks:
                c_order.add(out)
            continue
        if known and _c_contiguous(name, len(shape), node.in_ids, full, c_order):
            c_order.add(out)
        if known and name in FRESH:
            new(out, owned=True)
        elif not node.in_ids:
            new(out, owned=False)                # made from nothing: could be anyone's array
        else:
            for i in node.in_ids:                # a view of its inputs, or an unknown result
                join(out, i, owned=known and name in VIEWS)
    return reuse
