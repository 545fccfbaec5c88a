"""`python -m bench.ab` runs a step in two checkouts (a directory and a git revision) and reports
both clocks and the ratio (no timing is asserted)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ab_of_a_directory_against_a_revision():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ab", ROOT, "HEAD", "--model", "mlp", "--batch", "2", "--rounds", "2",
         "--steps", "2", "--warmup", "1"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "tapegrad-compiled mlp b2: 2 interleaved rounds x 2 steps, 1 thread(s)"
    for clock in ("cpu", "wall"):
        assert sum(line.split()[:1] == [clock] for line in lines) == 3, proc.stdout
    assert sum("B / A" in line for line in lines) == 2
    worktrees = subprocess.run(["git", "-C", ROOT, "worktree", "list"], check=True, capture_output=True,
                               text=True).stdout
    assert "bench-ab-" not in worktrees  # the revision's temporary worktree is gone
