"""
Unit tests of the nspawn salt-cloud driver with Salt's loader mocks: the
lab model gives its networks and nodes; its checks refuse bad input before
anything is made; its queries read the node records; a destroy goes on
after a failed step and reports it; a node's processes end (gracefully
first) and its cgroups go deepest first; the containers get only the
capabilities listed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from unittest.mock import MagicMock

import nspawn
import nspawn_host
import nspawn_node
import pytest
import salt.utils.yaml
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

from conftest import REPO
from extensions import cloud_utils


def write_model(tmp_path, change=None):
    """
    The repository's lab model in the configuration directory (tmp_path),
    the underlay's MTU 1500; ``change(model)`` edits it first.
    """
    model = salt.utils.yaml.safe_load((REPO / "pillar/model.yaml").read_text())
    model["networks"]["underlay"]["mtu"] = 1500
    if change:
        change(model)
    (tmp_path / "pillar").mkdir(exist_ok=True)
    (tmp_path / "pillar/model.yaml").write_text(salt.utils.yaml.safe_dump(model, sort_keys=False))


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def configure_loader_modules(tmp_path, state_dir):
    (tmp_path / "var" / "ssh").mkdir(parents=True)
    for name in ("lab", "lab.pub"):
        (tmp_path / "var" / "ssh" / name).write_text("key\n")
    write_model(tmp_path)
    provider = {
        "driver": "nspawn",
        "state_dir": str(state_dir),
        "image_cache": str(tmp_path / "images"),
        "ssh_keyfile": "var/ssh/lab",
    }
    opts = {
        "conf_file": str(tmp_path / "cloud"),
        "providers": {"local": {"nspawn": provider}},
        "profiles": {"local-compute": {"provider": "local:nspawn"}, "local-bare": {"provider": "local:nspawn"}},
        "sock_dir": str(tmp_path / "sock"),
        "transport": "zeromq",
    }
    utils = cloud_utils({"cloud.fire_event": MagicMock(), "cloud.filter_event": MagicMock(return_value={})})
    return {nspawn: {"__opts__": opts, "__active_provider_name__": "local:nspawn", "__utils__": utils}}


def _record(state_dir, name, addresses):
    node_dir = state_dir / "nodes" / name
    node_dir.mkdir(parents=True)
    node = {"name": name, "addresses": addresses, "image": "/images/debian-13-abc", "rootfs": ""}
    (node_dir / "node.json").write_text(json.dumps(node))


@pytest.mark.parametrize("name", ["controller", "compute1", "a", "node-2", "x" * 63])
def test_valid_names(name):
    assert nspawn.validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Compute1", "1node", "node-", "no_de", "a.b", "x" * 64, "../etc", None, "compute1\n", "network\n"]
)
def test_invalid_names_are_refused(name):
    with pytest.raises(SaltCloudConfigError, match="not a valid hostname"):
        nspawn.validate_name(name)


def test_networks_come_from_the_model():
    nets = nspawn.lab_networks()
    assert nets["public"]["gateway"] == "10.99.0.1"
    assert nets["mgmt"]["mtu"] == 1460
    assert nets["underlay"]["mtu"] == 1500
    assert nets["mgmt"]["bridge"] == "sl-mgmt"
    assert nets["mgmt"]["gateway"] is None and nets["public"]["public"] and not nets["underlay"]["public"]


@pytest.mark.parametrize(
    "networks,message",
    [
        (
            {"a": {"cidr": "10.0.0.0/16", "mtu": 1460}, "b": {"cidr": "10.0.5.0/24", "mtu": 1460}},
            "networks:b:cidr: 10.0.5.0/24 overlaps networks:a:cidr 10.0.0.0/16",
        ),
        ({"a": {"cidr": "10.0.0.1/24", "mtu": 1460}}, "networks:a:cidr: .*host bits set"),
        ({"a": {"cidr": "300.0.0.0/24", "mtu": 1460}}, "networks:a:cidr"),
        (
            {"a": {"cidr": "10.0.0.0/24", "mtu": 1460, "gateway": "10.0.1.1"}},
            "gateway: 10.0.1.1 is not a host address in 10.0.0.0/24",
        ),
        ({"a": {"cidr": "10.0.0.0/24", "mtu": 1000}}, "networks:a:mtu"),
        ({"Bad_Name": {"cidr": "10.0.0.0/24", "mtu": 1460}}, "network names"),
        ({}, "networks: must be a mapping"),
    ],
)
def test_bad_networks_in_the_model_are_refused_naming_the_key(tmp_path, networks, message):
    write_model(tmp_path, lambda model: model.update(networks=networks))
    with pytest.raises(SaltCloudConfigError, match=message):
        nspawn.lab_networks()


def test_addresses_follow_the_models_nic_order_and_host_number():
    plan = nspawn._check({"name": "network", "profile": "local-compute", "driver": "local:nspawn"}, deploy=False)
    assert list(plan["addresses"].items()) == [
        ("public", "10.99.0.12"),
        ("mgmt", "192.168.1.12"),
        ("underlay", "192.168.2.12"),
    ]
    assert plan["node"]["roles"] == ["network"] and plan["public"] is True
    assert nspawn._check({"name": "compute7", "driver": "local:nspawn"}, deploy=False)["addresses"] == {
        "mgmt": "192.168.1.27",
        "underlay": "192.168.2.27",
    }


@pytest.mark.parametrize(
    "vm_,message",
    [
        ({"nics": ["mgmt"], "host_number": 40}, "address 192.168.1.40 on mgmt is already in use by labtarget"),
        ({"nics": ["public"], "host_number": 1}, "already in use by this host"),
        ({"nics": ["mgmt"], "host_number": 21}, "host number 21 is compute1's in the model"),
        ({"nics": ["mgmt"], "host_number": 255}, "outside 192.168.1.0/24"),
        ({"nics": ["mgmt"], "host_number": 0}, "outside"),
        ({"nics": ["nowhere"], "host_number": 5}, "unknown network 'nowhere'"),
        ({"nics": ["mgmt"]}, "needs 'nics'"),
    ],
)
def test_bad_addresses_of_a_node_outside_the_model_are_refused(state_dir, vm_, message):
    _record(state_dir, "labtarget", {"mgmt": "192.168.1.40"})
    with pytest.raises(SaltCloudConfigError, match=message):
        nspawn._check(dict(vm_, name="x", driver="local:nspawn"), deploy=False)


def test_network_units_hold_address_mtu_and_only_the_public_gateway():
    nets = nspawn.lab_networks()
    node = {"addresses": {"public": "10.99.0.11", "underlay": "192.168.2.11"}}
    units = nspawn_node.render_network_units(node, nets)
    public = units["/etc/systemd/network/10-public.network"]
    underlay = units["/etc/systemd/network/10-underlay.network"]
    assert "Name=public" in public and "Address=10.99.0.11/24" in public
    assert "Gateway=10.99.0.1" in public and "MTUBytes=1460" in public
    assert "Gateway" not in underlay and "MTUBytes=1500" in underlay


def test_image_hash_follows_recipe_and_salt_version(tmp_path):
    recipe = tmp_path / "build-image"
    recipe.write_text("v1")
    first = nspawn_host.image_recipe_hash(recipe, "3008.3", "http://mirror")
    assert first == nspawn_host.image_recipe_hash(recipe, "3008.3", "http://mirror")
    assert first != nspawn_host.image_recipe_hash(recipe, "3008.4", "http://mirror")
    recipe.write_text("v2")
    assert first != nspawn_host.image_recipe_hash(recipe, "3008.3", "http://mirror")


@pytest.mark.parametrize(
    "vm_,error",
    [
        ({"name": "Bad_Name"}, "not a valid hostname"),
        ({"name": "compute1\n"}, "not a valid hostname"),
        ({"name": "compute1"}, "already exists"),
        ({"name": "compute10"}, "the model allows compute1 to compute9 \\(nodes:compute:count is 9\\)"),
        (
            {"name": "bastion"},
            "'bastion' is not a node of the lab model \\(nodes: controller, network, compute1..compute9, storage\\)",
        ),
        ({"name": "labtarget", "nics": ["mgmt"], "host_number": 21}, "host number 21 is compute1's"),
        ({"name": "storage"}, "the master 'network' is not a node with one; create it first"),
    ],
)
def test_create_refuses_bad_input_and_changes_nothing(state_dir, vm_, error):
    _record(state_dir, "compute1", {"mgmt": "192.168.1.21"})
    before = sorted(p.relative_to(state_dir) for p in state_dir.rglob("*"))
    with pytest.raises((SaltCloudConfigError, SaltCloudSystemExit), match=error):
        nspawn.create(dict(vm_, profile="local-compute", driver="local:nspawn"))
    assert sorted(p.relative_to(state_dir) for p in state_dir.rglob("*")) == before


def test_create_needs_the_lab_ssh_key(tmp_path):
    os.remove(tmp_path / "var" / "ssh" / "lab.pub")
    with pytest.raises(SaltCloudConfigError, match="run tools/secrets"):
        nspawn.create({"name": "controller", "profile": "local-compute", "driver": "local:nspawn"})


def test_queries_read_node_records(state_dir):
    _record(state_dir, "controller", {"public": "10.99.0.11", "mgmt": "192.168.1.11"})
    _record(state_dir, "storage", {"mgmt": "192.168.1.31"})
    nodes = nspawn.list_nodes()
    assert sorted(nodes) == ["controller", "storage"]
    assert nodes["controller"]["public_ips"] == ["10.99.0.11"]
    assert nodes["controller"]["private_ips"] == ["192.168.1.11"]
    assert nodes["storage"]["state"] == "stopped"
    assert nspawn.list_nodes_full()["storage"]["addresses"] == {"mgmt": "192.168.1.31"}
    assert nspawn.show_instance("storage", call="action")["id"] == "storage"
    with pytest.raises(SaltCloudSystemExit, match="no node named"):
        nspawn.show_instance("missing", call="action")
    with pytest.raises(SaltCloudSystemExit, match="-a or --action"):
        nspawn.show_instance("storage")
    with pytest.raises(SaltCloudSystemExit, match="no node named"):
        nspawn.destroy("missing", call="action")


def test_running_needs_the_same_process(state_dir):
    assert nspawn_node.running(
        {"name": "x", "supervisor_pid": os.getpid(), "supervisor_start": nspawn_node.process_start(os.getpid())}
    )
    assert not nspawn_node.running({"name": "x", "supervisor_pid": os.getpid(), "supervisor_start": -1})


def test_images_and_sizes(tmp_path):
    (tmp_path / "images" / "debian-13-abc").mkdir(parents=True)
    (tmp_path / "images" / "debian-13-abc.build.x").mkdir()
    assert list(nspawn.avail_images()) == ["debian-13-abc"]
    assert list(nspawn.avail_sizes()) == ["container"]


# ---------------------------------------------------------------------------
# destroy, stop and start


def _fake_node_utils(monkeypatch, calls, failing=()):
    """
    The driver's per-node and host steps recorded instead of run; those
    named in ``failing`` raise.
    """

    def step(name):
        def run(*args, **kwargs):
            calls.append(name)
            if name in failing:
                raise SaltCloudSystemExit(f"{name} failed")

        return run

    utils = nspawn.__utils__
    for name in ("stop", "unplug", "mount", "plug", "boot", "wait_for_ssh"):
        monkeypatch.setitem(utils, f"nspawn_node.{name}", step(name))
    for name in ("ensure_host_network", "remove_host_network", "remove_cgroup_tree"):
        monkeypatch.setitem(utils, f"nspawn_host.{name}", step(name))
    # never this host's own cgroups
    monkeypatch.setitem(utils, "nspawn_host.cgroups", lambda name: [f"/cgroups/saltlab/{name}"])


def test_a_failed_step_of_destroy_does_not_stop_the_others(state_dir, monkeypatch):
    _record(state_dir, "compute1", {"mgmt": "192.168.1.21"})
    calls = []
    _fake_node_utils(monkeypatch, calls, failing=("stop",))
    with pytest.raises(SaltCloudSystemExit, match="^nspawn: destroying compute1: stopping it: stop failed$"):
        nspawn.destroy("compute1", call="action")
    # its mount, network and files went all the same, and the lab's bridges with the last node
    assert calls == ["stop", "unplug", "remove_host_network", "remove_cgroup_tree"]
    assert not (state_dir / "nodes" / "compute1").exists()
    # the destroyed event only after a destroy that succeeded
    tags = [c.args[2] for c in nspawn.__utils__["cloud.fire_event"].call_args_list]
    assert tags == ["salt/cloud/compute1/destroying"]


def test_each_bridge_goes_with_the_last_node_on_it(state_dir, monkeypatch):
    nets = {
        net: {"cidr": cidr, "gateway": None, "mtu": 1500, "bridge": f"sl-{net}", "public": False}
        for net, cidr in (("mgmt", "192.168.1.0/24"), ("underlay", "192.168.2.0/24"))
    }
    for name, own in (("compute1", ("mgmt", "underlay")), ("storage", ("mgmt",))):
        _record(state_dir, name, {})
        record = json.loads((state_dir / "nodes" / name / "node.json").read_text())
        record["networks"] = {net: nets[net] for net in own}
        (state_dir / "nodes" / name / "node.json").write_text(json.dumps(record))
    _fake_node_utils(monkeypatch, [])
    removed = []
    monkeypatch.setitem(
        nspawn.__utils__, "nspawn_host.remove_host_network", lambda nets, rules: removed.append((sorted(nets), rules))
    )
    nspawn.destroy("compute1", call="action")
    nspawn.destroy("storage", call="action")
    # the underlay's bridge with compute1 (storage is not on it), the rest and the rules with the last node
    assert removed == [(["underlay"], False), (["mgmt"], True)]


def test_the_hosts_rules_cover_every_nodes_networks_whichever_boots_last(state_dir, monkeypatch):
    nets = nspawn.lab_networks()
    for name, own in (("network", ("public", "mgmt", "underlay")), ("storage", ("mgmt",))):
        _record(state_dir, name, {})
        record = json.loads((state_dir / "nodes" / name / "node.json").read_text())
        record["networks"] = {net: nets[net] for net in own}
        (state_dir / "nodes" / name / "node.json").write_text(json.dumps(record))
    _fake_node_utils(monkeypatch, [])
    ensured = []
    monkeypatch.setitem(
        nspawn.__utils__, "nspawn_host.ensure_host_network", lambda cloud, nets: ensured.append(sorted(nets))
    )
    nspawn.start("storage", call="action")
    # storage is on mgmt only; the public network's NAT to the mirror stays
    assert ensured == [["mgmt", "public", "underlay"]]


def test_clean_host_only_without_nodes(state_dir, monkeypatch):
    calls = []
    _fake_node_utils(monkeypatch, calls)
    removed = []
    monkeypatch.setitem(
        nspawn.__utils__, "nspawn_host.remove_host_network", lambda nets, rules: removed.append((sorted(nets), rules))
    )
    _record(state_dir, "compute1", {})
    with pytest.raises(SaltCloudSystemExit, match=r"still has nodes \(compute1\): destroy them first"):
        nspawn.clean_host(call="function")
    assert removed == []
    shutil.rmtree(state_dir / "nodes" / "compute1")
    assert nspawn.clean_host(call="function") == {"cleaned": ["sl-mgmt", "sl-public", "sl-underlay"]}
    assert removed == [(["mgmt", "public", "underlay"], True)] and calls == ["remove_cgroup_tree"]


def test_stop_and_start_keep_the_overlay(state_dir, monkeypatch):
    _record(state_dir, "compute1", {"mgmt": "192.168.1.21", "underlay": "192.168.2.21"})
    calls = []
    _fake_node_utils(monkeypatch, calls)
    assert nspawn.stop("compute1", call="action") == {"name": "compute1", "state": "stopped"}
    assert calls == ["stop", "unplug"] and (state_dir / "nodes/compute1/node.json").exists()
    calls.clear()
    assert nspawn.start("compute1", call="action") == {"name": "compute1", "state": "running"}
    # what a reboot of the host left is cleaned, then the node is made to run again from its overlay
    assert calls == ["stop", "unplug", "ensure_host_network", "mount", "plug", "boot", "wait_for_ssh"]
    with pytest.raises(SaltCloudSystemExit, match="-a or --action"):
        nspawn.start("compute1")
    with pytest.raises(SaltCloudSystemExit, match="no node named nope"):
        nspawn.start("nope", call="action")


def test_the_containers_get_only_the_listed_capabilities(tmp_path, monkeypatch):
    popen = []
    monkeypatch.setattr(nspawn_node.subprocess, "Popen", lambda argv, **kw: popen.append(argv) or os)
    monkeypatch.setattr(nspawn_node, "process_start", lambda pid: 1)
    monkeypatch.setattr(os, "pid", 4242, raising=False)
    cloud = nspawn._cloud()
    monkeypatch.setitem(cloud.utils, "nspawn_host.cgroups", lambda name: [])
    node = {"name": "compute1", "rootfs": str(tmp_path), "addresses": {}, "kvm": True, "devices": ["/dev/loop7"]}
    nspawn_node.boot(cloud, node, str(tmp_path / "console.log"))
    [argv] = popen
    assert "--capability=CAP_NET_ADMIN,CAP_IPC_LOCK" in argv
    assert not [a for a in argv if a == "--capability=all"]
    assert "--bind=/dev/kvm" in argv and "--bind=/dev/loop7" in argv


def test_node_files_and_console_logs_are_not_world_readable(state_dir):
    path = nspawn._console_log("compute1")
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == oct(0o700)


def test_a_node_is_powered_off_gracefully_then_killed(monkeypatch):
    # one that stops on SIGTERM, one that ignores it
    polite = subprocess.Popen(["sleep", "60"], start_new_session=True)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"],
        start_new_session=True,
    )
    procs = [polite, stubborn]
    monkeypatch.setattr(nspawn_host, "cgroup_pids", lambda trees: [p.pid for p in procs if p.poll() is None])
    nspawn_host.end_processes("x", polite.pid, ["tree"], timeout=0.5)
    assert polite.wait(5) == -signal.SIGTERM and stubborn.wait(5) == -signal.SIGKILL


def test_nested_cgroups_go_deepest_first_and_busy_ones_are_retried(tmp_path, monkeypatch):
    for path in ("node/payload/system.slice/neutron-api.service", "node/payload/init.scope", "node/supervisor"):
        (tmp_path / path).mkdir(parents=True)
    removed, busy = [], {"neutron-api.service": 2}
    real_rmdir = os.rmdir

    def rmdir(path):
        name = os.path.basename(path)
        if busy.get(name):
            busy[name] -= 1
            raise OSError(16, "Device or resource busy", path)
        real_rmdir(path)
        removed.append(os.path.relpath(path, tmp_path))

    monkeypatch.setattr(nspawn_host.os, "rmdir", rmdir)
    nspawn_host.remove_cgroup_tree(str(tmp_path / "node"))
    assert removed.index("node/payload/system.slice/neutron-api.service") < removed.index("node/payload/system.slice")
    assert removed[-1] == "node" and not (tmp_path / "node").exists()
    assert busy["neutron-api.service"] == 0


class LayerCloud:
    """What the role layer's functions use of the driver's Cloud: settings, paths, progress."""

    def __init__(self, repo, cache, role_images=True):
        self.repo, self.lines = repo, []
        self.settings = {"image_cache": str(cache), "role_images": role_images, "mirror": "http://mirror/debian"}

    def setting(self, key):
        return self.settings[key]

    def config_path(self, path):
        return str(self.repo / path)

    def progress(self, name, line):
        self.lines.append(line)


@pytest.fixture
def layer_repo(tmp_path, monkeypatch):
    """A checkout whose role_packages prints a spec and whose build-role-image counts its builds."""
    repo = tmp_path / "repo"
    for path in nspawn_host.ROLE_INPUTS:
        target = repo / path
        if path.endswith(".py"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("")
        else:
            target.mkdir(parents=True)
    (repo / "salt" / "top.sls").write_text("base: {}\n")
    # its spec: the packages in the state tree's top file
    (repo / "tools" / "role_packages.py").write_text(
        "import pathlib, sys\nprint(pathlib.Path(sys.argv[0]).parent.parent.joinpath('salt/top.sls').read_text())\n"
    )
    recipe = repo / "tools" / "build-role-image"
    recipe.write_text('#!/bin/sh\necho built >> "$(dirname "$2")/builds"; mkdir "$2"\n')
    recipe.chmod(0o755)
    monkeypatch.setattr(nspawn_host, "_mirror_release", lambda cloud: "release-1")
    (tmp_path / "images").mkdir()
    return repo


def test_a_role_layer_is_built_once_per_package_set(layer_repo, tmp_path, monkeypatch):
    cloud = LayerCloud(layer_repo, tmp_path / "images")
    compute1 = {"name": "compute1", "kind": "compute"}
    layer = nspawn_host.ensure_role_layer(cloud, "compute1", compute1, "/images/debian-13-abc")
    assert os.path.isdir(layer) and os.path.basename(layer).startswith("role-compute-")
    # the second compute node of the same kind and tree: the same layer, no build
    assert (
        nspawn_host.ensure_role_layer(cloud, "compute2", dict(compute1, name="compute2"), "/images/debian-13-abc")
        == layer
    )
    assert (tmp_path / "images" / "builds").read_text() == "built\n"
    # a state tree whose packages are the same: the same layer
    (layer_repo / "salt" / "init.sls").write_text("# a comment\n")
    assert nspawn_host.ensure_role_layer(cloud, "compute1", compute1, "/images/debian-13-abc") == layer
    # other packages, a new base image or a new mirror release: another layer
    (layer_repo / "salt" / "top.sls").write_text("base: {'*': [x]}\n")
    changed = nspawn_host.ensure_role_layer(cloud, "compute1", compute1, "/images/debian-13-abc")
    assert changed != layer
    assert nspawn_host.ensure_role_layer(cloud, "compute1", compute1, "/images/debian-13-def") not in (layer, changed)
    monkeypatch.setattr(nspawn_host, "_mirror_release", lambda cloud: "release-2")
    assert nspawn_host.ensure_role_layer(cloud, "compute1", compute1, "/images/debian-13-def") not in (layer, changed)
    assert (tmp_path / "images" / "builds").read_text() == "built\n" * 4


def test_no_role_layer_outside_the_model_or_when_switched_off(layer_repo, tmp_path):
    assert nspawn_host.ensure_role_layer(LayerCloud(layer_repo, tmp_path / "images"), "bare", None, "/i") is None
    off = LayerCloud(layer_repo, tmp_path / "images", role_images=False)
    assert nspawn_host.ensure_role_layer(off, "compute1", {"name": "compute1", "kind": "compute"}, "/i") is None
    assert not (tmp_path / "images" / "builds").exists()


def test_a_failed_role_layer_build_says_so(layer_repo, tmp_path):
    (layer_repo / "tools" / "build-role-image").write_text("#!/bin/sh\nexit 1\n")
    with pytest.raises(SaltCloudSystemExit, match="building the storage role layer failed"):
        nspawn_host.ensure_role_layer(
            LayerCloud(layer_repo, tmp_path / "images"), "storage", {"name": "storage", "kind": "storage"}, "/i"
        )


def test_the_node_mounts_its_role_layer_over_the_image(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(nspawn_node, "_run", lambda cloud, *cmd, check=True: commands.append(cmd))
    node = {"rootfs": str(tmp_path / "rootfs"), "image": "/images/base", "role_layer": "/images/role-compute-1"}
    nspawn_node.mount(None, node, "/nodes/compute1")
    assert "lowerdir=/images/role-compute-1:/images/base,upperdir=/nodes/compute1/upper" in commands[0][-2]
    del node["role_layer"]
    nspawn_node.mount(None, node, "/nodes/compute1")
    assert "lowerdir=/images/base,upperdir" in commands[1][-2]
