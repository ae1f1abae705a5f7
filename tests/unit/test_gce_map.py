"""
The real salt-cloud (this checkout's .venv) runs maps/gce.yaml in parallel
(-P) against the local fake of the Compute API (tests/fakes/compute_api.py):
a configuration directory in tmp_path loads the driver from _clouds/ (its
helpers from _utils/), the repository's gce profiles and a provider
pointing at the fake with
``deploy: False`` (nothing is reached by SSH; the network node's
``make_master`` is turned off, as salt-cloud refuses a master without a
deploy). The lab is created; a second run creates nothing new; a failure of
the API is one message in salt-cloud's output, no traceback, and leaves
nothing of the failed node; destroying the map removes every resource, the
Cloud Router first, the networks last.
"""

import pathlib
import shutil
import subprocess

import pytest
import salt.utils.yaml

from extensions import serving
from fakes.compute_api import ComputeAPI

# each test runs the real salt-cloud
pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[2]
PROJECT = "saltlab-test"
ZONE = "europe-west1-b"
LAB = ["network", "controller", "compute1", "compute2", "storage"]
NETWORKS = (
    [f"network/saltlab-{n}" for n in ("public", "mgmt", "underlay")]
    + [f"subnetwork/saltlab-{n}" for n in ("public", "mgmt", "underlay")]
    + [f"firewall/saltlab-{n}-in" for n in ("public", "mgmt", "underlay")]
    + ["router/saltlab-mgmt-router"]
)


compute = serving("compute", ComputeAPI, project=PROJECT)


@pytest.fixture
def config_dir(tmp_path, compute):
    """
    A salt-cloud configuration directory: the repository's driver, deploy
    scripts, shared utils and gce profiles, the provider on the fake.
    """
    conf = tmp_path / "conf"
    (conf / "cloud.providers.d").mkdir(parents=True)
    (conf / "cloud.profiles.d").mkdir()
    (conf / "pillar").mkdir()
    shutil.copy(REPO / "pillar/model.yaml", conf / "pillar/model.yaml")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "gcp-default-key"], check=True)
    dump = salt.utils.yaml.safe_dump
    (conf / "master").write_text(
        dump(
            {
                "root_dir": str(tmp_path / "salt"),
                "pki_dir": "/pki",
                "cachedir": "/cache",
                "sock_dir": "/run",
                "log_file": "/log/salt.log",
            }
        )
    )
    (conf / "cloud").write_text(
        dump(
            {
                "cloud_dirs": [str(REPO / "_clouds")],
                "utils_dirs": [str(REPO / "_utils")],
                "deploy_scripts_search_path": [str(REPO / "cloud.deploy.d")],
                "log_file": str(tmp_path / "cloud.log"),
                "log_level_logfile": "debug",
            }
        )
    )
    (conf / "cloud.providers.d/gce.conf").write_text(
        dump(
            {
                "gce": {
                    "driver": "gce",
                    "api_endpoint": compute.url,
                    "anonymous": True,
                    "project": PROJECT,
                    "zone": ZONE,
                    "ssh_keyfile": str(tmp_path / "gcp-default-key"),
                    "operator_address": "198.51.100.7",
                    "poll_interval": 0.05,
                    "operation_timeout": 60,
                    "deploy": False,
                }
            }
        )
    )
    profiles = salt.utils.yaml.safe_load((REPO / "cloud.profiles.d/gce.conf").read_text())
    assert profiles["gce-network"].pop("make_master") is True
    (conf / "cloud.profiles.d/gce.conf").write_text(dump(profiles))
    return conf


def salt_cloud(config_dir, *args):
    proc = subprocess.run(
        [str(REPO / ".venv/bin/salt-cloud"), "-c", str(config_dir), "--out", "yaml", "--log-level", "quiet", *args],
        cwd=config_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    return proc.returncode, output, proc.stdout


def posts(compute):
    return [path for method, path in compute.requests if method == "POST" and not path.endswith("/wait")]


def test_the_map_creates_the_lab_once_and_destroys_it_networks_last(compute, config_dir):
    rc, output, stdout = salt_cloud(config_dir, "-m", str(REPO / "maps/gce.yaml"), "-y", "-P")
    assert rc == 0, output
    assert compute.resources() == sorted(
        NETWORKS + [f"instance/{n}" for n in LAB] + [f"disk/{n}" for n in LAB] + ["disk/storage-data"]
    ), output
    # each network resource was made once although five processes raced for them
    made = posts(compute)
    assert sum(p.endswith("/global/networks") for p in made) >= 3
    assert compute.routers[("europe-west1", "saltlab-mgmt-router")]["nats"][0]["name"] == "saltlab-mgmt-nat"
    instances = {n: compute.instances[(ZONE, n)] for n in LAB}
    assert [nic["networkIP"] for nic in instances["network"]["networkInterfaces"]] == [
        "10.99.0.12",
        "192.168.1.12",
        "192.168.2.12",
    ]
    assert instances["compute2"]["advancedMachineFeatures"] == {"enableNestedVirtualization": True}
    assert compute.firewalls["saltlab-public-in"]["sourceRanges"] == ["198.51.100.7/32"]
    listed = salt.utils.yaml.safe_load(stdout)
    assert sorted(listed) == sorted(LAB) and listed["storage"]["private_ips"] == ["192.168.1.31"]

    compute.requests.clear()
    rc, output, stdout = salt_cloud(config_dir, "-m", str(REPO / "maps/gce.yaml"), "-y", "-P")
    assert rc == 0 and posts(compute) == [], output
    assert "already exists" in output or "already" in output.lower(), output

    rc, output, stdout = salt_cloud(config_dir, "-Q")
    assert rc == 0 and sorted(salt.utils.yaml.safe_load(stdout)["gce"]["gce"]) == sorted(LAB), output

    compute.requests.clear()
    rc, output, stdout = salt_cloud(config_dir, "-m", str(REPO / "maps/gce.yaml"), "-d", "-y")
    assert rc == 0, output
    assert compute.resources() == [], output
    kinds = [path.split("/")[-2] for method, path in compute.requests if method == "DELETE"]
    assert kinds == ["instances"] * 5 + ["routers"] + ["firewalls"] * 3 + ["subnetworks"] * 3 + ["networks"] * 3


def test_api_failures_are_one_message_and_leave_the_fake_consistent(compute, config_dir):
    compute.fail_request(
        "POST",
        "/disks$",
        403,
        "forbidden",
        "Required 'compute.disks.create' permission for 'projects/saltlab-test'",
        times=1,
    )
    compute.fail_operation(
        "insert",
        "/instances/compute2$",
        "QUOTA_EXCEEDED",
        "Quota 'CPUS' exceeded.  Limit: 12.0 in region europe-west1.",
    )
    rc, output, stdout = salt_cloud(config_dir, "-m", str(REPO / "maps/gce.yaml"), "-y")
    errors = {name: node.get("Error") for name, node in salt.utils.yaml.safe_load(stdout).items()}
    assert errors == {
        "network": None,
        "controller": None,
        "compute1": None,
        "compute2": "gce: quota exceeded while creating instance compute2: Quota 'CPUS' exceeded.  Limit: 12.0 in "
        "region europe-west1.",
        "storage": "gce: permission denied while creating disk storage-data: Required 'compute.disks.create' "
        "permission for 'projects/saltlab-test' (the service account needs Compute Instance Admin (v1), "
        "Compute Network Admin, Compute Security Admin and Service Account User on project saltlab-test)",
    }, output
    # the other nodes are there, nothing of the failed ones
    assert compute.resources() == sorted(
        NETWORKS
        + [f"instance/{n}" for n in ("network", "controller", "compute1")]
        + [f"disk/{n}" for n in ("network", "controller", "compute1")]
    ), output
    # the next run makes what is missing
    rc, output, stdout = salt_cloud(config_dir, "-m", str(REPO / "maps/gce.yaml"), "-y", "-P")
    assert rc == 0 and sorted(compute.instances) == sorted((ZONE, n) for n in LAB), output
    rc, output, stdout = salt_cloud(config_dir, "-m", str(REPO / "maps/gce.yaml"), "-d", "-y")
    assert compute.resources() == [], output


def test_the_lab_networks_functions_run_from_salt_cloud(compute, config_dir):
    rc, output, stdout = salt_cloud(config_dir, "-f", "create_lab_networks", "gce")
    assert rc == 0 and compute.resources() == sorted(NETWORKS), output
    rc, output, stdout = salt_cloud(config_dir, "-f", "destroy_lab_networks", "gce")
    assert rc == 0 and compute.resources() == [], output


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "gce-network: [network]\ngce-compute: [compute1, compute10]\n",
            "node compute10: the model allows compute1 to compute9 (nodes:compute:count is 9)",
        ),
        (
            "gce-network: [network]\ngce-compte: [compute1]\n",
            "profile gce-compte (for compute1) is not in cloud.profiles.d; nothing was made",
        ),
        ("gce-network: [network]\ngce-storage: [network]\n", "node network is in the map twice"),
        ('gce-network: [network]\ngce-compute: ["compute1\\n"]\n', "node name 'compute1\\n' is not a valid"),
        ("gce-network: [network]\ngce-compute: [{compute1: {host_number: 31}}]\n", "compute1 sets host_number"),
    ],
)
def test_a_bad_map_is_one_line_and_nothing_is_made(compute, config_dir, tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    rc, output, _stdout = salt_cloud(config_dir, "-m", str(bad), "-y", "-P")
    assert rc != 0 and compute.requests == [], output
    [line] = output.strip().splitlines()
    assert line.startswith(f"Error: map {bad}: ") and message in line, output


def test_no_error_line_for_the_master_that_is_not_here(compute, config_dir):
    # The lab's other providers are asked for their nodes too; saltify's list
    # asks a salt-master on this machine, where none runs: the repository's
    # `cloud` file keeps Salt's client from logging that as an ERROR.
    repo_cloud = salt.utils.yaml.safe_load((REPO / "cloud").read_text())
    conf = salt.utils.yaml.safe_load((config_dir / "cloud").read_text())
    conf["log_granular_levels"] = repo_cloud["log_granular_levels"]
    (config_dir / "cloud").write_text(salt.utils.yaml.safe_dump(conf))
    (config_dir / "cloud.providers.d/baremetal.conf").write_text(
        (REPO / "cloud.providers.d/baremetal.conf").read_text()
    )
    proc = subprocess.run(
        [str(REPO / ".venv/bin/salt-cloud"), "-c", str(config_dir), "-m", str(REPO / "maps/gce.yaml"), "-d", "-y"],
        cwd=config_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert "No machines were found to be destroyed" in output, output
    assert "ERROR" not in output and "Traceback" not in output, output
