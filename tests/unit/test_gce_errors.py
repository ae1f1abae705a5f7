"""
The gce salt-cloud driver's error mapping, against the local fake of the
Compute REST API (the set-up the gce tests share is in
tests/unit/gce_fixtures.py): 403, quota, an operation that ends in error,
an operation or a request that times out, a disabled Compute Engine API,
bad provider settings, profiles or lab names, an unknown zone or machine
type, a missing operator key, a Persistent Disk on a Hyperdisk-only
series, a failed deploy or push to the master each give one clear
message and leave nothing of the node behind.
"""

import gce
import pytest
import requests
from gce_fixtures import PROJECT, ZONE, node, posts, write_model
from google.api_core import exceptions as api_exceptions
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

from conftest import deployed

# isort: split
# the fixtures of gce_fixtures.py, found here by name (with those they
# need), and OPERATOR_KEY, which names the key conftest's keyfile makes
from gce_fixtures import OPERATOR_KEY, compute, config_dir, configure_loader_modules, provider

__all__ = ["OPERATOR_KEY", "compute", "config_dir", "configure_loader_modules", "provider"]


def _api_error(cls, reason, message):
    return cls(message, errors=[{"message": message, "domain": "global", "reason": reason}])


@pytest.mark.parametrize(
    "exc, message",
    [
        (
            _api_error(api_exceptions.Forbidden, "quotaExceeded", "Quota 'NETWORKS' exceeded. Limit: 5.0 globally."),
            r"^gce: quota exceeded while creating network x: Quota 'NETWORKS' exceeded. Limit: 5.0 globally.$",
        ),
        (
            _api_error(api_exceptions.Forbidden, "forbidden", "Required 'compute.networks.create' permission"),
            r"^gce: permission denied while creating network x: Required 'compute.networks.create' permission "
            r"\(the service account needs Compute Instance Admin \(v1\), Compute Network Admin, Compute Security "
            r"Admin and Service Account User on project saltlab-test\)$",
        ),
        (
            _api_error(
                api_exceptions.Unauthorized, "required", "Request is missing required authentication credential"
            ),
            r"^gce: the API rejected the credentials while creating network x",
        ),
        (
            _api_error(api_exceptions.BadRequest, "invalid", "POST http://h/x: Invalid value for field 'resource.mtu'"),
            r"^gce: creating network x failed: Invalid value for field 'resource.mtu'$",
        ),
        (requests.exceptions.ConnectionError("refused"), r"^gce: cannot reach the API at .* while creating network x"),
    ],
)
def test_api_errors_become_one_sentence(exc, message):
    with pytest.raises(SaltCloudSystemExit, match=message), gce._api().doing("creating network x"):
        raise exc


def test_a_failed_push_to_the_master_removes_it(compute, config_dir, monkeypatch):
    monkeypatch.setenv("PUSH_EXIT", "1")
    with pytest.raises(SaltCloudSystemExit, match=r"^gce: tools/push to the new master 203\.0\.113\.\d+ failed"):
        gce.create(node("network"))
    assert not [r for r in compute.resources() if r.startswith(("instance/", "disk/"))]
    # a node that is not the master pushes nothing
    monkeypatch.delenv("PUSH_EXIT")
    (config_dir / "pushed").unlink()
    gce.create(node("controller"))
    assert not (config_dir / "pushed").exists()


def test_a_forbidden_insert_is_one_message_and_leaves_nothing_of_the_node(compute):
    gce.create(node("network"))
    before = compute.resources()
    compute.fail_request(
        "POST",
        "/instances$",
        403,
        "forbidden",
        f"Required 'compute.instances.create' permission for 'projects/{PROJECT}/zones/{ZONE}/instances/storage'",
    )
    with pytest.raises(SaltCloudSystemExit) as info:
        gce.create(node("storage"))
    assert str(info.value) == (
        f"gce: permission denied while creating instance storage: Required 'compute.instances.create' permission "
        f"for 'projects/{PROJECT}/zones/{ZONE}/instances/storage' (the service account needs Compute Instance Admin "
        f"(v1), Compute Network Admin, Compute Security Admin and Service Account User on project {PROJECT})"
    )
    # the data disk made for it is gone again; the lab is as it was
    assert compute.resources() == before


def test_a_quota_error_in_the_operation_is_one_message(compute):
    compute.fail_operation(
        "insert", "/instances/compute1$", "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1."
    )
    gce.create(node("network"))
    before = compute.resources()
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: quota exceeded while creating instance compute1: "
        r"Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1.$",
    ):
        gce.create(node("compute1"))
    assert compute.resources() == before
    # and it can be made afterwards
    gce.create(node("compute1"))
    assert (ZONE, "compute1") in compute.instances


def test_an_operation_that_never_ends_times_out_clearly(compute, provider):
    gce.create_lab_networks(call="function")
    compute.hold_operations = True
    provider["operation_timeout"] = 0.2
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"creating instance storage: operation operation-\S+ was not done "
        r"after 0.2 s \(status RUNNING\)",
    ):
        gce.create(node("storage", extra_disk_gb=None, deploy=False))


def test_a_failed_deploy_removes_the_node(compute, bootstrap):
    bootstrap.side_effect = SaltCloudSystemExit("ssh: connection refused")
    with pytest.raises(SaltCloudSystemExit, match="connection refused"):
        gce.create(node("network"))
    bootstrap.side_effect = deployed
    assert [r for r in compute.resources() if r.startswith(("instance/", "disk/"))] == []


@pytest.mark.parametrize(
    "setting, value, error, message",
    [
        ("zone", "mars-north1-a", SaltCloudConfigError, "unknown zone 'mars-north1-a' in project saltlab-test"),
        ("zone", "west", SaltCloudConfigError, "zone 'west' is not a zone name"),
        (
            "project",
            "someone-else",
            SaltCloudSystemExit,
            "permission denied while reading zone europe-west1-b: Required 'compute.europe-west1-b.get' permission for "
            "'projects/someone-else'",
        ),
        (
            "api_endpoint",
            "http://127.0.0.1:1",
            SaltCloudSystemExit,
            "cannot reach the API at 127.0.0.1:1 while reading zone",
        ),
        ("api_endpoint", "ftp://127.0.0.1", SaltCloudConfigError, "must be http"),
    ],
)
def test_bad_provider_settings_are_one_message(compute, provider, setting, value, error, message):
    provider[setting] = value
    with pytest.raises(error, match=message):
        gce.create(node("network"))
    assert posts(compute) == []


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"machine_type": "n1-huge-99"}, "unknown machine type 'n1-huge-99' in zone europe-west1-b"),
        ({"machine_type": "e2-standard-4"}, "e2-standard-4 cannot run nested virtualization"),
        ({"machine_type": None}, "profile gce-compute needs 'machine_type'"),
        (
            {"node": "network", "machine_type": "n1-standard-1"},
            "n1-standard-1 \\(1 vCPUs\\) takes at most 2 NICs, the node has 3",
        ),
        ({"name": "Compute_1"}, "not a valid instance name"),
    ],
)
def test_bad_profiles_are_refused_before_anything_is_made(compute, extra, message):
    name = extra.pop("node", "compute1")
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node(name, **extra))
    assert posts(compute) == []


@pytest.mark.parametrize(
    "name, message",
    [
        ("Lab_1", "model name: must be 1-20 lowercase letters, digits or '-'"),
        (
            "lab-",
            "the model's name 'lab-' must be 1-21 lowercase letters, digits or '-', starting with a letter and not",
        ),
    ],
)
def test_a_bad_lab_name_is_one_message(compute, config_dir, name, message):
    write_model(config_dir, lambda raw: raw.update(name=name))
    with pytest.raises(SaltCloudConfigError, match=message):
        gce.create(node("network"))
    assert posts(compute) == []


def test_the_operator_key_must_exist(compute, keyfile):
    (keyfile.parent / "gcp-default-key.pub").unlink()
    with pytest.raises(SaltCloudConfigError, match="ssh-keygen -t ed25519 -N '' -f .*gcp-default-key"):
        gce.create(node("network"))
    assert compute.requests == []


# ---------------------------------------------------------------------------
# what a first real run met (issue 11)


def test_a_disabled_compute_api_says_which_api_to_enable_and_how(compute):
    compute.api_enabled = False
    with pytest.raises(
        SaltCloudSystemExit,
        match=r"^gce: the Compute Engine API is not enabled in project saltlab-test \(seen while listing the "
        r"instances of zone europe-west1-b\): enable it with `gcloud services enable compute.googleapis.com "
        r"--project saltlab-test`",
    ):
        gce.list_nodes()
    with pytest.raises(SaltCloudSystemExit, match="not enabled in project saltlab-test") as info:
        gce.create(node("network"))
    assert "permission denied" not in str(info.value) and "needs Compute" not in str(info.value)


@pytest.mark.parametrize("machine_type", ["n4-standard-4", "c4-standard-4", "h3-standard-88"])
def test_a_persistent_disk_on_a_hyperdisk_only_series_is_refused(compute, machine_type):
    with pytest.raises(SaltCloudConfigError, match=rf"{machine_type} \(series .*\) takes only Hyperdisk"):
        gce.create(node("compute1", machine_type=machine_type, disk_type="pd-balanced"))
    assert compute.resources() == []


def test_request_timeout_bounds_each_call(compute, provider):
    provider["request_timeout"] = 0.3
    compute.delay = 1.5
    with pytest.raises(SaltCloudSystemExit, match=r"did not answer in time while listing the instances"):
        gce.list_nodes()
