"""Sequential: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from ...core.nest import flatten
from ..layers.base import Layer, _shapes, is_symbolic
from .model import Model


class Sequential(Model):
    """A model whose layers run one after another, each on the previous one's output.

    With an input shape (an ``InputLayer``/``Input`` first, or ``input_shape=`` on the first
    layer) it is built at once, so ``summary`` works; otherwise it builds on its first call.

    >>> import tapegrad as tf
    >>> class AddOne(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return x + 1.0
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), AddOne()])
    >>> model.add(AddOne())
    >>> model.built, model.output_shape, model(tf.zeros([1, 2])).numpy()
    (True, (None, 2), array([[2., 2.]], dtype=float32))
    >>> [layer.name for layer in model.layers]
    ['add_one', 'add_one_1']
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._keras_layers = []       # as added: an InputLayer may come first
        self._keras_input = None      # the InputLayer made by build() when none was added
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._keras_layers:
            self._maybe_rebuild()

    # -- layers ------------------------------------------------------------------------------
    def _graph_layers(self) -> list:
        from .functional import InputLayer
        return [layer for layer in self._keras_layers if not isinstance(layer, InputLayer)]

    def add(self, layer, rebuild=True) -> None:
        """Append a layer (or an ``Input`` tensor, which sets the input shape)."""
        from .functional import InputLayer
        if is_symbolic(layer) and layer._keras_history is not None:
            origin = layer._keras_history.operation
            if isinstance(origin, InputLayer):
                layer = origin
        if not isinstance(layer, Layer):
            raise ValueError(  # noqa: TRY004 - Keras raises ValueError here
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                             f"Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer) and self._keras_layers:
            if isinstance(self._keras_layers[0], InputLayer):
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use "
                                 f"input shape {self._keras_layers[0].batch_shape}. You cannot add a "
                                 "different Input layer to it.")
            raise ValueError(f"An Input layer can only come first in Sequential model '{self.name}'; "
                             f"it already has layers {[l.name for l in self._keras_layers]}.")
        if any(existing.name == layer.name for existing in self._keras_layers):
            raise ValueError("All layers added to a Sequential model should have unique names. Name "
                             f"'{layer.name}' is already the name of a layer in this model. Update the "
                             "`name` argument to pass a unique name.")
        self._keras_layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self.built = False

    def pop(self, rebuild=True):
        """Remove the last layer and return it.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Layer(name="a"), tf.keras.layers.Layer(name="b")])
        >>> model.pop().name, [layer.name for layer in model.layers]
        ('b', ['a'])
        """
        if not self._graph_layers():
            raise TypeError("There are no layers in the model.")
        layer = self._keras_layers.pop()
        self.built = False
        self._keras_graph = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self) -> None:
        from .functional import InputLayer
        self.built = False
        self._keras_graph = None
        layers = self._keras_layers
        if layers and isinstance(layers[0], InputLayer) and len(layers) > 1:
            self.build(layers[0].batch_shape)
        elif layers and getattr(layers[0], "_batch_input_shape", None) is not None:
            self.build(layers[0]._batch_input_shape)

    # -- building and calling ------------------------------------------------------------------
    def _build_from(self, args, kwargs) -> None:
        first = args[0] if args else next(iter(kwargs.values()), None)
        self.build(tuple(_shapes(first)))

    def build(self, input_shape=None) -> None:
        """Run the layers on a symbolic input of `input_shape`: weights, output shapes, graph."""
        from .functional import Graph, InputLayer, _standardize_shape
        first = self._keras_layers[0] if self._keras_layers else None
        if input_shape is None:
            if isinstance(first, InputLayer):
                input_shape = first.batch_shape
            elif first is not None and getattr(first, "_batch_input_shape", None) is not None:
                input_shape = first._batch_input_shape
            else:
                raise ValueError("You must provide an `input_shape` argument.")
        # [None, 128] is one shape (as Keras reads it); a dict or a nest of shapes is several inputs
        if isinstance(input_shape, dict) or (isinstance(input_shape, (list, tuple)) and any(
                isinstance(d, (tuple, list, dict)) for d in input_shape)):
            raise ValueError("Sequential model can only have a single input: use the functional API "
                             f"(`tf.keras.Model(inputs, outputs)`) for several. Received: {input_shape}")
        input_shape = _standardize_shape(input_shape, "input_shape")
        if isinstance(first, InputLayer):
            if tuple(first.batch_shape) != input_shape and len(first.batch_shape) == len(input_shape) and \
                    any(a is not None and a != b for a, b in zip(first.batch_shape, input_shape)):
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input "
                                 f"shape {first.batch_shape}. You cannot build it with input_shape "
                                 f"{input_shape}")
            input_layer = first
        else:
            input_layer = self._keras_input = InputLayer(batch_shape=input_shape, dtype=self.dtype)
        x = input_layer.output
        for layer in self._graph_layers():
            x = layer(x)
            if len(flatten(x)) != 1:
                raise ValueError("All layers in a Sequential model should have a single output tensor. "
                                 "For multi-output layers, use the functional API.")
        self._keras_graph = Graph(input_layer.output, x)
        self._build_input_shape = input_shape
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if self._keras_graph is not None:
            from .functional import _to_tensor, adjust_rank
            spec = self._keras_graph.inputs[0]
            inputs = adjust_rank(_to_tensor(inputs, spec.dtype), tuple(spec.shape))
        x = inputs
        for layer in self._graph_layers():
            x = layer(x)  # `training` reaches each layer through the call context
        return x

    # -- structure -----------------------------------------------------------------------------
    def _graph_or_error(self, what):
        if self._keras_graph is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet.")
        return self._keras_graph

    @property
    def inputs(self) -> list:
        return list(self._graph_or_error("inputs").inputs)

    @property
    def outputs(self) -> list:
        return list(self._graph_or_error("outputs").outputs)

    @property
    def input(self):
        return self._graph_or_error("input").inputs[0]

    @property
    def output(self):
        return self._graph_or_error("output").outputs[0]

    @property
    def input_shape(self):
        return tuple(self.input.shape)

    @property
    def output_shape(self):
        return tuple(self.output.shape)

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Name, the layers' configs (an InputLayer first when there is one) and the input shape.

        >>> import tapegrad as tf
        >>> config = tf.keras.Sequential([tf.keras.Input(shape=(3,))], name="s").get_config()
        >>> config["name"], [entry["class_name"] for entry in config["layers"]]
        ('s', ['InputLayer'])
        """
        from .functional import InputLayer, serialize_layer
        layers = list(self._keras_layers)
        if self._keras_input is not None and not (layers and isinstance(layers[0], InputLayer)):
            layers.insert(0, self._keras_input)
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "layers": [serialize_layer(layer) for layer in layers]}
        if self.built and getattr(self, "_build_input_shape", None) is not None:
            config["build_input_shape"] = tuple(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new Sequential model (new layers, new weights) from ``get_config()``."""
        from .functional import deserialize_layer
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize_layer(entry, custom_objects), rebuild=False)
        model._maybe_rebuild()
        if not model.built and config.get("build_input_shape") is not None:
            model.build(config["build_input_shape"])
        return model
