"""
Block storage rendered (``salt-call --local state.show_highstate``, never
applied): Ceph and cinder-volume on the storage node, each of Ceph's
manual steps guarded by what the cluster or the file system says; the
compute nodes' side of volumes (libvirt's secret, nova-compute's RBD
settings); Cinder on the controller; the demo's volumes; and bad storage
pillar stopping the render with a message naming the key.
"""

import json
import pathlib

import pytest
from test_highstate import CONTROLLER, arg, function

STORAGE = "192.168.1.31"
GIB = 2**30


def generated(secrets_dir):
    return json.loads((secrets_dir / "secrets.json").read_text())["saltlab"]["secrets"]


@pytest.fixture(scope="module")
def storage(make_minion, tmp_path_factory, secrets_dir):
    minion = make_minion(tmp_path_factory.mktemp("storage"), "storage", secrets_dir)
    return minion, minion.highstate()


@pytest.fixture(scope="module")
def compute(make_minion, tmp_path_factory, secrets_dir):
    minion = make_minion(tmp_path_factory.mktemp("compute"), "compute", secrets_dir)
    return minion, minion.highstate()


def requires(states, state_id):
    return arg(states, state_id, "require") or []


def test_ceph_is_made_step_by_step_each_step_guarded(storage, secrets_dir):
    _minion, states = storage
    values = generated(secrets_dir)
    # the monitor's store once: `done` is written last
    mkfs = arg(states, "ceph-mon-mkfs", "name")
    assert "ceph-mon --cluster ceph --mkfs -i storage" in mkfs and mkfs.endswith(
        "&& touch /var/lib/ceph/mon/ceph-storage/done"
    )
    assert arg(states, "ceph-mon-mkfs", "creates") == "/var/lib/ceph/mon/ceph-storage/done"
    assert {"file": "ceph-conf"} in requires(states, "ceph-mon-mkfs")
    # the cluster is asked: cephx entities, the OSD's id, the pools
    for state_id, name in (
        ("ceph-mgr-auth", "mgr.storage"),
        ("ceph-osd-auth", "osd.0"),
        ("ceph-client-cinder", "client.cinder"),
    ):
        assert function(states, state_id) == "ceph.auth_present"
        assert arg(states, state_id, "name") == name
        assert {"service": "ceph-mon-service"} in requires(states, state_id)
    assert arg(states, "ceph-client-cinder", "key") == values["ceph_cinder_key"]
    assert arg(states, "ceph-client-cinder", "caps") == {
        "mon": "profile rbd",
        "osd": "profile rbd pool=volumes",
        "mgr": "profile rbd pool=volumes",
    }
    assert function(states, "ceph-osd-id") == "ceph.osd_present"
    assert (arg(states, "ceph-osd-id", "name"), arg(states, "ceph-osd-id", "uuid")) == ("0", values["ceph_osd_uuid"])
    # BlueStore once, after the OSD's id and key
    assert arg(states, "ceph-osd-mkfs", "creates") == "/var/lib/ceph/osd/ceph-0/ready"
    assert f"--mkfs --osd-uuid {values['ceph_osd_uuid']}" in arg(states, "ceph-osd-mkfs", "name")
    assert {"ceph": "ceph-osd-id"} in requires(states, "ceph-osd-mkfs")
    assert {"ceph": "ceph-osd-auth"} in requires(states, "ceph-osd-mkfs")
    assert "ceph-osd-block" not in states  # a file here, no data disk
    assert function(states, "ceph-pool-volumes") == "ceph.pool_present"
    assert {key: arg(states, "ceph-pool-volumes", key) for key in ("size", "quota_gb", "application")} == {
        "size": 1,
        "quota_gb": 6,
        "application": "rbd",
    }
    assert requires(states, "ceph-pool-volumes") == [{"service": "ceph-osd-service"}]
    # the daemons start with the node, after its management address
    for daemon, unit in (("mon", "ceph-mon@storage"), ("mgr", "ceph-mgr@storage"), ("osd", "ceph-osd@0")):
        assert arg(states, f"ceph-{daemon}-service", "name") == unit
        assert arg(states, f"ceph-{daemon}-service", "enable") is True
        assert f"After=saltlab-address@{STORAGE}.service" in arg(states, f"ceph-{daemon}-after-address", "contents")
        assert {"file": f"ceph-{daemon}-after-address"} in arg(states, f"ceph-{daemon}-service", "watch")
    # what the packages start that the lab has no use for
    for service in ("nvmf-autoconnect", "ceph-crash"):
        assert function(states, f"ceph-unused-{service}") == "service.dead"
        assert arg(states, f"ceph-unused-{service}", "enable") is False
    # the manager's modules load past Debian's bcrypt
    assert "Environment=PYTHONPATH=/usr/local/lib/saltlab/ceph-mgr" in arg(states, "ceph-mgr-environment", "contents")
    assert arg(states, "ceph-mgr-bcrypt-standin", "name") == "/usr/local/lib/saltlab/ceph-mgr/bcrypt.py"
    assert arg(states, "ceph-pkgs", "install_recommends") is False


def test_ceph_conf_and_keys_only_root_and_ceph_read(storage, secrets_dir):
    minion, states = storage
    values = generated(secrets_dir)
    conf = minion.template("ceph/files/ceph.conf.jinja").splitlines()
    for line in (
        f"fsid = {values['ceph_fsid']}",
        f"mon_host = [v2:{STORAGE}:3300,v1:{STORAGE}:6789]",
        "public_network = 192.168.1.0/24",
        "osd_pool_default_size = 1",
        "mon_allow_pool_size_one = true",
        "mon_warn_on_pool_no_redundancy = false",
        "auth_allow_insecure_global_id_reclaim = false",
        f"bluestore_block_size = {10 * GIB}",
        "osd_memory_target = 939524096",
        "mon_memory_target = 268435456",
        "mgr_initial_modules =",
    ):
        assert line in conf, line
    class_dir = next(line for line in conf if line.startswith("osd_class_dir = "))
    assert class_dir.split(" = ")[1].startswith("/usr/lib/")
    assert arg(states, "ceph-conf", "mode") == "0644"
    keyrings = {
        "ceph-admin-keyring": ("/etc/ceph/ceph.client.admin.keyring", "root", "0600", "ceph_admin_key"),
        "ceph-mon-keyring": ("/var/lib/ceph/tmp/ceph.mon.keyring", "ceph", "0600", "ceph_mon_key"),
        "ceph-mgr-keyring": ("/var/lib/ceph/mgr/ceph-storage/keyring", "ceph", "0600", "ceph_mgr_key"),
        "ceph-osd-keyring": ("/var/lib/ceph/osd/ceph-0/keyring", "ceph", "0600", "ceph_osd_key"),
        "cinder-volume-ceph-keyring": ("/etc/ceph/ceph.client.cinder.keyring", "root", "0640", "ceph_cinder_key"),
    }
    for state_id, (path, user, mode, secret) in keyrings.items():
        assert (arg(states, state_id, "name"), arg(states, state_id, "user"), arg(states, state_id, "mode")) == (
            path,
            user,
            mode,
        )
        assert f"\tkey = {values[secret]}\n" in arg(states, state_id, "contents"), state_id
        assert arg(states, state_id, "show_changes") is False
    assert arg(states, "cinder-volume-ceph-keyring", "group") == "cinder"
    # the monitor's store starts with client.admin's key and caps
    assert "[client.admin]\n\tkey = " in arg(states, "ceph-mon-keyring", "contents")


def test_cinder_volume_waits_for_the_scheduler_and_for_ceph(storage):
    minion, states = storage
    assert function(states, "cinder-volume-scheduler-up") == "ready.volume_service"
    assert arg(states, "cinder-volume-scheduler-up", "name") == "cinder-scheduler"
    assert arg(states, "cinder-volume-scheduler-up", "cloud") == "saltlab-cinder"
    assert arg(states, "cinder-volume-scheduler-up", "timeout") >= 900
    assert arg(states, "cinder-volume-clouds-yaml", "mode") == "0600"
    assert {"ready": "cinder-volume-scheduler-up"} in requires(states, "cinder-volume-service")
    assert {"ceph": "ceph-pool-volumes"} in requires(states, "cinder-volume-service")
    assert {"ceph": "ceph-client-cinder"} in requires(states, "cinder-volume-service")
    after = arg(states, "cinder-volume-after-ceph", "contents")
    assert "After=ceph-mon@storage.service ceph-osd@0.service" in after
    # an iSCSI initiator for the package's dependency, not tgt's target daemon
    assert "open-iscsi" in arg(states, "cinder-volume-pkgs", "pkgs")
    conf = minion.template("cinder/files/cinder.conf.jinja").splitlines()
    for line in (
        "enabled_backends = ceph",
        "[ceph]",
        "volume_driver = cinder.volume.drivers.rbd.RBDDriver",
        "rbd_pool = volumes",
        "rbd_user = cinder",
        "rbd_secret_uuid = 2f64a1ab-6c0b-4d4e-9d2c-1a0e6c5b7f31",
        "my_ip = 192.168.1.31",
    ):
        assert line in conf, line
    connection = next(line for line in conf if line.startswith("connection = "))
    assert connection.startswith("connection = mysql+pymysql://cinder:")
    assert connection.endswith(f"@{CONTROLLER}/cinder")
    assert "[keystone_authtoken]" not in conf


def test_compute_nodes_keep_the_rbd_users_key_in_libvirt(compute, secrets_dir):
    minion, states = compute
    assert function(states, "nova-compute-rbd-secret") == "libvirt_secret.present"
    assert arg(states, "nova-compute-rbd-secret", "name") == "2f64a1ab-6c0b-4d4e-9d2c-1a0e6c5b7f31"
    assert arg(states, "nova-compute-rbd-secret", "usage") == "client.cinder secret"
    assert arg(states, "nova-compute-rbd-secret", "value") == generated(secrets_dir)["ceph_cinder_key"]
    assert requires(states, "nova-compute-rbd-secret") == [{"service": "nova-compute-libvirt"}]
    assert "qemu-block-extra" in arg(states, "nova-compute-pkgs", "pkgs")
    hypervisor = minion.template("nova/files/nova-compute.conf.jinja").splitlines()
    assert {"rbd_user = cinder", "rbd_secret_uuid = 2f64a1ab-6c0b-4d4e-9d2c-1a0e6c5b7f31"} <= set(hypervisor)
    nova = minion.template("nova/files/nova.conf.jinja").splitlines()
    assert "catalog_info = block-storage:cinder:internalURL" in nova
    assert "os_region_name = RegionOne" in nova
    # no other of Ceph's keys, no Ceph daemon
    assert not [state_id for state_id in states if state_id.startswith(("ceph-", "cinder-"))]


def test_the_controller_runs_cinder_and_nova_may_delete_its_attachments(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "controller", secrets_dir)
    states = minion.highstate()
    assert arg(states, "cinder-pkgs", "pkgs") == ["cinder-api", "cinder-scheduler"]
    assert function(states, "cinder-keystone-service") == "openstack.service_present"
    assert arg(states, "cinder-keystone-service", "type") == "block-storage"
    assert arg(states, "nova-keystone-service-role", "name") == "service"
    conf = minion.template("cinder/files/cinder.conf.jinja").splitlines()
    assert {"service_token_roles = service", "service_token_roles_required = true"} <= set(conf)
    assert "enabled_backends = ceph" not in conf and "[ceph]" not in conf
    horizon = minion.template("horizon/files/local_settings.py.jinja")
    assert "create_volume=False" in horizon
    assert not [state_id for state_id in states if state_id.startswith("ceph-")]


def test_the_demo_boots_demo2_from_a_volume_and_attaches_one_to_demo1(make_minion, tmp_path, secrets_dir):
    states = make_minion(tmp_path, "controller", secrets_dir).call("state.show_sls", "demo")
    assert function(states, "demo-boot-volume") == "openstack.volume_present"
    assert (arg(states, "demo-boot-volume", "image"), arg(states, "demo-boot-volume", "size")) == ("saltlab-test", 1)
    assert arg(states, "demo-server-demo2", "boot_volume") == "demo2-boot"
    assert arg(states, "demo-server-demo2", "image") is None
    assert {"openstack": "demo-boot-volume"} in requires(states, "demo-server-demo2")
    assert arg(states, "demo-server-demo1", "image") == "saltlab-test"
    assert function(states, "demo-data-volume-attached") == "openstack.volume_attached"
    assert arg(states, "demo-data-volume-attached", "server") == "demo1"
    assert {"openstack": "demo-server-demo1"} in requires(states, "demo-data-volume-attached")


@pytest.mark.parametrize("lab", ["core", "keystone"])
def test_a_lab_without_cinder_leaves_the_storage_node_alone(make_minion, tmp_path, secrets_dir, lab):
    minion = make_minion(tmp_path, "storage", secrets_dir)
    (tmp_path / "pillar" / "lab.sls").write_text(f"include:\n  - labs.{lab}\n")
    states = minion.highstate()
    assert not [state_id for state_id in states if state_id.startswith(("ceph-", "cinder-"))]


def test_the_storage_lab_runs_cinder_without_compute(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "controller", secrets_dir)
    (tmp_path / "pillar" / "lab.sls").write_text("include:\n  - labs.storage\n")
    states = minion.highstate()
    assert "cinder-service-cinder-scheduler" in states and "nova-service-nova-api" not in states
    # nothing for Nova to be told of
    assert "[nova]" not in minion.template("cinder/files/cinder.conf.jinja").splitlines()


def a_block_device():
    """A block device of this machine with a size (its /dev path), or None."""
    for device in sorted(pathlib.Path("/sys/block").iterdir()):
        size = int((device / "size").read_text()) * 512
        if (
            not device.name.startswith(("loop", "ram", "zram"))
            and size
            and pathlib.Path(f"/dev/{device.name}").exists()
        ):
            return f"/dev/{device.name}", size
    return None


def test_the_data_disk_is_the_osds_device_where_the_profile_says_there_is_one(make_minion, tmp_path, secrets_dir):
    found = a_block_device()
    if found is None:
        pytest.skip("this machine has no block device to stand in for the data disk")
    device, size = found
    if size < 10 * GIB:
        pytest.skip(f"{device} is too small to stand in for the data disk")
    # the data_disk grain, as the gce storage profile sets it
    minion = make_minion(tmp_path, "storage", secrets_dir, grains={"data_disk": device})
    states = minion.highstate()
    assert arg(states, "ceph-osd-block", "name") == "/var/lib/ceph/osd/ceph-0/block"
    assert arg(states, "ceph-osd-block", "target") == device
    assert {"file": "ceph-osd-block"} in requires(states, "ceph-osd-mkfs")
    assert arg(states, "ceph-osd-mkfs", "name").startswith(f"chown ceph:ceph {device} && ceph-osd ")
    owner = arg(states, "ceph-osd-device-owner", "contents")
    assert f"ExecStartPre=+/bin/chown ceph:ceph {device}" in owner
    assert f"After={device.strip('/').replace('-', chr(92) + 'x2d').replace('/', '-')}.device" in owner
    conf = minion.template("ceph/files/ceph.conf.jinja").splitlines()
    assert "bluestore_block_create = false" in conf and not [line for line in conf if "bluestore_block_size" in line]


def test_the_gce_storage_profiles_data_disk_is_the_one_its_driver_attaches():
    import yaml  # pylint: disable=import-outside-toplevel

    profiles = yaml.safe_load(
        (pathlib.Path(__file__).resolve().parents[2] / "cloud.profiles.d" / "gce.conf").read_text()
    )
    storage = profiles["gce-storage"]
    assert storage["extra_disk_gb"] >= 10
    # Compute Engine names an attached disk /dev/disk/by-id/google-<its device name>; the driver's is "data"
    assert storage["grains"]["data_disk"] == "/dev/disk/by-id/google-data"
    repo = pathlib.Path(__file__).resolve().parents[2]
    drivers = [repo / "_clouds" / "gce.py", *sorted((repo / "_utils").glob("gce_*.py"))]
    assert any('device_name="data"' in path.read_text() for path in drivers if path.exists())


@pytest.mark.parametrize(
    "grains, override, message",
    [
        (
            None,
            {"ceph": {"osd": {"size_gb": 4}}},
            "pillar saltlab:ceph:osd:size_gb gives an OSD of 4.0 GiB, too small for the pools: their quotas"
            " (saltlab:ceph:pools:*:quota_gb) add up to 6 GiB",
        ),
        (
            None,
            {"ceph": {"pools": {"volumes": {"quota_gb": 20}}}},
            "the OSD needs at least 25 GiB, or the pools smaller quotas",
        ),
        (
            None,
            {"ceph": {"pools": {"volumes": {"quota_gb": 0}}}},
            "pillar saltlab:ceph:pools:volumes:quota_gb must be at least 1 (GiB), got 0",
        ),
        (None, {"ceph": {"pools": {"images": {"quota_gb": 2}}}}, "pillar saltlab:ceph:pools:images is not a setting"),
        (None, {"cinder": {"backend": "lvm"}}, "pillar saltlab:cinder:backend must be one of rbd, got 'lvm'"),
        (None, {"cinder": {"rbd": {"pool": "images"}}}, "pillar saltlab:cinder:rbd:pool images is no Ceph pool"),
        (
            {"data_disk": "/dev/disk/by-id/google-nothing"},
            {},
            "the data_disk grain (the node's salt-cloud profile) names /dev/disk/by-id/google-nothing,"
            " which is no block device of storage",
        ),
    ],
    ids=[
        "osd-too-small",
        "quota-too-large",
        "no-quota",
        "unknown-pool",
        "unknown-backend",
        "unknown-rbd-pool",
        "no-disk",
    ],
)
def test_bad_storage_pillar_stops_the_render_naming_the_key(
    make_minion, tmp_path, secrets_dir, grains, override, message
):
    errors = make_minion(tmp_path, "storage", secrets_dir, grains=grains).render_errors({"saltlab": override})
    assert all(message in error for error in errors), errors
