"""Parallel map/batch and prefetch: order, bounds, errors, thread shutdown; pipelines stay bounded."""
from __future__ import annotations

import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

import tapegrad as tf

Dataset = tf.data.Dataset


def data_threads():
    return [t for t in threading.enumerate() if t.name.startswith("tapegrad.data")]


def wait_for_no_data_threads(timeout=5.0):
    deadline = time.monotonic() + timeout
    while data_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return data_threads()


@pytest.fixture(autouse=True)
def no_leftover_threads():
    assert wait_for_no_data_threads() == []
    yield
    gc.collect()
    assert wait_for_no_data_threads() == [], "a pipeline thread outlived its iterator"


def jittered(x):
    """Identity, sleeping a pseudo-random while, so parallel results finish out of order."""
    time.sleep((int(x) * 7 % 5) * 0.002)
    return x


class InFlight:
    """Counts how many calls run at once."""

    def __init__(self):
        self.lock, self.now, self.most = threading.Lock(), 0, 0

    def __call__(self, x):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.003)
        with self.lock:
            self.now -= 1
        return x


def test_parallel_map_keeps_order_and_bounds_work_in_flight():
    counter = InFlight()
    ds = Dataset.range(40).map(jittered, num_parallel_calls=4).map(counter, num_parallel_calls=3)
    assert [int(x) for x in ds] == list(range(40))
    assert 1 < counter.most <= 3
    auto = Dataset.range(20).map(jittered, num_parallel_calls=tf.data.AUTOTUNE)
    assert [int(x) for x in auto] == list(range(20))


def test_parallel_map_nondeterministic_gives_every_element():
    ds = Dataset.range(30).map(jittered, num_parallel_calls=4, deterministic=False)
    assert sorted(int(x) for x in ds) == list(range(30))


def test_parallel_map_and_batch_errors_reach_the_consumer():
    def bad(x):
        if int(x) == 5:
            raise ValueError("element five")
        return x
    it = iter(Dataset.range(10).map(bad, num_parallel_calls=3))
    assert [int(next(it)) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="element five") as info:
        next(it)
    assert "element 5" in info.value.__notes__[0]


def test_parallel_batch_matches_sequential_batch():
    ds = Dataset.from_tensor_slices(np.arange(50.0).reshape(25, 2))
    sequential = [b.numpy().tolist() for b in ds.batch(4)]
    assert [b.numpy().tolist() for b in ds.batch(4, num_parallel_calls=3)] == sequential


def test_prefetch_keeps_order_and_reads_ahead():
    produced = []

    def gen():
        for i in range(10):
            produced.append(i)
            yield i
    ds = Dataset.from_generator(gen, output_signature=tf.data.TensorSpec((), tf.int64)).prefetch(3)
    it = iter(ds)
    assert int(next(it)) == 0
    deadline = time.monotonic() + 2
    while len(produced) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(produced) == 5  # the one read, three queued, one waiting to be queued: no further
    assert [int(x) for x in it] == list(range(1, 10))
    assert [int(x) for x in Dataset.range(7).prefetch(tf.data.AUTOTUNE).prefetch(1)] == list(range(7))


def test_prefetch_reraises_the_producers_error_in_the_consumer():
    def gen():
        yield 1
        yield 2
        raise RuntimeError("disk on fire")
    ds = Dataset.from_generator(gen, output_signature=tf.data.TensorSpec((), tf.int32)).prefetch(2)
    it = iter(ds)
    assert [int(next(it)), int(next(it))] == [1, 2]
    with pytest.raises(RuntimeError, match="disk on fire"):
        next(it)


def test_dropping_iterators_stops_their_threads():
    slow = (Dataset.range(10**9).map(jittered, num_parallel_calls=4).prefetch(2)
            .batch(3).prefetch(tf.data.AUTOTUNE))
    it = iter(slow)
    assert next(it).shape == (3,)
    assert len(data_threads()) >= 3  # two prefetchers and the map workers
    del it
    assert wait_for_no_data_threads() == []

    for batch in slow.take(2):  # leaving a for loop early is the common case
        pass
    assert wait_for_no_data_threads() == []


def test_an_iterator_never_advanced_starts_no_thread():
    it = iter(Dataset.range(5).prefetch(2).map(jittered, num_parallel_calls=2))
    assert data_threads() == []
    del it


def large_arrays(n, size):
    def gen():
        for i in range(n):
            yield np.full(size, i, np.float32)
    return Dataset.from_generator(gen, output_signature=tf.data.TensorSpec((size,), tf.float32))


def test_a_pipeline_holds_only_its_buffers():
    size = 250_000  # 1 MB per element, 60 MB in all
    ds = (large_arrays(60, size).map(lambda x: x * 2, num_parallel_calls=2).shuffle(4)
          .batch(2).prefetch(2))
    tracemalloc.start()
    try:
        total = 0
        for batch in ds:
            total += batch.shape[0]
            del batch
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 60
    # shuffle buffer 4 + batch in progress 2 + prefetch queue 2 batches (4) + in flight, about 20 MB
    assert peak < 25e6, f"peak {peak / 1e6:.1f} MB: the pipeline kept elements it should have dropped"


def test_prefetch_queue_bounds_memory_while_the_consumer_is_slow():
    size = 250_000
    ds = large_arrays(40, size).prefetch(3)
    tracemalloc.start()
    try:
        it = iter(ds)
        next(it)
        time.sleep(0.05)  # the producer fills its queue and then must stop
        _, peak = tracemalloc.get_traced_memory()
        del it
    finally:
        tracemalloc.stop()
    assert peak < 8e6
