"""
The gce salt-cloud driver makes, lists and destroys the lab against the
local fake of the Compute REST API (tests/fakes/compute_api.py; the set-up
the gce tests share is in tests/unit/gce_fixtures.py): the lab's
networks, subnetworks, firewalls, router, instances and disks are made
once, reused, and deleted with the last node, the router first, networks
last; each node's roles grain and master come from the model, its proxy
address grain is the master's external address, its host keys come from
its guest attributes into var/ssh/known_hosts (or the first key is
trusted), its minion key is put on the master and taken off when it is
destroyed; the deployed master is recorded in var/bastion (user stack) and
pushed to, and a node behind it is made only once it is. A project with
OS Login gets instances that use the ssh-keys; a Hyperdisk-only series
gets Hyperdisk disks; the zones, machine types and images are listed.
"""

import gce
import pytest
import saltlab_model
from gce_fixtures import LAB, OPERATOR, PROJECT, REPO, ZONE, build_lab, model, node, posts
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

# isort: split
# the fixtures of gce_fixtures.py, found here by name (with those they
# need), and OPERATOR_KEY, which names the key conftest's keyfile makes
from gce_fixtures import OPERATOR_KEY, compute, config_dir, configure_loader_modules, provider

__all__ = ["OPERATOR_KEY", "compute", "config_dir", "configure_loader_modules", "provider"]


def deletes(compute):
    return [path.split(f"/projects/{PROJECT}/", 1)[-1] for method, path in compute.requests if method == "DELETE"]


def nics(instance):
    return [
        (nic["network"].rsplit("/", 1)[-1], nic["networkIP"], bool(nic.get("accessConfigs")))
        for nic in instance["networkInterfaces"]
    ]


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


def test_a_node_behind_the_gateway_needs_the_network_node_first(compute):
    with pytest.raises(SaltCloudConfigError, match="the master 'network' is not an instance with an external"):
        gce.create(node("compute1"))
    assert posts(compute) == []
    # without a deploy there is no gateway to reach
    gce.create(node("compute1", deploy=False))
    assert (ZONE, "compute1") in compute.instances


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


def test_a_project_with_os_login_gets_instances_that_use_the_ssh_keys(compute, capfd):
    compute.project_metadata = {"enable-oslogin": "TRUE"}
    gce.create(node("network"))
    items = {i["key"]: i["value"] for i in compute.instances[(ZONE, "network")]["metadata"]["items"]}
    assert items["enable-oslogin"] == "FALSE" and items["ssh-keys"].startswith("stack:ssh-ed25519 ")
    assert "enables OS Login; the lab's instances set enable-oslogin=FALSE" in capfd.readouterr().err


def test_a_hyperdisk_only_series_gets_hyperdisk_disks(compute):
    gce.create(node("network"))
    gce.create(node("storage", machine_type="n4-standard-4"))
    types = {d["name"]: d["type"].rsplit("/", 1)[-1] for (_z, _n), d in compute.disks.items()}
    assert types["storage"] == "hyperdisk-balanced" and types["storage-data"] == "hyperdisk-balanced"
    assert types["network"] == "pd-balanced"
