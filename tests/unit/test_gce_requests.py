"""
The gce salt-cloud driver's requests (tests/unit/gce_fixtures.py has the
set-up the gce tests share): the instance, network, subnetwork, router
and firewall resources carry the right NICs in the right order with the
lab model's fixed addresses, the nested-virtualization flag on compute
nodes only (and only on Intel families), the ssh-keys metadata for stack,
labels, the storage disk and a disk type the machine series takes; the
public firewall opens the proxy's ports (the model's) to the operator's
address only; the mgmt network's Cloud Router has one NAT for all its
ranges. A model with bad NICs, host numbers or networks, or a NAT network
that is not an internal one, is refused before anything is made.
"""

import gce
import gce_instance
import gce_network
import pytest
import saltlab_model
from gce_fixtures import OPERATOR, PROJECT, ZONE, model, nets, node, posts, write_model
from salt.exceptions import SaltCloudConfigError

# isort: split
# the fixtures of gce_fixtures.py, found here by name (with those they
# need), and OPERATOR_KEY, which names the key conftest's keyfile makes
from gce_fixtures import OPERATOR_KEY, compute, config_dir, configure_loader_modules, provider

__all__ = ["OPERATOR_KEY", "compute", "config_dir", "configure_loader_modules", "provider"]


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


# ---------------------------------------------------------------------------
# what a first real run met (issue 11)


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
