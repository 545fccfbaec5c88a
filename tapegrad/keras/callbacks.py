"""Keras 3 callbacks (``tf.keras.callbacks``): hooks that ``fit``, ``evaluate`` and ``predict`` call.

A callback sees ``self.model`` and ``self.params`` (``{"verbose", "epochs", "steps"}``) and
overrides any of the hooks.  ``fit`` always adds a ``History`` (returned by ``fit``) and, unless
``verbose=0``, a ``ProgbarLogger``.  A callback stops training by setting
``self.model.stop_training = True``.

The logs a hook receives are a dict of Python floats: "loss", the compiled metrics'
names ("accuracy", ...), and after validation the same names prefixed by "val_".

>>> import numpy as np, tapegrad as tf
>>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
>>> model.compile(loss="mse")
>>> seen = []
>>> log_epochs = tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
>>> _ = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=3, callbacks=[log_epochs], verbose=0)
>>> seen
[0, 1, 2]
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "Progbar",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


def _print(message: str) -> None:
    # sys.stdout is looked up at each call so that redirections (pytest's capsys, doctest) see it
    sys.stdout.write(message)
    sys.stdout.flush()


class Callback:
    """Base class of callbacks: every hook does nothing until overridden.

    ``on_train_batch_begin``/``end`` call ``on_batch_begin``/``end`` (the Keras 2 names), so
    overriding either works.

    >>> import numpy as np, tapegrad as tf
    >>> class CountBatches(tf.keras.callbacks.Callback):
    ...     def on_train_begin(self, logs=None):
    ...         self.batches = 0
    ...     def on_train_batch_end(self, batch, logs=None):
    ...         self.batches += 1
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> counter = CountBatches()
    >>> _ = model.fit(np.ones((10, 1)), np.ones((10, 1)), batch_size=4, epochs=2, callbacks=[counter],
    ...               verbose=0)
    >>> counter.batches, counter.params
    (6, {'verbose': 0, 'epochs': 2, 'steps': 3})
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params) -> None:
        """Receive the run's parameters (``verbose``, ``epochs``, ``steps``)."""
        self.params = params

    def set_model(self, model) -> None:
        """Receive the model being trained, evaluated or run."""
        self._model = model

    @property
    def model(self):
        """The model this callback is attached to."""
        return self._model

    @model.setter
    def model(self, model):
        self._model = model

    def on_batch_begin(self, batch, logs=None):
        """Keras 2 name of ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Keras 2 name of ``on_train_batch_end``."""

    def on_epoch_begin(self, epoch, logs=None):
        """At the start of an epoch (0-based) of ``fit``."""

    def on_epoch_end(self, epoch, logs=None):
        """At the end of an epoch, with its training (and "val_") logs."""

    def on_train_batch_begin(self, batch, logs=None):
        """Before a training batch (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """After a training batch, with the metrics' running values over the epoch so far."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Before an ``evaluate`` (or validation) batch."""

    def on_test_batch_end(self, batch, logs=None):
        """After an ``evaluate`` (or validation) batch."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Before a ``predict`` batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """After a ``predict`` batch; ``logs["outputs"]`` holds the batch's outputs."""

    def on_train_begin(self, logs=None):
        """At the start of ``fit``."""

    def on_train_end(self, logs=None):
        """At the end of ``fit``, with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """At the start of ``evaluate`` (and of each validation pass in ``fit``)."""

    def on_test_end(self, logs=None):
        """At the end of ``evaluate``, with its logs."""

    def on_predict_begin(self, logs=None):
        """At the start of ``predict``."""

    def on_predict_end(self, logs=None):
        """At the end of ``predict``."""


_HOOKS = ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
          "on_predict_batch_end", "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end")


class CallbackList(Callback):
    """Several callbacks called as one; adds a ``History`` and a ``ProgbarLogger`` when asked.

    >>> cbs = CallbackList([LambdaCallback(on_train_begin=lambda logs: print("begin"))],
    ...                    add_history=True, verbose=0, epochs=1, steps=1)
    >>> [type(c).__name__ for c in cbs.callbacks]
    ['LambdaCallback', 'History']
    >>> cbs.on_train_begin()
    begin
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(_flat_callbacks(callbacks))
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def append(self, callback) -> None:
        """Add one more callback."""
        self.callbacks.append(callback)

    def set_params(self, params) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    # Each hook forwards to every callback; logs default to {} as Keras passes them.
    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs or {})

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs or {})

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs if logs is not None else {})

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs or {})

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs or {})

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs or {})

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs or {})

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs or {})

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs or {})

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs or {})

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs or {})

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs or {})

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs or {})

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs or {})

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs or {})


def _flat_callbacks(callbacks):
    if callbacks is None:
        return
    if isinstance(callbacks, Callback):
        yield callbacks
        return
    for callback in callbacks:
        if isinstance(callback, (list, tuple)):
            yield from _flat_callbacks(callback)
        elif not all(callable(getattr(callback, hook, None)) for hook in _HOOKS):
            raise TypeError(f"Expected `callbacks` to hold `keras.callbacks.Callback` objects; received "
                            f"{callback!r} of type {type(callback).__name__}.")
        else:
            yield callback


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is the list of epoch losses.

    ``fit`` adds one and returns it; it is also ``model.history``.

    >>> import numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse", metrics=["mae"])
    >>> history = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=2, verbose=0)
    >>> history.epoch, sorted(history.history), len(history.history["loss"]), model.history is history
    ([0, 1], ['loss', 'mae'], 2, True)
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


# -- progress display ---------------------------------------------------------------------------

def _is_interactive(stream) -> bool:
    """Rewrite the line in place only on a terminal or in a notebook, never in a log file."""
    return bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules


def _format_value(value) -> str:
    try:
        value = float(np.mean(value))
    except (TypeError, ValueError):
        return f" {value}"
    return f" {value:.4f}" if abs(value) > 1e-3 else f" {value:.4e}"


def _format_time(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit}"
    return f" {seconds * 1e6:.0f}us/{unit}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


class Progbar:
    """A Keras-style text progress bar: ``12/45 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step - loss: 0.3000``.

    ``verbose=1`` redraws one line (on a terminal; elsewhere, such as a log file, it prints
    only the final line, with no carriage returns); ``verbose=2`` prints one summary line when
    done.  Values are averaged over the steps, except those named in `stateful_metrics`
    (shown as given); with `stateless_metrics` instead, only those are averaged (Keras's
    rules).  `stream` defaults to ``sys.stdout``.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progbar(4, verbose=2, stream=out, stateful_metrics=["loss"])
    >>> for step in range(1, 5):
    ...     bar.update(step, [("loss", 1.0 / step)])
    >>> print(out.getvalue(), end="")
    4/4 - 0s - ...s/step - loss: 0.2500
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` and `stateless_metrics` may be provided.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = None if stateless_metrics is not None else set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._stream = stream
        self._values: dict = {}
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0

    @property
    def stream(self):
        """Where the bar is written (``sys.stdout`` unless given)."""
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current, values=None, finalize=None) -> None:
        """Show step `current` with ``(name, value)`` pairs; `finalize` (default: at the target) ends it."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            stateful = (name in self.stateful_metrics if self.stateful_metrics is not None
                        else name not in self.stateless_metrics)
            if stateful or finalize:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * weight, count + weight]
        self._seen_so_far = current
        now = time.time()
        per_step = self._step_duration(current, now)
        if self.verbose == 1:
            self._draw(current, finalize, now, per_step)
        elif self.verbose == 2 and finalize:
            count = f"{current}/{self.target}" if self.target else f"{current}"
            info = f"{count} - {now - self._start:.0f}s -{_format_time(per_step, self.unit_name)}"
            self.stream.write(info + self._metrics_text() + "\n")
            self.stream.flush()
        self._last_update = now

    def add(self, n, values=None) -> None:
        """Advance by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _draw(self, current, finalize, now, per_step) -> None:
        interactive = _is_interactive(self.stream)
        if not finalize and (not interactive or now - self._last_update < self.interval):
            return  # a log file gets the final line only; a terminal at most one redraw per interval
        if self.target:
            digits = int(math.log10(self.target)) + 1
            done = min(self.width, int(self.width * current / self.target))
            count = f"{current:{digits}d}/{self.target}"
            if interactive:  # Keras's colours: the done part green, the rest grey
                rest = "━" * (self.width - done)
                bar = f"\x1b[1m{count}\x1b[0m \x1b[32m{'━' * done}\x1b[0m\x1b[37m{rest}\x1b[0m"
                visible = len(count) + 1 + self.width
            else:
                bar = f"{count} {'━' * done}{'─' * (self.width - done)}"
                visible = len(bar)
        else:
            bar = f"{current:7d}/Unknown"
            visible = len(bar)
        if self.target and not finalize:
            timing = f" {_format_eta(per_step * (self.target - current))}"
        else:
            timing = f" {now - self._start:.0f}s"
        info = timing + _format_time(per_step, self.unit_name) + self._metrics_text()
        width = visible + len(info)
        line = ("\r" if interactive else "") + bar + info
        if interactive and self._prev_width > width:
            line += " " * (self._prev_width - width)
        self.stream.write(line + ("\n" if finalize or not interactive else ""))
        self.stream.flush()
        self._prev_width = width

    def _metrics_text(self) -> str:
        text = ""
        for name, (total, count) in self._values.items():
            text += f" - {name}:" + _format_value(np.asarray(total) / max(1, count))
        return text

    def _step_duration(self, current, now) -> float:
        # the first step (often slow: building, first allocations) is left out once there are more
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step


class ProgbarLogger(Callback):
    """Prints progress: "Epoch 1/5" then a ``Progbar`` per epoch (``verbose=1``) or one line per epoch (2).

    ``fit`` adds one unless ``verbose=0``; inside ``fit`` the validation pass is not shown.

    >>> import io, contextlib, numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     _ = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=2, verbose=2)
    >>> [line.split(" - ")[0] for line in out.getvalue().splitlines()]
    ['Epoch 1/2', '1/1', 'Epoch 2/2', '1/1']
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params) -> None:
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # the validation passes of fit stay silent

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()

    def on_predict_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # the outputs are not metrics

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def _reset(self) -> None:
        self.seen = 0
        # the logs are already running means over the epoch: shown as they are, not averaged again
        self.progbar = Progbar(self.target, verbose=self.verbose, stateless_metrics=())

    def _update(self, batch, logs) -> None:
        if self.progbar is None:
            self._reset()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs) -> None:
        if self.progbar is None:
            self._reset()
        if self.progbar.target is None:  # an input of unknown length: now we know it
            self.progbar.target = self.seen
        self.progbar.update(self.progbar.target, list((logs or {}).items()), finalize=True)


# -- monitoring a quantity ----------------------------------------------------------------------

_UP_WORDS = ("acc", "auc", "precision", "recall", "f1", "iou", "r2", "top_k")
_DOWN_WORDS = ("loss", "error", "crossentropy", "mse", "mae", "mape", "msle", "hinge", "divergence",
               "kld", "huber", "logcosh", "poisson")


def _direction(model, monitor: str) -> str | None:
    """"up", "down", or None: from the monitored metric object when the model has it, else its name."""
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "down"
    metrics = []
    for metric in getattr(model, "metrics", None) or []:
        metrics.extend(getattr(metric, "metrics", None) or [metric])
    for metric in metrics:
        if getattr(metric, "name", None) == name and getattr(metric, "_direction", None) in ("up", "down"):
            return metric._direction
    lowered = name.lower()
    if any(word in lowered for word in _UP_WORDS):
        return "up"
    if any(word in lowered for word in _DOWN_WORDS):
        return "down"
    return None


class _MonitorCallback(Callback):
    """Shared by the callbacks that watch a quantity: ``mode``, ``min_delta``, improvement tests."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                          stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        if self.mode == "auto":
            direction = _direction(self.model, self.monitor)
            if direction is None:
                raise ValueError(f"{type(self).__name__} callback received monitor={self.monitor}, but it "
                                 "cannot tell whether that metric should be maximized or minimized. Pass "
                                 "`mode='max'` to monitor the highest value, or `mode='min'` for the lowest.")
        else:
            direction = "down" if self.mode == "min" else "up"
        self.monitor_op = np.less if direction == "down" else np.greater
        if self.monitor_op is np.less:
            self.min_delta = -abs(self.min_delta)
        if self.best is None:
            self.best = np.inf if self.monitor_op is np.less else -np.inf

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))

    def _current(self, logs, what: str):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{what} conditioned on metric `{self.monitor}` which is not available. Available "
                          f"metrics are: {','.join(logs or {})}", stacklevel=3)
        return value


class EarlyStopping(_MonitorCallback):
    """Stop training when `monitor` has not improved (by more than `min_delta`) for `patience` epochs.

    `baseline`: training stops unless the quantity beats it within `patience` epochs.
    `restore_best_weights`: at the end, set the weights of the best epoch back.
    `start_from_epoch`: epochs to wait before monitoring starts.

    >>> import numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
    ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)])
    >>> model.compile(loss="mse")  # the loss is 0 from the start: it cannot improve
    >>> stop = tf.keras.callbacks.EarlyStopping(monitor="loss", patience=2)
    >>> history = model.fit(np.ones((4, 1)), np.zeros((4, 1)), epochs=10, callbacks=[stop], verbose=0)
    >>> len(history.history["loss"]), stop.stopped_epoch
    (3, 2)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # a callback may be reused for another fit: start afresh
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self.best = None
        self.monitor_op = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # now the model's metrics are built
        current = self._current(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # until something improves, these are the best
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # the wait restarts only when the previous best and the baseline are both beaten
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """The monitored value in `logs` (None, with a warning, when it is missing)."""
        return self._current(logs, "Early stopping")


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or only its weights) after every epoch, or every `save_freq` batches.

    `filepath` may hold ``str.format`` fields: ``{epoch:02d}`` (1-based), ``{batch}`` and any log
    name, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.h5"``.  With `save_best_only`, only
    an improvement of `monitor` is saved.  Weights go through ``model.save_weights``, whose
    writes are atomic (a finished temporary file renamed over the target), so an interrupted
    save never leaves a truncated checkpoint.  tapegrad writes ``.weights.h5`` (with h5py) and
    ``.npz`` weights files; whole-model files (``.keras``) need a ``model.save``.

    >>> import os, tempfile, numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> folder = tempfile.mkdtemp()
    >>> checkpoint = tf.keras.callbacks.ModelCheckpoint(os.path.join(folder, "w-{epoch:02d}.npz"),
    ...                                                 save_weights_only=True)
    >>> _ = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=2, callbacks=[checkpoint], verbose=0)
    >>> sorted(os.listdir(folder))
    ['w-01.npz', 'w-02.npz']
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or "
                             "integer values")
        if save_weights_only:
            if not self.filepath.endswith((".weights.h5", ".npz")):
                raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                                 "provided must end in `.weights.h5` (Keras weights format) or `.npz` "
                                 f"(tapegrad's NumPy weights file). Received: filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). Received: "
                             f"filepath={self.filepath}")

    def on_train_begin(self, logs=None):
        if self.filepath.endswith(".h5"):
            from .saving import _require_h5py
            _require_h5py()  # fail now, not after the first epoch's work
        if not self.save_weights_only and not callable(getattr(self.model, "save", None)):
            # fail now rather than after the first epoch's work
            raise NotImplementedError("ModelCheckpoint(save_weights_only=False) saves the whole model with "
                                      "`model.save`, which tapegrad models do not have yet. Pass "
                                      "`save_weights_only=True` with a `.weights.h5` or `.npz` filepath.")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        # batch numbers restart each epoch; with steps_per_execution they advance by more than one
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}\n")
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        best = f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving "
                       f"model to {filepath}\n")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}\n")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        filepath = self._get_file_path(epoch, batch, logs or {})
        if os.path.isdir(filepath):
            raise OSError(f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                          f"existing directory: {filepath}")
        if not self._should_save(epoch, logs, filepath):
            return
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)

    def _get_file_path(self, epoch, batch, logs) -> str:
        fields = dict(logs)
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**{**fields, "epoch": epoch + 1})
        except (KeyError, IndexError, ValueError) as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e!r}. The '
                           f"fields available are epoch, batch and the logs: {sorted(logs)}.") from e


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``).

    `lr` is the optimizer's current rate; the new one is also logged as "learning_rate".

    >>> import numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    >>> halve = tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    >>> history = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=3, callbacks=[halve], verbose=0)
    >>> [round(lr, 4) for lr in history.history["learning_rate"]]
    [0.05, 0.025, 0.0125]
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(np.asarray(optimizer.learning_rate)))
        except TypeError:  # a one-argument schedule: schedule(epoch), as Keras 2 allowed
            learning_rate = self.schedule(epoch)
        learning_rate = _to_float(learning_rate)
        if learning_rate is None:
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.\n")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))


def _to_float(value):
    value = value.numpy() if hasattr(value, "numpy") else value
    if isinstance(value, (int, float, np.integer, np.floating)) or (
            isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"):
        return float(value)
    return None


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by `factor` when `monitor` has not improved for `patience` epochs.

    After a reduction, `cooldown` epochs pass before counting again; the rate never goes below
    `min_lr`.  The rate is logged as "learning_rate".

    >>> import numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)),
    ...                              tf.keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False)])
    >>> model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")  # loss 0 from the start: no gain
    >>> reduce = tf.keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    >>> history = model.fit(np.ones((4, 1)), np.zeros((4, 1)), epochs=3, callbacks=[reduce], verbose=0)
    >>> [round(lr, 4) for lr in history.history["learning_rate"]]
    [0.1, 0.1, 0.05]
    >>> round(float(model.optimizer.learning_rate), 4)
    0.025
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if kwargs.pop("epsilon", None) is not None:  # its Keras 2 name
            warnings.warn("`epsilon` argument is deprecated and will be removed, use `min_delta` instead.",
                          stacklevel=2)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.cooldown_counter = 0
        self.wait = 0
        self.best = None
        self.monitor_op = None

    def in_cooldown(self) -> bool:
        """Whether reductions are paused after the last one."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        current = self._current(logs, "Learning rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(np.asarray(optimizer.learning_rate))
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.\n")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file: "epoch" then the log names, sorted.

    With `append`, rows go after those of an earlier run (no second header).  Each row is
    appended, flushed and synced to disk before the next epoch starts, and the file is closed
    between epochs, so a crash loses at most the row being written.

    >>> import os, tempfile, numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse", metrics=["mae"])
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> logger = tf.keras.callbacks.CSVLogger(path)
    >>> _ = model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=2, callbacks=[logger], verbose=0)
    >>> [line.split(",")[0] for line in open(path).read().splitlines()]
    ['epoch', '0', '1']
    >>> open(path).readline().strip()  # val_ columns too, as Keras: validation may start later
    'epoch,loss,mae,val_loss,val_mae'
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.keys = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0:
            self._write_header = False  # the earlier run's header stays the only one
        else:
            self._write_header = True
            with open(self.filename, "w", newline="", encoding="utf-8"):
                pass  # truncate now, as Keras opens the file at the start of training
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                # with validation_freq > 1 the first epoch has no val_ logs: keep columns for them
                self.keys += [f"val_{k}" for k in self.keys]
        row = {"epoch": epoch, **{key: _csv_value(logs.get(key, "NA")) for key in self.keys}}
        with open(self.filename, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                    extrasaction="ignore")
            if self._write_header:
                writer.writeheader()
                self._write_header = False
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())


def _csv_value(value):
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return f"[{', '.join(map(str, np.ravel(value)))}]"


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    >>> import numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> x = np.ones((8, 1)); x[5] = np.nan
    >>> history = model.fit(x, np.ones((8, 1)), batch_size=2, epochs=3, shuffle=False, verbose=0,
    ...                     callbacks=[tf.keras.callbacks.TerminateOnNaN()])
    Batch 2: Invalid loss, terminating training
    >>> history.epoch
    [0]
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.all(np.isfinite(loss)):
            _print(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Any hook can be given by its name (``on_train_batch_end``, ``on_test_end``, ...);
    ``on_epoch_*`` take ``(epoch, logs)``, batch hooks ``(batch, logs)``, the others ``(logs)``.

    >>> import numpy as np, tapegrad as tf
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> done = tf.keras.callbacks.LambdaCallback(on_train_end=lambda logs: print(sorted(logs)))
    >>> _ = model.fit(np.ones((2, 1)), np.ones((2, 1)), callbacks=[done], verbose=0)
    ['loss']
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        unknown = [name for name in kwargs if name not in _HOOKS]
        if unknown:
            raise ValueError(f"LambdaCallback got unknown hooks {unknown}; the hooks are {list(_HOOKS)}.")
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin, "on_train_batch_end": on_train_batch_end,
                 **kwargs}
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)

from .._compat import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr("tf.keras.callbacks")  # a name not implemented: an honest AttributeError
