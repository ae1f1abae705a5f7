"""
The Google Cloud path rehearsed on booted machines: the fake Compute API
(tests/fakes/compute_api.py) with the rehearsal's backend
(tests/fakes/rehearsal.py), whose instances are real local nodes booted
from a plain Debian 13 image without Salt, on a fake Google network in a
network namespace of its own (1:1 NAT external addresses, Cloud NAT,
firewall rules), with a guest-agent stand-in.

The README's steps, for real but for the API's address: `salt-cloud -m
MAP -y -P` from a configuration directory whose gce provider points at the
fake (the repository's driver, profiles, deploy scripts, state tree and
pillar; the lab chosen there as an operator would, by pillar/lab.sls,
here `keystone`): the networks and the Cloud NAT, the network node first
as the master, Salt installed by cloud.deploy.d/saltlab-gce.sh from PyPI,
the storage node (no external address) deployed through the master, the
state tree pushed as stack with sudo; then `salt '*' state.apply` on the
master (as stack, with sudo). From this host, through the master's
external address only: an OpenStack token and the catalog through the
proxy, every URL carrying that address, the proxy's certificate valid for
it, NGINX listening on the NIC's address; the controller's external
address lets nothing in (the public rule targets the master); a second
highstate changes nothing; the operator's key still logs in. Destroying
the map leaves no instance, disk, network, rule or router in the fake,
and the rehearsal no node, namespace, link, route, table, mount, cgroup or
process on this host.

SALTLAB_REHEARSAL=full (`make rehearse-gce`): the whole map (maps/gce.yaml),
the full lab and the demo. Phase times are printed at the end and kept in
var/artefacts/gce-rehearsal.json.
"""

import json
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest
import salt.utils.yaml
from labcheck import ARTEFACTS, changed_states, failed_states

from fakes.compute_api import ComputeAPI
from fakes.rehearsal import EXTERNAL_RANGE, Rehearsal, ensure_image, operator_address
from lab import Lab

pytestmark = pytest.mark.e2e

REPO = pathlib.Path(__file__).resolve().parents[2]
FULL = os.environ.get("SALTLAB_REHEARSAL") == "full"
LAB_NAME = "full" if FULL else "keystone"
# the lean run: the master, the controller (keystone), a node reached only through the master
NODES = ["network", "controller", "compute1", "compute2", "storage"] if FULL else ["network", "controller", "storage"]
PROJECT = "saltlab-rehearsal"
TIMES = {}


def phase(name, started):
    TIMES[name] = round(time.monotonic() - started, 1)
    print(f"\n>> rehearsal: {name} took {TIMES[name]:.0f} s", file=sys.stderr, flush=True)


def config_dir(root, api):
    """
    salt-cloud's configuration directory for the rehearsal: the
    repository's driver, utils, deploy scripts, gce profiles, state tree
    and tools, a gce provider on the fake, a copy of the pillar choosing
    the lab, and a var/ of its own.
    """
    conf = root / "conf"
    for sub in ("cloud.providers.d", "cloud.profiles.d", "maps", "var/ssh", "pillar"):
        (conf / sub).mkdir(parents=True, exist_ok=True)
    for link in ("salt", "_modules", "_states", "_utils", "_clouds", "tools", "cloud.deploy.d", "requirements.txt"):
        (conf / link).symlink_to(REPO / link)
    (conf / "var/test-image").symlink_to(REPO / "var/test-image")
    dump = salt.utils.yaml.safe_dump
    (conf / "master").write_text((REPO / "master").read_text())
    (conf / "cloud").write_text((REPO / "cloud").read_text())
    shutil.copy(REPO / "cloud.profiles.d/gce.conf", conf / "cloud.profiles.d/gce.conf")
    shutil.copytree(REPO / "pillar", conf / "pillar", dirs_exist_ok=True)
    # the lab, chosen as an operator does (pillar/lab.sls), in this directory only
    (conf / "pillar/lab.sls").write_text(f"include:\n  - labs.{LAB_NAME}\n")
    key = conf / "var/ssh/gcp-default-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f", key], check=True)
    provider = {
        "driver": "gce",
        "api_endpoint": api.url,
        "anonymous": True,
        "project": PROJECT,
        "zone": "europe-west1-b",
        "ssh_keyfile": str(key),
        "operator_address": operator_address(),
        "poll_interval": 2,
        "operation_timeout": 900,
    }
    (conf / "cloud.providers.d/gce.conf").write_text(dump({"gce": provider}))
    profiles = {
        "network": "gce-network",
        "controller": "gce-controller",
        "storage": "gce-storage",
        "compute1": "gce-compute",
        "compute2": "gce-compute",
    }
    lab_map = {}
    for node in NODES:
        lab_map.setdefault(profiles[node], []).append(node)
    (conf / "maps/rehearsal.yaml").write_text(dump(lab_map))
    return conf


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    started = time.monotonic()
    image, built = ensure_image(say=lambda line: print(line, file=sys.stderr, flush=True))
    TIMES["image build (0: cached)"] = round(built, 1)
    backend = Rehearsal(image)
    backend.setup()
    api = ComputeAPI(
        project=PROJECT,
        reads_to_done=3,
        backend=backend,
        external_range=EXTERNAL_RANGE,
        operator_address=operator_address(),
    )
    backend.attach(api)
    api.start()
    subprocess.run([REPO / "tools/secrets"], check=True, cwd=REPO, capture_output=True)
    conf = config_dir(tmp_path_factory.mktemp("rehearsal"), api)
    shutil.copy(REPO / "pillar/secrets.json", conf / "pillar/secrets.json")
    lab = Lab(provider="gce", config_dir=conf)
    lab.backend, lab.api, lab.started = backend, api, started
    try:
        yield lab
    finally:
        try:
            if api.instances:
                lab.cloud("-m", "maps/rehearsal.yaml", "-d", "-y", check=False, timeout=1200, capture=False)
        finally:
            api.stop()
            backend.teardown()
            TIMES["total"] = round(time.monotonic() - started, 1)
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            (ARTEFACTS / "gce-rehearsal.json").write_text(json.dumps({"lab": LAB_NAME, "nodes": NODES, **TIMES}))
            print("\n>> rehearsal phase times (s): " + json.dumps(TIMES), file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def up(rehearsal):
    """The map made (salt-cloud -m MAP -y -P), every minion answering."""
    lab = rehearsal
    started = time.monotonic()
    proc = lab.cloud("-m", "maps/rehearsal.yaml", "-y", "-P", check=False, timeout=3600, capture=False)
    phase("map up (networks, boots, deploys, push)", started)
    assert proc.returncode == 0, "salt-cloud -m maps/rehearsal.yaml -P failed (see above)"
    started = time.monotonic()
    lab.wait_for_minions(NODES, timeout=300, say=lambda line: print(line, file=sys.stderr, flush=True))
    phase("minions answering", started)
    return lab


@pytest.fixture(scope="module")
def highstate(up):
    lab = up
    started = time.monotonic()
    returns, code = lab.apply(progress=False)
    phase(f"first highstate ({LAB_NAME} lab)", started)
    return returns, code


def external(lab, node):
    return lab.nodes()[node]["public_ips"][0]


def test_the_fake_network_keeps_the_lab_off_this_hosts_interfaces(rehearsal):
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    assert f"{EXTERNAL_RANGE} via" in routes
    addresses = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    ours = [line for line in addresses.splitlines() if "gcer-" in line]
    assert ours and all(" 100.88.255.1/30 " in line for line in ours)


def test_the_map_comes_up_with_salt_installed_from_pypi(up):
    lab = up
    assert sorted(lab.nodes()) == sorted(NODES)
    pinned = next(line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("salt=="))
    # the image had none: the deploy script installed the pinned release
    assert not (pathlib.Path(lab.backend.image) / "opt/saltlab").exists()
    assert not (pathlib.Path(lab.backend.image) / "usr/bin/gcc").exists()
    for node in NODES:
        version = lab.ssh(node, "/opt/saltlab/venv/bin/salt-call --version").stdout.split()[1]
        assert f"salt=={version}" == pinned, node
        assert lab.ssh(node, "test -e /var/tmp/saltlab-deploy", check=False).returncode != 0, node
    # the nodes without an external address have none, and were deployed through the master
    assert lab.nodes()["storage"]["public_ips"] == []
    assert (lab.config_dir / "var/bastion").read_text().splitlines()[2] == "bastion_user=stack"


def test_the_storage_nodes_data_disk_is_there_as_google_names_it(up):
    """The profile's 50 GB data disk, a block device at /dev/disk/by-id/google-data (the grain's path)."""
    lab = up
    disk = "/dev/disk/by-id/google-data"
    assert lab.salt("storage", "grains.get", "data_disk")[0] == {"storage": disk}
    size = lab.ssh("storage", f"test -b {disk} && cat /sys/class/block/$(basename $(readlink -f {disk}))/size").stdout
    assert int(size) * 512 == 50 << 30


def test_the_state_tree_was_pushed_as_stack_with_the_rehearsals_lab(up):
    lab = up
    assert lab.ssh("network", "cat /srv/saltlab/pillar/lab.sls").stdout.split() == ["include:", "-", f"labs.{LAB_NAME}"]
    assert lab.ssh("network", "stat -c %U /srv/saltlab/salt/top.sls").stdout.strip() == "root"


def test_the_first_highstate_succeeds(highstate):
    returns, code = highstate
    assert sorted(returns) == sorted(NODES)
    assert failed_states(returns) == [] and code == 0


def test_the_proxy_answers_on_the_external_address_only(up, highstate):
    lab = up
    address = external(lab, "network")
    assert address.startswith("100.88.0.")
    grains = lab.salt("*", "grains.get", "saltlab_proxy_address")[0]
    assert grains == dict.fromkeys(NODES, address)
    # OpenStack through the proxy with the operator's clouds.yaml (lab CA, the external address)
    conn = lab.connect()
    assert conn.auth_token
    catalog = conn.session.auth.get_access(conn.session).service_catalog.catalog
    urls = [endpoint["url"] for entry in catalog for endpoint in entry["endpoints"]]
    assert urls and [u for u in urls if not u.startswith(f"https://{address}:")] == []
    versions = conn.session.get(f"https://{address}:5000/v3").json()
    assert versions["version"]["links"][0]["href"].startswith(f"https://{address}:5000/")
    # the certificate is valid for the external address (verified against the lab CA)
    context = ssl.create_default_context(cafile=str(lab.config_dir / "var/openstack/lab-ca.crt"))
    with (
        socket.create_connection((address, 5000), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address) as tls,
    ):
        names = [v for k, v in tls.getpeercert()["subjectAltName"] if k == "IP Address"]
    assert address in names
    # NGINX listens on the NIC's address, which no client reaches from here
    listening = lab.ssh("network", "ss -Hltn 'sport = :5000'").stdout
    assert "10.99.0.12:5000" in listening and address not in listening
    assert f"OS_AUTH_URL=https://{address}:5000/v3" in lab.ssh("network", "cat /root/admin-openrc").stdout


def test_the_controllers_external_address_lets_nothing_in(up):
    address = external(up, "controller")
    with pytest.raises(OSError):
        socket.create_connection((address, 22), timeout=5).close()


@pytest.mark.skipif(not FULL, reason="Ceph is in the full lab (make rehearse-gce)")
def test_cephs_osd_is_on_the_data_disk(up, highstate):
    lab = up
    assert lab.ssh("storage", "readlink /var/lib/ceph/osd/ceph-0/block").stdout.strip() == "/dev/disk/by-id/google-data"
    assert lab.ssh("storage", "ceph health").stdout.split()[0] == "HEALTH_OK"


@pytest.mark.skipif(not FULL, reason="the demo needs the full lab (make rehearse-gce)")
def test_the_demo(up, highstate):
    lab = up
    started = time.monotonic()
    returns = lab.demo()
    phase("demo", started)
    assert failed_states(returns) == []


def test_a_second_highstate_changes_nothing(up, highstate):
    lab = up
    started = time.monotonic()
    returns, code = lab.apply(progress=False)
    phase("second highstate", started)
    assert failed_states(returns) == [] and code == 0
    assert changed_states(returns) == []


def test_the_operators_key_still_logs_in(up, highstate):
    lab = up
    user, key = lab.login()
    argv = ["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
    argv += ["-o", f"UserKnownHostsFile={lab.config_dir / 'var/ssh/known_hosts'}", "-o", "StrictHostKeyChecking=yes"]
    proc = subprocess.run([*argv, f"{user}@{external(lab, 'network')}", "id -un"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "stack", proc.stderr
    keys = lab.ssh("network", "cat ~stack/.ssh/authorized_keys").stdout
    operator = pathlib.Path(f"{key}.pub").read_text().split()[1]
    lab_key = (REPO / "var/ssh/lab_ed25519.pub").read_text().split()[1]
    assert operator in keys and lab_key in keys


def test_destroy_leaves_nothing(up):
    lab = up
    started = time.monotonic()
    proc = lab.cloud("-m", "maps/rehearsal.yaml", "-d", "-y", check=False, timeout=1200, capture=False)
    phase("destroy", started)
    assert proc.returncode == 0
    assert lab.api.resources() == []
    assert lab.backend.nodes == {}
    lab.backend.teardown()
    assert lab.backend.leftovers_on_host() == {}
    assert not (lab.config_dir / "var/bastion").exists()
