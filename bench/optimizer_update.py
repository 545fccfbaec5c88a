"""The bare optimizer update: the NumPy path against the fused numba loops, interleaved.

    python -m bench.optimizer_update                  # 2.77 M float32 parameters (the CNN's)
    python -m bench.optimizer_update --size 100000 --rounds 20

One variable of --size parameters, one ``apply_gradients`` per timed call; each round times
--calls calls on each path, in alternating order, in this process (CPU time: one thread).
The optimizers are those with a fused loop (tapegrad/keras/optimizers/kernels.py).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import tapegrad as tf
from tapegrad.keras.optimizers import kernels

OPTIMIZERS = {
    "Adam": lambda: tf.keras.optimizers.Adam(1e-3),
    "AdamW amsgrad": lambda: tf.keras.optimizers.AdamW(1e-3, amsgrad=True),
    "SGD momentum": lambda: tf.keras.optimizers.SGD(1e-2, momentum=0.9),
    "RMSprop": lambda: tf.keras.optimizers.RMSprop(1e-3),
}


def updater(make, size: int, fused: bool):
    """A call that applies one gradient to one variable on the chosen path (built and warm)."""
    rng = np.random.default_rng(0)
    w = tf.Variable(rng.standard_normal(size).astype(np.float32))
    g = tf.constant(rng.standard_normal(size).astype(np.float32) * 1e-3)
    opt = make()

    def call():
        tf.config.set_fused_kernels(fused)
        opt.apply_gradients([(g, w)])
    call()  # builds the slots; compiles (or loads) the fused loop
    return call


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=2_770_000)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--calls", type=int, default=5)
    a = p.parse_args(argv)
    if not kernels.active():
        print("fused kernels are not available (numba not installed, or TAPEGRAD_FUSED_KERNELS=0)")
        return 1
    print(f"optimizer update, {a.size} float32 parameters: median [p10-p90] ms of CPU time per call")
    for name, make in OPTIMIZERS.items():
        calls = {False: updater(make, a.size, False), True: updater(make, a.size, True)}
        times = {False: [], True: []}
        for r in range(a.rounds):
            for fused in (False, True) if r % 2 == 0 else (True, False):
                for _ in range(a.calls):
                    t = time.process_time()
                    calls[fused]()
                    times[fused].append((time.process_time() - t) * 1e3)
        row = []
        for fused in (False, True):
            ms = np.asarray(times[fused])
            row.append(f"{'fused' if fused else 'numpy'} {np.median(ms):6.2f} "
                       f"[{np.percentile(ms, 10):.2f}-{np.percentile(ms, 90):.2f}]")
        ratio = np.median(times[True]) / np.median(times[False])
        print(f"  {name:14s} {row[0]}   {row[1]}   fused/numpy {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
