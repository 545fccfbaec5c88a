"""IndexedSlices: the sparse gradient of gather, as TensorFlow returns it."""
from __future__ import annotations

import warnings

from .tensor import Tensor


class IndexedSlices:
    """Rows `values[i]` at `indices[i]` of a dense tensor of `dense_shape`; duplicates add up.

    >>> import tapegrad as tf
    >>> v = tf.Variable(tf.zeros([4, 3]))
    >>> with tf.GradientTape() as tape:
    ...     r = tf.gather(v, [1, 3])
    >>> g = tape.gradient(r, v)
    >>> g.indices.numpy(), g.values.shape
    (array([1, 3], dtype=int32), TensorShape([2, 3]))
    """

    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values: Tensor, indices: Tensor, dense_shape=None):
        self.values, self.indices, self.dense_shape = values, indices, dense_shape

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        from .shape import TensorShape
        return TensorShape(self.dense_shape if self.dense_shape is not None else None)

    def __tapegrad_dense__(self) -> Tensor:
        from ..ops.indexing import unsorted_segment_sum
        if self.dense_shape is None:
            warnings.warn("Converting sparse IndexedSlices to a dense Tensor of unknown shape. "
                          "This may consume a large amount of memory.", UserWarning, stacklevel=3)
            rows = int(self.indices.numpy().max()) + 1 if self.indices.shape[0] else 0
            shape = (rows,) + tuple(self.values.shape[1:])
        else:
            shape = tuple(self.dense_shape)
        # rows summed per index: duplicates add up, as TF's densify
        return unsorted_segment_sum(self.values, self.indices, num_segments=shape[0])

    def numpy(self):
        return self.__tapegrad_dense__().numpy()

    def __array__(self, dtype=None, copy=None):
        return self.__tapegrad_dense__().__array__(dtype)

    def __repr__(self):
        return (f"IndexedSlices(indices={self.indices!r}, values={self.values!r}, "
                f"dense_shape={self.dense_shape})")
