"""
Shared test set-up: the repository root, and the repo's Salt extension
directories on sys.path so tests import them as Salt's loader would name
them (``import nspawn``), and tools/ for the lab driver (``from lab import Lab``);
the fixtures the state modules' unit tests share.
"""

import pathlib
import sys
from unittest.mock import MagicMock

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent

for extension_dir in ("_clouds", "_modules", "_states", "tools"):
    sys.path.insert(0, str(REPO / extension_dir))


@pytest.fixture
def opts():
    """A state module's minion options."""
    return {"test": False}


@pytest.fixture
def exec_mod():
    """The execution module a state calls: one mock, so that its calls are recorded in order."""
    return MagicMock()
