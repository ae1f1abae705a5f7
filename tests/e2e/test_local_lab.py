"""
End to end on the local provider: the README's map comes up, the master on
the network node drives every node, the base states converge and re-run
clean, and destroying the map leaves this machine as it was.

The tests run in file order and share one lab (the `lab` fixture); the last
one destroys it, and the fixture destroys it anyway if a test failed first.
"""

import pathlib
import re
import subprocess
import time

import pytest

from lab import Lab

MAP = "maps/local.yaml"
MINIONS = ["compute1", "compute2", "controller", "network", "storage"]
STATE_DIR = pathlib.Path("/var/lib/saltlab")

pytestmark = pytest.mark.e2e


def host_leftovers():
    """
    Everything of the lab that could stay behind on this machine.
    """
    def out(*argv):
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    links = [line.split()[0] for line in out("ip", "-br", "link").splitlines()]
    cgroups = [str(p) for p in pathlib.Path("/sys/fs/cgroup").glob("*/saltlab")]
    return {
        "nodes": sorted(p.name for p in (STATE_DIR / "nodes").glob("*")),
        "netns": [n for n in out("ip", "netns", "list").split() if n.startswith("saltlab-")],
        "links": [link for link in links if link.startswith("sl")],
        "mounts": [line for line in out("cat", "/proc/mounts").splitlines() if str(STATE_DIR) in line],
        "cgroups": cgroups,
        "routes": [line for line in out("ip", "route").splitlines() if "192.168." in line or "sl-" in line],
        "iptables": [line for line in out("iptables-save").splitlines() if "SALTLAB" in line],
        "processes": [line for line in out("ps", "-eo", "args").splitlines() if "saltlab-node-" in line],
    }


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    lab.run([lab.repo / "tools/secrets"])
    assert not any(host_leftovers().values()), f"a lab is already up: {host_leftovers()}"
    try:
        lab.cloud("-m", MAP, "-y", "-P", timeout=1800, capture=False)
        yield lab
    finally:
        lab.cloud("-m", MAP, "-d", "-y", check=False, timeout=600)


def failed_states(returns):
    failures = []
    for minion, states in returns.items():
        failures += [
            f"{minion}: {s.get('__id__')}: {s.get('comment')}" if isinstance(s, dict) else f"{minion}: {s}"
            for s in states
            if not isinstance(s, dict) or not s.get("result")
        ]
    return failures


def test_map_creates_every_node_and_the_master_drives_them(lab):
    assert sorted(lab.nodes()) == MINIONS
    assert all(record["state"] == "running" for record in lab.nodes().values())
    answered = lab.wait_for_minions(MINIONS)
    assert sorted(answered) == MINIONS
    keys = lab.ssh("network", "salt-key --list=unaccepted --out=json").stdout
    assert '"minions_pre": []' in keys, "minion keys must be pre-seeded, never left pending"


def test_nodes_without_public_address_are_only_reachable_through_the_bastion(lab):
    record = lab.nodes()["compute1"]
    assert record["public_ips"] == []
    probe = subprocess.run(
        ["timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{record['addresses']['mgmt']}/22"],
        capture_output=True, check=False,
    )
    assert probe.returncode != 0, "the host must not route to the management network"
    assert lab.ssh("compute1", "hostname").stdout.strip() == "compute1"


def test_first_highstate_succeeds_everywhere(lab):
    returns = lab.highstate()
    assert sorted(returns) == MINIONS
    assert failed_states(returns) == []


def test_second_highstate_changes_nothing(lab):
    returns = lab.highstate()
    assert failed_states(returns) == []
    changed = [
        f"{minion}: {s.get('__id__')}: {s.get('changes')}"
        for minion, states in returns.items()
        for s in states
        if isinstance(s, dict) and s.get("changes")
    ]
    assert changed == []


def test_hosts_file_names_every_node(lab):
    hosts = lab.ssh("storage", "getent hosts controller network compute1 compute2 storage").stdout
    for node in MINIONS:
        assert re.search(rf"^{re.escape(lab.nodes()[node]['addresses']['mgmt'])}\s+.*\b{node}\b", hosts, re.M), hosts


def test_chrony_tracks_the_controller(lab):
    controller = lab.nodes()["controller"]["addresses"]["mgmt"]
    for node in ("network", "compute1", "compute2", "storage"):
        deadline = time.monotonic() + 120
        while True:
            sources = lab.ssh(node, "chronyc -n sources", check=False).stdout
            if re.search(rf"^\^\*\s+{re.escape(controller)}\b", sources, re.M):
                break
            assert time.monotonic() < deadline, f"{node} does not track {controller}:\n{sources}"
            time.sleep(5)
    assert "Reference ID" in lab.ssh("controller", "chronyc tracking").stdout


def test_apt_on_compute_goes_through_the_controller_cache(lab):
    log = "/var/log/apt-cacher-ng/apt-cacher.log"
    compute1 = lab.nodes()["compute1"]["addresses"]["mgmt"]

    def served_to_compute1():
        text = lab.ssh("controller", f"cat {log}", check=False).stdout
        return sum(1 for line in text.splitlines() if f"|{compute1}|" in line)

    before = served_to_compute1()
    lab.ssh("compute1", "rm -rf /var/lib/apt/lists/* && apt-get update", timeout=600)
    assert served_to_compute1() > before


def test_a_node_rebooted_from_inside_comes_back_as_a_minion(lab):
    # The kernel's boot id is the host's; the node's init start time is its own.
    init_started = "cut -d' ' -f22 /proc/1/stat"
    before = lab.ssh("compute2", init_started).stdout.strip()
    lab.ssh("compute2", "systemctl reboot", check=False)
    deadline = time.monotonic() + 180
    while True:
        time.sleep(3)
        after = lab.ssh("compute2", init_started, check=False).stdout.strip()
        if after and after != before:
            break
        assert time.monotonic() < deadline, "compute2 did not come back"
    answered = lab.wait_for_minions(["compute2"])
    assert answered["compute2"] is True
    assert lab.nodes()["compute2"]["state"] == "running"


def test_destroying_the_map_leaves_nothing(lab):
    lab.cloud("-m", MAP, "-d", "-y", timeout=600)
    assert host_leftovers() == {key: [] for key in host_leftovers()}
