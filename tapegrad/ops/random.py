"""Random tensors, seeded the way TensorFlow seeds them.

TensorFlow combines a global seed (``tf.random.set_seed``) with an op seed (``seed=``):

- global seed set, op seed None: the op seed is the next number of a sequence that
  ``set_seed`` restarts, so after ``set_seed(g)`` the same sequence of draws repeats;
- op seed given: one stream per (global, op) seed pair that continues across calls
  (TF's kernel cache), restarted by ``set_seed``; without a global seed TF uses
  87654321 as the global one;
- neither: nondeterministic.

The ``stateless_*`` functions take a shape-[2] seed instead and give the same numbers
for the same seed every time, whatever the global state.  Their ops (``stateless_random_*``)
take the seed as a tensor input, as TF's Stateless* kernels do: a traced function draws with
each call's seed, and, being functions of their inputs, they are not stateful.

The draws are nondiff primitives whose ``seeds`` param is the resolved pair, None, or
``("stateless", s0, s1)``; every impl draws from the one module-level ``STATE``.  A compiler that traces a
random op and replays its impl therefore continues that pair's stream, drawing fresh
numbers on each call, as a ``tf.function`` does.  Random ops are stateful: they carry
``stateful=True`` so such a compiler neither folds nor merges them.
"""
from __future__ import annotations

import random as _pyrandom

import numpy as np

from ..core import dtypes
from ..core.aval import Dim, ShapedArray, dims
from ..core.op import REAL, Domain, defop, state as _op_state
from ..core.tensor import Tensor, convert_to_array
from .array import _differ, _dim, _dims, _same_type, _shape_arg, _static

__all__ = ["set_seed", "uniform", "normal", "truncated_normal", "shuffle", "categorical", "stateless_uniform",
           "stateless_normal", "stateless_truncated_normal", "stateless_categorical"]

_DEFAULT_GLOBAL_SEED = 87654321  # TF's DEFAULT_GRAPH_SEED, used when only an op seed is given
_MAXINT32 = 2**31 - 1
_STATELESS = "stateless"  # first entry of a `seeds` param that names a stateless draw


def _truncate_seed(seed) -> int:
    return int(seed) % _MAXINT32  # TF truncates seeds to int32 the same way


class RandomState:
    """The process's random state: the global seed, the op-seed sequence, one stream per seed pair."""

    def __init__(self):
        self._entropy = np.random.default_rng()
        self.set_seed(None)

    def set_seed(self, seed) -> None:
        self.global_seed = None if seed is None else int(seed)
        # TF draws the op seeds of unseeded ops from random.Random(global seed) as well
        self._op_seeds = _pyrandom.Random(self.global_seed)
        self._streams: dict[tuple, np.random.Generator] = {}

    def resolve(self, op_seed) -> tuple:
        """(seed pair or None, whether the pair was drawn for one call only), as TF's get_seed."""
        if self.global_seed is None:
            if op_seed is None:
                return None, False
            return (_DEFAULT_GLOBAL_SEED, _truncate_seed(op_seed)), False
        drawn = op_seed is None
        if drawn:
            op_seed = self._op_seeds.randint(0, _MAXINT32)
        seeds = (_truncate_seed(self.global_seed), _truncate_seed(op_seed))
        return (0, _MAXINT32) if seeds == (0, 0) else seeds, drawn

    def generator(self, seeds) -> np.random.Generator:
        """The stream of a seed pair, created on first use; a fresh one for a stateless seed;
        OS entropy for None."""
        if _op_state.graph is not None and seeds is not None and seeds[0] != _STATELESS:
            # tracing only needs shapes: draw from a scratch stream, so the real one is used
            # by the calls alone (a retrace in a resumed run must not move it)
            return _philox(0, 0)
        if seeds is None:
            return self._entropy
        if seeds[0] == _STATELESS:
            return _philox(seeds[1] | 1 << 63, seeds[2])  # top bit: never a stateful pair's key
        stream = self._streams.get(seeds)
        if stream is None:
            stream = self._streams[seeds] = _philox(*seeds)
        return stream

    def release(self, seeds) -> None:
        """Forget a pair drawn for one eager call, so a long loop does not keep a stream per call."""
        self._streams.pop(seeds, None)

    # -- checkpointing: tapegrad.train saves this so that a resumed run draws what it would have --
    def get_state(self) -> dict:
        """Everything that decides the seeded draws to come, as JSON-able values (the unseeded,
        OS-entropy draws are not state: they never repeat).

        >>> state = RandomState()
        >>> state.set_seed(1)
        >>> saved = state.get_state()
        >>> first = state.generator(state.resolve(None)[0]).random()
        >>> state.set_state(saved)
        >>> state.generator(state.resolve(None)[0]).random() == first
        True
        """
        version, internal, gauss = self._op_seeds.getstate()
        return {"global_seed": self.global_seed, "op_seeds": [version, list(internal), gauss],
                "streams": [[list(seeds), _plain(stream.bit_generator.state)]
                            for seeds, stream in self._streams.items()]}

    def set_state(self, state: dict) -> None:
        """Go back to a state from ``get_state`` (ValueError if it is not one)."""
        try:
            seed = state["global_seed"]
            version, internal, gauss = state["op_seeds"]
            op_seeds = _pyrandom.Random()
            op_seeds.setstate((version, tuple(internal), gauss))
            streams = {}
            for seeds, bit_state in state["streams"]:
                bit_generator = np.random.Philox()
                bit_generator.state = bit_state
                streams[tuple(int(s) for s in seeds)] = np.random.Generator(bit_generator)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"Not a random state from RandomState.get_state "
                             f"({type(e).__name__}: {e}).") from e
        self.global_seed = None if seed is None else int(seed)
        self._op_seeds, self._streams = op_seeds, streams


def _plain(value):
    """A bit generator's state with NumPy arrays and integers as lists and ints (JSON-able)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _philox(high: int, low: int) -> np.random.Generator:
    # Philox is counter-based: distinct keys give independent streams, at no seeding cost
    return np.random.Generator(np.random.Philox(key=(high << 64) | low))


STATE = RandomState()


def set_seed(seed) -> None:
    """Set the global random seed; random ops then repeat the same sequence of draws.

    >>> import tapegrad as tf
    >>> tf.random.set_seed(7)
    >>> a = tf.random.uniform([3])
    >>> tf.random.set_seed(7)
    >>> bool(tf.reduce_all(tf.random.uniform([3]) == a))
    True
    """
    STATE.set_seed(seed)


def _seeded(seed):
    """A function applying a random op with the seed pair TF would use for op seed `seed`."""
    def draw(op, *tensors, **params) -> Tensor:
        op_seed = seed
        graph = _op_state.graph
        if op_seed is None and graph is not None and STATE.global_seed is not None:
            # TF's graph rule: an unseeded op's seed is its position among the graph's random ops,
            # so every trace of a function (a resumed run's too) draws from the same streams
            op_seed = graph.next_random_seed()
        seeds, one_call = STATE.resolve(op_seed)
        try:
            return op(*tensors, seeds=seeds, **params)
        finally:
            # a traced function keeps drawing from this pair's stream on every call: keep it
            if one_call and _op_state.graph is None:
                STATE.release(seeds)
    return draw


def _stateless(seed):
    """A function applying the stateless twin of a random op (``_STATELESS_OPS``) to `seed` (two
    integers): the seed is a tensor input, so a traced function draws with each call's seed."""
    seed = seed if isinstance(seed, Tensor) else Tensor(convert_to_array(seed))
    shape = dims(seed)
    if len(shape) != 1 or _differ(shape[0], 2) or seed._value.dtype.kind not in "iu":
        raise ValueError(f"seed must be a shape [2] integer tensor, got {seed!r}")
    return lambda op, *tensors, **params: _STATELESS_OPS[op](seed, *tensors, **params)


def _float_dtype(dtype, what: str) -> dtypes.DType:
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"Invalid dtype {dtype!r} for {what}: a floating point dtype is required")
    return dtype


def _drawn_as(dtype: dtypes.DType) -> np.dtype:
    """NumPy draws float32 and float64 directly; float16 is drawn as float32 and rounded."""
    return np.dtype(np.float64) if dtype._np == np.float64 else np.dtype(np.float32)


_SHAPE_CASE = [dict(shapes=(), params=dict(shape=(2, 3)))]


def _sample_type(shape=(), dtype=dtypes.float32, seeds=None):
    return ShapedArray(_dims(shape), dtypes.as_dtype(dtype)._np)


def _int_sample_type(shape=(), minval=0, maxval=1, dtype=dtypes.int32, seeds=None):
    if not isinstance(minval, Dim) and not isinstance(maxval, Dim) and minval >= maxval:
        raise ValueError(f"Need minval < maxval: {minval} >= {maxval}")
    return _sample_type(shape, dtype)


def _multinomial_type(logits, num_samples=1, dtype=dtypes.int64, seeds=None):
    if logits.ndim != 2:
        raise ValueError(f"logits should be a matrix, got shape {list(logits.shape)}")
    return ShapedArray((logits.shape[0], _dim(num_samples)), dtypes.as_dtype(dtype)._np)


# -- primitives ---------------------------------------------------------------------------

@defop(nondiff="random: a sample, not a function of its inputs", cases=_SHAPE_CASE, stateful=True,
       shape=_sample_type)
def random_uniform(shape=(), dtype=dtypes.float32, seeds=None):
    """Floats uniform in [0, 1) from the stream `seeds` names (see the module docstring).

    >>> from tapegrad.ops.random import random_uniform
    >>> random_uniform(shape=(2,), seeds=("stateless", 1, 2)).shape
    TensorShape([2])
    """
    sample = STATE.generator(seeds).random(shape, dtype=_drawn_as(dtype))
    return sample.astype(dtype._np, copy=False)


@defop(nondiff="random: integer sample", cases=[dict(shapes=(), params=dict(shape=(2, 3), maxval=5))],
       stateful=True, shape=_int_sample_type)
def random_uniform_int(shape=(), minval=0, maxval=1, dtype=dtypes.int32, seeds=None):
    """Integers uniform in [minval, maxval).

    >>> from tapegrad.ops.random import random_uniform_int
    >>> random_uniform_int(shape=(3,), minval=4, maxval=5).numpy()
    array([4, 4, 4], dtype=int32)
    """
    if minval >= maxval:
        raise ValueError(f"Need minval < maxval: {minval} >= {maxval}")
    return STATE.generator(seeds).integers(minval, maxval, size=shape, dtype=dtype._np)


@defop(nondiff="random: a sample, not a function of its inputs", cases=_SHAPE_CASE, stateful=True,
       shape=_sample_type)
def random_standard_normal(shape=(), dtype=dtypes.float32, seeds=None):
    """Floats from the standard normal distribution.

    >>> from tapegrad.ops.random import random_standard_normal
    >>> random_standard_normal(shape=(2, 2)).dtype
    tf.float32
    """
    return STATE.generator(seeds).standard_normal(shape, dtype=_drawn_as(dtype)).astype(dtype._np, copy=False)


@defop(nondiff="random: a sample, not a function of its inputs", cases=_SHAPE_CASE, name="truncated_normal",
       stateful=True, shape=_sample_type)
def _truncated_standard_normal(shape=(), dtype=dtypes.float32, seeds=None):
    """Standard normal floats, those beyond 2 redrawn (TF's TruncatedNormal)."""
    generator = STATE.generator(seeds)
    sample = generator.standard_normal(shape, dtype=_drawn_as(dtype))
    outside = np.abs(sample) > 2
    while outside.any():  # each round redraws the ~4.6% outside; a few rounds suffice
        sample[outside] = generator.standard_normal(int(outside.sum()), dtype=sample.dtype)
        outside = np.abs(sample) > 2
    return sample.astype(dtype._np, copy=False)


@defop(nondiff="random permutation: the gradient of a sample is not defined", cases=[dict(shapes=((4, 3),))],
       stateful=True, shape=_same_type)
def random_shuffle(value, seeds=None):
    """`value` with its first axis randomly permuted.

    >>> from tapegrad.ops.random import random_shuffle
    >>> random_shuffle([[1, 1], [2, 2]]).shape
    TensorShape([2, 2])
    """
    if value.ndim == 0:
        return value.copy()
    return value[STATE.generator(seeds).permutation(value.shape[0])]


@defop(nondiff="random: integer sample", cases=[dict(shapes=((2, 4),), params=dict(num_samples=3))],
       stateful=True, shape=_multinomial_type)
def multinomial(logits, num_samples=1, dtype=dtypes.int64, seeds=None):
    """`num_samples` class indices per row of unnormalised log-probabilities `logits`.

    >>> from tapegrad.ops.random import multinomial
    >>> multinomial([[0.0, -1e9]], num_samples=2).numpy()
    array([[0, 0]])
    """
    if logits.ndim != 2:
        raise ValueError(f"logits should be a matrix, got shape {list(logits.shape)}")
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)  # exp cannot overflow
    cdf = np.cumsum(np.exp(shifted), axis=1)
    cdf /= cdf[:, -1:]  # last column exactly 1.0: a class after the last positive one is never drawn
    u = STATE.generator(seeds).random((logits.shape[0], int(num_samples)))
    # inverse CDF: the class is the number of cdf entries <= u
    return np.sum(cdf[:, None, :] <= u[:, :, None], axis=-1).astype(dtype._np)


# -- stateless twins: the seed is an input, and the same seed gives the same numbers --------------

_SEED = Domain(0, 1000, dtype=np.int64, integer=True)
_STATELESS_REASON = "random: a sample, a function of its seed only"


def _seeds_of(seed) -> tuple:
    """A stateless seed (an array of two integers) as the `seeds` param of the stateful ops."""
    values = np.asarray(seed).reshape(-1)
    if values.size != 2:
        raise ValueError(f"seed must be a shape [2] integer tensor, got shape {list(np.shape(seed))}")
    return (_STATELESS,) + tuple(int(v) % 2**63 for v in values)


def _check_seed(seed) -> None:
    if seed.ndim != 1 or _differ(seed.shape[0], 2) or seed.dtype.kind not in "iu":
        raise ValueError(f"seed must be a shape [2] integer tensor, got {seed.dtype.name}{list(seed.shape)}")


def _stateless_sample_type(seed, shape=(), dtype=dtypes.float32):
    _check_seed(seed)
    return _sample_type(shape, dtype)


def _stateless_int_sample_type(seed, shape=(), minval=0, maxval=1, dtype=dtypes.int32):
    _check_seed(seed)
    return _int_sample_type(shape, minval, maxval, dtype)


def _stateless_multinomial_type(seed, logits, num_samples=1, dtype=dtypes.int64):
    _check_seed(seed)
    return _multinomial_type(logits, num_samples, dtype)


_STATELESS_CASE = [dict(shapes=((2,),), params=dict(shape=(2, 3)))]


@defop(nondiff=_STATELESS_REASON, domain=(_SEED,), cases=_STATELESS_CASE, shape=_stateless_sample_type)
def stateless_random_uniform(seed, shape=(), dtype=dtypes.float32):
    """random_uniform from the stream of the stateless `seed` [2] (TF's StatelessRandomUniformV2).

    >>> from tapegrad.ops.random import stateless_random_uniform
    >>> a, b = (stateless_random_uniform([1, 2], shape=(3,)) for _ in range(2))
    >>> bool((a == b).numpy().all())
    True
    """
    return random_uniform.impl(shape=shape, dtype=dtype, seeds=_seeds_of(seed))


@defop(nondiff=_STATELESS_REASON, domain=(_SEED,), shape=_stateless_int_sample_type,
       cases=[dict(shapes=((2,),), params=dict(shape=(2, 3), maxval=5))])
def stateless_random_uniform_int(seed, shape=(), minval=0, maxval=1, dtype=dtypes.int32):
    """random_uniform_int from the stream of the stateless `seed` [2]."""
    return random_uniform_int.impl(shape=shape, minval=minval, maxval=maxval, dtype=dtype,
                                   seeds=_seeds_of(seed))


@defop(nondiff=_STATELESS_REASON, domain=(_SEED,), cases=_STATELESS_CASE, shape=_stateless_sample_type)
def stateless_random_normal(seed, shape=(), dtype=dtypes.float32):
    """random_standard_normal from the stream of the stateless `seed` [2]."""
    return random_standard_normal.impl(shape=shape, dtype=dtype, seeds=_seeds_of(seed))


@defop(nondiff=_STATELESS_REASON, domain=(_SEED,), cases=_STATELESS_CASE, shape=_stateless_sample_type)
def stateless_truncated_normal(seed, shape=(), dtype=dtypes.float32):
    """truncated_normal from the stream of the stateless `seed` [2]."""
    return _truncated_standard_normal.impl(shape=shape, dtype=dtype, seeds=_seeds_of(seed))


@defop(nondiff="random: integer sample, a function of its seed only", domain=(_SEED, REAL), same_dtype=(),
       shape=_stateless_multinomial_type, cases=[dict(shapes=((2,), (2, 4)), params=dict(num_samples=3))])
def stateless_multinomial(seed, logits, num_samples=1, dtype=dtypes.int64):
    """multinomial from the stream of the stateless `seed` [2]."""
    return multinomial.impl(logits, num_samples=num_samples, dtype=dtype, seeds=_seeds_of(seed))


_STATELESS_OPS = {random_uniform: stateless_random_uniform, random_uniform_int: stateless_random_uniform_int,
                  random_standard_normal: stateless_random_normal,
                  _truncated_standard_normal: stateless_truncated_normal, multinomial: stateless_multinomial}


# -- the public functions ---------------------------------------------------------------------

def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None) -> Tensor:
    """Values uniform in [minval, maxval): floats (maxval defaults to 1), or integers (maxval required).

    Float results are ``u * (maxval - minval) + minval``, as TF's, so they are
    differentiable in tensor-valued minval and maxval.

    >>> import tapegrad as tf
    >>> x = tf.random.uniform([2, 3], minval=-1.0, maxval=1.0, seed=1)
    >>> x.shape, x.dtype, bool(tf.reduce_all((x >= -1.0) & (x < 1.0)))
    (TensorShape([2, 3]), tf.float32, True)
    """
    return _uniform(_seeded(seed), shape, minval, maxval, dtype)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32, name=None,
                      alg="auto_select") -> Tensor:
    """uniform, the same numbers for the same shape-[2] `seed` every time.

    >>> import tapegrad as tf
    >>> a = tf.random.stateless_uniform([3], seed=[1, 2])
    >>> bool(tf.reduce_all(a == tf.random.stateless_uniform([3], seed=[1, 2])))
    True
    """
    return _uniform(_stateless(seed), shape, minval, maxval, dtype)


def _uniform(draw, shape, minval, maxval, dtype) -> Tensor:
    dtype = dtypes.as_dtype(dtype)
    shape = _shape_arg(shape)
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
        return draw(random_uniform_int, shape=shape, minval=_bound(minval), maxval=_bound(maxval),
                    dtype=dtype)
    sample = draw(random_uniform, shape=shape, dtype=_float_dtype(dtype, "uniform"))
    maxval = 1 if maxval is None else maxval
    if _is_python_number(minval, 0) and _is_python_number(maxval, 1):
        return sample  # u * 1 + 0: skip two ops
    return sample * (maxval - minval) + minval


def _bound(value):
    """An integer bound: an int, or (a traced tensor) a value read when the program runs."""
    return _static(value) if isinstance(value, Tensor) else int(value)


def _is_python_number(value, number) -> bool:
    return isinstance(value, (int, float)) and value == number


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None) -> Tensor:
    """Normal samples ``z * stddev + mean`` (differentiable in tensor-valued mean and stddev).

    >>> import tapegrad as tf
    >>> tf.random.normal([4], mean=10.0, stddev=0.0, seed=3).numpy()
    array([10., 10., 10., 10.], dtype=float32)
    """
    return _scaled(_seeded(seed), random_standard_normal, shape, mean, stddev, dtype)


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None,
                     alg="auto_select") -> Tensor:
    """normal, the same numbers for the same shape-[2] `seed` every time.

    >>> import tapegrad as tf
    >>> tf.random.stateless_normal([2, 2], seed=[0, 7]).shape
    TensorShape([2, 2])
    """
    return _scaled(_stateless(seed), random_standard_normal, shape, mean, stddev, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None) -> Tensor:
    """Normal samples with those more than 2 standard deviations from the mean redrawn.

    >>> import tapegrad as tf
    >>> x = tf.random.truncated_normal([1000], stddev=0.5, seed=4)
    >>> bool(tf.reduce_max(tf.abs(x)) <= 1.0)
    True
    """
    return _scaled(_seeded(seed), _truncated_standard_normal, shape, mean, stddev, dtype)


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None,
                               alg="auto_select") -> Tensor:
    """truncated_normal, the same numbers for the same shape-[2] `seed` every time.

    >>> import tapegrad as tf
    >>> bool(tf.reduce_max(tf.abs(tf.random.stateless_truncated_normal([100], seed=[3, 4]))) <= 2.0)
    True
    """
    return _scaled(_stateless(seed), _truncated_standard_normal, shape, mean, stddev, dtype)


def _scaled(draw, standard_op, shape, mean, stddev, dtype) -> Tensor:
    """standard * stddev + mean, as TF composes it, for a standard-normal op."""
    dtype = _float_dtype(dtype, standard_op.name)
    standard = draw(standard_op, shape=_shape_arg(shape), dtype=dtype)
    if _is_python_number(mean, 0) and _is_python_number(stddev, 1):
        return standard
    return standard * stddev + mean


def shuffle(value, seed=None, name=None) -> Tensor:
    """`value` with its rows (first axis) in a random order.

    >>> import tapegrad as tf
    >>> sorted(tf.random.shuffle(tf.range(5), seed=2).numpy().tolist())
    [0, 1, 2, 3, 4]
    """
    return _seeded(seed)(random_shuffle, value)


def categorical(logits, num_samples, dtype=None, seed=None, name=None) -> Tensor:
    """Class indices drawn per row of `logits` [batch, classes] (unnormalised log-probabilities).

    >>> import tapegrad as tf
    >>> tf.random.categorical([[-1e9, 0.0]], 5, seed=5).numpy()
    array([[1, 1, 1, 1, 1]])
    """
    return _categorical(_seeded(seed), logits, num_samples, dtype)


def stateless_categorical(logits, num_samples, seed, dtype=dtypes.int64, name=None) -> Tensor:
    """categorical, the same draws for the same shape-[2] `seed` every time.

    >>> import tapegrad as tf
    >>> tf.random.stateless_categorical([[0.0, 0.0]], 4, seed=[1, 1]).shape
    TensorShape([1, 4])
    """
    return _categorical(_stateless(seed), logits, num_samples, dtype)


def _categorical(draw, logits, num_samples, dtype) -> Tensor:
    dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    if dtype not in (dtypes.int32, dtypes.int64):
        raise ValueError(f"categorical: dtype must be int32 or int64, got {dtype!r}")
    num_samples = _static(num_samples) if isinstance(num_samples, Tensor) else int(num_samples)
    return draw(multinomial, logits, num_samples=num_samples, dtype=dtype)
