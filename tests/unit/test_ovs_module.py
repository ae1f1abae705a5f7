"""
Unit tests of the ovs execution module with Salt's loader mocks: the exact
ovs-vsctl argv of each function, and the parsing of ovs-vsctl's JSON output
(the replies below were captured from ovs-vsctl 3.1.0).
"""

from unittest.mock import MagicMock, patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

import extensions

ovs = extensions.load("_modules", "ovs")

VSCTL = ["ovs-vsctl", "--timeout=30"]

BR_EXT = (
    '{"data":[["br-ext","netdev","secure",["map",[]],["map",[]]]],'
    '"headings":["name","datapath_type","fail_mode","other_config","external_ids"]}'
)
BR_PHYS = (
    '{"data":[["br-phys","",["set",[]],["map",[["hwaddr","aa:bb:cc:dd:ee:ff"]]],'
    '["map",[["owner","salt"]]]]],'
    '"headings":["name","datapath_type","fail_mode","other_config","external_ids"]}'
)
NO_BRIDGE = '{"data":[],"headings":["name","datapath_type","fail_mode","other_config","external_ids"]}'
VX1 = (
    '{"data":[["vx1","vxlan",["map",[["key","100"],["remote_ip","192.168.2.21"]]],["map",[]],["set",[]]]],'
    '"headings":["name","type","options","external_ids","mac"]}'
)
# an internal port that Neutron's agent wires: its port's id and MAC
HM0 = (
    '{"data":[["o-hm0","internal",["map",[]],["map",[["iface-id","p-1"]]],"fa:16:3e:00:00:02"]],'
    '"headings":["name","type","options","external_ids","mac"]}'
)
NO_INTERFACE = '{"data":[],"headings":["name","type","options","external_ids","mac"]}'
BRIDGE_FIND = VSCTL + [
    "--format=json",
    "--columns=name,datapath_type,fail_mode,other_config,external_ids",
    "find",
    "bridge",
]
INTERFACE_FIND = VSCTL + ["--format=json", "--columns=name,type,options,external_ids,mac", "find", "interface"]


def reply(stdout="", retcode=0, stderr=""):
    return {"stdout": stdout, "stderr": stderr, "retcode": retcode, "pid": 1}


@pytest.fixture
def config():
    return {}


@pytest.fixture
def run_all():
    return MagicMock(return_value=reply())


@pytest.fixture
def configure_loader_modules(config, run_all):
    return {
        ovs: {"__salt__": {"cmd.run_all": run_all, "config.get": lambda key, default=None: config.get(key, default)}}
    }


def argvs(run_all):
    """The argv of each ovs-vsctl run, checking how each was run."""
    for call in run_all.call_args_list:
        assert call.kwargs == {"python_shell": False, "ignore_retcode": True}
    return [call.args[0] for call in run_all.call_args_list]


def test_virtual_needs_ovs_vsctl():
    with patch("salt.utils.path.which", return_value="/usr/bin/ovs-vsctl"):
        assert ovs.__virtual__() == "ovs"
    with patch("salt.utils.path.which", return_value=None):
        assert ovs.__virtual__() == (False, "ovs-vsctl is not on PATH (install openvswitch-switch)")


def test_db_and_timeout_come_from_config(config, run_all):
    config.update({"ovs:db": "unix:/tmp/ovs/db.sock", "ovs:timeout": 5})
    ovs.bridge_list()
    assert argvs(run_all) == [["ovs-vsctl", "--timeout=5", "--db=unix:/tmp/ovs/db.sock", "list-br"]]


def test_bridge_list(run_all):
    run_all.return_value = reply("br-ext\nbr-phys\n")
    assert ovs.bridge_list() == ["br-ext", "br-phys"]
    assert argvs(run_all) == [VSCTL + ["list-br"]]


def test_bridge_list_empty(run_all):
    assert ovs.bridge_list() == []


def test_bridge_get_netdev_secure(run_all):
    run_all.return_value = reply(BR_EXT)
    assert ovs.bridge_get("br-ext") == {
        "name": "br-ext",
        "datapath_type": "netdev",
        "fail_mode": "secure",
        "other_config": {},
        "external_ids": {},
    }
    assert argvs(run_all) == [BRIDGE_FIND + ['name="br-ext"']]


def test_bridge_get_unset_fail_mode_and_maps(run_all):
    run_all.return_value = reply(BR_PHYS)
    assert ovs.bridge_get("br-phys") == {
        "name": "br-phys",
        "datapath_type": "",
        "fail_mode": None,
        "other_config": {"hwaddr": "aa:bb:cc:dd:ee:ff"},
        "external_ids": {"owner": "salt"},
    }


def test_bridge_get_missing(run_all):
    run_all.return_value = reply(NO_BRIDGE)
    assert ovs.bridge_get("nope") is None


def test_bridge_add_sets_datapath_in_the_same_transaction(run_all):
    assert ovs.bridge_add("br-ext", datapath_type="netdev", fail_mode="secure") is True
    assert argvs(run_all) == [
        VSCTL + ["add-br", "br-ext", "--", "set", "bridge", "br-ext", 'datapath_type="netdev"', 'fail_mode="secure"']
    ]


def test_bridge_add_plain_may_exist(run_all):
    ovs.bridge_add("br-phys", may_exist=True)
    assert argvs(run_all) == [VSCTL + ["--may-exist", "add-br", "br-phys"]]


SWITCH = '{"data":[[["map",[["userspace-tso-enable","true"]]]]],"headings":["other_config"]}'


def test_switch_get_reads_the_root_record(run_all):
    run_all.return_value = reply(SWITCH)
    assert ovs.switch_get() == {"other_config": {"userspace-tso-enable": "true"}}
    assert argvs(run_all) == [VSCTL + ["--format=json", "--columns=other_config", "list", "Open_vSwitch", "."]]


def test_switch_set_merges_quoted_keys(run_all):
    assert ovs.switch_set({"userspace-tso-enable": "true", "max-idle": "30000"}) is True
    assert argvs(run_all) == [
        VSCTL
        + ["set", "Open_vSwitch", ".", 'other_config:"userspace-tso-enable"="true"', 'other_config:"max-idle"="30000"']
    ]


def test_switch_set_needs_keys(run_all):
    with pytest.raises(SaltInvocationError, match="needs other_config keys"):
        ovs.switch_set({})
    assert not run_all.called


def test_bridge_set(run_all):
    ovs.bridge_set("br-ext", fail_mode="standalone")
    assert argvs(run_all) == [VSCTL + ["--", "set", "bridge", "br-ext", 'fail_mode="standalone"']]


def test_bridge_set_needs_a_value(run_all):
    with pytest.raises(SaltInvocationError, match="needs datapath_type or fail_mode"):
        ovs.bridge_set("br-ext")
    run_all.assert_not_called()


def test_bridge_delete(run_all):
    ovs.bridge_delete("br-ext")
    ovs.bridge_delete("br-old", if_exists=True)
    assert argvs(run_all) == [VSCTL + ["del-br", "br-ext"], VSCTL + ["--if-exists", "del-br", "br-old"]]


def test_port_list(run_all):
    run_all.return_value = reply("int0\npatch-ext\nvx1\n")
    assert ovs.port_list("br-ext") == ["int0", "patch-ext", "vx1"]
    assert argvs(run_all) == [VSCTL + ["list-ports", "br-ext"]]


def test_port_get_reads_interface_then_bridge(run_all):
    run_all.side_effect = [reply(VX1), reply("br-ext\n")]
    assert ovs.port_get("vx1") == {
        "name": "vx1",
        "type": "vxlan",
        "options": {"key": "100", "remote_ip": "192.168.2.21"},
        "external_ids": {},
        "mac": "",
        "bridge": "br-ext",
    }
    assert argvs(run_all) == [INTERFACE_FIND + ['name="vx1"'], VSCTL + ["port-to-br", "vx1"]]


def test_port_get_reads_external_ids_and_mac(run_all):
    run_all.side_effect = [reply(HM0), reply("br-int\n")]
    port = ovs.port_get("o-hm0")
    assert port["external_ids"] == {"iface-id": "p-1"} and port["mac"] == "fa:16:3e:00:00:02"


def test_port_add_internal_with_external_ids_and_mac(run_all):
    ovs.port_add("br-int", "o-hm0", type="internal", external_ids={"iface-id": "p-1"}, mac="fa:16:3e:00:00:02")
    assert argvs(run_all) == [
        VSCTL
        + ["add-port", "br-int", "o-hm0", "--", "set", "interface", "o-hm0", 'type="internal"']
        + ['external_ids={"iface-id"="p-1"}', 'mac="fa:16:3e:00:00:02"']
    ]


def test_port_get_missing_asks_once(run_all):
    run_all.return_value = reply(NO_INTERFACE)
    assert ovs.port_get("nope") is None
    assert len(run_all.call_args_list) == 1


def test_port_add_vxlan_with_options(run_all):
    ovs.port_add("br-ext", "vx1", type="vxlan", options={"remote_ip": "192.168.2.21", "key": 100})
    assert argvs(run_all) == [
        VSCTL
        + [
            "add-port",
            "br-ext",
            "vx1",
            "--",
            "set",
            "interface",
            "vx1",
            'type="vxlan"',
            'options={"remote_ip"="192.168.2.21", "key"="100"}',
        ]
    ]


def test_port_add_plain_may_exist(run_all):
    ovs.port_add("br-ext", "eth1", may_exist=True)
    assert argvs(run_all) == [VSCTL + ["--may-exist", "add-port", "br-ext", "eth1"]]


def test_port_set_type_and_cleared_options(run_all):
    ovs.port_set("int0", type="internal", options={})
    assert argvs(run_all) == [VSCTL + ["--", "set", "interface", "int0", 'type="internal"', "options={}"]]


def test_port_set_needs_a_value(run_all):
    with pytest.raises(SaltInvocationError, match="needs type, options, external_ids or mac"):
        ovs.port_set("int0")


def test_port_delete(run_all):
    ovs.port_delete("vx1")
    ovs.port_delete("vx2", bridge="br-ext", if_exists=True)
    assert argvs(run_all) == [VSCTL + ["del-port", "vx1"], VSCTL + ["--if-exists", "del-port", "br-ext", "vx2"]]


def test_failure_carries_ovs_vsctl_stderr(run_all):
    run_all.return_value = reply(retcode=1, stderr="ovs-vsctl: no bridge named nope\n")
    with pytest.raises(CommandExecutionError, match="^ovs-vsctl: no bridge named nope$"):
        ovs.port_list("nope")


def test_failure_without_stderr_names_the_command(run_all):
    run_all.return_value = reply(retcode=142)
    with pytest.raises(CommandExecutionError, match="ovs-vsctl --timeout=30 del-br x exited 142"):
        ovs.bridge_delete("x")


def test_stderr_of_a_committed_change_is_logged(run_all):
    run_all.return_value = reply(stderr="ovs-vsctl: Error detected while setting up 'vx1'\n")
    with patch.object(ovs, "log") as log:
        assert ovs.port_set("vx1", type="vxlan") is True
    log.warning.assert_called_once_with("ovs-vsctl: %s", "ovs-vsctl: Error detected while setting up 'vx1'")
