"""clone_model: the same architecture with new layers (and so new weights)."""
from __future__ import annotations

from ...core.nest import flatten, pack_sequence_as
from ..layers.base import is_symbolic


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None):
    """A new Sequential or functional model with the same layers' configs and fresh weights.

    `clone_function(layer)` makes each new layer (default: ``from_config(get_config())``);
    `input_tensors` replaces the model's Inputs.  Shared layers stay shared.

    >>> import tapegrad as tf
    >>> class Twice(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2.0 * x
    >>> x = tf.keras.Input(shape=(2,))
    >>> model = tf.keras.Model(x, Twice(name="twice")(x), name="net")
    >>> copy = tf.keras.models.clone_model(model)
    >>> copy.name, copy.layers[1] is model.layers[1], copy(tf.ones([1, 2])).numpy()
    ('net', False, array([[2., 2.]], dtype=float32))
    """
    from .functional import Functional, Input, InputLayer
    from .sequential import Sequential
    clone = clone_function or _default_clone
    if isinstance(model, Sequential):
        layers = [clone(layer) for layer in model.layers]
        if input_tensors is not None:
            layers.insert(0, flatten(input_tensors)[0])
        elif model._keras_layers and isinstance(model._keras_layers[0], InputLayer):
            first = model._keras_layers[0]
            layers.insert(0, InputLayer(batch_shape=first.batch_shape, dtype=first.dtype, name=first.name))
        return Sequential(layers, name=model.name, trainable=model.trainable)
    if not isinstance(model, Functional):
        raise ValueError(  # noqa: TRY004 - Keras raises ValueError here
            "Arguments clone_function and input_tensors are only supported for Sequential "
                         f"models or Functional models. Received model of type '{type(model).__name__}'. "
                         "Build a new instance of your model class instead.")
    graph = model._keras_graph
    if input_tensors is None:
        new_inputs = [Input(batch_shape=t.shape, dtype=t.dtype, name=t._keras_history.operation.name)
                      for t in graph.inputs]
    else:
        new_inputs = flatten(input_tensors)
        if len(new_inputs) != len(graph.inputs):
            raise ValueError(f"Model '{model.name}' has {len(graph.inputs)} inputs, but "
                             f"{len(new_inputs)} input_tensors were given.")
    new_of = {id(old): new for old, new in zip(graph.inputs, new_inputs)}
    layer_of = {}
    for node in graph.run_nodes():
        layer = node.layer
        if id(layer) not in layer_of:
            layer_of[id(layer)] = clone(layer)
        structure = [list(node.call_args), node.call_kwargs]
        args, kwargs = pack_sequence_as(
            structure, [new_of[id(x)] if is_symbolic(x) else x for x in flatten(structure)])
        outputs = flatten(layer_of[id(layer)](*args, **kwargs))
        new_of.update((id(old), new) for old, new in zip(node.output_tensors, outputs))
    inputs = pack_sequence_as(graph.inputs_struct, new_inputs)
    outputs = pack_sequence_as(graph.outputs_struct, [new_of[id(t)] for t in graph.outputs])
    return Functional(inputs, outputs, name=model.name, trainable=model.trainable)
