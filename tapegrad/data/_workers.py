"""The threads of a pipeline: parallel map/batch and prefetch, plus the per-thread pipeline modes.

Every stage iterator is a Python generator owned by exactly one thread at a time: a generator
may not be advanced or closed from two threads at once.  A parallel stage therefore reads its
input in the consuming thread and hands only the user function to workers; a prefetch stage
hands its whole input iterator to its producer thread, which alone advances and closes it.

Threads stop when the iterator that started them is closed, which CPython does as soon as the
last reference to it goes: dropping a half-read iterator leaves no thread behind.
"""
from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ..core.op import paused as untaped  # noqa: F401 - re-exported for the pipeline stages

AUTOTUNE = -1
_AUTOTUNE_PREFETCH_MAX = 16  # AUTOTUNE prefetch grows its queue up to this many elements
_END = object()

_mode = threading.local()


@contextlib.contextmanager
def peeking():
    """Read one element to learn a structure: stages skip threads, shuffle epochs and cache fills."""
    before = getattr(_mode, "peeking", False)
    _mode.peeking = True
    try:
        yield
    finally:
        _mode.peeking = before


def is_peeking() -> bool:
    return getattr(_mode, "peeking", False)


def close(iterator) -> None:
    """Close a stage iterator now, so the stages above it stop their threads now."""
    closer = getattr(iterator, "close", None)
    if closer is not None:
        closer()


def parallelism(num_parallel_calls, what: str):
    """Validated worker count: None (run inline), a positive int, or AUTOTUNE (one per CPU)."""
    if num_parallel_calls is None:
        return None
    n = int(num_parallel_calls)
    if n == AUTOTUNE:
        return os.cpu_count() or 4
    if n < 1:
        raise ValueError(f"`num_parallel_calls` of {what} must be a positive integer or "
                         f"tf.data.AUTOTUNE (-1), got {num_parallel_calls}.")
    return n


def mapped(source, fn, workers=None, ordered=True):
    """``fn(index, item)`` for each item of `source`: inline, or on `workers` threads.

    With workers, at most `workers` items are in flight; results come in input order unless
    `ordered` is False, when each comes as soon as it is ready.
    """
    if workers is None or is_peeking():
        return (fn(i, item) for i, item in enumerate(source))
    return _mapped_in_pool(source, fn, workers, ordered)


def _mapped_in_pool(source, fn, workers, ordered):
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tapegrad.data.map")
    pending = collections.deque()
    try:
        index, exhausted = 0, False
        while True:
            while not exhausted and len(pending) < workers:
                item = next(source, _END)
                if item is _END:
                    exhausted = True
                else:
                    pending.append(pool.submit(fn, index, item))
                    index += 1
                del item  # the worker has it; holding it here would outlive the in-flight bound
            if not pending:
                return
            if ordered:
                future = pending.popleft()
            else:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                future = next(f for f in pending if f in done)  # the oldest of the finished ones
                pending.remove(future)
            result = future.result()
            del future
            yield result
            del result
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=False)  # idle workers exit now, busy ones after their current item
        close(source)


def prefetched(source, buffer_size: int):
    """`source` read ahead by a background thread into a queue of `buffer_size` (or AUTOTUNE) items."""
    if buffer_size == 0 or is_peeking():
        return source
    return _prefetched(source, buffer_size)


def _prefetched(source, buffer_size):
    autotune = buffer_size == AUTOTUNE
    items = queue.Queue(maxsize=1 if autotune else buffer_size)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(source, items, stop), daemon=True,
                              name="tapegrad.data.prefetch")
    del source  # the producer owns the input from now on: only it may advance or close it
    thread.start()
    try:
        while True:
            if autotune and items.empty():
                # The consumer is about to wait: the producer is behind, so let it run further ahead
                with items.mutex:
                    items.maxsize = min(items.maxsize + 1, _AUTOTUNE_PREFETCH_MAX)
            item, error = items.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
            del item
    finally:
        stop.set()
        # Empty the queue so a producer blocked on a full queue wakes up, sees `stop` and exits;
        # it puts at most one more item first, which fits.
        while True:
            try:
                items.get_nowait()
            except queue.Empty:
                break


def _produce(source, items, stop):
    try:
        for item in source:
            items.put((item, None))
            del item
            if stop.is_set():
                return
        items.put((_END, None))
    except BaseException as error:  # noqa: BLE001 - every failure is re-raised in the consumer
        items.put((None, error))
    finally:
        close(source)
