"""RNN: a recurrent layer running a cell along the time axis (Keras 3's ``keras.layers.RNN``).

The cell is any layer (or object) with ``call(inputs, states)`` and ``state_size``; a list of cells
is stacked.  Masks (``Embedding(mask_zero=True)``, ``Masking``) make the layer skip padded steps,
carrying the states through them, as Keras does.  The built-in cells project the whole sequence
through the input kernel before the loop, so the loop runs only the recurrent part.
"""
from __future__ import annotations

import contextlib

from ....core.aval import dims
from ....core.nest import flatten, pack_sequence_as
from ....core.op import state
from ....core.tensor import Variable, convert_to_tensor
from ....ops.creation import zeros
from ....ops.math import cast
from ..base import Layer, _autocast_lock
from .cells import StackedRNNCells
from .loop import rnn

__all__ = ["RNN"]


class _States:
    """Holds a stateful layer's state variables out of its weights (Keras does not save them)."""

    def __init__(self, variables):
        self.variables = list(variables)


def _is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


_TRACKING_LISTS = ("_own_trainable", "_own_non_trainable", "_keras_no_autocast")


@contextlib.contextmanager
def _weights_read_before_loop(cell, traced: bool):
    """While a traced loop is built, the cell's (and its sublayers') variable attributes show values
    read before the loop: the loop's body then takes the weights as inputs, and its gradient reaches
    them (a variable read inside a traced loop body gets none).  The layers' locks keep other threads
    from seeing the swap."""
    if not traced:
        yield
        return
    layers = [cell] + ([sub for sub in _all_sublayers(cell)] if isinstance(cell, Layer) else [])
    with contextlib.ExitStack() as stack:
        saved = []
        for layer in layers:
            if not isinstance(layer, Layer):
                continue
            stack.enter_context(_autocast_lock(layer))
            for key, value in list(layer.__dict__.items()):
                if key in _TRACKING_LISTS:
                    continue
                if isinstance(value, Variable):
                    saved.append((layer, key, value))
                    layer.__dict__[key] = value.read_value()
                elif type(value) in (list, tuple) and any(isinstance(v, Variable) for v in value):
                    saved.append((layer, key, value))
                    layer.__dict__[key] = type(value)(v.read_value() if isinstance(v, Variable) else v
                                                      for v in value)
        try:
            yield
        finally:
            for layer, key, value in saved:
                layer.__dict__[key] = value


def _all_sublayers(layer) -> list:
    out, stack, seen = [], list(layer._sublayers()), set()
    while stack:
        sub = stack.pop()
        if id(sub) not in seen:
            seen.add(id(sub))
            out.append(sub)
            stack.extend(sub._sublayers())
    return out


class RNN(Layer):
    """A recurrent layer: ``cell`` applied along axis 1 of (batch, time, features) inputs.

    >>> import tapegrad as tf
    >>> class MinimalCell(tf.keras.layers.Layer):
    ...     def __init__(self, units):
    ...         super().__init__()
    ...         self.units = self.state_size = units
    ...     def build(self, input_shape):
    ...         self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")
    ...     def call(self, inputs, states):
    ...         output = tf.matmul(inputs, self.kernel) + states[0]
    ...         return output, [output]
    >>> layer = tf.keras.layers.RNN(MinimalCell(2), return_sequences=True)
    >>> layer(tf.ones([1, 3, 4])).numpy()[0, :, 0]
    array([ 4.,  8., 12.], dtype=float32)
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if "call" not in dir(cell):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell}")
        if "state_size" not in dir(cell):
            raise ValueError("The RNN cell should have a `state_size` attribute (single integer or list of "
                             f"integers, one integer per RNN state). Received: cell={cell}")
        super().__init__(**kwargs)
        self.zero_output_for_mask = zero_output_for_mask
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.supports_masking = True
        self._state_vars = None
        state_size = getattr(cell, "state_size", None)
        if state_size is None:
            raise ValueError("state_size must be specified as property on the RNN cell.")
        if not isinstance(state_size, (list, tuple, int)):
            raise ValueError("state_size must be an integer, or a list/tuple of integers (one for each "
                             "state tensor).")
        self.single_state = isinstance(state_size, int)
        self.state_size = [state_size] if self.single_state else list(state_size)

    @property
    def states(self):
        """The state variables of a stateful layer (None otherwise)."""
        return None if self._state_vars is None else self._state_vars.variables

    # -- building --------------------------------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None) -> None:
        sequences_shape = tuple(sequences_shape)
        if len(sequences_shape) < 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                             f"ndim=3 (batch, time, features), found ndim={len(sequences_shape)}. Full "
                             f"shape received: {sequences_shape}")
        step_shape = (sequences_shape[0],) + sequences_shape[2:]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        if self.stateful:
            if self._state_vars is not None:
                self.reset_state()
            else:
                if sequences_shape[0] is None:
                    raise ValueError("When using `stateful=True` in a RNN, the batch size must be static. "
                                     f"Found dynamic batch size: sequence.shape={sequences_shape}")
                self._state_vars = _States(
                    Variable(convert_to_tensor(s), trainable=False, name=f"{self.name}/rnn_state")
                    for s in flatten(self.get_initial_state(sequences_shape[0])))
        self.built = True

    def get_initial_state(self, batch_size):
        get = getattr(self.cell, "get_initial_state", None)
        if get is not None:
            init = get(batch_size=batch_size)
        else:
            return [zeros((batch_size, d), dtype=self.cell.compute_dtype) for d in self.state_size]
        return list(init) if _is_nested(init) else [init]

    def reset_states(self) -> None:
        self.reset_state()

    def reset_state(self) -> None:
        """Zero a stateful layer's states."""
        for v in self.states or []:
            v.assign(zeros(tuple(v.shape), dtype=v.dtype))

    # -- calling ---------------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        timesteps = sequences.shape[1]
        if self.unroll and timesteps is None:
            raise ValueError("Cannot unroll a RNN if the time dimension is undefined. \n- If using a "
                             "Sequential model, specify the time dimension by passing an `Input()` as your "
                             "first layer.\n- If using the functional API, specify the time dimension by "
                             "passing a `shape` or `batch_shape` argument to your `Input()`.")
        if initial_state is None:
            if self.stateful:
                initial_state = pack_sequence_as(self.get_initial_state(1),
                                                 [v.read_value() for v in self.states])
            else:
                initial_state = self.get_initial_state(dims(sequences)[0])
        elif self.stateful and sequences.shape[0] is not None and self.states and \
                sequences.shape[0] != self.states[0].shape[0]:
            raise ValueError(f"If an RNN is stateful, the batch size of the input sequences must be the "
                             f"same as the batch size of the initial state. \n- Expected batch size: "
                             f"{self.states[0].shape[0]}\n- Received batch size: {sequences.shape[0]}")
        if not _is_nested(initial_state):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        cell_dtype = getattr(self.cell, "compute_dtype", self.compute_dtype)
        initial_state = pack_sequence_as(initial_state, [
            cast(convert_to_tensor(s), cell_dtype) if convert_to_tensor(s).dtype != cell_dtype
            else convert_to_tensor(s) for s in flatten(initial_state)])
        if _is_nested(mask):
            mask = flatten(mask)[0]
        if mask is not None:
            mask = convert_to_tensor(mask)
            if not mask.dtype.is_bool:
                mask = cast(mask, "bool")
        try:
            last, outputs, states = self._loop(sequences, initial_state, mask, bool(training))
        finally:
            self._reset_dropout_masks(self.cell)
        if self.stateful:
            for var, value in zip(self.states, flatten(states)):
                var.assign(value)
        output = outputs if self.return_sequences else last
        if self.return_state:
            return [output] + list(states)
        return output

    def _loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        self._config_dropout_masks(cell, sequences, initial_state, training)
        if hasattr(cell, "project") and hasattr(cell, "step"):  # built-in cells: the input kernel once
            inputs = cell.project(sequences, training)

            def step(z, states):
                return cell.step(z, list(states), training)
        else:
            inputs = sequences
            kwargs = {"training": training} if getattr(cell, "_call_has_training", False) else {}

            def step(x, states):
                out, new = cell(x, tuple(states), **kwargs)
                return out, (new if _is_nested(new) else [new])
        with _weights_read_before_loop(cell, traced=state.graph is not None and not self.unroll):
            return rnn(step, inputs, initial_state, mask=mask, go_backwards=self.go_backwards,
                       unroll=self.unroll, zero_output_for_mask=self.zero_output_for_mask,
                       return_all_outputs=self.return_sequences)

    def _config_dropout_masks(self, cell, sequences, states, training) -> None:
        """Draw the dropout masks before the loop (so a traced loop's body reads them as inputs)."""
        if not training:
            return
        if isinstance(cell, StackedRNNCells):
            for c, s in zip(cell.cells, states):
                self._config_dropout_masks(c, None, s if _is_nested(s) else [s], training)
            return
        if getattr(cell, "recurrent_dropout", 0) and hasattr(cell, "get_recurrent_dropout_mask"):
            cell.get_recurrent_dropout_mask(flatten(states)[0])

    def _reset_dropout_masks(self, cell) -> None:
        if hasattr(cell, "reset_dropout_mask"):
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        for c in getattr(cell, "cells", []) if isinstance(cell, StackedRNNCells) else []:
            self._reset_dropout_masks(c)

    # -- shapes, masks, config -------------------------------------------------------------------
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, length = sequences_shape[0], sequences_shape[1]
        states_shape = []
        for size in self.state_size:
            if isinstance(size, int):
                states_shape.append((batch, size))
            else:
                states_shape.append([(batch, s) for s in size])
        output_size = getattr(self.cell, "output_size", None)
        if output_size is None:
            output_size = self.state_size[0]
        if not isinstance(output_size, int):
            raise ValueError("output_size must be an integer.")
        output_shape = (batch, length, output_size) if self.return_sequences else (batch, output_size)
        if self.return_state:
            return [output_shape] + states_shape
        return output_shape

    def compute_mask(self, inputs, mask=None):
        mask = flatten(mask)[0] if _is_nested(mask) else mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None for _ in self.state_size]
        return output_mask

    def get_config(self) -> dict:
        from ...serialization import serialize_keras_object
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ...serialization import deserialize_keras_object
        config = dict(config)
        cell = deserialize_keras_object(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)
