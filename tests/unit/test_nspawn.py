"""
Unit tests of the nspawn salt-cloud driver with Salt's loader mocks: its
checks refuse bad input before anything is made, and its queries read the
node records.
"""

import ipaddress
import json
import os

import nspawn
import pytest
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

from extensions import cloud_utils

NETWORKS = {
    "public": {"cidr": "10.99.0.0/24", "gateway": "10.99.0.1"},
    "mgmt": {"cidr": "192.168.1.0/24"},
    "underlay": {"cidr": "192.168.2.0/24", "mtu": 1500},
}


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def configure_loader_modules(tmp_path, state_dir):
    (tmp_path / "var" / "ssh").mkdir(parents=True)
    for name in ("lab", "lab.pub"):
        (tmp_path / "var" / "ssh" / name).write_text("key\n")
    provider = {
        "driver": "nspawn",
        "lab_networks": NETWORKS,
        "state_dir": str(state_dir),
        "image_cache": str(tmp_path / "images"),
        "ssh_keyfile": "var/ssh/lab",
    }
    opts = {
        "conf_file": str(tmp_path / "cloud"),
        "providers": {"local": {"nspawn": provider}},
        "profiles": {"local-compute": {"provider": "local:nspawn"}},
        "sock_dir": str(tmp_path / "sock"),
        "transport": "zeromq",
    }
    return {nspawn: {"__opts__": opts, "__active_provider_name__": "local:nspawn", "__utils__": cloud_utils()}}


def _record(state_dir, name, addresses):
    node_dir = state_dir / "nodes" / name
    node_dir.mkdir(parents=True)
    node = {"name": name, "addresses": addresses, "image": "/images/debian-13-abc", "rootfs": ""}
    (node_dir / "node.json").write_text(json.dumps(node))


@pytest.mark.parametrize("name", ["controller", "compute1", "a", "node-2", "x" * 63])
def test_valid_names(name):
    assert nspawn.validate_name(name) == name


@pytest.mark.parametrize("name", ["", "Compute1", "1node", "node-", "no_de", "a.b", "x" * 64, "../etc", None])
def test_invalid_names_are_refused(name):
    with pytest.raises(SaltCloudConfigError, match="not a valid hostname"):
        nspawn.validate_name(name)


def test_networks_are_parsed_with_defaults():
    nets = nspawn.lab_networks()
    assert nets["public"]["gateway"] == ipaddress.IPv4Address("10.99.0.1")
    assert nets["mgmt"]["mtu"] == 1460
    assert nets["underlay"]["mtu"] == 1500
    assert nets["mgmt"]["bridge"] == "sl-mgmt"


@pytest.mark.parametrize(
    "networks,message",
    [
        ({"a": {"cidr": "10.0.0.0/16"}, "b": {"cidr": "10.0.5.0/24"}}, "a .10.0.0.0/16. and b .10.0.5.0/24. overlap"),
        ({"a": {"cidr": "10.0.0.1/24"}}, "lab_networks:a:cidr: .*host bits set"),
        ({"a": {"cidr": "300.0.0.0/24"}}, "lab_networks:a:cidr"),
        ({"a": {"cidr": "10.0.0.0/24", "gateway": "10.0.1.1"}}, "gateway 10.0.1.1 is not in 10.0.0.0/24"),
        ({"a": {"cidr": "10.0.0.0/24", "mtu": 1000}}, "lab_networks:a:mtu"),
        ({"Bad_Name": {"cidr": "10.0.0.0/24"}}, "network names"),
        ({}, "lab_networks must map"),
    ],
)
def test_bad_networks_are_refused_naming_the_key(networks, message):
    with pytest.raises(SaltCloudConfigError, match=message):
        nspawn.lab_networks(networks)


def test_addresses_follow_nic_order_and_host_number():
    nets = nspawn.lab_networks()
    vm_ = {"name": "network", "nics": ["public", "mgmt", "underlay"], "host_number": 12}
    addresses = nspawn.node_addresses(vm_, nets, [])
    assert list(addresses.items()) == [
        ("public", "10.99.0.12"),
        ("mgmt", "192.168.1.12"),
        ("underlay", "192.168.2.12"),
    ]


@pytest.mark.parametrize(
    "vm_,message",
    [
        ({"nics": ["mgmt"], "host_number": 21}, "already in use"),
        ({"nics": ["public"], "host_number": 1}, "already in use"),
        ({"nics": ["mgmt"], "host_number": 255}, "outside 192.168.1.0/24"),
        ({"nics": ["mgmt"], "host_number": 0}, "outside"),
        ({"nics": ["nowhere"], "host_number": 5}, "unknown network 'nowhere'"),
        ({"nics": ["mgmt"]}, "needs 'nics'"),
    ],
)
def test_bad_addresses_are_refused(vm_, message):
    nets = nspawn.lab_networks()
    others = [{"addresses": {"mgmt": "192.168.1.21"}}]
    with pytest.raises(SaltCloudConfigError, match=message):
        nspawn.node_addresses(dict(vm_, name="x"), nets, others)


def test_network_units_hold_address_mtu_and_only_the_public_gateway():
    nets = nspawn.lab_networks()
    node = {"addresses": {"public": "10.99.0.11", "underlay": "192.168.2.11"}}
    units = nspawn.render_network_units(node, nets)
    public = units["/etc/systemd/network/10-public.network"]
    underlay = units["/etc/systemd/network/10-underlay.network"]
    assert "Name=public" in public and "Address=10.99.0.11/24" in public
    assert "Gateway=10.99.0.1" in public and "MTUBytes=1460" in public
    assert "Gateway" not in underlay and "MTUBytes=1500" in underlay


def test_image_hash_follows_recipe_and_salt_version(tmp_path):
    recipe = tmp_path / "build-image"
    recipe.write_text("v1")
    first = nspawn.image_recipe_hash(recipe, "3008.3", "http://mirror")
    assert first == nspawn.image_recipe_hash(recipe, "3008.3", "http://mirror")
    assert first != nspawn.image_recipe_hash(recipe, "3008.4", "http://mirror")
    recipe.write_text("v2")
    assert first != nspawn.image_recipe_hash(recipe, "3008.3", "http://mirror")


@pytest.mark.parametrize(
    "vm_,error",
    [
        ({"name": "Bad_Name", "nics": ["mgmt"], "host_number": 40}, "not a valid hostname"),
        ({"name": "compute1", "nics": ["mgmt"], "host_number": 40}, "already exists"),
        ({"name": "compute9", "nics": ["mgmt"], "host_number": 21}, "already in use"),
        (
            {"name": "storage", "nics": ["mgmt"], "host_number": 31, "ssh_gateway_node": "nope"},
            "ssh_gateway_node 'nope' is not a node",
        ),
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
        nspawn.create(
            {
                "name": "controller",
                "nics": ["mgmt"],
                "host_number": 11,
                "profile": "local-compute",
                "driver": "local:nspawn",
            }
        )


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
    assert nspawn._running(
        {"name": "x", "supervisor_pid": os.getpid(), "supervisor_start": nspawn._process_start(os.getpid())}
    )
    assert not nspawn._running({"name": "x", "supervisor_pid": os.getpid(), "supervisor_start": -1})


def test_images_and_sizes(tmp_path):
    (tmp_path / "images" / "debian-13-abc").mkdir(parents=True)
    (tmp_path / "images" / "debian-13-abc.build.x").mkdir()
    assert list(nspawn.avail_images()) == ["debian-13-abc"]
    assert list(nspawn.avail_sizes()) == ["container"]
