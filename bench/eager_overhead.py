"""Eager per-op overhead and import cost: tapegrad against TensorFlow, PyTorch, JAX and NumPy.

    python bench/eager_overhead.py            # all installed frameworks, one run, ratios
    python bench/eager_overhead.py --quick    # fewer repetitions (the smoke test uses this)

Each framework runs in its own subprocess (so imports do not disturb each other);
rounds alternate A B A B and the table reports medians with p10-p90 in brackets.
A peer that is not installed is reported as such.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._common import ROOT, child_env, import_probe, pct, run_json, time_batches

FRAMEWORKS = ("tapegrad", "numpy", "tensorflow", "torch", "jax")
WORKLOADS = ("add 2x2", "matmul 64x64", "tape grad sum(x*x), x[10]")


def _workloads(name):
    """Return {workload: zero-arg callable} for one framework (imports happen here)."""
    import numpy as np
    a2 = np.ones((2, 2), np.float32)
    m64 = np.ones((64, 64), np.float32)
    x10 = np.arange(10, dtype=np.float32)
    if name == "tapegrad":
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        import tapegrad as tf
        a, m, x = tf.constant(a2), tf.constant(m64), tf.constant(x10)

        def grad():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(x * x)
            return tape.gradient(y, x)
        return {WORKLOADS[0]: lambda: a + a, WORKLOADS[1]: lambda: tf.matmul(m, m), WORKLOADS[2]: grad}
    if name == "numpy":
        return {WORKLOADS[0]: lambda: a2 + a2, WORKLOADS[1]: lambda: m64 @ m64,
                WORKLOADS[2]: lambda: 2 * x10}
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        a, m, x = tf.constant(a2), tf.constant(m64), tf.constant(x10)

        def grad():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(x * x)
            return tape.gradient(y, x)
        return {WORKLOADS[0]: lambda: a + a, WORKLOADS[1]: lambda: tf.matmul(m, m), WORKLOADS[2]: grad}
    if name == "torch":
        import torch
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "0")) or os.cpu_count() or 1)
        a, m = torch.from_numpy(a2), torch.from_numpy(m64)

        def grad():
            x = torch.from_numpy(x10).requires_grad_()
            y = (x * x).sum()
            return torch.autograd.grad(y, x)[0]
        return {WORKLOADS[0]: lambda: a + a, WORKLOADS[1]: lambda: m @ m, WORKLOADS[2]: grad}
    if name == "jax":
        import jax
        import jax.numpy as jnp
        a, m, x = jnp.asarray(a2), jnp.asarray(m64), jnp.asarray(x10)
        g = jax.grad(lambda v: jnp.sum(v * v))  # eager jax.grad: traces each call, as a user would
        return {WORKLOADS[0]: lambda: (a + a).block_until_ready(),
                WORKLOADS[1]: lambda: (m @ m).block_until_ready(),
                WORKLOADS[2]: lambda: g(x).block_until_ready()}
    raise ValueError(name)


def _time_us(fn, seconds: float) -> float:
    """Microseconds per call: the best of a few batches sized to run ~`seconds`/10 each."""
    return min(time_batches(fn, seconds))


def worker(name: str, seconds: float) -> dict:
    t0 = time.perf_counter()
    try:
        loads = _workloads(name)
    except ImportError as e:
        return {"error": f"not installed ({e.name})"}
    result = {"import_s": time.perf_counter() - t0}
    for w, fn in loads.items():
        result[w] = _time_us(fn, seconds)
    return result


def _run_worker(name: str, seconds: float) -> dict:
    return run_json([sys.executable, os.path.abspath(__file__), "--worker", name, "--seconds", str(seconds)],
                    child_env())


def _import_seconds(module: str) -> float:
    """Wall time of `python -c "import module"` minus an empty interpreter's start-up."""
    env = child_env()
    base = min(import_probe("", env)["import_s"] for _ in range(3))
    return min(import_probe(module, env).get("import_s", float("nan")) for _ in range(3)) - base


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker")
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.seconds)))
        return 0
    if args.quick:
        args.seconds, args.rounds = 0.05, 1
    names = args.frameworks.split(",")
    runs: dict = {n: [] for n in names}
    for _ in range(args.rounds):  # interleaved: A B C A B C ...
        for n in names:
            runs[n].append(_run_worker(n, args.seconds))
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"python {sys.version.split()[0]}, rounds={args.rounds}\n")
    header = "| workload | " + " | ".join(names) + " | " + " | ".join(
        f"tapegrad/{n}" for n in names if n != "tapegrad") + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    medians = {}
    for w in WORKLOADS:
        cells, medians[w] = [], {}
        for n in names:
            vals = [r[w] for r in runs[n] if w in r]
            if not vals:
                cells.append(runs[n][0].get("error", "n/a"))
                continue
            med = pct(vals, 0.5)
            medians[w][n] = med
            cells.append(f"{med:.2f} µs [{pct(vals, 0.1):.2f}-{pct(vals, 0.9):.2f}]")
        ratios = [f"{medians[w]['tapegrad'] / medians[w][n]:.2f}x" if n in medians[w] and "tapegrad"
                  in medians[w] else "n/a" for n in names if n != "tapegrad"]
        print(f"| {w} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    imports = {n: _import_seconds(n) for n in names if "error" not in runs[n][0]}
    print("| import (s, wall minus interpreter) | " + " | ".join(
        f"{imports[n]:.3f}" if n in imports else "n/a" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
