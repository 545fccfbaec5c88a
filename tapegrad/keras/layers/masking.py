"""Keras masks: which time steps of a sequence are real, carried beside the tensors (``_keras_mask``).

Keras attaches a mask to a tensor as an attribute; tapegrad's tensors have fixed slots, so a mask
lives in a table keyed by the tensor's id and dies with the tensor (a weak reference's callback
removes it).  ``Layer.__call__`` passes the mask of its first input as ``mask=`` to a ``call`` that
accepts one and attaches ``compute_mask``'s result to the outputs of a layer that supports masking,
as Keras 3 does; ``Embedding(mask_zero=True)`` and ``Masking`` make masks, recurrent and attention
layers read them.
"""
from __future__ import annotations

import inspect
import weakref

from ...core.tensor import Tensor

__all__ = ["get_keras_mask", "set_keras_mask"]

_masks: dict = {}  # id(tensor) -> (weakref to the tensor, its mask)
_takes_mask: dict = {}  # type(layer) -> whether its call accepts `mask`


def get_keras_mask(x):
    """The mask attached to tensor `x` (None if it has none).

    >>> import tapegrad as tf
    >>> x = tf.keras.layers.Embedding(5, 2, mask_zero=True)(tf.constant([[1, 0]]))
    >>> get_keras_mask(x).numpy()
    array([[ True, False]])
    """
    entry = _masks.get(id(x))
    return entry[1] if entry is not None and entry[0]() is x else None


def set_keras_mask(x, mask) -> None:
    """Attach `mask` to tensor `x` (None removes it); the entry dies with `x`.

    >>> import tapegrad as tf
    >>> x = tf.ones([1, 2, 3])
    >>> set_keras_mask(x, tf.constant([[True, False]]))
    >>> get_keras_mask(x).shape
    TensorShape([1, 2])
    """
    key = id(x)
    if mask is None:
        _masks.pop(key, None)
        return
    if not isinstance(x, Tensor):
        return  # only tensors carry masks (an ndarray output is new each time anyway)

    def forget(ref, key=key):
        entry = _masks.get(key)
        if entry is not None and entry[0] is ref:
            _masks.pop(key, None)
    _masks[key] = (weakref.ref(x, forget), mask)


def default(method):
    """Mark `method` as Layer's own default (Keras' ``utils.default``): a layer that overrides
    ``compute_mask`` makes masks, one that keeps the default does not."""
    method._keras_default = True
    return method


def masks_in_use() -> bool:
    """Whether any live tensor carries a mask: calls skip the mask plumbing while none does."""
    return bool(_masks)


def _map_masks(x):
    if isinstance(x, (list, tuple)):
        return [_map_masks(e) for e in x]
    return get_keras_mask(x)


def _flat(x) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for e in x for leaf in _flat(e)]
    if isinstance(x, dict):
        return [leaf for e in x.values() for leaf in _flat(e)]
    return [x]


def call_takes_mask(layer) -> bool:
    """Whether ``layer.call`` has a ``mask`` parameter (looked up once per class)."""
    kind = type(layer)
    takes = _takes_mask.get(kind)
    if takes is None:
        try:
            takes = "mask" in inspect.signature(layer.call).parameters
        except (TypeError, ValueError):
            takes = False
        _takes_mask[kind] = takes
    return takes


def mask_aware(layer) -> bool:
    """Whether a call of `layer` may read or make a mask: masks exist, or the layer computes its own."""
    return bool(_masks) or not getattr(type(layer).compute_mask, "_keras_default", False)


def inputs_mask(layer, args, kwargs):
    """Fill ``kwargs['mask']`` from the first input's mask where ``call`` takes one and none was given;
    return the previous mask (what ``compute_mask`` receives)."""
    first = args[0] if args else None
    if call_takes_mask(layer) and kwargs.get("mask") is None and first is not None:
        mask = _map_masks(first)
        if any(m is not None for m in _flat(mask)):
            kwargs["mask"] = mask
    if kwargs.get("mask") is not None:
        return kwargs["mask"]
    return _map_masks(first) if first is not None else None


def attach_output_masks(layer, inputs, outputs, previous_mask) -> None:
    """Attach ``layer.compute_mask(inputs, previous_mask)`` to the outputs, as Keras 3 does for a layer
    that supports masking (a mask already on every output is kept)."""
    supports = layer.__dict__.get("supports_masking")
    if supports is None:  # never set: as Keras 3, a layer with its own compute_mask supports masking
        supports = getattr(type(layer), "supports_masking", False) or \
            not getattr(type(layer).compute_mask, "_keras_default", False)
    if not supports:
        return
    flat_outputs = _flat(outputs)
    if all(get_keras_mask(x) is not None for x in flat_outputs):
        return
    masks = layer.compute_mask(inputs, previous_mask)
    if masks is None:
        return
    for x, mask in zip(flat_outputs, _flat(masks)):
        if mask is not None and get_keras_mask(x) is None:
            set_keras_mask(x, mask)
