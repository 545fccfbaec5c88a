"""The recurrent cells (Keras 3): SimpleRNNCell, LSTMCell, GRUCell, and StackedRNNCells.

A cell computes one time step, ``output, new_states = cell(inputs, states)``, with Keras 3's weights:
``kernel`` (input_dim, k * units), ``recurrent_kernel`` (units, k * units) and ``bias``, the gates in
Keras' order (LSTM: input, forget, cell, output; GRU: update, reset, candidate).  The built-in cells
also split a step into the input projection (``project``: one matmul over the whole sequence, with
the input dropout mask, before the loop) and the recurrent part (``step``): the RNN layer's loop then
runs only what depends on the previous step.
"""

from __future__ import annotations

import numbers

import numpy as np

from ... import activations
from ...initializers import Initializer
from .._utils import lookup, positive_int, serialize
from ....core.aval import dims
from ....ops.array import expand_dims, reshape, split
from ....ops.creation import ones_like, zeros
from ....ops.linalg import matmul
from ....ops import nn as _nn
from ..base import Layer

__all__ = ["DropoutRNNCell", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"]


def _matmul_last(x, w):
    """x @ w on x's last axis, for x of rank 2 or more (one 2-D matmul)."""
    if x.ndim == 2:
        return matmul(x, w)
    lead = tuple(dims(x)[:-1])
    return reshape(matmul(reshape(x, (-1, dims(x)[-1])), w), lead + (dims(w)[-1],))


def _rate(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a float between 0 "
            f"and 1. Received: {name}={value}"
        )
    return min(1.0, max(0.0, float(value)))


class DropoutRNNCell:
    """What a cell with ``dropout``/``recurrent_dropout`` shares: one dropout mask per sequence for the
    inputs and one for the recurrent state, drawn at the first step and reused by every step (Keras
    3's ``DropoutRNNCell``); the RNN layer resets them after each sequence.

    >>> import tapegrad as tf
    >>> cell = tf.keras.layers.SimpleRNNCell(2, dropout=0.5)
    >>> mask = cell.get_dropout_mask(tf.ones([3, 4]))
    >>> mask is cell.get_dropout_mask(tf.ones([3, 4])), mask.shape
    (True, TensorShape([3, 4]))
    """

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = _nn.dropout(ones_like(step_input), self.dropout, seed=self.seed)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = _nn.dropout(
                ones_like(step_input), self.recurrent_dropout, seed=self.seed
            )
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None


class _Cell(DropoutRNNCell, Layer):
    """The arguments and weights the built-in cells share; ``gates`` blocks of ``units`` columns."""

    gates = 1

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        units = positive_int(units, "units")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = lookup("initializers", kernel_initializer)
        self.recurrent_initializer = lookup("initializers", recurrent_initializer)
        self.bias_initializer = lookup("initializers", bias_initializer)
        self.kernel_regularizer = lookup("regularizers", kernel_regularizer)
        self.recurrent_regularizer = lookup("regularizers", recurrent_regularizer)
        self.bias_regularizer = lookup("regularizers", bias_regularizer)
        self.kernel_constraint = lookup("constraints", kernel_constraint)
        self.recurrent_constraint = lookup("constraints", recurrent_constraint)
        self.bias_constraint = lookup("constraints", bias_constraint)
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.state_size = units
        self.output_size = units

    def _build_weights(self, input_shape, bias_shape, bias_initializer=None) -> None:
        input_dim = tuple(input_shape)[-1]
        if input_dim is None:
            raise ValueError(
                f"Layer '{self.name}': the last axis of the inputs must be known to build "
                f"the cell; received input_shape={tuple(input_shape)}"
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            initializer=self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape,
                initializer=bias_initializer or self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    # -- one step, in two parts ------------------------------------------------------------------
    def project(self, inputs, training=False):
        """The input's part of a step: ``dropout(inputs) @ kernel (+ input bias)``, for one step
        (batch, features) or a whole sequence (batch, time, features) at once."""
        if training and 0 < self.dropout < 1:
            step_input = inputs if inputs.ndim == 2 else inputs[:, 0]
            mask = self.get_dropout_mask(step_input)
            inputs = inputs * (mask if inputs.ndim == 2 else expand_dims(mask, 1))
        z = _matmul_last(inputs, self.kernel)
        bias = self._input_bias()
        return z if bias is None else z + bias

    def _input_bias(self):
        return self.bias

    def _recurrent_input(self, h, training):
        if training and 0 < self.recurrent_dropout < 1:
            h = h * self.get_recurrent_dropout_mask(h)
        return h

    def call(self, inputs, states, training=False):
        return self.step(self.project(inputs, training), states, training)

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **self._extra_config(),
            "kernel_initializer": serialize("initializers", self.kernel_initializer),
            "recurrent_initializer": serialize("initializers", self.recurrent_initializer),
            "bias_initializer": serialize("initializers", self.bias_initializer),
            "kernel_regularizer": serialize("regularizers", self.kernel_regularizer),
            "recurrent_regularizer": serialize("regularizers", self.recurrent_regularizer),
            "bias_regularizer": serialize("regularizers", self.bias_regularizer),
            "kernel_constraint": serialize("constraints", self.kernel_constraint),
            "recurrent_constraint": serialize("constraints", self.recurrent_constraint),
            "bias_constraint": serialize("constraints", self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            **self._tail_config(),
            "seed": self.seed,
        }

    def _extra_config(self) -> dict:
        return {}

    def _tail_config(self) -> dict:
        return {}


class SimpleRNNCell(_Cell):
    """One step of a fully-connected RNN: ``h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)``.

    >>> import tapegrad as tf
    >>> cell = tf.keras.layers.SimpleRNNCell(4)
    >>> out, states = cell(tf.ones([2, 3]), [tf.zeros([2, 4])])
    >>> out.shape, [tuple(w.shape) for w in cell.weights]
    (TensorShape([2, 4]), [(3, 4), (4, 4), (4,)])
    """

    def build(self, input_shape) -> None:
        self._build_weights(input_shape, (self.units,))

    def step(self, z, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h = z + matmul(self._recurrent_input(h_prev, training), self.recurrent_kernel)
        if self.activation is not activations.linear:
            h = self.activation(h)
        return h, ([h] if isinstance(states, (list, tuple)) else h)


class _UnitForgetBias(Initializer):
    """The LSTM bias with ``unit_forget_bias``: the bias initializer, ones for the forget gate."""

    def __init__(self, initializer, units):
        self.initializer, self.units = initializer, units

    def __call__(self, shape, dtype=None, **kwargs):
        from ... import initializers

        base = initializers.get(self.initializer)
        u = self.units
        parts = [base((u,), dtype=dtype), np.ones((u,)), base((2 * u,), dtype=dtype)]
        return np.concatenate([np.asarray(p) for p in parts]).astype(np.asarray(parts[0]).dtype)


class LSTMCell(_Cell):
    """One step of a Long Short-Term Memory layer; states ``[h, c]``; gates i, f, c, o (Keras' order).

    >>> import tapegrad as tf
    >>> cell = tf.keras.layers.LSTMCell(4)
    >>> out, (h, c) = cell(tf.ones([2, 3]), [tf.zeros([2, 4]), tf.zeros([2, 4])])
    >>> out.shape, [tuple(w.shape) for w in cell.weights]
    (TensorShape([2, 4]), [(3, 16), (4, 16), (16,)])
    """

    gates = 4

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras 2's argument; Keras 3 accepts and ignores it
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            kernel_constraint,
            recurrent_constraint,
            bias_constraint,
            dropout,
            recurrent_dropout,
            seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape) -> None:
        init = _UnitForgetBias(self.bias_initializer, self.units) if self.unit_forget_bias else None
        self._build_weights(input_shape, (4 * self.units,), init)

    def step(self, z, states, training=False):
        h_prev, c_prev = states[0], states[1]
        z = z + matmul(self._recurrent_input(h_prev, training), self.recurrent_kernel)
        zi, zf, zc, zo = split(z, 4, axis=-1)
        i = self.recurrent_activation(zi)
        f = self.recurrent_activation(zf)
        c = f * c_prev + i * self.activation(zc)
        o = self.recurrent_activation(zo)
        h = o * self.activation(c)
        return h, [h, c]

    def _extra_config(self) -> dict:
        return {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
        }


class GRUCell(_Cell):
    """One step of a Gated Recurrent Unit; gates z (update), r (reset), h (candidate), Keras' order.

    ``reset_after=True`` (Keras 3's default, cuDNN's form) applies the reset gate after the recurrent
    matmul and has two biases, ``bias`` shaped (2, 3 * units): the input's and the recurrent one.

    >>> import tapegrad as tf
    >>> cell = tf.keras.layers.GRUCell(4)
    >>> out, states = cell(tf.ones([2, 3]), [tf.zeros([2, 4])])
    >>> out.shape, [tuple(w.shape) for w in cell.weights]
    (TensorShape([2, 4]), [(3, 12), (4, 12), (2, 12)])
    """

    gates = 3

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            kernel_constraint,
            recurrent_constraint,
            bias_constraint,
            dropout,
            recurrent_dropout,
            seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def build(self, input_shape) -> None:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._build_weights(input_shape, shape)

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def step(self, z, states, training=False):
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states
        h_in = self._recurrent_input(h_prev, training)
        x_z, x_r, x_h = split(z, 3, axis=-1)
        u = self.units
        if self.reset_after:
            inner = matmul(h_in, self.recurrent_kernel)
            if self.bias is not None:
                inner = inner + self.bias[1]
            rec_z, rec_r, rec_h = split(inner, 3, axis=-1)
            zt = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            rec_h = r * rec_h
        else:
            inner = matmul(h_in, self.recurrent_kernel[:, : 2 * u])
            rec_z, rec_r = split(inner, 2, axis=-1)
            zt = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            rec_h = matmul(r * h_in, self.recurrent_kernel[:, 2 * u :])
        hh = self.activation(x_h + rec_h)
        h = zt * h_prev + (1.0 - zt) * hh
        return h, ([h] if nested else h)

    def _extra_config(self) -> dict:
        return {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
        }

    def _tail_config(self) -> dict:
        return {"reset_after": self.reset_after}


class StackedRNNCells(Layer):
    """Several cells run as one: each step feeds one cell's output to the next; the states are the
    cells' states, one list per cell.

    >>> import tapegrad as tf
    >>> cells = tf.keras.layers.StackedRNNCells([tf.keras.layers.LSTMCell(3), tf.keras.layers.GRUCell(2)])
    >>> cells.state_size, cells.output_size
    ([[3, 3], 2], 2)
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if "call" not in dir(cell):
                raise ValueError(
                    f"All cells must have a `call` method. Received cell without a `call` method: {cell}"
                )
            if "state_size" not in dir(cell):
                raise ValueError(
                    f"All cells must have a `state_size` attribute. Received cell without a "
                    f"`state_size`: {cell}"
                )
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        if getattr(last, "output_size", None) is not None:
            return last.output_size
        size = last.state_size
        return size[0] if isinstance(size, (list, tuple)) else size

    def get_initial_state(self, batch_size=None):
        out = []
        for cell in self.cells:
            get = getattr(cell, "get_initial_state", None)
            if get is not None:
                out.append(get(batch_size=batch_size))
            else:
                sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
                out.append([zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes])
        return out

    def build(self, input_shape) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
                cell.built = True
            size = getattr(cell, "output_size", None)
            if size is None:
                size = cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else cell.state_size
            shape = shape[:-1] + (size,)
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            nested = isinstance(cell_states, (list, tuple))
            cell_states = list(cell_states) if nested else [cell_states]
            kwargs = {"training": training} if getattr(cell, "_call_has_training", False) else {}
            inputs, new = cell(inputs, cell_states, **kwargs)
            new = list(new) if isinstance(new, (list, tuple)) else [new]
            new_states.append(new if nested else new[0])
        return inputs, new_states

    def get_config(self) -> dict:
        from ...saving import serialize_keras_object

        return {**super().get_config(), "cells": [serialize_keras_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ...saving import deserialize_keras_object

        config = dict(config)
        cells = [deserialize_keras_object(c, custom_objects=custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)
