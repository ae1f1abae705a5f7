"""
Tests of the openstack execution module driving the real openstacksdk
against the fake OpenStack APIs (``tests/fakes/openstack_api.py``):
create, get, update and delete of each kind, lookups by name in their
scope, references by name, awaited statuses, and API failures (also on a
listing's second page) as CommandExecutionError with the API's message.
"""

import json
import socket
import sys
from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError

import extensions
from fakes.openstack_api import OpenStackAPI

module = extensions.load("_modules", "openstack")


@pytest.fixture
def api(tmp_path, monkeypatch):
    with OpenStackAPI() as api:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(api.clouds_yaml(tmp_path / "clouds.yaml")))
        monkeypatch.setattr(module.sdk, "POLL_INTERVAL", 0)
        yield api


@pytest.fixture
def configure_loader_modules(api):
    config = {"openstack:cloud": "fake-admin"}
    return {module: {"__salt__": {"config.get": lambda key, default=None: config.get(key, default)}, "__context__": {}}}


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "cirros.img"
    path.write_bytes(b"\0" * 4096)
    return str(path)


@pytest.fixture
def net(api):
    """A network with a subnet, named as the demo does."""
    module.network_create("demo-net")
    module.subnet_create("demo-subnet", "demo-net", "10.0.0.0/24")


def test_without_the_sdk_a_call_says_what_to_install():
    assert module.__virtual__() == "openstack"
    missing = pytest.raises(CommandExecutionError, match="openstacksdk is not installed .Debian: python3-openstacksdk")
    with patch.dict(sys.modules, {"openstack": None}), missing:
        module.project_get("demo")


def test_one_connection_per_cloud(api):
    module.project_get("demo")
    module.project_get("service")
    module.project_get("demo", cloud="fake-demo")
    assert [request for request in api.requests if request == ("POST", "/identity/v3/auth/tokens")] == [
        ("POST", "/identity/v3/auth/tokens")
    ] * 2


def test_a_missing_cloud_is_a_clear_error():
    with pytest.raises(CommandExecutionError, match="^cloud nowhere: .*nowhere"):
        module.project_get("demo", cloud="nowhere")


def test_project_round_trip():
    assert module.project_get("web") is None
    made = module.project_create("web", description="Web shop")
    assert made == {"id": made["id"], "name": "web", "description": "Web shop", "is_enabled": True}
    assert module.project_update("web", is_enabled=False)["is_enabled"] is False
    assert module.project_get("web") == dict(made, is_enabled=False)
    assert [project["name"] for project in module.project_list()] == ["admin", "demo", "web"]
    assert module.project_delete("web") is True
    assert module.project_get("web") is None


def test_a_project_of_an_unknown_domain_is_refused():
    with pytest.raises(CommandExecutionError, match="^domain nowhere does not exist$"):
        module.project_create("web", domain="nowhere")
    assert module.project_get("web", domain="nowhere") is None


def test_the_api_message_of_a_refused_create():
    with pytest.raises(CommandExecutionError, match="^creating project demo: .*Duplicate entry"):
        module.project_create("demo")


def test_user_with_its_default_project_by_name_and_no_password_shown():
    made = module.user_create("glance", "s3cret", default_project="demo")
    assert made == {
        "id": made["id"],
        "name": "glance",
        "default_project": "demo",
        "email": None,
        "is_enabled": True,
    }
    assert module.user_password_valid("glance", "s3cret") is True
    assert module.user_password_valid("glance", "other") is False
    module.user_update("glance", password="other", default_project="admin")
    assert module.user_password_valid("glance", "other") is True
    assert module.user_get("glance")["default_project"] == "admin"
    with pytest.raises(CommandExecutionError, match="^project nowhere does not exist$"):
        module.user_create("nova", "pw", default_project="nowhere")


def test_role_granted_and_revoked():
    assert module.role_granted("admin", "demo", "demo") is False
    module.role_grant("admin", "demo", "demo")
    assert module.role_granted("admin", "demo", "demo") is True
    module.role_revoke("admin", "demo", "demo")
    assert module.role_granted("admin", "demo", "demo") is False
    with pytest.raises(CommandExecutionError, match="^role nowhere does not exist$"):
        module.role_grant("nowhere", "demo", "demo")


def test_services_and_their_endpoints():
    module.service_create("glance", "image", description="Images")
    assert module.service_get("glance")["type"] == "image"
    made = module.endpoint_create("glance", "public", "http://c:9292")
    assert module.endpoint_get("glance", "public") == {
        "id": made["id"],
        "service": "glance",
        "interface": "public",
        "url": "http://c:9292",
        "is_enabled": True,
    }
    assert module.endpoint_get("glance", "internal") is None
    assert module.endpoint_update("glance", "public", url="http://d:9292")["url"] == "http://d:9292"
    module.endpoint_delete("glance", "public")
    assert module.endpoint_get("glance", "public") is None
    with pytest.raises(CommandExecutionError, match="^service nova does not exist$"):
        module.endpoint_create("nova", "public", "http://c:8774")


def test_ambiguous_names_are_refused_with_a_message():
    module.service_create("glance", "image")
    module.service_create("glance", "image")
    with pytest.raises(CommandExecutionError, match="^2 resources are service glance: name one of them by its id"):
        module.service_get("glance")


def test_flavor_with_extra_specs():
    made = module.flavor_create("m1.nano", 1, 64, disk=1, extra_specs={"hw:mem_page_size": "small"})
    assert made == {
        "id": made["id"],
        "name": "m1.nano",
        "vcpus": 1,
        "ram": 64,
        "disk": 1,
        "is_public": True,
        "extra_specs": {"hw:mem_page_size": "small"},
    }
    assert module.flavor_get("m1.nano") == made
    module.flavor_delete("m1.nano")
    assert module.flavor_get("m1.nano") is None


def test_keypair_and_server_group():
    made = module.keypair_create("demo-key", "ssh-ed25519 AAAA operator")
    assert made == {"id": "demo-key", "name": "demo-key", "public_key": "ssh-ed25519 AAAA operator"}
    assert module.keypair_get("demo-key") == made
    module.keypair_delete("demo-key")
    assert module.keypair_get("demo-key") is None
    group = module.server_group_create("demo-spread", "anti-affinity")
    assert (
        module.server_group_get("demo-spread")
        == group
        == {"id": group["id"], "name": "demo-spread", "policy": "anti-affinity"}
    )


def test_networks_subnets_and_routers():
    made = module.network_create(
        "public", provider_network_type="flat", provider_physical_network="physnet", is_router_external=True
    )
    assert (made["provider_network_type"], made["is_router_external"]) == ("flat", True)
    subnet = module.subnet_create("public-subnet", "public", "203.0.113.0/24", enable_dhcp=False)
    assert (subnet["cidr"], subnet["enable_dhcp"], subnet["gateway_ip"]) == ("203.0.113.0/24", False, "203.0.113.1")
    module.network_create("demo-net")
    module.subnet_create("demo-subnet", "demo-net", "fd00:10::/64", dns_nameservers=["9.9.9.9"])
    assert module.subnet_get("demo-subnet", network="demo-net")["dns_nameservers"] == ["9.9.9.9"]
    assert module.subnet_get("demo-subnet", network="public") is None
    assert module.subnet_get("demo-subnet", network="nowhere") is None
    router = module.router_create("demo-router", external_network="public")
    assert router == {"id": router["id"], "name": "demo-router", "external_network": "public", "interfaces": []}
    module.router_add_interface("demo-router", "demo-subnet")
    assert module.router_get("demo-router")["interfaces"] == ["demo-subnet"]
    with pytest.raises(
        CommandExecutionError, match="^attaching router demo-router to subnet demo-subnet: .*already has a port"
    ):
        module.router_add_interface("demo-router", "demo-subnet")
    with pytest.raises(CommandExecutionError, match="^deleting network demo-net: .*ports still in use"):
        module.network_delete("demo-net")
    assert module.router_update("demo-router", external_network=None)["external_network"] is None
    module.router_delete("demo-router")
    module.network_delete("demo-net")
    assert module.router_get("demo-router") is None and module.network_get("demo-net") is None


def test_a_malformed_cidr_is_refused_before_the_api(net, api):
    with pytest.raises(CommandExecutionError, match="^subnet other: .*10.0.0.300/24"):
        module.subnet_create("other", "demo-net", "10.0.0.300/24")
    assert api.requests.count(("POST", "/network/v2.0/subnets")) == 1


def test_port_with_a_fixed_ip_on_a_management_network(net):
    fixed = [{"subnet": "demo-subnet", "ip_address": "10.0.0.11"}]
    made = module.port_create("controller-mgmt", "demo-net", fixed_ips=fixed)
    assert made["fixed_ips"] == fixed and made["mac_address"].startswith("fa:16:3e")
    assert module.port_get("controller-mgmt", "demo-net") == made
    with pytest.raises(
        CommandExecutionError, match="^creating port other of network demo-net: .*10.0.0.11 already allocated"
    ):
        module.port_create("other", "demo-net", fixed_ips=fixed)
    module.port_update("controller-mgmt", "demo-net", description="the controller")
    assert module.port_get("controller-mgmt", "demo-net")["description"] == "the controller"
    module.port_delete("controller-mgmt", "demo-net")
    assert module.port_get("controller-mgmt", "demo-net") is None


def test_security_groups_and_rules_of_the_clouds_project():
    assert module.security_group_get("default")["description"] == "Default security group"
    made = module.security_group_create("web", description="Web servers")
    assert module.security_group_get("web") == made
    assert module.security_group_rule_get("web", protocol="tcp", port_range_min=80, port_range_max=80) is None
    rule = module.security_group_rule_create(
        "web", protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0"
    )
    assert module.security_group_rule_get("web", protocol="tcp", port_range_min=80, port_range_max=80) == rule
    with pytest.raises(CommandExecutionError, match="^adding a rule to security group web: .*already exists"):
        module.security_group_rule_create("web", protocol="tcp", port_range_min=80, port_range_max=80)
    with pytest.raises(CommandExecutionError, match="^unknown security group rule fields: port$"):
        module.security_group_rule_get("web", port=22)
    module.security_group_rule_delete("web", protocol="tcp", port_range_min=80, port_range_max=80)
    assert module.security_group_rule_get("web", protocol="tcp", port_range_min=80, port_range_max=80) is None
    # the demo project has a default group of its own
    assert module.security_group_get("default", cloud="fake-demo")["id"] != module.security_group_get("default")["id"]


def test_image_uploaded_with_tags_and_found_by_tag(image_file):
    made = module.image_create(
        "amphora", image_file, disk_format="qcow2", tags=["amphora"], properties={"hw_rng_model": "virtio"}
    )
    assert (made["status"], made["checksum"], made["tags"]) == (
        "active",
        "620f0b67a91f7f74151bc5be745b7110",
        ["amphora"],
    )
    assert made["properties"]["hw_rng_model"] == "virtio"
    module.image_create("cirros", image_file)
    assert module.image_find(tags="amphora")["name"] == "amphora"
    module.image_update("cirros", tags=["test"], properties={"os_distro": "cirros"})
    assert (
        module.image_get("cirros")["tags"] == ["test"]
        and module.image_get("cirros")["properties"]["os_distro"] == "cirros"
    )
    module.image_delete("cirros")
    assert module.image_get("cirros") is None


@pytest.fixture
def bootable(api, net, image_file):
    module.image_create("cirros", image_file)
    module.flavor_create("m1.nano", 1, 64)


def test_server_booted_awaited_given_a_floating_ip_and_deleted(bootable):
    module.network_create("public", is_router_external=True)
    module.subnet_create("public-subnet", "public", "203.0.113.0/24")
    made = module.server_create("demo1", "cirros", "m1.nano", "demo-net")
    assert (made["status"], made["host"], made["fault"]) == ("ACTIVE", "compute1", None)
    assert made["addresses"]["demo-net"][0]["addr"].startswith("10.0.0.")
    assert module.floating_ip_of("demo1") is None
    address = module.floating_ip_create("demo1", "public")
    assert module.floating_ip_of("demo1") == address
    module.server_delete("demo1")
    assert module.server_get("demo1") is None


def test_server_in_error_fails_with_novas_fault(bootable, api):
    api.server_fault = "No valid host was found."
    with pytest.raises(CommandExecutionError, match="^server demo1 is in ERROR: No valid host was found.$"):
        module.server_create("demo1", "cirros", "m1.nano", "demo-net")
    with pytest.raises(CommandExecutionError, match="^flavor m1.huge does not exist$"):
        module.server_create("demo2", "cirros", "m1.huge", "demo-net")


def test_server_booted_from_a_volume(bootable, api):
    boot = module.volume_create("demo2-boot", 1, image="cirros")
    made = module.server_create("demo2", None, "m1.nano", "demo-net", boot_volume="demo2-boot")
    assert made["status"] == "ACTIVE"
    server = next(s for s in api.items("servers") if s["name"] == "demo2")
    assert server["image"] == ""
    assert module.volume_get("demo2-boot")["status"] == "in-use"
    assert module.volume_attachments("demo2") == {"demo2-boot": "/dev/vda"}
    assert boot["bootable"] is True
    for image, volume in (("cirros", "demo2-boot"), (None, None)):
        with pytest.raises(CommandExecutionError, match="^server demo3: give an image or a boot volume, not both"):
            module.server_create("demo3", image, "m1.nano", "demo-net", boot_volume=volume)


def test_volume_services_say_which_are_up(api):
    assert module.volume_services("cinder-scheduler") == {"controller": True}
    next(s for s in api.items("volume_services") if s["binary"] == "cinder-volume")["state"] = "down"
    assert module.volume_services("cinder-volume") == {"storage@ceph": False}


def test_volumes_snapshots_and_attachments(bootable):
    assert module.volume_type_create("lvm", description="LVM")["is_public"] is True
    volume = module.volume_create("boot1", 1, volume_type="lvm", image="cirros")
    assert (volume["status"], volume["bootable"], volume["volume_type"], volume["size"]) == (
        "available",
        True,
        "lvm",
        1,
    )
    data = module.volume_create("data1", 2, bootable=False)
    assert data["bootable"] is False and data["volume_type"] == "__DEFAULT__"
    snapshot = module.volume_snapshot_create("data1-snap", "data1")
    assert (snapshot["status"], snapshot["volume"]) == ("available", "data1")
    module.server_create("demo1", "cirros", "m1.nano", "demo-net")
    assert module.volume_attach("demo1", "data1")["status"] == "in-use"
    assert module.volume_attachments("demo1") == {"data1": "/dev/vdb"}
    with pytest.raises(CommandExecutionError, match="^deleting volume data1: .*must not be migrating, attached"):
        module.volume_delete("data1")
    assert module.volume_detach("demo1", "data1")["status"] == "available"
    module.volume_snapshot_delete("data1-snap")
    module.volume_delete("data1")
    assert module.volume_get("data1") is None
    with pytest.raises(
        CommandExecutionError, match="^volume type nowhere does not exist|^creating volume x: .*nowhere"
    ):
        module.volume_create("x", 1, volume_type="nowhere")


def test_load_balancer_listener_pool_member_and_monitor(net, api):
    lb = module.load_balancer_create("web-lb", vip_subnet="demo-subnet")
    assert (lb["provisioning_status"], lb["vip_network"], lb["vip_subnet"]) == ("ACTIVE", "demo-net", "demo-subnet")
    listener = module.listener_create("web-http", "web-lb", protocol="HTTP", protocol_port=80)
    assert (listener["provisioning_status"], listener["protocol_port"]) == ("ACTIVE", 80)
    pool = module.pool_create("web-pool", "web-lb", listener="web-http", lb_algorithm="LEAST_CONNECTIONS")
    assert (pool["listener"], pool["lb_algorithm"]) == ("web-http", "LEAST_CONNECTIONS")
    member = module.member_create("web1", "web-pool", "10.0.0.21", 8080, subnet="demo-subnet")
    assert (member["address"], member["subnet"]) == ("10.0.0.21", "demo-subnet")
    monitor = module.health_monitor_create("web-check", "web-pool", delay=3, timeout=2, url_path="/health")
    assert (monitor["pool"], monitor["timeout"], monitor["provisioning_status"]) == ("web-pool", 2, "ACTIVE")
    assert module.listener_get("web-http", "web-lb") == listener
    assert module.member_get("web1", "web-pool") == member
    assert module.member_update("web1", "web-pool", weight=5)["weight"] == 5
    assert [item["name"] for item in module.member_list("web-pool")] == ["web1"]
    module.load_balancer_delete("web-lb")
    assert module.load_balancer_get("web-lb") is None and api.items("pools") == []


def test_a_listener_of_a_missing_load_balancer_is_refused(net):
    with pytest.raises(CommandExecutionError, match="^load balancer web-lb does not exist$"):
        module.listener_create("web-http", "web-lb")
    assert module.listener_get("web-http", "web-lb") is None


def test_a_refused_create_and_a_failed_status_name_the_apis_words(net, api):
    module.load_balancer_create("web-lb", vip_subnet="demo-subnet")
    balancer = next(iter(api.db["loadbalancers"].values()))
    api.fail("POST", "/lbaas/listeners$", 409, f"Load Balancer {balancer['id']} is immutable and cannot be updated.")
    with pytest.raises(CommandExecutionError, match="^creating listener web-http of load balancer web-lb: .*immutable"):
        module.listener_create("web-http", "web-lb")
    api.broken["listeners"] = {"provisioning_status": "ERROR"}
    with pytest.raises(
        CommandExecutionError, match="^listener web-http of load balancer web-lb is in ERROR, not ACTIVE$"
    ):
        module.listener_create("web-http", "web-lb")
    api.broken["volumes"] = {"status": "error"}
    with pytest.raises(CommandExecutionError, match="^volume data1 is in error, not available$"):
        module.volume_create("data1", 1)


def test_a_status_that_does_not_come_times_out_naming_it(bootable, api):
    # (no patched clock: time.monotonic is the fake server's too)
    api.broken["volumes"] = {"status": "creating"}
    with pytest.raises(CommandExecutionError, match="^volume data1 is still creating after 0 s, not available$"):
        module.volume_create("data1", 1, timeout=0)
    api.broken["servers"] = {"status": "BUILD"}
    with pytest.raises(CommandExecutionError, match="^server demo1 is still BUILD after 0 s, not ACTIVE$"):
        module.server_create("demo1", "cirros", "m1.nano", "demo-net", timeout=0)


def test_an_error_on_the_second_page_of_a_listing_is_a_clear_error(api):
    for name in ("a", "b", "c", "d"):
        module.network_create(name)
    api.fail("GET", r"/network/v2.0/networks\?.*marker=", 503, "The server is currently unavailable.")
    with pytest.raises(CommandExecutionError, match="^listing networks: .*503.*The server is currently unavailable"):
        module.network_list()
    assert [network["name"] for network in module.network_list()] == ["a", "b", "c", "d"]


def test_compute_hosts_pair_nova_compute_with_its_agent(api):
    next(agent for agent in api.items("agents") if agent["host"] == "compute2")["alive"] = False
    assert module.compute_hosts() == {
        "compute1": {"nova_compute": True, "ovs_agent": True},
        "compute2": {"nova_compute": True, "ovs_agent": False},
    }


def test_network_agents_are_those_of_the_host(api):
    next(a for a in api.items("agents") if a["host"] == "network" and a["agent_type"] == "L3 agent")["alive"] = False
    assert module.network_agents("network") == {
        "DHCP agent": True,
        "L3 agent": False,
        "Metadata agent": True,
        "Open vSwitch agent": True,
    }
    assert module.network_agents("compute1") == {"Open vSwitch agent": True}
    assert module.network_agents("nowhere") == {}


def test_generated_functions_have_signatures_and_cli_examples():
    import inspect

    assert str(inspect.signature(module.subnet_create)) == (
        "(name, network, cidr, gateway_ip=None, enable_dhcp=True, dns_nameservers=None, allocation_pools=None,"
        " cloud=None)"
    )
    assert "salt controller openstack.volume_get data1" in module.volume_get.__doc__
    with pytest.raises(TypeError):
        module.volume_get("data1", size=3)


def test_keystone_not_answering_yet_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    """
    As on a compute node whose first highstate runs while the controller
    installs Keystone: making the compute proxy authenticates, and nothing
    listens yet.
    """
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    clouds = {
        "clouds": {
            "down": {
                "auth": {
                    "auth_url": f"http://127.0.0.1:{port}/v3",
                    "username": "nova",
                    "password": "x",
                    "project_name": "service",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "identity_api_version": 3,
                "api_timeout": 5,
            }
        }
    }
    (tmp_path / "clouds.yaml").write_text(json.dumps(clouds))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    with pytest.raises(CommandExecutionError, match=r"^the compute API of cloud down: Unable to establish connection"):
        module.compute_services("nova-conductor", cloud="down")
    with pytest.raises(CommandExecutionError, match=r"^the block storage API of cloud down: "):
        module.volume_services("cinder-scheduler", cloud="down")


def test_a_service_registered_after_the_first_token_is_found_by_the_next_call(api, monkeypatch):
    """
    The token keeps the catalog it was issued with: on a first highstate a
    compute node may authenticate before Nova's endpoint exists.
    """
    import fakes.openstack_api as fake  # noqa: PLC0415

    full = list(fake.CATALOG)
    monkeypatch.setattr(fake, "CATALOG", [entry for entry in full if entry[0] != "compute"])
    with pytest.raises(CommandExecutionError, match=r"^the compute API of cloud fake-admin: "):
        module.compute_services("nova-conductor")
    monkeypatch.setattr(fake, "CATALOG", full)
    assert module.compute_services("nova-conductor") == {}


def test_a_service_listing_refused_is_asked_again_with_a_new_token(api):
    """
    A token keeps the roles it was issued with: a compute node that
    authenticated before Nova's service user had its role is refused until
    it asks for a new one.
    """
    module.compute_services("nova-conductor")  # a connection, its token
    api.fail("GET", r"os-services", 403, "Policy does not allow it")
    with pytest.raises(CommandExecutionError, match="nova-conductor services: .*Policy does not allow it"):
        module.compute_services("nova-conductor")
    assert not [key for key in module.__context__ if key.startswith("openstack.conn.")]
    assert module.compute_services("nova-conductor") == {}
