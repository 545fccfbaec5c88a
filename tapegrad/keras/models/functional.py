"""The functional API: symbolic tensors, the graph of layer calls, and the Functional model.

Calling a layer on a ``KerasTensor`` (what ``Input`` returns) runs nothing for real: the
layer is built from the symbolic shapes, its output shapes are found by running it on zero
arrays, and a ``Node`` records the call.  ``Model(inputs, outputs)`` then walks those nodes
back from the outputs, orders them as Keras 3 does, and replays them on real tensors.
"""
from __future__ import annotations

import collections
import contextlib

import numpy as np

from ...core import dtypes
from ...core import op as _op
from ...core.nest import flatten, pack_sequence_as
from ...core.shape import TensorShape
from ...core.tensor import Tensor, Variable, convert_to_tensor
from ..layers.base import Layer, is_symbolic, unique_name
from .model import Model

# Sizes an unknown dim takes while a layer runs for its output shape: two runs, and a dim of
# the output that differs between them depends on the unknown one (so it is unknown too).
# Non-batch dims get larger sizes, so stacked strided convolutions and pools keep a size >= 1.
_BATCH_SIZES = (1, 2)
_OTHER_SIZES = (32, 64)


class KerasHistory(collections.namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])):
    """Where a KerasTensor came from: ``operation._inbound_nodes[node_index]``, output ``tensor_index``.

    >>> import tapegrad as tf
    >>> history = tf.keras.Input(shape=(2,), name="features")._keras_history
    >>> history.operation.name, history.node_index, history.tensor_index
    ('features', 0, 0)
    """


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown dims) and a dtype, no values.

    ``Input`` makes them; calling layers on them builds a functional model's graph.

    >>> import tapegrad as tf
    >>> x = tf.keras.Input(shape=(4,), name="features")
    >>> x.shape, x.dtype, x.name
    (TensorShape([None, 4]), tf.float32, 'features')
    """

    _is_keras_tensor = True
    # Makes NumPy's operators defer to ours instead of building an object array
    __array_priority__ = 200

    def __init__(self, shape, dtype="float32", sparse=False, name=None):
        self.shape = TensorShape(shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.sparse = bool(sparse)
        self.name = name or unique_name("keras_tensor")
        self._keras_history = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    rank = ndim

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"{self!r} is symbolic: it stands for a shape and a dtype in a functional model and "
            "has no values, so it cannot become a NumPy array. Use Keras layers on it (for example "
            "`tf.keras.layers.Lambda` around a tapegrad function), or call the model on real data.")

    def numpy(self):
        self.__array__()

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic and has no truth value; Python control flow on "
                        "values does not work while a functional model is being defined.")

    def __repr__(self) -> str:
        return (f"<KerasTensor shape={_shape_text(self.shape)}, dtype={self.dtype.name}, "
                f"sparse={self.sparse}, name={self.name}>")

    __str__ = __repr__

    # Arithmetic on KerasTensors records an operation node, as Keras 3's ops do
    # (`x + shortcut`, `2.0 * x`, `x[:, 0]`).  Comparisons stay identity-based.
    def __add__(self, other):
        return _apply("add", self, other)

    def __radd__(self, other):
        return _apply("add", self, other, reflected=True)

    def __sub__(self, other):
        return _apply("subtract", self, other)

    def __rsub__(self, other):
        return _apply("subtract", self, other, reflected=True)

    def __mul__(self, other):
        return _apply("multiply", self, other)

    def __rmul__(self, other):
        return _apply("multiply", self, other, reflected=True)

    def __truediv__(self, other):
        return _apply("true_divide", self, other)

    def __rtruediv__(self, other):
        return _apply("true_divide", self, other, reflected=True)

    def __floordiv__(self, other):
        return _apply("floor_divide", self, other)

    def __mod__(self, other):
        return _apply("mod", self, other)

    def __pow__(self, other):
        return _apply("power", self, other)

    def __rpow__(self, other):
        return _apply("power", self, other, reflected=True)

    def __matmul__(self, other):
        return _apply("matmul", self, other)

    def __rmatmul__(self, other):
        return _apply("matmul", self, other, reflected=True)

    def __neg__(self):
        return _apply("negative", self)

    def __abs__(self):
        return _apply("absolute", self)

    def __getitem__(self, key):
        return _apply("get_item", self, key)


class Node:
    """One call of a layer on symbolic inputs: what went in, with which arguments, what came out.

    >>> import tapegrad as tf
    >>> class Half(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return x / 2.0
    >>> half = Half()
    >>> y = half(tf.keras.Input(shape=(3,)))
    >>> node = half._inbound_nodes[0]
    >>> node.output_tensors == [y], [t.shape for t in node.input_tensors]
    (True, [TensorShape([None, 3])])
    """

    def __init__(self, layer, call_args=(), call_kwargs=None, outputs=None):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = outputs
        self.input_tensors = [x for x in flatten([list(self.call_args), self.call_kwargs]) if is_symbolic(x)]
        self.output_tensors = [x for x in flatten(outputs) if is_symbolic(x)]
        nodes = layer.__dict__.setdefault("_inbound_nodes", [])
        nodes.append(self)
        index = len(nodes) - 1
        for i, tensor in enumerate(self.output_tensors):
            tensor._keras_history = KerasHistory(layer, index, i)

    @property
    def is_input(self) -> bool:
        return not self.input_tensors

    @property
    def parent_nodes(self) -> list:
        return [_node_of(x) for x in self.input_tensors if x._keras_history is not None]

    operation = property(lambda self: self.layer)

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}: {len(self.input_tensors)} in, {len(self.output_tensors)} out>"


def layer_io(layer, what):
    """``layer.input``/``layer.output``: the KerasTensor(s) of its first call on symbolic inputs.

    >>> import tapegrad as tf
    >>> x = tf.keras.Input(shape=(3,))
    >>> dense = tf.keras.layers.Dense(2)
    >>> y = dense(x)
    >>> dense.output is y, dense.input is x
    (True, True)
    """
    if what in layer.__dict__:
        return layer.__dict__[what]
    nodes = layer.__dict__.get("_inbound_nodes", [])
    if not nodes:
        raise AttributeError(f"Layer '{layer.name}' has never been called and thus has no defined {what}.")
    node = nodes[0]  # as Keras: the first call's tensors
    if what == "output":
        return node.outputs
    tensors = node.input_tensors
    return tensors[0] if len(tensors) == 1 else tensors


def _node_of(tensor) -> Node:
    layer, node_index, _ = tensor._keras_history
    return layer._inbound_nodes[node_index]


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# -- operations: Python operators on KerasTensors ----------------------------------------

class Operation(Layer):
    """A node of a functional graph that applies a Python operator (``x + y``), not a layer.

    It has no weights, is not in ``model.layers`` (nor in weights files) and shows in
    ``summary`` under its Keras 3 name, as Keras 3's operations do.

    >>> import tapegrad as tf
    >>> x = tf.keras.Input(shape=(2,))
    >>> y = 1.0 - x * 2.0
    >>> model = tf.keras.Model(x, y)
    >>> model.layers[1:], [type(op).__name__ for op in model._keras_graph.operations[1:]]
    ([], ['Multiply', 'Subtract'])
    >>> model(tf.ones([1, 2])).numpy()
    array([[-1., -1.]], dtype=float32)
    """

    _keras_operation = True
    _reflected = False

    def __init__(self, reflected=False, **kwargs):
        super().__init__(**kwargs)
        self._reflected = bool(reflected)

    def call(self, *args):
        if self._reflected:  # `other - x` was recorded as (x, other)
            args = args[::-1]
        return type(self)._fn(*args)

    def get_config(self) -> dict:
        return {**super().get_config(), "reflected": self._reflected}


def _make_operations() -> dict:
    import operator
    table = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
             "true_divide": operator.truediv, "floor_divide": operator.floordiv, "mod": operator.mod,
             "power": operator.pow, "matmul": operator.matmul, "negative": operator.neg,
             "absolute": operator.abs, "get_item": operator.getitem}
    return {name: type("".join(part.title() for part in name.split("_")), (Operation,),
                       {"_fn": staticmethod(fn), "__module__": __name__, "__doc__": Operation.__doc__})
            for name, fn in table.items()}


_OPERATIONS = _make_operations()


def _apply(name, tensor, *others, reflected=False):
    return _OPERATIONS[name](reflected=reflected, dtype=tensor.dtype.name)(tensor, *others)


# -- inputs ------------------------------------------------------------------------------------

class InputLayer(Layer):
    """The layer behind ``Input``: it has no weights and one node, which makes its KerasTensor.

    >>> import tapegrad as tf
    >>> layer = tf.keras.models.InputLayer(shape=(3,), name="pixels")
    >>> layer.batch_shape, layer.output.shape
    ((None, 3), TensorShape([None, 3]))
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        # Keras 2 spellings, still accepted by Keras 3
        if shape is None and kwargs.get("input_shape") is not None:
            shape = kwargs.pop("input_shape")
        if batch_shape is None and kwargs.get("batch_input_shape") is not None:
            batch_shape = kwargs.pop("batch_input_shape")
        kwargs.pop("input_shape", None)
        kwargs.pop("batch_input_shape", None)
        if sparse:
            raise ValueError("tapegrad has no sparse tensors, so `sparse=True` inputs are not supported.")
        if input_tensor is not None:
            if not is_symbolic(input_tensor):
                raise ValueError("Argument `input_tensor` must be a KerasTensor. "
                                 f"Received: input_tensor={input_tensor} of type {type(input_tensor)}")
            batch_shape = tuple(input_tensor.shape)
            dtype = dtype or input_tensor.dtype
        elif shape is not None:
            if batch_shape is not None:
                raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
            batch_shape = (batch_size,) + _standardize_shape(shape, "shape")
        elif batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        batch_shape = _standardize_shape(batch_shape, "batch_shape")
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        self.batch_shape = batch_shape
        self.sparse = bool(sparse)
        self.optional = bool(optional)
        if input_tensor is None:
            input_tensor = KerasTensor(batch_shape, dtype=self.dtype, name=self.name)
        self.output = input_tensor
        Node(self, outputs=input_tensor)
        self.built = True

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": self.sparse,
                "name": self.name, "optional": self.optional}


def _standardize_shape(shape, what: str) -> tuple:
    if isinstance(shape, (int, np.integer)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"Cannot convert '{shape}' to a shape: `{what}` must be a tuple such as (4,) "
                         "with one entry per dimension (None for an unknown size).")
    dims = []
    for d in shape:
        if d is not None and (not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0):
            raise ValueError(f"Cannot convert '{tuple(shape)}' to a shape: every entry must be a "
                             f"non-negative int or None. Found: {d!r}")
        dims.append(None if d is None else int(d))
    return tuple(dims)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input of a functional model: a KerasTensor with an unknown batch dim.

    >>> import tapegrad as tf
    >>> x = tf.keras.Input(shape=(28, 28), dtype="float32")
    >>> x.shape
    TensorShape([None, 28, 28])
    >>> tf.keras.Input(batch_shape=(8, 3)).shape
    TensorShape([8, 3])
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)
    return layer.output


# -- calling layers on KerasTensors ---------------------------------------------------------

def symbolic_call(layer, args, kwargs):
    """Call `layer` on KerasTensors: build it, infer its outputs, record a Node, return the outputs.

    ``Layer.__call__`` sends here any call whose arguments hold a KerasTensor.

    >>> import tapegrad as tf
    >>> class Double(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return tf.concat([x, x], axis=-1)
    >>> y = Double()(tf.keras.Input(shape=(3,)))
    >>> y.shape, y._keras_history.node_index
    (TensorShape([None, 6]), 0)
    """
    kwargs = dict(kwargs)
    if not layer.built:
        try:
            layer._build_from(args, kwargs)
        except Exception as e:
            _add_note(e, f"(while building layer '{layer.name}' of type {type(layer).__name__} for "
                         f"symbolic inputs {_describe(args, kwargs)})")
            raise
        layer.built = True
        if getattr(layer, "_build_input_shape", None) is None:
            layer._build_input_shape = _spec_shapes(args[0] if args else next(iter(kwargs.values())))
    outputs = _output_spec(layer, args, kwargs)
    Node(layer, args, kwargs, outputs)
    return outputs


def output_shape_by_running(layer, input_shape):
    """The output shape of `layer` for inputs of `input_shape`, found by running it on zeros.

    This is ``Layer.compute_output_shape``'s default.  Unknown dims (None) are tried at two
    sizes; an output dim that changes with them is unknown too.  Nothing the layer holds
    changes (weights, losses), and no tape records the run.

    >>> import tapegrad as tf
    >>> class Pairs(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return tf.reshape(x, [-1, 2])
    >>> Pairs().compute_output_shape((None, 4))
    TensorShape([None, 2])
    """
    specs = _map_shapes(lambda s: KerasTensor(s, dtype=layer.dtype), input_shape)
    if not layer.built:
        layer.build(input_shape)
        layer.built = True
    return _map_specs(lambda t: t.shape, _output_spec(layer, (specs,), {}))


def _output_spec(layer, args, kwargs):
    """KerasTensors for what `layer` returns on inputs like the KerasTensors in args/kwargs."""
    flat = flatten([list(args), kwargs])
    symbolic = [x for x in flat if is_symbolic(x)]
    has_unknown = any(d is None for x in symbolic for d in x.shape)
    runs = []
    for run in range(2 if has_unknown else 1):
        values = [_zeros(x, run) if is_symbolic(x) else x for x in flat]
        run_args, run_kwargs = pack_sequence_as([list(args), kwargs], values)
        run_kwargs = {**run_kwargs, "training": False}
        with _isolated(layer):
            try:
                out = layer(*run_args, **run_kwargs)
            except Exception as e:
                _add_note(e, f"(while running layer '{layer.name}' of type {type(layer).__name__} on "
                             f"zeros to infer its output shape for {_describe(args, kwargs)})")
                raise
        runs.append(out)
    leaves = [flatten(out) for out in runs]
    specs = []
    for i, first in enumerate(leaves[0]):
        if not isinstance(first, (Tensor, np.ndarray)):
            raise TypeError(f"Layer '{layer.name}' returned {first!r} (type {type(first).__name__}) "
                            "where a functional model needs tensors.")
        shape = tuple(first.shape)
        if len(leaves) > 1:
            other = tuple(leaves[1][i].shape)
            if len(other) != len(shape):
                raise ValueError(f"Layer '{layer.name}' returns tensors of different ranks for inputs "
                                 f"that differ only in unknown dims: {shape} and {other}.")
            shape = tuple(a if a == b else None for a, b in zip(shape, other))
        specs.append(KerasTensor(shape, dtype=dtypes.as_dtype(first.dtype)))
    return pack_sequence_as(runs[0], specs)


def _zeros(spec, run: int) -> Tensor:
    shape = [(_BATCH_SIZES if axis == 0 else _OTHER_SIZES)[run] if d is None else d
             for axis, d in enumerate(spec.shape)]
    return convert_to_tensor(np.zeros(shape, dtype=spec.dtype.as_numpy_dtype))


@contextlib.contextmanager
def _isolated(layer):
    """Run `layer` for its shapes only: no tape records, and weights and losses are put back."""
    layers = _all_layers(layer)
    values = [(v, v._value) for v in layer.weights]
    losses = [(sub, list(sub._losses)) for sub in layers]
    try:
        with _op.paused():
            yield
    finally:
        for v, value in values:
            if v._value is not value:
                v._value = value
        for sub, kept in losses:
            # The run may have cleared or added losses; add_loss puts back what there was
            sub._losses = []
            for loss in kept:
                sub.add_loss(loss)


def _all_layers(layer) -> list:
    """`layer` and every layer inside it, each once."""
    out, seen, stack = [], set(), [layer]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        stack.extend(current._sublayers())
    return out


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in value)


def _map_shapes(fn, shapes):
    """Apply fn to each shape in a nest of shapes (a shape is a tuple of ints and Nones)."""
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(_map_shapes(fn, s) for s in shapes)
    raise ValueError(f"Expected a shape (a tuple of ints and None) or a list/dict of shapes. "
                     f"Received: {shapes!r}")


def _map_specs(fn, structure):
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])


def _spec_shapes(structure):
    return _map_specs(lambda x: TensorShape(x.shape) if hasattr(x, "shape") else x, structure)


def _describe(args, kwargs) -> str:
    shapes = [_shape_text(x.shape) for x in flatten([list(args), kwargs]) if is_symbolic(x)]
    return "inputs of shape " + ", ".join(shapes) if shapes else "inputs without tensors"


def _add_note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):  # Python 3.11+
        error.add_note(note)


# -- the graph -------------------------------------------------------------------------------

class Graph:
    """The layer calls between `inputs` and `outputs`, ordered as Keras 3 orders them.

    ``operations``: the layers, deepest first (inputs first), ties in order of first visit
    from the outputs; ``nodes_by_depth``: the nodes to run, deepest first.

    >>> import tapegrad as tf
    >>> class Neg(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return -x
    >>> x = tf.keras.Input(shape=(2,), name="x")
    >>> graph = Graph(x, Neg(name="second")(Neg(name="first")(x)))
    >>> [layer.name for layer in graph.operations]
    ['x', 'first', 'second']
    >>> graph.execute([tf.ones([1, 2])]).numpy()
    array([[1., 1.]], dtype=float32)
    """

    def __init__(self, inputs, outputs):
        self.inputs_struct, self.outputs_struct = inputs, outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        for what, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            for t in tensors:
                if not is_symbolic(t) or (t._keras_history is None and what == "outputs"):
                    raise ValueError(f"All `{what}` values must be KerasTensors (what `tf.keras.Input` "
                                     f"and layers called on it return). Received: {what}={t!r}")
        nodes, first_seen = self._post_order()
        depth_of_node, depth_of_layer = self._depths(nodes)
        for t in self.inputs:
            node = _node_of(t) if t._keras_history is not None else None
            if node is not None and node.is_input and t._keras_history.operation not in depth_of_layer:
                depth_of_layer[t._keras_history.operation] = 0  # an input no output uses
                first_seen[t._keras_history.operation] = -1
                depth_of_node[node] = 0
        by_depth = collections.defaultdict(list)
        for node, depth in depth_of_node.items():
            by_depth[depth].append(node)
        self.nodes_by_depth = {d: by_depth[d] for d in sorted(by_depth, reverse=True)}
        layers_by_depth = collections.defaultdict(list)
        for layer, depth in depth_of_layer.items():
            layers_by_depth[depth].append(layer)
        self.operations = [layer for d in sorted(layers_by_depth, reverse=True)
                           for layer in sorted(layers_by_depth[d], key=first_seen.__getitem__)]
        self.nodes = set(depth_of_node)
        self._check_connected()
        self._run_nodes = self._nodes_to_run()
        names = [layer.name for layer in self.operations]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. '
                                 "All layer names should be unique.")

    def _post_order(self):
        """Nodes from the inputs to the outputs (iterative DFS, so deep models are fine)."""
        input_ids = {id(t) for t in self.inputs}
        finished, in_progress, order, first_seen = set(), set(), [], {}
        for output in self.outputs:
            stack = [(output, False)]
            while stack:
                tensor, expanded = stack.pop()
                if tensor._keras_history is None:
                    if id(tensor) in input_ids:
                        continue
                    raise ValueError(f"Graph disconnected: {tensor} was not made by `tf.keras.Input` or a "
                                     "layer call, and it is not among the model's `inputs`.")
                node = _node_of(tensor)
                if expanded:
                    in_progress.discard(node)
                    if node not in finished:
                        finished.add(node)
                        order.append(node)
                    continue
                if node in finished:
                    continue
                if not node.is_input and id(tensor) in input_ids:
                    finished.add(node)  # an intermediate tensor declared as an input: stop here
                    continue
                if node in in_progress:
                    raise ValueError(f"Tensor {tensor} from layer '{node.layer.name}' is part of a cycle.")
                first_seen.setdefault(node.layer, len(first_seen))
                in_progress.add(node)
                stack.append((tensor, True))
                for parent in reversed(node.input_tensors):
                    stack.append((parent, False))
        return order, first_seen

    @staticmethod
    def _depths(nodes):
        """Depth = calls between a node and the outputs; a shared layer takes its deepest node's."""
        in_graph = set(nodes)
        depth_of_node, depth_of_layer = {}, {}
        for node in reversed(nodes):
            depth = max(depth_of_node.setdefault(node, 0), depth_of_layer.get(node.layer, 0))
            depth_of_layer[node.layer] = depth
            depth_of_node[node] = depth
            for parent in node.parent_nodes:
                if parent in in_graph:
                    depth_of_node[parent] = max(depth + 1, depth_of_node.get(parent, 0))
        return depth_of_node, depth_of_layer

    def _check_connected(self) -> None:
        computable = {id(t) for t in self.inputs}
        done = []
        for nodes in self.nodes_by_depth.values():
            for node in nodes:
                if node.is_input and not any(id(t) in computable for t in node.output_tensors):
                    raise ValueError(
                        f"Graph disconnected: cannot obtain value for tensor {node.output_tensors[0]} "
                        f"at layer '{node.layer.name}': it is an Input that is not among the model's "
                        f"`inputs`. The following previous layers were accessed without issue: {done}")
                for t in node.input_tensors:
                    if id(t) not in computable:
                        raise ValueError(f"Graph disconnected: cannot find parent for tensor {t} at layer "
                                         f"'{node.layer.name}'. The following previous layers were "
                                         f"accessed without issue: {done}")
                done.append(node.layer.name)
                computable.update(id(t) for t in node.output_tensors)

    def run_nodes(self) -> list:
        """The nodes to execute, in order (the Inputs' nodes left out)."""
        return list(self._run_nodes)

    def _nodes_to_run(self) -> list:
        return [node for nodes in self.nodes_by_depth.values() for node in nodes if not node.is_input]

    def execute(self, flat_inputs):
        """Run the graph on real tensors (aligned with `inputs`); return the outputs' structure."""
        values = {id(t): x for t, x in zip(self.inputs, flat_inputs)}
        for node in self._run_nodes:
            structure = [list(node.call_args), node.call_kwargs]
            args, kwargs = pack_sequence_as(
                structure, [values[id(x)] if is_symbolic(x) else x for x in flatten(structure)])
            outputs = [x for x in flatten(node.layer(*args, **kwargs))]
            if len(outputs) != len(node.output_tensors):
                raise ValueError(f"Layer '{node.layer.name}' returned {len(outputs)} tensors, but when "
                                 f"the model was defined it returned {len(node.output_tensors)}.")
            values.update((id(t), x) for t, x in zip(node.output_tensors, outputs))
        return pack_sequence_as(self.outputs_struct, [values[id(t)] for t in self.outputs])

    def layer_nodes(self, layer) -> list:
        """The nodes of `layer` that belong to this graph, in creation order."""
        return [n for n in getattr(layer, "_inbound_nodes", []) if n in self.nodes]


# -- the Functional model ----------------------------------------------------------------------

class Functional(Model):
    """A model defined by its inputs and outputs: ``tf.keras.Model(inputs, outputs)`` makes one.

    >>> import tapegrad as tf
    >>> class Twice(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2.0 * x
    >>> x = tf.keras.Input(shape=(2,))
    >>> model = tf.keras.Model(x, Twice()(x))
    >>> type(model).__name__, model(tf.ones([1, 2])).numpy()
    ('Functional', array([[2., 2.]], dtype=float32))
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        if isinstance(inputs, dict):
            for key, t in inputs.items():
                if is_symbolic(t) and key != t.name:
                    # Keras 3 warns too: the dict keys, not the Input names, select the inputs
                    import warnings
                    warnings.warn(f"In a functional model's `inputs` dict, key {key!r} does not match "
                                  f"the name of its Input ({t.name!r}); calls must use the keys.",
                                  stacklevel=3)
        self._keras_graph = Graph(_as_plain(inputs), _as_plain(outputs))
        self.built = True

    # -- structure ---------------------------------------------------------------------------
    @property
    def inputs(self) -> list:
        return list(self._keras_graph.inputs)

    @property
    def outputs(self) -> list:
        return list(self._keras_graph.outputs)

    @property
    def input(self):
        return self._keras_graph.inputs_struct

    @property
    def output(self):
        return self._keras_graph.outputs_struct

    @property
    def input_shape(self):
        return _map_specs(lambda t: tuple(t.shape), self.input)

    @property
    def output_shape(self):
        return _map_specs(lambda t: tuple(t.shape), self.output)

    def _graph_layers(self) -> list:
        return [op for op in self._keras_graph.operations
                if isinstance(op, Layer) and not getattr(op, "_keras_operation", False)]

    # -- calling -----------------------------------------------------------------------------
    def _convert_inputs(self, x):
        return x  # `call` converts each input to its Input's dtype

    def call(self, inputs, training=None, mask=None):
        graph = self._keras_graph
        flat = self._standardize_inputs(inputs)
        return graph.execute(flat)

    def _standardize_inputs(self, inputs) -> list:
        graph = self._keras_graph
        expected = graph.inputs
        struct = graph.inputs_struct
        if isinstance(struct, dict) and isinstance(inputs, dict):
            missing = [k for k in struct if k not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' expects inputs {sorted(struct)}; missing: {missing}.")
            flat = [inputs[k] for k in sorted(struct)]  # the order of flatten(struct)
        elif isinstance(inputs, dict):
            names = [t._keras_history.operation.name for t in expected]
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' got a dict of inputs without the keys {missing} "
                                 f"(its inputs are named {names}).")
            flat = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)) and (len(expected) > 1 or (
                inputs and all(isinstance(x, (Tensor, np.ndarray)) for x in inputs))):
            flat = list(inputs)  # several inputs (a list of numbers is one input's data)
        else:
            flat = [inputs]
        if len(flat) != len(expected):
            raise ValueError(f'Layer "{self.name}" expects {len(expected)} input(s), but it received '
                             f"{len(flat)} input tensors. Inputs received: {flat!r}")
        return [self._standardize_input(i, x, t) for i, (x, t) in enumerate(zip(flat, expected))]

    def _standardize_input(self, index, x, spec):
        x = _to_tensor(x, spec.dtype)
        expected = tuple(spec.shape)
        x = adjust_rank(x, expected)
        found = tuple(x.shape)
        if len(found) != len(expected) or any(e is not None and e != f for e, f in zip(expected, found)):
            raise ValueError(f"Input {index} with name '{spec._keras_history.operation.name}' of layer "
                             f"'{self.name}' is incompatible with the layer: expected shape="
                             f"{_shape_text(expected)}, found shape={_shape_text(found)}")
        return x

    # -- config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The graph as data: each layer's config and the calls (nodes) that connect them."""
        graph = self._keras_graph
        # Node indices count only this model's calls of a layer (it may be shared with others)
        reindex = {id(node): i for layer in graph.operations
                   for i, node in enumerate(graph.layer_nodes(layer))}
        layers = []
        for layer in graph.operations:
            entry = serialize_layer(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [_node_config(node, reindex) for node in graph.layer_nodes(layer)
                                      if not node.is_input]
            layers.append(entry)

        def history(t):
            layer, node_index, tensor_index = t._keras_history
            return [layer.name, reindex[id(layer._inbound_nodes[node_index])], tensor_index]

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": _map_specs(history, graph.inputs_struct),
                "output_layers": _map_specs(history, graph.outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a functional model from ``get_config()`` with new layers (new weights)."""
        made = {}
        outputs_of = {}  # (layer name, node index) -> flat outputs
        pending = []
        for entry in config["layers"]:
            layer = deserialize_layer(entry, custom_objects)
            made[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                outputs_of[(entry["name"], 0)] = [layer.output]
            pending.extend((entry["name"], i, node) for i, node in enumerate(entry["inbound_nodes"]))
        while pending:
            waiting = []
            for name, index, node in pending:
                try:
                    args, kwargs = _node_from_config(node, outputs_of)
                except KeyError:
                    waiting.append((name, index, node))
                    continue
                outputs_of[(name, index)] = flatten(made[name](*args, **_call_kwargs(made[name], kwargs)))
            if len(waiting) == len(pending):
                raise ValueError(f"Cannot rebuild the functional model: the calls of {[w[0] for w in waiting]} "
                                 "need tensors that no layer produces.")
            pending = waiting

        def tensor(ref):
            name, node_index, tensor_index = ref
            return outputs_of[(name, node_index)][tensor_index]

        inputs = _map_refs(tensor, config["input_layers"])
        outputs = _map_refs(tensor, config["output_layers"])
        return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))


def _as_plain(structure):
    """Lists for tuples (as Keras stores them); single tensors and dicts kept as they are."""
    if isinstance(structure, tuple):
        return list(structure)
    return structure


def _to_tensor(x, dtype) -> Tensor:
    from ...ops.math import cast
    if isinstance(x, Tensor):
        if isinstance(x, Variable):
            x = x.read_value()
        return x if x.dtype == dtype else cast(x, dtype)
    return convert_to_tensor(np.asarray(x).astype(dtype.as_numpy_dtype, copy=False))


def _node_config(node, reindex) -> dict:
    def ref(x):
        if not is_symbolic(x):
            return x
        layer, node_index, tensor_index = x._keras_history
        return {"class_name": "__keras_tensor__",
                "config": {"shape": tuple(x.shape), "dtype": x.dtype.name,
                           "keras_history": [layer.name, reindex[id(layer._inbound_nodes[node_index])],
                                             tensor_index]}}
    structure = [list(node.call_args), node.call_kwargs]
    args, kwargs = pack_sequence_as(structure, [ref(x) for x in flatten(structure)])
    return {"args": tuple(args), "kwargs": kwargs}


def _call_kwargs(layer, kwargs) -> dict:
    """A node's call kwargs without what Keras 3 records for every call: ``training`` (the value at
    construction, which a model's call overrides) and a None ``mask`` the layer may not take."""
    import inspect
    params = inspect.signature(layer.call).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in kwargs.items()
            if k != "training" and (v is not None or k in params or takes_any)}


def _node_from_config(node, outputs_of):
    def resolve(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node_index, tensor_index = value["config"]["keras_history"]
            return outputs_of[(name, node_index)][tensor_index]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(resolve(v) for v in value)
        return value
    return list(resolve(list(node["args"]))), resolve(node["kwargs"])


def _map_refs(fn, refs):
    """Apply fn to each [layer name, node index, tensor index] in a nest of them."""
    if isinstance(refs, dict):
        return {k: _map_refs(fn, v) for k, v in refs.items()}
    if isinstance(refs, (list, tuple)) and len(refs) == 3 and isinstance(refs[0], str):
        return fn(refs)
    return [_map_refs(fn, r) for r in refs]


# -- layer (de)serialization -----------------------------------------------------------------

def serialize_layer(layer) -> dict:
    """``{"module", "class_name", "config", "registered_name"}`` as Keras 3 writes a layer.

    >>> import tapegrad as tf
    >>> entry = serialize_layer(tf.keras.models.InputLayer(shape=(2,), name="i"))
    >>> entry["class_name"], entry["config"]["batch_shape"]
    ('InputLayer', (None, 2))
    """
    from ..serialization import serialize_keras_object
    if isinstance(layer, Operation):  # "Add" alone would come back as the Add layer
        return {"module": "keras.ops", "class_name": f"Operation:{type(layer).__name__}",
                "config": layer.get_config(), "registered_name": None}
    return serialize_keras_object(layer)


def deserialize_layer(entry, custom_objects=None):
    """A new layer from ``serialize_layer``'s output (classes from tf.keras or `custom_objects`).

    >>> import tapegrad as tf
    >>> layer = deserialize_layer({"class_name": "InputLayer", "config": {"batch_shape": (None, 2)}})
    >>> layer.output.shape
    TensorShape([None, 2])
    """
    name = entry["class_name"]
    if not name.startswith("Operation:"):
        from ..serialization import deserialize_keras_object
        entry = {k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")}
        return deserialize_keras_object({"config": {}, **entry}, custom_objects)
    cls = _builtin_class(name)
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}: pass it in `custom_objects`, e.g. "
                         f"custom_objects={{{name!r}: {name}}}.")
    config = dict(entry.get("config", {}))
    if issubclass(cls, Model) and hasattr(cls, "from_config"):
        layer = cls.from_config(config, custom_objects) if _takes_custom_objects(cls) else cls.from_config(config)
    else:
        layer = cls.from_config(config)
    build = entry.get("build_config")
    if build and not layer.built and build.get("input_shape") is not None and not isinstance(layer, Model):
        layer.build(build["input_shape"])
        layer.built = True
        layer._build_input_shape = build["input_shape"]
    return layer


def _takes_custom_objects(cls) -> bool:
    import inspect
    return "custom_objects" in inspect.signature(cls.from_config).parameters


def _builtin_class(name: str):
    from .. import layers
    from . import sequential
    known = {"InputLayer": InputLayer, "Functional": Functional, "Model": Functional,
             "Sequential": sequential.Sequential}
    if name.startswith("Operation:"):
        return next((cls for cls in _OPERATIONS.values() if cls.__name__ == name[len("Operation:"):]), None)
    if name in known:
        return known[name]
    cls = getattr(layers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Layer) else None


def adjust_rank(x, expected: tuple):
    """`x` with a last axis of size 1 added or dropped where its rank is one off the `expected` input
    shape's, as Keras 3 feeds a model: (32,) data into an Input of shape (None, 1).

    >>> import tapegrad as tf
    >>> adjust_rank(tf.zeros([32]), (None, 1)).shape
    TensorShape([32, 1])
    """
    if x.ndim == len(expected) + 1 and x.shape[-1] == 1:
        from ...ops.array import squeeze
        return squeeze(x, axis=-1)
    if x.ndim == len(expected) - 1 and expected and expected[-1] == 1:
        from ...ops.array import expand_dims
        return expand_dims(x, -1)
    return x
