"""TextVectorization: strings standardized, split into tokens (and n-grams), then looked up by a
StringLookup, as Keras 3 does (its vocabulary, adapt, output modes and padding rules)."""
from __future__ import annotations

import collections
import re

import numpy as np

from ...core.tensor import Tensor, convert_to_tensor
from .index_lookup import StringLookup, as_text
from .preprocessing import PreprocessingLayer, batches, run_eagerly_when_traced, to_numpy

__all__ = ["TextVectorization"]

# Keras' DEFAULT_STRIP_REGEX: ASCII punctuation
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _text_values(values) -> list:
    """The texts of a callable's result (a tensor, an array or a list of str/bytes) as str."""
    return [as_text(v) for v in np.asarray(to_numpy(values), dtype=object).ravel()]


class TextVectorization(PreprocessingLayer):
    """Strings to token indices (``int``, padded with 0) or per-string ``multi_hot``/``count``/``tf_idf``
    vectors over a vocabulary given or learnt by ``adapt``.

    ``standardize``: "lower_and_strip_punctuation", "lower", "strip_punctuation", None, or a callable
    taking and returning a string tensor (called on each batch).  ``split``: "whitespace",
    "character", None (a string is one token), or a callable called on each (standardized) string,
    as a scalar string tensor, returning its tokens.  ``ngrams``: an int n (1- to n-grams) or a tuple
    of widths; n-grams join tokens with a space.

    >>> import tapegrad as tf
    >>> layer = tf.keras.layers.TextVectorization(output_sequence_length=4)
    >>> layer.adapt(["The cat sat.", "The dog!"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'dog', 'cat']
    >>> layer(["the cat ran"]).numpy()
    array([[2, 5, 1, 0]])
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace",
                 ngrams=None, output_mode="int", output_sequence_length=None, pad_to_max_tokens=False,
                 vocabulary=None, idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"Invalid value for argument `standardize`. Expected one of {list(_STANDARDIZE)}, "
                             f"None or a callable. Received: standardize={standardize}")
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(f"Invalid value for argument `split`. Expected one of {list(_SPLIT)}, None or a "
                             f"callable. Received: split={split}")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of ['int', 'multi_hot', "
                             f"'count', 'tf_idf']. Received: output_mode={output_mode}")
        if not (ngrams is None or isinstance(ngrams, int) and ngrams > 0
                or isinstance(ngrams, (tuple, list)) and all(isinstance(n, int) and n > 0 for n in ngrams)):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: "
                             f"ngrams={ngrams}")
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(f"`output_sequence_length` must not be set if `output_mode` is not 'int'. "
                             f"Received output_sequence_length={output_sequence_length}.")
        if ragged:
            raise ValueError("tapegrad has no ragged tensors: TextVectorization takes ragged=False only; "
                             "use output_sequence_length or the default padding to the longest string")
        if sparse:
            raise ValueError("tapegrad has no sparse tensors: TextVectorization takes sparse=False only")
        self.max_tokens, self.standardize, self.split = max_tokens, standardize, split
        self.ngrams = tuple(ngrams) if isinstance(ngrams, list) else ngrams
        self._widths = None if ngrams is None else tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) \
            else tuple(ngrams)
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.pad_to_max_tokens, self.sparse, self.ragged, self.encoding = pad_to_max_tokens, False, False, encoding
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          mask_token="", output_mode=output_mode,
                                          pad_to_max_tokens=pad_to_max_tokens, name=f"{self.name}_lookup")
        self._vocabulary_arg, self._idf_arg = vocabulary, idf_weights

    # -- strings to tokens -------------------------------------------------------------------------
    def _standardized(self, texts: list) -> list:
        if self.standardize is None:
            return texts
        if callable(self.standardize):
            return _text_values(self.standardize(convert_to_tensor(np.array(texts, dtype=object))))
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            texts = [t.lower() for t in texts]
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = [_PUNCTUATION.sub("", t) for t in texts]
        return texts

    def _split_one(self, text: str) -> list:
        if self.split is None:
            return [text]
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return _text_values(self.split(convert_to_tensor(np.array(text, dtype=object))))

    def _tokens(self, text: str) -> list:
        tokens = self._split_one(text)
        if self._widths is None:
            return tokens
        return [" ".join(tokens[i:i + n]) for n in self._widths for i in range(len(tokens) - n + 1)]

    def _rows(self, values: np.ndarray) -> list:
        """Token lists, one per string of a (batch,), (batch, 1) or scalar input."""
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim > 1:
            raise ValueError(f"TextVectorization takes a scalar, (batch,) or (batch, 1) input of strings; got "
                             f"shape {values.shape}")
        texts = self._standardized([as_text(v) for v in values.reshape(-1)])
        return [self._tokens(t) for t in texts]

    # -- vocabulary --------------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary (and tf_idf weights) from strings: an array, a tensor, a dataset of strings
        or of batches of strings, or an iterable of batches.

        >>> import tapegrad as tf
        >>> layer = tf.keras.layers.TextVectorization(output_mode="multi_hot")
        >>> layer.adapt(tf.data.Dataset.from_tensor_slices(["a b", "b c"]).batch(1))
        >>> layer.get_vocabulary(), layer(["b z"]).numpy()
        (['[UNK]', 'b', 'c', 'a'], array([[1., 1., 0., 0.]], dtype=float32))
        """
        counts, document_counts, documents = collections.Counter(), collections.Counter(), 0
        for step, batch in enumerate(batches(data)):
            if steps is not None and step >= steps:
                break
            for tokens in self._rows(np.asarray(batch)):
                tokens = [t for t in tokens if t != ""]
                counts.update(tokens)
                document_counts.update(set(tokens))
                documents += 1
        self._lookup_layer._adapt_from_counts(counts, document_counts, documents)

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The tokens by index (in int mode '' (padding) and '[UNK]' first).

        >>> import tapegrad as tf
        >>> tf.keras.layers.TextVectorization(vocabulary=["cat"]).get_vocabulary()
        ['', '[UNK]', 'cat']
        """
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """len(get_vocabulary()).

        >>> import tapegrad as tf
        >>> tf.keras.layers.TextVectorization(vocabulary=["cat", "dog"]).vocabulary_size()
        4
        """
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use `vocabulary` (and, for tf_idf, `idf_weights`).

        >>> import tapegrad as tf
        >>> layer = tf.keras.layers.TextVectorization()
        >>> layer.set_vocabulary(["hi"]); layer(["hi there"]).numpy()
        array([[2, 1]])
        """
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights)

    # -- calling -----------------------------------------------------------------------------------
    def call(self, inputs):
        run_eagerly_when_traced(self)
        values = to_numpy(inputs)
        scalar = values.ndim == 0
        rows = self._rows(values)
        lookup = self._lookup_layer
        if self.output_mode != "int":
            width = max((len(r) for r in rows), default=0)
            padded = np.array([r + [""] * (width - len(r)) for r in rows], dtype=object).reshape(len(rows), width)
            out = lookup(padded)
            return out[0] if scalar else out
        indices = [lookup._indices(np.array(r, dtype=object)).tolist() if r else [] for r in rows]
        length = self.output_sequence_length
        if length is None and self.split is None and self._widths is None:
            # Keras: unsplit strings are looked up one to one, keeping the input's shape
            out = np.array([row[0] if row else 0 for row in indices], np.int64)
            return convert_to_tensor(out[0] if scalar else out)
        if length is None:
            length = max((len(r) for r in indices), default=0)
        out = np.zeros((len(indices), length), np.int64)
        for i, row in enumerate(indices):
            row = row[:length]
            out[i, :len(row)] = row
        return convert_to_tensor(out[0] if scalar else out)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        batch = input_shape[:1]
        if self.output_mode == "int":
            return batch + (self.output_sequence_length,)
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        return batch + (depth,)

    def get_config(self) -> dict:
        vocabulary = self._vocabulary_arg
        if isinstance(vocabulary, (np.ndarray, Tensor, list, tuple)):
            vocabulary = [as_text(v) for v in np.asarray(to_numpy(vocabulary), dtype=object).ravel()]
        idf = self._idf_arg
        return {**super().get_config(), "max_tokens": self.max_tokens, "standardize": self.standardize,
                "split": self.split, "ngrams": self.ngrams, "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": self.sparse, "ragged": self.ragged,
                "vocabulary": vocabulary, "idf_weights": None if idf is None else np.asarray(to_numpy(idf)).tolist(),
                "encoding": self.encoding, "vocabulary_size": self.vocabulary_size()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("vocabulary_size", None)
        return cls(**config)
