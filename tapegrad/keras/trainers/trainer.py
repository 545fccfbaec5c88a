"""``Trainer``, the mixin of ``keras.Model`` with ``compile``, ``fit``, ``evaluate``, ``predict``
and the steps they run: every batch goes through ``train_step`` (``test_step``, ``predict_step``),
the seed's GradientTape loop (forward pass, loss plus ``model.losses``, ``tape.gradient``,
``optimizer.apply_gradients``, metric updates), overridable as Keras 3's "customizing what happens
in fit" guide shows, in one batch loop over an ``EpochIterator``.  Steps run eagerly:
``run_eagerly``, ``jit_compile`` and ``steps_per_execution`` are recorded as Keras does (the batch
callbacks run every ``steps_per_execution`` batches), but nothing is compiled.  The compiled loss and
metrics and the loss tracker live in ``_keras_*`` attributes, which layer tracking and the weights
files skip (per-run bookkeeping, rebuilt by ``compile``); ``model.optimizer`` is a plain attribute,
so the weights files hold its variables under "optimizer" as Keras 3's do.
"""
from __future__ import annotations

import inspect
import itertools
import warnings

import numpy as np

from ...core.tape import GradientTape
from ...ops.math import add_n
from ...ops.reduce import reduce_sum
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .compile_utils import CompileLoss, CompileMetrics, _float32, _output_names
from .data_adapters import (
    _as_array,
    _batch_size,
    _is_array_data,
    _map,
    _to_numpy,
    _to_tensor,
    class_weight_to_sample_weights,
    pack_x_y_sample_weight,
    train_validation_split,
    unpack_x_y_sample_weight,
)
from .epoch_iterator import EpochIterator
from .input_checks import _check_fit_arguments, _no_data_error, _text_check

_OUT_OF_DATA = ("Your input ran out of data; interrupting training. Make sure that your dataset or "
                "generator can generate at least `steps_per_epoch * epochs` batches. You may need to use "
                "the `.repeat()` function when building your dataset.")
_STOP_FLAGS = {"train": "stop_training", "test": "stop_evaluating", "predict": "stop_predicting"}
_STEPS = {"train": "train_step", "test": "test_step", "predict": "predict_step"}


# -- logs -----------------------------------------------------------------------------------------


def pythonify_logs(logs) -> dict:
    """Logs as callbacks get them: nested dicts flattened, keys sorted, scalars as Python floats.

    >>> import tapegrad as tf
    >>> pythonify_logs({"loss": tf.constant(0.5), "compile_metrics": {"accuracy": tf.constant(1.0)}})
    {'accuracy': 1.0, 'loss': 0.5}
    """
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        value = _to_numpy(value)
        if isinstance(value, (np.ndarray, np.generic, int, float)) and np.size(value) == 1:
            value = float(np.asarray(value).reshape(()))
        result[key] = value
    return result


def _tracked_metrics(layer, seen: set) -> list:
    """Metric objects assigned as attributes of `layer` and its sublayers (Keras tracks them too)."""
    from ..layers.base import _find
    out = []
    for key, value in vars(layer).items():
        if key.startswith("_keras_"):
            continue
        for metric in _find(value, metrics_module.Metric):
            if id(metric) not in seen:
                seen.add(id(metric))
                out.append(metric)
    for sublayer in layer._sublayers():
        if not isinstance(sublayer, Trainer):  # a nested model's own training state is not ours
            out.extend(_tracked_metrics(sublayer, seen))
    return out


_HAS_TRAINING_ARG: dict = {}


def _compute_loss_has_training_arg(cls) -> bool:
    if cls not in _HAS_TRAINING_ARG:
        _HAS_TRAINING_ARG[cls] = "training" in inspect.signature(cls.compute_loss).parameters
    return _HAS_TRAINING_ARG[cls]


# -- the mixin ------------------------------------------------------------------------------------


class Trainer:
    """``compile``/``fit``/``evaluate``/``predict`` and the steps they run, for ``keras.Model``.

    >>> import tapegrad as tf
    >>> tf.keras.utils.set_random_seed(0)
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    >>> x = np.linspace(-1, 1, 32).reshape(-1, 1); y = 3 * x + 1
    >>> history = model.fit(x, y, epochs=60, batch_size=8, verbose=0)
    >>> round(float(model.layers[0].kernel[0, 0]), 2), round(float(model.layers[0].bias[0]), 2)
    (3.0, 1.0)
    """

    # Class-level defaults: Model.__init__ needs no training code, and an uncompiled model has them.
    compiled = False
    stop_training = False
    stop_evaluating = False
    stop_predicting = False
    loss = None
    history = None
    run_eagerly = False
    jit_compile = False
    steps_per_execution = 1
    optimizer = None
    _keras_compile_loss = None
    _keras_compile_metrics = None
    _keras_loss_tracker = None
    _keras_warned_no_weights = False

    # -- compile --------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure the model for ``fit``/``evaluate``: optimizer, loss(es) and metrics.

        Strings name built-in objects ("adam", "sparse_categorical_crossentropy", "mse");
        "accuracy" (or "acc") becomes binary, categorical or sparse categorical accuracy from
        the shapes of the first batch's targets and outputs, and "crossentropy" likewise.
        Multi-output models take a list (in output order) or a dict (by output name) of losses,
        `loss_weights` and metrics.  `metrics` ignore sample weights; `weighted_metrics` use them.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(3)])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> type(model.optimizer).__name__, model.metrics_names
        ('Adam', ['loss', 'compile_metrics'])
        """
        self.optimizer = optimizers_module.get(optimizer)
        if (auto_scale_loss and self.dtype_policy.name == "mixed_float16"
                and not isinstance(self.optimizer, optimizers_module.LossScaleOptimizer)):
            # as Keras 3: float16 gradients underflow without loss scaling
            self.optimizer = optimizers_module.LossScaleOptimizer(self.optimizer, name="loss_scale_optimizer")
        output_names = _output_names(self)
        self._keras_compile_loss = CompileLoss(loss, loss_weights, output_names) if loss is not None else None
        self.loss = loss
        self._keras_compile_metrics = (CompileMetrics(metrics, weighted_metrics, output_names=output_names)
                                       if metrics is not None or weighted_metrics is not None else None)
        self._keras_loss_tracker = metrics_module.Mean(name="loss")
        if not isinstance(steps_per_execution, (int, np.integer)) or steps_per_execution < 1:
            raise ValueError("`steps_per_execution` must be a positive integer; received "
                             f"{steps_per_execution!r}.")
        if jit_compile is True and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. Disabling "
                          "`jit_compile`.", stacklevel=2)
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = jit_compile is True and not run_eagerly
        self.steps_per_execution = int(steps_per_execution)
        self.stop_training = False
        self.compiled = True

    def _assert_compile_called(self, method_name) -> None:
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{method_name}()`.")

    # -- metrics --------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics, per-output loss trackers, then metrics the model holds.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.metrics
        []
        >>> model.compile(loss="mse"); [m.name for m in model.metrics]
        ['loss']
        """
        out = []
        if self.compiled:
            if self._keras_loss_tracker is not None:
                out.append(self._keras_loss_tracker)
            if self._keras_compile_metrics is not None:
                out.append(self._keras_compile_metrics)
            if self._keras_compile_loss is not None:
                out.extend(self._keras_compile_loss.metrics)
        seen = {id(m) for m in out}
        out.extend(_tracked_metrics(self, seen))
        return out

    @property
    def metrics_names(self) -> list:
        """The names of ``metrics`` ("loss", "compile_metrics", ...), as Keras 3 lists them.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"]); model.metrics_names
        ['loss', 'compile_metrics']
        """
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        """Reset the state of every metric in ``metrics`` (``fit`` does it at each epoch's start).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> _ = model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
        >>> model.reset_metrics(); model.get_metrics_result()
        {'loss': 0.0}
        """
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self) -> dict:
        """The current values of ``metrics``, flattened into one dict of floats (keys sorted).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> sorted(model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)), return_dict=True))
        ['loss', 'mae']
        """
        results = {}
        for metric in self.metrics:
            if isinstance(metric, CompileMetrics) and not metric.built:
                continue
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[metric.name] = value
        return pythonify_logs(results)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss: the compiled loss plus every loss in ``model.losses`` (regularizers, ``add_loss``).

        Override it to change the loss while keeping the default steps.

        >>> import tapegrad as tf
        >>> dense = tf.keras.layers.Dense(1, kernel_initializer="ones",
        ...                               kernel_regularizer=tf.keras.regularizers.L2(0.5))
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), dense])
        >>> model.compile(loss="mse")
        >>> x = tf.ones([1, 1])
        >>> float(model.compute_loss(x, tf.zeros([1, 1]), model(x)))  # mse 1.0 plus 0.5 * 1.0 ** 2
        1.5
        """
        del x, training  # the default loss needs neither
        losses = []
        if self._keras_compile_loss is not None:
            losses.append(self._keras_compile_loss(y, y_pred, sample_weight))
        for extra in self.losses:
            extra = _float32(extra)
            losses.append(reduce_sum(extra) if extra.shape.rank else extra)
        if not losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return losses[0] if len(losses) == 1 else add_n(losses)

    def _compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``compute_loss``, also when an override predates its `training` argument (as Keras)."""
        if _compute_loss_has_training_arg(type(self)):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with a batch; return ``get_metrics_result()``.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> model.compute_metrics(None, tf.constant([[1.0]]), tf.constant([[3.0]]))["mae"]
        2.0
        """
        del x  # the default metrics do not look at the inputs
        if self._keras_compile_metrics is not None:
            self._keras_compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # compiled_loss / compiled_metrics: Keras 2 names that TF 2-era custom train_steps still use
    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """Deprecated (Keras 2): ``compute_loss(x, y, y_pred, sample_weight)``, counted in the "loss" metric.

        >>> import tapegrad as tf, warnings
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)]); model.compile(loss="mse")
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     float(model.compiled_loss(tf.constant([[1.0]]), tf.constant([[3.0]])))
        4.0
        """
        del regularization_losses  # compute_loss adds model.losses itself
        warnings.warn("`model.compiled_loss()` is deprecated. Instead, use "
                      "`model.compute_loss(x, y, y_pred, sample_weight, training)`.", stacklevel=2)
        loss = self.compute_loss(x=None, y=y, y_pred=y_pred, sample_weight=sample_weight)
        if self._keras_loss_tracker is not None:
            # Keras 2's compiled_loss fed the "loss" metric: train_steps written for it report it
            self._keras_loss_tracker.update_state(loss, sample_weight=_batch_size(y_pred))
        return loss

    @property
    def compiled_metrics(self):
        """Deprecated (Keras 2): an object whose ``update_state(y, y_pred)`` updates ``metrics``.

        >>> import tapegrad as tf, warnings
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     model.compiled_metrics.update_state(tf.constant([[1.0]]), tf.constant([[3.0]]))
        >>> model.get_metrics_result()["mae"]
        2.0
        """
        model = self

        class DeprecatedCompiledMetric:
            def update_state(self, y, y_pred, sample_weight=None):
                warnings.warn("`model.compiled_metrics()` is deprecated. Instead, use e.g.:\n"
                              "for metric in self.metrics:\n    metric.update_state(y, y_pred)\n",
                              stacklevel=2)
                for metric in model.metrics:
                    if metric is model._keras_loss_tracker or isinstance(metric, metrics_module.Mean) and \
                            not isinstance(metric, metrics_module.MeanMetricWrapper):
                        continue  # loss trackers take losses, not (y, y_pred)
                    metric.update_state(y, y_pred, sample_weight=sample_weight)

        return DeprecatedCompiledMetric()

    # -- the steps ------------------------------------------------------------------------------
    def train_step(self, data) -> dict:
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns the logs.

        Forward pass and loss under a ``GradientTape``, gradients of the loss with respect to
        ``trainable_variables``, ``optimizer.apply_gradients``, then the loss tracker (weighted
        by the batch size) and the compiled metrics.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss="mse")
        >>> model.train_step((tf.ones([1, 1]), tf.ones([1, 1])))
        {'loss': 1.0}
        >>> float(model.layers[0].kernel[0, 0])  # 0 - 0.5 * d(w - 1)**2/dw at w=0 (and the bias alike)
        1.0
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        self._keras_loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        variables = self.trainable_variables
        if variables:
            gradients = tape.gradient(scaled, variables)
            self.optimizer.apply_gradients(zip(gradients, variables))
        elif not self._keras_warned_no_weights:
            self._keras_warned_no_weights = True
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data) -> dict:
        """One evaluation step on a batch: forward pass (``training=False``), loss, metrics; no tape.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> model.test_step((tf.ones([1, 1]), tf.constant([[2.0]])))
        {'loss': 4.0, 'mae': 2.0}
        """
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        self._keras_loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's output for a batch (``x``, or a tuple whose first item is ``x``), ``training=False``.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.predict_step((tf.ones([1, 2]),)).numpy()
        array([[2.]], dtype=float32)
        """
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # -- the shared batch loop ----------------------------------------------------------------
    def _run_epoch(self, iterator: EpochIterator, step, callbacks, mode: str):
        """Run `step` on each batch of one epoch with the callbacks' batch hooks; the last logs.

        ``steps_per_execution`` batches run between a ``begin`` and an ``end`` hook (the end hook
        gets the index of the last of them, as Keras).  A ``stop_*`` flag set by a callback ends
        the epoch after the current group.
        """
        begin = getattr(callbacks, f"on_{mode}_batch_begin")
        end = getattr(callbacks, f"on_{mode}_batch_end")
        flag = _STOP_FLAGS[mode]
        group = max(1, int(self.steps_per_execution or 1))
        logs, index, batches = None, 0, iterator.epoch()
        try:
            for first in batches:
                begin(index)
                logs = step(first)
                count = 1
                for batch in itertools.islice(batches, group - 1):  # the rest of the group
                    logs = step(batch)
                    count += 1
                index += count
                end(index - 1, logs)
                if getattr(self, flag, False):
                    break
        finally:
            batches.close()  # a persistent stream stays open in the iterator for the next epoch
        return logs

    def _callback_list(self, callbacks, verbose, epochs, steps, history: bool):
        from ..callbacks import CallbackList
        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(callbacks, add_history=history, add_progbar=verbose != 0, model=self,
                            verbose=verbose, epochs=epochs, steps=steps)

    def _logs_or_metrics(self, logs) -> dict:
        """The model's metrics if the step returned them (the usual case), else the step's own logs."""
        metric_logs = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(metric_logs):
            return metric_logs
        return dict(logs or {})

    def _test_loop(self, iterator, callbacks, what=None) -> dict:
        """Evaluate over one pass of `iterator` (shared by ``evaluate`` and ``fit``'s validation).

        With `what` ("evaluation", "validation"), a pass that gives no batch raises.
        """
        self.stop_evaluating = False
        callbacks.on_test_begin()
        self.reset_metrics()
        logs = self._run_epoch(iterator, lambda batch: pythonify_logs(self.test_step(batch)), callbacks,
                               "test")
        if what is not None and iterator.last_count == 0:
            raise _no_data_error("test", what, iterator, yielded=True)
        logs = self._logs_or_metrics(logs)
        callbacks.on_test_end(logs)
        return logs

    def _data_check(self, mode: str, method: str):
        """check(x, y) for an EpochIterator: strings that the default steps cannot use are refused
        before any step runs.  None when the model's own step says what its data mean.
        """
        step = _STEPS[mode]
        if getattr(type(self), step) is not getattr(Trainer, step):
            return None
        check_y = (mode != "predict" and self._keras_compile_loss is not None
                   and type(self).compute_loss is Trainer.compute_loss)
        return _text_check(self, method, step, check_y)

    # -- fit / evaluate / predict -------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        """Train for `epochs` epochs (from `initial_epoch`); return the ``History`` callback.

        `x` (and `y`, `sample_weight`) are NumPy arrays or tensors (lists/dicts for several
        inputs), or `x` is a ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or an iterable of
        ``(x, y[, sample_weight])`` batches.  `validation_split` keeps the last part of array
        data for validation; `validation_data` is ``(x, y[, sample_weight])`` or a dataset.
        The logs hold each metric's running value over the epoch ("loss", "accuracy", ...)
        and, after validation, the same names prefixed by "val_".

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(2, activation="softmax")])
        >>> model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> x, y = np.random.rand(8, 2), np.array([0, 1] * 4)
        >>> history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
        >>> sorted(history.history), history.epoch
        (['accuracy', 'loss', 'val_accuracy', 'val_loss'], [0, 1])
        """
        self._assert_compile_called("fit")
        _check_fit_arguments(epochs=epochs, initial_epoch=initial_epoch, batch_size=batch_size,
                             steps_per_epoch=steps_per_epoch, validation_split=validation_split,
                             validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                             validation_freq=validation_freq)
        if validation_split and validation_data is None:
            if _is_array_data(x):
                x, y, sample_weight = _as_array(x), _as_array(y), _as_array(sample_weight)
            (x, y, sample_weight), validation_data = train_validation_split((x, y, sample_weight),
                                                                            validation_split)
        train = EpochIterator(x, y, sample_weight, batch_size=batch_size, steps=steps_per_epoch,
                              shuffle=shuffle, class_weight=class_weight, persistent=True,
                              steps_name="steps_per_epoch", check=self._data_check("train", "fit"))
        if train.empty:
            raise _no_data_error("train", "training", train)
        validation = None
        if validation_data is not None:
            val_x, val_y, val_sample_weight = unpack_x_y_sample_weight(validation_data)
            validation = EpochIterator(val_x, val_y, val_sample_weight, steps=validation_steps,
                                       batch_size=validation_batch_size or batch_size,
                                       steps_name="validation_steps", check=self._data_check("test", "fit"))
            if validation.empty:
                raise _no_data_error("test", "validation", validation)
        callbacks = self._callback_list(callbacks, verbose, epochs, train.num_batches, history=True)
        self.stop_training = False
        callbacks.on_train_begin()
        training_logs = None
        validated = False
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            logs = self._run_epoch(train, lambda batch: pythonify_logs(self.train_step(batch)), callbacks,
                                   "train")
            if train.last_count == 0 and epoch == initial_epoch:
                raise _no_data_error("train", "training", train, yielded=True)
            if logs is None or train.ran_out:
                warnings.warn(_OUT_OF_DATA, stacklevel=2)
                if logs is None:  # not one batch this epoch: there is nothing left to train on
                    break
            epoch_logs = self._logs_or_metrics(logs)
            if validation is not None and _should_eval(epoch, validation_freq):
                # the first validation must see data; a stream used up later just gives no logs
                val_logs = self._test_loop(validation, callbacks, None if validated else "validation")
                validated = True
                epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        if hasattr(self.optimizer, "finalize_variable_values") and epochs > initial_epoch:
            self.optimizer.finalize_variable_values(self.trainable_variables)
        callbacks.on_train_end(training_logs)
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """The loss and metrics over the data in test mode: a scalar, a list, or a dict with `return_dict`.

        The list follows ``metrics_names``, with the compiled metrics expanded in ``compile``'s order.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.compile(loss="mse", metrics=["mae"])
        >>> model.evaluate(np.ones((4, 1)), np.zeros((4, 1)), verbose=0)
        [1.0, 1.0]
        >>> model.evaluate(np.ones((4, 1)), np.zeros((4, 1)), verbose=0, return_dict=True)
        {'loss': 1.0, 'mae': 1.0}
        """
        self._assert_compile_called("evaluate")
        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        iterator = EpochIterator(x, y, sample_weight, batch_size=batch_size, steps=steps,
                                 check=self._data_check("test", "evaluate"))
        if iterator.empty:
            raise _no_data_error("test", "evaluation", iterator)
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches, history=False)
        logs = self._test_loop(iterator, callbacks, "evaluation")
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for all the inputs, batch by batch, concatenated into NumPy arrays.

        A model with several outputs gives the same structure (list or dict) of arrays.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.predict(np.ones((5, 2)), batch_size=2, verbose=0).ravel()
        array([2., 2., 2., 2., 2.], dtype=float32)
        """
        iterator = EpochIterator(x, batch_size=batch_size, steps=steps,
                                 check=self._data_check("predict", "predict"))
        if iterator.empty:
            raise _no_data_error("predict", "input", iterator)
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches, history=False)
        outputs = []

        def step(batch):
            out = self.predict_step(batch)
            outputs.append(_map(_to_numpy, out))
            return {"outputs": out}

        self.stop_predicting = False
        callbacks.on_predict_begin()
        self._run_epoch(iterator, step, callbacks, "predict")
        callbacks.on_predict_end()
        if not outputs:
            raise _no_data_error("predict", "input", iterator, yielded=True)
        return _concatenate(outputs)

    def _flatten_metrics_in_order(self, logs):
        """A list of the logs' values in ``metrics`` order (sorted leftovers last); one value alone."""
        names = []
        for metric in self.metrics:
            if isinstance(metric, CompileMetrics):
                names.extend(metric.result() if metric.built else [])
            else:
                names.append(metric.name)
        results = [logs[name] for name in names if name in logs]
        results += [logs[key] for key in sorted(logs) if key not in names]
        return results[0] if len(results) == 1 else results

    # -- one batch --------------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One ``train_step`` on one batch; the metrics keep accumulating across calls (Keras 3).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
        >>> model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
        1.0
        """
        self._assert_compile_called("train_on_batch")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Arguments `sample_weight` and `class_weight` cannot be specified at the "
                                 f"same time. Received: sample_weight={sample_weight}, "
                                 f"class_weight={class_weight}")
            sample_weight = class_weight_to_sample_weights(y, class_weight)
        logs = pythonify_logs(self.train_step(_one_batch(x, y, sample_weight)))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One ``test_step`` on one batch; the metrics keep accumulating across calls (Keras 3).

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.compile(loss="mse")
        >>> model.test_on_batch(np.ones((2, 1)), np.zeros((2, 1)))
        1.0
        """
        self._assert_compile_called("test_on_batch")
        logs = pythonify_logs(self.test_step(_one_batch(x, y, sample_weight)))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict_on_batch(self, x):
        """``predict_step`` on one batch, as NumPy arrays.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
        ...                              tf.keras.layers.Dense(1, kernel_initializer="ones")])
        >>> model.predict_on_batch(np.ones((1, 2)))
        array([[2.]], dtype=float32)
        """
        return _map(_to_numpy, self.predict_step(_one_batch(x)))


def _one_batch(x, y=None, sample_weight=None) -> tuple:
    return pack_x_y_sample_weight(*_map(_to_tensor, (x, y, sample_weight)))


def _should_eval(epoch: int, validation_freq) -> bool:
    epoch += 1  # validation_freq counts epochs from 1, as the user sees them
    if isinstance(validation_freq, int):
        return epoch % validation_freq == 0
    if isinstance(validation_freq, (list, tuple, set)):
        return epoch in validation_freq
    raise ValueError(f"Expected `validation_freq` to be a list or int. Received: "
                     f"validation_freq={validation_freq} of the type {type(validation_freq)}.")


def _concatenate(batches: list):
    """Join per-batch outputs (same structure each) along the batch axis; scalars are stacked."""
    first = batches[0]
    if isinstance(first, dict):
        return {key: _concatenate([b[key] for b in batches]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([b[i] for b in batches]) for i in range(len(first)))
    arrays = [np.asarray(b) for b in batches]
    return np.stack(arrays) if arrays[0].ndim == 0 else np.concatenate(arrays, axis=0)
