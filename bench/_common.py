"""Helpers shared by the benchmarks: child processes, timing loops, statistics, the environment.

Every measurement runs in a fresh child process (so one framework's imports, threads and
allocator never disturb another's); the parent interleaves them A B A B and pools the samples.
"""
from __future__ import annotations

import ctypes
import glob
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# python module each framework needs; a missing one makes its cells "not installed"
MODULES = {"tapegrad": "tapegrad", "tensorflow": "tensorflow", "torch": "torch", "jax": "jax",
           "numpy": "numpy"}


def child_env(threads: int | None = None, coretype: str | None = None, **extra) -> dict:
    """The environment of a child: this checkout importable, quiet peers, the thread count.

    ``coretype``: None keeps OPENBLAS_CORETYPE as inherited, "unset" removes it, anything else
    sets it.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONWARNINGS"] = "ignore"
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        env["BENCH_THREADS"] = str(threads)
    if coretype == "unset":
        env.pop("OPENBLAS_CORETYPE", None)
    elif coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    env.update(extra)
    return env


def run_json(argv: list, env: dict, timeout: float = 900) -> dict:
    """Run a child that prints one JSON object on its last stdout line; errors become {"error"}."""
    try:
        proc = subprocess.run(argv, check=False, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        err = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return {"error": err[-1][:200] if err else f"exit status {proc.returncode}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"bad output: {lines[-1][:120]}"}


def pct(values, q: float) -> float:
    """The q-quantile (nearest rank) of a non-empty sequence."""
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(values) -> tuple:
    """(median, p10, p90) of the pooled samples."""
    return pct(values, 0.5), pct(values, 0.1), pct(values, 0.9)


def time_batches(fn, seconds: float, batches: int = 3) -> list:
    """Microseconds per call of a tiny `fn`: `batches` loops, each sized to run ~`seconds`/10."""
    fn()
    n, t = 1, 0.0
    while t < seconds / 10:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - start
        n *= 4
    n = max(1, int(n / 4 * (seconds / 10) / max(t, 1e-9)) * 2)
    out = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - start) / n * 1e6)
    return out


def import_probe(module: str, env: dict) -> dict:
    """Wall seconds of `python -c "import module"` and the child's RSS (MB) right after the import."""
    code = ("import time, resource\n"
            f"import {module}\n"
            "rss = None\n"
            "try:\n"
            "    rss = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')][0]\n"
            "except Exception:\n"
            "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(rss)\n") if module else "pass"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    if proc.returncode:
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return {"error": err[-1][:200] if err else "failed"}
    out = {"import_s": wall}
    if module:
        out["rss_mb"] = int(proc.stdout.split()[-1]) / 1024
    return out


def maxrss_mb() -> float:
    """Peak resident set size of this process (MB; Linux reports ru_maxrss in KiB)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def openblas_corename() -> str:
    """The kernel set NumPy's OpenBLAS picked at run time (honours OPENBLAS_CORETYPE), or '?'."""
    import numpy as np
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for lib in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(handle, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "?"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    return f"{cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}"
