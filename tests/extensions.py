"""
The repo's Salt extensions by path: an execution module and a state module
may share a name (``_modules/ovs.py``, ``_states/ovs.py``), which plain
imports from sys.path cannot tell apart.
"""

import importlib.util

from conftest import REPO


def load(directory, name):
    """
    The module ``<directory>/<name>.py`` of the repo (``_modules``,
    ``_states``), imported under a name of its own.
    """
    spec = importlib.util.spec_from_file_location(
        f"{name}{directory}", REPO / directory / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
