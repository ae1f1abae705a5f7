"""
The ovs execution and state modules (_modules/ovs.py, _states/ovs.py)
against a real Open vSwitch: Debian 13's openvswitch-switch on a node
without the lab (profile local-bare), with the userspace datapath
(datapath_type netdev: there is no kernel module here). The modules reach
the node as a masterless minion's file root would give them, and the
states run through salt-call: a bridge pair with a VXLAN port and a patch
pair is made, a second run changes nothing, test=True reports a change
and writes nothing, the change then lands, and the absent states remove
what they name.
"""

import json

import pytest

from lab import Lab, host_leftovers

NODE = "ovsnode"
ROOT = "/srv/ovs-test"

pytestmark = pytest.mark.e2e

BRIDGES = """
br-ext:
  ovs.bridge_present:
    - datapath_type: netdev
br-phys:
  ovs.bridge_present:
    - datapath_type: netdev
vx-compute1:
  ovs.port_present:
    - bridge: br-ext
    - type: vxlan
    - options: {remote_ip: {{ pillar.get('remote_ip', '192.168.2.21') }}, key: 100}
    - require:
      - ovs: br-ext
ext-to-phys:
  ovs.port_present:
    - bridge: br-ext
    - type: patch
    - options: {peer: phys-to-ext}
    - require:
      - ovs: br-ext
phys-to-ext:
  ovs.port_present:
    - bridge: br-phys
    - type: patch
    - options: {peer: ext-to-phys}
    - require:
      - ovs: br-phys
"""

GONE = """
vx-compute1:
  ovs.port_absent: []
br-phys:
  ovs.bridge_absent: []
"""


@pytest.fixture(scope="module")
def lab():
    lab = Lab().start()
    try:
        lab.cloud("-p", "local-bare", NODE, timeout=1800, capture=False)
        lab.ssh(
            NODE,
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openvswitch-switch",
            timeout=1200,
        )
        for kind in ("_modules", "_states"):
            lab.ssh(
                NODE,
                f"install -D -m 0644 /dev/stdin {ROOT}/{kind}/ovs.py",
                stdin=(lab.repo / kind / "ovs.py").read_text(),
            )
        for sls, text in (("bridges", BRIDGES), ("gone", GONE)):
            lab.ssh(NODE, f"install -D -m 0644 /dev/stdin {ROOT}/{sls}.sls", stdin=text)
        lab.ssh(NODE, f"salt-call --local --file-root={ROOT} saltutil.sync_all")
        yield lab
    finally:
        lab.cloud("-d", NODE, "-y", check=False, timeout=600)


def apply(lab, sls, *args):
    """The states of one salt-call state.apply, by id; fails on a failed state."""
    proc = lab.ssh(
        NODE,
        " ".join(
            [
                "salt-call",
                "--local",
                f"--file-root={ROOT}",
                "--out=json",
                "--retcode-passthrough",
                "state.apply",
                sls,
                *args,
            ]
        ),
        check=False,
    )
    states = json.loads(proc.stdout or "{}").get("local")
    assert proc.returncode == 0, states or proc.stderr
    return {state["__id__"]: state for state in states.values()}


def vsctl(lab, *args):
    return lab.ssh(NODE, " ".join(["ovs-vsctl", *args])).stdout.strip()


def test_the_states_make_bridges_and_ports(lab):
    states = apply(lab, "bridges")
    assert sorted(i for i, s in states.items() if s["changes"]) == sorted(states)
    assert vsctl(lab, "get", "bridge", "br-ext", "datapath_type") == "netdev"
    assert vsctl(lab, "get", "interface", "vx-compute1", "type") == "vxlan"
    assert vsctl(lab, "get", "interface", "vx-compute1", "options") == '{key="100", remote_ip="192.168.2.21"}'
    assert vsctl(lab, "get", "interface", "ext-to-phys", "options") == "{peer=phys-to-ext}"
    assert sorted(vsctl(lab, "list-ports", "br-ext").split()) == ["ext-to-phys", "vx-compute1"]
    # the userspace datapath really carries them
    datapath = lab.ssh(NODE, "ovs-appctl dpif/show").stdout
    assert "vx-compute1" in datapath and "netdev@ovs-netdev" in datapath


def test_a_second_run_changes_nothing(lab):
    states = apply(lab, "bridges")
    assert [i for i, s in states.items() if s["changes"]] == []


def test_test_mode_reports_the_change_and_writes_nothing(lab):
    states = apply(lab, "bridges", "test=True", "pillar='{remote_ip: 192.168.2.22}'")
    assert states["vx-compute1"]["result"] is None
    assert states["vx-compute1"]["changes"]
    assert [i for i, s in states.items() if s["result"] is None] == ["vx-compute1"]
    assert 'remote_ip="192.168.2.21"' in vsctl(lab, "get", "interface", "vx-compute1", "options")


def test_a_changed_option_is_set_in_place(lab):
    states = apply(lab, "bridges", "pillar='{remote_ip: 192.168.2.22}'")
    assert [i for i, s in states.items() if s["changes"]] == ["vx-compute1"]
    assert vsctl(lab, "get", "interface", "vx-compute1", "options") == '{key="100", remote_ip="192.168.2.22"}'


def test_absent_removes_a_port_and_a_bridge_with_its_ports(lab):
    states = apply(lab, "gone")
    assert all(s["changes"] for s in states.values())
    assert vsctl(lab, "list-br").split() == ["br-ext"]
    assert vsctl(lab, "list-ports", "br-ext").split() == ["ext-to-phys"]
    again = apply(lab, "gone")
    assert [i for i, s in again.items() if s["changes"]] == []


def test_destroy_leaves_nothing_behind(lab):
    lab.cloud("-d", NODE, "-y", timeout=600)
    assert not any(host_leftovers().values()), host_leftovers()
