"""
The lab model (pillar/model.yaml) and its reader (_utils/saltlab_model.py):
the repository's model builds the lab the README describes, and a model or
a map that cannot build a lab is refused with one line naming the key.
"""

import copy

import pytest
import saltlab_model
import yaml

from conftest import REPO

MODEL = REPO / "pillar" / "model.yaml"


@pytest.fixture(scope="module")
def model():
    return saltlab_model.load(MODEL)


@pytest.fixture
def raw():
    return yaml.safe_load(MODEL.read_text())


def test_the_repository_model_makes_the_readme_lab(model):
    assert model["purposes"] == {"public": "public", "management": "mgmt", "underlay": "underlay"}
    assert model["mtus"] == {"path": 1460, "physnet": 1410, "vxlan_overhead": 50}
    assert saltlab_model.node(model, "controller")["addresses"] == {"public": "10.99.0.11", "mgmt": "192.168.1.11"}
    assert saltlab_model.node(model, "network")["addresses"] == {
        "public": "10.99.0.12",
        "mgmt": "192.168.1.12",
        "underlay": "192.168.2.12",
    }
    compute3 = saltlab_model.node(model, "compute3")
    assert (compute3["kind"], compute3["host"], compute3["roles"]) == ("compute", 23, ["compute"])
    assert compute3["addresses"] == {"mgmt": "192.168.1.23", "underlay": "192.168.2.23"}
    assert saltlab_model.node(model, "storage")["addresses"] == {"mgmt": "192.168.1.31"}
    assert saltlab_model.master_address(model) == "192.168.1.12"
    assert saltlab_model.proxy_ports(model) == [22, 443, 5000, 6080, 8774, 8776, 8778, 9292, 9696, 9876]
    assert saltlab_model.proxy_ports(model, ["keystone"]) == [22, 5000, 6080]


def test_compute_nodes_get_no_database_or_admin_secret(model):
    compute = saltlab_model.secrets_for(model, ["compute"])
    assert "mariadb_root" not in compute and "keystone_admin" not in compute
    assert "nova_service" in compute
    # Ceph's keys stay on the storage node; compute nodes get client.cinder's, for libvirt
    ceph = {name for name in model["secrets"] if name.startswith("ceph_")}
    # the amphorae's heartbeat key and the passphrase of their CA's key stay on the network node
    amphorae = {"octavia_heartbeat", "octavia_ca_passphrase"}
    assert set(saltlab_model.secrets_for(model, ["controller"])) == set(model["secrets"]) - ceph - amphorae
    assert amphorae <= set(saltlab_model.secrets_for(model, ["network"]))
    assert not amphorae & (set(compute) | set(saltlab_model.secrets_for(model, ["storage"])))
    assert ceph & set(compute) == {"ceph_cinder_key"}
    storage = set(saltlab_model.secrets_for(model, ["storage"]))
    assert ceph <= storage and {"cinder_db", "rabbitmq_openstack"} <= storage
    assert "mariadb_root" not in storage and "keystone_admin" not in storage


@pytest.mark.parametrize(
    "name, message",
    [
        ("compute10", "the model allows compute1 to compute9"),
        ("compute0", "is not a node of the lab model"),
        ("compute01", "is not a node of the lab model"),
        ("storage\n", "is not a node of the lab model"),
        ("Controller", "is not a node of the lab model"),
        ("", "is not a node of the lab model"),
    ],
)
def test_names_that_are_no_node_of_the_model(model, name, message):
    with pytest.raises(saltlab_model.ModelError, match=message):
        saltlab_model.node(model, name)


def test_a_map_names_each_node_once(model):
    assert sorted(saltlab_model.check_names(model, ["network", "compute1", "compute2"])) == [
        "compute1",
        "compute2",
        "network",
    ]
    with pytest.raises(saltlab_model.ModelError, match="node compute1 is in the map twice"):
        saltlab_model.check_names(model, ["compute1", "network", "compute1"])


def edit(raw, path, value):
    changed = copy.deepcopy(raw)
    *parents, last = path.split(":")
    target = changed
    for key in parents:
        target = target[key]
    target[last] = value
    return changed


@pytest.mark.parametrize(
    "path, value, message",
    [
        (
            "networks:underlay:cidr",
            "192.168.1.0/24",
            "model networks:underlay:cidr: 192.168.1.0/24 overlaps networks:mgmt",
        ),
        ("networks:mgmt:cidr", "192.168.1.0/33", "model networks:mgmt:cidr: is not an IPv4 network"),
        ("networks:mgmt:cidr", "192.168.1.1/24", "model networks:mgmt:cidr: is not an IPv4 network"),
        ("networks:mgmt:mtu", "abc", "model networks:mgmt:mtu: must be an integer 1280-9000, got 'abc'"),
        ("networks:mgmt:mtu", True, "model networks:mgmt:mtu: must be an integer"),
        ("networks:underlay:mtu", 1000, "model networks:underlay:mtu: must be an integer 1280-9000"),
        ("networks:public:gateway", "10.98.0.1", "model networks:public:gateway: 10.98.0.1 is not a host address"),
        ("networks:mgmt:management", False, "model networks: no network is marked `management: true`"),
        ("networks:underlay:public", True, "model networks:underlay:public: networks:public is already"),
        ("external:cidr", "192.168.2.0/25", "model external:cidr: 192.168.2.0/25 overlaps networks:underlay"),
        ("external:gateway", "172.16.1.1", "model external:gateway: 172.16.1.1 is not a host address"),
        # compute11 would take storage's .31
        ("nodes:compute:count", 11, "model nodes:storage:host: host number 31 is also compute11's"),
        ("nodes:compute:count", 0, "model nodes:compute:count: must be an integer 1-99"),
        ("nodes:storage:host", 255, "model nodes:storage:host: must be an integer 1-254"),
        ("nodes:controller:host", 1, "model nodes:controller:host: host number 1 is the gateway's"),
        ("nodes:storage:nics", ["public"], "model nodes:storage:nics: every node needs the management network"),
        ("nodes:storage:nics", ["mgmt", "san"], "model nodes:storage:nics: unknown network 'san'"),
        ("master", "compute", "model master: must name a node kind without count"),
        ("master", "storage", "model master: storage has no NIC on the public network"),
        ("entry:novnc_port", 5000, "model catalog:keystone: the proxy's port 5000 is also entry:novnc_port"),
        ("catalog:glance:port", "9292", "model catalog:glance:port: must be an integer 1-65535"),
        ("secrets:mariadb_root", ["dbserver"], "model secrets:mariadb_root: must list roles of the model's nodes"),
    ],
)
def test_a_model_that_cannot_build_a_lab_names_the_key(raw, path, value, message):
    with pytest.raises(saltlab_model.ModelError) as error:
        saltlab_model.check(edit(raw, path, value))
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("order", [("public", "mgmt", "underlay"), ("underlay", "public", "mgmt")])
def test_overlapping_networks_are_named_alike_in_any_order(raw, order):
    # a pillar's mapping is not in the file's order (seen on a lab's master)
    changed = edit(raw, "networks:underlay:cidr", raw["networks"]["mgmt"]["cidr"])
    changed["networks"] = {name: changed["networks"][name] for name in order}
    with pytest.raises(saltlab_model.ModelError) as error:
        saltlab_model.check(changed)
    assert str(error.value) == "model networks:underlay:cidr: 192.168.1.0/24 overlaps networks:mgmt:cidr 192.168.1.0/24"


def test_an_unreadable_model_is_one_line(tmp_path):
    with pytest.raises(saltlab_model.ModelError, match="cannot be read: No such file or directory"):
        saltlab_model.load(tmp_path / "model.yaml")
    (tmp_path / "model.yaml").write_text("networks: [\n")
    with pytest.raises(saltlab_model.ModelError, match="is not YAML"):
        saltlab_model.load(tmp_path / "model.yaml")
