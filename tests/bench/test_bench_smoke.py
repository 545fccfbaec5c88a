"""`python -m bench --quick` runs end to end and writes its table (no timing is asserted)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_quick_tapegrad(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--frameworks", "tapegrad", "--threads", "1",
         "--out", str(tmp_path), "--json", str(tmp_path / "raw.json")],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (tmp_path / "results.md").read_text()
    assert table in proc.stdout
    assert "| workload | tapegrad eager | tapegrad tf.function |" in table
    for row in ("quickstart CNN b32", "quickstart CNN b128", "MLP b32", "MLP b1024", "DCGAN",
                "eager add 2x2", "import", "peak RSS", "GFLOP/s"):
        assert row in table, row
    assert "OPENBLAS_CORETYPE" in table
    assert "tapegrad's fused optimizer updates (`fast` extra): " in table
    assert "error" not in table and "†" not in table, table  # every cell measured, tf.function worked
    assert (tmp_path / "raw.json").exists()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in proc.stdout
    else:
        assert (tmp_path / "results.png").stat().st_size > 0
