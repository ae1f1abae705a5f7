"""
tools/build-amphora-image: the Octavia amphora image, built (or taken from
its cache) and booted for real in qemu-system-x86_64 with TCG, as Nova's
libvirt driver boots it without KVM, with the config drive that Nova makes
for Octavia 2025.1's server create (tools/amphora_guest.py): the agent must
answer the controller's mutual-TLS requests, with the certificate from the
config drive, and refuse a client without a certificate or with one from
another CA; root's SSH login takes the config drive's key and no password.
Without a config drive the agent does not start.

The build needs root, mmdebstrap and Debian's mirror (a few minutes the first
time); tools/install-host-deps --tests installs the host packages.
"""

import importlib.machinery
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import types

import pytest

from amphora_guest import (
    Guest,
    Pki,
    agent_get,
    agent_info,
    build,
    config_drive,
    manifest,
    octavia_user_data,
)

TOOLS = os.path.join(os.path.dirname(__file__), "..", "..", "tools")
MIB = 1024 * 1024
AMPHORA_ID = "5a1c7e57-0000-4000-8000-00000000a001"

pytestmark = [
    pytest.mark.slow,
    # Octavia's, whose lab is not on main yet: make test-all
    pytest.mark.opt_in,
    pytest.mark.skipif(
        not shutil.which("qemu-system-x86_64"),
        reason="QEMU is missing (tools/install-host-deps --tests installs it)",
    ),
]


@pytest.fixture(scope="module")
def image():
    _, path, _ = build()
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"), AMPHORA_ID)


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "octavia", "-f", path], check=True)
    return path


@pytest.fixture(scope="module")
def guest(image, pki, ssh_key, tmp_path_factory):
    """The image booted with Octavia's config drive (default: the agent's files as Nova personality files)."""
    workdir = tmp_path_factory.mktemp("guest")
    drive = workdir / "config-drive.iso"
    config_drive(drive, AMPHORA_ID, pki, public_key=ssh_key.with_suffix(".pub").read_text().strip())
    with Guest(image, drive, workdir) as running:
        yield running


def test_image_is_a_small_qcow2_and_its_link(image):
    info = json.loads(
        subprocess.run(["qemu-img", "info", "--output=json", image], capture_output=True, check=True).stdout
    )
    assert info["format"] == "qcow2"
    assert image.stat().st_size < 400 * MIB
    assert info["virtual-size"] < 2048 * MIB
    link = image.parent.parent / "amphora.qcow2"
    assert link.is_symlink() and link.resolve() == image.resolve()
    packages = manifest(image)
    for package in ("haproxy", "keepalived", "ipvsadm", "python3-octavia", "octavia-agent", "openssh-server"):
        assert package in packages, package
    assert "cloud-init" not in packages and "rsyslog" not in packages


def test_second_run_is_a_cache_hit(image):
    before = image.stat().st_mtime_ns, image.stat().st_size
    state, path, output = build()
    assert state == "cached", output
    assert path == image
    assert (image.stat().st_mtime_ns, image.stat().st_size) == before
    assert "mmdebstrap" not in output


def test_agent_answers_the_controller_over_mutual_tls(guest, image, pki):
    info = guest.wait_for("an answer on the agent's /1.0/info", lambda: agent_info(guest.agent_port, pki), timeout=600)
    print(f"boot to agent answering under TCG: {time.monotonic() - guest.started:.1f} s")
    status, body, peer = agent_get(guest.agent_port, "/1.0/info", pki)
    assert status == 200
    packages = manifest(image)
    assert body["api_version"] == "1.0"
    assert body["haproxy_version"] == packages["haproxy"]
    assert body["keepalived_version"] == packages["keepalived"]
    assert body["ipvsadm_version"] == packages["ipvsadm"]
    assert body["hostname"] == f"amphora-{AMPHORA_ID}"
    assert info["haproxy_version"].split(".")[:2] == packages["haproxy"].split(".")[:2]
    # the certificate from the config drive, as Octavia's driver checks it
    assert peer.subject.rfc4514_string() == f"CN={AMPHORA_ID}"
    status, details, _ = agent_get(guest.agent_port, "/1.0/details", pki)
    assert status == 200
    assert details["topology"] == "SINGLE" and details["listeners"] == []
    memory = details["memory"]
    used = memory["total"] - memory["free"] - memory["buffers"] - memory["cached"]
    print(f"guest memory after boot: {used // 1024} MiB used of {memory['total'] // 1024} MiB")
    log = guest.log()
    assert "amphora-config: wrote /etc/octavia/amphora-agent.conf" in log, log
    assert "runcmd 'systemctl restart rsyslog': not run" in log, log


def test_agent_refuses_a_client_without_certificate(guest, pki):
    guest.wait_for("an answer on the agent's /1.0/info", lambda: agent_info(guest.agent_port, pki), timeout=600)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        agent_get(guest.agent_port, "/1.0/info", pki, client=None)


def test_agent_refuses_a_client_certificate_from_another_ca(guest, pki):
    guest.wait_for("an answer on the agent's /1.0/info", lambda: agent_info(guest.agent_port, pki), timeout=600)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        agent_get(guest.agent_port, "/1.0/info", pki, client="stranger.pem")


def ssh(guest, key, *options, command="true"):
    return subprocess.run(
        [
            "ssh",
            "-p",
            str(guest.ssh_port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=30",
            "-i",
            str(key),
            *options,
            "root@127.0.0.1",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_root_logs_in_with_the_config_drive_key_and_no_password(guest, pki, ssh_key):
    guest.wait_for("an answer on the agent's /1.0/info", lambda: agent_info(guest.agent_port, pki), timeout=600)
    login = ssh(guest, ssh_key, command="cat /etc/hostname; ls /etc/ssh/ssh_host_*_key")
    assert login.returncode == 0, login.stderr
    assert login.stdout.split() == [f"amphora-{AMPHORA_ID}", "/etc/ssh/ssh_host_ed25519_key"]
    password = ssh(guest, ssh_key, "-o", "PreferredAuthentications=password,keyboard-interactive")
    assert password.returncode == 255
    assert "Permission denied (publickey)" in password.stderr, password.stderr


def test_without_config_drive_the_agent_does_not_start(image, pki, tmp_path):
    with Guest(image, None, tmp_path) as bare:
        bare.wait_for("amphora-config giving up", lambda: "amphora-config: no config drive" in bare.log(), timeout=600)
        time.sleep(5)
        assert agent_info(bare.agent_port, pki) is None
        assert "amphora-config: no config drive (no device labelled config-2 after 60 s)" in bare.log()


# --- amphora-config itself, on this machine, against the config drives of both of Octavia's modes


@pytest.mark.parametrize("user_data_files", [False, True], ids=["personality-files", "user-data-write-files"])
def test_amphora_config_writes_octavias_files(tmp_path, pki, user_data_files):
    drive = tmp_path / "drive"
    meta = config_drive(
        None, AMPHORA_ID, pki, user_data_files=user_data_files, public_key="ssh-ed25519 AAAA octavia", tree=drive
    )
    root = tmp_path / "root"
    run = [sys.executable, os.path.join(TOOLS, "amphora-config"), "--drive", drive]
    first = subprocess.run([*run, "--root", root], capture_output=True, text=True, check=True).stdout
    conf = (root / "etc/octavia/amphora-agent.conf").read_text()
    assert f"amphora_id = {AMPHORA_ID}" in conf and "bind_port = 9443" in conf
    assert (root / "etc/octavia/certs/server.pem").read_bytes() == pki.server_pem
    assert (root / "etc/octavia/certs/client_ca.pem").read_bytes() == pki.client_ca.pem
    assert oct((root / "etc/octavia/certs/server.pem").stat().st_mode & 0o777) == (
        "0o644" if user_data_files else "0o660"
    )
    assert (root / "etc/hostname").read_text() == f"amphora-{AMPHORA_ID}\n"
    assert (root / "root/.ssh/authorized_keys").read_text() == "ssh-ed25519 AAAA octavia\n"
    assert (root / "var/lib/amphora-config/instance-id").read_text() == meta["uuid"] + "\n"
    network = (root / "etc/systemd/network/50-amphora-fa163ea00001.network").read_text()
    assert "MACAddress=fa:16:3e:a0:00:01" in network and "DHCP=ipv4" in network and "MTUBytes=1500" in network
    if user_data_files:
        assert "runcmd 'service amphora-agent restart': not run" in first
    # once per instance: a second boot keeps what the agent may have changed since
    (root / "etc/octavia/amphora-agent.conf").write_text("updated by the controller\n")
    second = subprocess.run([*run, "--root", root], capture_output=True, text=True, check=True).stdout
    assert "applied at an earlier boot" in second
    assert (root / "etc/octavia/amphora-agent.conf").read_text() == "updated by the controller\n"


def test_octavia_user_data_is_cloud_config_yaml():
    yaml = pytest.importorskip("yaml")
    files = {"/etc/a.conf": "[x]\ny = 1\n", "/etc/b.pem": "-----BEGIN X-----\nabc\n-----END X-----\n"}
    assert yaml.safe_load(octavia_user_data(files)) == {
        "write_files": [{"path": p, "content": c} for p, c in files.items()],
        "runcmd": ["systemctl restart rsyslog", "service amphora-agent restart"],
        "timezone": "UTC",
    }
    assert yaml.safe_load(octavia_user_data({})) == {"runcmd": ["systemctl restart rsyslog"], "timezone": "UTC"}


def test_amphora_config_renders_a_static_management_network():
    loader = importlib.machinery.SourceFileLoader("amphora_config", os.path.join(TOOLS, "amphora-config"))
    module = types.ModuleType(loader.name)
    loader.exec_module(module)
    network = {
        "links": [{"id": "tap0", "ethernet_mac_address": "FA:16:3E:00:00:02", "mtu": 1450}],
        "networks": [
            {
                "id": "network0",
                "type": "ipv4",
                "link": "tap0",
                "ip_address": "192.0.2.10",
                "netmask": "255.255.255.0",
                "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.0.2.1"}],
            },
            {"id": "network1", "type": "ipv6_slaac", "link": "tap0"},
        ],
        "services": [{"type": "dns", "address": "192.0.2.53"}],
    }
    assert module.network_units(network, {}) == {
        "50-amphora-fa163e000002.network": "[Match]\nMACAddress=fa:16:3e:00:00:02\n\n[Link]\nMTUBytes=1450\n\n"
        "[Network]\nDHCP=no\nIPv6AcceptRA=yes\nAddress=192.0.2.10/24\nDNS=192.0.2.53\n\n"
        "[Route]\nDestination=0.0.0.0/0\nGateway=192.0.2.1\n"
    }
    # no network_data.json: DHCP on the interfaces present at boot
    assert "DHCP=ipv4" in module.network_units(None, {"fa:16:3e:00:00:03": "ens3"})["50-amphora-fa163e000003.network"]
