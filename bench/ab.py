"""A/B of tapegrad against itself: one training step in two checkouts, interleaved.

    python -m bench.ab HEAD~1 HEAD                     # tapegrad tf.function, CNN b32
    python -m bench.ab HEAD . --variant tapegrad-eager --model dcgan --batch 64 --rounds 6

A side is a directory holding a checkout, or a git revision of this repository (checked out
into a temporary worktree, removed afterwards). Each round runs one fresh child process per
side, in alternating order (A B, then B A), that builds the step as ``python -m bench`` does
(bench/models.py in that checkout), warms it up and times --steps steps. Every child reports
the wall time and the CPU time of its own process per step: with one BLAS thread (the
default here) the CPU time is the step's own work, which other jobs on a shared machine
inflate less than the wall time. The report gives, per side and clock, the median and
p10-p90 of all steps of all rounds, and B's median over A's.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import ROOT, child_env

# run in the checkout under test, so it uses that checkout's bench/models.py and tapegrad
_CHILD = r"""
import json, sys, time
import tapegrad
from bench.models import build
variant, model, batch, warmup, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
step, sync, _ = build(variant, model, batch)
sync = sync or (lambda: None)
for _ in range(warmup):
    step()
sync()
wall, cpu = [], []
for _ in range(steps):
    w, c = time.perf_counter(), time.process_time()
    step()
    sync()
    cpu.append(time.process_time() - c)
    wall.append(time.perf_counter() - w)
print(json.dumps({"wall": wall, "cpu": cpu, "tapegrad": tapegrad.__file__}))
"""


@contextlib.contextmanager
def checkout(side: str):
    """The directory of `side`: itself if it is one, else a temporary worktree of that revision."""
    if os.path.isdir(side):
        yield os.path.abspath(side)
        return
    folder = tempfile.mkdtemp(prefix="bench-ab-")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "--quiet", folder, side],
                   check=True, capture_output=True, text=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", folder],
                       check=False, capture_output=True)


def run_side(folder: str, a, env: dict) -> dict:
    env = dict(env, PYTHONPATH=folder)  # the checkout under test, not this one
    proc = subprocess.run([sys.executable, "-c", _CHILD, a.variant, a.model, str(a.batch), str(a.warmup),
                           str(a.steps)], check=False, cwd=folder, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"the step failed in {folder}:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # an installed tapegrad must not shadow the checkout's own
    if not os.path.realpath(result["tapegrad"]).startswith(os.path.realpath(folder) + os.sep):
        raise RuntimeError(f"{folder} ran the tapegrad in {result['tapegrad']}")
    return result


def summary(times: list) -> str:
    ms = np.asarray(times) * 1e3
    return f"{np.median(ms):8.2f} ms [{np.percentile(ms, 10):.2f}-{np.percentile(ms, 90):.2f}]"


def compare(folders: list, a) -> dict:
    """{side index: {"wall": [...], "cpu": [...]}} pooled over the interleaved rounds."""
    env = child_env(a.threads)
    samples = [{"wall": [], "cpu": []} for _ in folders]
    for r in range(a.rounds):
        order = range(len(folders)) if r % 2 == 0 else reversed(range(len(folders)))
        for k in order:
            result = run_side(folders[k], a, env)
            for clock in ("wall", "cpu"):
                samples[k][clock] += result[clock]
    return samples


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="baseline: a checkout's directory or a git revision")
    p.add_argument("b", help="candidate: a checkout's directory or a git revision")
    p.add_argument("--variant", default="tapegrad-compiled", choices=("tapegrad-compiled", "tapegrad-eager"))
    p.add_argument("--model", default="cnn", choices=("cnn", "mlp", "dcgan"))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=20, help="timed steps per child")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of the children (default 1)")
    a = p.parse_args(argv)
    with checkout(a.a) as first, checkout(a.b) as second:
        samples = compare([first, second], a)
    print(f"{a.variant} {a.model} b{a.batch}: {a.rounds} interleaved rounds x {a.steps} steps, "
          f"{a.threads} thread(s)")
    for clock in ("cpu", "wall"):
        for name, s in zip((a.a, a.b), samples):
            print(f"  {clock:4s} {name:>24s} {summary(s[clock])}")
        ratio = np.median(samples[1][clock]) / np.median(samples[0][clock])
        print(f"  {clock:4s} {'B / A':>24s} {ratio:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
