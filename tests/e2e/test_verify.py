"""
`make verify` (tempest's smoke set) against a running lab: zero failures
that tests/tempest/known-failures.txt does not list, and a real number of
passed tests.

The end-to-end lab calls :func:`check_verify` with its `lab` fixture (after
the demo: the lab is full and its nodes are up). On its own, this file's
test runs against the lab already up on this machine, when asked:
``SALTLAB_VERIFY_RUNNING_LAB=1 .venv/bin/pytest tests/e2e/test_verify.py``;
it never makes or destroys a lab.
"""

import os
import re

import pytest

from lab import Lab

pytestmark = pytest.mark.e2e

# what the full lab passes at least (smoke: 80 of 83 listed, README.md);
# a smaller lab's caller passes its own minimum (keystone: 14 smoke tests)
MINIMUM_PASSED = {"smoke": 60, "full-api": 500}
# tempest's own run plus set-up and clean-up, on 2 cores under TCG
TIMEOUT = 3600


def check_verify(lab, test_set="smoke", minimum_passed=None):
    """
    Run `make verify SET=test_set` in the lab's checkout; assert that it
    passed (exit 0: no unexpected failure) and that enough tests passed.
    Returns {"passed", "failed", "skipped"}.
    """
    proc = lab.run(["make", "verify", f"SET={test_set}"], check=False, timeout=TIMEOUT)
    output = proc.stdout + proc.stderr
    tail = output[-6000:]
    assert proc.returncode == 0, f"make verify SET={test_set} exited {proc.returncode}:\n{tail}"
    found = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", proc.stdout, re.M)
    assert found, f"no summary line in make verify's output:\n{tail}"
    counts = dict(zip(("passed", "failed", "skipped"), map(int, found.groups()), strict=True))
    assert counts["failed"] == 0 or "known:" in proc.stdout, tail
    minimum = MINIMUM_PASSED[test_set] if minimum_passed is None else minimum_passed
    assert counts["passed"] >= minimum, f"only {counts['passed']} tests passed:\n{tail}"
    assert "no tempest leftovers in the lab" in proc.stderr, f"tempest left resources behind:\n{tail}"
    return counts


@pytest.fixture(scope="module")
def running_lab():
    if os.environ.get("SALTLAB_VERIFY_RUNNING_LAB") != "1":
        pytest.skip("set SALTLAB_VERIFY_RUNNING_LAB=1 to run make verify against the lab up on this machine")
    lab = Lab()
    if "network" not in lab.nodes():
        pytest.skip("no lab is up on this machine")
    return lab


def test_make_verify_smoke_on_the_running_lab(running_lab):
    check_verify(running_lab)
