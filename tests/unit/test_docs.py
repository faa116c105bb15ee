"""The examples in the docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ipython_hotreload",
    "ipython_hotreload.core.changes.watch",
    "ipython_hotreload.widgets._panels",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, clean_modules: None) -> None:
    module = importlib.import_module(name)
    failures, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert attempted > 0, f"{name} has no examples"
    assert failures == 0
