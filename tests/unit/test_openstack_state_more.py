"""
Unit tests of the openstack state module, as test_openstack_state.py (an
execution module autospecced on the real one), for Neutron, Glance, Cinder
and Octavia, every generated state; and at the end the states on the real
execution module against the fake OpenStack APIs.
"""

import hashlib
from unittest.mock import Mock, patch

import pytest
from test_openstack_state import PUBLIC, READS, configure_loader_modules, exec_mod, module, openstack, writes

from fakes.openstack_api import OpenStackAPI

# the fixtures of test_openstack_state.py, used here by name
__all__ = ["configure_loader_modules", "exec_mod"]


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


@pytest.mark.parametrize(
    "state, args, kwargs",
    [
        ("server_group_present", ("demo-spread",), {}),
        ("subnet_present", ("demo-subnet",), {"network": "demo-net", "cidr": "10.0.0.0/24"}),
        ("router_present", ("demo-router",), {"external_network": "public", "interfaces": ["demo-subnet"]}),
        ("security_group_rule_present", ("allow-ssh",), {"protocol": "tcp", "port_range_min": 22}),
        ("keypair_present", ("demo-key", KEY), {}),
        ("image_present", ("cirros",), {}),
        ("server_present", ("demo1",), {"image": "cirros", "flavor": "m1.nano", "network": "demo-net"}),
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
        ("server_absent", ("server_get", {"id": "v1", "name": "demo1", "status": "ACTIVE"}), ("demo1",), {}),
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


def test_a_volume_made_of_an_image_is_left_alone_after(real, tmp_path):
    image = tmp_path / "cirros.img"
    image.write_bytes(b"\0" * 4096)
    module.image_create("cirros", str(image))
    ret = openstack.volume_present("boot1", size=1, image="cirros")
    assert ret["result"] is True and ret["comment"] == "volume boot1 created", ret
    before = len(written(real))
    # the image is not read back; it matters only when the volume is made
    ret = openstack.volume_present("boot1", size=1, image="cirros")
    assert ret["result"] is True and ret["changes"] == {}, ret
    assert len(written(real)) == before


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


@pytest.fixture
def demo_server(real, tmp_path):
    """A server on demo-subnet (10.0.0.0/24), and a load balancer's pool of HTTP members."""
    image = tmp_path / "test.img"
    image.write_bytes(b"\0" * 4096)
    module.image_create("test", str(image))
    module.flavor_create("m1.nano", 1, 128)
    module.network_create("demo-net")
    module.subnet_create("demo-subnet", "demo-net", "10.0.0.0/24")
    module.server_create("web1", "test", "m1.nano", "demo-net")
    module.load_balancer_create("web-lb", vip_subnet="demo-subnet")
    module.listener_create("web-http", "web-lb")
    module.pool_create("web-pool", "web-lb", listener="web-http")
    states = {"openstack.member_present": openstack.member_present}
    with patch.dict(openstack.__dict__, {"__states__": states}):
        yield module.server_get("web1")


def test_a_server_becomes_a_member_at_its_address_on_the_subnet_once(real, demo_server):
    address = demo_server["addresses"]["demo-net"][0]["addr"]
    ret = openstack.server_member_present("web1", "web-pool", "web1", "demo-subnet", 80)
    assert ret["result"] is True and ret["comment"] == "member web1 created", ret
    assert ret["changes"]["new"]["address"] == address
    member = module.member_get("web1", "web-pool")
    assert (member["address"], member["protocol_port"], member["subnet"]) == (address, 80, "demo-subnet")
    before = len(written(real))
    assert openstack.server_member_present("web1", "web-pool", "web1", "demo-subnet", 80)["changes"] == {}
    assert len(written(real)) == before


def test_a_member_of_a_server_not_made_yet(real, demo_server, opts):
    opts["test"] = True
    ret = openstack.server_member_present("web2", "web-pool", "web2", "demo-subnet", 80)
    assert (
        ret["result"] is None
        and ret["comment"] == "member web2 of pool web-pool would be added once server web2 exists"
    )
    opts["test"] = False
    ret = openstack.server_member_present("web2", "web-pool", "web2", "demo-subnet", 80)
    assert ret["result"] is False and ret["comment"].startswith("server web2 does not exist")


def test_a_server_without_an_address_on_the_subnet_is_no_member(real, demo_server):
    module.network_create("other-net")
    module.subnet_create("other-subnet", "other-net", "10.9.0.0/24")
    ret = openstack.server_member_present("web1", "web-pool", "web1", "other-subnet", 80)
    assert ret == {
        "name": "web1",
        "result": False,
        "changes": {},
        "comment": "server web1 has no fixed address on subnet other-subnet (10.9.0.0/24)",
    }
    assert module.member_list("web-pool") == []


def test_a_port_is_plugged_into_ovs_with_its_id_and_mac(real, opts):
    module.network_create("lb-mgmt-net")
    module.subnet_create("lb-mgmt-subnet", "lb-mgmt-net", "172.31.0.0/24")
    port = module.port_create(
        "octavia-health-manager",
        "lb-mgmt-net",
        fixed_ips=[{"subnet": "lb-mgmt-subnet", "ip_address": "172.31.0.2"}],
        binding_host="network",
        port_security=False,
    )
    assert (port["binding_host"], port["port_security"]) == ("network", False)
    plugged = {"name": "o-hm0", "result": True, "changes": {}, "comment": "Port o-hm0 is as wanted"}
    ovs_port_present = Mock(return_value=plugged)
    with patch.dict(openstack.__dict__, {"__states__": {"ovs.port_present": ovs_port_present}}):
        assert openstack.port_plugged("o-hm0", "octavia-health-manager", "lb-mgmt-net") == plugged
        mac = port["mac_address"]
        ovs_port_present.assert_called_once_with(
            name="o-hm0",
            bridge="br-int",
            type="internal",
            external_ids={"iface-id": port["id"], "attached-mac": mac, "iface-status": "active"},
            mac=mac,
        )
        ovs_port_present.reset_mock()
        opts["test"] = True
        ret = openstack.port_plugged("o-hm1", "no-such-port", "lb-mgmt-net")
        assert (
            ret["result"] is None
            and ret["comment"] == "interface o-hm1 would be plugged into port no-such-port once it exists"
        )
        opts["test"] = False
        ret = openstack.port_plugged("o-hm1", "no-such-port", "lb-mgmt-net")
        assert ret["result"] is False and ret["comment"].startswith(
            "port no-such-port of network lb-mgmt-net does not exist"
        )
        ovs_port_present.assert_not_called()
