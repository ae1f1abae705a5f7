"""
Unit tests of the openstack state module with Salt's loader mocks: the
execution module is a mock autospecced on the real one (a state that calls
it with arguments it does not take fails), holding what the cloud would
report; the tests check which writes each state makes, its changes, that
test=True writes nothing and that API failures become a failed state:
Keystone, the catalog, Nova. test_openstack_state_more.py has the others,
on the same fixtures.
"""

import inspect
import types
from unittest.mock import create_autospec

import pytest
from salt.exceptions import CommandExecutionError

import extensions

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


def test_server_booted_from_a_volume(exec_mod):
    exec_mod.server_get.return_value = None
    args = {"flavor": "m1.nano", "network": "demo-net", "boot_volume": "demo2-boot"}
    ret = openstack.server_present("demo2", **args)
    assert ret["comment"] == "server demo2 created" and ret["changes"] == {"old": None, "new": args}
    assert writes(exec_mod) == [("server_create", ("demo2",), dict(args, image=None, timeout=600, cloud=None))]


def test_server_needs_an_image_or_a_boot_volume(exec_mod):
    ret = openstack.server_present("demo2", flavor="m1.nano", network="demo-net")
    assert (
        ret["result"] is False and ret["comment"] == "server demo2: give an image or a boot volume, not both or neither"
    )
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
