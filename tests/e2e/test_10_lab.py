"""
The local lab as the README makes it (`make lab`: the full lab, one
highstate on every node at once, from the `lab` fixture), then: a second
highstate changes nothing; the master drives every node; the external
bridge, names, time and the package cache; the control plane through the
TLS proxy to a real OpenStack client on this machine; secrets and ports
only where they are needed; bad pillar stops a highstate before it
changes anything; SSH checks the host keys recorded at creation.
"""

import re
import secrets
import socket
import ssl
import subprocess
import time

import pytest
from labcheck import (
    MINIONS,
    assert_highstate_refused,
    changed_states,
    failed_states,
    ping_over_the_external_bridge,
    proxy_address,
    wait_until,
)

pytestmark = pytest.mark.e2e


def test_make_lab_converges_in_its_one_highstate(lab):
    log = lab.made["log"]
    assert lab.made["returncode"] == 0, log[-5000:]
    for minion in MINIONS:
        assert re.search(rf"^\[{minion}\] done: \d+ states, \d+ changed, 0 failed, ", log, re.M), minion
    assert f"{len(MINIONS)} of {len(MINIONS)} returned, 0 with failures" in log
    assert "Lab is up." in log
    print(f"make lab: {lab.made['seconds']:.0f} s")


def test_map_creates_every_node_and_the_master_drives_them(lab):
    assert sorted(lab.nodes()) == MINIONS
    assert all(record["state"] == "running" for record in lab.nodes().values())
    answered = lab.wait_for_minions(MINIONS)
    assert sorted(answered) == MINIONS
    keys = lab.ssh(lab.master, "salt-key --list=unaccepted --out=json").stdout
    assert '"minions_pre": []' in keys, "minion keys must be pre-seeded, never left pending"
    # the keysize of ./cloud: a minion loads its key for every state event it signs
    bits = lab.ssh("controller", "openssl pkey -in /etc/salt/pki/minion/minion.pem -noout -text | head -1").stdout
    assert "(2048 bit" in bits, bits


def test_nodes_without_public_address_are_only_reachable_through_the_bastion(lab):
    record = lab.nodes()["compute1"]
    assert record["public_ips"] == []
    probe = subprocess.run(
        ["timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{record['addresses']['mgmt']}/22"],
        capture_output=True,
        check=False,
    )
    assert probe.returncode != 0, "the host must not route to the management network"
    assert lab.ssh("compute1", "hostname").stdout.strip() == "compute1"


def test_second_highstate_changes_nothing(lab):
    returns = lab.highstate()
    assert failed_states(returns) == []
    assert changed_states(returns) == []


def test_the_external_bridge_is_a_star_around_the_network_node(lab):
    def ports(node):
        return sorted(lab.ssh(node, "ovs-vsctl list-ports br-ext").stdout.split())

    assert ports("network") == ["ext-to-phys", "vx-compute1", "vx-compute2"]
    assert ports("compute1") == ["ext-to-phys", "vx-network"]
    underlay = lab.nodes()["network"]["addresses"]["underlay"]
    assert f'remote_ip="{underlay}"' in lab.ssh("compute1", "ovs-vsctl get interface vx-network options").stdout
    # the network node is the external network's gateway, NATed out of its public NIC
    assert "inet 172.16.0.1/24" in lab.ssh(lab.master, "ip -4 addr show br-ext").stdout
    assert "masquerade" in lab.ssh(lab.master, "nft list table ip saltlab_external").stdout


def test_the_external_bridge_carries_the_physnet_mtu_and_no_more(lab):
    # 1410 bytes: the underlay's 1460 less VXLAN's 50
    for node in ("compute1", "compute2"):
        proc = ping_over_the_external_bridge(lab, node, 1410 - 28)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # one byte more does not fit the underlay once wrapped in VXLAN
    assert ping_over_the_external_bridge(lab, "compute1", 1411 - 28).returncode != 0


def test_hosts_file_names_every_node(lab):
    hosts = lab.ssh("storage", "getent hosts controller network compute1 compute2 storage").stdout
    for node in MINIONS:
        assert re.search(rf"^{re.escape(lab.nodes()[node]['addresses']['mgmt'])}\s+.*\b{node}\b", hosts, re.M), hosts


def test_chrony_tracks_the_controller(lab):
    controller = lab.nodes()["controller"]["addresses"]["mgmt"]
    for node in ("network", "compute1", "compute2", "storage"):
        deadline = time.monotonic() + 120
        while True:
            sources = lab.ssh(node, "chronyc -n sources", check=False).stdout
            if re.search(rf"^\^\*\s+{re.escape(controller)}\b", sources, re.M):
                break
            assert time.monotonic() < deadline, f"{node} does not track {controller}:\n{sources}"
            time.sleep(5)
    assert "Reference ID" in lab.ssh("controller", "chronyc tracking").stdout


def test_the_nodes_network_service_stays_enabled(lab):
    # the role layers disable only what their packages enable: the compute
    # formula's state that reloads systemd-networkd once disabled it in the
    # compute layer, and compute nodes booted without a network
    for node in sorted(lab.nodes()):
        assert lab.ssh(node, "systemctl is-enabled systemd-networkd").stdout.strip() == "enabled", node


def test_apt_on_compute_goes_through_the_controller_cache(lab):
    log = "/var/log/apt-cacher-ng/apt-cacher.log"
    compute1 = lab.nodes()["compute1"]["addresses"]["mgmt"]

    def served_to_compute1():
        text = lab.ssh("controller", f"cat {log}", check=False).stdout
        return sum(1 for line in text.splitlines() if f"|{compute1}|" in line)

    before = served_to_compute1()
    # every index fetched, from the mirror through the cache: apt-get
    # update exits 0 with a warning when one is not, and the host's NAT to
    # the mirror once went with the node that booted last
    lab.ssh("compute1", "rm -rf /var/lib/apt/lists/* && apt-get update -o APT::Update::Error-Mode=any", timeout=600)
    assert served_to_compute1() > before


def test_token_through_the_proxy(lab, cloud):
    for who in ("admin", "demo"):
        conn = cloud(who)
        assert conn.authorize()
        assert conn.session.verify.endswith("lab-ca.crt")


def test_catalog_lists_every_service_at_the_proxy(lab, cloud):
    conn = cloud()
    conn.authorize()
    catalog = conn.session.auth.get_access(conn.session).service_catalog.catalog
    assert sorted(entry["type"] for entry in catalog) == [
        "block-storage",
        "compute",
        "identity",
        "image",
        "network",
        "placement",
    ]
    urls = [endpoint["url"] for entry in catalog for endpoint in entry["endpoints"]]
    assert len(urls) == 18
    assert [u for u in urls if not u.startswith(f"https://{proxy_address(lab)}:")] == []
    # version documents are rewritten too
    versions = conn.session.get(f"https://{proxy_address(lab)}:5000/v3").json()
    assert versions["version"]["links"][0]["href"].startswith(f"https://{proxy_address(lab)}:5000/")


def test_image_round_trip_is_byte_identical(cloud):
    conn = cloud("demo")
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)
    image = conn.image.create_image(
        name=f"e2e-{secrets.token_hex(4)}",
        data=data,
        disk_format="raw",
        container_format="bare",
    )
    try:
        assert conn.image.get_image(image).status == "active"
        assert conn.image.download_image(image).content == data
    finally:
        conn.image.delete_image(image)


def test_compute_controller_services_are_up(cloud):
    services = {s.binary: s for s in cloud().compute.services()}
    for binary in ("nova-conductor", "nova-scheduler"):
        assert services[binary].state == "up" and services[binary].status == "enabled", services


def test_compute_nodes_and_network_agents_are_up(cloud):
    conn = cloud()

    def computes_up():
        up = {s.host for s in conn.compute.services() if s.binary == "nova-compute" and s.state == "up"}
        return up if up == {"compute1", "compute2"} else None

    wait_until("nova-compute up on both compute nodes", computes_up)
    # mapped to cell1 and in placement, by the scheduler's periodic host discovery
    wait_until(
        "both compute nodes in placement",
        lambda: {rp.name for rp in conn.placement.resource_providers()} == {"compute1", "compute2"},
    )
    wanted = {
        ("Open vSwitch agent", "network"),
        ("Open vSwitch agent", "compute1"),
        ("Open vSwitch agent", "compute2"),
        ("L3 agent", "network"),
        ("DHCP agent", "network"),
        ("Metadata agent", "network"),
    }
    wait_until(
        "every Neutron agent alive",
        lambda: {(a.agent_type, a.host) for a in conn.network.agents() if a.is_alive} == wanted,
    )
    assert conn.network.find_extension("router")


def test_placement_answers_with_both_compute_nodes(cloud):
    conn = cloud()
    root = conn.session.get("/", endpoint_filter={"service_type": "placement"}).json()
    assert root["versions"][0]["status"] == "CURRENT"
    providers = {rp.name: rp for rp in conn.placement.resource_providers()}
    assert sorted(providers) == ["compute1", "compute2"]
    inventory = {i.resource_class: i.total for i in conn.placement.resource_provider_inventories(providers["compute1"])}
    assert inventory["VCPU"] >= 1 and inventory["MEMORY_MB"] > 0


def test_libvirt_virt_type_follows_the_kvm_check(lab):
    decided, code = lab.salt("compute1", "kvm.check")
    assert code == 0
    expected = "kvm" if decided["compute1"]["usable"] else "qemu"
    configured = lab.ssh("compute1", "sed -n 's/^virt_type = //p' /etc/nova/nova-compute.conf").stdout.strip()
    assert configured == expected, decided


def test_public_nic_of_the_network_node_opens_only_the_proxy_and_ssh(lab):
    def connects(port):
        try:
            socket.create_connection((proxy_address(lab), port), timeout=3).close()
            return True
        except OSError:
            return False

    assert all(connects(port) for port in (22, 443, 5000, 6080, 8774, 8776, 8778, 9292, 9696))
    # the salt master listens on every address; outside it is not reachable
    assert not connects(4506)


def test_openrc_on_the_network_node(lab):
    for who in ("admin", "demo"):
        mode = lab.ssh(lab.master, f"stat -c %a /root/{who}-openrc").stdout.strip()
        assert mode == "600"
        token = lab.ssh(lab.master, f". /root/{who}-openrc && openstack token issue -f value -c id").stdout
        assert token.strip()


@pytest.mark.parametrize(
    "pillar, key",
    [
        ({"saltlab": {"services": ["keystone", "glance", "swift"]}}, "saltlab:services"),
        ({"saltlab": {"secrets": {"glance_db": ""}}}, "saltlab:secrets:glance_db"),
        ({"saltlab": {"networks": {"mgmt": {"cidr": "192.168.1.0/33"}}}}, "saltlab:networks:mgmt:cidr"),
        ({"saltlab": {"apt": {"cache": {"port": "notaport"}}}}, "saltlab:apt:cache:port"),
        ({"saltlab": {"networks": {"mgmt": {"mtu": "abc"}}}}, "saltlab:networks:mgmt:mtu"),
        ({"saltlab": {"networks": {"underlay": {"cidr": "192.168.1.0/24"}}}}, "saltlab:networks:underlay:cidr"),
    ],
    ids=["unknown-service", "missing-secret", "malformed-cidr", "port", "mtu", "overlap"],
)
def test_bad_pillar_stops_the_highstate_before_any_change(lab, pillar, key):
    assert_highstate_refused(lab, "controller", pillar, key)


def test_ssh_checks_the_host_keys_recorded_when_the_nodes_were_made(lab):
    known = (lab.repo / "var/ssh/known_hosts").read_text()
    for node in MINIONS:
        assert f" saltlab:{node}\n" in known
    # a node that shows another key than the one recorded is refused: storage
    # recorded with compute1's keys
    stored = (lab.repo / "var/ssh/known_hosts").read_text()
    lines = stored.splitlines()
    hosts = next(line for line in lines if line.endswith(" saltlab:storage")).split()[0]
    forged = [
        f"{hosts} {' '.join(line.split()[1:3])} saltlab:storage" for line in lines if line.endswith(" saltlab:compute1")
    ]
    try:
        kept = [line for line in lines if not line.endswith(" saltlab:storage")]
        (lab.repo / "var/ssh/known_hosts").write_text("\n".join(kept + forged) + "\n")
        refused = lab.ssh("storage", "true", check=False)
    finally:
        (lab.repo / "var/ssh/known_hosts").write_text(stored)
    assert refused.returncode != 0
    assert lab.ssh("storage", "hostname").stdout.strip() == "storage"


def test_each_node_has_only_its_roles_secrets(lab):
    def secrets_of(node):
        returns, code = lab.salt(node, "pillar.items")
        assert code == 0
        return returns[node]["saltlab"]["secrets"]

    compute = secrets_of("compute1")
    assert "mariadb_root" not in compute and "keystone_admin" not in compute and "nova_db" not in compute
    assert {"nova_service", "neutron_service", "placement_service", "rabbitmq_openstack"} <= set(compute)
    assert "mariadb_root" in secrets_of("controller")
    assert set(secrets_of("storage")) <= {"rabbitmq_openstack", "cinder_db", "cinder_service"} | {
        s for s in secrets_of("storage") if s.startswith("ceph")
    }


def connects(address, port):
    try:
        socket.create_connection((address, port), timeout=3).close()
        return True
    except OSError:
        return False


def test_the_controller_public_nic_lets_in_only_ssh_and_icmp(lab):
    public = lab.nodes()["controller"]["public_ips"][0]
    assert connects(public, 22)
    assert subprocess.run(["ping", "-c", "1", "-W", "3", public], capture_output=True, check=False).returncode == 0
    # the APIs, Horizon, the databases and the queue listen on the management address only
    assert not any(connects(public, port) for port in (80, 3306, 4369, 5000, 5672, 6080, 8774, 9292, 9696, 11211))
    listening = lab.ssh("controller", "ss -Hltn | awk '{print $4}'").stdout.split()
    controller = lab.nodes()["controller"]["addresses"]["mgmt"]
    for port in (80, 3306, 5000, 5672, 6080, 8774, 8775, 8776, 8778, 9292, 9696, 11211):
        assert [a for a in listening if a.endswith(f":{port}")] == [f"{controller}:{port}"], port


def test_the_master_listens_on_its_management_address(lab):
    listening = lab.ssh(lab.master, "ss -Hltn | awk '{print $4}'").stdout.split()
    master = lab.nodes()[lab.master]["addresses"]["mgmt"]
    for port in (4505, 4506):
        assert [a for a in listening if a.endswith(f":{port}")] == [f"{master}:{port}"]


def handshake(address, version):
    """The TLS version the proxy agrees to when offered up to `version` (None: refused)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = version
    try:
        with context.wrap_socket(socket.create_connection((address, 5000), timeout=10)) as conn:
            return conn.version()
    except ssl.SSLError as exc:
        return exc.reason


def test_the_proxy_offers_tls_1_2_and_1_3_only(lab):
    address = proxy_address(lab)
    assert handshake(address, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    assert handshake(address, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    # offered 1.1 at most, the proxy refuses (the reason is its alert)
    assert handshake(address, ssl.TLSVersion.TLSv1_1) in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL")


def test_the_operator_key_on_a_node_survives_the_highstate(lab):
    operator = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyOfTheGuestAgentXXXXXXXXXXXXXXX operator"
    lab.ssh("storage", f"echo '{operator}' >> /home/stack/.ssh/authorized_keys")
    states, code = lab.apply("storage", "users")
    assert code == 0 and changed_states({"storage": states["storage"]}) == []
    assert operator in lab.ssh("storage", "cat /home/stack/.ssh/authorized_keys").stdout
