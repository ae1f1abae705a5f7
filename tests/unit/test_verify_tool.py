"""
tools/verify.py (make verify) and tools/tempest_lab.py without a lab: the
services a lab's pillar enables, which tempest tests they select,
tempest.conf from the lab's facts, the repository's selection lists, the
summary of a JUnit report, and the purge of tempest's resources.
"""

import configparser
import pathlib
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
import yaml

import tempest_lab
import verify

REPO = pathlib.Path(__file__).resolve().parents[2]


def pillar_reader(lab):
    """A reader of this checkout's pillar files, with pillar/lab.sls naming `lab`."""

    def read(name):
        if name == "lab":
            return f"include:\n  - labs.{lab}\n"
        return (REPO / "pillar" / f"{name}.sls").read_text()

    return read


@pytest.mark.parametrize(
    "lab, services",
    [
        ("keystone", ["keystone"]),
        ("core", ["keystone", "glance", "placement"]),
        ("full", ["keystone", "glance", "placement", "nova", "neutron", "cinder", "horizon"]),
    ],
)
def test_services_come_from_the_labs_pillar(lab, services):
    assert verify.lab_services(pillar_reader(lab)) == services


def test_the_checkouts_lab_is_read_through_its_include():
    def read(name):
        return (REPO / "pillar" / f"{name}.sls").read_text()

    services = verify.lab_services(read)
    assert "keystone" in services


def test_a_lab_without_services_is_refused():
    with pytest.raises(SystemExit, match="names no services"):
        verify.lab_services(lambda name: "include: []\n")


IDS = [
    "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-1,smoke]",
    "tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_register_upload_get_image_file[id-2,smoke]",
    "tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers[id-3,smoke]",
    "tempest.api.network.test_networks.NetworksTest.test_create_update_delete_network_subnet[id-4,smoke]",
    "tempest.api.volume.test_volumes_get.VolumesGetTest.test_volume_create_get_update_delete[id-5,smoke]",
    "tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops[id-6,smoke]",
    "tempest.test_discover.something",
]


def test_a_keystone_lab_runs_only_identity_tests():
    assert verify.selected_tests(IDS, ["keystone"]) == IDS[:1]


def test_a_core_lab_runs_identity_and_image_tests():
    assert verify.selected_tests(IDS, ["keystone", "glance", "placement"]) == IDS[:2]


def test_the_full_lab_runs_all_but_volume_tests_and_cinder_adds_them():
    full = ["keystone", "glance", "placement", "nova", "neutron", "horizon"]
    assert verify.selected_tests(IDS, full) == IDS[:4] + IDS[5:6]
    assert verify.selected_tests(IDS, [*full, "cinder"]) == IDS[:6]


def test_every_service_of_an_area_is_in_the_models_catalog_or_to_come():
    catalog = yaml.safe_load((REPO / "pillar" / "model.yaml").read_text())["catalog"]
    to_come = {"cinder", "swift"}  # DESIGN.md's storage node; no catalog entry yet
    for _, services in verify.AREAS:
        assert set(services) <= set(catalog) | to_come


def facts(services, **extra):
    return {
        "services": services,
        "auth_url": "https://10.99.0.12:5000/v3",
        "ca": pathlib.Path("/x/lab-ca.crt"),
        "admin_password": "secret",
        "region": "RegionOne",
        "workspace": pathlib.Path("/x/workspace"),
        "image": "image-id",
        "flavors": ["saltlab-verify-nano", "saltlab-verify-micro"],
        "external_id": "net-id",
        "computes": 2,
        "compute_microversions": ["2.1", "2.100"],
        "volume_microversions": ["3.0", "3.71"],
        "extensions": ["router", "agent"],
        "catalog_types": {"cinder": "block-storage"},
        **extra,
    }


def tempest_conf(services):
    """tempest.conf of a lab with these services, parsed as tempest reads it."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(verify.tempest_conf(facts(services)))
    return conf


def test_tempest_conf_of_a_keystone_lab_has_only_identity():
    conf = tempest_conf(["keystone"])
    assert conf["identity"]["uri_v3"] == "https://10.99.0.12:5000/v3"
    assert conf["identity"]["ca_certificates_file"] == "/x/lab-ca.crt"
    assert conf["auth"]["use_dynamic_credentials"] == "true"
    assert conf["auth"]["admin_password"] == "secret"
    assert conf["auth"]["create_isolated_networks"] == "false"
    assert {name: conf["service_available"][name] for name in (*verify.AVAILABLE, "horizon")} == {
        "glance": "false",
        "nova": "false",
        "neutron": "false",
        "cinder": "false",
        "swift": "false",
        "horizon": "false",
    }
    for section in ("compute", "network", "image"):
        assert not conf.has_section(section)


def test_tempest_conf_of_the_full_lab():
    conf = tempest_conf(["keystone", "glance", "placement", "nova", "neutron", "horizon"])
    assert conf["service_available"]["nova"] == "true"
    assert conf["service_available"]["neutron"] == "true"
    assert conf["service_available"]["cinder"] == "false"
    assert conf["compute"]["image_ref"] == "image-id"
    assert conf["compute"]["flavor_ref"] == "saltlab-verify-nano"
    assert conf["compute"]["flavor_ref_alt"] == "saltlab-verify-micro"
    assert conf["compute"]["min_compute_nodes"] == "2"
    assert int(conf["compute"]["build_timeout"]) >= 600
    assert conf["network"]["public_network_id"] == "net-id"
    assert conf["network"]["floating_network_name"] == "external"
    assert conf["network-feature-enabled"]["api_extensions"] == "agent,router"
    assert conf["validation"]["run_validation"] == "false"
    assert conf["DEFAULT"]["resource_name_prefix"] == verify.PREFIX
    assert conf["DEFAULT"]["record_resources"] == "false"
    assert conf["compute"]["max_microversion"] == "2.100"
    assert not conf.has_section("volume")


def test_tempest_conf_of_a_lab_with_cinder_tests_its_volumes():
    conf = tempest_conf(["keystone", "glance", "placement", "nova", "neutron", "cinder", "horizon"])
    assert conf["service_available"]["cinder"] == "true"
    assert conf["volume"]["catalog_type"] == "block-storage"
    assert conf["volume"]["region"] == conf["identity"]["region"]
    assert (conf["volume"]["min_microversion"], conf["volume"]["max_microversion"]) == ("3.0", "3.71")
    # no cinder-backup in the lab: tempest skips the backup tests
    assert conf["volume-feature-enabled"]["backup"] == "false"


def test_tempest_conf_is_written_private(tmp_path):
    path = tmp_path / "etc" / "tempest.conf"
    verify.write_conf(verify.tempest_conf(facts(["keystone"])), path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "admin_password = secret" in path.read_text()


def test_what_verify_makes_is_never_tempests_to_clean():
    names = [tempest_lab.IMAGE, tempest_lab.EXTERNAL["network"], *(f["name"] for f in tempest_lab.FLAVORS)]
    assert not any(name.startswith(tempest_lab.PREFIX) for name in names)
    assert len(tempest_lab.FLAVORS) == 2  # resize needs a second flavor


def test_external_network_is_the_demos():
    model = yaml.safe_load((REPO / "pillar" / "model.yaml").read_text())
    demo = yaml.safe_load((REPO / "salt" / "demo" / "defaults.yaml").read_text())["demo"]["external"]
    spec = tempest_lab.external_network(model, "physnet", tempest_lab.physnet_mtu(model))
    assert spec["network"]["name"] == demo["network"]
    assert spec["network"]["mtu"] == 1410
    assert spec["subnet"]["name"] == demo["subnet"]
    assert spec["subnet"]["cidr"] == model["external"]["cidr"]
    assert spec["subnet"]["allocation_pools"] == [{"start": demo["pool_start"], "end": demo["pool_end"]}]


def test_every_exclusion_and_known_failure_has_a_reason():
    for name in ("exclude.txt", "known-failures.txt"):
        verify.check_reasons(verify.LISTS / name)
    for test_set in verify.SETS:
        assert verify.read_list(verify.LISTS / f"include-{test_set}.txt")


def test_a_line_without_reason_is_refused(tmp_path):
    path = tmp_path / "exclude.txt"
    path.write_text("# header\n^tempest\\.api\\.a  # why\n^tempest\\.api\\.b\n")
    with pytest.raises(SystemExit, match=r"tempest\\\.api\\\.b"):
        verify.check_reasons(path)


JUNIT = """<testsuite errors="0" failures="1" name="" tests="5" time="9.0">
<testcase classname="tempest.api.identity.v3.test_tokens.TokensV3Test" name="test_create_token[id-1,smoke]" time="1.0"/>
<testcase classname="tempest.api.compute.servers.test_x.X" name="test_a[id-2]" time="2.0">
<failure type="testtools.testresult.real._StringException">boom</failure></testcase>
<testcase classname="tempest.api.compute.servers.test_x.X" name="test_b[id-3]" time="2.0"/>
<testcase classname="" name="setUpClass (tempest.api.network.test_y.Y)" time="0.0">
<skipped>no extension</skipped></testcase>
<testcase classname="tempest.api.network.test_y.Z" name="test_c[id-4]" time="4.0">
<error type="x">bad</error></testcase>
</testsuite>
"""


def test_summary_counts_per_service_and_flags_unexpected_failures(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text(JUNIT)
    results = verify.junit_results(path)
    assert results[3] == ("tempest.api.network.test_y.Y.setUpClass", "skipped", 0.0)
    known = [(r"test_x\.X\.test_a\b", "bug 1: resize needs SSH between compute nodes")]
    text, unexpected, total = verify.summary(results, known, wall=12.3)
    assert unexpected == ["tempest.api.network.test_y.Z.test_c[id-4]"]
    assert total == {"passed": 2, "failed": 2, "skipped": 1}
    lines = text.splitlines()
    assert lines[1].split() == ["keystone", "1", "0", "0"]
    assert lines[2].split() == ["neutron", "0", "1", "1"]
    assert lines[3].split() == ["nova", "1", "1", "0"]
    assert "run time: 12 s" in text
    assert "known: bug 1" in text


def test_a_smaller_labs_services_are_read_from_the_checkout():
    assert verify.local_lab_services("core") == ["keystone", "glance", "placement"]
    with pytest.raises(SystemExit, match="no lab nope"):
        verify.local_lab_services("nope")


def resource(name, project_id, **extra):
    return SimpleNamespace(**{"id": f"id-{name}", "name": name, "project_id": project_id, **extra})


def test_purge_deletes_only_tempests_resources_servers_first():
    conn = MagicMock()
    conn.identity.projects.return_value = [resource("demo", None, id="p-demo"), resource("tempest-X-1", None, id="p-t")]
    demo1 = resource("demo1", "p-demo")
    theirs = resource("server-1", "p-t")
    orphan = resource("server-2", "p-gone")
    conn.compute.servers.return_value = [demo1, theirs, orphan]
    conn.network.ips.return_value = []
    conn.network.routers.return_value = []
    conn.network.ports.return_value = [
        resource("", "p-t", device_owner="compute:nova"),
        resource("", "p-demo", device_owner="compute:nova"),
        resource("", "p-t", device_owner="network:dhcp"),
    ]
    conn.network.subnets.return_value = [resource("demo-subnet", "p-demo"), resource("tempest-s", "p-t")]
    conn.network.networks.return_value = [resource("external", "p-demo"), resource("demo-net", "p-demo")]
    conn.network.security_groups.return_value = [resource("default", "p-gone"), resource("default", "p-demo")]
    tempest_lab.purge(conn, ["keystone", "glance", "nova", "neutron"])
    assert [c.args[0] for c in conn.compute.delete_server.call_args_list] == [theirs, orphan]
    assert [c.args[0].project_id for c in conn.network.delete_port.call_args_list] == ["p-t"]
    assert [c.args[0].name for c in conn.network.delete_subnet.call_args_list] == ["tempest-s"]
    conn.network.delete_network.assert_not_called()
    assert [c.args[0].project_id for c in conn.network.delete_security_group.call_args_list] == ["p-gone"]


def test_purge_and_leftovers_ask_only_the_labs_services():
    # a lab switched to core keeps Nova's and Neutron's catalog entries,
    # which the proxy no longer serves (their internal URLs answer no one)
    conn = MagicMock()
    conn.identity.projects.return_value = []
    core = ["keystone", "glance", "placement"]
    tempest_lab.purge(conn, core)
    assert tempest_lab.leftovers(conn, core) == {}
    for api in (conn.compute, conn.network, conn.block_storage):
        assert api.method_calls == [], api.method_calls


def test_purge_deletes_tempests_volumes_with_their_snapshots():
    conn = MagicMock()
    conn.identity.projects.return_value = [resource("demo", None, id="p-demo"), resource("tempest-V-1", None, id="p-t")]
    demo_vol = resource("demo-vol", "p-demo")
    theirs = resource("tempest-volume-1", "p-t")
    conn.block_storage.volumes.return_value = [demo_vol, theirs]
    conn.block_storage.snapshots.return_value = [resource("", "p-gone")]
    tempest_lab.purge(conn, ["keystone", "cinder"])
    conn.block_storage.delete_volume.assert_called_once_with(theirs, cascade=True)
    conn.block_storage.wait_for_delete.assert_called_once_with(theirs)
    conn.block_storage.volumes.return_value = [demo_vol]
    left = tempest_lab.leftovers(conn, ["keystone", "cinder"])
    assert left == {"projects": ["tempest-V-1"], "volume snapshots": ["id-"]}
