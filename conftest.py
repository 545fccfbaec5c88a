"""The suite's one conftest (tests/ has no packages, so a second ``conftest`` module would clash):
doctests that need an optional package skip with the reason where it is absent, as the tests do
with ``pytest.importorskip``; the fixtures tests share."""
import functools
import importlib
import os

import pytest
from _pytest.doctest import DoctestItem

import tapegrad as tf

ROOT = os.path.dirname(os.path.abspath(__file__))

# what a doctest's text uses -> the package it needs and the extra that installs it
_NEEDS = {"create_file_writer(": ("tensorboard", "tensorboard"), ".weights.h5": ("h5py", "h5")}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not isinstance(item, DoctestItem):
            continue
        text = "".join(example.source for example in item.dtest.examples)
        for used, (package, extra) in _NEEDS.items():
            if used in text and not _installed(package):
                item.add_marker(pytest.mark.skip(reason=f"needs {package} (pip install 'tapegrad[{extra}]')"))


@functools.cache
def _installed(package: str) -> bool:
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True


@pytest.fixture(autouse=True)
def _compiled_functions():
    """Every test starts and ends with compiled (not eager) tf.functions."""
    tf.config.run_functions_eagerly(False)
    yield
    tf.config.run_functions_eagerly(False)


@pytest.fixture
def keras_session():
    """A clear Keras session and seed 0 (``pytestmark = pytest.mark.usefixtures("keras_session")``)."""
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def checkout_env():
    """The environment for a child Python that must import this checkout, on one BLAS thread."""
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
