"""
The packet salt-cloud driver, with Salt's loader mocks, driving apache-
libcloud's real EquinixMetal driver against a local fake of the Metal API
(tests/fakes/metal_api.py): a device is created, becomes active with a
public IPv4 address, is listed and destroyed; a missing or wrong token, an
account without a project and bad profile values stop with one clear
message; a device that fails or never becomes active is deleted again.
"""

from unittest.mock import MagicMock

import packet
import pytest
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

from extensions import cloud_utils, serving
from fakes.metal_api import MetalAPI

TOKEN = "metal-test-token"
OPERATOR_KEY = "packet-default-key"
PROFILE = {
    "name": "labhost",
    "profile": "packet-labhost",
    "provider": "packet:packet",
    "driver": "packet:packet",
    "metro": "am",
    "plan": "m3.large.x86",
    "image": "debian_13",
}


metal = serving("metal", MetalAPI, token=TOKEN, reads_to_active=3)


@pytest.fixture
def provider(metal, keyfile):
    return {
        "driver": "packet",
        "api_url": metal.url,
        "ssh_keyfile": str(keyfile),
        "poll_interval": 0.01,
        "active_timeout": 5,
    }


@pytest.fixture
def configure_loader_modules(tmp_path, provider, bootstrap, monkeypatch, ssh_calls):
    for variable in packet.TOKEN_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PACKET_API_TOKEN", TOKEN)
    opts = {
        "conf_file": str(tmp_path / "cloud"),
        "providers": {"packet": {"packet": provider}},
        "profiles": {"packet-labhost": {"provider": "packet:packet"}},
        "sock_dir": str(tmp_path / "sock"),
        "transport": "zeromq",
    }
    utils = cloud_utils(
        {
            "cloud.bootstrap": bootstrap,
            "cloud.fire_event": MagicMock(),
            "cloud.filter_event": MagicMock(return_value={}),
        }
    )
    return {packet: {"__opts__": opts, "__active_provider_name__": "packet:packet", "__utils__": utils}}


def posts(metal):
    return [path for method, path in metal.requests if method == "POST"]


def test_create_waits_for_the_public_ipv4_then_deploys_and_destroy_removes_it(metal, keyfile, bootstrap):
    ret = packet.create(dict(PROFILE))
    [device] = metal.devices.values()
    assert device["state"] == "active" and device["hostname"] == "labhost"
    assert device["plan"]["slug"] == "m3.large.x86" and device["metro"]["code"] == "am"
    assert device["operating_system"]["slug"] == "debian_13"
    public_v4 = next(a["address"] for a in device["ip_addresses"] if a["public"] and a["address_family"] == 4)
    assert ret["state"] == "running" and ret["public_ips"][0] == public_v4
    # deployed as root over SSH to that address with the operator's key
    vm_ = bootstrap.call_args.args[0]
    assert (vm_["ssh_host"], vm_["key_filename"], vm_["ssh_username"]) == (public_v4, str(keyfile), "root")
    assert ret["deploy_kwargs"] == {"host": "x"}
    # the operator's key became a project key, and the device has it
    [key] = metal.ssh_keys.values()
    assert key["key"] == (keyfile.parent / "packet-default-key.pub").read_text().strip()
    assert key["owner"]["href"].startswith("/metal/v1/projects/")
    assert device["ssh_keys"] == [{"href": key["href"]}]

    assert packet.list_nodes()["labhost"]["public_ips"] == ret["public_ips"]
    assert packet.list_nodes_full()["labhost"]["billing_cycle"] == "hourly"
    assert packet.show_instance("labhost", call="action")["id"] == device["id"]
    with pytest.raises(SaltCloudSystemExit, match="already has a device named labhost"):
        packet.create(dict(PROFILE))

    assert packet.destroy("labhost", call="action") == {"destroyed": "labhost"}
    assert metal.devices == {} and packet.list_nodes() == {}
    with pytest.raises(SaltCloudSystemExit, match="has no device named labhost"):
        packet.destroy("labhost", call="action")


def test_a_key_already_known_is_not_registered_again(metal, keyfile, monkeypatch):
    metal.handle(
        "POST",
        "/metal/v1/ssh-keys",
        {},
        {"label": "mine", "key": (keyfile.parent / "packet-default-key.pub").read_text()},
    )
    packet.create(dict(PROFILE))
    assert len(metal.ssh_keys) == 1
    assert not [p for p in posts(metal) if p.endswith("/ssh-keys")]


def test_the_token_may_come_from_metal_auth_token(metal, monkeypatch):
    monkeypatch.delenv("PACKET_API_TOKEN")
    monkeypatch.setenv("METAL_AUTH_TOKEN", TOKEN)
    assert packet.list_nodes() == {}


def test_no_token_is_a_clear_error_before_any_request(metal, monkeypatch):
    monkeypatch.delenv("PACKET_API_TOKEN")
    with pytest.raises(SaltCloudConfigError, match="no API token: set PACKET_API_TOKEN or METAL_AUTH_TOKEN"):
        packet.create(dict(PROFILE))
    assert metal.requests == []


def test_a_wrong_token_is_a_clear_error(metal, monkeypatch):
    monkeypatch.setenv("PACKET_API_TOKEN", "not-the-token")
    with pytest.raises(SaltCloudSystemExit, match=r"rejected the token \(401 Unauthorized\) while listing projects"):
        packet.create(dict(PROFILE))
    assert metal.devices == {}


def test_an_account_without_projects_is_a_clear_error(metal):
    metal.projects.clear()
    with pytest.raises(SaltCloudSystemExit, match="has no project"):
        packet.list_nodes()


def test_the_first_project_is_the_default_and_a_named_one_is_used(metal, provider):
    second = metal.add_project("lab-two")
    packet.create(dict(PROFILE))
    provider["project"] = "lab-two"
    packet.create(dict(PROFILE))
    owners = sorted(d["project"]["href"].rsplit("/", 1)[1] for d in metal.devices.values())
    assert owners == sorted([next(iter(metal.projects)), second])
    provider["project"] = "nope"
    with pytest.raises(SaltCloudConfigError, match="project 'nope' not found; the token sees: lab-two, saltlab"):
        packet.list_nodes()


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("metro", "xx", "unknown metro 'xx'; available: am, da, sv"),
        ("plan", "tiny", "unknown plan 'tiny'; available: c3.small.x86, m3.large.x86, n3.xlarge.x86"),
        ("image", "windows", "unknown image 'windows'; available: debian_12, debian_13, ubuntu_24_04"),
        ("plan", None, "profile packet-labhost needs 'plan'"),
        ("name", "Lab_Host", "not a valid hostname"),
    ],
)
def test_bad_profile_values_are_refused_before_anything_is_made(metal, key, value, message):
    with pytest.raises(SaltCloudConfigError, match=message):
        packet.create(dict(PROFILE, **{key: value}))
    assert posts(metal) == [] and metal.devices == {}


def test_the_api_refusing_a_device_is_reported_in_its_words(metal):
    with pytest.raises(
        SaltCloudSystemExit, match="creating the device failed: m3.large.x86 is not available in metro sv"
    ):
        packet.create(dict(PROFILE, metro="sv"))
    assert metal.devices == {}


@pytest.mark.parametrize(
    "outcome, message",
    [
        ("failed", "device labhost failed to provision"),
        ("stuck", r"not active with a public IPv4 address after 0.2 s \(state: pending\)"),
    ],
)
def test_a_device_that_does_not_become_active_is_deleted(metal, provider, outcome, message):
    metal.outcome = outcome
    provider["active_timeout"] = 0.2
    with pytest.raises(SaltCloudSystemExit, match=message):
        packet.create(dict(PROFILE))
    assert metal.devices == {}
    assert any(method == "DELETE" for method, _path in metal.requests)


def test_a_failed_deploy_deletes_the_device(metal, bootstrap):
    bootstrap.side_effect = SaltCloudSystemExit("ssh: connection refused")
    with pytest.raises(SaltCloudSystemExit, match="connection refused"):
        packet.create(dict(PROFILE))
    assert metal.devices == {}


def test_a_missing_operator_key_is_a_clear_error(metal, keyfile):
    (keyfile.parent / "packet-default-key.pub").unlink()
    with pytest.raises(SaltCloudConfigError, match="ssh-keygen -t ed25519 -N '' -f .*packet-default-key"):
        packet.create(dict(PROFILE))
    assert metal.requests == []


@pytest.mark.parametrize(
    "api_url, error, message",
    [
        ("ftp://127.0.0.1", SaltCloudConfigError, "must be http"),
        (
            "http://127.0.0.1:1",
            SaltCloudSystemExit,
            "cannot reach the API at http://127.0.0.1:1 while listing projects",
        ),
    ],
)
def test_a_bad_endpoint_is_a_clear_error(provider, api_url, error, message):
    provider["api_url"] = api_url
    with pytest.raises(error, match=message):
        packet.list_nodes()


def test_catalogues():
    assert packet.avail_locations()["am"]["name"] == "Amsterdam"
    sizes = packet.avail_sizes()
    assert sizes["m3.large.x86"]["ram_mb"] == 256 * 1024 and sizes["m3.large.x86"]["price_per_hour"] == 3.1
    assert packet.avail_images()["debian_13"] == {"name": "Debian 13", "distro": "debian", "version": "13"}
    with pytest.raises(SaltCloudSystemExit, match="-f or --function"):
        packet.avail_images(call="action")
    with pytest.raises(SaltCloudSystemExit, match="-a or --action"):
        packet.show_instance("labhost")
