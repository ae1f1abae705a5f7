"""
The ceph execution module (_modules/ceph.py) with Salt's loader mocks:
``cmd.run_all`` answers as the ceph and rbd commands of Ceph 18.2 did on
the lab's storage node (outputs recorded there), and the tests check the
commands run, what the functions make of the answers, and that Ceph's
messages come through as CommandExecutionError.
"""

import json
from unittest.mock import MagicMock

import pytest
from salt.exceptions import CommandExecutionError

import extensions

ceph = extensions.load("_modules", "ceph")

AUTH_CINDER = [
    {
        "entity": "client.cinder",
        "key": "AQCipw9rN9TvBBAA1C1Wtcr88Vtm21XHyj8QFA==",
        "caps": {"mgr": "profile rbd pool=volumes", "mon": "profile rbd", "osd": "profile rbd pool=volumes"},
    }
]
OSD_DUMP = {
    "epoch": 21,
    "osds": [
        {"osd": 0, "uuid": "66ea6828-986a-4c49-9c0f-540a996ae556", "up": 1, "in": 1, "weight": 1, "state": ["exists"]}
    ],
}
POOLS = [
    {
        "pool_id": 1,
        "pool_name": "volumes",
        "size": 1,
        "min_size": 1,
        "pg_num": 32,
        "quota_max_bytes": 6442450944,
        "quota_max_objects": 0,
        "application_metadata": {"rbd": {}},
    },
    {
        "pool_id": 2,
        "pool_name": ".mgr",
        "size": 1,
        "min_size": 1,
        "pg_num": 1,
        "quota_max_bytes": 0,
        "quota_max_objects": 0,
        "application_metadata": {"mgr": {}},
    },
]
HEALTH_WARN = {
    "status": "HEALTH_WARN",
    "checks": {
        "MON_DISK_LOW": {
            "severity": "HEALTH_WARN",
            "summary": {"message": "mon storage is low on available space", "count": 1},
            "detail": [{"message": "mon.storage has 27% avail"}],
            "muted": False,
        }
    },
    "mutes": [],
}
PREFIX = ["ceph", "--cluster", "ceph", "--connect-timeout", "60"]


def done(stdout="", stderr="", retcode=0):
    return {"retcode": retcode, "stdout": stdout, "stderr": stderr}


@pytest.fixture
def run_all():
    return MagicMock(return_value=done())


@pytest.fixture
def configure_loader_modules(run_all):
    config = {"ceph:cluster": "ceph", "ceph:connect_timeout": 60}
    salt_dunder = {"cmd.run_all": run_all, "config.get": lambda key, default=None: config.get(key, default)}
    return {ceph: {"__salt__": salt_dunder}}


def argv(run_all, call=-1):
    return run_all.call_args_list[call].args[0]


def test_a_keyring_is_written_as_cephs_tools_write_it():
    assert ceph.keyring("client.cinder", "AQ==", {"osd": "profile rbd pool=volumes", "mon": "profile rbd"}) == (
        '[client.cinder]\n\tkey = AQ==\n\tcaps mon = "profile rbd"\n\tcaps osd = "profile rbd pool=volumes"\n'
    )
    assert ceph.keyring("osd.0", "AQ==") == "[osd.0]\n\tkey = AQ==\n"


def test_auth_get_reads_the_key_and_caps(run_all):
    run_all.return_value = done(json.dumps(AUTH_CINDER))
    assert ceph.auth_get("client.cinder") == {"key": AUTH_CINDER[0]["key"], "caps": AUTH_CINDER[0]["caps"]}
    assert argv(run_all) == PREFIX + ["auth", "get", "client.cinder", "--format", "json"]
    # the key never goes to the log
    assert run_all.call_args.kwargs["output_loglevel"] == "quiet"


def test_auth_get_of_a_missing_entity_is_none(run_all):
    run_all.return_value = done(stderr="Error ENOENT: failed to find client.nope in keyring", retcode=2)
    assert ceph.auth_get("client.nope") is None


def test_auth_import_sends_the_keyring_on_stdin(run_all):
    assert ceph.auth_import("client.cinder", "AQ==", {"mon": "profile rbd"}) is True
    assert argv(run_all)[5:9] == ["auth", "import", "-i", "-"]
    assert run_all.call_args.kwargs["stdin"] == '[client.cinder]\n\tkey = AQ==\n\tcaps mon = "profile rbd"\n'


def test_a_monitor_that_does_not_answer_is_an_error_naming_what_was_asked(run_all):
    run_all.return_value = done(
        stderr="[errno 110] RADOS timed out (error connecting to the cluster)",
        retcode=1,
    )
    with pytest.raises(CommandExecutionError, match=r"^reading cephx entity osd.0: \[errno 110\] RADOS timed out"):
        ceph.auth_get("osd.0")


def test_osd_get_finds_the_osd_by_id(run_all):
    run_all.return_value = done(json.dumps(OSD_DUMP))
    assert ceph.osd_get(0) == {"uuid": "66ea6828-986a-4c49-9c0f-540a996ae556", "up": True, "in": True}
    assert ceph.osd_get("1") is None
    assert argv(run_all) == PREFIX + ["osd", "dump", "--format", "json"]


def test_osd_new_takes_the_uuid_then_the_id(run_all):
    ceph.osd_new(0, "66ea6828-986a-4c49-9c0f-540a996ae556")
    assert argv(run_all)[5:] == ["osd", "new", "66ea6828-986a-4c49-9c0f-540a996ae556", "0", "--format", "json"]


def test_pool_get_reads_size_quota_and_applications(run_all):
    run_all.return_value = done(json.dumps(POOLS))
    assert ceph.pool_get("volumes") == {
        "size": 1,
        "min_size": 1,
        "quota_bytes": 6442450944,
        "pg_num": 32,
        "applications": ["rbd"],
    }
    assert ceph.pool_get("images") is None


def test_a_pool_size_of_one_is_asked_for_as_ceph_wants(run_all):
    ceph.pool_set("volumes", "size", 1)
    assert argv(run_all)[5:] == [
        "osd",
        "pool",
        "set",
        "volumes",
        "size",
        "1",
        "--yes-i-really-mean-it",
        "--format",
        "json",
    ]
    ceph.pool_set("volumes", "min_size", 1)
    assert "--yes-i-really-mean-it" not in argv(run_all)


def test_the_refusal_of_a_pool_size_comes_through(run_all):
    run_all.return_value = done(stderr="Error EPERM: configuring pool size as 1 is disabled by default.", retcode=1)
    with pytest.raises(CommandExecutionError, match="^setting size of pool volumes: Error EPERM: configuring pool"):
        ceph.pool_set("volumes", "size", 1)


def test_pool_create_and_quota(run_all):
    ceph.pool_create("volumes")
    assert argv(run_all)[5:] == ["osd", "pool", "create", "volumes"]
    ceph.pool_set_quota("volumes", 6 * 2**30)
    assert argv(run_all)[5:] == ["osd", "pool", "set-quota", "volumes", "max_bytes", "6442450944", "--format", "json"]


def test_rbd_is_enabled_on_a_pool_by_rbd_pool_init_with_a_timeout(run_all):
    ceph.pool_application_enable("volumes", "rbd", timeout=120)
    assert argv(run_all) == ["rbd", "--cluster", "ceph", "pool", "init", "volumes"]
    assert run_all.call_args.kwargs["timeout"] == 120
    ceph.pool_application_enable("backups", "rgw")
    assert argv(run_all)[5:] == ["osd", "pool", "application", "enable", "backups", "rgw", "--format", "json"]


def test_rbd_pool_init_that_times_out_says_what_to_look_at(run_all):
    run_all.return_value = done(retcode=1)
    with pytest.raises(CommandExecutionError, match=r"^rbd pool init volumes: exited 1 \(after the timeout: are"):
        ceph.pool_application_enable("volumes", "rbd")


def test_health_summarises_the_checks(run_all):
    run_all.return_value = done(json.dumps(HEALTH_WARN))
    assert ceph.health() == {
        "status": "HEALTH_WARN",
        "checks": {"MON_DISK_LOW": "mon storage is low on available space"},
        "muted": [],
    }


def test_output_that_is_not_json_is_a_clear_error(run_all):
    run_all.return_value = done("not json")
    with pytest.raises(CommandExecutionError, match="^reading the OSD map: ceph printed no JSON"):
        ceph.osd_get(0)
