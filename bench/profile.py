"""cProfile one training step of the benchmark: where does the time go?

    python -m bench.profile                                   # tapegrad tf.function, CNN b32
    python -m bench.profile tapegrad-eager dcgan 64 --steps 10 --sort cumulative --top 40

The step is built exactly as ``python -m bench`` builds it (bench/models.py), warmed up (tracing
included), then profiled over --steps steps. NumPy ufuncs (matmul, add, ...) are not
functions to cProfile: their time is the *own* time of the Python function that calls them.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variant", nargs="?", default="tapegrad-compiled")
    p.add_argument("model", nargs="?", default="cnn")
    p.add_argument("batch", nargs="?", type=int, default=32)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--sort", default="tottime", choices=("tottime", "cumulative", "ncalls"))
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args(argv)
    from bench.models import build
    step, sync, _ = build(a.variant, a.model, a.batch)
    sync = sync or (lambda: None)
    for _ in range(a.warmup):
        step()
        sync()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
        sync()
    plain = (time.perf_counter() - t) / a.steps * 1e3
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(a.steps):
        step()
        sync()
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    print(f"{a.variant} {a.model} b{a.batch}: {plain:.2f} ms/step unprofiled, "
          f"{total / a.steps * 1e3:.2f} ms/step under cProfile")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats(a.sort).print_stats(a.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
