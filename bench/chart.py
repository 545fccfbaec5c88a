"""The PNG chart of a run (matplotlib, if installed): grouped bars, log scale, one panel per unit."""
from __future__ import annotations

PANELS = (("ms/step", "training step (ms, median; log scale)"),
          ("µs/op", "eager per-op overhead (µs, median; log scale)"))


def chart(report: dict, path: str) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart (pip install matplotlib, or '.[plot]')"
    cols, labels = report["columns"], report["labels"]
    panels = []
    for unit, title in PANELS:
        rows = [r for r in report["rows"] if f"({unit})" in r["label"] and r["medians"]]
        if rows:
            panels.append((title, unit, rows))
    if not panels:
        return "nothing to chart"
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 4.2 * len(panels)), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (title, unit, rows) in zip(axes[:, 0], panels):
        present = [c for c in cols if any(c in r["medians"] for r in rows)]
        width = 0.8 / max(1, len(present))
        for j, c in enumerate(present):
            xs = [i + (j - (len(present) - 1) / 2) * width for i, r in enumerate(rows) if c in r["medians"]]
            ys = [r["medians"][c] for r in rows if c in r["medians"]]
            label = labels[c] if unit != "µs/op" else \
                labels[c].replace("JAX jit", "JAX (eager)").replace("NumPy by hand", "NumPy")
            ax.bar(xs, ys, width, label=label, color=colors(cols.index(c) % 10),
                   hatch="//" if c.startswith("tapegrad") else None, edgecolor="white" if
                   not c.startswith("tapegrad") else "black", linewidth=0.5)
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r["label"].replace(f" ({unit})", "") for r in rows], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"wrote {path}"
