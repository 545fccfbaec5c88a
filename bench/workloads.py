"""What is measured: the workloads, the framework variants, and which variant runs which workload.

A *variant* is one column of the table (a framework run one way); a *workload* is one row.
"""
from __future__ import annotations

from dataclasses import dataclass

# -- columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str          # column id, also what --frameworks accepts
    framework: str     # key of _common.MODULES (what must be installed)
    label: str         # column heading
    overhead: str = ""  # eager_overhead.py's name for the per-op micro workloads ("" = not run)


VARIANTS = (
    Variant("tapegrad-eager", "tapegrad", "tapegrad eager", "tapegrad"),
    Variant("tapegrad-compiled", "tapegrad", "tapegrad tf.function"),
    Variant("tf-eager", "tensorflow", "TF eager", "tensorflow"),
    Variant("tf-function", "tensorflow", "TF tf.function"),
    Variant("tf-xla", "tensorflow", "TF XLA"),
    Variant("torch-eager", "torch", "PyTorch eager", "torch"),
    Variant("jax-jit", "jax", "JAX jit", "jax"),
    Variant("numpy", "numpy", "NumPy by hand", "numpy"),
)
BY_NAME = {v.name: v for v in VARIANTS}
TAPEGRAD = ("tapegrad-eager", "tapegrad-compiled")


def coretype_variant(base: str, coretype: str) -> Variant:
    """A tapegrad column re-run with OPENBLAS_CORETYPE changed ("unset" removes it)."""
    v = BY_NAME[base]
    return Variant(f"{base}@{coretype}", v.framework, f"{v.label} (CORETYPE={coretype})", v.overhead)


def split_variant(name: str) -> tuple:
    """'tapegrad-eager@Haswell' -> ('tapegrad-eager', 'Haswell'); no '@' -> (name, None)."""
    base, _, coretype = name.partition("@")
    return base, coretype or None


# -- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    kind: str              # "train": ms per step; "ops": µs per op; "import"
    model: str = ""        # "cnn", "mlp", "dcgan"
    batch: int = 0
    quick_batch: int = 0
    runs: tuple = ()       # variant names that implement it (empty: all)


_NO_JAX_NUMPY = tuple(v.name for v in VARIANTS if v.name not in ("jax-jit", "numpy"))

WORKLOADS = (
    Workload("cnn-b32", "quickstart CNN b32", "train", "cnn", 32, 4),
    Workload("cnn-b128", "quickstart CNN b128", "train", "cnn", 128, 8),
    Workload("mlp-b32", "MLP b32", "train", "mlp", 32, 4),
    Workload("mlp-b1024", "MLP b1024", "train", "mlp", 1024, 16),
    Workload("dcgan-b64", "DCGAN two-tape step b64", "train", "dcgan", 64, 4, _NO_JAX_NUMPY),
    Workload("ops", "eager per-op overhead", "ops",
             runs=tuple(v.name for v in VARIANTS if v.overhead)),
    Workload("import", "import", "import",
             runs=("tapegrad-eager", "tf-eager", "torch-eager", "jax-jit", "numpy")),
)
WORKLOAD_BY_NAME = {w.name: w for w in WORKLOADS}
GROUPS = {"cnn": ("cnn-b32", "cnn-b128"), "mlp": ("mlp-b32", "mlp-b1024"), "dcgan": ("dcgan-b64",),
          "train": ("cnn-b32", "cnn-b128", "mlp-b32", "mlp-b1024", "dcgan-b64")}
# the step that also reports peak RSS after RSS_STEPS steps and feeds the GFLOP/s row
RSS_WORKLOAD, RSS_STEPS = "cnn-b32", 100


def runs(workload: Workload, variant: str) -> bool:
    base, _ = split_variant(variant)
    return not workload.runs or base in workload.runs


# -- FLOPs ------------------------------------------------------------------------------------

def cnn_train_flops(batch: int) -> dict:
    """Multiply-add FLOPs (2 per MAC) of one quickstart-CNN training step, by layer and pass.

    Forward: conv 3x3x1->32 on 28x28 (26x26 out), dense 21632->128, dense 128->10.
    Backward: the weight gradient of every layer, and the input gradient of every layer but the
    first (the images need none). Elementwise work (relu, softmax, Adam) is not counted.
    """
    conv = 2 * batch * 26 * 26 * 32 * (3 * 3 * 1)
    d1 = 2 * batch * (26 * 26 * 32) * 128
    d2 = 2 * batch * 128 * 10
    return {"forward": conv + d1 + d2, "backward": conv + 2 * d1 + 2 * d2,
            "total": 2 * conv + 3 * d1 + 3 * d2}
