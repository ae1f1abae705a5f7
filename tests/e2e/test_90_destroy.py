"""
Destroying the map, the first time, leaves this machine as it was.
"""

import pytest
from labcheck import MAP

from lab import host_leftovers

pytestmark = pytest.mark.e2e


def test_destroying_the_map_leaves_nothing(lab):
    proc = lab.cloud("-m", MAP, "-d", "-y", timeout=600)
    # the first time, and without ERROR lines that are no errors
    assert "ERROR" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert host_leftovers() == {key: [] for key in host_leftovers()}
    assert not (lab.repo / "var/bastion").exists()
    assert "saltlab:" not in (lab.repo / "var/ssh/known_hosts").read_text()
