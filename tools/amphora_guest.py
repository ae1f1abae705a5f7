"""
The amphora image (tools/build-amphora-image) as Octavia 2025.1 and Nova boot
it, on this machine, for tests/functional/test_amphora_image.py and
bench/amphora.py:

- ``build()``: the tool's run (built or cached) and the image's path;
- ``Pki``: throwaway CAs and certificates like Octavia's: a server CA that
  signs the amphora's agent certificate (its CN the amphora's id), a client
  CA that signs the controllers' client certificate;
- ``config_drive()``: the ISO 9660 config drive (label config-2) that Nova
  makes for Octavia's server create: with Octavia's defaults
  (controller_worker.user_data_config_drive = False) the agent's files are
  Nova personality files (meta_data.json "files", openstack/content/NNNN) and
  user_data is Octavia's cloud-config template with no write_files; with
  ``user_data_files=True`` they are the template's write_files instead;
- ``Guest``: the image booted in qemu-system-x86_64 with TCG (as Nova's
  libvirt driver boots it without KVM: pc machine, the disk on virtio-blk,
  the config drive on an IDE CD-ROM, a virtio-net NIC) on QEMU's user-mode
  network in restricted mode: the guest reaches nothing, the agent's port
  (9443) and SSH (22) are forwarded from 127.0.0.1;
- ``agent_get()``: a request to the agent's API over mutual TLS, as the
  controller's amphora driver makes it.
"""

import contextlib
import ctypes
import datetime
import http.client
import json
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO = pathlib.Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "build-amphora-image"
AGENT_PORT = 9443
MAC = "fa:16:3e:a0:00:01"
PR_SET_PDEATHSIG = 1


def build(force=False, timeout=3600):
    """Run the tool: ("built" or "cached", the image's path, its whole output)."""
    command = [str(TOOL), *(["--force"] if force else [])]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"{TOOL.name} failed ({proc.returncode}):\n{output}")
    found = re.search(r"^>> image \((built|cached)\): (\S+)$", proc.stdout, re.M)
    lines = proc.stdout.strip().splitlines()
    if not found or not lines or lines[-1] != found.group(2):
        raise RuntimeError(f"{TOOL.name} did not end with the image's path:\n{output}")
    return found.group(1), pathlib.Path(found.group(2)), output


def manifest(image):
    """{package: version} of the image, from the manifest beside it."""
    rows = (line.split("\t") for line in (image.parent / "manifest").read_text().splitlines())
    return {row[0]: row[1] for row in rows}


# --- certificates


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(subject, issuer, public_key, ca):
    """A week's certificate: a CA's (signs certificates) or a leaf's (signs and enciphers)."""
    now = datetime.datetime.now(datetime.UTC)
    usage = {name: False for name in ("content_commitment", "data_encipherment", "key_agreement")}
    usage.update(encipher_only=False, decipher_only=False)
    usage.update(digital_signature=not ca, key_encipherment=not ca, key_cert_sign=ca, crl_sign=ca)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


class Ca:
    """A CA with the extensions a strict verifier (Python 3.13's default) asks for."""

    def __init__(self, common_name):
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        self.cert = _certificate(name, name, self.key.public_key(), ca=True).sign(self.key, hashes.SHA256())

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name, usage):
        """(certificate PEM, key PEM) for common_name, usage an ExtendedKeyUsageOID."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _certificate(_name(common_name), self.cert.subject, key.public_key(), ca=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


class Pki:
    """Octavia's two CAs, the amphora's agent certificate and the controllers' client certificate, as files."""

    def __init__(self, directory, amphora_id):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.server_ca = Ca("octavia server CA")
        self.client_ca = Ca("octavia client CA")
        cert, key = self.server_ca.issue(amphora_id, ExtendedKeyUsageOID.SERVER_AUTH)
        self.server_pem = cert + key  # what Octavia puts in /etc/octavia/certs/server.pem
        self.files = {}
        for name, data in {
            "server_ca.pem": self.server_ca.pem,
            "client_ca.pem": self.client_ca.pem,
            "client.pem": b"".join(self.client_ca.issue("controller", ExtendedKeyUsageOID.CLIENT_AUTH)),
            # a client certificate from a CA the amphora does not trust
            "stranger.pem": b"".join(Ca("another CA").issue("controller", ExtendedKeyUsageOID.CLIENT_AUTH)),
        }.items():
            path = self.dir / name
            path.write_bytes(data)
            path.chmod(0o600)
            self.files[name] = path


# --- the config drive


def agent_config(amphora_id, controller="192.0.2.1:5555"):
    """/etc/octavia/amphora-agent.conf as Octavia 2025.1 renders it with its defaults (SINGLE topology)."""
    return f"""\
[DEFAULT]
debug = False
use_syslog = True
syslog_log_facility = LOG_LOCAL1

[haproxy_amphora]
base_cert_dir = /var/lib/octavia/certs
base_path = /var/lib/octavia
bind_host = ::
bind_port = {AGENT_PORT}
haproxy_cmd = /usr/sbin/haproxy
user_log_facility = 0
administrative_log_facility = 1

[health_manager]
controller_ip_port_list = {controller}
heartbeat_interval = 10
heartbeat_key = insecure-test-key

[amphora_agent]
agent_server_ca = /etc/octavia/certs/client_ca.pem
agent_server_cert = /etc/octavia/certs/server.pem
agent_request_read_timeout = 180
amphora_id = {amphora_id}
amphora_udp_driver = keepalived_lvs
agent_tls_protocol = TLSv1.2

[controller_worker]
loadbalancer_topology = SINGLE
"""


def octavia_user_data(files, timezone="UTC"):
    """
    user_data as Octavia's user_data_config_drive.template renders it:
    write_files only when user_data_config_drive is set (files non-empty),
    then runcmd and timezone.
    """
    out = "#cloud-config\n# vim: syntax=yaml\n#\n# (Octavia's comment lines)\n"
    if files:
        out += "write_files:\n"
        for path, content in files.items():
            indented = "\n".join(("        " + line) if line else line for line in content.split("\n"))
            out += f"-   path: {path}\n    content: |\n{indented}\n"
        out += "runcmd:\n-   systemctl restart rsyslog\n-   service amphora-agent restart\n"
    else:
        out += "\nruncmd:\n-   systemctl restart rsyslog\n\n"
    return out + f"\ntimezone: {timezone}"


def config_drive(path, amphora_id, pki, user_data_files=False, public_key=None, mac=MAC, tree=None):
    """
    Write the config drive Nova makes for Octavia's server create to path (an
    ISO 9660 image; with tree, its files in that directory instead). Returns
    its meta_data.json.
    """
    files = {
        # CertComputeCreate's files first, then ComputeCreate's
        "/etc/octavia/certs/server.pem": pki.server_pem.decode(),
        "/etc/octavia/certs/client_ca.pem": pki.client_ca.pem.decode(),
        "/etc/octavia/amphora-agent.conf": agent_config(amphora_id),
        "/etc/rsyslog.d/10-rsyslog.conf": "\n",
    }
    meta = {
        "uuid": str(uuid.uuid4()),
        "meta": {},
        "hostname": f"amphora-{amphora_id}",
        "name": f"amphora-{amphora_id}",
        "launch_index": 0,
        "availability_zone": "nova",
        "random_seed": "",
        "project_id": "0123456789abcdef0123456789abcdef",
        "devices": [],
        "dedicated_cpus": [],
    }
    if public_key:
        meta["public_keys"] = {"amphora-key": public_key}
        meta["keys"] = [{"name": "amphora-key", "type": "ssh", "data": public_key}]
    network = {
        "links": [{"id": "tap0", "vif_id": str(uuid.uuid4()), "type": "ovs", "mtu": 1500, "ethernet_mac_address": mac}],
        "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "tap0", "network_id": str(uuid.uuid4())}],
        "services": [],
    }
    with contextlib.ExitStack() as stack:
        root = pathlib.Path(tree or stack.enter_context(tempfile.TemporaryDirectory()))
        for version in ("2012-08-10", "latest"):
            directory = root / "openstack" / version
            directory.mkdir(parents=True)
            if user_data_files:
                (directory / "meta_data.json").write_text(json.dumps(meta))
                (directory / "user_data").write_text(octavia_user_data(files))
            else:
                injected = [{"path": p, "content_path": f"/content/{i:04d}"} for i, p in enumerate(files)]
                (directory / "meta_data.json").write_text(json.dumps({**meta, "files": injected}))
                (directory / "user_data").write_text(octavia_user_data({}))
            (directory / "network_data.json").write_text(json.dumps(network))
            (directory / "vendor_data.json").write_text("{}")
            (directory / "vendor_data2.json").write_text("{}")
        if not user_data_files:
            content = root / "openstack" / "content"
            content.mkdir()
            for i, text in enumerate(files.values()):
                (content / f"{i:04d}").write_text(text)
        if tree:
            return meta
        mkisofs = shutil.which("genisoimage") or shutil.which("mkisofs")
        command = [mkisofs] if mkisofs else [shutil.which("xorriso") or "xorriso", "-as", "mkisofs"]
        # Nova's (nova/virt/configdrive.py) options
        command += ["-o", str(path), "-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-publisher"]
        command += ["OpenStack Compute", "-quiet", "-J", "-r", "-V", "config-2", str(root)]
        subprocess.run(command, check=True, capture_output=True)
    return meta


# --- the guest


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    """In QEMU before exec: SIGTERM when the Python that started it goes, however it goes."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Guest:
    """The image booted in QEMU TCG: .agent_port, .ssh_port, .serial (log path), .qemu (Popen), .started."""

    def __init__(self, image, drive, workdir, memory_mib=1024, cpus=1):
        self.serial = pathlib.Path(workdir) / "serial.log"
        self.agent_port, self.ssh_port = free_port(), free_port()
        netdev = ",".join(
            [
                "user,id=net0,restrict=on",
                f"hostfwd=tcp:127.0.0.1:{self.agent_port}-:{AGENT_PORT}",
                f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
            ]
        )
        self.command = [
            "qemu-system-x86_64",
            "-machine",
            "pc,accel=tcg",
            "-m",
            str(memory_mib),
            "-smp",
            str(cpus),
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            f"file:{self.serial}",
            "-no-reboot",
            "-drive",
            f"file={image},format=qcow2,if=virtio,snapshot=on",
            "-netdev",
            netdev,
            "-device",
            f"virtio-net-pci,netdev=net0,mac={MAC}",
        ]
        if drive:
            self.command += ["-drive", f"file={drive},format=raw,media=cdrom,if=ide,readonly=on"]
        self.qemu = None
        self.started = None

    def __enter__(self):
        self.started = time.monotonic()
        self.qemu = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        return self

    def __exit__(self, *exc):
        self.qemu.terminate()
        try:
            self.qemu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.qemu.kill()
            self.qemu.wait()

    def log(self):
        return self.serial.read_text(errors="replace") if self.serial.exists() else ""

    def wait_for(self, what, check, timeout):
        """Poll check() until it returns something truthy; raise with the serial log if QEMU ends or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if self.qemu.poll() is not None:
                raise AssertionError(
                    f"QEMU exited ({self.qemu.returncode}) before {what}: "
                    f"{self.qemu.stdout.read().decode(errors='replace')}\nserial log:\n{self.log()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {timeout} s; serial log:\n{self.log()[-3000:]}")
            time.sleep(0.5)


def tls_context(pki, client="client.pem"):
    """The controller's side: the server CA verifies the amphora, a client certificate (or none) for it."""
    context = ssl.create_default_context(cafile=str(pki.files["server_ca.pem"]))
    context.check_hostname = False  # Octavia checks the CN against the amphora's id instead
    if client:
        context.load_cert_chain(str(pki.files[client]))
    return context


def agent_get(port, path, pki, client="client.pem", timeout=10):
    """(status, parsed JSON body, the agent's certificate) of GET path on the agent forwarded to port."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls_context(pki, client))
    try:
        connection.connect()
        peer = x509.load_der_x509_certificate(connection.sock.getpeercert(binary_form=True))
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read()), peer
    finally:
        connection.close()


def agent_info(port, pki):
    """The agent's /1.0/info, or None while it does not answer."""
    with contextlib.suppress(OSError, ssl.SSLError, http.client.HTTPException, ValueError):
        status, body, _ = agent_get(port, "/1.0/info", pki)
        if status == 200:
            return body
    return None
