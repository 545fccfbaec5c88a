"""One measurement in a fresh process; prints one JSON object on its last line.

    python -m bench.worker train tapegrad-compiled cnn 32 --warmup 5 --min-steps 95 --min-seconds 2
    python -m bench.worker ops tapegrad-eager --seconds 1
    python -m bench.worker sgemm numpy --seconds 1

Run by ``python -m bench``; the environment (threads, OPENBLAS_CORETYPE) is set by the parent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

from bench._common import MODULES, maxrss_mb, time_batches


def _version(framework: str) -> str:
    mod = sys.modules.get(framework)
    return getattr(mod, "__version__", "?") if mod else "?"


def train(variant: str, model: str, batch: int, warmup: int, min_steps: int, min_seconds: float,
          max_steps: int, rss_after: int) -> dict:
    from bench.models import build
    from bench.workloads import BY_NAME
    out: dict = {}
    t0 = time.perf_counter()
    step, sync, info = build(variant, model, batch)
    sync = sync or (lambda: None)
    out["build_s"] = time.perf_counter() - t0
    done = 0
    t0 = time.perf_counter()
    try:
        step()
        sync()
    except Exception as e:  # tf.function failed on this workload: say so, measure eager instead
        if variant != "tapegrad-compiled":
            raise
        out["fallback"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        out["fallback_trace"] = traceback.format_exc()[-2000:]
        step, sync, info = build("tapegrad-eager", model, batch)
        sync = sync or (lambda: None)
        step()
        sync()
    done += 1
    out["first_step_s"] = time.perf_counter() - t0
    out["first_check"] = info["check"]()  # same seed and batch: eager and tf.function must agree
    for _ in range(warmup - 1):
        step()
        sync()
        done += 1
    times = []
    total = 0.0
    while (len(times) < min_steps or total < min_seconds) and len(times) < max_steps:
        t = time.perf_counter()
        step()
        sync()
        dt = time.perf_counter() - t
        times.append(dt * 1e3)
        total += dt
        done += 1
        if rss_after and done == rss_after:
            out["peak_rss_mb"] = maxrss_mb()
            out["rss_steps"] = done
    out["times_ms"] = times
    out["steps"] = done
    out["check"] = info["check"]()
    fn = info.get("fn")
    if fn is not None and hasattr(fn, "experimental_get_tracing_count"):
        out["tracing_count"] = fn.experimental_get_tracing_count()
    if "optimizer" in info:
        out["optimizer"] = info["optimizer"]
    out["version"] = _version(BY_NAME[variant].framework)
    if BY_NAME[variant].framework == "tapegrad":
        from tapegrad.keras.optimizers import kernels
        out["fused_kernels"] = f"numba {_version('numba')}" if kernels.active() else "off"
    if BY_NAME[variant].framework in ("tapegrad", "numpy"):
        from bench._common import openblas_corename
        out["blas_core"] = openblas_corename()
    return out


def ops(variant: str, seconds: float) -> dict:
    from bench.eager_overhead import _workloads
    from bench.workloads import BY_NAME
    v = BY_NAME[variant]
    loads = _workloads(v.overhead)
    out = {name: time_batches(fn, seconds, batches=5) for name, fn in loads.items()}
    return {"ops_us": out, "version": _version(v.framework)}


def sgemm(seconds: float, quick: bool, batch: int) -> dict:
    """NumPy float32 matmul GFLOP/s: a 1024^3 square, and the quickstart CNN's big dense layer."""
    import numpy as np

    from bench._common import openblas_corename
    rng = np.random.default_rng(0)
    out = {"corename": openblas_corename(), "numpy": np.__version__}
    shapes = {"square": (256, 256, 256) if quick else (1024, 1024, 1024), "dense": (batch, 26 * 26 * 32, 128)}
    for name, (m, k, n) in shapes.items():
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        us = time_batches(lambda a=a, b=b: a @ b, seconds, batches=5)
        out[name] = {"shape": [m, k, n], "gflops": [2 * m * k * n / (u * 1e3) for u in us]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("train", "ops", "sgemm"))
    p.add_argument("variant")
    p.add_argument("model", nargs="?")
    p.add_argument("batch", nargs="?", type=int)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-steps", type=int, default=10)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--rss-after", type=int, default=0)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    try:
        if a.kind == "train":
            out = train(a.variant, a.model, a.batch, a.warmup, a.min_steps, a.min_seconds, a.max_steps,
                        a.rss_after)
        elif a.kind == "ops":
            out = ops(a.variant, a.seconds)
        else:
            out = sgemm(a.seconds, a.quick, a.batch or 32)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in MODULES.values() and e.name != "optax":
            raise
        out = {"error": f"not installed ({e.name})", "missing": True}
    except NotImplementedError as e:
        out = {"error": "—", "skipped": str(e)}
    except Exception as e:  # noqa: BLE001 -- any failure becomes a cell, never a crash of the run
        out = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}",
               "trace": traceback.format_exc()[-2000:]}
    sys.stdout.flush()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
