"""
The gce salt-cloud driver, with Salt's loader mocks, driving the real
google-cloud-compute client (REST transport, AnonymousCredentials, or a
service-account key whose token endpoint is the fake) against a local fake
of the Compute REST API (tests/fakes/compute_api.py).

Request building: the instance, network and firewall resources carry the
right NICs in the right order with the lab model's fixed addresses, the
nested-virtualization flag on compute nodes only (and only on Intel
families), the ssh-keys metadata for stack, labels, the storage disk; the
public firewall opens the proxy's ports (the model's) to the operator's
address only; the mgmt network's Cloud Router has one NAT for all its
ranges. Against the fake: the lab's networks, subnetworks, firewalls,
router, instances and disks are made once, reused, and deleted with the
last node, the router first, networks last; each node's roles grain and
master come from the model, its host keys from its guest attributes into
var/ssh/known_hosts, its minion key is put on the master; the deployed
master is recorded in var/bastion (user stack) and pushed to. Error mapping: 403,
quota, an operation that ends in error, a timeout, a bad key, an unknown
zone or machine type each give one clear message and leave nothing behind.
tools/push logs in as var/bastion's user, with sudo when not root, and the
gce deploy script reaches the node as salt-cloud renders it.
"""

import copy
import json
import os
import pathlib
import re
import shutil
import subprocess
from unittest.mock import MagicMock

import gce
import gce_instance
import gce_network
import pytest
import requests
import salt.utils.cloud
import salt.utils.yaml
import saltlab_model
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.api_core import exceptions as api_exceptions
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

from conftest import deployed
from extensions import cloud_utils, serving
from fakes.compute_api import ComputeAPI

REPO = pathlib.Path(__file__).resolve().parents[2]
PROJECT = "saltlab-test"
ZONE = "europe-west1-b"
OPERATOR = "198.51.100.7"
LAB = ["network", "controller", "compute1", "compute2", "storage"]
OPERATOR_KEY = "gcp-default-key"


def profiles():
    """
    The repository's gce profiles, ``extends`` resolved.
    """
    raw = salt.utils.yaml.safe_load((REPO / "cloud.profiles.d/gce.conf").read_text())
    resolved = {}
    for name, body in raw.items():
        merged = {}
        if body.get("extends"):
            merged.update(copy.deepcopy(raw[body["extends"]]))
        merged.update(copy.deepcopy(body))
        merged.pop("extends", None)
        resolved[name] = merged
    return resolved


def node(node_name, **extra):
    """
    The vm_ salt-cloud hands create() for a node of maps/gce.yaml (with the
    minion key salt-cloud made for it).
    """
    role = "compute" if node_name.startswith("compute") else node_name
    vm_ = dict(profiles()[f"gce-{role}"], name=node_name, profile=f"gce-{role}", provider="gce:gce", driver="gce:gce")
    vm_["pub_key"] = f"PUBLIC KEY OF {node_name}"
    vm_.update(extra)
    return vm_


def model(change=None):
    """The repository's lab model, checked; ``change(raw)`` edits it first."""
    raw = salt.utils.yaml.safe_load((REPO / "pillar/model.yaml").read_text())
    if change:
        change(raw)
    return saltlab_model.check(raw)


def write_model(config_dir, change):
    """The configuration directory's lab model, edited by ``change(raw)``."""
    raw = salt.utils.yaml.safe_load((REPO / "pillar/model.yaml").read_text())
    change(raw)
    (config_dir / "pillar/model.yaml").write_text(salt.utils.yaml.safe_dump(raw, sort_keys=False))


def nets():
    return gce_network.lab_networks(model())


compute = serving("compute", ComputeAPI, project=PROJECT, page_size=2)


@pytest.fixture
def provider(compute, keyfile):
    return {
        "driver": "gce",
        "api_endpoint": compute.url,
        "anonymous": True,
        "project": PROJECT,
        "zone": ZONE,
        "ssh_keyfile": str(keyfile),
        "operator_address": OPERATOR,
        "poll_interval": 0.01,
        "operation_timeout": 5,
    }


@pytest.fixture
def config_dir(tmp_path):
    """
    salt-cloud's configuration directory: the lab model, a tools/push that
    records its arguments (in pushed) and what var/bastion said when it ran.
    """
    conf = tmp_path / "conf"
    (conf / "tools").mkdir(parents=True)
    (conf / "pillar").mkdir()
    shutil.copy(REPO / "pillar/model.yaml", conf / "pillar/model.yaml")
    push = conf / "tools/push"
    push.write_text(
        '#!/bin/sh\ncd "$(dirname "$0")/.."\n. var/bastion\n'
        'echo "$* $bastion_user $bastion_host" >> pushed\nexit "${PUSH_EXIT:-0}"\n'
    )
    push.chmod(0o755)
    return conf


@pytest.fixture
def configure_loader_modules(tmp_path, provider, bootstrap, config_dir, ssh_calls):
    opts = {
        "conf_file": str(config_dir / "cloud"),
        "providers": {"gce": {"gce": provider}},
        "profiles": profiles(),
        "sock_dir": str(tmp_path / "sock"),
        "transport": "zeromq",
    }
    utils = cloud_utils(
        {
            "cloud.list_nodes_select": salt.utils.cloud.list_nodes_select,
            "cloud.bootstrap": bootstrap,
            "cloud.fire_event": MagicMock(),
            "cloud.filter_event": MagicMock(return_value={}),
        }
    )
    return {gce: {"__opts__": opts, "__active_provider_name__": "gce:gce", "__utils__": utils}}


def posts(compute):
    return [
        path.split(f"/projects/{PROJECT}/", 1)[-1]
        for method, path in compute.requests
        if method == "POST" and not path.endswith("/wait")
    ]


def deletes(compute):
    return [path.split(f"/projects/{PROJECT}/", 1)[-1] for method, path in compute.requests if method == "DELETE"]


def build_lab():
    return {name: gce.create(node(name)) for name in LAB}


def nics(instance):
    return [
        (nic["network"].rsplit("/", 1)[-1], nic["networkIP"], bool(nic.get("accessConfigs")))
        for nic in instance["networkInterfaces"]
    ]


# ---------------------------------------------------------------------------
# request building


def test_the_proxy_ports_come_from_the_model(compute, config_dir):
    lab = model()
    ports = saltlab_model.proxy_ports(lab)
    expected = {e.get("public_port", e["port"]) for e in lab["catalog"].values()}
    assert expected | {lab["entry"]["ssh_port"], lab["entry"]["novnc_port"]} == set(ports)
    assert {22, 443, 5000, 6080, 8774, 9292, 9696}.issubset(ports)
    # a service added to the model's catalog (e.g. cinder) opens its port too
    write_model(config_dir, lambda raw: raw["catalog"].update(cinder={"type": "volumev3", "port": 8776}))
    gce.create_lab_networks(call="function")
    assert "8776" in compute.firewalls["saltlab-public-in"]["allowed"][1]["ports"]
    (config_dir / "pillar/model.yaml").unlink()
    with pytest.raises(SaltCloudConfigError, match="gce: the lab model .*model.yaml cannot be read"):
        gce.update_lab_firewall(call="function")


def test_firewall_bodies_open_the_public_network_to_the_operator_only():
    public = gce_network.firewall_body(
        PROJECT, "saltlab", "public", nets()["public"], f"{OPERATOR}/32", [22, 443, 5000]
    )
    assert list(public.source_ranges) == [f"{OPERATOR}/32"]
    assert [(a.I_p_protocol, list(a.ports)) for a in public.allowed] == [("icmp", []), ("tcp", ["22", "443", "5000"])]
    assert public.network == f"projects/{PROJECT}/global/networks/saltlab-public"
    assert public.direction == "INGRESS" and public.name == "saltlab-public-in"
    mgmt = gce_network.firewall_body(PROJECT, "saltlab", "mgmt", nets()["mgmt"])
    assert list(mgmt.source_ranges) == ["192.168.1.0/24"]
    assert [a.I_p_protocol for a in mgmt.allowed] == ["all"]


def test_network_bodies_are_custom_mode_with_the_models_mtu():
    lab = model(lambda raw: raw["networks"]["underlay"].update(mtu=8896))
    networks = gce_network.lab_networks(lab)
    public = gce_network.network_body("lab1", "public", networks["public"])
    assert (public.name, public.auto_create_subnetworks, public.mtu) == ("lab1-public", False, 1460)
    assert gce_network.network_body("lab1", "underlay", networks["underlay"]).mtu == 8896
    subnet = gce_network.subnetwork_body(PROJECT, "europe-west1", "lab1", "underlay", networks["underlay"])
    assert (subnet.ip_cidr_range, subnet.region) == ("192.168.2.0/24", "europe-west1")
    assert subnet.network == f"projects/{PROJECT}/global/networks/lab1-underlay"


def test_instance_bodies_carry_nics_addresses_keys_labels_and_nested_virtualization():
    base = {
        "image": "projects/debian-cloud/global/images/family/debian-13",
        "disk_size_gb": 20,
        "disk_type": "pd-balanced",
        "ssh_username": "stack",
    }
    spec = dict(
        base,
        machine_type="n1-standard-4",
        nics=["mgmt", "underlay"],
        nested_virtualization=True,
        addresses=gce_instance.node_addresses(saltlab_model.node(model(), "compute1"), nets()),
    )
    body = gce_instance.instance_body(PROJECT, ZONE, "saltlab", "compute1", spec, nets(), "ssh-ed25519 AAAA op\n")
    assert [
        (n.subnetwork.rsplit("/", 1)[-1], n.network_i_p, len(n.access_configs)) for n in body.network_interfaces
    ] == [("saltlab-mgmt", "192.168.1.21", 0), ("saltlab-underlay", "192.168.2.21", 0)]
    assert body.network_interfaces[0].subnetwork == f"projects/{PROJECT}/regions/europe-west1/subnetworks/saltlab-mgmt"
    assert body.advanced_machine_features.enable_nested_virtualization is True
    assert body.machine_type == f"zones/{ZONE}/machineTypes/n1-standard-4"
    assert [(i.key, i.value) for i in body.metadata.items] == [
        ("ssh-keys", "stack:ssh-ed25519 AAAA op"),
        ("saltlab-image", base["image"]),
        ("enable-guest-attributes", "TRUE"),
    ]
    assert dict(body.labels) == {"saltlab": "saltlab", "saltlab-node": "compute1"}
    [boot] = body.disks
    assert boot.boot and boot.auto_delete and boot.initialize_params.source_image == base["image"]

    spec = dict(
        base,
        machine_type="n1-standard-2",
        nics=["public", "mgmt"],
        nested_virtualization=False,
        addresses=gce_instance.node_addresses(saltlab_model.node(model(), "controller"), nets()),
    )
    body = gce_instance.instance_body(
        PROJECT, ZONE, "saltlab", "controller", spec, nets(), "k", data_disk="projects/p/d"
    )
    assert [n.network_i_p for n in body.network_interfaces] == ["10.99.0.11", "192.168.1.11"]
    assert body.network_interfaces[0].access_configs[0].type_ == "ONE_TO_ONE_NAT"
    assert "advanced_machine_features" not in body
    assert [(d.boot, d.source) for d in body.disks] == [(True, ""), (False, "projects/p/d")]


def test_the_router_body_is_one_cloud_nat_for_the_whole_network():
    router = gce_network.router_body(PROJECT, "europe-west1", "lab1", "mgmt")
    # no region in the body (output only: the request's URL names it)
    assert (router.name, router.region) == ("lab1-mgmt-router", "")
    assert router.network == f"projects/{PROJECT}/global/networks/lab1-mgmt"
    [nat] = router.nats
    assert (nat.name, nat.source_subnetwork_ip_ranges_to_nat, nat.nat_ip_allocate_option) == (
        "lab1-mgmt-nat",
        "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "AUTO_ONLY",
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("public", "nat_network 'public' must name an internal network by its purpose \\(management, underlay\\)"),
        ("storage", "nat_network 'storage' must name an internal network by its purpose"),
        ("mgmt", "nat_network 'mgmt' must name an internal network by its purpose"),
    ],
)
def test_the_nat_network_must_be_an_internal_one(compute, provider, value, message):
    assert gce_network.nat_network(model(), "management") == "mgmt"
    assert gce_network.nat_network(model(), "underlay") == "underlay"
    assert gce_network.nat_network(model(), "") is None
    provider["nat_network"] = value
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node("network"))
    assert posts(compute) == []


@pytest.mark.parametrize("machine_type", ["n1-standard-4", "n2-standard-8", "c2-standard-4", "c3-standard-4"])
def test_intel_families_may_nest(machine_type):
    gce_instance.check_nested_virtualization(machine_type)


@pytest.mark.parametrize(
    "machine_type",
    ["e2-standard-4", "n2d-standard-4", "t2d-standard-4", "t2a-standard-4", "c2d-standard-4", "c4a-standard-4"],
)
def test_other_families_cannot_nest(machine_type):
    family = machine_type.split("-")[0]
    with pytest.raises(
        SaltCloudConfigError,
        match=f"{machine_type} cannot run nested virtualization \\(family {family}: not an Intel family",
    ):
        gce_instance.check_nested_virtualization(machine_type)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda k: k.update(nics=["mgmt", "mgmt"]), "model nodes:controller:nics: must list networks, each once"),
        (lambda k: k.update(nics=["public", "storage"]), "nodes:controller:nics: unknown network 'storage'"),
        (lambda k: k.update(host=1), "model nodes:controller:host: host number 1 is the gateway's"),
        (lambda k: k.update(host=254), "host number 254 gives no usable address"),
        (lambda k: k.update(host=None), "nodes:controller:host: must be an integer"),
        (lambda k: k.update(nics=[]), "nodes:controller:nics: must list networks"),
    ],
)
def test_bad_nics_or_host_numbers_in_the_model_are_refused(compute, config_dir, change, message):
    write_model(config_dir, lambda raw: change(raw["nodes"]["controller"]))
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node("controller"))
    assert posts(compute) == []


@pytest.mark.parametrize(
    "networks, message",
    [
        (
            {"public": {"cidr": "10.0.0.0/8", "public": True}, "mgmt": {"cidr": "10.1.0.0/16"}},
            "networks:mgmt:cidr: 10.1.0.0/16 overlaps",
        ),
        ({"public": {"cidr": "10.99.0.1/24", "public": True}}, "networks:public:cidr"),
        ({"public": {"cidr": "10.99.0.0/24"}}, "no network is marked `public: true`"),
        ({"public": {"cidr": "10.99.0.0/24", "public": True, "mtu": 9000}}, "mtu must be an integer 1300-8896"),
    ],
)
def test_bad_networks_in_the_model_are_refused(compute, config_dir, networks, message):
    def change(raw):
        keep = {n: s for n, s in raw["networks"].items() if n not in networks and not set(s) & {"public"}}
        for spec in networks.values():
            spec.setdefault("mtu", 1460)
        raw["networks"] = dict(networks, **keep)

    write_model(config_dir, change)
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node("network"))
    assert posts(compute) == []


def _api_error(cls, reason, message):
    return cls(message, errors=[{"message": message, "domain": "global", "reason": reason}])


@pytest.mark.parametrize(
    "exc, message",
    [
        (
            _api_error(api_exceptions.Forbidden, "quotaExceeded", "Quota 'NETWORKS' exceeded. Limit: 5.0 globally."),
            r"^gce: quota exceeded while creating network x: Quota 'NETWORKS' exceeded. Limit: 5.0 globally.$",
        ),
        (
            _api_error(api_exceptions.Forbidden, "forbidden", "Required 'compute.networks.create' permission"),
            r"^gce: permission denied while creating network x: Required 'compute.networks.create' permission "
            r"\(the service account needs Compute Instance Admin \(v1\), Compute Network Admin, Compute Security "
            r"Admin and Service Account User on project saltlab-test\)$",
        ),
        (
            _api_error(
                api_exceptions.Unauthorized, "required", "Request is missing required authentication credential"
            ),
            r"^gce: the API rejected the credentials while creating network x",
        ),
        (
            _api_error(api_exceptions.BadRequest, "invalid", "POST http://h/x: Invalid value for field 'resource.mtu'"),
            r"^gce: creating network x failed: Invalid value for field 'resource.mtu'$",
        ),
        (requests.exceptions.ConnectionError("refused"), r"^gce: cannot reach the API at .* while creating network x"),
    ],
)
def test_api_errors_become_one_sentence(exc, message):
    with pytest.raises(SaltCloudSystemExit, match=message), gce._api().doing("creating network x"):
        raise exc


def test_the_operator_address_is_detected_when_not_given(compute, provider):
    assert gce.operator_cidr() == f"{OPERATOR}/32"
    assert gce.operator_cidr("203.0.113.0/28") == "203.0.113.0/28"
    compute.operator_address = "203.0.113.99"
    assert gce.operator_cidr("", url=f"{compute.url}/myip") == "203.0.113.99/32"
    compute.operator_address = "<html>"
    with pytest.raises(SaltCloudConfigError, match="gave '<html>', not an IPv4 address"):
        gce.operator_cidr("", url=f"{compute.url}/myip")
    with pytest.raises(SaltCloudConfigError, match="could not detect your public address .*set operator_address"):
        gce.operator_cidr("", url="http://127.0.0.1:1/")


# ---------------------------------------------------------------------------
# against the fake


def test_the_lab_is_made_with_the_right_resources(compute, keyfile, bootstrap, config_dir, ssh_calls):
    ret = build_lab()
    assert compute.resources() == sorted(
        [f"network/saltlab-{n}" for n in ("public", "mgmt", "underlay")]
        + [f"subnetwork/saltlab-{n}" for n in ("public", "mgmt", "underlay")]
        + [f"firewall/saltlab-{n}-in" for n in ("public", "mgmt", "underlay")]
        + ["router/saltlab-mgmt-router"]
        + [f"instance/{n}" for n in LAB]
        + [f"disk/{n}" for n in LAB]
        + ["disk/storage-data"]
    )
    # networks: custom mode, MTU 1460; subnetworks in the zone's region
    for net, cidr in (("public", "10.99.0.0/24"), ("mgmt", "192.168.1.0/24"), ("underlay", "192.168.2.0/24")):
        assert compute.networks[f"saltlab-{net}"]["mtu"] == 1460
        assert compute.networks[f"saltlab-{net}"]["autoCreateSubnetworks"] is False
        assert compute.subnetworks[("europe-west1", f"saltlab-{net}")]["ipCidrRange"] == cidr
    # firewalls: the public one from the operator only, the others from their own CIDR
    public = compute.firewalls["saltlab-public-in"]
    assert public["sourceRanges"] == [f"{OPERATOR}/32"]
    assert public["allowed"] == [
        {"IPProtocol": "icmp"},
        {"IPProtocol": "tcp", "ports": [str(p) for p in saltlab_model.proxy_ports(model())]},
    ]
    assert compute.firewalls["saltlab-mgmt-in"]["sourceRanges"] == ["192.168.1.0/24"]
    assert compute.firewalls["saltlab-underlay-in"]["allowed"] == [{"IPProtocol": "all"}]
    # Cloud NAT for the nodes without an external address: on mgmt, in the zone's region
    router = compute.routers[("europe-west1", "saltlab-mgmt-router")]
    assert router["network"].endswith(f"/projects/{PROJECT}/global/networks/saltlab-mgmt")
    assert router["region"].endswith("/regions/europe-west1")
    assert [(n["name"], n["sourceSubnetworkIpRangesToNat"], n["natIpAllocateOption"]) for n in router["nats"]] == [
        ("saltlab-mgmt-nat", "ALL_SUBNETWORKS_ALL_IP_RANGES", "AUTO_ONLY")
    ]
    # instances: NICs in profile order with fixed addresses, external addresses on public only
    instances = {name: compute.instances[(ZONE, name)] for name in LAB}
    assert nics(instances["network"]) == [
        ("saltlab-public", "10.99.0.12", True),
        ("saltlab-mgmt", "192.168.1.12", False),
        ("saltlab-underlay", "192.168.2.12", False),
    ]
    assert nics(instances["controller"]) == [
        ("saltlab-public", "10.99.0.11", True),
        ("saltlab-mgmt", "192.168.1.11", False),
    ]
    assert nics(instances["compute2"]) == [
        ("saltlab-mgmt", "192.168.1.22", False),
        ("saltlab-underlay", "192.168.2.22", False),
    ]
    assert nics(instances["storage"]) == [("saltlab-mgmt", "192.168.1.31", False)]
    machine = {n: i["machineType"].rsplit("/", 1)[-1] for n, i in instances.items()}
    assert machine == {
        "network": "n1-standard-4",
        "controller": "n1-standard-2",
        "compute1": "n1-standard-4",
        "compute2": "n1-standard-4",
        "storage": "n1-standard-1",
    }
    nested = {n for n, i in instances.items() if i.get("advancedMachineFeatures", {}).get("enableNestedVirtualization")}
    assert nested == {"compute1", "compute2"}
    public_key = (keyfile.parent / "gcp-default-key.pub").read_text().strip()
    for name, instance in instances.items():
        assert instance["labels"] == {"saltlab": "saltlab", "saltlab-node": name}
        assert instance["metadata"]["items"] == [
            {"key": "ssh-keys", "value": f"stack:{public_key}"},
            {"key": "saltlab-image", "value": "projects/debian-cloud/global/images/family/debian-13"},
            {"key": "enable-guest-attributes", "value": "TRUE"},
        ]
        boot = compute.disks[(ZONE, name)]
        assert boot["sourceImage"] == "projects/debian-cloud/global/images/family/debian-13"
        assert boot["sizeGb"] == "20" and boot["type"].endswith("/diskTypes/pd-balanced")
    # the storage node's extra disk, attached to it
    data = compute.disks[(ZONE, "storage-data")]
    assert data["sizeGb"] == "50" and data["users"] == [instances["storage"]["selfLink"]]
    assert data["labels"] == {"saltlab": "saltlab", "saltlab-node": "storage"}
    assert [d["source"] for d in instances["storage"]["disks"]] == [
        compute.disks[(ZONE, "storage")]["selfLink"],
        data["selfLink"],
    ]
    # deployed as stack; nodes without a public NIC through the network node's external address
    deployed = {c.args[0]["name"]: c.args[0] for c in bootstrap.call_args_list}
    network_ip = instances["network"]["networkInterfaces"][0]["accessConfigs"][0]["natIP"]
    assert deployed["network"]["ssh_host"] == network_ip and "gateway" not in deployed["network"]
    # through the master too: the public rule lets the operator reach the master only
    assert deployed["controller"]["ssh_host"] == "192.168.1.11"
    assert deployed["controller"]["gateway"]["ssh_gateway"] == network_ip
    assert deployed["compute1"]["ssh_host"] == "192.168.1.21"
    assert deployed["compute1"]["gateway"] == {
        "ssh_gateway": network_ip,
        "ssh_gateway_user": "stack",
        "ssh_gateway_key": str(keyfile),
        "ssh_gateway_command": "-W %h:%p",
    }
    assert {v["ssh_username"] for v in deployed.values()} == {"stack"}
    # the model's roles and master, whatever salt-cloud set before
    assert {n: v["grains"]["roles"] for n, v in deployed.items()} == {
        "network": ["network"],
        "controller": ["controller"],
        "compute1": ["compute"],
        "compute2": ["compute"],
        "storage": ["storage"],
    }
    assert {v["minion"]["master"] for v in deployed.values()} == {"192.168.1.12"}
    # host keys from the guest attributes, checked on every deploy connection
    known_hosts = config_dir / "var/ssh/known_hosts"
    assert {v["known_hosts_file"] for v in deployed.values()} == {str(known_hosts)}
    lines = known_hosts.read_text().splitlines()
    for name in LAB:
        keys = compute.host_keys[(ZONE, name)]
        addresses = sorted(nic["networkIP"] for nic in instances[name]["networkInterfaces"]) + [
            c["natIP"] for nic in instances[name]["networkInterfaces"] for c in nic.get("accessConfigs", [])
        ]
        assert sorted(line for line in lines if line.endswith(f" saltlab:{name}")) == sorted(
            f"{','.join(sorted(addresses))} {kind} {key} saltlab:{name}" for kind, key in keys.items()
        )
    # each minion's key on the master before the minion starts (not the master's own)
    accepted = {stdin: argv for argv, stdin in ssh_calls()}
    assert sorted(accepted) == [f"PUBLIC KEY OF {n}" for n in ("compute1", "compute2", "controller", "storage")]
    argv = accepted["PUBLIC KEY OF compute1"]
    assert argv[-2] == f"stack@{network_ip}" and argv[-1].startswith("sudo sh -c ")
    assert "/etc/salt/pki/master/minions/compute1" in argv[-1] and "minions_pre/compute1" in argv[-1]
    assert f"UserKnownHostsFile={known_hosts}" in argv and "StrictHostKeyChecking=yes" in argv
    assert ret["network"]["deploy_kwargs"] == {"host": "x"}
    # the master is the bastion, reached as stack, and got the state tree
    assert (config_dir / "var/bastion").read_text() == (
        f"bastion_host={network_ip}\nbastion_key={keyfile}\nbastion_user=stack\n"
    )
    assert (config_dir / "pushed").read_text() == f"{network_ip} stack {network_ip}\n"
    assert ret["storage"]["private_ips"] == ["192.168.1.31"] and ret["storage"]["public_ips"] == []
    # the networks were made once: by the first node
    assert [p for p in posts(compute) if p.startswith(("global/", "regions/"))] == [
        "global/networks",
        "global/networks",
        "global/networks",
        "regions/europe-west1/subnetworks",
        "regions/europe-west1/subnetworks",
        "regions/europe-west1/subnetworks",
        "global/firewalls",
        "global/firewalls",
        "global/firewalls",
        "regions/europe-west1/routers",
    ]


def test_listing_showing_and_a_second_create(compute):
    build_lab()
    # listed across pages (the fake serves 2 a page)
    listed = gce.list_nodes()
    assert sorted(listed) == sorted(LAB)
    assert listed["compute1"]["private_ips"] == ["192.168.1.21", "192.168.2.21"]
    assert listed["network"]["state"] == "RUNNING" and listed["network"]["size"] == "n1-standard-4"
    assert listed["network"]["image"] == "projects/debian-cloud/global/images/family/debian-13"
    full = gce.list_nodes_full()
    assert full["compute1"]["advancedMachineFeatures"] == {"enableNestedVirtualization": True}
    assert gce.show_instance("storage", call="action")["labels"]["saltlab"] == "saltlab"
    gce.__opts__["query.selection"] = ["private_ips", "state"]
    assert gce.list_nodes_select()["storage"] == {"private_ips": ["192.168.1.31"], "state": "RUNNING"}
    before = list(compute.resources())
    with pytest.raises(SaltCloudSystemExit, match="already has an instance named compute1"):
        gce.create(node("compute1"))
    assert compute.resources() == before
    # another lab's instance in the zone is not listed
    compute.instances[(ZONE, "other")] = dict(compute.instances[(ZONE, "storage")], name="other", labels={})
    assert "other" not in gce.list_nodes()


def test_destroy_removes_everything_and_the_networks_last(compute):
    build_lab()
    compute.requests.clear()
    for name in LAB:
        ret = gce.destroy(name, call="action")
        assert ret["destroyed"] == name
    assert (
        ret["networks_deleted"]
        == ["saltlab-mgmt-router"]
        + [f"saltlab-{n}-in" for n in ("public", "mgmt", "underlay")]
        + [f"saltlab-{n}" for n in ("public", "mgmt", "underlay")] * 2
    )
    assert compute.resources() == []
    deleted = deletes(compute)
    assert [d.split("/")[-2] for d in deleted] == ["instances"] * 5 + ["routers"] + ["firewalls"] * 3 + [
        "subnetworks"
    ] * 3 + ["networks"] * 3
    with pytest.raises(SaltCloudSystemExit, match="has no instance network of lab saltlab"):
        gce.destroy("network", call="action")


def test_the_lab_networks_functions(compute):
    assert gce.create_lab_networks(call="function") == {
        "created": ["saltlab-public", "saltlab-mgmt", "saltlab-underlay"] * 2
        + ["saltlab-public-in", "saltlab-mgmt-in", "saltlab-underlay-in", "saltlab-mgmt-router"]
    }
    compute.requests.clear()
    assert gce.create_lab_networks(call="function") == {"created": []}
    assert posts(compute) == []
    gce.create(node("storage", deploy=False))
    with pytest.raises(SaltCloudSystemExit, match="still used by storage; destroy those first"):
        gce.destroy_lab_networks(call="function")
    compute.requests.clear()
    # the node's destroy takes the networks with it
    gce.destroy("storage", call="action")
    assert compute.resources() == []
    assert gce.destroy_lab_networks(call="function") == {"deleted": []}
    with pytest.raises(SaltCloudSystemExit, match="-f or --function"):
        gce.create_lab_networks()


def test_without_a_nat_network_no_router_is_made(compute, provider):
    provider["nat_network"] = ""
    assert "saltlab-mgmt-router" not in gce.create_lab_networks(call="function")["created"]
    assert compute.routers == {}
    assert "saltlab-mgmt-router" not in gce.destroy_lab_networks(call="function")["deleted"]
    assert compute.resources() == []


def test_a_router_the_api_refuses_is_one_message_and_the_next_run_makes_it(compute):
    compute.fail_request(
        "POST",
        "/routers$",
        403,
        "forbidden",
        f"Required 'compute.routers.create' permission for 'projects/{PROJECT}/regions/"
        "europe-west1/routers/saltlab-mgmt-router'",
    )
    with pytest.raises(SaltCloudSystemExit) as info:
        gce.create(node("network"))
    assert str(info.value) == (
        "gce: permission denied while creating router saltlab-mgmt-router: Required 'compute.routers.create' "
        f"permission for 'projects/{PROJECT}/regions/europe-west1/routers/saltlab-mgmt-router' (the service account "
        f"needs Compute Instance Admin (v1), Compute Network Admin, Compute Security Admin and Service Account User "
        f"on project {PROJECT})"
    )
    # no node was started without its way out; the networks made stay for the next run
    assert not [r for r in compute.resources() if r.startswith(("instance/", "disk/", "router/"))]
    compute.fail_operation(
        "insert",
        "/routers/saltlab-mgmt-router$",
        "QUOTA_EXCEEDED",
        "Quota 'ROUTERS' exceeded.  Limit: 0.0 in region europe-west1.",
    )
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: quota exceeded while creating router saltlab-mgmt-router: "
        r"Quota 'ROUTERS' exceeded.  Limit: 0.0 in region europe-west1.$",
    ):
        gce.create_lab_networks(call="function")
    assert compute.routers == {}
    compute.requests.clear()
    assert gce.create_lab_networks(call="function") == {"created": ["saltlab-mgmt-router"]}
    gce.create(node("network"))
    assert (ZONE, "network") in compute.instances


def test_a_failed_push_to_the_master_removes_it(compute, config_dir, monkeypatch):
    monkeypatch.setenv("PUSH_EXIT", "1")
    with pytest.raises(SaltCloudSystemExit, match=r"^gce: tools/push to the new master 203\.0\.113\.\d+ failed"):
        gce.create(node("network"))
    assert not [r for r in compute.resources() if r.startswith(("instance/", "disk/"))]
    # a node that is not the master pushes nothing
    monkeypatch.delenv("PUSH_EXIT")
    (config_dir / "pushed").unlink()
    gce.create(node("controller"))
    assert not (config_dir / "pushed").exists()


def test_the_public_firewall_follows_the_operator_address(compute, provider):
    gce.create_lab_networks(call="function")
    assert gce.update_lab_firewall(call="function")["unchanged"] == "saltlab-public-in"
    provider["operator_address"] = "203.0.113.200"
    ret = gce.update_lab_firewall(call="function")
    assert ret["updated"] == "saltlab-public-in" and ret["source_ranges"] == ["203.0.113.200/32"]
    firewall = compute.firewalls["saltlab-public-in"]
    assert firewall["sourceRanges"] == ["203.0.113.200/32"]
    assert firewall["allowed"][1]["ports"] == [str(p) for p in saltlab_model.proxy_ports(model())]
    compute.firewalls.clear()
    with pytest.raises(SaltCloudSystemExit, match="no firewall saltlab-public-in yet"):
        gce.update_lab_firewall(call="function")


def test_a_forbidden_insert_is_one_message_and_leaves_nothing_of_the_node(compute):
    gce.create(node("network"))
    before = compute.resources()
    compute.fail_request(
        "POST",
        "/instances$",
        403,
        "forbidden",
        f"Required 'compute.instances.create' permission for 'projects/{PROJECT}/zones/{ZONE}/instances/storage'",
    )
    with pytest.raises(SaltCloudSystemExit) as info:
        gce.create(node("storage"))
    assert str(info.value) == (
        f"gce: permission denied while creating instance storage: Required 'compute.instances.create' permission "
        f"for 'projects/{PROJECT}/zones/{ZONE}/instances/storage' (the service account needs Compute Instance Admin "
        f"(v1), Compute Network Admin, Compute Security Admin and Service Account User on project {PROJECT})"
    )
    # the data disk made for it is gone again; the lab is as it was
    assert compute.resources() == before


def test_a_quota_error_in_the_operation_is_one_message(compute):
    compute.fail_operation(
        "insert", "/instances/compute1$", "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1."
    )
    gce.create(node("network"))
    before = compute.resources()
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: quota exceeded while creating instance compute1: "
        r"Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1.$",
    ):
        gce.create(node("compute1"))
    assert compute.resources() == before
    # and it can be made afterwards
    gce.create(node("compute1"))
    assert (ZONE, "compute1") in compute.instances


def test_an_operation_ending_in_error_stops_the_network_setup(compute):
    compute.fail_operation(
        "insert",
        "/subnetworks/saltlab-mgmt$",
        "IP_SPACE_CONFLICT",
        "Invalid IPCidrRange: 192.168.1.0/24 conflicts with an existing route",
        http_status=400,
    )
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: creating subnetwork saltlab-mgmt failed: Invalid "
        r"IPCidrRange: .* \(IP_SPACE_CONFLICT\)$",
    ):
        gce.create(node("network"))
    assert "instance/network" not in compute.resources()
    assert "subnetwork/saltlab-mgmt" not in compute.resources()
    # the next run completes what is missing
    gce.create(node("network"))
    assert "subnetwork/saltlab-mgmt" in compute.resources() and "instance/network" in compute.resources()


def test_an_operation_that_never_ends_times_out_clearly(compute, provider):
    gce.create_lab_networks(call="function")
    compute.hold_operations = True
    provider["operation_timeout"] = 0.2
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"creating instance storage: operation operation-\S+ was not done "
        r"after 0.2 s \(status RUNNING\)",
    ):
        gce.create(node("storage", extra_disk_gb=None, deploy=False))


def test_a_failed_deploy_removes_the_node(compute, bootstrap):
    bootstrap.side_effect = SaltCloudSystemExit("ssh: connection refused")
    with pytest.raises(SaltCloudSystemExit, match="connection refused"):
        gce.create(node("network"))
    bootstrap.side_effect = deployed
    assert [r for r in compute.resources() if r.startswith(("instance/", "disk/"))] == []


@pytest.mark.parametrize(
    "setting, value, error, message",
    [
        ("zone", "mars-north1-a", SaltCloudConfigError, "unknown zone 'mars-north1-a' in project saltlab-test"),
        ("zone", "west", SaltCloudConfigError, "zone 'west' is not a zone name"),
        (
            "project",
            "someone-else",
            SaltCloudSystemExit,
            "permission denied while reading zone europe-west1-b: Required 'compute.europe-west1-b.get' permission for "
            "'projects/someone-else'",
        ),
        (
            "api_endpoint",
            "http://127.0.0.1:1",
            SaltCloudSystemExit,
            "cannot reach the API at 127.0.0.1:1 while reading zone",
        ),
        ("api_endpoint", "ftp://127.0.0.1", SaltCloudConfigError, "must be http"),
    ],
)
def test_bad_provider_settings_are_one_message(compute, provider, setting, value, error, message):
    provider[setting] = value
    with pytest.raises(error, match=message):
        gce.create(node("network"))
    assert posts(compute) == []


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"machine_type": "n1-huge-99"}, "unknown machine type 'n1-huge-99' in zone europe-west1-b"),
        ({"machine_type": "e2-standard-4"}, "e2-standard-4 cannot run nested virtualization"),
        ({"machine_type": None}, "profile gce-compute needs 'machine_type'"),
        (
            {"node": "network", "machine_type": "n1-standard-1"},
            "n1-standard-1 \\(1 vCPUs\\) takes at most 2 NICs, the node has 3",
        ),
        ({"name": "Compute_1"}, "not a valid instance name"),
    ],
)
def test_bad_profiles_are_refused_before_anything_is_made(compute, extra, message):
    name = extra.pop("node", "compute1")
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node(name, **extra))
    assert posts(compute) == []


@pytest.mark.parametrize(
    "name, message",
    [
        ("Lab_1", "model name: must be 1-20 lowercase letters, digits or '-'"),
        (
            "lab-",
            "the model's name 'lab-' must be 1-21 lowercase letters, digits or '-', starting with a letter and not",
        ),
    ],
)
def test_a_bad_lab_name_is_one_message(compute, config_dir, name, message):
    write_model(config_dir, lambda raw: raw.update(name=name))
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node("network"))
    assert posts(compute) == []


def test_a_node_behind_the_gateway_needs_the_network_node_first(compute):
    with pytest.raises(SaltCloudConfigError, match="the master 'network' is not an instance with an external"):
        gce.create(node("compute1"))
    assert posts(compute) == []
    # without a deploy there is no gateway to reach
    gce.create(node("compute1", deploy=False))
    assert (ZONE, "compute1") in compute.instances


def test_the_operator_key_must_exist(compute, keyfile):
    (keyfile.parent / "gcp-default-key.pub").unlink()
    with pytest.raises(SaltCloudConfigError, match="ssh-keygen -t ed25519 -N '' -f .*gcp-default-key"):
        gce.create(node("network"))
    assert compute.requests == []


# ---------------------------------------------------------------------------
# credentials


def _service_account_key(path, compute, register=True, **extra):
    """
    A service-account key file; the fake knows its public half when registered.
    """
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    if register:
        compute.add_service_account(
            f"saltlab@{PROJECT}.iam.gserviceaccount.com",
            rsa_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
        )
    key = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "abc123",
        "private_key": private,
        "client_email": f"saltlab@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{compute.url}/token",
    }
    key.update(extra)
    path.write_text(json.dumps(key))
    return path


def test_a_service_account_key_gives_the_project_and_a_token(compute, provider, tmp_path):
    compute.require_token = True
    del provider["anonymous"], provider["project"]
    provider["service_account_key"] = str(_service_account_key(tmp_path / "key.json", compute))
    gce.create(node("network"))
    assert gce.list_nodes()["network"]["private_ips"] == ["10.99.0.12", "192.168.1.12", "192.168.2.12"]
    # google-auth signs its own JWTs with the key (no token endpoint)
    assert ("POST", "/token") not in compute.requests


def test_without_a_token_the_fake_answers_401_and_the_driver_says_so(compute, provider):
    compute.require_token = True
    with pytest.raises(SaltCloudSystemExit, match="the API rejected the credentials while listing the instances"):
        gce.list_nodes()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "the service-account key .*key.json is missing; create a JSON key"),
        ("not json", "is not a JSON file"),
        (
            json.dumps({"type": "authorized_user", "client_id": "x"}),
            "is not a service-account key \\(type: 'authorized_user'\\)",
        ),
        (
            json.dumps(
                {
                    "type": "service_account",
                    "client_email": "x@y",
                    "token_uri": "http://127.0.0.1:1/token",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
                }
            ),
            "is not usable",
        ),
    ],
)
def test_a_bad_key_file_is_one_message(compute, provider, tmp_path, content, message):
    del provider["anonymous"]
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    provider["service_account_key"] = str(key)
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.list_nodes()
    assert compute.requests == []


def test_a_key_the_api_does_not_know_is_one_message(compute, provider, tmp_path):
    compute.require_token = True
    del provider["anonymous"]
    provider["service_account_key"] = str(_service_account_key(tmp_path / "key.json", compute, register=False))
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: the API rejected the credentials while listing the "
        r"instances of zone europe-west1-b: Request is missing required "
        r"authentication credential.* \(check service_account_key .*key.json\)$",
    ):
        gce.list_nodes()


def test_catalogues(compute):
    assert gce.avail_locations()["europe-west1-b"] == {"region": "europe-west1", "status": "UP"}
    sizes = gce.avail_sizes()
    assert sizes["n1-standard-4"]["cpus"] == 4 and sizes["n1-standard-4"]["nested_virtualization"] is True
    assert sizes["e2-standard-4"]["nested_virtualization"] is False
    images = gce.avail_images()
    assert (
        images["projects/debian-cloud/global/images/debian-13-trixie-v20251111"]["family_link"]
        == "projects/debian-cloud/global/images/family/debian-13"
    )
    with pytest.raises(SaltCloudSystemExit, match="-f or --function"):
        gce.avail_images(call="action")
    with pytest.raises(SaltCloudSystemExit, match="-a or --action"):
        gce.show_instance("network")


# ---------------------------------------------------------------------------
# the fake's wire format (what the real client parses)


def test_the_fake_answers_in_the_apis_shapes(compute):
    base = f"{compute.url}/compute/v1/projects/{PROJECT}"
    op = requests.post(f"{base}/global/networks", json={"name": "n1", "autoCreateSubnetworks": False}).json()
    assert op["kind"] == "compute#operation" and op["status"] == "RUNNING" and op["operationType"] == "insert"
    assert isinstance(op["id"], str) and op["targetLink"].endswith(f"/projects/{PROJECT}/global/networks/n1")
    assert op["selfLink"].endswith(f"/global/operations/{op['name']}")
    # the name is taken while the insert runs
    conflict = requests.post(f"{base}/global/networks", json={"name": "n1", "autoCreateSubnetworks": False})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["errors"][0]["reason"] == "alreadyExists"
    done = requests.get(f"{base}/global/operations/{op['name']}").json()
    assert done["status"] == "DONE" and done["progress"] == 100 and "error" not in done
    network = requests.get(f"{base}/global/networks/n1").json()
    assert network["kind"] == "compute#network" and network["selfLink"] == op["targetLink"] and network["mtu"] == 1460
    missing = requests.get(f"{base}/global/networks/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": 404,
        "message": f"The resource 'projects/{PROJECT}/global/networks/nope' was not found",
        "status": "NOT_FOUND",
        "errors": [
            {
                "message": f"The resource 'projects/{PROJECT}/global/networks/nope' was not found",
                "domain": "global",
                "reason": "notFound",
            }
        ],
    }
    assert requests.get(f"{compute.url}/compute/v1/projects/other/global/networks").json()["error"]["code"] == 403
    for name in ("n2", "n3"):
        op = requests.post(f"{base}/global/networks", json={"name": name, "autoCreateSubnetworks": False}).json()
        requests.post(f"{base}/global/operations/{op['name']}/wait")
    first = requests.get(f"{base}/global/networks").json()
    assert first["kind"] == "compute#networkList" and [n["name"] for n in first["items"]] == ["n1", "n2"]
    second = requests.get(f"{base}/global/networks", params={"pageToken": first["nextPageToken"]}).json()
    assert [n["name"] for n in second["items"]] == ["n3"] and "nextPageToken" not in second
    # an operation that fails is DONE with the error and changes nothing
    compute.fail_operation("delete", "/networks/n3$", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "in use", http_status=400)
    op = requests.delete(f"{base}/global/networks/n3").json()
    failed = requests.post(f"{base}/global/operations/{op['name']}/wait").json()
    assert failed["status"] == "DONE" and failed["httpErrorStatusCode"] == 400
    assert failed["error"] == {"errors": [{"code": "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "message": "in use"}]}
    assert "n3" in compute.networks


def test_the_fake_serves_routers_with_cloud_nat(compute):
    base = f"{compute.url}/compute/v1/projects/{PROJECT}"
    op = requests.post(f"{base}/global/networks", json={"name": "n1", "autoCreateSubnetworks": False}).json()
    requests.post(f"{base}/global/operations/{op['name']}/wait")
    nat = {
        "name": "nat1",
        "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "natIpAllocateOption": "AUTO_ONLY",
    }
    op = requests.post(
        f"{base}/regions/europe-west1/routers", json={"name": "r1", "network": "global/networks/n1", "nats": [nat]}
    ).json()
    assert op["kind"] == "compute#operation" and op["selfLink"].endswith(
        f"/regions/europe-west1/operations/{op['name']}"
    )
    assert requests.post(f"{base}/regions/europe-west1/operations/{op['name']}/wait").json()["status"] == "DONE"
    router = requests.get(f"{base}/regions/europe-west1/routers/r1").json()
    assert router["kind"] == "compute#router" and router["selfLink"] == op["targetLink"]
    assert router["network"] == f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/n1"
    assert router["nats"][0]["natIpAllocateOption"] == "AUTO_ONLY"
    listed = requests.get(f"{base}/regions/europe-west1/routers").json()
    assert listed["kind"] == "compute#routerList" and [r["name"] for r in listed["items"]] == ["r1"]
    # one NAT for all of a network's subnetworks per region; bad NAT settings; the network is in use
    second = requests.post(
        f"{base}/regions/europe-west1/routers", json={"name": "r2", "network": "global/networks/n1", "nats": [nat]}
    )
    assert second.status_code == 400 and "already has a NAT" in second.json()["error"]["message"]
    bad = requests.post(
        f"{base}/regions/europe-west1/routers",
        json={"name": "r3", "network": "global/networks/n1", "nats": [dict(nat, natIpAllocateOption="MANUAL_ONLY")]},
    )
    assert bad.status_code == 400 and "natIps" in bad.json()["error"]["message"]
    in_use = requests.delete(f"{base}/global/networks/n1")
    assert in_use.status_code == 400 and "routers/r1" in in_use.json()["error"]["message"]
    op = requests.delete(f"{base}/regions/europe-west1/routers/r1").json()
    requests.post(f"{base}/regions/europe-west1/operations/{op['name']}/wait")
    assert requests.get(f"{base}/regions/europe-west1/routers/r1").status_code == 404
    assert compute.routers == {}


# ---------------------------------------------------------------------------
# tools/push and the deploy script


@pytest.fixture
def push_tree(tmp_path):
    """
    A copy of tools/push in a checkout of its own, with an ssh and an rsync
    on PATH that record their arguments instead of connecting.
    """
    tree = tmp_path / "checkout"
    (tree / "tools").mkdir(parents=True)
    shutil.copy(REPO / "tools/push", tree / "tools/push")
    for part in ("salt", "pillar", "_modules", "_utils"):
        (tree / part).mkdir()
    (tree / "pillar/secrets.json").write_text("{}\n")
    shims = tmp_path / "bin"
    shims.mkdir()
    for command in ("ssh", "rsync"):
        (shims / command).write_text(
            f'#!/bin/sh\nprintf "%s|" {command} "$@" >> "{tmp_path}/calls"\necho >> "{tmp_path}/calls"\n'
        )
        (shims / command).chmod(0o755)

    def run(*args, bastion=None):
        if bastion is not None:
            (tree / "var").mkdir(exist_ok=True)
            (tree / "var/bastion").write_text(bastion)
        (tmp_path / "calls").unlink(missing_ok=True)
        env = dict(os.environ, PATH=f"{shims}:{os.environ['PATH']}")
        proc = subprocess.run([str(tree / "tools/push"), *args], env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return [line.rstrip("|").split("|") for line in (tmp_path / "calls").read_text().splitlines()]

    return run


def test_push_logs_in_as_root_by_default(push_tree):
    calls = push_tree(bastion="bastion_host=10.99.0.12\nbastion_key=var/ssh/lab_ed25519\n")
    # the host key recorded when the node was made, checked
    assert "StrictHostKeyChecking=yes" in calls[0] and "UserKnownHostsFile=var/ssh/known_hosts" in calls[0]
    assert calls[0][0] == "ssh" and calls[0][-2:] == [
        "root@10.99.0.12",
        "install -d -m 0755 /srv/saltlab && install -d -m 0700 /srv/saltlab/pillar",
    ]
    rsyncs = [c for c in calls if c[0] == "rsync"]
    assert [c[-1] for c in rsyncs] == [
        "root@10.99.0.12:/srv/saltlab/salt/",
        "root@10.99.0.12:/srv/saltlab/salt/_modules/",
        "root@10.99.0.12:/srv/saltlab/salt/_utils/",
        "root@10.99.0.12:/srv/saltlab/pillar/",
    ]
    # of _utils, only the openstack modules' table and machinery
    assert rsyncs[2][1:-2][-2:] == ["--include=openstack_*.py", "--exclude=*"]
    assert not any(a.startswith("--rsync-path") for c in rsyncs for a in c)


@pytest.mark.parametrize(
    "args, bastion",
    [
        ((), "bastion_host=203.0.113.10\nbastion_key=/k/gcp-default-key\nbastion_user=stack\n"),
        (("stack@203.0.113.10",), ""),
    ],
)
def test_push_uses_sudo_for_another_user(push_tree, args, bastion):
    calls = push_tree(*args, bastion=bastion)
    assert calls[0][-2:] == [
        "stack@203.0.113.10",
        "sudo install -d -m 0755 /srv/saltlab && sudo install -d -m 0700 /srv/saltlab/pillar",
    ]
    rsyncs = [c for c in calls if c[0] == "rsync"]
    assert len(rsyncs) == 4
    for call in rsyncs:
        assert "--rsync-path=sudo rsync" in call and call[-1].startswith("stack@203.0.113.10:/srv/saltlab/")


def test_the_gce_profiles_deploy_salt_with_saltlab_gce():
    script = REPO / "cloud.deploy.d/saltlab-gce.sh"
    for name, profile in profiles().items():
        assert profile["script"] == "saltlab-gce" and profile["ssh_username"] == "stack", name
        # the files it runs with are uploaded from the checkout to where it looks for them
        assert sorted(profile["file_map"].values()) == [
            "/var/tmp/saltlab-deploy/requirements.txt",
            "/var/tmp/saltlab-deploy/saltlab-node.sh",
        ]
        assert all((REPO / local).is_file() for local in profile["file_map"]), name
    # what salt-cloud uploads: rendered as a Jinja template, it must stay the same shell
    rendered = salt.utils.cloud.os_script(
        "saltlab-gce", {}, {"deploy_scripts_search_path": [str(REPO / "cloud.deploy.d")]}
    )
    assert rendered == script.read_text().rstrip("\n")
    # salt-cloud adds the bootstrap flags (-c DIR -M ...) only to scripts that name bootstrap-salt
    assert "bootstrap-salt" in rendered
    subprocess.run(["sh", "-n", str(script)], check=True)
    # the pin it installs is the operator's
    pins = dict(
        line.split("==")
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.startswith(("salt==", "saltext."))
    )
    assert pins["salt"] == "3008.3"
    [expression] = re.findall(r"^extensions=\$\(sed -n '([^']+)'", rendered, re.M)
    out = subprocess.run(
        ["sed", "-n", expression, str(REPO / "requirements.txt")], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == [f"{k}=={v}" for k, v in pins.items() if k != "salt"]


def test_a_destroyed_nodes_key_and_host_keys_leave_the_master_and_the_operator(compute, config_dir, ssh_calls):
    build_lab()
    known_hosts = config_dir / "var/ssh/known_hosts"
    before = len(ssh_calls())
    gce.destroy("compute1", call="action")
    [(argv, _stdin)] = ssh_calls()[before:]
    assert argv[-1] == "sudo sh -c 'salt-key -y -d compute1'"
    assert "saltlab:compute1" not in known_hosts.read_text() and "saltlab:compute2" in known_hosts.read_text()
    # the master goes with its record; the nodes destroyed after it ask nothing of it
    gce.destroy("network", call="action")
    assert not (config_dir / "var/bastion").exists()
    gce.destroy("storage", call="action")
    assert len(ssh_calls()) == before + 1
    # re-created, a node's key is accepted on the master again
    gce.create(node("network"))
    gce.create(node("compute1", pub_key="NEW KEY OF compute1"))
    assert ssh_calls()[-1][1] == "NEW KEY OF compute1"


def test_without_published_host_keys_the_first_key_is_trusted(compute, provider, config_dir, ssh_calls, bootstrap):
    compute.publish_host_keys = False
    provider["hostkeys_timeout"] = 0.05
    gce.create(node("network"))
    [(argv, _stdin)] = ssh_calls()
    assert "StrictHostKeyChecking=accept-new" in argv and argv[-1] == "true"
    assert bootstrap.call_args.args[0]["known_hosts_file"] == str(config_dir / "var/ssh/known_hosts")


# ---------------------------------------------------------------------------
# what a first real run met (issue 11)


def test_every_node_gets_the_masters_external_address_as_the_proxy_address(compute, bootstrap):
    build_lab()
    external = compute.instances[(ZONE, "network")]["networkInterfaces"][0]["accessConfigs"][0]["natIP"]
    grains = {call.args[0]["name"]: call.args[0]["grains"] for call in bootstrap.call_args_list}
    assert sorted(grains) == sorted(LAB)
    # the 1:1 NAT address outside the VM, not the NIC's 10.99.0.12
    assert {g["saltlab_proxy_address"] for g in grains.values()} == {external}
    assert external != "10.99.0.12"
    assert grains["controller"]["roles"] == ["controller"]


def test_the_proxy_address_is_the_grain_unless_pillar_sets_it():
    text = (REPO / "salt/lib/lab.jinja").read_text()
    chain = text[text.index("'proxy_address':") :].split("%}")[0]
    # pillar first, then the driver's grain, then the model's address
    assert chain.index("saltlab:proxy:public_address") < chain.index("saltlab_proxy_address")
    assert chain.index("saltlab_proxy_address") < chain.index("master_public_address")


def test_a_disabled_compute_api_says_which_api_to_enable_and_how(compute):
    compute.api_enabled = False
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: the Compute Engine API is not enabled in project saltlab-test \(seen while listing the "
        r"instances of zone europe-west1-b\): enable it with `gcloud services enable compute.googleapis.com "
        r"--project saltlab-test`",
    ):
        gce.list_nodes()
    with pytest.raises(SaltCloudSystemExit, match="not enabled in project saltlab-test") as info:
        gce.create(node("network"))
    assert "permission denied" not in str(info.value) and "needs Compute" not in str(info.value)


def test_application_default_credentials_when_there_is_no_key(compute, provider, tmp_path, monkeypatch):
    # google.auth.default() finds them (here GOOGLE_APPLICATION_CREDENTIALS: a
    # service account's; gcloud's user credentials always ask Google's own token endpoint)
    compute.require_token = True
    del provider["anonymous"], provider["project"]
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.keys/gcp_service_account.json
    adc = _service_account_key(tmp_path / "adc.json", compute)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    gce.create(node("network"))  # the project is the credentials'
    assert "network" in gce.list_nodes()


def test_without_key_or_application_default_credentials_one_message(compute, provider, tmp_path, monkeypatch):
    del provider["anonymous"]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:1")
    with pytest.raises(
        SaltCloudConfigError,
        match=r"no credentials: no service-account key at .* and no application-default credentials .*"
        r"gcloud auth application-default login",
    ):
        gce.list_nodes()
    assert compute.requests == []


def test_credentials_impersonating_a_service_account(compute, provider, tmp_path, monkeypatch):
    compute.require_token = True
    del provider["anonymous"], provider["project"]
    target = "lab-deployer@saltlab-test.iam.gserviceaccount.com"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_service_account_key(tmp_path / "adc.json", compute)))
    provider.update(impersonate_service_account=target, iam_endpoint=compute.url)
    compute.impersonable.add(target)
    gce.create(node("network"))  # the project is the impersonated account's
    assert any(p.endswith(f"/serviceAccounts/{target}:generateAccessToken") for _m, p in compute.requests)
    # an account the credentials may not impersonate: one message saying what is missing
    compute.impersonable.clear()
    provider["impersonate_service_account"] = "other@saltlab-test.iam.gserviceaccount.com"
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: impersonating other@saltlab-test.iam.gserviceaccount.com was refused while .*"
        r"Service Account Token Creator",
    ):
        gce.list_nodes()


def test_a_project_with_os_login_gets_instances_that_use_the_ssh_keys(compute, capfd):
    compute.project_metadata = {"enable-oslogin": "TRUE"}
    gce.create(node("network"))
    items = {i["key"]: i["value"] for i in compute.instances[(ZONE, "network")]["metadata"]["items"]}
    assert items["enable-oslogin"] == "FALSE" and items["ssh-keys"].startswith("stack:ssh-ed25519 ")
    assert "enables OS Login; the lab's instances set enable-oslogin=FALSE" in capfd.readouterr().err


def test_the_public_rule_targets_the_master_only(compute, provider):
    build_lab()
    rule = compute.firewalls["saltlab-public-in"]
    assert rule["targetTags"] == ["saltlab-proxy"]
    tags = {name: compute.instances[(ZONE, name)]["tags"]["items"] for name in LAB}
    assert tags["network"] == ["saltlab-proxy"] and all(tags[n] == [] for n in LAB if n != "network")
    # the internal networks' rules have no target: every instance on them
    assert "targetTags" not in compute.firewalls["saltlab-mgmt-in"]
    # a rule made without a target gets one from update_lab_firewall
    del rule["targetTags"]
    assert gce.update_lab_firewall(call="function")["target_tags"] == ["saltlab-proxy"]
    assert compute.firewalls["saltlab-public-in"]["targetTags"] == ["saltlab-proxy"]


@pytest.mark.parametrize("value", ["0.0.0.0/0", "198.51.0.0/16", "198.51.100.0/23"])
def test_an_operator_range_wider_than_a_24_is_refused_unless_forced(compute, provider, value):
    provider["operator_address"] = value
    with pytest.raises(SaltCloudConfigError, match=r"wider than a /24\); give your own address, or set "):
        gce.create(node("network"))
    assert compute.resources() == []
    provider["operator_range_force"] = True
    gce.create(node("network"))
    assert compute.firewalls["saltlab-public-in"]["sourceRanges"] == [value]


def test_a_24_is_let_in(compute, provider):
    provider["operator_address"] = "198.51.100.0/24"
    gce.create_lab_networks(call="function")
    assert compute.firewalls["saltlab-public-in"]["sourceRanges"] == ["198.51.100.0/24"]


def test_a_failed_first_node_removes_the_networks_it_made(compute, capsys):
    compute.fail_operation("insert", "/instances/network$", "QUOTA_EXCEEDED", "Quota 'IN_USE_ADDRESSES' exceeded.")
    with pytest.raises(SaltCloudSystemExit, match="quota exceeded while creating instance network"):
        gce.create(node("network"))
    # nothing billed stays: no network, rule, router (Cloud NAT) or disk
    assert compute.resources() == []
    assert "removing the lab's networks it made" in capsys.readouterr().err


def test_a_failed_node_keeps_the_networks_others_use(compute):
    gce.create(node("network"))
    before = compute.resources()
    compute.fail_operation("insert", "/instances/controller$", "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.")
    with pytest.raises(SaltCloudSystemExit):
        gce.create(node("controller"))
    assert compute.resources() == before


def test_a_failed_network_setup_removes_what_it_had_made(compute):
    compute.fail_operation("insert", "/global/firewalls/saltlab-mgmt-in$", "INTERNAL", "backend error", 500)
    with pytest.raises(SaltCloudSystemExit, match="creating firewall saltlab-mgmt-in failed"):
        gce.create(node("network"))
    assert compute.resources() == []


@pytest.mark.parametrize(
    "machine_type, wanted, chosen",
    [
        ("n1-standard-4", None, "pd-balanced"),
        ("n2-standard-8", "pd-ssd", "pd-ssd"),
        ("n4-standard-4", None, "hyperdisk-balanced"),
        ("c4-standard-8", None, "hyperdisk-balanced"),
        ("h3-standard-88", "hyperdisk-balanced", "hyperdisk-balanced"),
    ],
)
def test_the_disk_type_follows_the_machine_series(machine_type, wanted, chosen):
    assert gce_instance.disk_type(machine_type, wanted) == chosen


@pytest.mark.parametrize("machine_type", ["n4-standard-4", "c4-standard-4", "h3-standard-88"])
def test_a_persistent_disk_on_a_hyperdisk_only_series_is_refused(compute, machine_type):
    with pytest.raises(SaltCloudConfigError, match=rf"{machine_type} \(series .*\) takes only Hyperdisk"):
        gce.create(node("compute1", machine_type=machine_type, disk_type="pd-balanced"))
    assert compute.resources() == []


def test_a_hyperdisk_only_series_gets_hyperdisk_disks(compute):
    gce.create(node("network"))
    gce.create(node("storage", machine_type="n4-standard-4"))
    types = {d["name"]: d["type"].rsplit("/", 1)[-1] for (_z, _n), d in compute.disks.items()}
    assert types["storage"] == "hyperdisk-balanced" and types["storage-data"] == "hyperdisk-balanced"
    assert types["network"] == "pd-balanced"


def test_the_fake_refuses_a_persistent_disk_on_n4_as_the_api_does(compute):
    gce.create(node("network"))
    spec = {
        "machine_type": "n4-standard-4",
        "nics": ["mgmt"],
        "addresses": {"mgmt": "192.168.1.31"},
        "image": "projects/debian-cloud/global/images/family/debian-13",
        "disk_size_gb": 20,
        "disk_type": "pd-balanced",
        "ssh_username": "stack",
    }
    body = gce_instance.instance_body(PROJECT, ZONE, "saltlab", "storage", spec, nets(), "ssh-ed25519 AAAA op\n")
    answer = requests.post(
        f"{compute.url}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances",
        data=type(body).to_json(body),
        timeout=10,
    )
    assert answer.status_code == 400 and "[pd-balanced] features are not compatible" in answer.text


def test_request_timeout_bounds_each_call(compute, provider):
    provider["request_timeout"] = 0.3
    compute.delay = 1.5
    with pytest.raises(SaltCloudSystemExit, match=r"did not answer in time while listing the instances"):
        gce.list_nodes()
