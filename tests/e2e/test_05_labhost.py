"""
The all-in-one lab host's bring-your-own-machine path, on this machine: a
node without Salt (profile local-bare) stands in for the operator's Debian
13 server. salt-cloud's saltify driver deploys the masterless lab host
minion to it over SSH (profile baremetal-labhost, as maps/baremetal.yaml
uses it, with this node's address and the lab key), then the role's
preparation (labhost.prepare) is applied there, twice. The part that runs
the lab is the local provider's own, proved by test_local_lab.py.
"""

import json
import socket
import subprocess

import pytest

from lab import Lab, host_leftovers

TARGET = "labtarget"  # the nspawn node
MINION = "labhost"  # the minion saltify makes of it
PROBE_PORT = 8080

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    lab = Lab().start()
    try:
        lab.cloud("-p", "local-bare", TARGET, timeout=1800, capture=False)
        address = lab.nodes()[TARGET]["public_ips"][0]
        lab_map = tmp_path_factory.mktemp("map") / "labhost.yaml"
        lab_map.write_text(
            json.dumps(
                {
                    "baremetal-labhost": [
                        {MINION: {"ssh_host": address, "key_filename": str(lab.key)}},
                    ]
                }
            )
        )
        yield lab, address, lab_map
    finally:
        lab.cloud("-d", TARGET, "-y", check=False, timeout=600)
        # the key salt-cloud made for the (masterless) minion
        for kind in ("minions", "minions_pre"):
            (lab.repo / "var/salt/pki/master" / kind / MINION).unlink(missing_ok=True)


def salt_call(lab, *args):
    proc = lab.ssh(
        TARGET, " ".join(["salt-call", "--out=json", "--retcode-passthrough", *args]), check=False, timeout=1800
    )
    return json.loads(proc.stdout or "{}").get("local"), proc


def failed(states):
    """{state id: what it said} of the states that failed, in a state.apply return."""
    if not isinstance(states, dict):  # render errors
        return states
    return {
        s["__id__"]: [s["comment"], s["changes"].get("stderr", "")[-2000:]]
        for s in states.values()
        if s["result"] is False
    }


def test_the_bare_node_has_no_salt_configured(target):
    lab, _address, _map = target
    assert lab.ssh(TARGET, "test -e /etc/salt/minion", check=False).returncode != 0
    assert lab.ssh(TARGET, "systemctl is-active salt-minion", check=False).stdout.strip() != "active"


def test_saltify_deploys_the_masterless_lab_host_minion(target):
    lab, _address, lab_map = target
    lab.cloud("-m", lab_map, "-y", timeout=1200)
    pinned = next(
        line for line in (lab.repo / "requirements.txt").read_text().splitlines() if line.startswith("salt==")
    )
    # "salt-call 3008.3 (Argon)"
    assert lab.ssh(TARGET, "salt-call --version").stdout.split()[:2] == ["salt-call", pinned.split("==")[1]]
    grains, _ = salt_call(lab, "grains.get", "roles")
    assert grains == ["labhost"]
    # the state tree, and the repository for the role to clone (git comes with the role)
    lab.ssh(TARGET, "test -f /srv/saltlab/salt/top.sls && test -f /srv/saltlab/.git/HEAD")


def test_the_preparation_applies_then_changes_nothing(target):
    lab, _address, _map = target
    first, proc = salt_call(lab, "state.apply", "labhost.prepare")
    assert proc.returncode == 0, failed(first) or proc.stderr
    second, proc = salt_call(lab, "state.apply", "labhost.prepare")
    assert proc.returncode == 0, failed(second) or proc.stderr
    assert [s["__id__"] for s in second.values() if s["changes"]] == []


def test_the_host_has_the_checkout_and_what_the_local_provider_needs(target):
    lab, _address, _map = target
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=lab.repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert lab.ssh(TARGET, "git -C /opt/saltlab/lab rev-parse HEAD").stdout.strip() == head
    check = lab.ssh(TARGET, "cd /opt/saltlab/lab && tools/install-host-deps --system --check", check=False)
    assert check.returncode == 0, check.stdout
    # packages come from the mirror itself, not through a lab's cache
    assert lab.ssh(TARGET, "ls /etc/apt/apt.conf.d").stdout.split().count("01saltlab-proxy") == 0


def test_stack_logs_in_with_the_key_that_reaches_root(target):
    lab, address, _map = target
    proc = subprocess.run(
        [
            "ssh",
            "-i",
            lab.key,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"stack@{address}",
            "sudo -n id -u",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.strip() == "0", proc.stderr


def test_only_ssh_reaches_the_host_from_outside(target):
    lab, address, _map = target
    lab.ssh(TARGET, f"systemd-run --unit=probe python3 -m http.server {PROBE_PORT}")
    try:
        # the service answers on the host itself
        local = lab.ssh(
            TARGET,
            f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {PROBE_PORT}), 5)'",
            check=False,
        )
        assert local.returncode == 0, local.stderr
        with pytest.raises(OSError):
            socket.create_connection((address, PROBE_PORT), timeout=3).close()
        socket.create_connection((address, 22), timeout=3).close()
    finally:
        lab.ssh(TARGET, "systemctl stop probe", check=False)
    # the rules are loaded at boot by their own unit
    assert lab.ssh(TARGET, "systemctl is-enabled saltlab-public-firewall").stdout.strip() == "enabled"


def test_destroy_leaves_nothing_behind(target):
    lab, _address, _map = target
    lab.cloud("-d", TARGET, "-y", timeout=600)
    assert TARGET not in lab.nodes()
    assert not any(host_leftovers().values()), host_leftovers()
