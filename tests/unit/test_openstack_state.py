"""
Unit tests of the openstack state module with Salt's loader mocks: the
execution module is a mock autospecced on the real one (a state that calls
it with arguments it does not take fails), holding what the cloud would
report; the tests check which writes each state makes, its changes, that
test=True writes nothing and that API failures become a failed state. The
last tests run the states on the real execution module against the fake
OpenStack APIs.
"""

import hashlib
import inspect
import types
from unittest.mock import create_autospec, patch

import pytest
from salt.exceptions import CommandExecutionError

import extensions
from fakes.openstack_api import OpenStackAPI

openstack = extensions.load("_states", "openstack")
module = extensions.load("_modules", "openstack")

PUBLIC = [
    name
    for name, function in vars(module).items()
    if inspect.isfunction(function) and not name.startswith("_") and function.__module__ == module.__name__
]
WRITES = [
    name
    for name in PUBLIC
    if name.split("_")[-1]
    in ("create", "update", "delete", "grant", "revoke", "start", "attach", "detach", "interface")
]
READS = [name for name in PUBLIC if name not in WRITES]
WHERE = {"domain": "default", "cloud": None}


@pytest.fixture
def exec_mod():
    """The execution module as a mock with the real one's functions and signatures."""
    return create_autospec(types.SimpleNamespace(**{name: getattr(module, name) for name in PUBLIC}))


@pytest.fixture
def configure_loader_modules(opts, exec_mod):
    salt_dunder = {f"openstack.{name}": getattr(exec_mod, name) for name in PUBLIC}
    return {openstack: {"__opts__": opts, "__salt__": salt_dunder}}


def writes(exec_mod):
    """The write calls made, in order, as (function, args, kwargs)."""
    return [(name, args, kwargs) for name, args, kwargs in exec_mod.mock_calls if name in WRITES]


def test_virtual_needs_the_execution_module():
    assert openstack.__virtual__() == "openstack"
    openstack.__salt__.clear()
    assert openstack.__virtual__()[0] is False


def test_project_created(exec_mod):
    exec_mod.project_get.return_value = None
    ret = openstack.project_present("demo", description="The demo")
    assert ret == {
        "name": "demo",
        "result": True,
        "comment": "project demo created",
        "changes": {"old": None, "new": {"description": "The demo", "is_enabled": True}},
    }
    assert writes(exec_mod) == [
        ("project_create", (), dict(name="demo", description="The demo", is_enabled=True, **WHERE))
    ]


def test_project_as_wanted_changes_nothing(exec_mod):
    exec_mod.project_get.return_value = {"id": "p1", "name": "demo", "description": "The demo", "is_enabled": True}
    ret = openstack.project_present("demo", description="The demo")
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []


def test_project_description_updated(exec_mod):
    exec_mod.project_get.return_value = {"id": "p1", "name": "demo", "description": "old", "is_enabled": True}
    ret = openstack.project_present("demo", description="new")
    assert ret["changes"] == {"old": {"description": "old"}, "new": {"description": "new"}}
    assert writes(exec_mod) == [("project_update", (), dict(name="demo", description="new", **WHERE))]


def test_test_mode_writes_nothing(opts, exec_mod):
    opts["test"] = True
    exec_mod.project_get.return_value = None
    ret = openstack.project_present("demo")
    assert ret["result"] is None and ret["comment"] == "project demo would be created"
    assert ret["changes"]["new"] == {"description": "", "is_enabled": True}
    exec_mod.project_get.return_value = {"id": "p1", "description": "old", "is_enabled": True}
    ret = openstack.project_present("demo", description="new")
    assert ret["result"] is None and ret["changes"]["new"] == {"description": "new"}
    exec_mod.project_get.return_value = {"id": "p1", "description": "", "is_enabled": True}
    assert openstack.project_absent("demo")["result"] is None
    assert writes(exec_mod) == []


def test_api_failure_fails_the_state_with_its_message(exec_mod):
    exec_mod.project_get.side_effect = CommandExecutionError("project demo: 503 Service Unavailable")
    ret = openstack.project_present("demo")
    assert ret == {"name": "demo", "result": False, "changes": {}, "comment": "project demo: 503 Service Unavailable"}


def test_user_created_without_showing_the_password(exec_mod):
    exec_mod.user_get.return_value = None
    ret = openstack.user_present("glance", "s3cret", default_project="service")
    assert "s3cret" not in repr(ret)
    assert ret["changes"]["new"] == {"default_project": "service", "password": openstack.HIDDEN}
    assert writes(exec_mod) == [("user_create", ("glance", "s3cret"), dict(default_project="service", **WHERE))]
    exec_mod.user_password_valid.assert_not_called()


def test_user_with_the_same_password_changes_nothing(exec_mod):
    exec_mod.user_get.return_value = {"id": "u1", "name": "glance", "default_project": "service"}
    exec_mod.user_password_valid.return_value = True
    ret = openstack.user_present("glance", "s3cret", default_project="service")
    assert ret["changes"] == {} and ret["result"] is True
    exec_mod.user_password_valid.assert_called_once_with("glance", "s3cret", **WHERE)
    assert writes(exec_mod) == []


def test_user_password_reset_when_keystone_refuses_it(exec_mod):
    exec_mod.user_get.return_value = {"id": "u1", "name": "glance", "default_project": "service"}
    exec_mod.user_password_valid.return_value = False
    ret = openstack.user_present("glance", "s3cret", default_project="service")
    assert "s3cret" not in repr(ret)
    assert ret["changes"] == {"old": {"password": "(another)"}, "new": {"password": openstack.HIDDEN}}
    assert writes(exec_mod) == [("user_update", ("glance",), dict(password="s3cret", **WHERE))]


def test_user_default_project_moved(exec_mod):
    exec_mod.user_get.return_value = {"id": "u1", "name": "demo", "default_project": None}
    exec_mod.user_password_valid.return_value = True
    ret = openstack.user_present("demo", "pw", default_project="demo")
    assert ret["changes"] == {"old": {"default_project": None}, "new": {"default_project": "demo"}}
    assert writes(exec_mod) == [("user_update", ("demo",), dict(default_project="demo", **WHERE))]


def test_role_granted_once(exec_mod):
    exec_mod.role_granted.return_value = False
    ret = openstack.role_granted("admin", user="glance", project="service")
    assert ret["comment"] == "role admin of glance on service created"
    assert writes(exec_mod) == [("role_grant", ("admin", "glance", "service"), WHERE)]
    exec_mod.reset_mock()
    exec_mod.role_granted.return_value = True
    assert openstack.role_granted("admin", user="glance", project="service")["changes"] == {}
    assert writes(exec_mod) == []


def test_role_revoked(exec_mod):
    exec_mod.role_granted.return_value = True
    ret = openstack.role_revoked("admin", user="demo", project="demo")
    assert ret["changes"] == {"old": {"granted": True}, "new": None}
    assert writes(exec_mod) == [("role_revoke", ("admin", "demo", "demo"), WHERE)]


def test_service_type_corrected(exec_mod):
    exec_mod.service_get.return_value = {
        "id": "s1",
        "name": "glance",
        "type": "images",
        "description": "Images",
        "is_enabled": True,
    }
    ret = openstack.service_present("glance", type="image", description="Images")
    assert ret["changes"] == {"old": {"type": "images"}, "new": {"type": "image"}}
    assert writes(exec_mod) == [("service_update", (), {"name": "glance", "cloud": None, "type": "image"})]


def test_service_absent_when_missing_is_a_no_op(exec_mod):
    exec_mod.service_get.return_value = None
    ret = openstack.service_absent("glance")
    assert ret == {"name": "glance", "result": True, "comment": "service glance is already absent", "changes": {}}


def test_endpoint_created_then_url_updated(exec_mod):
    exec_mod.endpoint_get.return_value = None
    ret = openstack.endpoint_present(
        "glance-public", service="glance", interface="public", url="http://192.168.1.11:9292"
    )
    assert ret["comment"] == "the public endpoint of glance created"
    exec_mod.endpoint_get.return_value = {"id": "e1", "url": "http://10.0.0.1:9292", "is_enabled": True}
    ret = openstack.endpoint_present(
        "glance-public", service="glance", interface="public", url="http://192.168.1.11:9292"
    )
    assert ret["changes"] == {"old": {"url": "http://10.0.0.1:9292"}, "new": {"url": "http://192.168.1.11:9292"}}
    where = {"region": "RegionOne", "cloud": None}
    assert writes(exec_mod) == [
        ("endpoint_create", ("glance", "public", "http://192.168.1.11:9292"), where),
        ("endpoint_update", ("glance", "public"), dict(where, url="http://192.168.1.11:9292")),
    ]


def test_flavor_of_other_sizes_is_made_again(exec_mod):
    exec_mod.flavor_get.return_value = {
        "id": "f1",
        "name": "m1.nano",
        "vcpus": 1,
        "ram": 128,
        "disk": 1,
        "is_public": True,
    }
    ret = openstack.flavor_present("m1.nano", vcpus=1, ram=64, disk=1)
    assert ret["changes"] == {"old": {"ram": 128}, "new": {"ram": 64}}
    wanted = {"name": "m1.nano", "cloud": None, "vcpus": 1, "ram": 64, "disk": 1, "is_public": True}
    assert writes(exec_mod) == [
        ("flavor_delete", (), {"name": "m1.nano", "cloud": None}),
        ("flavor_create", (), wanted),
    ]


def test_network_created_with_its_provider_attributes(exec_mod):
    exec_mod.network_get.return_value = None
    ret = openstack.network_present(
        "public", provider_network_type="flat", provider_physical_network="physnet", is_router_external=True, mtu=1410
    )
    assert ret["result"] is True
    assert writes(exec_mod) == [
        (
            "network_create",
            (),
            {
                "name": "public",
                "cloud": None,
                "provider_network_type": "flat",
                "provider_physical_network": "physnet",
                "is_router_external": True,
                "is_shared": False,
                "mtu": 1410,
            },
        )
    ]


def test_network_of_another_type_is_refused_not_replaced(exec_mod):
    exec_mod.network_get.return_value = {
        "id": "n1",
        "name": "public",
        "provider_network_type": "vxlan",
        "provider_physical_network": None,
        "is_router_external": True,
        "is_shared": False,
        "mtu": 1410,
    }
    ret = openstack.network_present(
        "public", provider_network_type="flat", provider_physical_network="physnet", is_router_external=True
    )
    assert ret["result"] is False
    assert "exists with provider_network_type=vxlan, provider_physical_network=None, which cannot" in ret["comment"]
    assert writes(exec_mod) == []


def test_network_external_flag_updated(exec_mod):
    exec_mod.network_get.return_value = {
        "id": "n1",
        "name": "public",
        "provider_network_type": "flat",
        "provider_physical_network": "physnet",
        "is_router_external": False,
        "is_shared": False,
        "mtu": 1410,
    }
    ret = openstack.network_present("public", provider_network_type="flat", is_router_external=True)
    assert ret["changes"] == {"old": {"is_router_external": False}, "new": {"is_router_external": True}}
    assert writes(exec_mod) == [("network_update", (), {"name": "public", "cloud": None, "is_router_external": True})]


SUBNET = {
    "id": "s1",
    "name": "demo-subnet",
    "network_id": "n1",
    "cidr": "10.0.0.0/24",
    "gateway_ip": "10.0.0.1",
    "enable_dhcp": True,
    "dns_nameservers": [],
    "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.254"}],
}
SUBNET_WHERE = {"network": "demo-net", "cloud": None}


def test_subnet_created_then_as_wanted(exec_mod):
    exec_mod.subnet_get.return_value = None
    ret = openstack.subnet_present("demo-subnet", network="demo-net", cidr="10.0.0.0/24", gateway_ip="10.0.0.1")
    assert ret["result"] is True and ret["comment"] == "subnet demo-subnet created"
    assert ret["changes"] == {
        "old": None,
        "new": {"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1", "enable_dhcp": True},
    }
    assert writes(exec_mod) == [
        (
            "subnet_create",
            (),
            {
                "name": "demo-subnet",
                "network": "demo-net",
                "cidr": "10.0.0.0/24",
                "cloud": None,
                "gateway_ip": "10.0.0.1",
                "enable_dhcp": True,
            },
        )
    ]
    exec_mod.reset_mock()
    exec_mod.subnet_get.return_value = SUBNET
    ret = openstack.subnet_present("demo-subnet", network="demo-net", cidr="10.0.0.0/24", gateway_ip="10.0.0.1")
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []
    exec_mod.subnet_get.assert_called_once_with(name="demo-subnet", **SUBNET_WHERE)


def test_subnet_dhcp_dns_and_pools_updated(exec_mod):
    exec_mod.subnet_get.return_value = SUBNET
    pools = [{"start": "10.0.0.10", "end": "10.0.0.200"}]
    ret = openstack.subnet_present(
        "demo-subnet",
        network="demo-net",
        cidr="10.0.0.0/24",
        enable_dhcp=False,
        dns_nameservers=["9.9.9.9"],
        allocation_pools=pools,
    )
    assert ret["changes"] == {
        "old": {"enable_dhcp": True, "dns_nameservers": [], "allocation_pools": SUBNET["allocation_pools"]},
        "new": {"enable_dhcp": False, "dns_nameservers": ["9.9.9.9"], "allocation_pools": pools},
    }
    assert writes(exec_mod) == [
        (
            "subnet_update",
            (),
            dict(
                SUBNET_WHERE, name="demo-subnet", enable_dhcp=False, dns_nameservers=["9.9.9.9"], allocation_pools=pools
            ),
        )
    ]


def test_subnet_of_another_cidr_is_refused_not_replaced(exec_mod):
    exec_mod.subnet_get.return_value = SUBNET
    ret = openstack.subnet_present("demo-subnet", network="demo-net", cidr="10.0.1.0/24")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        "subnet demo-subnet exists with cidr=10.0.0.0/24, which cannot be changed: delete it to make it again"
    )
    assert writes(exec_mod) == []


def test_subnet_with_a_malformed_cidr_fails_clearly(exec_mod):
    ret = openstack.subnet_present("demo-subnet", network="demo-net", cidr="10.0.0.0/33")
    assert ret["result"] is False and ret["comment"].startswith("subnet demo-subnet: ")
    exec_mod.subnet_get.assert_not_called()


def test_subnet_absent(exec_mod):
    exec_mod.subnet_get.return_value = SUBNET
    ret = openstack.subnet_absent("demo-subnet", network="demo-net")
    assert ret["comment"] == "subnet demo-subnet deleted" and ret["changes"] == {"old": SUBNET, "new": None}
    assert writes(exec_mod) == [("subnet_delete", (), dict(SUBNET_WHERE, name="demo-subnet"))]


def test_router_created_with_gateway_and_each_interface_once(exec_mod):
    exec_mod.router_get.return_value = None
    ret = openstack.router_present(
        "demo-router", external_network="public", interfaces=["demo-subnet", "other-subnet", "demo-subnet"]
    )
    assert ret["comment"] == "router demo-router created"
    assert ret["changes"] == {
        "old": None,
        "new": {"external_network": "public", "interfaces": ["demo-subnet", "other-subnet"]},
    }
    assert writes(exec_mod) == [
        ("router_create", ("demo-router",), {"external_network": "public", "cloud": None}),
        ("router_add_interface", ("demo-router", "demo-subnet"), {"cloud": None}),
        ("router_add_interface", ("demo-router", "other-subnet"), {"cloud": None}),
    ]
    exec_mod.reset_mock()
    exec_mod.router_get.return_value = {
        "id": "r1",
        "name": "demo-router",
        "external_network": "public",
        "interfaces": ["demo-subnet", "other-subnet"],
    }
    ret = openstack.router_present(
        "demo-router", external_network="public", interfaces=["demo-subnet", "other-subnet", "demo-subnet"]
    )
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []


def test_router_attached_to_a_missing_subnet_only(exec_mod):
    exec_mod.router_get.return_value = {
        "id": "r1",
        "name": "demo-router",
        "external_network": "public",
        "interfaces": ["demo-subnet"],
    }
    ret = openstack.router_present("demo-router", external_network="public", interfaces=["other-subnet", "demo-subnet"])
    assert ret["changes"] == {
        "old": {"interfaces": ["demo-subnet"]},
        "new": {"interfaces": ["demo-subnet", "other-subnet"]},
    }
    assert writes(exec_mod) == [("router_add_interface", ("demo-router", "other-subnet"), {"cloud": None})]


def test_router_gateway_set(exec_mod):
    exec_mod.router_get.return_value = {
        "id": "r1",
        "name": "demo-router",
        "external_network": None,
        "interfaces": ["demo-subnet"],
    }
    ret = openstack.router_present("demo-router", external_network="public", interfaces=["demo-subnet"])
    assert ret["changes"] == {"old": {"external_network": None}, "new": {"external_network": "public"}}
    assert writes(exec_mod) == [("router_update", ("demo-router",), {"external_network": "public", "cloud": None})]


def test_router_absent(exec_mod):
    exec_mod.router_get.return_value = {
        "id": "r1",
        "name": "demo-router",
        "external_network": "public",
        "interfaces": ["demo-subnet"],
    }
    assert openstack.router_absent("demo-router")["comment"] == "router demo-router deleted"
    assert writes(exec_mod) == [("router_delete", (), {"name": "demo-router", "cloud": None})]


SSH_RULE = {
    "protocol": "tcp",
    "port_range_min": 22,
    "port_range_max": 22,
    "remote_ip_prefix": None,
    "direction": "ingress",
    "ethertype": "IPv4",
}


def test_security_group_rule_added_once(exec_mod):
    exec_mod.security_group_rule_get.return_value = None
    ret = openstack.security_group_rule_present("allow-ssh", protocol="tcp", port_range_min=22, port_range_max=22)
    assert ret["comment"] == "rule allow-ssh of security group default created"
    assert ret["changes"] == {"old": None, "new": SSH_RULE}
    where = {"security_group": "default", "cloud": None}
    exec_mod.security_group_rule_get.assert_called_once_with(**where, **SSH_RULE)
    assert writes(exec_mod) == [("security_group_rule_create", (), dict(where, **SSH_RULE))]
    exec_mod.reset_mock()
    exec_mod.security_group_rule_get.return_value = dict(id="rule1", security_group="default", **SSH_RULE)
    ret = openstack.security_group_rule_present("allow-ssh", protocol="tcp", port_range_min=22, port_range_max=22)
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []


KEY = "ssh-ed25519 AAAAC3Nza operator"


def test_keypair_created_then_as_wanted(exec_mod):
    exec_mod.keypair_get.return_value = None
    ret = openstack.keypair_present("demo-key", KEY + "\n")
    assert ret["comment"] == "keypair demo-key created"
    assert writes(exec_mod) == [("keypair_create", (), {"name": "demo-key", "public_key": KEY + "\n", "cloud": None})]
    exec_mod.reset_mock()
    exec_mod.keypair_get.return_value = {"id": "demo-key", "name": "demo-key", "public_key": KEY}
    assert openstack.keypair_present("demo-key", KEY + "\n")["changes"] == {}
    assert writes(exec_mod) == []


def test_keypair_of_another_key_is_replaced(exec_mod):
    exec_mod.keypair_get.return_value = {"id": "demo-key", "name": "demo-key", "public_key": "ssh-rsa OLD old\n"}
    ret = openstack.keypair_present("demo-key", KEY)
    assert ret["comment"] == "keypair demo-key replaced"
    assert ret["changes"] == {"old": {"public_key": "ssh-rsa OLD old"}, "new": {"public_key": KEY}}
    assert writes(exec_mod) == [
        ("keypair_delete", (), {"name": "demo-key", "cloud": None}),
        ("keypair_create", (), {"name": "demo-key", "public_key": KEY, "cloud": None}),
    ]


@pytest.fixture
def image_file(tmp_path):
    """A local image of 3 MiB and a bit (more than one read), and its md5."""
    path = tmp_path / "cirros.img"
    data = bytes(range(256)) * (3 * 4096 + 1)
    path.write_bytes(data)
    return str(path), hashlib.md5(data).hexdigest()


def active_image(checksum, **fields):
    return dict(
        {
            "id": "i1",
            "name": "cirros",
            "status": "active",
            "checksum": checksum,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
        },
        **fields,
    )


def test_image_uploaded_once(exec_mod, image_file):
    filename, checksum = image_file
    exec_mod.image_get.return_value = None
    ret = openstack.image_present("cirros", filename, disk_format="qcow2")
    assert ret["comment"] == "image cirros created"
    assert ret["changes"] == {
        "old": None,
        "new": {
            "filename": filename,
            "checksum": checksum,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
        },
    }
    assert writes(exec_mod) == [
        (
            "image_create",
            ("cirros", filename),
            {"cloud": None, "disk_format": "qcow2", "container_format": "bare", "visibility": "public"},
        )
    ]
    exec_mod.reset_mock()
    exec_mod.image_get.return_value = active_image(checksum)
    ret = openstack.image_present("cirros", filename, disk_format="qcow2")
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []


def test_image_with_other_data_is_refused_not_replaced(exec_mod, image_file):
    filename, checksum = image_file
    exec_mod.image_get.return_value = active_image("0" * 32)
    ret = openstack.image_present("cirros", filename)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        f"image cirros has checksum {'0' * 32} but {filename} has {checksum}: delete the image to upload the file again"
    )
    assert writes(exec_mod) == []


def test_image_not_active_is_refused(exec_mod, image_file):
    filename, checksum = image_file
    exec_mod.image_get.return_value = active_image(checksum, status="queued")
    ret = openstack.image_present("cirros", filename)
    assert ret["result"] is False and ret["comment"].startswith("image cirros is queued, not active")
    assert writes(exec_mod) == []


def test_image_from_a_missing_file_fails_clearly(exec_mod, tmp_path):
    ret = openstack.image_present("cirros", str(tmp_path / "nowhere.img"))
    assert ret == {
        "name": "cirros",
        "result": False,
        "changes": {},
        "comment": f"cannot read {tmp_path / 'nowhere.img'}: No such file or directory",
    }
    assert writes(exec_mod) == []


def server_state(status, fault=None):
    return {"id": "v1", "name": "demo1", "status": status, "addresses": {}, "host": None, "fault": fault}


SERVER_ARGS = {"image": "cirros", "flavor": "m1.nano", "network": "demo-net"}


def test_server_booted_then_left_alone(exec_mod):
    exec_mod.server_get.return_value = None
    ret = openstack.server_present("demo1", key_name="demo-key", timeout=300, **SERVER_ARGS)
    assert ret["comment"] == "server demo1 created"
    assert ret["changes"] == {"old": None, "new": dict(SERVER_ARGS, key_name="demo-key")}
    assert writes(exec_mod) == [
        ("server_create", ("demo1",), dict(SERVER_ARGS, key_name="demo-key", timeout=300, cloud=None))
    ]
    exec_mod.reset_mock()
    exec_mod.server_get.return_value = server_state("ACTIVE")
    ret = openstack.server_present("demo1", key_name="demo-key", **SERVER_ARGS)
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []


def test_shutoff_server_is_reported_not_started(exec_mod):
    exec_mod.server_get.return_value = server_state("SHUTOFF")
    ret = openstack.server_present("demo1", **SERVER_ARGS)
    assert ret == {
        "name": "demo1",
        "result": True,
        "changes": {},
        "comment": "server demo1 exists and is SHUTOFF (not started)",
    }
    assert writes(exec_mod) == []


def test_server_in_error_fails_with_its_fault(exec_mod):
    exec_mod.server_get.return_value = server_state("ERROR", fault="No valid host was found.")
    ret = openstack.server_present("demo1", **SERVER_ARGS)
    assert ret == {
        "name": "demo1",
        "result": False,
        "changes": {},
        "comment": "server demo1 is in ERROR: No valid host was found.",
    }
    assert writes(exec_mod) == []


def test_server_boot_failure_fails_the_state(exec_mod):
    exec_mod.server_get.return_value = None
    exec_mod.server_create.side_effect = CommandExecutionError("server demo1 is in ERROR: No valid host was found.")
    ret = openstack.server_present("demo1", **SERVER_ARGS)
    assert ret == {
        "name": "demo1",
        "result": False,
        "changes": {},
        "comment": "server demo1 is in ERROR: No valid host was found.",
    }


def test_server_absent(exec_mod):
    exec_mod.server_get.return_value = server_state("ACTIVE")
    assert openstack.server_absent("demo1")["changes"] == {"old": server_state("ACTIVE"), "new": None}
    assert writes(exec_mod) == [("server_delete", (), {"name": "demo1", "timeout": 600, "cloud": None})]


def test_floating_ip_allocated_once_with_its_address(exec_mod):
    exec_mod.server_get.return_value = server_state("ACTIVE")
    exec_mod.floating_ip_of.return_value = None
    exec_mod.floating_ip_create.return_value = "203.0.113.7"
    ret = openstack.floating_ip_present("demo1", network="public")
    assert ret == {
        "name": "demo1",
        "result": True,
        "comment": "floating IP 203.0.113.7 of server demo1 created",
        "changes": {"old": None, "new": {"network": "public", "address": "203.0.113.7"}},
    }
    assert writes(exec_mod) == [("floating_ip_create", ("demo1", "public"), {"cloud": None})]
    exec_mod.reset_mock()
    exec_mod.floating_ip_of.return_value = "203.0.113.7"
    ret = openstack.floating_ip_present("demo1", network="public")
    assert ret == {
        "name": "demo1",
        "result": True,
        "changes": {},
        "comment": "server demo1 has the floating IP 203.0.113.7",
    }
    assert writes(exec_mod) == []


def test_floating_ip_for_a_missing_server_fails(exec_mod):
    exec_mod.server_get.return_value = None
    exec_mod.floating_ip_create.side_effect = CommandExecutionError("server demo1 does not exist")
    ret = openstack.floating_ip_present("demo1", network="public")
    assert ret["result"] is False and ret["comment"] == "server demo1 does not exist"
    exec_mod.floating_ip_of.assert_not_called()


READY = {"nova_compute": True, "ovs_agent": True}
AGENT_DOWN = {"nova_compute": True, "ovs_agent": False}


def test_compute_ready_waits_for_the_agents(exec_mod, monkeypatch):
    monkeypatch.setattr(openstack.time, "sleep", lambda seconds: None)
    exec_mod.compute_hosts.side_effect = [
        {"compute1": READY, "compute2": AGENT_DOWN},
        {"compute1": READY, "compute2": READY},
    ]
    ret = openstack.compute_ready("demo", minimum=2)
    assert ret == {"name": "demo", "result": True, "changes": {}, "comment": "compute hosts ready: compute1, compute2"}
    assert exec_mod.compute_hosts.call_count == 2
    assert writes(exec_mod) == []


def test_compute_ready_fails_after_the_timeout_naming_what_is_missing(exec_mod, monkeypatch):
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(openstack.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(openstack.time, "sleep", lambda seconds: None)
    exec_mod.compute_hosts.return_value = {"compute1": READY, "compute2": AGENT_DOWN}
    ret = openstack.compute_ready("demo", minimum=2, timeout=30)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == "1 of 2 compute hosts ready after 30 s; waiting for: compute2 (ovs_agent not up)"


def test_compute_ready_in_test_mode_looks_once(opts, exec_mod):
    opts["test"] = True
    exec_mod.compute_hosts.return_value = {}
    ret = openstack.compute_ready("demo", minimum=1)
    assert ret["result"] is None and "would wait for: no nova-compute" in ret["comment"]
    assert exec_mod.compute_hosts.call_count == 1


def test_compute_ready_api_failure_fails_the_state(exec_mod):
    exec_mod.compute_hosts.side_effect = CommandExecutionError("nova-compute services: 503 Service Unavailable")
    ret = openstack.compute_ready("demo")
    assert ret["result"] is False and ret["comment"] == "nova-compute services: 503 Service Unavailable"


def test_server_group_created_then_as_wanted(exec_mod):
    exec_mod.server_group_get.return_value = None
    ret = openstack.server_group_present("demo-spread")
    assert ret["result"] is True and ret["comment"] == "server group demo-spread created"
    assert writes(exec_mod) == [
        ("server_group_create", (), {"name": "demo-spread", "policy": "anti-affinity", "cloud": None})
    ]
    exec_mod.reset_mock()
    exec_mod.server_group_get.return_value = {"id": "g1", "name": "demo-spread", "policy": "anti-affinity"}
    assert openstack.server_group_present("demo-spread")["changes"] == {}
    assert writes(exec_mod) == []


def test_server_group_of_another_policy_fails(exec_mod):
    exec_mod.server_group_get.return_value = {"id": "g1", "name": "demo-spread", "policy": "affinity"}
    ret = openstack.server_group_present("demo-spread", policy="anti-affinity")
    assert ret["result"] is False and "exists with policy=affinity, which cannot be changed" in ret["comment"]
    assert writes(exec_mod) == []


def test_server_booted_in_its_group(exec_mod):
    exec_mod.server_get.return_value = None
    openstack.server_present("demo1", server_group="demo-spread", **SERVER_ARGS)
    assert writes(exec_mod)[0][2]["server_group"] == "demo-spread"


@pytest.mark.parametrize(
    "state, args, kwargs",
    [
        ("server_group_present", ("demo-spread",), {}),
        ("subnet_present", ("demo-subnet",), {"network": "demo-net", "cidr": "10.0.0.0/24"}),
        ("router_present", ("demo-router",), {"external_network": "public", "interfaces": ["demo-subnet"]}),
        ("security_group_rule_present", ("allow-ssh",), {"protocol": "tcp", "port_range_min": 22}),
        ("keypair_present", ("demo-key", KEY), {}),
        ("image_present", ("cirros",), {}),
        ("server_present", ("demo1",), SERVER_ARGS),
        ("floating_ip_present", ("demo1",), {"network": "public"}),
    ],
)
def test_new_resources_in_test_mode_write_nothing(opts, exec_mod, image_file, state, args, kwargs):
    opts["test"] = True
    if state == "image_present":
        kwargs = {"filename": image_file[0]}
    for read in READS:
        getattr(exec_mod, read).return_value = None
    ret = getattr(openstack, state)(*args, **kwargs)
    assert ret["result"] is None and ret["comment"].endswith("would be created")
    assert ret["changes"]["old"] is None and ret["changes"]["new"]
    assert writes(exec_mod) == []


@pytest.mark.parametrize(
    "state, current, args, kwargs",
    [
        (
            "subnet_present",
            ("subnet_get", SUBNET),
            ("demo-subnet",),
            {"network": "demo-net", "cidr": "10.0.0.0/24", "enable_dhcp": False},
        ),
        (
            "router_present",
            ("router_get", {"id": "r1", "external_network": None, "interfaces": []}),
            ("demo-router",),
            {"external_network": "public", "interfaces": ["demo-subnet"]},
        ),
        ("keypair_present", ("keypair_get", {"id": "demo-key", "public_key": "ssh-rsa OLD"}), ("demo-key", KEY), {}),
        ("subnet_absent", ("subnet_get", SUBNET), ("demo-subnet",), {}),
        ("router_absent", ("router_get", {"id": "r1"}), ("demo-router",), {}),
        ("server_absent", ("server_get", server_state("ACTIVE")), ("demo1",), {}),
    ],
)
def test_new_resources_updated_or_deleted_in_test_mode_write_nothing(opts, exec_mod, state, current, args, kwargs):
    opts["test"] = True
    getattr(exec_mod, current[0]).return_value = current[1]
    ret = getattr(openstack, state)(*args, **kwargs)
    assert ret["result"] is None and ret["changes"]
    assert writes(exec_mod) == []


def test_the_mock_refuses_what_the_module_does_not_take(exec_mod):
    with pytest.raises(TypeError):
        exec_mod.project_create("demo", colour="red")
    with pytest.raises(TypeError):
        exec_mod.volume_attach("demo1")


# minimal arguments of each generated state: {kind: (args, kwargs)}
MINIMAL = {
    "project": ((), {}),
    "service": ((), {"type": "image"}),
    "flavor": ((), {"vcpus": 1, "ram": 64}),
    "keypair": ((), {"public_key": KEY}),
    "server_group": ((), {}),
    "network": ((), {}),
    "subnet": ((), {"network": "demo-net", "cidr": "10.0.0.0/24"}),
    "port": ((), {"network": "demo-net", "fixed_ips": [{"subnet": "demo-subnet", "ip_address": "10.0.0.11"}]}),
    "security_group": ((), {}),
    "volume_type": ((), {}),
    "volume": ((), {"size": 1, "image": "cirros"}),
    "volume_snapshot": ((), {"volume": "data1"}),
    "load_balancer": ((), {"vip_subnet": "demo-subnet"}),
    "listener": ((), {"load_balancer": "web-lb", "protocol_port": 443}),
    "pool": ((), {"load_balancer": "web-lb", "listener": "web-https"}),
    "member": ((), {"pool": "web-pool", "address": "10.0.0.21", "protocol_port": 8080}),
    "health_monitor": ((), {"pool": "web-pool", "timeout": 2}),
}


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_each_generated_state_creates_then_deletes_with_arguments_the_module_takes(exec_mod, kind):
    args, kwargs = MINIMAL[kind]
    getattr(exec_mod, f"{kind}_get").return_value = None
    ret = getattr(openstack, f"{kind}_present")("x", *args, **kwargs)
    assert ret["result"] is True and ret["comment"].endswith(" created"), ret
    [(name, _, called)] = writes(exec_mod)
    assert name == f"{kind}_create" and called["name"] == "x"
    assert {key: called[key] for key in kwargs} == kwargs
    exec_mod.reset_mock()
    getattr(exec_mod, f"{kind}_get").return_value = {"id": "i1", "name": "x"}
    scope = module.KINDS[kind].scope
    ret = getattr(openstack, f"{kind}_absent")("x", **{k: v for k, v in kwargs.items() if k in scope})
    assert ret["result"] is True and ret["comment"].endswith(" deleted"), ret
    assert [name for name, _, _ in writes(exec_mod)] == [f"{kind}_delete"]


def test_a_resource_in_a_failed_status_fails_its_state(exec_mod):
    exec_mod.volume_get.return_value = {"id": "v1", "name": "data1", "size": 1, "status": "error"}
    ret = openstack.volume_present("data1", size=1)
    assert ret == {
        "name": "data1",
        "result": False,
        "changes": {},
        "comment": "volume data1 is in error: delete it to make it again",
    }


def test_dict_fields_are_compared_on_the_keys_given(exec_mod):
    exec_mod.flavor_get.return_value = {
        "id": "f1",
        "name": "m1.nano",
        "vcpus": 1,
        "ram": 64,
        "disk": 0,
        "is_public": True,
        "extra_specs": {"hw:mem_page_size": "small", "other": "1"},
    }
    assert (
        openstack.flavor_present("m1.nano", vcpus=1, ram=64, extra_specs={"hw:mem_page_size": "small"})["changes"] == {}
    )
    ret = openstack.flavor_present("m1.nano", vcpus=1, ram=64, extra_specs={"hw:mem_page_size": "large"})
    assert ret["changes"] == {
        "old": {"extra_specs": {"hw:mem_page_size": "small"}},
        "new": {"extra_specs": {"hw:mem_page_size": "large"}},
    }
    assert writes(exec_mod) == [
        ("flavor_update", (), {"name": "m1.nano", "extra_specs": {"hw:mem_page_size": "large"}, "cloud": None})
    ]


def test_volume_attached_once(exec_mod):
    exec_mod.volume_attachments.return_value = {}
    ret = openstack.volume_attached("data1", server="demo1")
    assert ret["comment"] == "attachment of volume data1 to server demo1 created"
    assert writes(exec_mod) == [("volume_attach", ("demo1", "data1"), {"timeout": 600, "cloud": None})]
    exec_mod.reset_mock()
    exec_mod.volume_attachments.return_value = {"data1": "/dev/vdb"}
    assert openstack.volume_attached("data1", server="demo1")["changes"] == {}
    assert writes(exec_mod) == []


def test_image_tags_and_properties_updated(exec_mod, image_file):
    filename, checksum = image_file
    exec_mod.image_get.return_value = active_image(checksum, tags=["old"], properties={"os_distro": "x", "stores": "f"})
    ret = openstack.image_present("cirros", filename, tags=["amphora"], properties={"os_distro": "x"})
    assert ret["changes"] == {"old": {"tags": ["old"]}, "new": {"tags": ["amphora"]}}
    assert writes(exec_mod) == [("image_update", ("cirros",), {"cloud": None, "tags": ["amphora"]})]


# -- the states on the real execution module, against the fake APIs -----------


@pytest.fixture
def api(tmp_path, monkeypatch):
    with OpenStackAPI() as api:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(api.clouds_yaml(tmp_path / "clouds.yaml")))
        monkeypatch.setattr(module.sdk, "POLL_INTERVAL", 0)
        yield api


@pytest.fixture
def real(api, opts):
    """The state module on the real execution module, its cloud the fake's admin."""
    config = {"openstack:cloud": "fake-admin"}
    with (
        patch.dict(
            module.__dict__,
            {"__salt__": {"config.get": lambda key, default=None: config.get(key, default)}, "__context__": {}},
        ),
        patch.dict(openstack.__dict__, {"__salt__": {f"openstack.{name}": getattr(module, name) for name in PUBLIC}}),
    ):
        yield api


def written(api):
    return [
        request
        for request in api.requests
        if request[0] in ("POST", "PUT", "PATCH", "DELETE") and "auth/tokens" not in request[1]
    ]


def test_a_listing_that_fails_on_its_second_page_fails_the_state_with_the_apis_message(real):
    for name in ("m1.a", "m1.b", "m1.c", "m1.d"):
        module.flavor_create(name, 1, 64)
    real.fail("GET", r"/flavors/detail\?.*marker=", 503, "The server is currently unavailable. Please try again later.")
    ret = openstack.flavor_present("m1.tiny", vcpus=1, ram=64)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("flavor m1.tiny: HttpException: 503")
    assert ret["comment"].endswith("The server is currently unavailable. Please try again later.")


def test_volume_and_load_balancer_states_are_idempotent_and_test_mode_writes_nothing(real, opts):
    module.network_create("demo-net")
    module.subnet_create("demo-subnet", "demo-net", "10.0.0.0/24")
    states = [
        ("volume_present", ("data1",), {"size": 1}),
        ("load_balancer_present", ("web-lb",), {"vip_subnet": "demo-subnet"}),
        ("listener_present", ("web-http",), {"load_balancer": "web-lb"}),
        ("pool_present", ("web-pool",), {"load_balancer": "web-lb", "listener": "web-http"}),
        ("member_present", ("web1",), {"pool": "web-pool", "address": "10.0.0.21", "protocol_port": 80}),
        ("health_monitor_present", ("web-check",), {"pool": "web-pool"}),
    ]
    opts["test"] = True
    before = len(written(real))
    assert [getattr(openstack, state)(*args, **kwargs)["result"] for state, args, kwargs in states[:2]] == [None, None]
    assert len(written(real)) == before
    opts["test"] = False
    for state, args, kwargs in states:
        ret = getattr(openstack, state)(*args, **kwargs)
        assert ret["result"] is True and ret["comment"].endswith("created"), ret
    before = len(written(real))
    for state, args, kwargs in states:
        assert getattr(openstack, state)(*args, **kwargs)["changes"] == {}
    assert len(written(real)) == before
    ret = openstack.pool_present("web-pool", load_balancer="web-lb", listener="web-http", lb_algorithm="SOURCE_IP")
    assert ret["changes"] == {"old": {"lb_algorithm": "ROUND_ROBIN"}, "new": {"lb_algorithm": "SOURCE_IP"}}
    assert openstack.load_balancer_absent("web-lb")["comment"] == "load balancer web-lb deleted"
