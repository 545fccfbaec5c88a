"""What ``fit``, ``evaluate`` and ``predict`` refuse before any step runs, naming what they were
given: arguments that make no sense (``epochs=-1``, ``batch_size=0``, ``validation_split=1.5``),
strings that the default steps would hand to a numeric model or loss, and data holding no batch
(Keras's "Unexpected result of `train_function` (Empty logs)").
"""
from __future__ import annotations

import numpy as np

from .data_adapters import _describe, _flatten, _is_text


def check_count(name: str, value, minimum: int = 1, allow_none: bool = True) -> None:
    """ValueError naming the argument unless `value` is an integer >= `minimum` (or None if allowed).

    >>> check_count("epochs", 3, minimum=0, allow_none=False)
    >>> check_count("epochs", -1, minimum=0, allow_none=False)
    Traceback (most recent call last):
    ...
    ValueError: Argument `epochs` must be an integer >= 0. Received: epochs=-1
    """
    if value is None and allow_none:
        return
    integer = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if integer and value >= minimum:
        return
    kind = "" if integer else f" (of type {type(value).__name__})"
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise ValueError(f"Argument `{name}` must be {what}{' or None' if allow_none else ''}. "
                     f"Received: {name}={value!r}{kind}")


def _check_fit_arguments(epochs, initial_epoch, batch_size, steps_per_epoch, validation_split,
                         validation_steps, validation_batch_size, validation_freq) -> None:
    """ValueError naming the first argument of ``fit`` that makes no sense, before anything runs."""
    check_count("epochs", epochs, minimum=0, allow_none=False)  # 0 epochs: Keras 3 trains nothing
    check_count("initial_epoch", initial_epoch, minimum=0, allow_none=False)
    check_count("batch_size", batch_size)
    check_count("steps_per_epoch", steps_per_epoch)
    check_count("validation_steps", validation_steps)
    check_count("validation_batch_size", validation_batch_size)
    number = isinstance(validation_split, (int, float, np.integer, np.floating)) and \
        not isinstance(validation_split, (bool, np.bool_))
    if not number or not 0 <= validation_split < 1:
        raise ValueError("Argument `validation_split` must be a number in [0, 1): the fraction of the "
                         f"data kept for validation. Received: validation_split={validation_split!r}")
    freqs = list(validation_freq) if isinstance(validation_freq, (list, tuple, set)) else [validation_freq]
    for freq in freqs:
        if not isinstance(freq, (int, np.integer)) or isinstance(freq, bool) or freq < 1:
            raise ValueError("Argument `validation_freq` must be a positive integer (validate every that "
                             "many epochs) or a list of epochs (counted from 1). Received: "
                             f"validation_freq={validation_freq!r}")


def _no_data_error(mode: str, what: str, iterator, yielded: bool = False) -> ValueError:
    """Keras's error for a step function that never ran, saying which data held nothing."""
    function, result = {"train": ("train_function", "Empty logs"), "test": ("test_function", "Empty logs"),
                        "predict": ("predict_function", "Empty batch_outputs")}[mode]
    detail = iterator.describe() + (" that gave no batch" if yielded else "")
    return ValueError(f"Unexpected result of `{function}` ({result}): the {what} data is empty ({detail}), "
                      "so no step ran. Check how the data was made: was it filtered or sliced to nothing, "
                      "or is it an iterator that was already used up?")


def _text_check(model, method: str, step: str, check_y: bool):
    """check(x, y): ValueError for strings in `x` a numeric model would get, or in `y` (when
    `check_y`: the compiled loss gets the targets), naming the data's shape and dtype."""
    takes_text = _takes_text(model)

    def check(x, y):
        text = [leaf for leaf in _flatten(x) if _is_text(leaf)]
        if text and not takes_text:
            raise ValueError(f"`{method}()` received strings in `x` ({_describe(text[0])}), but the "
                             f"model computes with numbers{_inputs_text(model)}. Encode the text as "
                             "numbers first (e.g. integer ids: `np.unique(x, return_inverse=True)[1]`), "
                             f"or override `{step}` to handle it.")
        text = [leaf for leaf in _flatten(y) if _is_text(leaf)] if check_y and y is not None else []
        if text:
            raise ValueError(f"`{method}()` received strings in `y` ({_describe(text[0])}), but the loss "
                             f"({_loss_text(model.loss)}) computes with numbers. Turn string labels into "
                             "integer class indices first (e.g. `np.unique(y, return_inverse=True)[1]`), "
                             f"or override `compute_loss` or `{step}` to handle them.")
    return check


def _takes_text(model) -> bool:
    """Whether strings may go into the model: one of its Inputs is a string, or it is subclassed
    (its own ``call`` decides); a Sequential or functional model of numeric Inputs never takes them."""
    graph = getattr(model, "_keras_graph", None)
    if graph is not None:
        return any(t.dtype.name == "string" for t in graph.inputs)
    from ..models.sequential import Sequential
    return not isinstance(model, Sequential)


def _inputs_text(model) -> str:
    graph = getattr(model, "_keras_graph", None)
    if graph is None:
        return ""
    return " (its inputs: " + ", ".join(f"{t.name} {t.dtype.name}" for t in graph.inputs) + ")"


def _loss_text(loss) -> str:
    if isinstance(loss, str):
        return f"`{loss}`"
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return f"`{name}`" if name else "the compiled loss"
