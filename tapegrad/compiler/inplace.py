"""Liveness-based buffer reuse: an elementwise op writes its result into an input that dies there.

A NumPy ufunc that reads and writes the same buffer moves two streams of memory instead of
three (no fresh output to fault in and fill), so ``relu(add(conv, bias))`` run as

    add = _np_add(conv2d, conv2d_bias._value, out=conv2d)
    relu = _relu_into(add, out=add)

is faster on large arrays than allocating each result, and gives the same bits: the same
ufunc loops run over the same operands, only the destination is another (dead) array of the
same shape, dtype and C layout.  A chain of elementwise ops whose intermediates die at their
single use so runs in one buffer - what fusing the chain into one NumPy kernel would do.

``plan(graph, eqns)`` decides, equation by equation, which input (if any) it may overwrite.
What it knows of ops is what their ``defop`` declares (``inplace``, ``result``, ``layout``).
Values are grouped into *buffer classes* (a value, and the views and unknown results made
from it); an input ``v`` may be overwritten at equation ``n`` when

- the op has an in-place form (``inplace=``) and no params, and ``v`` has the output's exact
  shape and numeric dtype (never 0-d: ufuncs return scalars there);
- ``v``'s class was allocated by the program itself (its root is a ``result="fresh"`` op's)
  and holds no program input, variable, constant, returned value, nor anything given to or
  returned by a staged call or a sub-program (which may keep what it is given);
- no value of the class is read after ``n``;
- ``v`` and every other operand of the output's full shape are C-contiguous: known from how
  they were made, or checked when the program runs (otherwise the op allocates as before), so
  the result has the layout the allocating op would have given it.
"""
from __future__ import annotations



def _c_contiguous(op, rank, in_ids, full, c_order) -> bool:
    """Is the (allocated) result of this op known to be C-contiguous?"""
    layout = op.layout(rank) if callable(op.layout) else op.layout
    if layout == "c":
        return True
    if op.inplace is not None:  # without an input of the result's shape NumPy may pick another layout
        return bool(full) and all(i in c_order for i in full)
    return layout == "like_inputs" and all(i in c_order for i in in_ids)


class Reuse:
    """Node n writes into `into` (an input id); `checks`: ids whose C layout is checked at run time."""

    __slots__ = ("into", "checks")

    def __init__(self, into, checks):
        self.into, self.checks = into, checks


def plan(graph, eqns) -> dict:
    """{equation index: Reuse} for the equations that may write into a dying input (see the module doc)."""
    from ..core.op import Op
    avals = graph.avals
    outputs = set(graph.outputs)
    last_use: dict = {}
    for n, eqn in enumerate(eqns):
        for i in eqn.in_ids:
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
    for n, eqn in enumerate(eqns):
        op = eqn.op
        if type(op) is not Op:                   # a staged call or sub-program may keep what it gets
            for i in eqn.in_ids:
                info[find(i)][0] = True
            for o in eqn.out_ids:
                new(o, owned=False, tainted=True)
            continue
        (out,) = eqn.out_ids
        shape, dtype = avals[out].shape, avals[out].dtype
        full = [i for i in dict.fromkeys(eqn.in_ids) if avals[i].shape == shape]
        chosen = None
        if op.inplace is not None and not eqn.params and len(shape) > 0 and dtype.kind in "biufc":
            for v in full:
                klass = info[find(v)]
                if avals[v].dtype == dtype and not klass[0] and klass[1] and klass[2] == n:
                    chosen = v
                    break
        if chosen is not None:
            checks = tuple(i for i in full if i not in c_order)
            reuse[n] = Reuse(chosen, checks)
            join(out, chosen)
            if not checks:
                c_order.add(out)
            continue
        if _c_contiguous(op, len(shape), eqn.in_ids, full, c_order):
            c_order.add(out)
        if op.result == "fresh":
            new(out, owned=True)
        elif not eqn.in_ids:
            new(out, owned=False)                # made from nothing: could be anyone's array
        else:
            for i in eqn.in_ids:                 # a view of its inputs, or an unknown result
                join(out, i, owned=op.result == "view")
    return reuse
