"""SimpleRNN, LSTM and GRU: an RNN over its built-in cell, with Keras 3's arguments and weights
(``layer.cell.kernel``, ``recurrent_kernel``, ``bias``; saved as ``<layer>/cell/vars/0..2``)."""

from __future__ import annotations

from .._utils import lookup, serialize
from .cells import GRUCell, LSTMCell, SimpleRNNCell
from .rnn import RNN

__all__ = ["SimpleRNN", "LSTM", "GRU"]

_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")
_BASE_KEYS = ("name", "trainable", "dtype", "batch_input_shape")


class _CellLayer(RNN):
    """An RNN whose cell is built from the layer's own arguments; the cell's arguments read through."""

    cell_class = None
    cell_name = None

    def __init__(
        self,
        cell_kwargs,
        activity_regularizer=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        kwargs.pop("use_cudnn", None)  # tapegrad has no cuDNN path: 'auto' is the only behaviour
        kwargs.pop("time_major", None)
        cell = self.cell_class(
            name=self.cell_name,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.activity_regularizer = lookup("regularizers", activity_regularizer)

    def __getattr__(self, name):
        # units, activation, dropout, ... are the cell's (Keras 3 exposes them as properties)
        if name.startswith("_") or name == "cell":
            raise AttributeError(name)
        cell = self.__dict__.get("cell")
        if cell is not None and name in cell.__dict__:
            return cell.__dict__[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self) -> dict:
        config = RNN.get_config(self)
        del config["cell"]
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in _BASE_KEYS}
        seed = cell_config.pop("seed", None)
        config.update(cell_config)
        config["activity_regularizer"] = serialize("regularizers", self.activity_regularizer)
        if self._has_seed:
            config["seed"] = seed
        return config

    _has_seed = True

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class SimpleRNN(_CellLayer):
    """Fully-connected RNN whose output is fed back as its input.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.SimpleRNN(4, return_sequences=True)
    >>> layer(tf.ones([2, 5, 3])).shape, [w.path.split("/")[1] for w in layer.weights]
    (TensorShape([2, 5, 4]), ['kernel', 'recurrent_kernel', 'bias'])
    """

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"
    _has_seed = False

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell_kwargs = dict(
            units=units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )
        super().__init__(
            cell_kwargs,
            activity_regularizer,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            unroll,
            **kwargs,
        )


class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter 1997); ``return_state`` adds the states ``h, c``.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.LSTM(4)
    >>> layer(tf.ones([2, 5, 3])).shape, [tuple(w.shape) for w in layer.weights]
    (TensorShape([2, 4]), [(3, 16), (4, 16), (16,)])
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        cell_kwargs = dict(
            units=units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )
        super().__init__(
            cell_kwargs,
            activity_regularizer,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            unroll,
            **kwargs,
        )
        self.use_cudnn = use_cudnn


class GRU(_CellLayer):
    """Gated Recurrent Unit (Cho et al. 2014); ``reset_after=True`` is Keras 3's (and cuDNN's) variant.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.GRU(4)
    >>> layer(tf.ones([2, 5, 3])).shape, [tuple(w.shape) for w in layer.weights]
    (TensorShape([2, 4]), [(3, 12), (4, 12), (2, 12)])
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        cell_kwargs = dict(
            units=units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            reset_after=reset_after,
            seed=seed,
        )
        super().__init__(
            cell_kwargs,
            activity_regularizer,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            unroll,
            **kwargs,
        )
        self.use_cudnn = use_cudnn
