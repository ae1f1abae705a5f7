"""
The ceph state module (_states/ceph.py) with Salt's loader mocks: the ceph
execution module mocked by autospec of the real one (a call with the wrong
arguments fails the test), holding what the cluster would report. The
tests check which writes each state makes, its changes (keys hidden), that
a second run writes nothing and test=True writes nothing.
"""

import types
from unittest.mock import create_autospec

import pytest
from salt.exceptions import CommandExecutionError

import extensions

states = extensions.load("_states", "ceph")
module = extensions.load("_modules", "ceph")

READS = ("auth_get", "osd_get", "pool_get")
WRITES = ("auth_import", "osd_new", "pool_create", "pool_set", "pool_set_quota", "pool_application_enable")
KEY = "AQCipw9rN9TvBBAA1C1Wtcr88Vtm21XHyj8QFA=="
CAPS = {"mon": "profile rbd", "osd": "profile rbd pool=volumes"}
UUID = "66ea6828-986a-4c49-9c0f-540a996ae556"
GIB = 2**30


@pytest.fixture
def exec_mod():
    functions = {name: getattr(module, name) for name in READS + WRITES}
    return create_autospec(types.SimpleNamespace(**functions))


@pytest.fixture
def configure_loader_modules(opts, exec_mod):
    salt_dunder = {f"ceph.{name}": getattr(exec_mod, name) for name in READS + WRITES}
    return {states: {"__opts__": opts, "__salt__": salt_dunder}}


def writes(exec_mod):
    return [(name, args, kwargs) for name, args, kwargs in exec_mod.mock_calls if name in WRITES]


def test_virtual_needs_the_execution_module():
    assert states.__virtual__() == "ceph"


def test_a_missing_entity_is_imported_its_key_hidden(exec_mod):
    exec_mod.auth_get.return_value = None
    ret = states.auth_present("client.cinder", KEY, CAPS)
    assert ret == {
        "name": "client.cinder",
        "result": True,
        "comment": "cephx entity client.cinder created",
        "changes": {"old": None, "new": {"key": "********", "caps": CAPS}},
    }
    assert writes(exec_mod) == [("auth_import", ("client.cinder", KEY, CAPS), {})]


def test_an_entity_as_wanted_is_left_alone(exec_mod):
    exec_mod.auth_get.return_value = {"key": KEY, "caps": dict(CAPS)}
    ret = states.auth_present("client.cinder", KEY, CAPS)
    assert ret["result"] is True and ret["changes"] == {}
    assert ret["comment"] == "cephx entity client.cinder is as wanted"
    assert writes(exec_mod) == []


def test_other_caps_are_replaced_and_shown(exec_mod):
    exec_mod.auth_get.return_value = {"key": KEY, "caps": {"mon": "allow r"}}
    ret = states.auth_present("client.cinder", KEY, CAPS)
    assert ret["changes"] == {"old": {"caps": {"mon": "allow r"}}, "new": {"caps": CAPS}}
    assert writes(exec_mod) == [("auth_import", ("client.cinder", KEY, CAPS), {})]


def test_another_key_shows_hidden_and_test_mode_writes_nothing(opts, exec_mod):
    opts["test"] = True
    exec_mod.auth_get.return_value = {"key": "AQother==", "caps": dict(CAPS)}
    ret = states.auth_present("client.cinder", KEY, CAPS)
    assert ret["result"] is None and ret["comment"] == "cephx entity client.cinder would be updated"
    assert ret["changes"] == {"old": {"key": "********"}, "new": {"key": "********"}}
    assert writes(exec_mod) == []


def test_a_monitor_that_does_not_answer_fails_the_state_with_its_message(exec_mod):
    exec_mod.auth_get.side_effect = CommandExecutionError("reading cephx entity osd.0: [errno 110] RADOS timed out")
    ret = states.auth_present("osd.0", KEY, CAPS)
    assert ret == {
        "name": "osd.0",
        "result": False,
        "comment": "reading cephx entity osd.0: [errno 110] RADOS timed out",
        "changes": {},
    }


def test_the_osd_is_added_once(exec_mod):
    exec_mod.osd_get.return_value = None
    ret = states.osd_present("0", UUID)
    assert ret["comment"] == "OSD 0 created" and ret["changes"] == {"old": None, "new": {"uuid": UUID}}
    assert writes(exec_mod) == [("osd_new", (0, UUID), {})]
    exec_mod.osd_get.return_value = {"uuid": UUID, "up": False, "in": True}
    exec_mod.reset_mock()
    assert states.osd_present("0", UUID)["changes"] == {}
    assert writes(exec_mod) == []


def test_an_osd_of_another_disk_is_not_replaced(exec_mod):
    exec_mod.osd_get.return_value = {"uuid": "0d0e0f00-0000-4000-8000-000000000000", "up": True, "in": True}
    ret = states.osd_present("0", UUID)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"].startswith("OSD 0 exists with the UUID 0d0e0f00-0000-4000-8000-000000000000, not " + UUID)
    assert writes(exec_mod) == []


def test_a_new_pool_is_made_sized_with_its_quota_and_rbd(exec_mod):
    made = {"size": 3, "min_size": 2, "quota_bytes": 0, "pg_num": 32, "applications": []}
    exec_mod.pool_get.side_effect = [None, made]
    ret = states.pool_present("volumes", size=1, quota_gb=6, application="rbd", init_timeout=120)
    assert ret["comment"] == "pool volumes created"
    assert ret["changes"] == {
        "old": None,
        "new": {"size": 1, "min_size": 1, "quota_bytes": 6 * GIB, "applications": ["rbd"]},
    }
    assert writes(exec_mod) == [
        ("pool_create", ("volumes",), {}),
        ("pool_set", ("volumes", "size", 1), {}),
        ("pool_set", ("volumes", "min_size", 1), {}),
        ("pool_set_quota", ("volumes", 6 * GIB), {}),
        ("pool_application_enable", ("volumes", "rbd"), {"timeout": 120}),
    ]


def test_a_pool_as_wanted_is_left_alone(exec_mod):
    exec_mod.pool_get.return_value = {
        "size": 1,
        "min_size": 1,
        "quota_bytes": 6 * GIB,
        "pg_num": 32,
        "applications": ["rbd"],
    }
    ret = states.pool_present("volumes", size=1, quota_gb=6, application="rbd")
    assert ret["result"] is True and ret["changes"] == {} and ret["comment"] == "pool volumes is as wanted"
    assert writes(exec_mod) == []


def test_only_the_quota_that_differs_is_set(opts, exec_mod):
    exec_mod.pool_get.return_value = {
        "size": 1,
        "min_size": 1,
        "quota_bytes": 6 * GIB,
        "pg_num": 8,
        "applications": ["rbd"],
    }
    opts["test"] = True
    ret = states.pool_present("volumes", size=1, quota_gb=8, application="rbd")
    assert ret["result"] is None and ret["changes"] == {
        "old": {"quota_bytes": 6 * GIB},
        "new": {"quota_bytes": 8 * GIB},
    }
    assert writes(exec_mod) == []
    opts["test"] = False
    assert states.pool_present("volumes", size=1, quota_gb=8, application="rbd")["comment"] == "pool volumes updated"
    assert writes(exec_mod) == [("pool_set_quota", ("volumes", 8 * GIB), {})]
