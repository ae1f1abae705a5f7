"""
Block storage end to end, in the lab the e2e tests share (the `lab` and
`cloud` fixtures; these run after test_20_demo.py's demo, in file order): Ceph healthy on
the storage node, its keys private; Cinder's volume service up as the CLI
sees it through the TLS proxy; the demo's volume attached to demo1 and
demo2 booted from a volume, as the guests see their disks; a volume's bytes
written from inside one guest, read back identical from the other after a
detach and an attach, and from a volume made of its snapshot; Horizon's
volume panel; the storage node rebooted from inside, Ceph and
cinder-volume back by themselves, a volume still attaching; bad storage
pillar stopping the highstate, naming the key.

The guests' probe port (9) reads and writes their disks (tools/build-test-
image); a volume is found in a guest by its serial, which Nova sets to the
volume's id (virtio-blk keeps its first 20 characters).
"""

import base64
import json
import re
import secrets

import pytest
from labcheck import assert_highstate_refused, horizon_as_demo, proxy_address, wait_until

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
GIB = 1024 * MIB
# the demo's (salt/demo/defaults.yaml)
DATA_VOLUME, DATA_SERVER = "demo-vol", "demo1"
BOOT_VOLUME, BOOT_SERVER = "demo2-boot", "demo2"


def ceph(lab, command):
    """`ceph COMMAND --format json` on the storage node, as its client.admin."""
    return json.loads(lab.ssh("storage", f"ceph {command} --format json").stdout)


def guest_disks(lab, address):
    """{name: (bytes, serial)} of the guest's virtio disks, as its probe lists them ({} when it does not answer)."""
    line = lab.tcp(address, 9, "disks\n").strip()
    if not line.startswith("saltlab-disks"):
        return {}
    found = {}
    for disk in line.split()[1:]:
        name, size, serial = disk.split(":", 2)
        found[name] = (int(size), serial)
    return found


def disk_of(lab, address, volume_id, timeout=180):
    """The guest's disk that is the volume (its serial: the id's first 20 characters), once the guest sees it."""

    def look():
        return next(
            (name for name, (_size, serial) in guest_disks(lab, address).items() if serial == volume_id[:20]), None
        )

    return wait_until(f"the guest at {address} sees volume {volume_id}", look, timeout=timeout)


def write(lab, address, disk, offset, data):
    answer = lab.tcp(address, 9, f"write {disk} {offset} {base64.b64encode(data).decode()}\n").strip()
    assert answer.startswith(f"saltlab-write {disk} {offset} {len(data)} "), answer


def read(lab, address, disk, offset, length):
    answer = lab.tcp(address, 9, f"read {disk} {offset} {length}\n").strip().split(" ")
    assert answer[:4] == ["saltlab-read", disk, str(offset), str(length)], answer
    return base64.b64decode(answer[4]) if len(answer) > 4 else b""


def floating(lab, server):
    return lab.servers()[server]["floating"][0]


def attach(conn, server, volume):
    conn.compute.create_volume_attachment(conn.compute.find_server(server, ignore_missing=False), volume=volume)
    return conn.block_storage.wait_for_status(volume, "in-use", failures=["error", "error_attaching"], wait=300)


def detach(conn, server, volume):
    conn.compute.delete_volume_attachment(conn.compute.find_server(server, ignore_missing=False), volume)
    return conn.block_storage.wait_for_status(volume, "available", failures=["error", "error_detaching"], wait=300)


def new_volume(conn, label, **fields):
    volume = conn.block_storage.create_volume(name=f"e2e-{label}-{secrets.token_hex(3)}", size=1, **fields)
    return conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=300)


def detach_everywhere(conn, *volumes):
    """What a failed test left attached, detached (from the demo servers)."""
    for server in (DATA_SERVER, BOOT_SERVER):
        found = conn.compute.find_server(server)
        attached = {a.volume_id for a in conn.compute.volume_attachments(found)} if found else set()
        for volume in volumes:
            if volume is not None and volume.id in attached:
                detach(conn, server, volume)


def delete_volumes(conn, *volumes):
    for volume in volumes:
        if volume is not None:
            conn.block_storage.delete_volume(volume, ignore_missing=True)
    for volume in volumes:
        if volume is not None:
            conn.block_storage.wait_for_delete(volume, wait=300)


def test_ceph_is_healthy_with_one_osd_and_its_keys_private(lab):
    health = ceph(lab, "health detail")
    assert health["status"] == "HEALTH_OK", health
    status = ceph(lab, "status")
    assert status["quorum_names"] == ["storage"]
    assert (status["osdmap"]["num_osds"], status["osdmap"]["num_up_osds"], status["osdmap"]["num_in_osds"]) == (1, 1, 1)
    assert status["mgrmap"]["available"] is True
    pools = {pool["pool_name"]: pool for pool in ceph(lab, "osd pool ls detail")}
    assert pools["volumes"]["size"] == 1 and pools["volumes"]["application_metadata"] == {"rbd": {}}
    assert pools["volumes"]["quota_max_bytes"] > 0
    # the daemons on the management address
    assert "192.168.1.31:3300" in lab.ssh("storage", "ss -ltn").stdout
    # BlueStore on a file locally, which the OSD's directory holds
    assert lab.ssh("storage", "stat -c %F /var/lib/ceph/osd/ceph-0/block").stdout.strip() == "regular file"
    # no key readable by others: the keyrings, the daemons' directories
    keyrings = "/etc/ceph/*.keyring /var/lib/ceph/*/ceph-*/keyring /var/lib/ceph/tmp/*.keyring"
    modes = lab.ssh("storage", f"stat -c '%a %U:%G %n' {keyrings}").stdout.splitlines()
    assert len(modes) >= 5, modes
    assert [line for line in modes if not re.match(r"^[0-7][0-7]0 ", line)] == [], modes
    assert "client.cinder" in lab.ssh("compute1", "virsh secret-list").stdout


def test_the_volume_service_is_up_through_the_proxy(lab):
    listed = json.loads(
        lab.ssh("network", ". /root/admin-openrc && openstack volume service list -f json", timeout=120).stdout
    )
    services = {(s["Binary"], s["Host"]): (s["Status"], s["State"]) for s in listed}
    assert services == {
        ("cinder-scheduler", "controller"): ("enabled", "up"),
        ("cinder-volume", "storage@ceph"): ("enabled", "up"),
    }, listed
    endpoint = lab.ssh(
        "network",
        ". /root/admin-openrc && openstack endpoint list --service block-storage --interface public -f value -c URL",
    ).stdout.strip()
    assert endpoint == f"https://{proxy_address(lab)}:8776/v3", endpoint


def test_the_demo_guests_see_their_volumes(lab, cloud):
    conn = cloud("demo")
    data = conn.block_storage.find_volume(DATA_VOLUME, ignore_missing=False)
    assert data.status == "in-use" and data.attachments[0]["server_id"] == conn.compute.find_server(DATA_SERVER).id
    assert disk_of(lab, floating(lab, DATA_SERVER), data.id) == "vdb"
    assert guest_disks(lab, floating(lab, DATA_SERVER))["vdb"][0] == data.size * GIB
    # demo2 boots from its volume: no image, its root disk is the volume
    boot = conn.block_storage.find_volume(BOOT_VOLUME, ignore_missing=False)
    server = conn.compute.get_server(conn.compute.find_server(BOOT_SERVER, ignore_missing=False))
    assert not (server.image or {}).get("id") and boot.is_bootable and boot.status == "in-use"
    assert disk_of(lab, floating(lab, BOOT_SERVER), boot.id) == "vda"
    assert "disks=vda:" in lab.tcp(floating(lab, BOOT_SERVER), 8)


def test_a_volume_keeps_its_bytes_across_servers_and_in_its_snapshot(lab, cloud):
    conn = cloud("demo")
    data = secrets.token_bytes(65536)
    offset = 3 * MIB + 7
    volume = copy = snapshot = None
    try:
        volume = new_volume(conn, "bytes")
        attach(conn, DATA_SERVER, volume)
        disk = disk_of(lab, floating(lab, DATA_SERVER), volume.id)
        write(lab, floating(lab, DATA_SERVER), disk, offset, data)
        detach(conn, DATA_SERVER, volume)
        # the other server, on the other compute node
        attach(conn, BOOT_SERVER, volume)
        disk = disk_of(lab, floating(lab, BOOT_SERVER), volume.id)
        assert read(lab, floating(lab, BOOT_SERVER), disk, offset, len(data)) == data
        detach(conn, BOOT_SERVER, volume)
        # a snapshot (an RBD snapshot), and a volume made of it holds the same bytes
        snapshot = conn.block_storage.create_snapshot(volume_id=volume.id, name=f"{volume.name}-snap")
        snapshot = conn.block_storage.wait_for_status(snapshot, "available", failures=["error"], wait=300)
        copy = new_volume(conn, "copy", snapshot_id=snapshot.id)
        attach(conn, DATA_SERVER, copy)
        disk = disk_of(lab, floating(lab, DATA_SERVER), copy.id)
        assert read(lab, floating(lab, DATA_SERVER), disk, offset, len(data)) == data
        detach(conn, DATA_SERVER, copy)
        images = lab.ssh("storage", "rbd ls -l volumes --format json").stdout
        assert f"volume-{volume.id}" in images and f"volume-{copy.id}" in images
    finally:
        detach_everywhere(conn, volume, copy)
        delete_volumes(conn, copy)
        if snapshot is not None:
            conn.block_storage.delete_snapshot(snapshot, ignore_missing=True)
            conn.block_storage.wait_for_delete(snapshot, wait=300)
        delete_volumes(conn, volume)


def test_horizon_lists_the_demo_volume(lab, tmp_path_factory):
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415  (the e2e tests' own dependency)

    with horizon_as_demo(lab, tmp_path_factory.mktemp("chromium"), "horizon-demo-volumes.png") as (browser, base):
        browser.get(f"{base}/project/volumes/")
        WebDriverWait(browser, 120).until(lambda b: DATA_VOLUME in b.page_source)
        assert BOOT_VOLUME in browser.page_source and "In-use" in browser.page_source


def boot_time(lab, node):
    """When the node's init started (its own; the kernel's boot id is the host's)."""
    return lab.ssh(node, "cut -d' ' -f22 /proc/1/stat", check=False).stdout.strip()


def test_after_the_storage_node_reboots_volumes_still_attach(lab, cloud):
    before = boot_time(lab, "storage")
    lab.ssh("storage", "systemctl reboot", check=False)
    wait_until("the storage node back", lambda: boot_time(lab, "storage") not in ("", before), timeout=300, interval=5)
    # Ceph and cinder-volume come back by themselves, in that order
    wait_until(
        "Ceph healthy again", lambda: ceph(lab, "health detail")["status"] == "HEALTH_OK", timeout=300, interval=5
    )
    for unit in ("ceph-mon@storage", "ceph-mgr@storage", "ceph-osd@0", "cinder-volume"):
        assert lab.ssh("storage", f"systemctl is-active {unit}").stdout.strip() == "active", unit
    admin = cloud()

    def volume_up():
        return [s for s in admin.block_storage.services(binary="cinder-volume") if s.state == "up"]

    wait_until("cinder-volume up again", volume_up, timeout=300, interval=5)
    conn = cloud("demo")
    # the attached volume went on being readable once Ceph was back
    data = conn.block_storage.find_volume(DATA_VOLUME, ignore_missing=False)
    assert (
        len(read(lab, floating(lab, DATA_SERVER), disk_of(lab, floating(lab, DATA_SERVER), data.id), 0, 4096)) == 4096
    )
    # and a new one is made and attaches, its bytes written and read
    volume = None
    try:
        volume = new_volume(conn, "after-reboot")
        attach(conn, BOOT_SERVER, volume)
        disk = disk_of(lab, floating(lab, BOOT_SERVER), volume.id)
        payload = secrets.token_bytes(4096)
        write(lab, floating(lab, BOOT_SERVER), disk, MIB, payload)
        assert read(lab, floating(lab, BOOT_SERVER), disk, MIB, len(payload)) == payload
        detach(conn, BOOT_SERVER, volume)
    finally:
        detach_everywhere(conn, volume)
        delete_volumes(conn, volume)


@pytest.mark.parametrize(
    "pillar, key",
    [
        ({"saltlab": {"ceph": {"osd": {"size_gb": 4}}}}, "saltlab:ceph:osd:size_gb"),
        ({"saltlab": {"ceph": {"pools": {"volumes": {"quota_gb": 0}}}}}, "saltlab:ceph:pools:volumes:quota_gb"),
        ({"saltlab": {"cinder": {"backend": "lvm"}}}, "saltlab:cinder:backend"),
    ],
    ids=["osd-too-small", "no-quota", "unknown-backend"],
)
def test_bad_storage_pillar_stops_the_highstate_before_any_change(lab, pillar, key):
    assert_highstate_refused(lab, "storage", pillar, key)
