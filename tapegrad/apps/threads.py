"""The ``--threads`` option of the ``tapegrad`` command's trainings (``quickstart``, ``gan dcgan``, ``gan
pix2pix``): how many threads NumPy's BLAS (the OpenBLAS its wheel bundles) may use while a command runs.
Their steps are many small matrix products (tens to a few hundred rows), for which OpenBLAS's threads
cost more in hand-offs than they give, the more so on a machine whose cores are busy: one thread is the
default.  tapegrad itself starts no worker threads in these programs (``tf.data`` does only for
``num_parallel_calls`` or ``prefetch``, which they do not use), so the BLAS is the only pool to size.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import numpy as np

DEFAULT = 1
_BLAS_NAMES = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
               ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
               ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
               ("openblas_get_num_threads", "openblas_set_num_threads"))


def add_option(parser) -> None:
    """Add ``--threads N`` to the subcommand's `parser` (None when not given: the command's default).

    >>> import argparse
    >>> parser = argparse.ArgumentParser(); add_option(parser)
    >>> parser.parse_args(["--threads", "2"]).threads, parser.parse_args([]).threads
    (2, None)
    """
    from ..cli import non_negative_int
    parser.add_argument("--threads", type=non_negative_int, default=None, metavar="N",
                        help=f"BLAS threads (default {DEFAULT}: faster for these small matrices, above all "
                             "on a busy machine); 0 leaves NumPy's setting alone")


def _openblas():
    """(get, set) of the OpenBLAS that NumPy's wheel ships, or None (another BLAS, another layout)."""
    base = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(glob.glob(os.path.join(base, "numpy.libs", "*openblas*")) +
                       glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"))):
        try:
            library = ctypes.CDLL(path)  # already loaded by NumPy: this is the same library
        except OSError:
            continue
        for get, set_ in _BLAS_NAMES:
            if hasattr(library, get) and hasattr(library, set_):
                return getattr(library, get), getattr(library, set_)
    return None


def get_blas_threads():
    """How many threads NumPy's OpenBLAS uses now; None where it cannot be found.

    >>> n = get_blas_threads(); n is None or n >= 1
    True
    """
    functions = _openblas()
    return None if functions is None else int(functions[0]())


@contextlib.contextmanager
def blas_threads(n: int):
    """Run the body with NumPy's OpenBLAS on `n` threads (0 or None: as it is), restoring the count
    after; yields whether the count was set (False without an OpenBLAS that can be found: another BLAS
    is left as it is).

    >>> with blas_threads(1) as applied:
    ...     applied in (True, False) and get_blas_threads() in (1, None)
    True
    """
    functions = _openblas() if n and n > 0 else None
    if functions is None:
        yield False
        return
    get, set_ = functions
    before = int(get())
    set_(int(n))
    try:
        yield True
    finally:
        set_(before)


@contextlib.contextmanager
def for_command(requested, err):
    """The command's BLAS threads for its run: `requested` (``--threads``; None: ``DEFAULT``).  A count
    asked for that cannot be set is said in one line on `err` rather than ignored silently.

    >>> import io
    >>> with for_command(None, io.StringIO()):
    ...     get_blas_threads() in (DEFAULT, None)
    True
    """
    with blas_threads(DEFAULT if requested is None else requested) as applied:
        if requested and not applied:
            print("tapegrad: note: --threads has no effect here: NumPy's BLAS is not the OpenBLAS its wheels "
                  "bundle (set the BLAS's own variable, e.g. OMP_NUM_THREADS, instead)", file=err)
        yield
