"""
Unit tests of the ovs state module with Salt's loader mocks: the ovs
execution module is a set of mocks holding what ovs-vsctl would report; the
tests check which writes each state makes, its changes, and that test=True
writes nothing.
"""

from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError

import extensions

ovs = extensions.load("_states", "ovs")

BR_EXT = {"name": "br-ext", "datapath_type": "netdev", "fail_mode": None, "other_config": {}, "external_ids": {}}
VX1 = {"name": "vx1", "type": "vxlan", "options": {"key": "100", "remote_ip": "192.168.2.21"}, "bridge": "br-ext"}
WRITES = ("switch_set", "bridge_add", "bridge_set", "bridge_delete", "port_add", "port_set", "port_delete")


@pytest.fixture
def configure_loader_modules(opts, exec_mod):
    salt_dunder = {
        f"ovs.{name}": getattr(exec_mod, name)
        for name in ("switch_get", "bridge_get", "port_get", "port_list") + WRITES
    }
    return {ovs: {"__opts__": opts, "__salt__": salt_dunder}}


def writes(exec_mod):
    """The write calls made, in order, as (function, args, kwargs)."""
    return [(name, args, kwargs) for name, args, kwargs in exec_mod.mock_calls if name in WRITES]


def test_virtual_needs_the_execution_module():
    assert ovs.__virtual__() == "ovs"
    with patch.dict(ovs.__salt__, clear=True):
        assert ovs.__virtual__()[0] is False


def test_switch_config_set_where_it_differs(exec_mod):
    exec_mod.switch_get.return_value = {"other_config": {"max-idle": "10000"}}
    ret = ovs.switch_configured("tso", {"userspace-tso-enable": True, "max-idle": 10000})
    assert ret["result"] is True and ret["changes"] == {
        "old": {"userspace-tso-enable": None},
        "new": {"userspace-tso-enable": "true"},
    }
    assert writes(exec_mod) == [("switch_set", ({"userspace-tso-enable": "true"},), {})]


def test_switch_config_as_wanted_changes_nothing(exec_mod):
    exec_mod.switch_get.return_value = {"other_config": {"userspace-tso-enable": "true", "other": "x"}}
    ret = ovs.switch_configured("tso", {"userspace-tso-enable": "true"})
    assert ret["result"] is True and ret["changes"] == {}
    assert writes(exec_mod) == []


def test_switch_config_test_mode_writes_nothing(opts, exec_mod):
    opts["test"] = True
    exec_mod.switch_get.return_value = {"other_config": {}}
    ret = ovs.switch_configured("tso", {"userspace-tso-enable": "true"})
    assert ret["result"] is None and ret["changes"]["new"] == {"userspace-tso-enable": "true"}
    assert writes(exec_mod) == []


def test_bridge_created(exec_mod):
    exec_mod.bridge_get.return_value = None
    ret = ovs.bridge_present("br-ext", datapath_type="netdev")
    assert ret == {
        "name": "br-ext",
        "result": True,
        "comment": "Bridge br-ext created",
        "changes": {"old": None, "new": {"name": "br-ext", "datapath_type": "netdev"}},
    }
    assert writes(exec_mod) == [("bridge_add", ("br-ext",), {"datapath_type": "netdev"})]


def test_bridge_as_wanted_changes_nothing(exec_mod):
    exec_mod.bridge_get.return_value = BR_EXT
    ret = ovs.bridge_present("br-ext", datapath_type="netdev")
    assert ret["result"] is True and ret["changes"] == {}
    assert ret["comment"] == "Bridge br-ext is as wanted"
    assert writes(exec_mod) == []


def test_bridge_values_not_given_are_left_alone(exec_mod):
    exec_mod.bridge_get.return_value = dict(BR_EXT, fail_mode="secure")
    assert ovs.bridge_present("br-ext")["changes"] == {}
    assert writes(exec_mod) == []


def test_bridge_updated_only_where_it_differs(exec_mod):
    exec_mod.bridge_get.return_value = BR_EXT
    ret = ovs.bridge_present("br-ext", datapath_type="netdev", fail_mode="secure")
    assert ret["changes"] == {"old": {"fail_mode": None}, "new": {"fail_mode": "secure"}}
    assert ret["comment"] == "Bridge br-ext updated"
    assert writes(exec_mod) == [("bridge_set", ("br-ext",), {"fail_mode": "secure"})]


@pytest.mark.parametrize("current", [None, BR_EXT])
def test_bridge_test_mode_writes_nothing(opts, exec_mod, current):
    opts["test"] = True
    exec_mod.bridge_get.return_value = current
    ret = ovs.bridge_present("br-ext", datapath_type="system")
    assert ret["result"] is None and ret["changes"]["new"]["datapath_type"] == "system"
    assert ret["comment"] == f"Bridge br-ext would be {'created' if current is None else 'updated'}"
    assert writes(exec_mod) == []


def test_bridge_write_failure_fails_the_state(exec_mod):
    exec_mod.bridge_get.return_value = None
    exec_mod.bridge_add.side_effect = CommandExecutionError("ovs-vsctl: bad")
    ret = ovs.bridge_present("br-ext")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == "Bridge br-ext could not be created: ovs-vsctl: bad"


def test_read_failure_fails_the_state(exec_mod):
    exec_mod.port_get.side_effect = CommandExecutionError("ovs-vsctl: unix:/run/db.sock: database connection failed")
    ret = ovs.port_absent("vx1")
    assert ret["result"] is False and "database connection failed" in ret["comment"]


def test_bridge_deleted(exec_mod):
    exec_mod.bridge_get.return_value = BR_EXT
    ret = ovs.bridge_absent("br-ext")
    assert ret["changes"] == {"old": BR_EXT, "new": None} and ret["comment"] == "Bridge br-ext deleted"
    assert writes(exec_mod) == [("bridge_delete", ("br-ext",), {})]


def test_bridge_already_absent(exec_mod):
    exec_mod.bridge_get.return_value = None
    ret = ovs.bridge_absent("br-ext")
    assert ret["result"] is True and ret["changes"] == {} and writes(exec_mod) == []


def test_port_created_with_options_as_strings(exec_mod):
    exec_mod.port_get.return_value = None
    ret = ovs.port_present("vx1", "br-ext", type="vxlan", options={"remote_ip": "192.168.2.21", "key": 100})
    assert ret["changes"] == {"old": None, "new": {"bridge": "br-ext", "type": "vxlan", "options": VX1["options"]}}
    assert writes(exec_mod) == [("port_add", ("br-ext", "vx1"), {"type": "vxlan", "options": VX1["options"]})]


def test_port_as_wanted_compares_options_as_strings(exec_mod):
    exec_mod.port_get.return_value = VX1
    ret = ovs.port_present("vx1", "br-ext", type="vxlan", options={"key": 100, "remote_ip": "192.168.2.21"})
    assert ret["result"] is True and ret["changes"] == {} and writes(exec_mod) == []


def test_port_boolean_options_are_spelled_as_ovs_does(exec_mod):
    exec_mod.port_get.return_value = dict(VX1, options={"csum": "true"})
    assert ovs.port_present("vx1", "br-ext", options={"csum": True})["changes"] == {}


def test_port_options_replaced_whole(exec_mod):
    exec_mod.port_get.return_value = VX1
    ret = ovs.port_present("vx1", "br-ext", options={"remote_ip": "192.168.2.22"})
    assert ret["changes"] == {"old": {"options": VX1["options"]}, "new": {"options": {"remote_ip": "192.168.2.22"}}}
    assert writes(exec_mod) == [("port_set", ("vx1",), {"type": None, "options": {"remote_ip": "192.168.2.22"}})]


def test_port_type_changed_in_place(exec_mod):
    exec_mod.port_get.return_value = dict(VX1, type="internal", options={})
    ret = ovs.port_present("vx1", "br-ext", type="vxlan", options={})
    assert ret["changes"] == {"old": {"type": "internal"}, "new": {"type": "vxlan"}}
    assert writes(exec_mod) == [("port_set", ("vx1",), {"type": "vxlan", "options": None})]


def test_port_moved_keeps_what_is_not_given(exec_mod):
    exec_mod.port_get.return_value = dict(VX1, bridge="br-phys")
    ret = ovs.port_present("vx1", "br-ext")
    assert ret["changes"] == {"old": {"bridge": "br-phys"}, "new": {"bridge": "br-ext"}}
    assert writes(exec_mod) == [
        ("port_delete", ("vx1",), {"bridge": "br-phys"}),
        ("port_add", ("br-ext", "vx1"), {"type": "vxlan", "options": VX1["options"]}),
    ]


def test_port_moved_and_retyped(exec_mod):
    exec_mod.port_get.return_value = dict(VX1, bridge="br-phys")
    ret = ovs.port_present("vx1", "br-ext", type="internal", options={})
    assert ret["changes"]["new"] == {"bridge": "br-ext", "type": "internal", "options": {}}
    assert writes(exec_mod)[1] == ("port_add", ("br-ext", "vx1"), {"type": "internal", "options": {}})


HM0_IDS = {"iface-id": "p-1", "attached-mac": "fa:16:3e:00:00:02", "iface-status": "active"}
HM0 = {"name": "o-hm0", "type": "internal", "options": {}, "external_ids": HM0_IDS, "mac": "fa:16:3e:00:00:02"}


def test_port_created_with_external_ids_and_mac(exec_mod):
    exec_mod.port_get.return_value = None
    ret = ovs.port_present("o-hm0", "br-int", type="internal", external_ids=HM0_IDS, mac="FA:16:3E:00:00:02")
    assert ret["changes"]["new"]["mac"] == "fa:16:3e:00:00:02"
    assert writes(exec_mod) == [
        (
            "port_add",
            ("br-int", "o-hm0"),
            {"type": "internal", "options": None, "external_ids": HM0_IDS, "mac": "fa:16:3e:00:00:02"},
        )
    ]


def test_port_external_ids_changed_in_place(exec_mod):
    exec_mod.port_get.return_value = dict(HM0, bridge="br-int")
    ids = dict(HM0_IDS, **{"iface-id": "p-2"})
    ret = ovs.port_present("o-hm0", "br-int", type="internal", external_ids=ids, mac="fa:16:3e:00:00:02")
    assert ret["changes"] == {"old": {"external_ids": HM0_IDS}, "new": {"external_ids": ids}}
    assert writes(exec_mod) == [("port_set", ("o-hm0",), {"type": None, "options": None, "external_ids": ids})]


def test_port_moved_keeps_its_external_ids_and_mac(exec_mod):
    exec_mod.port_get.return_value = dict(HM0, bridge="br-ext")
    ovs.port_present("o-hm0", "br-int")
    assert writes(exec_mod)[1] == (
        "port_add",
        ("br-int", "o-hm0"),
        {"type": "internal", "options": {}, "external_ids": HM0_IDS, "mac": "fa:16:3e:00:00:02"},
    )


@pytest.mark.parametrize("current", [None, dict(VX1, bridge="br-phys"), dict(VX1, options={})])
def test_port_test_mode_writes_nothing(opts, exec_mod, current):
    opts["test"] = True
    exec_mod.port_get.return_value = current
    ret = ovs.port_present("vx1", "br-ext", type="vxlan", options={"key": 100, "remote_ip": "192.168.2.21"})
    assert ret["result"] is None and ret["changes"]["new"]
    assert writes(exec_mod) == []


def test_port_deleted_from_its_bridge(exec_mod):
    exec_mod.port_get.return_value = VX1
    ret = ovs.port_absent("vx1")
    assert ret["changes"] == {"old": VX1, "new": None} and ret["comment"] == "Port vx1 deleted"
    assert writes(exec_mod) == [("port_delete", ("vx1",), {"bridge": "br-ext"})]


def test_port_absent_test_mode(opts, exec_mod):
    opts["test"] = True
    exec_mod.port_get.return_value = VX1
    ret = ovs.port_absent("vx1")
    assert ret["result"] is None and ret["comment"] == "Port vx1 would be deleted" and writes(exec_mod) == []


def test_port_already_absent(exec_mod):
    exec_mod.port_get.return_value = None
    assert ovs.port_absent("vx1") == {"name": "vx1", "result": True, "changes": {}, "comment": "Port vx1 is absent"}


def test_ports_of_peers_that_are_gone_are_pruned(exec_mod):
    exec_mod.bridge_get.return_value = BR_EXT
    exec_mod.port_list.return_value = ["patch-ext", "vx-compute1", "vx-compute3", "vx-old"]
    ret = ovs.ports_pruned("stale", "br-ext", "vx-", ["vx-compute1", "vx-compute2"])
    assert ret["result"] is True and ret["changes"] == {"old": ["vx-compute3", "vx-old"], "new": None}
    assert writes(exec_mod) == [
        ("port_delete", ("vx-compute3",), {"bridge": "br-ext"}),
        ("port_delete", ("vx-old",), {"bridge": "br-ext"}),
    ]


def test_ports_pruned_under_test_mode_writes_nothing(opts, exec_mod):
    opts["test"] = True
    exec_mod.bridge_get.return_value = BR_EXT
    exec_mod.port_list.return_value = ["vx-old"]
    ret = ovs.ports_pruned("stale", "br-ext", "vx-", [])
    assert ret["result"] is None and ret["changes"]["old"] == ["vx-old"] and writes(exec_mod) == []


def test_nothing_to_prune_on_a_bridge_not_made_yet_or_as_wanted(exec_mod):
    exec_mod.bridge_get.return_value = None
    ret = ovs.ports_pruned("stale", "br-ext", "vx-", ["vx-compute1"])
    assert ret["result"] is True and ret["changes"] == {} and "absent" in ret["comment"]
    exec_mod.port_list.assert_not_called()
    exec_mod.bridge_get.return_value = BR_EXT
    exec_mod.port_list.return_value = ["patch-ext", "vx-compute1"]
    ret = ovs.ports_pruned("stale", "br-ext", "vx-", ["vx-compute1"])
    assert ret["result"] is True and ret["changes"] == {} and writes(exec_mod) == []


def test_ports_pruned_fails_when_ovs_does_not_answer(exec_mod):
    exec_mod.bridge_get.side_effect = CommandExecutionError("database connection failed")
    ret = ovs.ports_pruned("stale", "br-ext", "vx-", [])
    assert ret["result"] is False and "database connection failed" in ret["comment"]
