"""``python -m bench``: every workload in tapegrad (eager and tf.function) and each installed peer.

    python -m bench                              # everything, 3 rounds: bench/results.md, results.png
    python -m bench --quick --frameworks tapegrad  # tiny sizes, 1 round (the smoke test)
    python -m bench --workloads cnn,ops --frameworks tapegrad,torch --rounds 5
    python -m bench --also-coretype Haswell      # extra tapegrad columns with OPENBLAS_CORETYPE=Haswell
                                                 # ("unset": with it removed from the environment)
    python -m bench --threads 1 --json raw.json  # one thread per framework; keep every step's time
    python -m bench --from-json raw.json         # measure nothing: re-render that run's report
    python -m bench.profile tapegrad-compiled cnn 32   # cProfile one step (bench/profile.py)
    python -m bench.ab HEAD~1 HEAD                     # tapegrad against itself: two checkouts, interleaved,
                                                       # CPU and wall time per step (bench/ab.py)

Each measurement runs in a fresh child process per framework per round, the rounds interleaved
(A B A B); a cell is the median [p10-p90] of every timed step of every round. A peer that is
not installed is reported as such.

This module is the parent: it plans the child processes (bench/worker.py), interleaves them and
writes the report.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time

from bench import workloads as W
from bench._common import HERE, MODULES, ROOT, child_env, import_probe, machine_line, run_json, summary
from bench.eager_overhead import WORKLOADS as OP_ROWS

# -- options ----------------------------------------------------------------------------------

def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 round, a few steps")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; 1 with --quick)")
    p.add_argument("--workloads", default="all",
                   help="comma list of " + ", ".join(w.name for w in W.WORKLOADS) +
                   " or groups " + ", ".join(W.GROUPS) + " (default all)")
    p.add_argument("--frameworks", default="all",
                   help="comma list of frameworks (" + ", ".join(MODULES) + ") or columns (" +
                   ", ".join(v.name for v in W.VARIANTS) + "); default all")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads every framework may use (BLAS, intra-op); default all CPUs")
    p.add_argument("--also-coretype", action="append", default=[], metavar="CORE",
                   help="add tapegrad columns run with OPENBLAS_CORETYPE=CORE ('unset' removes it); repeatable")
    p.add_argument("--min-seconds", type=float, help="timed seconds per training measurement (default 2)")
    p.add_argument("--out", help="folder for results.md and results.png (default bench/; a temp folder with "
                   "--quick)")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--json", metavar="PATH", help="also write every raw measurement (per-step times) as JSON")
    p.add_argument("--from-json", metavar="PATH", help="measure nothing: re-render the run saved by --json")
    return p.parse_args(argv)


def _select_workloads(spec):
    if spec == "all":
        return list(W.WORKLOADS)
    names = []
    for part in spec.split(","):
        part = part.strip()
        for n in W.GROUPS.get(part, (part,)):
            if n not in W.WORKLOAD_BY_NAME:
                raise SystemExit(f"unknown workload {n!r}; choose from "
                                 f"{', '.join(list(W.WORKLOAD_BY_NAME) + list(W.GROUPS))}")
            if n not in names:
                names.append(n)
    return [w for w in W.WORKLOADS if w.name in names]


def _select_variants(spec, coretypes):
    if spec == "all":
        names = [v.name for v in W.VARIANTS]
    else:
        names = []
        for part in spec.split(","):
            part = part.strip()
            group = [v.name for v in W.VARIANTS if v.framework == part or v.name == part]
            if not group:
                raise SystemExit(f"unknown framework {part!r}; choose from "
                                 f"{', '.join(list(MODULES) + [v.name for v in W.VARIANTS])}")
            names += [n for n in group if n not in names]
    extra = [f"{n}@{c}" for c in coretypes for n in names if n in W.TAPEGRAD]
    variants = [W.BY_NAME[n] for n in names]
    for name in extra:
        base, core = W.split_variant(name)
        variants.append(W.coretype_variant(base, core))
    return variants


def _installed(framework):
    return framework == "tapegrad" or importlib.util.find_spec(MODULES[framework]) is not None


# -- the plan ---------------------------------------------------------------------------------

class Plan:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.rounds = args.rounds or (1 if args.quick else 3)
        self.workloads = _select_workloads(args.workloads)
        self.variants = _select_variants(args.frameworks, args.also_coretype)
        self.min_seconds = args.min_seconds if args.min_seconds is not None else (0.0 if args.quick else 2.0)
        self.missing = {v.name for v in self.variants if not _installed(v.framework)}

    def env(self, variant_name):
        _, core = W.split_variant(variant_name)
        return child_env(self.args.threads, core)

    def jobs(self):
        """One round's measurements, in order: (workload, variant-or-None, argv-or-probe)."""
        out = []
        for w in self.workloads:
            for v in self.variants:
                if not W.runs(w, v.name) or v.name in self.missing:
                    continue
                if w.kind == "train":
                    out.append((w.name, v.name, self._train_argv(w, v.name)))
                elif w.kind == "ops":
                    out.append((w.name, v.name, self._ops_argv(v.name)))
                else:
                    out.append((w.name, v.name, ("import", MODULES[v.framework])))
            if w.kind == "import":
                out.append((w.name, None, ("import", "")))  # an empty interpreter, for reference
            if w.name == W.RSS_WORKLOAD and any(v.framework == "tapegrad" for v in self.variants):
                out.append(("sgemm", "numpy", self._sgemm_argv()))
        return out

    def batch(self, w):
        return w.quick_batch if self.quick else w.batch

    def _train_argv(self, w, variant):
        base, _ = W.split_variant(variant)
        argv = [sys.executable, "-m", "bench.worker", "train", base, w.model, str(self.batch(w))]
        if self.quick:
            argv += ["--warmup", "1", "--min-steps", "2", "--min-seconds", "0", "--max-steps", "2"]
        else:
            argv += ["--warmup", "5", "--min-steps", "10", "--min-seconds", str(self.min_seconds),
                     "--max-steps", "500"]
        if w.name == W.RSS_WORKLOAD:
            rss = 3 if self.quick else W.RSS_STEPS
            argv += ["--rss-after", str(rss)]
            if not self.quick:
                argv[argv.index("--min-steps") + 1] = str(rss - 5)
        return argv

    def _ops_argv(self, variant):
        base, _ = W.split_variant(variant)
        return [sys.executable, "-m", "bench.worker", "ops", base, "--seconds", "0.02" if self.quick else "1"]

    def _sgemm_argv(self):
        batch = str(self.batch(W.WORKLOAD_BY_NAME[W.RSS_WORKLOAD]))
        return [sys.executable, "-m", "bench.worker", "sgemm", "numpy", "-", batch, "--seconds",
                "0.02" if self.quick else "1"] + (["--quick"] if self.quick else [])


def _short(result):
    if "error" in result:
        return result["error"]
    if "times_ms" in result:
        t = sorted(result["times_ms"])
        s = f"{t[len(t) // 2]:.3g} ms"
        return s + (" (eager fallback)" if result.get("fallback") else "")
    if "ops_us" in result:
        return ", ".join(f"{min(v):.3g} µs" for v in result["ops_us"].values())
    if "import_s" in result:
        return f"{result['import_s']:.2f} s" + (f", {result['rss_mb']:.0f} MB" if "rss_mb" in result else "")
    if "square" in result:
        return f"{max(result['square']['gflops']):.0f} GFLOP/s"
    return "ok"


def run(plan):
    results: dict = {}  # (workload, variant) -> [result per round]
    plan.loads = []     # 1-minute load average before each measurement
    jobs = plan.jobs()
    t_start = time.time()
    for r in range(plan.rounds):
        for i, (wname, vname, job) in enumerate(jobs):
            env = plan.env(vname or "numpy")
            if hasattr(os, "getloadavg"):
                plan.loads.append(os.getloadavg()[0])
            if job[0] == "import":
                res = import_probe(job[1], env)
            else:
                res = run_json(list(job), env)
            results.setdefault((wname, vname), []).append(res)
            print(f"[round {r + 1}/{plan.rounds} {i + 1:>2}/{len(jobs)} {time.time() - t_start:6.0f}s] "
                  f"{wname:<10} {vname or '(python)':<28} {_short(res)}", file=sys.stderr, flush=True)
    return results


# -- the report -------------------------------------------------------------------------------

def _fmt(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def _cell(values):
    med, lo, hi = summary(values)
    return f"{_fmt(med)} [{_fmt(lo)}–{_fmt(hi)}]", med


def _git():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=False, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "tapegrad"], cwd=ROOT, check=False,
                               capture_output=True,
                               text=True).stdout.strip()
        return head + (" + uncommitted changes in tapegrad/" if dirty else "")
    except OSError:
        return "?"


class Report:
    def __init__(self, plan, results, load):
        self.plan, self.results, self.load = plan, results, load
        self.rows: list = []      # (row label, kind, {variant: (cell, median)}, {variant: note})
        self.notes: list = []
        self.checks: list = []
        self.marks: dict = {}     # (row label, variant) -> footnote mark
        self.versions: dict = {}
        self.fused: set = set()   # what the tapegrad steps' optimizer updates ran as
        self.medians: dict = {}   # row key -> {variant: median}
        self.sgemm = None

    def _missing_cell(self, v, w):
        if v.name in self.plan.missing:
            return f"not installed ({MODULES[v.framework]})"
        if not W.runs(w, v.name):
            return "—"
        return "n/a"

    def build(self):
        for w in self.plan.workloads:
            if w.kind == "train":
                self._train_row(w)
            elif w.kind == "ops":
                self._ops_rows(w)
            else:
                self._import_rows(w)
        self._gflops()
        return self

    def _errors(self, w, v, res_list):
        errs = [r for r in res_list if "error" in r]
        if errs and len(errs) == len(res_list):
            e = errs[0]
            if e.get("skipped") or e.get("missing"):
                return e["error"]
            self.notes.append(f"{w.label}, {v.label}: {e['error']}")
            return "error (see notes)"
        return None

    def _train_row(self, w):
        label = f"{w.label} (ms/step)" if not self.plan.quick else f"{w.label} [quick: b{self.plan.batch(w)}]" \
            " (ms/step)"
        cells, meds, rss = {}, {}, {}
        for v in self.plan.variants:
            res = self.results.get((w.name, v.name))
            if not res:
                cells[v.name] = self._missing_cell(v, w)
                continue
            err = self._errors(w, v, res)
            if err:
                cells[v.name] = err
                continue
            ok = [r for r in res if "times_ms" in r]
            self.versions[v.framework] = ok[0].get("version", "?")
            self.fused.update(r["fused_kernels"] for r in ok if "fused_kernels" in r)
            cell, med = _cell([t for r in ok for t in r["times_ms"]])
            fb = [r["fallback"] for r in ok if r.get("fallback")]
            if fb:
                cell += " †"
                self.notes.append(f"† {w.label}, {v.label}: tf.function failed ({fb[0]}); the cell is the "
                                  "eager step")
            cells[v.name], meds[v.name] = cell, med
            if any("peak_rss_mb" in r for r in ok):
                rss[v.name] = [r["peak_rss_mb"] for r in ok if "peak_rss_mb" in r]
            if "optimizer" in ok[0]:
                self.notes.append(f"{v.label}: {ok[0]['optimizer']}")
            checks = ok[-1].get("check")
            if checks and not all(math.isfinite(c) for c in checks.values()):
                self.notes.append(f"{w.label}, {v.label}: non-finite training numbers {checks}")
        self.rows.append((label, "time", cells, meds, w.name))
        self.medians[w.name] = meds
        self._agreement(w)
        if rss:
            steps = 3 if self.plan.quick else W.RSS_STEPS
            cells = {v.name: (_cell(rss[v.name])[0] if v.name in rss else self._missing_cell(v, w))
                     for v in self.plan.variants}
            self.rows.append((f"peak RSS, {steps} steps of {label.split(' (')[0]} (MB)", "size", cells,
                              {n: _cell(x)[1] for n, x in rss.items()}, w.name + ":rss"))

    def _agreement(self, w):
        """tf.function must change nothing: tapegrad's first step, eager vs compiled (same seed/batch)."""
        first = {}
        for v in self.plan.variants:
            for r in self.results.get((w.name, v.name), []):
                if "first_check" in r and not r.get("fallback"):
                    first[v.name] = r
                    break
        for v in self.plan.variants:
            base, core = W.split_variant(v.name)
            if base != "tapegrad-compiled" or v.name not in first:
                continue
            r = first[v.name]
            eager = first.get("tapegrad-eager" + (f"@{core}" if core else ""))
            msg = f"{w.label}, {v.label}: traced {r.get('tracing_count', '?')}×"
            tf_runs = [x for x in self.results.get((w.name, "tf-function"), []) if "tracing_count" in x]
            if tf_runs:
                msg += f" (TF tf.function: {tf_runs[0]['tracing_count']}×)"
            if eager:
                a, b = eager["first_check"], r["first_check"]
                worst = max(abs(a[k] - b[k]) / max(1e-6, abs(a[k])) for k in a)
                msg += f"; first step {', '.join(f'{k} {b[k]:.5g}' for k in b)}: "
                if worst < 1e-4:
                    msg += "same as eager"
                elif w.model == "dcgan":
                    msg += (f"eager gave {', '.join(f'{k} {a[k]:.5g}' for k in a)} (the step draws noise and "
                            "dropout masks, which tf.function draws apart from eager, as TensorFlow does)")
                else:
                    msg += f"**differs from eager** ({', '.join(f'{k} {a[k]:.5g}' for k in a)})"
                    self.notes.append(f"{w.label}: tapegrad tf.function and eager disagree after one step")
            self.checks.append(msg)

    def _ops_rows(self, w):
        for op in OP_ROWS:
            cells, meds = {}, {}
            for v in self.plan.variants:
                res = self.results.get((w.name, v.name))
                if not res:
                    cells[v.name] = self._missing_cell(v, w)
                    continue
                err = self._errors(w, v, res)
                if err:
                    cells[v.name] = err
                    continue
                vals = [x for r in res if "ops_us" in r for x in r["ops_us"][op]]
                self.versions[v.framework] = res[0].get("version", "?")
                cells[v.name], meds[v.name] = _cell(vals)
            self.rows.append((f"eager {op} (µs/op)", "time", cells, meds, "ops:" + op))

    def _import_rows(self, w):
        base = [r["import_s"] for r in self.results.get((w.name, None), []) if "import_s" in r]
        cells_t, meds_t, cells_m, meds_m = {}, {}, {}, {}
        for v in self.plan.variants:
            res = self.results.get((w.name, v.name))
            if not res:
                cells_t[v.name] = cells_m[v.name] = self._missing_cell(v, w)
                continue
            ok = [r for r in res if "import_s" in r]
            if not ok:
                cells_t[v.name] = cells_m[v.name] = "error (see notes)"
                self.notes.append(f"import {MODULES[v.framework]}: {res[0].get('error')}")
                continue
            cells_t[v.name], meds_t[v.name] = _cell([r["import_s"] for r in ok])
            cells_m[v.name], meds_m[v.name] = _cell([r["rss_mb"] for r in ok])
        label = "import, wall of `python -c \"import X\"` (s)"
        if base:
            label += f"; empty interpreter {_fmt(summary(base)[0])} s"
        self.rows.append((label, "time", cells_t, meds_t, "import"))
        self.rows.append(("RSS after import (MB)", "size", cells_m, meds_m, "import:rss"))

    def _gflops(self):
        meds = self.medians.get(W.RSS_WORKLOAD)
        sg = [r for r in self.results.get(("sgemm", "numpy"), []) if "square" in r]
        if not meds:
            return
        w = W.WORKLOAD_BY_NAME[W.RSS_WORKLOAD]
        flops = W.cnn_train_flops(self.plan.batch(w))
        cells = {}
        for v in self.plan.variants:
            if v.name in meds:
                cells[v.name] = f"{flops['total'] / (meds[v.name] * 1e6):.1f}"
            else:
                cells[v.name] = "—"
        self.rows.append((f"{w.label} achieved GFLOP/s ({flops['total'] / 1e6:.0f} MFLOP/step)", "rate",
                          cells, {}, "gflops"))
        if sg:
            self.sgemm = {
                "corename": sg[0]["corename"],
                "square": (sg[0]["square"]["shape"], summary([g for r in sg for g in r["square"]["gflops"]])),
                "dense": (sg[0]["dense"]["shape"], summary([g for r in sg for g in r["dense"]["gflops"]])),
                "flops": flops, "meds": meds}

    # -- rendering ----------------------------------------------------------------------------

    def _label(self, vname):
        return next((v.label for v in self.plan.variants if v.name == vname), vname)

    def _columns(self):
        return [v for v in self.plan.variants]

    def markdown(self, command, when=None):
        p = self.plan
        cols = self._columns()
        core = os.environ.get("OPENBLAS_CORETYPE")
        lines = ["# tapegrad benchmark", ""]
        lines.append(f"`{command}` — {when or datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
        lines.append("")
        loads = getattr(p, "loads", None) or [float("nan")]
        lines.append(f"- machine: {machine_line()}; 1-minute load average {self.load[0]:.2f} at start, "
                     f"{self.load[1]:.2f} at end, median {summary(loads)[0]:.2f} and max {max(loads):.2f} "
                     "before the measurements (other work on the machine shows here)")
        vers = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        lines.append(f"- python {sys.version.split()[0]}; {vers}; tapegrad at {_git()}")
        corename = self.sgemm["corename"] if self.sgemm else None
        lines.append(f"- OPENBLAS_CORETYPE: {'`' + core + '`' if core else 'unset'} in the environment"
                     + (f"; NumPy's OpenBLAS runs its `{corename}` kernels" if corename else "")
                     + (f"; extra tapegrad columns with CORETYPE={', '.join(p.args.also_coretype)}"
                        if p.args.also_coretype else ""))
        if self.fused:
            lines.append("- tapegrad's fused optimizer updates (`fast` extra): "
                         + ", ".join("off (NumPy path)" if f == "off" else f"active ({f})"
                                     for f in sorted(self.fused)))
        lines.append(f"- threads: {p.args.threads} per framework (BLAS, intra-op, torch); rounds: {p.rounds}, "
                     "each measurement a fresh process per framework per round, interleaved A B A B")
        lines.append("- cells: median [p10–p90] over every timed step of every round (training: after "
                     f"{1 if p.quick else 5} warm-up step(s), which include tracing/compiling); import and RSS: "
                     "over rounds")
        lines.append("")
        head = "| workload | " + " | ".join(v.label for v in cols) + " |"
        lines += [head, "|---" * (len(cols) + 1) + "|"]
        for label, _, cells, _, _ in self.rows:
            lines.append(f"| {label} | " + " | ".join(cells.get(v.name, "—") for v in cols) + " |")
        lines += ["", *self._ratio_table(cols)]
        if self.sgemm:
            lines += ["", *self._sgemm_lines()]
        lines += ["", "Notes:", "",
                  ("- tapegrad tf.function = the same step under `@tf.function` (traced to a graph, run as "
                   "generated Python); TF XLA = `tf.function(jit_compile=True)`; JAX jit = the whole step "
                   "under `jax.jit` (synchronised each step); NumPy by hand = the classifier step written "
                   "out in NumPy (im2col conv, hand-derived backward, Adam)."),
                  ("- Per-op rows run each framework eagerly, in the eager column of each (JAX: un-jitted "
                   "`jax.numpy`, `jax.grad` traced per call); `import` rows sit in each framework's first "
                   "column."),
                  ("- DCGAN: TF's DCGAN tutorial at half width (see bench/models.py); no JAX/NumPy version "
                   "(—).")]
        lines += [f"- {n}" for n in dict.fromkeys(self.notes)]
        cores = {}
        for (wname, vname), res in self.results.items():
            for r in res:
                if "blas_core" in r and vname:
                    cores.setdefault(self._label(vname), r["blas_core"])
        if cores:
            lines.append("- OpenBLAS kernels in use: " + ", ".join(f"{k}: `{c}`" for k, c in cores.items()))
        if self.checks:
            lines += ["", "tf.function check (tapegrad):", ""] + [f"- {c}" for c in self.checks]
        return "\n".join(lines) + "\n"

    def _ratio_table(self, cols):
        tg = [v for v in cols if v.framework == "tapegrad"]
        peers = [v for v in cols if v.framework != "tapegrad"]
        if not tg or not peers:
            return []
        out = ["tapegrad ÷ peer (time or size; > 1: tapegrad slower or bigger); each cell: "
               + " · ".join(v.label for v in tg), "",
               "| workload | " + " | ".join(v.label for v in peers) + " |", "|---" * (len(peers) + 1) + "|"]
        for label, kind, _, meds, _ in self.rows:
            if kind == "rate" or not meds:
                continue
            cells = []
            for pv in peers:
                if pv.name not in meds:
                    cells.append("—")
                    continue
                parts = [f"{meds[t.name] / meds[pv.name]:.2f}×" if t.name in meds else "—" for t in tg]
                cells.append(" · ".join(parts))
            if any(c != "—" for c in cells):
                out.append(f"| {label} | " + " | ".join(cells) + " |")
        return out if len(out) > 4 else []

    def _sgemm_lines(self):
        s = self.sgemm
        f = s["flops"]
        (sq_shape, (sq, sq_lo, sq_hi)), (de_shape, (de, de_lo, de_hi)) = s["square"], s["dense"]
        out = [(f"Throughput: NumPy float32 matmul in the same run: {sq:.0f} GFLOP/s [{sq_lo:.0f}–{sq_hi:.0f}] "
                f"at {'×'.join(map(str, sq_shape))}, {de:.0f} GFLOP/s [{de_lo:.0f}–{de_hi:.0f}] at the CNN's "
                f"dense shape {'×'.join(map(str, de_shape))} (M×K×N). One CNN step is "
                f"{f['total'] / 1e6:.0f} MFLOP (forward {f['forward'] / 1e6:.0f}, backward "
                f"{f['backward'] / 1e6:.0f}; conv and dense multiply-adds only).")]
        for name, med in s["meds"].items():
            if name.startswith("tapegrad"):
                g = f["total"] / (med * 1e6)
                out.append(f"- {self._label(name)}: "
                           f"{g:.1f} GFLOP/s = {100 * g / sq:.0f}% of the square SGEMM rate, "
                           f"{100 * g / de:.0f}% of the dense-shape rate")
        return out

    def json(self):
        return {"rows": [{"label": label, "kind": kind, "cells": cells, "medians": meds, "key": key}
                         for label, kind, cells, meds, key in self.rows],
                "sgemm": self.sgemm, "notes": self.notes, "versions": self.versions,
                "columns": [v.name for v in self.plan.variants],
                "labels": {v.name: v.label for v in self.plan.variants}}


def main(argv=None) -> int:
    args = _parse(argv)
    plan = Plan(args)
    out = args.out or (os.path.join(tempfile.gettempdir(), "tapegrad-bench-quick") if args.quick else HERE)
    os.makedirs(out, exist_ok=True)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    if args.from_json:  # re-render a saved run with this code
        with open(args.from_json) as f:
            saved = json.load(f)
        meta = saved["meta"]
        plan = Plan(_parse(meta["argv"]))
        plan.loads = meta["loads"]
        results = {(k.split("|")[0], k.split("|")[1] or None): v for k, v in saved["raw"].items()}
        loads, command, when = meta["load"], meta["command"], meta["when"]
    else:
        loads = [os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")]
        results = run(plan)
        loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
        command = "python -m bench" + ("" if argv is None and len(sys.argv) <= 1 else
                                       " " + " ".join(argv if argv is not None else sys.argv[1:]))
    report = Report(plan, results, loads).build()
    md = report.markdown(command, when)
    print(md)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            raw = {f"{w}|{v or ''}": r for (w, v), r in results.items()}
            meta = {"argv": sys.argv[1:] if argv is None else list(argv), "command": command, "when": when,
                    "load": loads, "loads": getattr(plan, "loads", [])}
            json.dump({"meta": meta, "report": report.json(), "raw": raw}, f, indent=1, default=str)
    if not args.no_chart:
        from bench.chart import chart
        msg = chart(report.json(), os.path.join(out, "results.png"))
        print(msg)
    print(f"wrote {os.path.join(out, 'results.md')}")
    return 0
