"""StringLookup and IntegerLookup: tokens to indices (or one_hot/multi_hot/count/tf_idf vectors) and
back, over a vocabulary given or learnt by ``adapt``, by Keras 3's rules.

In ``int`` mode index 0 is the mask token (when there is one), the next ``num_oov_indices`` indices
are out-of-vocabulary buckets, and the vocabulary follows, most frequent first (ties: the larger
token first, as Keras sorts).  The other modes leave the mask out: a masked input adds nothing.
Strings may arrive as ``str`` or ``bytes`` (in NumPy str, bytes or object arrays); they are compared
as text and inverted lookups return bytes, as TF's string tensors hold.
"""
from __future__ import annotations

import collections
import os

import numpy as np

from ...core.tensor import convert_to_tensor
from ...errors import InvalidArgumentError, UnimplementedError
from .preprocessing import PreprocessingLayer, batches, encode_categorical, run_eagerly_when_traced, to_numpy

__all__ = ["IntegerLookup", "StringLookup"]

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def as_text(value):
    """A string element as str (bytes decoded as UTF-8)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def as_bytes_array(values) -> np.ndarray:
    """Strings as an object array of bytes, the elements TF's string tensors hold."""
    flat = [v.encode("utf-8") if isinstance(v, str) else v for v in np.asarray(values, dtype=object).ravel()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(np.shape(values))


def sorted_by_frequency(counts: collections.Counter) -> list:
    """Tokens by count, descending; ties: the larger token first (Keras' reversed lexsort)."""
    return [token for token, _ in sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)]


class IndexLookup(PreprocessingLayer):
    """What StringLookup and IntegerLookup share; subclasses say how a value becomes a token."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights,
                 invert, output_mode, pad_to_max_tokens, sparse, **kwargs):
        super().__init__(**kwargs)
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError(f"`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in _MODES:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of {list(_MODES)}. "
                             f"Received: output_mode={output_mode}")
        if invert and output_mode != "int":
            raise ValueError(f"`output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={output_mode}")
        if sparse:
            raise ValueError("tapegrad has no sparse tensors: lookup layers take sparse=False only")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: "
                             f"max_tokens={max_tokens}")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                             f"idf_weights={idf_weights} and output_mode={output_mode}")
        self.max_tokens, self.num_oov_indices, self.invert = max_tokens, int(num_oov_indices), bool(invert)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.output_mode, self.pad_to_max_tokens, self.sparse = output_mode, bool(pad_to_max_tokens), False
        self._tokens: list = []     # the learnt or given vocabulary, special tokens excluded
        self._index: dict = {}
        self._idf = None            # per index of the non-int output, OOV slots included
        self._vocabulary_arg = vocabulary
        self._idf_arg = idf_weights
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- tokens: subclasses ----------------------------------------------------------------------
    def _token(self, value):
        raise NotImplementedError

    def _oov_bucket(self, token) -> int:
        raise NotImplementedError

    # -- the vocabulary ----------------------------------------------------------------------------
    def _token_start(self) -> int:
        """The index of the first vocabulary token in this layer's outputs."""
        masked = self.mask_token is not None and self.output_mode == "int"
        return int(masked) + self.num_oov_indices

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use `vocabulary` (tokens, or a text file of one token a line); tf_idf needs `idf_weights`.

        >>> import tapegrad as tf
        >>> layer = tf.keras.layers.StringLookup()
        >>> layer.set_vocabulary(["a", "b"]); layer.get_vocabulary()
        ['[UNK]', 'a', 'b']
        """
        if isinstance(vocabulary, (str, os.PathLike)):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f]
        tokens = [self._token(v) for v in np.asarray(to_numpy(vocabulary), dtype=object).ravel()]
        specials = ([] if self.mask_token is None else [self._token(self.mask_token)]) + \
            [self._token(self.oov_token)] * self.num_oov_indices
        if specials and tokens[:len(specials)] == specials:
            tokens = tokens[len(specials):]  # a vocabulary from get_vocabulary() holds them: drop them
        if self.mask_token is not None and self._token(self.mask_token) in tokens:
            raise ValueError(f"Found reserved mask token at unexpected location in `vocabulary`. Note that "
                             f"passed `vocabulary` does not need to include the OOV and mask tokens. Either "
                             f"remove all mask and OOV tokens, or include them only at the start of the "
                             f"vocabulary in precisely this order: {specials}. Received: mask_token="
                             f"{self.mask_token} at vocabulary index {tokens.index(self._token(self.mask_token))}")
        if len(set(tokens)) != len(tokens):
            repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
            raise ValueError(f"The passed vocabulary has at least one repeated term. Please uniquify your "
                             f"dataset. The repeated terms are: {repeated}")
        if self.max_tokens is not None and len(tokens) + self._token_start() > self.max_tokens:
            raise ValueError(f"Attempted to set a vocabulary larger than the maximum vocab size. Received "
                             f"vocabulary size is {len(tokens) + self._token_start()}; `max_tokens` is "
                             f"{self.max_tokens}.")
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
            idf = np.asarray(to_numpy(idf_weights), np.float32).ravel()
            if len(idf) == len(tokens) + self.num_oov_indices:
                idf = idf[self.num_oov_indices:]
            if len(idf) != len(tokens):
                raise ValueError(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(idf)}; len(vocabulary) is {len(tokens)}")
            self._set_idf(idf)
        self._set_tokens(tokens)

    def _set_tokens(self, tokens) -> None:
        start = self._token_start()
        self._tokens = list(tokens)
        self._index = {token: start + i for i, token in enumerate(self._tokens)}

    def _set_idf(self, token_idf: np.ndarray) -> None:
        oov = np.full(self.num_oov_indices, token_idf.mean() if token_idf.size else 0.0, np.float32)
        self._idf = np.concatenate([oov, token_idf.astype(np.float32)])

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The tokens by index: in ``int`` mode the mask token, then the OOV token per OOV index, then
        the vocabulary (the mask is left out in the other modes).

        >>> import tapegrad as tf
        >>> tf.keras.layers.StringLookup(vocabulary=["a", "b"], mask_token="").get_vocabulary()
        ['', '[UNK]', 'a', 'b']
        """
        tokens = [self._public(t) for t in self._tokens]
        if not include_special_tokens:
            return tokens
        specials = [self.oov_token] * self.num_oov_indices
        if self.mask_token is not None and self.output_mode == "int":
            specials = [self.mask_token] + specials
        return specials + tokens

    def _public(self, token):
        return token

    def vocabulary_size(self) -> int:
        """len(get_vocabulary()): the size of the index space, special tokens included.

        >>> import tapegrad as tf
        >>> tf.keras.layers.IntegerLookup(vocabulary=[7, 9]).vocabulary_size()
        3
        """
        return self._token_start() + len(self._tokens)

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    # -- adapt ---------------------------------------------------------------------------------------
    def adapt(self, data, steps=None) -> None:
        """Learn the vocabulary from `data` (array, tensor, dataset or iterable of batches): tokens by
        frequency, at most ``max_tokens`` indices in all; for tf_idf also the inverse document
        frequencies ``log(1 + documents / (1 + documents with the token))`` (OOV: their mean).

        >>> import tapegrad as tf
        >>> layer = tf.keras.layers.StringLookup()
        >>> layer.adapt(["b", "a", "b", "c", "b", "a"]); layer.get_vocabulary()
        ['[UNK]', 'b', 'a', 'c']
        """
        counts, document_counts, documents = collections.Counter(), collections.Counter(), 0
        reserved = {self._token(self.mask_token)} if self.mask_token is not None else set()
        for step, batch in enumerate(batches(data)):
            if steps is not None and step >= steps:
                break
            rows = batch.reshape(-1, 1) if batch.ndim <= 1 else batch.reshape(-1, batch.shape[-1])
            for row in rows:
                tokens = [t for t in (self._token(v) for v in row) if t not in reserved]
                counts.update(tokens)
                if self.output_mode == "tf_idf":
                    document_counts.update(set(tokens))
                    documents += 1
        self._adapt_from_counts(counts, document_counts, documents)

    def _adapt_from_counts(self, counts, document_counts, documents) -> None:
        tokens = sorted_by_frequency(counts)
        if self.max_tokens is not None:
            tokens = tokens[:max(self.max_tokens - self._token_start(), 0)]
        if self.output_mode == "tf_idf":
            frequency = np.array([document_counts[t] for t in tokens], np.float64)
            self._set_idf(np.log(1 + documents / (1 + frequency)).astype(np.float32))
        self._set_tokens(tokens)

    @property
    def idf_weights(self):
        """The tf_idf weights per output index (OOV slots first), or None."""
        return None if self._idf is None else convert_to_tensor(self._idf)

    # -- lookup ----------------------------------------------------------------------------------
    def _indices(self, values: np.ndarray) -> np.ndarray:
        """int64 indices of `values` in this mode's index space; masked values -1 outside int mode."""
        mask = None if self.mask_token is None else self._token(self.mask_token)
        masked_in_int = self.output_mode == "int" and mask is not None
        out = np.empty(values.shape, np.int64)
        flat, missing = out.reshape(-1), []
        for i, value in enumerate(values.reshape(-1)):
            token = self._token(value)
            index = self._index.get(token)
            if index is not None:
                flat[i] = index
            elif mask is not None and token == mask:
                flat[i] = 0 if masked_in_int else -1
            elif self.num_oov_indices == 0:
                missing.append(token)
            else:
                flat[i] = int(masked_in_int) + self._oov_bucket(token)
        if missing:
            raise InvalidArgumentError(f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV "
                                       f"values {missing[:10]}, consider setting `num_oov_indices=1`.")
        return out

    def _inverted(self, indices: np.ndarray):
        vocabulary = self.get_vocabulary()
        oov = self.oov_token
        return [vocabulary[i] if 0 <= i < len(vocabulary) else oov for i in indices.reshape(-1).tolist()]

    def call(self, inputs):
        run_eagerly_when_traced(self)
        values = to_numpy(inputs)
        if self.invert:
            return self._invert_output(self._inverted(values.astype(np.int64)), values.shape)
        indices = self._indices(values)
        if self.output_mode == "int":
            return convert_to_tensor(indices)
        if self.output_mode == "tf_idf" and self._idf is None:
            raise ValueError("A tf_idf layer needs `idf_weights` (or `adapt`) before it is called.")
        idf = None
        if self._idf is not None:
            idf = np.zeros(self._depth(), np.float32)
            idf[:len(self._idf)] = self._idf
        out = encode_categorical(indices, self._depth(), self.output_mode, idf=idf)
        return convert_to_tensor(out.astype(self._dtype_compute.as_numpy_dtype))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self._depth()
        if self.output_mode == "one_hot":
            return (input_shape[:-1] if input_shape and input_shape[-1] == 1 else input_shape) + (depth,)
        return input_shape[:-1] + (depth,)

    def get_config(self) -> dict:
        vocabulary = self._vocabulary_arg
        if vocabulary is not None and not isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = [self._public(self._token(v)) for v in np.asarray(to_numpy(vocabulary), object).ravel()]
        idf = self._idf_arg
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode, "sparse": self.sparse,
                "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": None if idf is None else np.asarray(to_numpy(idf)).tolist(),
                "vocabulary": vocabulary, "vocabulary_size": self.vocabulary_size()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("vocabulary_size", None)
        return cls(**config)


class StringLookup(IndexLookup):
    """Strings to integer indices (or encoded vectors) over a vocabulary; ``invert=True``: back.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.StringLookup(vocabulary=["a", "b", "c"])
    >>> layer([["a", "c"], ["z", "b"]]).numpy()
    array([[1, 3],
           [0, 2]])
    >>> tf.keras.layers.StringLookup(vocabulary=["a", "b"], invert=True)([2, 0]).numpy()
    array([b'b', b'[UNK]'], dtype=object)
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, **kwargs):
        kwargs.pop("vocabulary_size", None)
        for ignored in ("oov_method", "salt", "vocabulary_dtype"):
            kwargs.pop(ignored, None)
        if num_oov_indices > 1:
            raise UnimplementedError(f"StringLookup with num_oov_indices={num_oov_indices}: Keras hashes OOV "
                                     f"strings into buckets with FarmHash, which tapegrad does not implement; "
                                     f"use num_oov_indices=0 or 1")
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, name=name, **kwargs)

    def _token(self, value):
        return as_text(value)

    def _oov_bucket(self, token) -> int:
        return 0

    def _invert_output(self, tokens, shape):
        return convert_to_tensor(as_bytes_array(np.array(tokens, dtype=object).reshape(shape)))

    def get_config(self) -> dict:
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Integers to indices (or encoded vectors) over a vocabulary; OOV values go to bucket
    ``value mod num_oov_indices``; ``invert=True``: back.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.IntegerLookup()
    >>> layer.adapt([12, 36, 12, 1138]); layer.get_vocabulary()
    [-1, 12, 1138, 36]
    >>> layer([12, 5, 36]).numpy()
    array([1, 0, 3])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, vocabulary=None, vocabulary_dtype="int64",
                 idf_weights=None, invert=False, name=None, **kwargs):
        kwargs.pop("vocabulary_size", None)
        for ignored in ("oov_method", "salt"):
            kwargs.pop(ignored, None)
        if mask_token is not None and mask_token < 0:
            raise ValueError(f"`mask_token` must be a non-negative integer or None. Received: "
                             f"mask_token={mask_token}")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, name=name, **kwargs)

    def _token(self, value):
        return int(value)

    def _oov_bucket(self, token) -> int:
        return token % self.num_oov_indices

    def _invert_output(self, tokens, shape):
        return convert_to_tensor(np.array(tokens, dtype=self.vocabulary_dtype).reshape(shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype}
