"""
Unit tests of the openstack execution module with Salt's loader mocks and
openstacksdk's connection replaced by a mock: which SDK calls each function
makes, and how SDK failures become CommandExecutionError. Keystone itself is
exercised by the end-to-end test on the local lab.
"""

import sys
from types import SimpleNamespace
from unittest.mock import MagicMock, patch

import openstack
import openstack.exceptions
import pytest
from salt.exceptions import CommandExecutionError

import extensions

module = extensions.load("_modules", "openstack_lab")


def resource(**fields):
    """An SDK resource: attributes and item access."""
    obj = MagicMock()
    obj.__getitem__.side_effect = fields.__getitem__
    for key, value in fields.items():
        setattr(obj, key, value)
    return obj


@pytest.fixture
def conn():
    conn = MagicMock()
    conn.identity.find_domain.return_value = resource(id="default", name="Default")
    return conn


@pytest.fixture
def configure_loader_modules(conn):
    config = {"openstack:cloud": "lab-admin"}
    return {module: {"__salt__": {"config.get": lambda key, default=None: config.get(key, default)}, "__context__": {}}}


@pytest.fixture(autouse=True)
def connect(conn):
    with patch.object(openstack, "connect", return_value=conn) as connect:
        yield connect


def test_without_the_sdk_a_call_says_what_to_install():
    assert module.__virtual__() == "openstack"
    missing = pytest.raises(CommandExecutionError, match="openstacksdk is not installed .Debian: python3-openstacksdk")
    with patch.dict(sys.modules, {"openstack": None}), missing:
        module.project_get("demo")


def test_one_connection_per_cloud_from_the_minion_config(connect, conn):
    conn.identity.find_project.return_value = None
    module.project_get("demo")
    module.project_get("service")
    module.project_get("demo", cloud="other")
    assert [call.kwargs for call in connect.call_args_list] == [{"cloud": "lab-admin"}, {"cloud": "other"}]


def test_bad_cloud_is_a_clear_error(connect):
    connect.side_effect = openstack.exceptions.ConfigException("Cloud lab-admin was not found.")
    with pytest.raises(CommandExecutionError, match="cloud lab-admin: Cloud lab-admin was not found"):
        module.project_get("demo")


def test_project_get_in_a_domain(conn):
    conn.identity.find_project.return_value = resource(id="p1", name="demo", description="d", is_enabled=True)
    assert module.project_get("demo") == {"id": "p1", "name": "demo", "description": "d", "is_enabled": True}
    conn.identity.find_project.assert_called_once_with("demo", domain_id="default", ignore_missing=True)


def test_unknown_domain(conn):
    conn.identity.find_domain.return_value = None
    with pytest.raises(CommandExecutionError, match="domain nowhere does not exist"):
        module.project_create("demo", domain="nowhere")
    conn.identity.create_project.assert_not_called()


def test_api_error_carries_what_was_attempted(conn):
    conn.identity.find_project.return_value = None
    conn.identity.create_project.side_effect = openstack.exceptions.ForbiddenException("403: You are not authorized")
    with pytest.raises(CommandExecutionError, match="creating project demo: 403: You are not authorized"):
        module.project_create("demo")


def test_update_ignores_salts_own_arguments(conn):
    project = resource(id="p1", name="demo", description="old", is_enabled=True)
    conn.identity.find_project.return_value = project
    conn.identity.update_project.return_value = resource(id="p1", name="demo", description="new", is_enabled=True)
    module.project_update("demo", description="new", __pub_jid="2026")
    conn.identity.update_project.assert_called_once_with(project, description="new")


def test_user_created_in_its_default_project(conn):
    conn.identity.find_project.return_value = resource(id="p-service", name="service")
    conn.identity.create_user.return_value = resource(
        id="u1", name="glance", is_enabled=True, default_project_id="p-service"
    )
    assert module.user_create("glance", "pw", default_project="service") == {
        "id": "u1",
        "name": "glance",
        "is_enabled": True,
        "default_project": "service",
    }
    conn.identity.create_user.assert_called_once_with(
        name="glance", password="pw", domain_id="default", is_enabled=True, default_project_id="p-service"
    )


def test_user_in_a_missing_project_is_refused(conn):
    conn.identity.find_project.return_value = None
    with pytest.raises(CommandExecutionError, match="project service does not exist"):
        module.user_create("glance", "pw", default_project="service")
    conn.identity.create_user.assert_not_called()


@pytest.mark.parametrize("status, valid", [(201, True), (401, False)])
def test_password_checked_by_asking_for_a_token(conn, status, valid):
    conn.identity.post.return_value = SimpleNamespace(status_code=status, text="")
    assert module.user_password_valid("glance", "pw") is valid
    args, kwargs = conn.identity.post.call_args
    assert args == ("/auth/tokens",)
    assert kwargs["authenticated"] is False and kwargs["raise_exc"] is False
    assert kwargs["json"]["auth"]["identity"] == {
        "methods": ["password"],
        "password": {"user": {"name": "glance", "domain": {"id": "default"}, "password": "pw"}},
    }


def test_password_check_on_a_failing_keystone_is_an_error(conn):
    conn.identity.post.return_value = SimpleNamespace(status_code=500, text="Internal Server Error")
    with pytest.raises(CommandExecutionError, match="authenticating user glance: HTTP 500"):
        module.user_password_valid("glance", "pw")


def test_role_grant_resolves_names(conn):
    role, user, project = resource(id="r"), resource(id="u"), resource(id="p")
    conn.identity.find_role.return_value = role
    conn.identity.find_user.return_value = user
    conn.identity.find_project.return_value = project
    conn.identity.validate_user_has_project_role.return_value = False
    assert module.role_granted("admin", "glance", "service") is False
    module.role_grant("admin", "glance", "service")
    conn.identity.assign_project_role_to_user.assert_called_once_with(project, user, role)


def test_missing_role_is_named(conn):
    conn.identity.find_role.return_value = None
    with pytest.raises(CommandExecutionError, match="role reader does not exist"):
        module.role_grant("reader", "glance", "service")


def test_duplicate_service_names_are_an_error(conn):
    conn.identity.services.return_value = [resource(id="s1", name="glance"), resource(id="s2", name="glance")]
    with pytest.raises(CommandExecutionError, match="2 services are named glance"):
        module.service_get("glance")


def test_endpoint_looked_up_by_service_interface_and_region(conn):
    conn.identity.services.return_value = [resource(id="s-nova", name="nova"), resource(id="s-glance", name="glance")]
    conn.identity.endpoints.return_value = iter([resource(id="e1", url="http://c:9292", is_enabled=True)])
    assert module.endpoint_get("glance", "public") == {"id": "e1", "url": "http://c:9292", "is_enabled": True}
    conn.identity.endpoints.assert_called_once_with(service_id="s-glance", interface="public", region_id="RegionOne")


def test_endpoint_of_a_missing_service(conn):
    conn.identity.services.return_value = []
    with pytest.raises(CommandExecutionError, match="service glance does not exist"):
        module.endpoint_create("glance", "public", "http://c:9292")


def test_network_created_with_provider_fields(conn):
    conn.network.create_network.return_value = resource(
        id="n1",
        name="public",
        provider_network_type="flat",
        provider_physical_network="physnet",
        is_router_external=True,
        is_shared=False,
        mtu=1410,
    )
    assert (
        module.network_create(
            "public", provider_network_type="flat", provider_physical_network="physnet", is_router_external=True
        )["mtu"]
        == 1410
    )
    conn.network.create_network.assert_called_once_with(
        name="public", provider_network_type="flat", provider_physical_network="physnet", is_router_external=True
    )


def test_subnet_looked_up_in_its_network(conn):
    conn.network.find_network.return_value = resource(id="n-demo", name="demo-net")
    conn.network.find_subnet.return_value = None
    assert module.subnet_get("demo-subnet", network="demo-net") is None
    conn.network.find_subnet.assert_called_once_with("demo-subnet", ignore_missing=True, network_id="n-demo")


def test_no_subnet_in_a_missing_network(conn):
    conn.network.find_network.return_value = None
    assert module.subnet_get("demo-subnet", network="demo-net") is None
    conn.network.find_subnet.assert_not_called()
    with pytest.raises(CommandExecutionError, match="network demo-net does not exist"):
        module.subnet_create("demo-subnet", "demo-net", "10.0.0.0/24")
    conn.network.create_subnet.assert_not_called()


@pytest.mark.parametrize("cidr, version", [("10.0.0.0/24", 4), ("fd00:10::/64", 6)])
def test_subnet_created_with_its_ip_version(conn, cidr, version):
    conn.network.find_network.return_value = resource(id="n-demo", name="demo-net")
    conn.network.create_subnet.return_value = resource(
        id="s1",
        name="demo-subnet",
        network_id="n-demo",
        cidr=cidr,
        gateway_ip=None,
        is_dhcp_enabled=True,
        dns_nameservers=[],
        allocation_pools=[],
    )
    assert module.subnet_create("demo-subnet", "demo-net", cidr, is_dhcp_enabled=True)["cidr"] == cidr
    conn.network.create_subnet.assert_called_once_with(
        name="demo-subnet", network_id="n-demo", cidr=cidr, ip_version=version, is_dhcp_enabled=True
    )


def test_subnet_with_a_malformed_cidr_is_refused(conn):
    conn.network.find_network.return_value = resource(id="n-demo", name="demo-net")
    with pytest.raises(CommandExecutionError, match="subnet demo-subnet: .*10.0.0.300/24"):
        module.subnet_create("demo-subnet", "demo-net", "10.0.0.300/24")
    conn.network.create_subnet.assert_not_called()


def router_conn(conn):
    """A router r1: gateway on public, an interface on demo-subnet, an HA port and its gateway port."""
    router = resource(id="r1", name="demo-router", external_gateway_info={"network_id": "n-public"})
    conn.network.find_router.return_value = router
    conn.network.ports.return_value = [
        resource(id="p-if", device_owner="network:router_interface", fixed_ips=[{"subnet_id": "s-demo"}]),
        resource(id="p-ha", device_owner="network:router_ha_interface", fixed_ips=[{"subnet_id": "s-ha"}]),
        resource(id="p-gw", device_owner="network:router_gateway", fixed_ips=[{"subnet_id": "s-public"}]),
    ]
    conn.network.get_network.return_value = resource(id="n-public", name="public")
    conn.network.get_subnet.side_effect = lambda subnet_id: resource(id=subnet_id, name=f"name-of-{subnet_id}")
    return router


def test_router_gateway_and_interfaces_by_name(conn):
    router_conn(conn)
    assert module.router_get("demo-router") == {
        "id": "r1",
        "name": "demo-router",
        "external_network": "public",
        "interfaces": ["name-of-s-demo"],
    }
    conn.network.ports.assert_called_once_with(device_id="r1")
    conn.network.get_network.assert_called_once_with("n-public")


def test_router_created_with_its_gateway(conn):
    conn.network.find_network.return_value = resource(id="n-public", name="public")
    conn.network.create_router.return_value = resource(
        id="r1", name="demo-router", external_gateway_info={"network_id": "n-public"}
    )
    conn.network.ports.return_value = []
    conn.network.get_network.return_value = resource(id="n-public", name="public")
    assert module.router_create("demo-router", external_network="public")["external_network"] == "public"
    conn.network.create_router.assert_called_once_with(
        name="demo-router", external_gateway_info={"network_id": "n-public"}
    )


def test_router_attached_to_a_subnet_by_id(conn):
    router = router_conn(conn)
    conn.network.find_subnet.return_value = resource(id="s-other", name="other-subnet")
    assert module.router_add_interface("demo-router", "other-subnet") is True
    conn.network.find_subnet.assert_called_once_with("other-subnet", ignore_missing=True)
    conn.network.add_interface_to_router.assert_called_once_with(router, subnet_id="s-other")


def test_router_detached_from_its_subnets_before_deletion(conn):
    router = router_conn(conn)
    module.router_delete("demo-router")
    writes = [call for call in conn.network.mock_calls if call[0] in ("remove_interface_from_router", "delete_router")]
    assert writes == [
        ("remove_interface_from_router", (router,), {"port_id": "p-if"}),
        ("delete_router", (router,), {}),
    ]


def rule(**fields):
    """A Neutron security group rule: an IPv4 ingress rule without remote unless told."""
    defaults = {
        "id": "rule1",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "direction": "ingress",
        "ether_type": "IPv4",
        "remote_group_id": None,
    }
    return resource(**dict(defaults, **fields))


@pytest.fixture
def default_group(conn):
    conn.current_project_id = "p-demo"
    conn.network.find_security_group.return_value = resource(id="sg1", name="default")
    return conn


def test_security_group_of_the_current_project(default_group):
    conn = default_group
    conn.network.security_group_rules.return_value = []
    assert module.security_group_rule_get(protocol="tcp", port_range_min=22, port_range_max=22) is None
    conn.network.find_security_group.assert_called_once_with("default", project_id="p-demo", ignore_missing=True)
    conn.network.security_group_rules.assert_called_once_with(security_group_id="sg1")


def test_security_group_rule_found_by_its_fields(default_group):
    conn = default_group
    conn.network.security_group_rules.return_value = [
        rule(id="from-group", remote_group_id="sg1"),
        rule(id="ssh", protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0"),
    ]
    assert module.security_group_rule_get(
        protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0"
    ) == {
        "id": "ssh",
        "security_group": "default",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": None,
        "direction": "ingress",
        "ethertype": "IPv4",
    }
    # The default group's rule from its own members is not "any IPv4 from anywhere".
    assert module.security_group_rule_get() is None
    assert module.security_group_rule_get(protocol="tcp", port_range_min=80, port_range_max=80) is None


def test_security_group_rule_created_without_empty_fields(default_group):
    conn = default_group
    conn.network.create_security_group_rule.return_value = rule(id="icmp", protocol="icmp")
    assert module.security_group_rule_create(protocol="icmp", __pub_jid="2026")["id"] == "icmp"
    conn.network.create_security_group_rule.assert_called_once_with(
        security_group_id="sg1", protocol="icmp", direction="ingress", ether_type="IPv4"
    )


def test_security_group_rule_with_unknown_fields_is_refused(default_group):
    with pytest.raises(CommandExecutionError, match="unknown security group rule fields: port"):
        module.security_group_rule_create(protocol="tcp", port=22)
    default_group.network.create_security_group_rule.assert_not_called()


def test_missing_security_group_is_named_with_its_project(default_group):
    default_group.network.find_security_group.return_value = None
    with pytest.raises(CommandExecutionError, match="security group web of project p-demo does not exist"):
        module.security_group_rule_get(security_group="web")


def test_keypair_created_and_read(conn):
    conn.compute.create_keypair.return_value = resource(id="demo-key", name="demo-key", public_key="ssh-ed25519 AAAA")
    assert module.keypair_create("demo-key", "ssh-ed25519 AAAA") == {
        "id": "demo-key",
        "name": "demo-key",
        "public_key": "ssh-ed25519 AAAA",
    }
    conn.compute.create_keypair.assert_called_once_with(name="demo-key", public_key="ssh-ed25519 AAAA")
    conn.compute.find_keypair.return_value = None
    assert module.keypair_get("demo-key") is None


def image(**fields):
    defaults = {
        "id": "i1",
        "name": "cirros",
        "status": "active",
        "checksum": "abc",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "public",
    }
    return resource(**dict(defaults, **fields))


def test_image_uploaded_from_its_file_and_awaited(conn):
    queued, active = image(status="queued"), image()
    conn.image.create_image.return_value = queued
    conn.image.wait_for_status.return_value = active
    assert module.image_create("cirros", "/srv/cirros.img", disk_format="qcow2")["status"] == "active"
    conn.image.create_image.assert_called_once_with(
        "cirros",
        filename="/srv/cirros.img",
        disk_format="qcow2",
        container_format="bare",
        visibility="public",
        wait=True,
        timeout=600,
    )
    conn.image.wait_for_status.assert_called_once_with(queued, "active", failures=["killed", "deleted"], wait=600)


def test_image_stuck_after_upload_is_a_clear_error(conn):
    conn.image.wait_for_status.side_effect = openstack.exceptions.ResourceTimeout("Timeout waiting for active")
    with pytest.raises(CommandExecutionError, match="waiting for image cirros to be active: Timeout"):
        module.image_create("cirros", "/srv/cirros.img")


def server(**fields):
    defaults = {
        "id": "v1",
        "name": "demo1",
        "status": "ACTIVE",
        "addresses": {"demo-net": []},
        "compute_host": None,
        "fault": None,
    }
    return resource(**dict(defaults, **fields))


def test_compute_hosts_pair_nova_compute_with_its_agent(conn):
    conn.compute.services.return_value = [
        resource(host="compute1", state="up", status="enabled"),
        resource(host="compute2", state="up", status="enabled"),
        resource(host="compute3", state="down", status="enabled"),
    ]
    conn.network.agents.return_value = [
        resource(host="compute1", is_alive=True),
        resource(host="compute2", is_alive=False),
        resource(host="network", is_alive=True),
    ]
    assert module.compute_hosts() == {
        "compute1": {"nova_compute": True, "ovs_agent": True},
        "compute2": {"nova_compute": True, "ovs_agent": False},
        "compute3": {"nova_compute": False, "ovs_agent": False},
    }
    conn.compute.services.assert_called_once_with(binary="nova-compute")
    conn.network.agents.assert_called_once_with(agent_type="Open vSwitch agent")


def test_server_get_names_its_host_for_admins(conn):
    conn.compute.find_server.return_value = server(compute_host="compute1")
    assert module.server_get("demo1") == {
        "id": "v1",
        "name": "demo1",
        "status": "ACTIVE",
        "addresses": {"demo-net": []},
        "host": "compute1",
        "fault": None,
    }
    conn.compute.find_server.assert_called_once_with("demo1", ignore_missing=True)


def test_server_booted_from_names_and_awaited(conn):
    conn.image.find_image.return_value = image(id="i-cirros")
    conn.compute.find_flavor.return_value = resource(id="f-nano")
    conn.network.find_network.return_value = resource(id="n-demo")
    building = server(status="BUILD")
    conn.compute.create_server.return_value = building
    conn.compute.wait_for_server.return_value = server()
    assert (
        module.server_create(
            "demo1", "cirros", "m1.nano", "demo-net", key_name="demo-key", security_groups=["default"], timeout=300
        )["status"]
        == "ACTIVE"
    )
    conn.compute.create_server.assert_called_once_with(
        name="demo1",
        image_id="i-cirros",
        flavor_id="f-nano",
        networks=[{"uuid": "n-demo"}],
        key_name="demo-key",
        security_groups=[{"name": "default"}],
    )
    conn.compute.wait_for_server.assert_called_once_with(building, status="ACTIVE", failures=["ERROR"], wait=300)


def test_server_booted_in_a_server_group(conn):
    conn.compute.find_server_group.return_value = resource(id="g1", name="demo-spread")
    conn.compute.wait_for_server.return_value = server()
    module.server_create("demo1", "cirros", "m1.nano", "demo-net", server_group="demo-spread")
    conn.compute.find_server_group.assert_called_once_with("demo-spread", ignore_missing=True)
    assert conn.compute.create_server.call_args.kwargs["scheduler_hints"] == {"group": "g1"}


def test_server_of_a_missing_server_group_is_not_booted(conn):
    conn.compute.find_server_group.return_value = None
    with pytest.raises(CommandExecutionError, match="server group demo-spread does not exist"):
        module.server_create("demo1", "cirros", "m1.nano", "demo-net", server_group="demo-spread")
    conn.compute.create_server.assert_not_called()


@pytest.mark.parametrize(
    "fields",
    [
        {"policy": "anti-affinity", "policies": None},  # microversion 2.64 and later
        {"policy": None, "policies": ["anti-affinity"]},  # before 2.64
    ],
)
def test_server_group_read_whichever_microversion(conn, fields):
    conn.compute.find_server_group.return_value = resource(id="g1", name="demo-spread", **fields)
    assert module.server_group_get("demo-spread") == {"id": "g1", "name": "demo-spread", "policy": "anti-affinity"}


def test_server_group_created_with_its_policy(conn):
    conn.compute.create_server_group.return_value = resource(
        id="g1", name="demo-spread", policy="anti-affinity", policies=None
    )
    assert module.server_group_create("demo-spread", "anti-affinity")["policy"] == "anti-affinity"
    conn.compute.create_server_group.assert_called_once_with(name="demo-spread", policy="anti-affinity")
    conn.compute.find_server_group.return_value = None
    assert module.server_group_get("demo-spread") is None


def test_server_of_a_missing_flavor_is_not_booted(conn):
    conn.compute.find_flavor.return_value = None
    with pytest.raises(CommandExecutionError, match="flavor m1.huge does not exist"):
        module.server_create("demo1", "cirros", "m1.huge", "demo-net")
    conn.compute.create_server.assert_not_called()


def test_server_in_error_fails_with_novas_fault(conn):
    conn.compute.wait_for_server.side_effect = openstack.exceptions.ResourceFailure("transitioned to ERROR")
    conn.compute.get_server.return_value = server(
        status="ERROR", fault={"code": 500, "message": "No valid host was found."}
    )
    with pytest.raises(CommandExecutionError, match="^server demo1 is in ERROR: No valid host was found.$"):
        module.server_create("demo1", "cirros", "m1.nano", "demo-net")


def test_server_started_and_awaited(conn):
    stopped = server(status="SHUTOFF")
    conn.compute.find_server.return_value = stopped
    conn.compute.wait_for_server.return_value = server()
    assert module.server_start("demo1")["status"] == "ACTIVE"
    conn.compute.start_server.assert_called_once_with(stopped)
    conn.compute.wait_for_server.assert_called_once_with(stopped, status="ACTIVE", failures=["ERROR"], wait=600)


def test_server_deleted_and_awaited(conn):
    doomed = server()
    conn.compute.find_server.return_value = doomed
    module.server_delete("demo1")
    conn.compute.delete_server.assert_called_once_with(doomed)
    conn.compute.wait_for_delete.assert_called_once_with(doomed, wait=600)


def test_floating_ip_of_a_server_port(conn):
    conn.compute.find_server.return_value = server()
    conn.network.ports.return_value = [resource(id="port1")]
    conn.network.ips.return_value = iter([resource(id="fip1", floating_ip_address="203.0.113.7")])
    assert module.floating_ip_of("demo1") == "203.0.113.7"
    conn.network.ports.assert_called_once_with(device_id="v1")
    conn.network.ips.assert_called_once_with(port_id="port1")
    conn.network.ips.return_value = iter([])
    assert module.floating_ip_of("demo1") is None


def test_floating_ip_allocated_on_the_first_port(conn):
    conn.compute.find_server.return_value = server()
    conn.network.ports.return_value = [resource(id="port1"), resource(id="port2")]
    conn.network.find_network.return_value = resource(id="n-public")
    conn.network.create_ip.return_value = resource(id="fip1", floating_ip_address="203.0.113.7")
    assert module.floating_ip_create("demo1", "public") == "203.0.113.7"
    conn.network.create_ip.assert_called_once_with(floating_network_id="n-public", port_id="port1")


def test_floating_ip_for_a_missing_server_is_refused(conn):
    conn.compute.find_server.return_value = None
    with pytest.raises(CommandExecutionError, match="server demo1 does not exist"):
        module.floating_ip_create("demo1", "public")
    conn.network.create_ip.assert_not_called()


def test_floating_ip_pool_exhausted_is_one_clear_message(conn):
    conn.compute.find_server.return_value = server()
    conn.network.ports.return_value = [resource(id="port1")]
    conn.network.create_ip.side_effect = openstack.exceptions.ConflictException(
        "409: No more IP addresses available on network n-public"
    )
    with pytest.raises(
        CommandExecutionError, match="allocating a floating IP from public for server demo1: 409: No more IP addresses"
    ):
        module.floating_ip_create("demo1", "public")
