"""``while_loop`` as an op of a traced program: its condition and body traced once as sub-programs.

The loop variables are the equation's first inputs, then what the sub-programs capture; the
outputs are the final loop variables.  A TensorArray carried by the loop is its buffer tensor
(one made at its first write inside the loop, when nothing was written before it).  A loop a
tape watches also keeps, for its vjp, the states of the loop variables its backward reads
(stacked, one row per iteration) and the number of iterations; its vjp is a loop running the
body's vjp (traced once, with the forward) from the last iteration to the first.
"""
from __future__ import annotations

import numpy as np

from ..core.aval import ShapedArray, public_shape
from ..core.op import state
from ..core.nest import flatten, pack_sequence_as
from ..core.tensor import Tensor, Variable, convert_to_tensor
from .control_flow import (_ControlFlow, _Tracing, _as_output, _read, _seed, _unify_inputs, _vjp_of, _zeros,
                           trace_subgraph)
from .graph import Graph
from .interpret import run_graph


class WhileLoop(_ControlFlow):
    """params: cond, body (sub-programs taking the loop variables, then the captures),
    maximum_iterations (a size, or None), and for a loop a tape watches: backward (the body's
    vjp as a sub-program) and saved (the loop variables whose state at the start of each
    iteration it reads).  Outputs: the final loop variables; for a watched loop also the
    number of iterations and, per saved variable, its states stacked."""

    name = "while"

    def abstract(self, avals, params):
        body, saved = params["body"], params["saved"]
        n = len(body.outputs)
        finals = []
        for k, var in enumerate(avals[:n]):
            before, after = body.avals[body.inputs[k]].shape, body.avals[body.outputs[k]].shape
            # a dim the body provably keeps is the initial value's; one it may change is unknown
            finals.append(ShapedArray(tuple(d if p == q and (isinstance(p, int) or body.outer_size(p) == d)
                                            else None
                                            for d, p, q in zip(var.shape, before, after)), var.dtype))
        if params["backward"] is None:
            return tuple(finals)
        return tuple(finals) + (ShapedArray((), np.int32),) + \
            tuple(ShapedArray((None,) + finals[k].shape, finals[k].dtype) for k in saved)

    def write(self, w, graph, eqn, indent):
        cond_g, body = eqn.params["cond"], eqn.params["body"]
        saved, limit, watched = eqn.params["saved"], eqn.params["maximum_iterations"], eqn.params["backward"]
        n = len(body.outputs)
        carry = [w.local[o] for o in eqn.out_ids[:n]]
        inits, caps = eqn.in_ids[:n], eqn.in_ids[n:]
        w.emit(indent, f"{', '.join(carry)}, = ({''.join(w.ref(graph, i) + ', ' for i in inits)})" if carry
               else "pass", eqn.site)
        stacks = [w.local[o] for o in eqn.out_ids[n + 1:]]
        for s in stacks:
            w.emit(indent, f"{s} = []")
        counter = None
        if limit is not None or watched is not None:
            counter = w.fresh("_iteration")
            w.emit(indent, f"{counter} = 0")
        inner = indent + "    "
        w.emit(indent, "while True:" if limit is None else f"while {counter} < {w.param_code(limit)}:")
        for g in (cond_g, body):
            w.bind_inputs(g, carry + [w.ref(graph, c) for c in caps], inner)
            w.body(g, inner)
            if g is cond_g:
                w.emit(inner, f"if not {w.ref(g, g.outputs[0])}:")
                w.emit(inner + "    ", "break")
                for s, k in zip(stacks, saved):
                    w.emit(inner, f"{s}.append({carry[k]})")
        if carry:
            w.emit(inner, f"{', '.join(carry)}, = ({''.join(w.ref(body, o) + ', ' for o in body.outputs)})")
        if counter is not None:
            w.emit(inner, f"{counter} += 1")
        if watched is not None:
            w.env["np"] = np
            w.emit(indent, f"{w.local[eqn.out_ids[n]]} = np.array({counter}, np.int32)")
            for s, k in zip(stacks, saved):
                w.emit(indent, f"{s} = np.stack({s}) if {s} else np.empty((0,) + np.shape({carry[k]}), "
                               f"np.asarray({carry[k]}).dtype)")

    def interpret(self, eqn, ins, variables):
        params = eqn.params
        cond_g, body, limit = params["cond"], params["body"], params["maximum_iterations"]
        n = len(body.outputs)
        caps = list(ins[n:])

        def test(*v):
            return run_graph(cond_g, list(v) + caps, variables)[0]

        def step(*v):
            return run_graph(body, list(v) + caps, variables)

        if params["backward"] is None:
            return flatten(tf_while_loop(test, step, list(ins[:n]), maximum_iterations=limit))
        if state.graph is not None:
            return _build(state.graph, test, step, list(ins[:n]), None, limit, None, keep=params["saved"])
        return _run_keeping(test, step, list(ins[:n]), limit, params["saved"])

    def backward(self, g, out, inputs, cond, body, maximum_iterations, saved, backward):
        """Cotangents of the inputs: a loop from the last iteration to the first, each running the
        body's vjp (`backward`, traced with the forward loop) on that iteration's saved state."""
        from ..ops.indexing import gather
        n = len(body.outputs)
        finals, count, stacks = out[:n], out[n], out[n + 1:]
        g_finals, g_stacks = g[:n], g[n + 1:]
        caps = list(inputs[n:])
        float_vars = [k for k in range(n) if finals[k]._value.dtype.kind in "fc"]
        float_caps = [k for k, c in enumerate(caps) if c._value.dtype.kind in "fc"]
        stacked = dict(zip(saved, stacks))
        stack_seeds = {k: _seed(g, s) for k, g, s in zip(saved, g_stacks, stacks) if g is not None}

        def more(i, *_):
            return i >= 0

        def step(i, *cts):
            state_i = [gather(stacked[k], i) if k in stacked else finals[k] for k in range(n)]
            outs = run_graph(backward, state_i + caps + list(cts[:len(float_vars)]))
            new_vars = list(outs[:len(float_vars)])
            for j, k in enumerate(float_vars):
                if stack_seeds.get(k) is not None:
                    new_vars[j] = new_vars[j] + gather(stack_seeds[k], i)
            new_caps = [a + b for a, b in zip(cts[len(float_vars):], outs[len(float_vars):])]
            return [i - 1] + new_vars + new_caps

        start = [count - 1] + [_seed(g_finals[k], finals[k]) for k in float_vars] + \
            [_zeros(caps[k]) for k in float_caps]
        result = flatten(tf_while_loop(more, step, start))[1:]
        grads = [None] * len(inputs)
        for j, k in enumerate(float_vars):
            grads[k] = result[j]
        for j, k in enumerate(float_caps):
            grads[n + k] = result[len(float_vars) + j]
        return grads


def tf_while_loop(cond_fn, body_fn, loop_vars, maximum_iterations=None):
    """The public while_loop (Python eagerly, an equation while tracing)."""
    from ..ops.control_flow import while_loop as public
    return public(cond_fn, body_fn, loop_vars, maximum_iterations=maximum_iterations)


def _run_keeping(test, step, values, limit, saved):
    """A loop run now (eagerly), also returning its iteration count and the saved states stacked."""
    from ..ops.array import stack
    states = {k: [] for k in saved}
    count = 0
    while (limit is None or count < limit) and bool(test(*values)):
        for k in saved:
            states[k].append(values[k])
        values = list(step(*values))
        count += 1
    stacks = [stack(states[k]) if states[k] else _zeros(values[k])[None][:0] for k in saved]
    return list(values) + [convert_to_tensor(np.int32(count))] + stacks


_SHAPE_CHANGE = ("Input tensor '{name}' enters the loop with shape {before}, but has shape {after} after one "
                 "iteration. To allow the shape to vary across iterations, use the `shape_invariants` "
                 "argument of tf.while_loop to specify a less-specific shape.")


def while_loop(cond, body, loop_vars, shape_invariants=None, maximum_iterations=None, names=None):
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``, traced once into one
    while equation; returns the final loop variables in their structure (TensorArrays too)."""
    values = [_loop_value(v) for v in flatten(loop_vars)]

    def run_cond(*vs):
        return cond(*_unflat(loop_vars, vs))

    def run_body(*vs):
        out = body(*_unflat(loop_vars, vs))
        if not isinstance(out, (list, tuple, dict)) and len(values) == 1:
            out = [out]
        return out

    outs = _build(state.graph, run_cond, run_body, values, shape_invariants, maximum_iterations, names)
    return _unflat(loop_vars, outs[:len(values)])


class _LoopTrace:
    """The loop variables as a sub-program sees them: placeholders, and TensorArrays around them.

    A TensorArray without a buffer yet (nothing written before the loop) gets its placeholder
    at its first write inside the loop, when its element type is known (`pending`)."""

    def __init__(self, values, shapes, names):
        self.values, self.shapes, self.names = values, shapes, names
        self.elements: dict = {}   # pending k -> the element ShapedArray its first write gave

    def trace(self, graph, fn, name, what):
        sub = Graph(name, graph)
        ids = {}
        args = []
        for k, v in enumerate(self.values):
            tensor = _component(v)
            if tensor is None:
                args.append(v._copy())
                args[-1]._pending = self._materializer(sub, k, ids, v)
                continue
            ph = sub.placeholder(self.shapes[k], tensor._value.dtype, self.names[k])
            ids[k] = ph._id
            args.append(v._with_component(ph) if tensor is not v else ph)
        with _Tracing(sub):
            result = fn(*args)
            leaves = flatten(result)
            outputs = []
            for k, leaf in enumerate(leaves):
                if (k < len(self.values) and _is_array(self.values[k]) and _is_array(leaf)
                        and _component(leaf) is None):
                    leaf = leaf._copy()
                    leaf._buffer = leaf._traced_buffer() if k not in self.elements else None
                leaf = _component(leaf) if _is_array(leaf) else leaf
                if leaf is None:
                    raise ValueError(f"a TensorArray carried by the loop ({self.names[k]}) was not written "
                                     f"to inside it and has no element shape: give element_shape=... "
                                     f"when creating it")
                t = _as_output(sub, leaf, what)
                outputs.append(sub.use(t) if not isinstance(t, Variable) else sub.use(_read(t)))
            sub.outputs = outputs
        return sub, result, ids

    def _materializer(self, sub, k, ids, ta):
        def materialize(element):
            self.elements.setdefault(k, element)
            rows = None if ta._dynamic else ta._rows()
            ph = sub.placeholder((rows,) + tuple(element.shape), element.dtype, self.names[k])
            ids[k] = ph._id
            return ph
        return materialize


def _is_array(v) -> bool:
    from ..ops.tensor_array import TensorArray
    return isinstance(v, TensorArray)


def _component(v):
    return v._component() if _is_array(v) else v


def _build(graph, run_cond, run_body, values, shape_invariants, maximum_iterations, names, keep=None):
    """Trace the loop and record its equation; its outputs.  `keep`: stack these loop variables'
    states (and count the iterations) even if no tape watches (an interpreted watched loop)."""
    values = [_loop_value(v) for v in values]
    n = len(values)
    names = names or [f"loop_var_{k}" for k in range(n)]
    invariants = flatten(shape_invariants) if shape_invariants is not None else [None] * n
    shapes = [None if _component(v) is None else _invariant(_component(v), inv)
              for v, inv in zip(values, invariants)]
    loop = _LoopTrace(values, shapes, names)
    cond_g, cond_result, cond_ids = loop.trace(graph, run_cond, "while_cond", "the loop condition")
    if len(cond_g.outputs) != 1 or cond_g.avals[cond_g.outputs[0]].dtype != np.bool_ or \
            cond_g.avals[cond_g.outputs[0]].ndim != 0:
        raise TypeError(f"the condition of a while loop must return a scalar bool tensor, "
                        f"got {cond_result!r}")
    body_g, _, body_ids = loop.trace(graph, run_body, "while_body", "the loop body")
    if len(body_g.outputs) != n:
        raise ValueError(f"The body of a while loop returned {len(body_g.outputs)} values for {n} loop "
                         f"variables: the body must return the loop variables' structure.")
    flat = []
    for k, v in enumerate(values):  # a TensorArray given its buffer in the loop starts from zeros
        if _component(v) is None:
            placeholder = body_g.avals[body_ids[k]]
            outside = _outer_type(placeholder, names[k], body_g)
            v = v._with_component(_zeros_of(outside, placeholder.dtype, v))
            values[k] = v
            if k not in cond_ids:
                cond_ids[k] = cond_g.placeholder(placeholder.shape, placeholder.dtype,
                                                 names[k] + "_unused")._id
        flat.append(_component(v))
    for sub, ids in ((cond_g, cond_ids), (body_g, body_ids)):
        loop_ids = [ids[k] for k in range(n)]
        sub.inputs = loop_ids + [i for i in sub.inputs if i not in loop_ids]
    _check_loop_types(body_g, names)
    outer = _unify_inputs(graph, (cond_g, body_g), n)
    tensors = flat + [graph.tensor(o) for o in outer]
    params = {"cond": cond_g, "body": body_g, "maximum_iterations": _limit(maximum_iterations), "saved": (),
              "backward": None}
    if keep is not None:
        params.update(saved=tuple(keep), backward=_for_backward(graph, body_g, flat, outer)["backward"])
    elif _watched(tensors):
        params.update(_for_backward(graph, body_g, flat, outer))
    outs = graph.apply(WhileLoop(), tensors, params)
    outs = [outs] if isinstance(outs, Tensor) else list(outs)
    return [v._with_component(o) if _is_array(v) else o for v, o in zip(values, outs[:n])] + outs[n:]


def _check_loop_types(body, names) -> None:
    """TF's errors for a loop variable whose dtype, rank or static size the body changes (a symbolic
    size may change)."""
    for k, (placeholder, o) in enumerate(zip(body.inputs, body.outputs)):
        before, after = body.avals[placeholder], body.avals[o]
        if before.dtype != after.dtype:
            raise TypeError(f"Loop variable '{names[k]}' has dtype {before.dtype.name} before the loop, "
                            f"but dtype {after.dtype.name} after one iteration. All loop variables must "
                            f"keep their dtype.")
        if before.ndim != after.ndim or any(isinstance(b, int) and a != b
                                            for b, a in zip(before.shape, after.shape)):
            raise ValueError(_SHAPE_CHANGE.format(name=names[k], before=public_shape(before.shape),
                                                  after=public_shape(after.shape)))


def _outer_type(aval, name, inside) -> tuple:
    """A TensorArray's buffer shape learned inside a loop, as the enclosing program knows it."""
    shape = tuple(inside.outer_size(d) for d in aval.shape)
    if any(d is None for d in shape):
        raise ValueError(f"the TensorArray {name} gets elements whose shape is known only inside the loop "
                         f"({public_shape(aval.shape[1:])}): give element_shape=... when creating it")
    return shape


def _zeros_of(shape, dtype, ta):
    from ..ops.array import broadcast_to
    rows = shape[0] if not ta._dynamic else 0
    shape = (rows,) + tuple(shape[1:])
    return broadcast_to(Tensor(np.zeros((), dtype)), tuple(d for d in shape))


def _for_backward(graph, body, flat, outer) -> dict:
    """The body's vjp as a sub-program (state, captures, cotangents of the float loop variables ->
    cotangents of the float loop variables and captures), and which states it reads (to stack)."""
    from .passes import eliminate_dead_code
    n = len(flat)
    caps = [graph.avals[o] for o in outer]
    float_vars = [k for k in range(n) if flat[k]._value.dtype.kind in "fc"]
    float_caps = [k for k, c in enumerate(caps) if c.dtype.kind in "fc"]
    args = [(body.avals[i].shape, body.avals[i].dtype, f"state_{k}") for k, i in enumerate(body.inputs[:n])]
    args += [(c.shape, c.dtype, f"capture_{k}") for k, c in enumerate(caps)]
    args += [(body.avals[body.outputs[k]].shape, body.avals[body.outputs[k]].dtype, f"ct_{k}")
             for k in float_vars]

    def vjp(*xs):
        inputs, cts = list(xs[:n + len(caps)]), list(xs[n + len(caps):])
        seeds = [None] * n
        for j, k in enumerate(float_vars):
            seeds[k] = cts[j]
        return list(_vjp_of(body, inputs, seeds, float_vars + [n + k for k in float_caps]))

    backward, _ = trace_subgraph(graph, vjp, args, "while_body_vjp", "the loop body's vjp")
    if backward.captures:
        raise NotImplementedError("the vjp of a while loop body captured a value of the enclosing program")
    eliminate_dead_code(backward)
    used = set(backward.outputs)
    for eqn in backward.eqns:
        used.update(eqn.in_ids)
    return {"saved": tuple(k for k in range(n) if backward.inputs[k] in used), "backward": backward}


def _watched(tensors) -> bool:
    for tape in state.tapes:
        for t in tensors:
            if t._id in tape._ids or (t._trainable and tape._watch_accessed):
                return True
    return False


def _loop_value(v):
    if (isinstance(v, Tensor) and not isinstance(v, Variable)) or _is_array(v):
        return v
    if isinstance(v, (bool, int, float, np.ndarray, np.generic)) or isinstance(v, Variable):
        return convert_to_tensor(v)
    raise TypeError(f"a while loop's variables must be tensors or Python numbers, got {v!r}")


def _invariant(v, invariant):
    shape = v._value.shape
    if invariant is None:
        return shape
    from ..core.shape import as_shape
    inv = as_shape(invariant)
    if inv.rank is None:
        raise NotImplementedError("a shape invariant of unknown rank: give the rank, with None dims")
    if len(inv) != len(shape) or any(i is not None and isinstance(d, int) and i != d
                                     for i, d in zip(inv, shape)):
        raise ValueError(f"The shape invariant {inv} is not compatible with the initial shape "
                         f"{public_shape(shape)} of a loop variable.")
    return tuple(d if i is not None else None for d, i in zip(shape, inv))


def _limit(maximum_iterations):
    if maximum_iterations is None:
        return None
    if isinstance(maximum_iterations, Tensor):
        from ..core.op import static_value
        return static_value(maximum_iterations)
    return int(maximum_iterations)


def _unflat(structure, values):
    values = list(values)
    if isinstance(structure, (list, tuple, dict)):
        return pack_sequence_as(structure, values)
    return values[0] if len(values) == 1 else values


# -- a loop over a tf.data.Dataset ---------------------------------------------------------------

class DatasetLoop(_ControlFlow):
    """``for element in dataset`` in a traced function: the body traced once, as a sub-program taking
    the loop variables, then the element's tensors, then what it captures; the compiled program
    iterates the dataset when it runs (TF's dataset reduce).  params: body, test (a sub-program of
    the loop variables and captures deciding whether to go on - a lowered ``break`` - or None),
    dataset."""

    name = "for_dataset"

    def __init__(self):
        self.vjps = None  # a dataset's elements are data: nothing differentiates through the loop

    def abstract(self, avals, params):
        body = params["body"]
        n = len(body.outputs)
        return tuple(ShapedArray(tuple(d if p == q and (isinstance(p, int) or body.outer_size(p) == d)
                                       else None
                                       for d, p, q in zip(var.shape, body.avals[body.inputs[k]].shape,
                                                          body.avals[body.outputs[k]].shape)), var.dtype)
                     for k, var in enumerate(avals[:n]))

    def write(self, w, graph, eqn, indent):
        body, test = eqn.params["body"], eqn.params["test"]
        n = len(body.outputs)
        m = len(body.inputs) - n - (len(eqn.in_ids) - n)
        carry = [w.local[o] for o in eqn.out_ids]
        caps = eqn.in_ids[n:]
        elements = w.global_("_elements", _arrays_of(eqn.params["dataset"]))
        item = w.fresh("element")
        w.emit(indent, f"{', '.join(carry)}, = ({''.join(w.ref(graph, i) + ', ' for i in eqn.in_ids[:n])})"
               if carry else "pass", eqn.site)
        w.emit(indent, f"for {item} in {elements}():")
        inner = indent + "    "
        if test is not None:
            w.bind_inputs(test, carry + [w.ref(graph, c) for c in caps], inner)
            w.body(test, inner)
            w.emit(inner, f"if not {w.ref(test, test.outputs[0])}:")
            w.emit(inner + "    ", "break")
        w.bind_inputs(body, carry + [f"{item}[{j}]" for j in range(m)] + [w.ref(graph, c) for c in caps],
                      inner)
        w.body(body, inner)
        if carry:
            w.emit(inner, f"{', '.join(carry)}, = ({''.join(w.ref(body, o) + ', ' for o in body.outputs)})")

    def interpret(self, eqn, ins, variables):
        body, test, dataset = eqn.params["body"], eqn.params["test"], eqn.params["dataset"]
        n = len(body.outputs)
        caps = list(ins[n:])
        if state.graph is not None:  # an outer trace: traced again into its program
            return dataset_loop(dataset,
                                lambda element, *v: run_graph(body, list(v) + flatten(element) + caps,
                                                              variables), list(ins[:n]),
                                None if test is None
                                else lambda *v: run_graph(test, list(v) + caps, variables)[0])
        values = list(ins[:n])
        for element in dataset:
            if test is not None and not bool(run_graph(test, values + caps, variables)[0]):
                break
            values = run_graph(body, values + flatten(element) + caps, variables)
        return values


def _arrays_of(dataset):
    """The dataset's elements, each as a tuple of its arrays (flattened), iterated afresh per call."""
    def elements():
        for element in dataset:
            yield tuple(t._value if isinstance(t, Tensor) else np.asarray(t) for t in flatten(element))
    return elements


def dataset_loop(dataset, body, loop_vars, extra_test=None):
    """``for element in dataset: loop_vars = body(element, *loop_vars)`` (while ``extra_test(*loop_vars)``),
    traced once into one equation; returns the final loop variables (a list)."""
    graph = state.graph
    values = [_loop_value(v) for v in loop_vars]
    n = len(values)
    spec = flatten(dataset.element_spec)
    args = [(v._value.shape, v._value.dtype, f"loop_var_{k}") for k, v in enumerate(values)]
    elements = [(tuple(s.shape) if s.shape.rank is not None else (), np.dtype(s.dtype.as_numpy_dtype),
                 f"element_{j}")
                for j, s in enumerate(spec)]

    def run_body(*xs):
        return list(body(pack_sequence_as(dataset.element_spec, list(xs[n:])), *xs[:n]))

    body_g, _ = trace_subgraph(graph, run_body, args + elements, "dataset_body", "the loop body")
    test_g = None
    if extra_test is not None:
        test_g, _ = trace_subgraph(graph, lambda *vs: extra_test(*vs), args, "dataset_test",
                                   "the loop's test")
    _check_loop_types(body_g, [f"loop_var_{k}" for k in range(n)])
    subs = (body_g,) if test_g is None else (body_g, test_g)
    outer = _unify_inputs(graph, subs, [n + len(spec), n][:len(subs)])
    tensors = values + [graph.tensor(o) for o in outer]
    if _watched(tensors):
        raise NotImplementedError("a gradient through a loop over a tf.data.Dataset inside a tf.function: "
                                  "take the gradient inside the loop body (a training step per element)")
    outs = graph.apply(DatasetLoop(), tensors, {"body": body_g, "test": test_g, "dataset": dataset})
    return [outs] if isinstance(outs, Tensor) else list(outs)
