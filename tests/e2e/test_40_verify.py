"""
`make verify` (tempest's smoke set) against the end-to-end lab (after the
demo: the full lab, its nodes up): zero failures that
tests/tempest/known-failures.txt does not list, and a real number of passed
tests; then the lab switched to `core` runs only the tests of its services
and passes, and switched back to `full` changes only what full adds back.
"""

import re

import pytest
from labcheck import changed_states, failed_states

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


def test_tempest_smoke_set_passes_through_the_proxy(lab):
    check_verify(lab)


def test_a_lab_switched_to_core_runs_only_its_services_tests_then_back_to_full(lab):
    lab.select_lab("core")
    states, code = lab.apply(progress=False)
    assert code == 0 and failed_states(states) == []
    # a smaller lab removes nothing; the proxy (and its firewall) stop serving what core lacks
    assert [
        c for c in changed_states(states) if not c.startswith((f"{lab.master}: proxy.", f"{lab.master}: firewall"))
    ] == []
    counts = check_verify(lab, minimum_passed=14)
    assert counts["passed"] < 60, "core's smoke set is identity, image and placement only"
    lab.run([lab.repo / "tools/push"])  # the checkout's lab: full
    states, code = lab.apply(progress=False)
    assert code == 0 and failed_states(states) == []
    assert [
        c for c in changed_states(states) if not c.startswith((f"{lab.master}: proxy.", f"{lab.master}: firewall"))
    ] == []
