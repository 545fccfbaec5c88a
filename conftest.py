"""Doctests that need an optional package skip, with the reason, where it is not installed (as the
tests do with ``pytest.importorskip``)."""
import functools
import importlib

import pytest
from _pytest.doctest import DoctestItem

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
