"""LossScaleOptimizer: dynamic loss scaling around another optimizer, as Keras 3's (with TF 2's names).
float16 gradients of small losses underflow to zero, so the loss is multiplied by a large scale before
differentiating and the gradients divided by it before the update; a step whose gradients hold an inf or a
NaN is skipped and the scale halved, and after ``dynamic_growth_steps`` finite steps in a row it is doubled.
The scale and the count are variables (checkpoints keep them).  The skip happens in ``apply``, which is
staged: in a ``tf.function`` it runs on every call with that call's gradients as values.
"""
from __future__ import annotations

import numpy as np

from ...core import dtypes
from ...core.op import paused, staged
from ...core.sparse import IndexedSlices
from ...core.tensor import Tensor, convert_to_tensor
from ...ops.creation import ones_like
from ...ops.math import cast, multiply
from ..optimizers.base import Optimizer, _values, _with_values

__all__ = ["LossScaleOptimizer"]

# what the base optimizer accepts that a LossScaleOptimizer leaves to its inner optimizer (with defaults)
_INNER_ONLY = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
               "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
               "loss_scale_factor": None, "gradient_accumulation_steps": None}


def _times_scale(loss, scale):
    """loss * scale; a float16 loss is scaled in float32 (as Keras' type promotion does), where it cannot
    overflow."""
    loss = loss if isinstance(loss, Tensor) else convert_to_tensor(loss)
    if loss.dtype == dtypes.float16:
        loss = cast(loss, dtypes.float32)
    return multiply(loss, scale if loss.dtype == dtypes.float32 else cast(scale, loss.dtype))


class LossScaleOptimizer(Optimizer):
    """Wrap `inner_optimizer` with dynamic loss scaling (starting at `initial_scale`, doubled after
    `dynamic_growth_steps` finite steps, halved with the step skipped on an inf/NaN gradient).

    Keras 3's way: ``grads = tape.gradient(opt.scale_loss(loss), vars)``; ``opt.apply(grads, vars)``
    (``model.fit`` does this).  TF 2's way: ``opt.get_scaled_loss(loss)``, then
    ``opt.get_unscaled_gradients(grads)``, then ``opt.apply_gradients``; once ``get_unscaled_gradients``
    has been used the optimizer takes its gradients unscaled.

    >>> import tapegrad as tf
    >>> w = tf.Variable([1.0])
    >>> opt = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(0.1), initial_scale=8.0)
    >>> with tf.GradientTape() as tape:
    ...     loss = opt.scale_loss(tf.reduce_sum(w * w))
    >>> opt.apply(tape.gradient(loss, [w]), [w])  # gradient 16 = 8 * 2, unscaled to 2
    >>> w.numpy(), float(opt.dynamic_scale)
    (array([0.8], dtype=float32), 8.0)
    >>> opt.apply([tf.constant([float("inf")])], [w])  # skipped, the scale halved
    >>> w.numpy(), float(opt.dynamic_scale), int(opt.iterations)
    (array([0.8], dtype=float32), 4.0, 1)
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000, name=None,
                 **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`: set `loss_scale_factor` "
                             "on the inner optimizer for a fixed scale instead.")
        for arg, default in _INNER_ONLY.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set `{arg}` on the "
                                 f"`inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(f"LossScaleOptimizer: `inner_optimizer` must be a keras Optimizer, got "
                            f"{inner_optimizer!r} (of type {type(inner_optimizer).__name__}).")
        if isinstance(inner_optimizer, LossScaleOptimizer):
            raise TypeError("LossScaleOptimizer cannot wrap another LossScaleOptimizer.")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        inner_optimizer.loss_scale_factor = None  # else the gradients would be unscaled twice
        # made here, not in build: a traced step reads the scale before its apply_gradients builds
        self.step_counter = self._new_variable(0, "step_counter", dtypes.int64)
        self.dynamic_scale = self._new_variable(self.initial_scale, "dynamic_scale", dtypes.float32)
        self._unscaled_by_user = False  # True once get_unscaled_gradients is used (TF 2's protocol)

    # -- delegated -----------------------------------------------------------------------------
    @property
    def variables(self) -> list:
        """Own state (iteration, learning_rate, step_counter, dynamic_scale), then the inner optimizer's."""
        return list(self._variables) + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        """The inner optimizer's learning rate (settable)."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        """The inner optimizer's step counter: skipped steps do not count."""
        return self.inner_optimizer.iterations

    @property
    def loss_scale(self):
        """The current loss scale (TF 2's name for ``dynamic_scale``)."""
        return self.dynamic_scale

    @property
    def dynamic_counter(self):
        """Finite steps since the scale last changed (TF 2's name for ``step_counter``)."""
        return self.step_counter

    dynamic = True

    def build(self, var_list) -> None:
        """Build the inner optimizer (its slots) for `var_list`."""
        if self.built:
            return
        var_list = list(var_list)
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    # -- scaling ---------------------------------------------------------------------------------
    def scale_loss(self, loss):
        """`loss` times the current scale (float32 for a float16 loss).

        >>> import tapegrad as tf
        >>> opt = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(), initial_scale=4.0)
        >>> float(opt.scale_loss(tf.constant(0.5)))
        2.0
        """
        return _times_scale(loss, self.dynamic_scale)

    def get_scaled_loss(self, loss):
        """TF 2's ``scale_loss``; a callable `loss` gives a callable.

        >>> import tapegrad as tf
        >>> opt = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(), initial_scale=4.0)
        >>> float(opt.get_scaled_loss(lambda: tf.constant(0.5))())
        2.0
        """
        if callable(loss) and not isinstance(loss, Tensor):
            return lambda: _times_scale(loss(), self.dynamic_scale)
        return _times_scale(loss, self.dynamic_scale)

    def get_unscaled_gradients(self, grads):
        """Divide gradients (None and IndexedSlices allowed) by the current scale, in their own dtype, as
        TF 2 did; from now on ``apply_gradients`` takes unscaled gradients.

        >>> import tapegrad as tf
        >>> opt = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(), initial_scale=4.0)
        >>> [g.numpy() for g in opt.get_unscaled_gradients([tf.constant([8.0])])]
        [array([2.], dtype=float32)]
        """
        self._unscaled_by_user = True
        inverse = 1.0 / self.dynamic_scale  # one read of the scale per call (traced: per run)
        out = []
        for g in grads:
            if g is None:
                out.append(None)
            elif isinstance(g, IndexedSlices):
                out.append(IndexedSlices(multiply(g.values, cast(inverse, g.values.dtype)), g.indices,
                                         g.dense_shape))
            else:
                g = g if isinstance(g, Tensor) else convert_to_tensor(g)
                out.append(multiply(g, cast(inverse, g.dtype)))
        return out

    def _loss_scale_seed(self, loss):
        """``minimize`` seeds backward with the scale: the same gradients as differentiating scale_loss."""
        return multiply(ones_like(loss), cast(self.dynamic_scale, loss.dtype))

    # -- applying -----------------------------------------------------------------------------
    @staged(trace_result=lambda self, grads, trainable_variables=None: None)
    def apply(self, grads, trainable_variables=None) -> None:
        """Unscale `grads` and apply them with the inner optimizer, or skip the step and halve the scale
        if one holds an inf or a NaN; then count the step (doubling the scale every
        ``dynamic_growth_steps`` finite steps)."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be "
                                 "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                                 "first.")
            variables = None
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
        with paused():
            if not all(np.isfinite(_values(g)).all() for g in grads if g is not None):
                self.step_counter.assign(0)
                self.dynamic_scale.assign(float(self.dynamic_scale._value) * 0.5)
                return
            if not self._unscaled_by_user:
                grads = self._unscale(grads)
            self.inner_optimizer.apply(grads, variables)
            count = int(self.step_counter._value) + 1
            if count >= self.dynamic_growth_steps:
                self.step_counter.assign(0)
                self.dynamic_scale.assign(float(self.dynamic_scale._value) * 2.0)
            else:
                self.step_counter.assign(count)

    def _unscale(self, grads) -> list:
        scale = float(self.dynamic_scale._value)
        out = []
        for g in grads:
            if g is None:
                out.append(None)
                continue
            values = _values(g)
            # float16 gradients are divided in float32: the inner optimizer casts to the variable's dtype
            work = np.result_type(values.dtype, np.float32) if values.dtype.kind == "f" else values.dtype
            out.append(_with_values(g, np.divide(values, scale, dtype=work)))
        return out

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The name, the inner optimizer's serialized config, the initial scale and the growth steps.

        >>> import tapegrad as tf
        >>> opt = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.Adam(), name="lso")
        >>> config = opt.get_config()
        >>> config["inner_optimizer"]["class_name"], config["initial_scale"]
        ('Adam', 32768.0)
        """
        from .. import optimizers
        return {"name": self.name, "inner_optimizer": optimizers.serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> LossScaleOptimizer:
        """A new LossScaleOptimizer (no state) from ``get_config()``.

        >>> import tapegrad as tf
        >>> opt = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(0.5))
        >>> type(LossScaleOptimizer.from_config(opt.get_config()).inner_optimizer).__name__
        'SGD'
        """
        from .. import optimizers
        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = optimizers.deserialize(inner, custom_objects)
        return cls(inner, **config)
