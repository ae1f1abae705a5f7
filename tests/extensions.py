"""
The repo's Salt extensions by path: an execution module and a state module
may share a name (``_modules/ovs.py``, ``_states/ovs.py``), which plain
imports from sys.path cannot tell apart. And what the cloud drivers' tests
share: the ``__utils__`` a driver gets from salt-cloud, for its loader
mocks, and fixtures serving a fake of a cloud's API (``tests/fakes/``).
"""

import importlib
import importlib.util
import inspect

import pytest

from conftest import REPO


def load(directory, name):
    """
    The module ``<directory>/<name>.py`` of the repo (``_modules``,
    ``_states``), imported under a name of its own.
    """
    spec = importlib.util.spec_from_file_location(f"{name}{directory}", REPO / directory / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cloud_utils(salt_utils=None):
    """
    A cloud driver's ``__utils__``, as salt-cloud packs it: the functions
    of the repo's ``_utils/*.py`` by their loader names
    (``saltlab_cloud.cloud``, ``saltlab_model.node``...), with salt-cloud's
    own utils the test gives (``{"cloud.bootstrap": MagicMock(), ...}``).
    """
    utils = {}
    for path in sorted((REPO / "_utils").glob("*.py")):
        module = importlib.import_module(path.stem)  # on sys.path from conftest
        utils.update(
            {
                f"{path.stem}.{name}": function
                for name, function in inspect.getmembers(module, inspect.isfunction)
                if function.__module__ == module.__name__ and not name.startswith("_")
            }
        )
    utils.update(salt_utils or {})
    return utils


def serving(name, fake, **settings):
    """
    A fixture ``name`` that serves ``fake(**settings)`` for one test:
    ``compute = serving("compute", ComputeAPI, project="p")``.
    """

    @pytest.fixture(name=name)
    def fixture():
        with fake(**settings) as api:
            yield api

    return fixture
