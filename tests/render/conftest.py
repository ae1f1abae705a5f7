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
