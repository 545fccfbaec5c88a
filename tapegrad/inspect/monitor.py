"""GradientMonitor: how each variable's gradient and update behave, step by step and per epoch.

Three measurements, none of which TensorFlow offers in a custom loop:

- **gradient norm** of each variable, from the gradients handed to ``record``;
- **update/weight ratio** ‖w_after − w_before‖ / ‖w_before‖ of each variable's optimizer step:
  ``record`` keeps the weights as they are, and the next ``record`` (or ``end_epoch``) compares,
  when the optimizer's ``iterations`` say that an update was applied in between.  Call ``record``
  once per step, before ``apply_gradients``; where that cannot be (a compiled train step that
  returns its gradients), ``record(..., applied=True)`` after it: then the update measured is the
  one since the previous record, and the very first step has none.  Around 1e-3 is the usual
  healthy size; far below, the layer barely learns; far above, training is unstable;
- **dead ReLUs**: for each layer with a ReLU activation (``activation="relu"``, ``ReLU()``), the
  units whose output is 0 for every example.  The monitor wraps the call of those layers (on
  the layer object only, undone by ``close()``) and looks at the outputs of forward passes made
  under a ``GradientTape``, the training steps, not evaluation.  Per step: the fraction of units
  dead for that batch; per epoch: the fraction dead for every batch of the epoch.

``end_epoch`` turns the steps into a table (``summary``), warns (``GradientWarning``) about
exploding, vanishing and None gradients and dead layers, and starts the next epoch.  ``plot``
draws the steps (matplotlib, the ``plot`` extra); a ``writer`` gets every step's values as
TensorBoard scalars.

``record`` and the watched layers are staged as ``tf.print`` is: inside a ``tf.function`` they
run on every call, with that call's gradients and activations.
"""
from __future__ import annotations

import functools
import math
import sys
import warnings

import numpy as np

from ..core.op import staged, state
from ..core.tensor import convert_to_tensor
from .graph_view import columns

__all__ = ["GradientMonitor", "GradientWarning"]


class GradientWarning(UserWarning):
    """Exploding, vanishing or missing gradients, or a layer of dead ReLUs, seen by a GradientMonitor."""


class GradientMonitor:
    """Watch the gradients, updates and ReLU activity of a model trained in a custom loop.

    `model` (optional) has its ReLU layers watched and gives ``record`` its default variables;
    `optimizer` (optional) is needed for the update/weight ratio.  A variable warns when its
    gradient norm exceeds `exploding` or is NaN/Inf in a step, or when the epoch's mean norm is
    below `vanishing`; a layer warns when more than `dead` of its units stayed at 0 all epoch.
    `writer`: a ``tf.summary`` writer that receives each step's values.  `verbose`: print each
    epoch's table.  `initial_epoch`: epochs already done (a resumed run numbers on from it).
    `keep_steps`: how many of the latest steps ``steps`` (and ``plot``) keeps, None for all; the
    epochs' tables are summed up as the steps come, so they count every step either way.

    >>> import tapegrad as tf
    >>> tf.keras.utils.set_random_seed(0)
    >>> model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu", name="hidden"),
    ...                              tf.keras.layers.Dense(1, name="out")])
    >>> optimizer = tf.keras.optimizers.SGD(0.1)
    >>> monitor = tf.inspect.GradientMonitor(model, optimizer)
    >>> x, y = tf.random.normal([32, 4]), tf.random.normal([32, 1])
    >>> for step in range(5):
    ...     with tf.GradientTape() as tape:
    ...         loss = tf.reduce_mean((model(x) - y) ** 2)
    ...     grads = tape.gradient(loss, model.trainable_variables)
    ...     monitor.record(grads, model.trainable_variables)
    ...     _ = optimizer.apply_gradients(zip(grads, model.trainable_variables))
    >>> table = monitor.end_epoch()
    Gradients, epoch 1 (5 steps)
    variable       shape   grad norm  max        update/weight
    hidden/kernel  (4, 8)  ...e-01  ...e+00  ...e-02
    hidden/bias    (8,)    ...
    out/kernel     (8, 1)  ...
    out/bias       (1,)    ...
    ReLU layer  dead units (0 for every example all epoch)
    hidden      0/8 (0.0%)
    >>> sorted(monitor.epochs[0]["variables"]["hidden/kernel"])
    ['grad_norm', 'grad_norm_max', 'no_gradient', 'non_finite', 'shape', 'update_ratio']
    >>> monitor.close()
    """

    def __init__(self, model=None, optimizer=None, *, exploding: float = 1e3, vanishing: float = 1e-7,
                 dead: float = 0.5, writer=None, verbose: bool = True, initial_epoch: int = 0,
                 keep_steps: int | None = 10_000):
        self.model = model
        self.optimizer = optimizer
        self.exploding, self.vanishing, self.dead = exploding, vanishing, dead
        self.writer = writer
        self.verbose = verbose
        self.keep_steps = keep_steps
        self.steps: list[dict] = []    # the latest record()s: epoch, step, grad_norm, update_ratio, dead_relu
        self.epochs: list[dict] = []   # one per end_epoch(): epoch, steps, variables, dead_relu, warnings
        self._epoch = initial_epoch + 1
        self._recorded = 0             # steps recorded in all (the next step's number)
        self._epoch_steps = 0          # steps recorded this epoch
        self._totals: dict = {}        # variable name -> _Totals of this epoch's steps
        self._names: dict = {}         # id(variable) -> (name, shape), in the order first seen
        self._snapshot = None          # (step, iterations, [(name, variable, value before)])
        self._relu: dict = {}          # layer name -> _Relu
        self._unwatch: list = []
        if model is not None:
            self.watch_model(model)

    # -- what is watched ---------------------------------------------------------------------------
    def watch_model(self, model) -> list:
        """Watch the ReLU layers of `model` (and of its sublayers); returns their names.

        >>> import tapegrad as tf
        >>> model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu", name="hidden"),
        ...                              tf.keras.layers.ReLU(name="relu"),
        ...                              tf.keras.layers.Dense(1, activation="sigmoid", name="out")])
        >>> tf.inspect.GradientMonitor(verbose=False).watch_model(model)
        ['hidden', 'relu']
        """
        names = []
        for layer in _layers(model):
            if _is_relu(layer) and layer.name not in self._relu:
                self._relu[layer.name] = _Relu(1 if getattr(layer, "data_format", None) == "channels_first" else -1)
                self._unwatch.append(_watch_calls(layer, functools.partial(self._note_relu, layer.name)))
                names.append(layer.name)
        return names

    def close(self) -> None:
        """Stop watching the layers (their calls are theirs again); the history stays."""
        for undo in reversed(self._unwatch):
            undo()
        self._unwatch.clear()

    # -- recording ---------------------------------------------------------------------------------
    @staged()
    def record(self, gradients, variables=None, applied: bool = False) -> None:
        """Record one step's `gradients` of `variables` (default: the model's trainable variables),
        before ``optimizer.apply_gradients`` (`applied`: after it).  None gradients are counted."""
        if variables is None:
            if self.model is None:
                raise ValueError("GradientMonitor.record: pass the variables, or make the monitor with the model")
            variables = self.model.trainable_variables
        gradients, variables = list(gradients), list(variables)
        if len(gradients) != len(variables):
            raise ValueError(f"GradientMonitor.record: {len(gradients)} gradients for {len(variables)} variables")
        step = {"epoch": self._epoch, "step": self._recorded, "grad_norm": {}, "update_ratio": {},
                "dead_relu": {name: relu.take_pending() for name, relu in self._relu.items() if relu.pending}}
        self._settle(step if applied else None)
        before = []
        for gradient, variable in zip(gradients, variables):
            name = self._name(variable)
            norm = step["grad_norm"][name] = None if gradient is None else \
                _norm(convert_to_tensor(gradient)._value)
            self._totals.setdefault(name, _Totals()).add_norm(norm)
            if gradient is not None and self.optimizer is not None:
                # a copy in the variable's own dtype: a float64 one doubled what each step copies
                before.append((name, variable, np.array(variable._value)))
        self._recorded += 1
        self._epoch_steps += 1
        self.steps.append(step)
        if self.keep_steps is not None and len(self.steps) > self.keep_steps:
            del self.steps[:len(self.steps) - self.keep_steps]
        if self.optimizer is not None:
            self._snapshot = (step, int(self.optimizer.iterations), before)
        self._write(step, {"grad_norm": step["grad_norm"], "dead_relu": step["dead_relu"]})

    def _settle(self, step=None) -> None:
        """The update/weight ratio of the update made since the weights were kept, if one was made: it
        belongs to `step` (recorded after apply_gradients), else to the step that kept the weights."""
        if self._snapshot is None:
            return
        kept_by, iterations, before = self._snapshot
        if int(self.optimizer.iterations) == iterations:
            return  # no update yet (an epoch ended right after the step applied it): keep waiting
        self._snapshot = None
        step = kept_by if step is None else step
        for name, variable, old in before:
            size = _norm(old)
            if size > 0:  # a ratio to nothing (a bias at its zero start) says nothing
                ratio = step["update_ratio"][name] = _norm(np.subtract(variable._value, old)) / size
                if step["epoch"] == self._epoch:  # not a step of an epoch already summed up
                    self._totals.setdefault(name, _Totals()).ratios.append(ratio)
        self._write(step, {"update_ratio": step["update_ratio"]})

    @staged()
    def _note_relu(self, name, outputs) -> None:
        self._relu[name].note(np.asarray(outputs._value))

    def _name(self, variable) -> str:
        key = id(variable)
        if key not in self._names:
            name = getattr(variable, "path", None) or variable.name.split(":")[0]
            taken = {n for n, _ in self._names.values()}
            unique, n = name, 1
            while unique in taken:
                unique, n = f"{name}_{n}", n + 1
            self._names[key] = (unique, tuple(variable.shape.as_list()))
        return self._names[key][0]

    def _write(self, step: dict, series: dict) -> None:
        if self.writer is None:
            return
        from ..summary import scalar
        with self.writer.as_default(step=step["step"]):
            for kind, values in series.items():
                for name, value in values.items():
                    if value is not None:
                        scalar(f"{kind}/{name}", value)

    # -- per epoch ---------------------------------------------------------------------------------
    def end_epoch(self) -> str:
        """Close the epoch: its table (printed when verbose), warnings, and ``epochs`` gets its record."""
        self._settle()
        record = {"epoch": self._epoch, "steps": self._epoch_steps, "variables": {}, "dead_relu": {},
                  "warnings": []}
        for name, shape in self._names.values():
            totals = self._totals.get(name)
            if totals is not None:
                record["variables"][name] = {
                    "shape": shape, "grad_norm": _mean(totals.finite),
                    "grad_norm_max": max(totals.finite, default=None),
                    "non_finite": totals.non_finite, "no_gradient": totals.no_gradient,
                    "update_ratio": _mean(totals.ratios)}
        for name, relu in self._relu.items():
            if relu.active is not None:
                record["dead_relu"][name] = relu.take_epoch()
        record["warnings"] = self._warnings(record)
        self.epochs.append(record)
        self._epoch += 1
        self._epoch_steps = 0
        self._totals = {}
        for message in record["warnings"]:
            warnings.warn(message, GradientWarning, stacklevel=2)
        table = self.summary()
        if self.verbose:
            print(table, file=sys.stdout)
        return table

    def _warnings(self, record: dict) -> list:
        found = []
        steps = record["steps"]
        for name, v in record["variables"].items():
            if v["non_finite"]:
                found.append(f"{name}: NaN or Inf gradient in {v['non_finite']} of {steps} steps (exploding "
                             f"gradients); lower the learning rate or clip gradients (clipnorm=1.0)")
            if v["grad_norm_max"] is not None and v["grad_norm_max"] > self.exploding:
                found.append(f"{name}: gradient norm up to {v['grad_norm_max']:.3g}, above {self.exploding:g} "
                             f"(exploding gradients); lower the learning rate or clip gradients (clipnorm=1.0)")
            if v["grad_norm"] is not None and v["grad_norm"] < self.vanishing:
                found.append(f"{name}: mean gradient norm {v['grad_norm']:.3g}, below {self.vanishing:g} "
                             f"(vanishing gradients): it barely learns")
            if v["no_gradient"]:
                found.append(f"{name}: gradient None in {v['no_gradient']} of {steps} steps: the loss does not "
                             f"depend on it there")
        for name, (dead, units) in record["dead_relu"].items():
            if dead > self.dead * units:
                found.append(f"{name}: {dead} of {units} ReLU units gave 0 for every training example this "
                             f"epoch (dead ReLUs); a lower learning rate, He initialization or LeakyReLU help")
        return found

    def summary(self, epoch: int = -1) -> str:
        """The table of an epoch (default: the last one ended), as ``end_epoch`` prints it.

        >>> import tapegrad as tf
        >>> tf.inspect.GradientMonitor().summary()
        'No epoch has ended yet: call end_epoch() after the epoch.'
        """
        if not self.epochs:
            return "No epoch has ended yet: call end_epoch() after the epoch."
        record = self.epochs[epoch]
        lines = [f"Gradients, epoch {record['epoch']} ({record['steps']} steps)"]
        rows = [("variable", "shape", "grad norm", "max", "update/weight", "")]
        for name, v in record["variables"].items():
            notes = []
            if v["non_finite"]:
                notes.append(f"NaN/Inf x{v['non_finite']}")
            if v["no_gradient"]:
                notes.append(f"None x{v['no_gradient']}")
            rows.append((name, str(v["shape"]), _number(v["grad_norm"]), _number(v["grad_norm_max"]),
                         _number(v["update_ratio"]), " ".join(notes)))
        lines += columns(rows)
        if record["dead_relu"]:
            rows = [("ReLU layer", "dead units (0 for every example all epoch)")]
            rows += [(name, f"{dead}/{units} ({100.0 * dead / units:.1f}%)")
                     for name, (dead, units) in record["dead_relu"].items()]
            lines += columns(rows)
        return "\n".join(lines)

    def plot(self, path) -> None:
        """Draw every step's gradient norms, update/weight ratios and dead-ReLU fractions to the PNG `path`
        (atomically), epochs marked; needs matplotlib (``pip install 'tapegrad[plot]'``)."""
        try:
            from matplotlib.figure import Figure  # without pyplot: no GUI backend, no global state
        except ImportError as e:
            raise ImportError("GradientMonitor.plot draws with matplotlib, which is not installed: "
                              "pip install 'tapegrad[plot]'") from e
        from ..keras.saving import atomic_write
        panels = [("grad_norm", "gradient norm", True), ("update_ratio", "update / weight", True)]
        if self._relu:
            panels.append(("dead_relu", "dead ReLU units, fraction per batch", False))
        figure = Figure(figsize=(5 * len(panels), 3.8), layout="tight")
        axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
        x = np.array([s["step"] + 1 for s in self.steps])  # the steps kept: the latest `keep_steps`
        for axes, (kind, title, log) in zip(axes_list, panels):
            names = list(dict.fromkeys(name for s in self.steps for name in s[kind]))
            for name in names:
                y = np.array([_plottable(s[kind].get(name), log) for s in self.steps], np.float64)
                axes.plot(x, y, label=name, linewidth=1)
            if log:
                axes.set_yscale("log")
            if kind == "update_ratio":
                axes.axhline(1e-3, color="grey", linestyle=":", linewidth=1)
            for end in np.cumsum([record["steps"] for record in self.epochs]):  # where each epoch ended
                axes.axvline(end + 0.5, color="lightgrey", linewidth=0.8)
            axes.set_xlabel("step")
            axes.set_title(title)
            if names:
                axes.legend(fontsize="x-small")
        atomic_write(path, lambda f: figure.savefig(f, format="png"))


class _Totals:
    """One variable's steps in the epoch so far: what its row of the epoch's table needs."""

    __slots__ = ("finite", "no_gradient", "non_finite", "ratios")

    def __init__(self):
        self.finite: list = []    # finite gradient norms, one float per step
        self.non_finite = 0
        self.no_gradient = 0
        self.ratios: list = []    # update/weight ratios

    def add_norm(self, norm) -> None:
        if norm is None:
            self.no_gradient += 1
        elif math.isfinite(norm):
            self.finite.append(norm)
        else:
            self.non_finite += 1


class _Relu:
    """What a watched ReLU layer's training forward passes showed: units active this epoch, and
    the dead fraction of each batch since the last record."""

    def __init__(self, unit_axis: int):
        self.unit_axis = unit_axis
        self.active = None   # bool per unit: nonzero for some example of some batch this epoch
        self.pending: list = []

    def note(self, outputs: np.ndarray) -> None:
        units = np.moveaxis(outputs, self.unit_axis, -1).reshape(-1, outputs.shape[self.unit_axis])
        active = np.any(units != 0, axis=0)
        self.active = active if self.active is None or self.active.shape != active.shape else self.active | active
        self.pending.append(1.0 - float(active.mean()))

    def take_pending(self) -> float:
        value = float(np.mean(self.pending))
        self.pending.clear()
        return value

    def take_epoch(self) -> tuple:
        dead, units = int(np.sum(~self.active)), int(self.active.size)
        self.active = None
        self.pending.clear()
        return dead, units


def _watch_calls(layer, note):
    """Make `layer`'s calls under a GradientTape pass their outputs to `note`; returns the undo."""
    original = layer.call
    own = layer.__dict__.get("call")  # normally absent: the class's method

    @functools.wraps(original)
    def call(*args, **kwargs):
        outputs = original(*args, **kwargs)
        if state.tapes:  # a forward pass for gradients: a training step, not an evaluation
            note(outputs)
        return outputs

    object.__setattr__(layer, "call", call)  # past Layer's attribute tracking: not a sublayer or weight

    def undo():
        if own is None:
            del layer.__dict__["call"]
        else:
            object.__setattr__(layer, "call", own)
    return undo


def _layers(layer):
    seen, stack, found = set(), [layer], []
    while stack:
        current = stack.pop(0)
        if id(current) not in seen:
            seen.add(id(current))
            found.append(current)
            stack.extend(current.layers if hasattr(current, "layers") else ())
    return found


def _is_relu(layer) -> bool:
    from ..keras import activations
    from ..keras.layers import ReLU
    if isinstance(layer, ReLU):
        return layer.negative_slope == 0  # a leaky one does not die
    return getattr(layer, "activation", None) is activations.relu


_CHUNK = 1 << 16  # values converted to float64 at a time: 512 KiB, whatever the variable's size


def _norm(values) -> float:
    """The 2-norm, summed in float64 (a float32 sum of squares overflows from norms of ~1e19 up)
    chunk by chunk, never copying the whole array to float64."""
    values = np.asarray(values).reshape(-1)
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a huge or NaN gradient is what we report
        for start in range(0, values.size, _CHUNK):
            chunk = values[start:start + _CHUNK].astype(np.float64)
            total += float(np.dot(chunk, chunk))
    return math.sqrt(total)


def _mean(values):
    return float(np.mean(values)) if values else None


def _number(value) -> str:
    return "-" if value is None else f"{value:.3e}"


def _plottable(value, log: bool) -> float:
    if value is None or (log and not value > 0):
        return np.nan  # a gap in the line: no gradient, or nothing a log axis can show
    return value

