"""
The gce rehearsal's parts that need no booted node: the fake Compute API's
backend hook (operations stay RUNNING until the backend's work is done and
for a few polls, a failed boot is a failed operation, the network follows
the instances and rules, guest attributes are the backend's), the guest
agent stand-in (users and keys from ssh-keys metadata, keys added on the
node kept, OS Login honoured), the nspawn functions' names (the local
provider's by default, the rehearsal's when its record says so), and a
data disk's loop device.
"""

import importlib.util
import pathlib
import threading
import types

import nspawn_node
import requests

from fakes.compute_api import ComputeAPI
from fakes.rehearsal import Rehearsal

REPO = pathlib.Path(__file__).resolve().parents[2]
BASE = "/compute/v1/projects/p"


def guest_agent():
    spec = importlib.util.spec_from_file_location("guest_agent", REPO / "tests/fakes/guest_agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Backend:
    def __init__(self):
        self.release = threading.Event()
        self.fail = None
        self.networks = []
        self.created = []

    def create(self, zone, name, instance, project):
        self.created.append((name, instance["networkInterfaces"][0].get("accessConfigs"), project))
        work = types.SimpleNamespace(error=None)
        work.done = self.release.is_set
        if self.fail:
            work.error = self.fail
        return work

    def delete(self, zone, name):
        return types.SimpleNamespace(error=None, done=lambda: True)

    def network(self, instances, firewalls, routers):
        self.networks.append((sorted(n for _z, n in instances), [f["name"] for f in firewalls]))

    def guest_attributes(self, zone, name, namespace):
        return {"ssh-ed25519": "AAAAC3real"}


def _lab(api):
    for kind, body in (
        ("global/networks", {"name": "n", "autoCreateSubnetworks": False}),
        (
            "regions/europe-west1/subnetworks",
            {"name": "s", "network": "global/networks/n", "ipCidrRange": "10.99.0.0/24"},
        ),
    ):
        op = requests.post(f"{api.url}{BASE}/{kind}", json=body, timeout=10).json()
        scope = "global" if kind.startswith("global") else "regions/europe-west1"
        requests.post(f"{api.url}{BASE}/{scope}/operations/{op['name']}/wait", timeout=10)


def _instance(name="vm"):
    return {
        "name": name,
        "machineType": "zones/europe-west1-b/machineTypes/n1-standard-1",
        "networkInterfaces": [
            {"subnetwork": "regions/europe-west1/subnetworks/s", "networkIP": "10.99.0.12", "accessConfigs": [{}]}
        ],
        "disks": [
            {"boot": True, "initializeParams": {"sourceImage": "projects/debian-cloud/global/images/family/debian-13"}}
        ],
        "metadata": {"items": [{"key": "enable-guest-attributes", "value": "TRUE"}]},
    }


def test_an_instance_operation_waits_for_the_backend_and_a_few_polls():
    backend = Backend()
    with ComputeAPI(project="p", reads_to_done=3, backend=backend, external_range="100.88.0.0/24") as api:
        _lab(api)
        op = requests.post(f"{api.url}{BASE}/zones/europe-west1-b/instances", json=_instance(), timeout=10).json()
        # the external address is the backend's range, known to it at insert
        assert backend.created[0][1][0]["natIP"].startswith("100.88.0.")
        wait = f"{api.url}{BASE}/zones/europe-west1-b/operations/{op['name']}/wait"
        for _ in range(5):
            assert requests.post(wait, timeout=10).json()["status"] == "RUNNING"
        backend.release.set()
        assert requests.post(wait, timeout=10).json()["status"] == "DONE"
        instance = requests.get(f"{api.url}{BASE}/zones/europe-west1-b/instances/vm", timeout=10).json()
        assert instance["networkInterfaces"][0]["accessConfigs"][0]["natIP"] == backend.created[0][1][0]["natIP"]
        assert backend.networks[-1] == (["vm"], [])
        attributes = requests.get(
            f"{api.url}{BASE}/zones/europe-west1-b/instances/vm/getGuestAttributes?queryPath=hostkeys/", timeout=10
        ).json()
        assert attributes["queryValue"]["items"] == [
            {"namespace": "hostkeys", "key": "ssh-ed25519", "value": "AAAAC3real"}
        ]


def test_a_boot_that_fails_is_a_failed_operation_and_no_instance():
    backend = Backend()
    backend.fail = "booting vm: sshd did not start"
    backend.release.set()
    with ComputeAPI(project="p", reads_to_done=1, backend=backend) as api:
        _lab(api)
        op = requests.post(f"{api.url}{BASE}/zones/europe-west1-b/instances", json=_instance(), timeout=10).json()
        done = requests.post(f"{api.url}{BASE}/zones/europe-west1-b/operations/{op['name']}/wait", timeout=10).json()
        assert done["status"] == "DONE" and "sshd did not start" in done["error"]["errors"][0]["message"]
        assert api.instances == {}


def test_the_guest_agent_makes_the_metadata_users_keys(tmp_path, monkeypatch):
    agent = guest_agent()
    data = {
        "instance": {"attributes": {"ssh-keys": "stack:ssh-ed25519 AAAAop operator\nbad line\n"}},
        "project": {"attributes": {"ssh-keys": "alice:ssh-rsa AAAAalice a"}},
    }
    assert agent.wanted_keys(data) == {"stack": ["ssh-ed25519 AAAAop operator"], "alice": ["ssh-rsa AAAAalice a"]}
    data["instance"]["attributes"]["block-project-ssh-keys"] = "TRUE"
    assert list(agent.wanted_keys(data)) == ["stack"]
    # OS Login: the instance's value first, else the project's
    assert agent.oslogin({"project": {"attributes": {"enable-oslogin": "TRUE"}}})
    assert not agent.oslogin(
        {"instance": {"attributes": {"enable-oslogin": "FALSE"}}, "project": {"attributes": {"enable-oslogin": "TRUE"}}}
    )
    # the metadata's keys are marked; a key added on the node stays
    home = tmp_path / "stack"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh/authorized_keys").write_text("ssh-ed25519 AAAAlab lab\nssh-ed25519 AAAAold x # Added by Google\n")
    entry = types.SimpleNamespace(pw_dir=str(home), pw_uid=0, pw_gid=0, pw_name="stack")
    monkeypatch.setattr(agent.os, "chown", lambda *a: None)
    agent.write_keys(entry, ["ssh-ed25519 AAAAop operator"])
    assert (home / ".ssh/authorized_keys").read_text().splitlines() == [
        "ssh-ed25519 AAAAlab lab",
        "ssh-ed25519 AAAAop operator # Added by Google",
    ]


def test_nspawn_names_are_the_local_providers_unless_the_record_says():
    assert nspawn_node.names({"name": "compute1"}) == {
        "netns": "saltlab-compute1",
        "veth": "sl",
        "bridges_netns": None,
        "cgroup": "saltlab",
        "supervisor": "saltlab-node-compute1",
    }
    given = {"netns": "gcer-x", "veth": "gr", "bridges_netns": "gcer-vpc", "cgroup": "gce-rehearsal"}
    called = nspawn_node.names({"name": "x", "names": dict(given, supervisor="gce-rehearsal-node-")})
    assert called == dict(given, supervisor="gce-rehearsal-node-x")
    assert nspawn_node.veth("x", "public", "gr").startswith("gr") and len(nspawn_node.veth("x", "public", "gr")) == 12


def test_a_data_disk_is_a_loop_device_the_node_names_as_google_does(tmp_path):
    """A sparse file of the disk's size on a loop device, linked at boot as google-<name>, detached at the end."""
    backend = Rehearsal(image=None, state_dir=str(tmp_path))
    node_dir, rootfs = tmp_path / "nodes/storage", tmp_path / "nodes/storage/rootfs"
    rootfs.mkdir(parents=True)
    device = backend._attach_disk(str(node_dir), str(rootfs), {"deviceName": "data", "diskSizeGb": 2})
    try:
        assert pathlib.Path(device).is_block_device()
        name = pathlib.Path(device).name
        assert int(pathlib.Path(f"/sys/class/block/{name}/size").read_text()) * 512 == 2 << 30
        image = node_dir / "disk-data.img"
        assert image.stat().st_blocks == 0  # sparse
        link = (rootfs / "etc/tmpfiles.d/google-disk-data.conf").read_text()
        assert link == f"L /dev/disk/by-id/google-data - - - - {device}\n"
        assert backend._loop_devices(str(tmp_path)) == {device: str(image)}
        assert backend.leftovers_on_host()["loop devices"] == [device]
    finally:
        backend._detach_disks(str(node_dir))
    assert backend._loop_devices(str(tmp_path)) == {}
    assert "loop devices" not in backend.leftovers_on_host()
