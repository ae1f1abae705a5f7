"""
tools/build-test-image: the lab's test guest, built (or taken from its cache)
and booted for real in qemu-system-x86_64 with TCG, like Nova's libvirt
driver boots it where there is no KVM: the raw disk on virtio-blk, a
virtio-net NIC. The guest's network is QEMU's user-mode network in restricted
mode: it reaches nothing but what the test forwards (ports 7, 8 and 9 from
127.0.0.1, a fake metadata service at 169.254.169.254 that QEMU answers
by running a local script, and an echo peer at 169.254.169.7:7 that QEMU
answers with `cat`), so no traffic leaves this machine.

A second disk (a raw file on virtio-blk with a serial, as Nova attaches a
Cinder volume) is there for the probe's disk commands: the bytes it writes
from inside the guest are in the file, and read back.

The guest's DHCP event script (what Neutron's lease does to the interface,
the MTU of option 26 first of all: QEMU's DHCP sends no MTU) runs under the
image's own busybox in a network namespace of its own, on a veth pair.
"""

import base64
import ctypes
import hashlib
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "build-test-image"
PROGRAMS = ("qemu-system-x86_64", "syslinux", "mcopy", "mkfs.vfat", "sfdisk", "cpio", "apt-get", "dpkg-deb")
MIB = 1024 * 1024
PR_SET_PDEATHSIG = 1

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(program) for program in PROGRAMS),
        reason="QEMU or the image build tools are missing (tools/install-host-deps --tests installs them)",
    ),
]


def build():
    """Run the tool: (\"built\" or \"cached\", image path, its output)."""
    proc = subprocess.run([str(TOOL)], cwd=REPO, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    found = re.search(r"^>> image \((built|cached)\): (\S+)$", proc.stdout, re.M)
    assert found, output
    return found.group(1), pathlib.Path(found.group(2)), output


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def image():
    _, path, _ = build()
    return path


def test_image_is_a_small_raw_disk_that_syslinux_boots(image):
    data = image.read_bytes()
    assert len(data) < 64 * MIB
    assert data[:440] == pathlib.Path("/usr/lib/syslinux/mbr/mbr.bin").read_bytes()[:440]
    assert data[510:512] == b"\x55\xaa"
    status, part_type, start, sectors = struct.unpack_from("<B3xB3xII", data, 446)
    assert (status, part_type, start) == (0x80, 0x0E, 2048)
    assert (start + sectors) * 512 == len(data)
    boot_sector = data[start * 512 : start * 512 + 512]
    assert boot_sector[54:62] == b"FAT16   "
    assert struct.unpack_from("<I", boot_sector, 28)[0] == start  # hidden sectors: syslinux finds itself
    assert b"SYSLINUX" in boot_sector
    for name in ("vmlinuz", "initrd.gz", "initramfs/init", "initramfs/etc/udhcpc/default.script"):
        assert os.path.lexists(image.parent / name), name
    assert (REPO / "var" / "test-image" / "saltlab-test.img").resolve() == image.resolve()


def test_second_run_is_a_cache_hit(image):
    before = image.stat().st_mtime_ns, sha256(image)
    state, path, output = build()
    assert state == "cached", output
    assert path == image
    assert (image.stat().st_mtime_ns, sha256(image)) == before
    assert "apt-get download" not in output


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_pytest():
    """In QEMU before exec: get SIGTERM when pytest goes, however it goes."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def exchange(port, payload):
    """Send payload to 127.0.0.1:port, close our side, return all that comes back (None if refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return None


METADATA = """#!/bin/sh
# QEMU runs this for each guest connection to 169.254.169.254:80.
read -r request
case $request in
  "GET /latest/meta-data/hostname "*) status="200 OK" body=test-vm-1.novalocal ;;
  *) status="404 Not Found" body= ;;
esac
printf 'HTTP/1.0 %s\\r\\nContent-Type: text/plain\\r\\nContent-Length: %d\\r\\n\\r\\n%s' "$status" "${#body}" "$body"
"""


# an address in the guest's network where QEMU runs `cat` for port 7
ECHO_PEER = "169.254.169.7"
# the second disk: as Nova attaches a volume (virtio-blk, its id as serial)
DATA_DISK_SIZE = 8 * MIB
DATA_DISK_SERIAL = "saltlab-test-disk"


@pytest.fixture(scope="module")
def guest(image, tmp_path_factory):
    """
    The image booted in QEMU (TCG), once for the module:
    {"serial": log path, "echo"/"banner"/"probe"/"http": port, "qemu": Popen,
    "disk": the second disk's file}.
    """
    tmp_path = tmp_path_factory.mktemp("guest")
    metadata = tmp_path / "metadata.sh"
    metadata.write_text(METADATA)
    metadata.chmod(0o755)
    assert "," not in str(metadata)  # QEMU's option syntax
    serial = tmp_path / "serial.log"
    disk = tmp_path / "data.img"
    with open(disk, "wb") as fh:
        fh.truncate(DATA_DISK_SIZE)
    echo_port, banner_port, probe_port, http_port = free_port(), free_port(), free_port(), free_port()
    netdev = ",".join(
        [
            "user,id=net0,restrict=on",
            # 169.254.169.0/24: the metadata address is on-link, as with a
            # Neutron route to it (restrict=on also hides QEMU's router).
            "net=169.254.169.0/24,host=169.254.169.2,dhcpstart=169.254.169.15",
            f"hostfwd=tcp:127.0.0.1:{echo_port}-:7",
            f"hostfwd=tcp:127.0.0.1:{banner_port}-:8",
            f"hostfwd=tcp:127.0.0.1:{probe_port}-:9",
            f"hostfwd=tcp:127.0.0.1:{http_port}-:80",
            f"guestfwd=tcp:169.254.169.254:80-cmd:{metadata}",
            f"guestfwd=tcp:{ECHO_PEER}:7-cmd:cat",
        ]
    )
    command = [
        "qemu-system-x86_64",
        "-machine",
        "pc,accel=tcg",
        "-m",
        "256",
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        f"file:{serial}",
        "-no-reboot",
        "-drive",
        f"file={image},format=raw,if=none,id=boot,snapshot=on",
        "-device",
        "virtio-blk-pci,drive=boot,bootindex=0",
        "-drive",
        f"file={disk},format=raw,if=none,id=data",
        "-device",
        f"virtio-blk-pci,drive=data,serial={DATA_DISK_SERIAL}",
        "-netdev",
        netdev,
        "-device",
        "virtio-net-pci,netdev=net0",
    ]
    qemu = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_pytest
    )
    try:
        yield {
            "serial": serial,
            "echo": echo_port,
            "banner": banner_port,
            "probe": probe_port,
            "http": http_port,
            "qemu": qemu,
            "disk": disk,
        }
    finally:
        qemu.terminate()
        try:
            qemu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()


def wait_for(guest, what, check, timeout):
    """Poll check() until it returns something truthy; fail with the serial log if QEMU ends or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        log = guest["serial"].read_text(errors="replace") if guest["serial"].exists() else ""
        if guest["qemu"].poll() is not None:
            pytest.fail(
                f"QEMU exited ({guest['qemu'].returncode}) before {what}: "
                f"{guest['qemu'].stdout.read().decode(errors='replace')}\nserial log:\n{log[-3000:]}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout} s; serial log:\n{log[-3000:]}")
        time.sleep(1)


def test_guest_boots_gets_a_lease_and_echoes(guest):
    payload = b"saltlab echo \x00\x01\xfe\xff\n" * 200
    started = time.monotonic()
    wait_for(guest, "TCP echo on port 7", lambda: exchange(guest["echo"], payload) == payload, timeout=240)
    print(f"boot to echo under TCG: {time.monotonic() - started:.1f} s")
    assert exchange(guest["echo"], b"second connection\n") == b"second connection\n"
    log = guest["serial"].read_text(errors="replace")
    assert re.search(r"^saltlab-test: dhcp bound eth0 ip=169\.254\.169\.15/24 ", log, re.M), log
    assert "saltlab-test: insmod" not in log, log  # every module loaded


def test_guest_banner_names_the_metadata_hostname(guest):
    def banner():
        line = exchange(guest["banner"], b"")
        return line if line and b"hostname=test-vm-1 " in line else None

    line = wait_for(guest, "banner with the metadata hostname on port 8", banner, timeout=300).decode()
    assert re.fullmatch(
        rf"saltlab-test hostname=test-vm-1 ip=169\.254\.169\.15/24 router=\S+ mtu=1500 "
        rf"disks=vda:{image_size(guest)},vdb:{DATA_DISK_SIZE}\n",
        line,
    ), line
    log = guest["serial"].read_text(errors="replace")
    assert "saltlab-test: metadata hostname test-vm-1.novalocal" in log


def test_guest_answers_http_with_its_banner(guest):
    """What a load balancer's health monitor and clients see: 200 and the line naming the guest."""

    def get():
        reply = exchange(guest["http"], b"GET / HTTP/1.0\r\nHost: lb\r\nUser-Agent: test\r\n\r\n")
        return reply if reply and b"hostname=test-vm-1 " in reply else None

    reply = wait_for(guest, "an HTTP answer naming the metadata hostname on port 80", get, timeout=300).decode()
    head, _, body = reply.partition("\r\n\r\n")
    assert head.split("\r\n")[0] == "HTTP/1.0 200 OK", reply
    assert f"Content-Length: {len(body.encode())}" in head.split("\r\n"), reply
    assert body.startswith("saltlab-test hostname=test-vm-1 ip=169.254.169.15/24 ") and body.endswith("\n"), reply


def test_guest_probe_reaches_an_echo_peer_and_tells_a_silent_one(guest):
    wait_for(guest, "TCP echo on port 7", lambda: exchange(guest["echo"], b"up\n") == b"up\n", timeout=240)
    # QEMU's user network answers no ping from a guest: only the TCP part can pass
    assert (
        exchange(guest["probe"], f"{ECHO_PEER}\n".encode())
        == f"saltlab-probe {ECHO_PEER} tcp=ok icmp=failed\n".encode()
    )
    assert exchange(guest["probe"], b"169.254.169.8\n") == b"saltlab-probe 169.254.169.8 tcp=failed icmp=failed\n"
    assert exchange(guest["probe"], b"x; reboot\n") == b"saltlab-probe: not an IPv4 address: x; reboot\n"


def image_size(guest):
    """The boot disk's size, as the guest sees it (the image's)."""
    return (REPO / "var" / "test-image" / "saltlab-test.img").resolve().stat().st_size


def probe(guest, line):
    answer = exchange(guest["probe"], f"{line}\n".encode())
    assert answer is not None and answer.endswith(b"\n"), answer
    return answer.decode()[:-1]


def test_guest_lists_its_disks_with_sizes_and_serials(guest):
    wait_for(guest, "TCP echo on port 7", lambda: exchange(guest["echo"], b"up\n") == b"up\n", timeout=240)
    assert probe(guest, "disks") == f"saltlab-disks vda:{image_size(guest)}: vdb:{DATA_DISK_SIZE}:{DATA_DISK_SERIAL}"


def test_guest_writes_bytes_to_a_disk_and_reads_them_back(guest):
    wait_for(guest, "TCP echo on port 7", lambda: exchange(guest["echo"], b"up\n") == b"up\n", timeout=240)
    data = os.urandom(65536)
    offset = MIB + 3
    written = probe(guest, f"write vdb {offset} {base64.b64encode(data).decode()}")
    assert written == f"saltlab-write vdb {offset} {len(data)} sha256={hashlib.sha256(data).hexdigest()}"
    # flushed: the disk's file has them
    with open(guest["disk"], "rb") as fh:
        fh.seek(offset)
        assert fh.read(len(data)) == data
    _, disk, at, length, encoded = probe(guest, f"read vdb {offset} {len(data)}").split(" ")
    assert (disk, at, length) == ("vdb", str(offset), str(len(data)))
    assert base64.b64decode(encoded) == data
    # what is around them is untouched
    assert probe(guest, f"read vdb {offset - 3} 3") == f"saltlab-read vdb {offset - 3} 3 AAAA"


@pytest.mark.parametrize(
    "line, answer",
    [
        ("read vdz 0 1", "saltlab-probe: no disk vdz"),
        ("read sda 0 1", "saltlab-probe: not a virtio disk: sda"),
        ("read vdb 0 65537", "saltlab-probe: at most 65536 bytes, not 65537"),
        ("read vdb -1 1", "saltlab-probe: not a number: -1"),
        ("write vdb 0 ;reboot", "saltlab-probe: not base64"),
        ("write vdb x AAAA", "saltlab-probe: not a number: x"),
    ],
)
def test_guest_refuses_bad_disk_commands(guest, line, answer):
    wait_for(guest, "TCP echo on port 7", lambda: exchange(guest["echo"], b"up\n") == b"up\n", timeout=240)
    assert probe(guest, line) == answer


# --- the DHCP event script, under the image's busybox, in a network namespace


@pytest.fixture
def dhcp(image, tmp_path):
    """Run the image's udhcpc script: dhcp(events) -> (link, addresses, routes) of v0 after them.

    events: a list of (event, {variable: value}) as udhcpc would call the
    script. Each call is a fresh network namespace with a veth pair v0/v1.
    """
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip (iproute2)")
    initramfs = image.parent / "initramfs"
    busybox = initramfs / "bin" / "busybox"
    applets = tmp_path / "bin"
    applets.mkdir()
    for applet in subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split():
        (applets / applet).symlink_to(busybox)
    script = initramfs / "etc" / "udhcpc" / "default.script"
    files = {"RESOLV_CONF": str(tmp_path / "resolv.conf"), "LEASE_FILE": str(tmp_path / "lease")}

    def run(events):
        lines = ["mount -t sysfs sysfs /sys", "ip link add v0 type veth peer name v1", "ip link set v1 up"]
        for event, variables in events:
            assignments = {"PATH": str(applets), "interface": "v0", **files, **variables}
            lines.append(
                " ".join(
                    [
                        "env",
                        "-i",
                        *(shlex.quote(f"{k}={v}") for k, v in assignments.items()),
                        shlex.quote(str(busybox)),
                        "sh",
                        shlex.quote(str(script)),
                        event,
                    ]
                )
            )
        lines += ["ip -j link show dev v0", "ip -j -4 addr show dev v0", "ip -j -4 route show"]
        proc = subprocess.run(
            ["unshare", "--net", "--uts", "--mount", "sh", "-ec", "\n".join(lines)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        link, addresses, routes = (json.loads(line) for line in proc.stdout.splitlines()[-3:])
        return (
            link[0],
            [f"{a['local']}/{a['prefixlen']}" for a in addresses[0]["addr_info"]] if addresses else [],
            routes,
        )

    run.files = files
    return run


NEUTRON_LEASE = {
    "ip": "192.0.2.10",
    "mask": "24",
    "subnet": "255.255.255.0",
    "broadcast": "192.0.2.255",
    "router": "192.0.2.1",
    "dns": "192.0.2.53",
    "domain": "lab.test",
    "mtu": "1410",
    "staticroutes": "169.254.169.254/32 192.0.2.2 0.0.0.0/0 192.0.2.1",
    "hostname": "host-192-0-2-10",
}


def route(routes, dst):
    return next((r for r in routes if r["dst"] == dst), None)


def test_dhcp_script_applies_a_neutron_lease_mtu_first(dhcp):
    link, addresses, routes = dhcp([("deconfig", {}), ("bound", NEUTRON_LEASE)])
    assert link["mtu"] == 1410
    assert addresses == ["192.0.2.10/24"]
    assert route(routes, "default")["gateway"] == "192.0.2.1"
    assert route(routes, "169.254.169.254")["gateway"] == "192.0.2.2"
    assert pathlib.Path(dhcp.files["RESOLV_CONF"]).read_text() == "search lab.test\nnameserver 192.0.2.53\n"
    lease = pathlib.Path(dhcp.files["LEASE_FILE"]).read_text()
    assert lease == "ip=192.0.2.10/24 router=192.0.2.1 mtu=1410 hostname=host-192-0-2-10\n"


def test_dhcp_script_without_mtu_option_keeps_the_link_mtu(dhcp):
    plain = {"ip": "198.51.100.7", "subnet": "255.255.254.0", "router": "198.51.100.1"}  # no mask: from subnet
    link, addresses, routes = dhcp([("deconfig", {}), ("bound", plain)])
    assert link["mtu"] == 1500
    assert addresses == ["198.51.100.7/23"]
    assert route(routes, "default")["gateway"] == "198.51.100.1"
    assert pathlib.Path(dhcp.files["LEASE_FILE"]).read_text() == "ip=198.51.100.7/23 router=198.51.100.1 mtu=1500\n"


def test_dhcp_script_renew_with_a_new_address_replaces_the_old(dhcp):
    renewed = dict(NEUTRON_LEASE, ip="192.0.2.11")
    _, addresses, _ = dhcp([("deconfig", {}), ("bound", NEUTRON_LEASE), ("renew", NEUTRON_LEASE), ("renew", renewed)])
    assert addresses == ["192.0.2.11/24"]
