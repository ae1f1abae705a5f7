"""
The gce salt-cloud driver's lab networks against the local fake of the
Compute REST API (the set-up the gce tests share is in
tests/unit/gce_fixtures.py): create_lab_networks and destroy_lab_networks,
the Cloud Router (none without a NAT network; one the API refuses is one
message, and the next run makes it), the public firewall rule from the
operator's address (detected when not given; a range wider than a /24
only when forced), on the master only, and kept up to date by
update_lab_firewall; an operation that ends in error stops the network
setup (the next run completes it), a failed network setup or first node
removes the networks it made, a failed node keeps those the others use.
"""

import gce
import pytest
import saltlab_model
from gce_fixtures import LAB, OPERATOR, PROJECT, ZONE, build_lab, model, node, posts
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

# isort: split
# the fixtures of gce_fixtures.py, found here by name (with those they
# need), and OPERATOR_KEY, which names the key conftest's keyfile makes
from gce_fixtures import OPERATOR_KEY, compute, config_dir, configure_loader_modules, provider

__all__ = ["OPERATOR_KEY", "compute", "config_dir", "configure_loader_modules", "provider"]


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


# ---------------------------------------------------------------------------
# what a first real run met (issue 11)


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
