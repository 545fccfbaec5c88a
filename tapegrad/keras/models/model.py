"""Model: a Layer with layers inside, made by subclassing or by the functional API.

``class MyModel(tf.keras.Model)`` with a ``call`` method is a subclassed model; its sublayers
build on its first call.  ``tf.keras.Model(inputs, outputs)`` returns a ``Functional`` model
(see ``functional.py``), as Keras 3 does.  Training (``compile``/``fit``/``evaluate``/``predict``)
comes from the ``Trainer`` mixin in ``training.py``.
"""
from __future__ import annotations

import itertools

from ..layers.base import Layer, _shapes
from .training import Trainer

_functional_classes: dict = {}


def _functional_arguments(args, kwargs) -> bool:
    """Keras's rule: `Model(inputs, outputs)` with two positional args or the keywords."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or (
        "inputs" in kwargs and "outputs" in kwargs)


class Model(Trainer, Layer):
    """A layer of layers, with what whole models need: summary, weights files, ``get_layer``.

    Subclass it and define ``call``; variables are created by the first call.

    >>> import tapegrad as tf
    >>> class Affine(tf.keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = tf.Variable(tf.ones([input_shape[-1], 2]), name="w")
    ...     def call(self, x):
    ...         return tf.matmul(x, self.w)
    >>> class MyModel(tf.keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.affine = Affine()
    ...     def call(self, x, training=None):
    ...         return self.affine(x)
    >>> model = MyModel()
    >>> model.trainable_variables
    []
    >>> model(tf.ones([1, 3])).numpy()
    array([[3., 3.]], dtype=float32)
    >>> [v.shape for v in model.trainable_variables]
    [TensorShape([3, 2])]
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            from .functional import Functional
            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        from .functional import Functional
        if _functional_arguments(args, kwargs) and not isinstance(self, Functional):
            # `class Net(Model)` whose __init__ calls super().__init__(inputs, outputs) (as Keras
            # allows): the object becomes a functional model that keeps Net's methods and name.
            cls = type(self)
            if cls not in _functional_classes:
                _functional_classes[cls] = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__})
            self.__class__ = _functional_classes[cls]
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"{type(self).__name__}.__init__ takes keyword arguments only "
                            f"(name=, trainable=, dtype=); received positional arguments {args!r}. "
                            "For a functional model pass both `inputs` and `outputs`.")
        super().__init__(**kwargs)
        self._keras_graph = None

    # -- layers ----------------------------------------------------------------------------
    def _graph_layers(self) -> list:
        """The layers a Sequential or functional model holds by construction (none here)."""
        return []

    def _sublayers(self):
        seen = set()
        for layer in itertools.chain(self._graph_layers(), super()._sublayers()):
            if id(layer) not in seen:
                seen.add(id(layer))
                yield layer

    def get_layer(self, name=None, index=None):
        """A layer of the model by its unique name, or by its index in ``model.layers``.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Layer(name="first"),
        ...                              tf.keras.layers.Layer(name="second")])
        >>> model.get_layer("second").name, model.get_layer(index=0).name
        ('second', 'first')
        """
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # -- building --------------------------------------------------------------------------
    def _build_from(self, args, kwargs) -> None:
        """First call: record the input shape; sublayers build as the call reaches them."""
        first = args[0] if args else next(iter(kwargs.values()), None)
        shape = _shapes(first)
        if type(self).build is not Model.build:
            self._keras_lazy_build = True  # a user build() calling super().build() must not run call
            try:
                self.build(shape)
            finally:
                self._keras_lazy_build = False
        self._build_input_shape = shape
        self.built = True

    def build(self, input_shape) -> None:
        """Create every variable by running the model once for inputs of `input_shape`.

        The batch dim may be None.  Keras 3 only marks a subclassed model built here and
        leaves its variables missing; running it instead makes ``summary`` and
        ``save_weights`` work right after ``build``.

        >>> import tapegrad as tf
        >>> class Net(tf.keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = tf.Variable(2.0)
        ...     def call(self, x):
        ...         return x * self.scale
        >>> net = Net()
        >>> net.build((None, 3)); net.built
        True
        """
        if getattr(self, "_keras_lazy_build", False):
            self.built = True
            return
        from .functional import KerasTensor, _map_shapes, _output_spec
        specs = _map_shapes(lambda s: KerasTensor(s), input_shape)
        try:
            # Symbolic first: the sublayers then record shapes with an unknown batch dim
            self.call(specs)
        except Exception:  # noqa: BLE001 - e.g. raw ops on KerasTensors: run on zeros instead
            self.built = True  # so __call__ below does not come back here
            _output_spec(self, (specs,), {})
        self._build_input_shape = _map_shapes(tuple, input_shape)
        self.built = True

    # -- display and files -----------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the Keras 3 table of layers, output shapes and parameter counts.

        >>> import tapegrad as tf
        >>> class Scale(tf.keras.layers.Layer):
        ...     def build(self, input_shape):
        ...         self.w = tf.Variable(tf.ones(input_shape[1:]), name="w")
        ...     def call(self, x):
        ...         return x * self.w
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), Scale(name="scale")], name="tiny")
        >>> model.summary(line_length=50)
        Model: "tiny"
        ┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━┓
        ┃ Layer (type)        ┃ Output Shape   ┃ Param # ┃
        ┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━┩
        │ scale (Scale)       │ (None, 4)      │       4 │
        └─────────────────────┴────────────────┴─────────┘
         Total params: 4 (16.00 B)
         Trainable params: 4 (16.00 B)
         Non-trainable params: 0 (0.00 B)
        """
        from .summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Write the whole model (config, weights, optimizer state) as a Keras 3 ``.keras`` file.

        >>> import os, tempfile, tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> model.save(path)
        >>> tf.keras.models.load_model(path).output_shape
        (None, 1)
        """
        from ..saving_lib import save_model
        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def to_json(self, **kwargs) -> str:
        """The model's Keras 3 config as a JSON string (``model_from_json`` reads it back).

        >>> import json, tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
        >>> json.loads(model.to_json())["class_name"]
        'Sequential'
        """
        from ..saving_lib import to_json
        return to_json(self, **kwargs)

    def get_build_config(self):
        """``{"input_shape": ...}`` of the built model, else None (what ``build_from_config`` takes).

        >>> import tapegrad as tf
        >>> tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)]).get_build_config()
        {'input_shape': (None, 2)}
        """
        shape = getattr(self, "_build_input_shape", None)
        if not self.built or shape is None:
            return None
        from .functional import _map_shapes
        return {"input_shape": _map_shapes(tuple, shape)}

    def build_from_config(self, config) -> None:
        """Build from ``get_build_config()``'s dict (Keras 3's ``input_shape`` or ``shapes_dict``)."""
        shape = config.get("input_shape")
        if shape is None and config.get("shapes_dict"):
            shapes = list(config["shapes_dict"].values())
            shape = shapes[0] if len(shapes) == 1 else shapes
        if shape is not None and not self.built:
            self.build(shape)

    def get_compile_config(self):
        """The arguments of ``compile`` (optimizer, loss, metrics, ...), None before it.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> config = model.get_compile_config()
        >>> type(config["optimizer"]).__name__, config["loss"]
        ('SGD', 'mse')
        """
        if not getattr(self, "compiled", False):
            return None
        loss, metrics = self._keras_compile_loss, self._keras_compile_metrics
        return {"optimizer": self.optimizer, "loss": loss._user_loss if loss else None,
                "loss_weights": loss._user_loss_weights if loss else None,
                "metrics": metrics._user_metrics if metrics else None,
                "weighted_metrics": metrics._user_weighted_metrics if metrics else None,
                "run_eagerly": self.run_eagerly, "steps_per_execution": self.steps_per_execution,
                "jit_compile": self.jit_compile}

    def compile_from_config(self, config) -> None:
        """``compile`` with ``get_compile_config()``'s (serialized) arguments; a built model's
        optimizer is built too, so that saved optimizer state can load into it."""
        import inspect

        from ..serialization import deserialize_keras_object
        config = deserialize_keras_object(config)
        accepted = inspect.signature(self.compile).parameters
        self.compile(**{k: v for k, v in config.items() if k in accepted})
        if self.built and getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    def save_weights(self, filepath, overwrite=True):
        """Write every weight to `filepath`: Keras 3's ``.weights.h5`` layout, or ``.npz``.

        ``.weights.h5`` needs h5py; ``.npz`` needs nothing beyond NumPy.  See
        ``tapegrad.keras.saving``.

        >>> import os, tempfile, tapegrad as tf
        >>> class Net(tf.keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = tf.Variable([1.0, 2.0])
        ...     def call(self, x):
        ...         return x * self.w
        >>> net = Net()
        >>> _ = net(tf.ones([1, 2]))
        >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
        >>> net.save_weights(path)
        >>> _ = net.w.assign([0.0, 0.0]); net.load_weights(path); net.w.numpy()
        array([1., 2.], dtype=float32)
        """
        from .. import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Read weights written by ``save_weights`` (or by Keras 3) into this built model.

        >>> import os, tempfile, tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> model.save_weights(path)
        >>> copy = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
        >>> copy.load_weights(path)
        >>> bool((copy.layers[0].kernel.numpy() == model.layers[0].kernel.numpy()).all())
        True
        """
        from .. import saving
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)
