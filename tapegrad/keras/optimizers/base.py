"""Optimizer: Keras 3's base optimizer - bookkeeping, clipping, weight decay, in-place updates.

One ``apply`` (and ``apply_gradients``, ``minimize``) runs, as Keras 3's:

1. on the first call, ``build`` on exactly that variable list (slots are created then);
   later calls may pass only variables of that list;
2. drop ``None`` gradients (a warning; all ``None``: an error);
3. unscale by ``loss_scale_factor``; clip (``clipnorm`` per tensor, ``global_clipnorm``,
   ``clipvalue``); decoupled weight decay ``var -= var * weight_decay * lr``;
4. ``update_step`` per variable; EMA; ``iterations += 1``; ``variable.constraint``.

The built-in optimizers update in place: the variable (``Variable._writable()``, which
copies first if anything still holds the old value) and the slots are
changed by NumPy ufuncs with ``out=``, block by block, with one scratch block per dtype:
all of a block's arrays stay in cache across the update's passes.  Scalars (learning rate, bias
corrections) are Python floats computed once per step, so nothing is upcast to float64.
Where numba is installed, an ``_update_dense`` marked ``@fused(name)`` runs instead as one
loop over the whole variable (``kernels.py``; same values, one pass over memory).
Optimizer math is not recorded on tapes: it is not differentiated.

A subclass written the Keras way overrides ``build`` (creating slots with
``add_variable_from_reference``) and ``update_step(gradient, variable, learning_rate)``
(with tapegrad ops and ``self.assign_sub(...)``); a built-in one declares its slots in
``_slot_specs`` and updates blocks in ``_update_dense`` (and rows in ``_update_rows``).
"""
from __future__ import annotations

import math
import re
import sys
import warnings

import numpy as np

from ...core import dtypes
from ...core.op import paused as _paused  # optimizer updates are not differentiated
from ...core.op import staged
from ...core.source import _is_internal
from ...core.sparse import IndexedSlices
from ...core.tensor import Tensor, Variable, convert_to_tensor
from .. import initializers
from . import kernels, schedules

__all__ = ["Optimizer"]

# Elements per block of the in-place update.  An Adam block touches five arrays
# (variable, gradient, two slots, scratch): 5 x 128 KiB of float32 stays in L2 through
# its dozen passes, where whole multi-MB arrays would stream from memory on every pass.
_BLOCK = 32768


def _stacklevel() -> int:
    """The stacklevel that makes a warning point at the first frame outside tapegrad."""
    frame, level = sys._getframe(1), 1
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return level


def _describe(variable) -> str:
    path = getattr(variable, "path", getattr(variable, "name", "?"))
    return f"<Variable path={path}, shape={tuple(variable.shape)}, dtype={variable.dtype.name}>"


# -- gradients as arrays ---------------------------------------------------------------------

def _array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return np.asarray(value._value)
    return np.asarray(value)


def _values(grad) -> np.ndarray:
    """The array of a dense gradient, or the values of an IndexedSlices one."""
    return _array(grad.values if isinstance(grad, IndexedSlices) else grad)


def _with_values(grad, values: np.ndarray):
    """`grad` with its (dense or slice) values replaced; the caller's gradient is not modified."""
    if isinstance(grad, IndexedSlices):
        return IndexedSlices(Tensor(values), grad.indices, grad.dense_shape)
    return Tensor(values)


def _squared_norm(values: np.ndarray) -> float:
    flat = values.reshape(-1)
    return float(np.dot(flat, flat))  # BLAS dot: one pass, no temporary


def _unique_rows(grad: IndexedSlices, dtype) -> tuple:
    """(row indices, row values) with duplicate indices summed, as densifying would."""
    indices = _array(grad.indices).reshape(-1).astype(np.intp, copy=False)
    values = _array(grad.values).astype(dtype, copy=False)
    unique, inverse = np.unique(indices, return_inverse=True)
    if len(unique) == len(indices):
        return indices, values
    summed = np.zeros((len(unique),) + values.shape[1:], dtype=dtype)
    np.add.at(summed, inverse.reshape(-1), values)
    return unique, summed


def _dense(grad, variable) -> np.ndarray:
    """The gradient as an array of the variable's dtype and shape (IndexedSlices summed into rows)."""
    w = variable._value
    if isinstance(grad, IndexedSlices):
        rows, values = _unique_rows(grad, w.dtype)
        out = np.zeros(w.shape, dtype=w.dtype)
        out[rows] = values
        return out
    g = _array(grad)
    if g.dtype != w.dtype:
        g = g.astype(w.dtype)  # Keras casts the gradient to the variable's dtype
    if g.shape != w.shape:
        raise ValueError(f"Gradient of shape {g.shape} for variable {_describe(variable)}: "
                         f"expected shape {w.shape}.")
    return g


def _owned(variable: Variable) -> np.ndarray:
    """``variable._writable()`` (copied first if anything else holds the value), C-contiguous so
    that flat views of it alias the variable."""
    w = variable._writable()
    if not w.flags.c_contiguous:
        variable.assign(np.ascontiguousarray(w))  # assign stores its own copy
        w = variable._writable()
    return w


def fused(name: str):
    """Mark an ``_update_dense`` as the same update as the loop `name` of ``kernels``, which then
    runs in its place when numba is installed (given ``_fused_arguments``).  A subclass that
    overrides ``_update_dense`` without the mark runs its own NumPy update.

    >>> from tapegrad.keras.optimizers import SGD
    >>> SGD._update_dense.fused_kernel
    'sgd'
    """
    def mark(update_dense):
        update_dense.fused_kernel = name
        return update_dense
    return mark


def _scale_in_place(variable: Variable, factor: float) -> None:
    # its own frame: no reference to the array outlives the update (see _owned)
    w = _owned(variable)
    np.multiply(w, factor, out=w)


class Optimizer:
    """Base class of the Keras 3 optimizers.

    Subclass it the Keras way - ``build`` creates slots, ``update_step`` updates one
    variable with tapegrad ops:

    >>> import tapegrad as tf
    >>> class PlainSGD(tf.keras.optimizers.Optimizer):
    ...     def __init__(self, learning_rate=0.1, **kwargs):
    ...         super().__init__(learning_rate=learning_rate, **kwargs)
    ...     def update_step(self, gradient, variable, learning_rate):
    ...         self.assign_sub(variable, gradient * learning_rate)
    >>> w = tf.Variable([1.0, 2.0])
    >>> opt = PlainSGD()
    >>> int(opt.apply_gradients([(tf.constant([1.0, 1.0]), w)]))
    1
    >>> w.numpy()
    array([0.9, 1.9], dtype=float32)
    """

    # scratch blocks one in-place update needs (a single one for all but Nadam)
    _SCRATCH_BLOCKS = 1

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=_stacklevel())
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if name is None:
            from ..layers.base import to_snake_case, unique_name
            name = unique_name(to_snake_case(type(self).__name__))
        self.name = name
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema, self.ema_momentum = use_ema, ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._check_arguments()

        self.built = False
        self._variables: list = []            # every optimizer variable, in creation order
        self._trainable_variables: list = []  # what build() was called with
        self._index: dict = {}                # id(variable) -> position in that list
        self._var_slots: list = []            # per variable: its built-in slots (see _slot_specs)
        self._scratch: dict = {}              # dtype -> the scratch block
        self._iterations = self._new_variable(0, "iteration", dtypes.int64)
        self._learning_rate = self._make_learning_rate(learning_rate)

    def _check_arguments(self) -> None:
        steps = self.gradient_accumulation_steps
        if steps and not steps >= 2:
            raise ValueError(f"`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={steps}")
        if self.use_ema:
            if not 0 <= self.ema_momentum <= 1:
                raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: "
                                 f"ema_momentum={self.ema_momentum}")
            frequency = self.ema_overwrite_frequency
            if frequency and (not isinstance(frequency, int) or frequency < 1):
                raise ValueError(f"`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                                 f"ema_overwrite_frequency={frequency}")
        clips = (self.clipnorm, self.clipvalue, self.global_clipnorm)
        if sum(c is not None for c in clips) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={self.clipnorm}, clipvalue={self.clipvalue}, "
                             f"global_clipnorm={self.global_clipnorm}")

    # -- variables ----------------------------------------------------------------------------
    def _new_variable(self, value, name: str, dtype) -> Variable:
        var = Variable(value, trainable=False, dtype=dtype, name=f"{self.name}/{name}")
        var.path = f"{self.name}/{name}"
        self._variables.append(var)
        return var

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="mean", name=None):
        """A new non-trainable optimizer variable ``<optimizer name>/<name>``, tracked in ``variables``.

        >>> import tapegrad as tf
        >>> opt = tf.keras.optimizers.SGD(name="sgd_doc")
        >>> opt.add_variable((2,), initializer="ones", name="extra").path
        'sgd_doc/extra'
        """
        dtype = dtypes.as_dtype(dtype or "float32")
        value = initializers.get(initializer)(tuple(shape), dtype=dtype)
        return self._new_variable(value, name or "variable", dtype)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A variable shaped like `reference_variable`, named after its path ('dense_kernel_momentum').

        >>> import tapegrad as tf
        >>> w = tf.Variable([1.0, 2.0], name="dense/kernel")
        >>> tf.keras.optimizers.Adam().add_variable_from_reference(w, "momentum").path
        'adam/dense_kernel_momentum'
        """
        base = getattr(reference_variable, "path", None) or reference_variable.name.replace(":", "_")
        return self.add_variable(tuple(reference_variable.shape), initializer, reference_variable.dtype,
                                 name=f"{base.replace('/', '_')}_{name or 'var'}")

    @property
    def variables(self) -> list:
        """All optimizer state: iteration, learning rate (when a float), slots, in creation order."""
        return list(self._variables)

    @property
    def iterations(self):
        """The step counter (int64 Variable); with gradient accumulation, real steps // steps."""
        if self.gradient_accumulation_steps:
            return Tensor(np.asarray(int(self._iterations._value) // self.gradient_accumulation_steps,
                                     dtype=np.int64))
        return self._iterations

    def _local_step(self) -> int:
        """t of the bias corrections: the 1-based number of the update being applied."""
        steps = self.gradient_accumulation_steps
        it = int(self._iterations._value)
        return (it // steps if steps else it) + 1

    def build(self, var_list) -> None:
        """Create the optimizer state for exactly these variables (``apply`` calls it the first time).

        >>> import tapegrad as tf
        >>> w = tf.Variable([1.0], name="w")
        >>> opt = tf.keras.optimizers.Adam(name="adam_doc")
        >>> opt.build([w])
        >>> [v.path for v in opt.variables]
        ['adam_doc/iteration', 'adam_doc/learning_rate', 'adam_doc/w_momentum', 'adam_doc/w_velocity']
        """
        if self.built:
            return  # slots exist already: building twice would duplicate them
        var_list = list(var_list)
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self._trainable_variables = var_list[:]
        if self.use_ema:
            self._ema_averages = [self.add_variable_from_reference(v, "average") for v in var_list]
        if self.gradient_accumulation_steps:
            self._accumulators = [self.add_variable_from_reference(v, "gradient_accumulator")
                                  for v in var_list]
        # one variable's slots after another (Keras 3's add_optimizer_variables): the order of
        # optimizer/vars in its files
        specs = self._slot_specs()
        self._var_slots = [[self.add_variable_from_reference(v, name, init) for name, init in specs]
                           for v in var_list]
        self.built = True

    def _get_variable_index(self, variable) -> int:
        return self._index[id(variable)]

    def _check_variables_are_known(self, variables) -> None:
        for v in variables:
            if id(v) not in self._index:
                raise ValueError(f"Unknown variable: {_describe(v)}. This optimizer can only be called for "
                                 f"the variables it was originally built with. When working with a new "
                                 f"set of variables, you should recreate a new optimizer instance.")

    def assign(self, variable, value) -> None:
        """``variable.assign(value)``: the Keras hook custom ``update_step`` methods use."""
        variable.assign(value)

    def assign_add(self, variable, value) -> None:
        """``variable += value`` (an IndexedSlices value adds its rows only)."""
        self._assign_rows_or_dense(variable, value, 1.0)

    def assign_sub(self, variable, value) -> None:
        """``variable -= value`` (an IndexedSlices value subtracts its rows only)."""
        self._assign_rows_or_dense(variable, value, -1.0)

    @staticmethod
    def _assign_rows_or_dense(variable, value, sign: float) -> None:
        if isinstance(value, IndexedSlices):
            rows, values = _unique_rows(value, variable._value.dtype)
            w = _owned(variable)
            w[rows] += values if sign > 0 else -values
        elif sign > 0:
            variable.assign_add(value)
        else:
            variable.assign_sub(value)

    # -- learning rate ----------------------------------------------------------------------------
    def _make_learning_rate(self, learning_rate):
        if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
            return learning_rate
        if not isinstance(learning_rate, float):  # Keras 3: ints and tf.Variables are refused
            raise ValueError(f"Argument `learning_rate` should be float, or an instance of "
                             f"LearningRateSchedule, or a callable (that takes in the current iteration "
                             f"value and returns the corresponding learning rate value). Received "
                             f"instead: learning_rate={learning_rate}")
        return self._new_variable(learning_rate, "learning_rate", dtypes.float32)

    @property
    def learning_rate(self):
        """The learning rate variable; a schedule's value at ``iterations``; a callable's value."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return lr(self._iterations)
        if isinstance(lr, Variable):
            return lr
        return lr()

    @learning_rate.setter
    def learning_rate(self, learning_rate) -> None:
        previous = self._learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
            if isinstance(previous, Variable):
                self._variables.remove(previous)
        elif isinstance(previous, schedules.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not "
                            "settable. If you need the learning rate to be settable, you should "
                            "instantiate the optimizer with a float `learning_rate` argument.")
        elif isinstance(previous, Variable):
            previous.assign(learning_rate)
        else:  # was a zero-argument callable: a float brings the variable back
            self._learning_rate = self._make_learning_rate(float(learning_rate))

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return float(lr._value)
        return float(np.asarray(self.learning_rate))

    # -- applying gradients ---------------------------------------------------------------------
    @staged(trace_result=lambda self, grads_and_vars: self._build_while_tracing(grads_and_vars))
    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs (see the module docstring); returns ``iterations``.

        >>> import tapegrad as tf
        >>> w = tf.Variable([1.0, 2.0])
        >>> opt = tf.keras.optimizers.SGD(learning_rate=0.5)
        >>> _ = opt.apply_gradients([(tf.constant([1.0, -1.0]), w)])
        >>> w.numpy(), int(opt.iterations)
        (array([0.5, 2.5], dtype=float32), 1)
        """
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self._iterations

    def _build_while_tracing(self, grads_and_vars):
        """In a traced train step the update runs on every call; tracing only creates the slots,
        so that they exist from the first trace on, as in TF."""
        if not self.built:
            self.build([v for _, v in grads_and_vars])
        return self._iterations

    @staged(trace_result=lambda self, grads, trainable_variables=None: None)
    def apply(self, grads, trainable_variables=None) -> None:
        """Update `trainable_variables` (default: those the optimizer was built with) from `grads`.

        >>> import tapegrad as tf
        >>> w = tf.Variable(1.0)
        >>> opt = tf.keras.optimizers.SGD(learning_rate=0.1)
        >>> opt.build([w])
        >>> opt.apply([tf.constant(2.0)])
        >>> round(float(w), 6)
        0.8
        """
        grads = list(grads)
        if not grads:
            return  # as Keras: an empty list is a no-op
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be "
                                 "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                                 "first. ")
            if len(grads) != len(self._trainable_variables):
                raise ValueError(f"When passing `grads` as a list of gradient tensors, the gradients must "
                                 f"match `optimizer.variables` one-to-one. Received a list of {len(grads)} "
                                 f"gradients, but the optimizer is tracking "
                                 f"{len(self._trainable_variables)} trainable variables.")
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
                self.built = True
            self._check_variables_are_known(variables)
        with _paused():
            grads, variables = self._filter_empty_gradients(grads, variables)
            if self.loss_scale_factor is not None:
                inverse = 1.0 / self.loss_scale_factor
                grads = [_with_values(g, _values(g) * inverse) for g in grads]
            lr = self._current_learning_rate()
            if self.gradient_accumulation_steps:
                self._accumulate_or_update(grads, variables, lr)
            else:
                self._clip_decay_update(grads, variables, lr)
            if self.use_ema:
                self._update_ema()
            self._iterations.assign_add(1)
            for variable in variables:
                if getattr(variable, "constraint", None) is not None:
                    variable.assign(variable.constraint(variable))

    def _clip_decay_update(self, grads, variables, lr: float) -> None:
        grads = self._clip_gradients(grads)
        self._apply_weight_decay(variables, lr)
        self._backend_update_step(grads, variables, lr)

    def _accumulate_or_update(self, grads, variables, lr: float) -> None:
        steps = self.gradient_accumulation_steps
        accumulators = [self._accumulators[self._get_variable_index(v)] for v in variables]
        if (int(self._iterations._value) + 1) % steps:
            for g, v, acc in zip(grads, variables, accumulators):
                total = _owned(acc)
                total += _dense(g, v)
            return
        # the update step: the mean of the accumulated gradients and this one, then reset
        grads = [Tensor((acc._value + _dense(g, v)) * (1.0 / steps))
                 for g, v, acc in zip(grads, variables, accumulators)]
        self._clip_decay_update(grads, variables, lr)
        for acc in accumulators:
            _owned(acc)[...] = 0

    def _filter_empty_gradients(self, grads, variables) -> tuple:
        kept = [(g, v) for g, v in zip(grads, variables) if g is not None]
        missing = [v for g, v in zip(grads, variables) if g is None]
        if not kept:
            raise ValueError(self._missing_gradients_message(missing, every=True))
        if missing:
            warnings.warn(self._missing_gradients_message(missing, every=False), stacklevel=_stacklevel())
        return [g for g, _ in kept], [v for _, v in kept]

    def _missing_gradients_message(self, variables, every: bool) -> str:
        """The one place for the None-gradient texts (Keras 3's), plus ``_explain_missing``."""
        if every:
            text = "No gradients provided for any variable."
        else:
            paths = [getattr(v, "path", v.name) for v in variables]
            text = (f"Gradients do not exist for variables {paths} when minimizing the loss. If using "
                    f"`model.compile()`, did you forget to provide a `loss` argument?")
        extra = self._explain_missing(variables)
        return f"{text}\n{extra}" if extra else text

    def _explain_missing(self, variables) -> str:
        """Why these variables got no gradient, as the latest tape.gradient call saw it."""
        from ...inspect.why import missing_text
        return missing_text(variables)

    def _clip_gradients(self, grads) -> list:
        if self.clipnorm and self.clipnorm > 0:
            return [self._scaled(g, self.clipnorm / max(math.sqrt(_squared_norm(_values(g))),
                                                        self.clipnorm)) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = math.sqrt(sum(_squared_norm(_values(g)) for g in grads))
            clip = self.global_clipnorm
            if math.isfinite(norm):
                scale = clip / max(norm, clip)
            else:
                scale = math.nan  # as Keras: an inf/NaN global norm makes every gradient NaN
            return [self._scaled(g, scale) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            limit = self.clipvalue
            return [_with_values(g, np.clip(_values(g), -limit, limit)) for g in grads]
        return grads

    @staticmethod
    def _scaled(grad, scale: float):
        # 1.0 leaves the gradient as it is: no copy for the (usual) unclipped tensors
        return grad if scale == 1.0 else _with_values(grad, _values(grad) * scale)

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exempt variables (by identity, or by a substring of their name) from weight decay.

        >>> import tapegrad as tf
        >>> opt = tf.keras.optimizers.AdamW()
        >>> opt.exclude_from_weight_decay(var_names=["bias"])
        >>> opt._use_weight_decay(tf.Variable(1.0, name="dense/bias"))
        False
        """
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer "
                             "is built.")
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in getattr(self, "_exclude_ids", ()):
            return False
        pattern = getattr(self, "_exclude_pattern", None)
        return pattern is None or pattern.search(variable.name) is None

    def _apply_weight_decay(self, variables, lr: float) -> None:
        if self.weight_decay is None:
            return
        # var - var * wd * lr, as one in-place multiply by a Python float
        factor = 1.0 - float(self.weight_decay) * lr
        for variable in variables:
            if self._use_weight_decay(variable):
                _scale_in_place(variable, factor)

    def _backend_update_step(self, grads, variables, learning_rate: float) -> None:
        if type(self).update_step is Optimizer.update_step:
            factors = self._step_factors(learning_rate)  # once per step, not per variable
            for grad, variable in zip(grads, variables):
                self._update_in_place(grad, variable, factors)
        else:  # a Keras-style subclass: its update_step with the rate as a float32 tensor
            lr = convert_to_tensor(learning_rate, dtype=dtypes.float32)
            for grad, variable in zip(grads, variables):
                self.update_step(grad, variable, lr)

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Update one variable from its gradient (subclasses override; built-ins update in place)."""
        if type(self)._update_dense is Optimizer._update_dense:
            raise NotImplementedError(f"{type(self).__name__} must implement `update_step(gradient, "
                                      f"variable, learning_rate)`.")
        self._update_in_place(gradient, variable, self._step_factors(float(learning_rate)))

    # -- the in-place machinery of the built-in optimizers ------------------------------------
    def _slot_specs(self) -> list:
        """[(slot name, initializer)] of the per-variable state, in creation order."""
        return []

    def _step_factors(self, lr: float) -> tuple:
        """The step's scalars (Python floats) that ``_update_dense`` and ``_update_rows`` use."""
        return (lr,)

    def _update_dense(self, w, g, slots, scratch, factors) -> None:
        """Update flat blocks in place: `w` and `slots` are written, `g` is read, `scratch` is free.

        `scratch` holds ``_SCRATCH_BLOCKS`` times the block's length.
        """
        raise NotImplementedError

    def _update_rows(self, w, rows, values, slots, factors) -> bool:
        """Update only the gradient's rows, when that equals the dense update; False: densify."""
        return False

    def _fused_arguments(self, slots, factors) -> tuple:
        """The fused loop's arguments after ``(w, g)``: slot arrays (None for a slot the options
        leave out), scalars and flags (bools)."""
        raise NotImplementedError

    def _update_fused(self, w, g, slots, factors) -> bool:
        """Run the fused loop of ``_update_dense`` on the flat arrays; False: there is none."""
        name = getattr(type(self)._update_dense, "fused_kernel", None)
        loop = name and kernels.get(name, w.dtype)
        if not loop:
            return False
        scalar = w.dtype.type  # the NumPy path's ufuncs round each Python float to the dtype too
        loop(w, g, *[arg if isinstance(arg, (bool, np.ndarray)) else
                     np.empty(0, w.dtype) if arg is None else scalar(arg)
                     for arg in self._fused_arguments(slots, factors)])
        return True

    def _scratch_block(self, dtype) -> np.ndarray:
        block = self._scratch.get(dtype)
        if block is None:
            block = self._scratch[dtype] = np.empty(self._SCRATCH_BLOCKS * _BLOCK, dtype=dtype)
        return block

    def _update_in_place(self, grad, variable, factors) -> None:
        slots = self._var_slots[self._get_variable_index(variable)]
        w = _owned(variable)
        slot_arrays = [_owned(s) for s in slots]
        if isinstance(grad, IndexedSlices):
            rows, values = _unique_rows(grad, w.dtype)
            if self._update_rows(w, rows, values, slot_arrays, factors):
                return
            g = np.zeros(w.shape, dtype=w.dtype)
            g[rows] = values
        else:
            g = _dense(grad, variable)
        g = g.reshape(-1)  # a copy only when not contiguous
        w, slot_arrays = w.reshape(-1), [s.reshape(-1) for s in slot_arrays]
        if self._update_fused(w, g, slot_arrays, factors):
            return
        scratch, n, k = self._scratch_block(w.dtype), w.size, self._SCRATCH_BLOCKS
        if n <= _BLOCK:  # most variables: one block, no slicing
            self._update_dense(w, g, slot_arrays, scratch[:k * n], factors)
            return
        for lo in range(0, n, _BLOCK):
            hi = min(lo + _BLOCK, n)
            self._update_dense(w[lo:hi], g[lo:hi], [s[lo:hi] for s in slot_arrays], scratch[:k * (hi - lo)],
                               factors)

    # -- EMA ------------------------------------------------------------------------------------
    def _update_ema(self) -> None:
        # the first step copies the variables; later steps move the averages towards them
        momentum = self.ema_momentum if int(np.asarray(self.iterations)) != 0 else 0.0
        for var, average in zip(self._trainable_variables, self._ema_averages):
            a = _owned(average)
            np.multiply(a, momentum, out=a)
            a += (1.0 - momentum) * var._value
        frequency = self.ema_overwrite_frequency
        if frequency and (int(np.asarray(self.iterations)) + 1) % frequency == 0:
            self._overwrite_model_variables_with_average_value(self._trainable_variables)

    def _overwrite_model_variables_with_average_value(self, var_list) -> None:
        if len(var_list) != len(self._ema_averages):
            raise ValueError(f"The length of model variables ({len(var_list)}) to override does not match "
                             f"the length of model variables stored in the optimizer "
                             f"({len(self._ema_averages)}). Please check if the optimizer was called on "
                             f"your model.")
        for var, average in zip(var_list, self._ema_averages):
            var.assign(average)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, set the variables to their moving averages (end of training).

        >>> import tapegrad as tf
        >>> w = tf.Variable(1.0)
        >>> opt = tf.keras.optimizers.SGD(1.0, use_ema=True)
        >>> _ = opt.apply_gradients([(tf.constant(1.0), w)])
        >>> opt.finalize_variable_values([w]); float(w)
        0.0
        """
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(var_list)

    # -- minimize, loss scaling ---------------------------------------------------------------
    def minimize(self, loss, var_list, tape=None):
        """Compute the gradients of `loss` (a zero-argument callable, or a tensor with its `tape`) and apply.

        >>> import tapegrad as tf
        >>> w = tf.Variable(3.0)
        >>> opt = tf.keras.optimizers.SGD(learning_rate=0.1)
        >>> _ = opt.minimize(lambda: w * w, [w])
        >>> round(float(w), 6)
        2.4
        """
        from ...core.tape import GradientTape
        if callable(var_list) and not isinstance(var_list, (list, tuple)):
            var_list = var_list()
        var_list = list(var_list)
        if callable(loss) and not isinstance(loss, Tensor):
            with GradientTape() as tape:
                for v in var_list:
                    tape.watch(v)
                loss = loss()
        elif tape is None:
            raise ValueError(f"`tape` is required when a `Tensor` loss is passed. Received: loss={loss}, "
                             f"tape={tape}.")
        grads = tape.gradient(loss, var_list, output_gradients=self._loss_scale_seed(loss))
        return self.apply_gradients(zip(grads, var_list))

    def _loss_scale_seed(self, loss):
        """What ``minimize`` seeds backward with: None (ones), or the loss scale where ``apply`` divides
        the gradients by one (LossScaleOptimizer overrides it)."""
        if self.loss_scale_factor is None:
            return None
        from ...ops.creation import ones_like
        return ones_like(loss) * self.loss_scale_factor

    def scale_loss(self, loss):
        """`loss` times ``loss_scale_factor`` (the gradients are divided back in ``apply``).

        >>> import tapegrad as tf
        >>> float(tf.keras.optimizers.SGD(loss_scale_factor=4.0).scale_loss(tf.constant(0.5)))
        2.0
        """
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments (the learning rate as a float, or a schedule's config).

        >>> import tapegrad as tf
        >>> config = tf.keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0).get_config()
        >>> config["learning_rate"], config["clipnorm"], config["beta_1"]  # the float32 value, as Keras 3
        (0.009999999776482582, 1.0, 0.9)
        """
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif isinstance(lr, Variable):
            lr = float(lr._value)  # as Keras 3: the float32 value (0.001 reads 0.0010000000474974513)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A new optimizer (no state) from ``get_config()``.

        >>> import tapegrad as tf
        >>> opt = tf.keras.optimizers.SGD(0.1, momentum=0.9)
        >>> tf.keras.optimizers.SGD.from_config(opt.get_config()).momentum
        0.9
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
