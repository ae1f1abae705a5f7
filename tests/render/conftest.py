"""
What the render tests share: the lab's secrets, generated once for the
session as tools/secrets makes them (never the operator's own).
"""

import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def secrets_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("secrets")
    subprocess.run(
        [REPO / "tools" / "secrets", "--pillar", path / "secrets.json", "--ssh-key", path / "ssh" / "lab_ed25519"],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="session")
def make_minion(salt_factories):
    """Minion(...) (test_highstate.py) with pytest-salt-factories' factories."""
    from test_highstate import Minion  # noqa: PLC0415 (the test module beside this file)

    def make(root, role, secrets_dir=None, grains=None, pillar_files=None):
        return Minion(salt_factories, root, role, secrets_dir, grains, pillar_files)

    return make
