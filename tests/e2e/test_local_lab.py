"""
End to end on the local provider: the README's map comes up, the master on
the network node drives every node, the highstate converges (first with the
`core` lab, then switching to `full` changes only what full adds) and
re-runs clean, the control plane answers through the TLS proxy to a real
OpenStack client on this machine, the demo boots a server on each compute
node that answers on its floating IP and reaches the other over the tenant
network, bad pillar stops a highstate before it changes anything, a compute
node rebooted from inside brings its server back, and destroying the map
leaves this machine as it was.

The tests run in file order and share one lab (the `lab` fixture); the last
one destroys it, and the fixture destroys it anyway if a test failed first.
"""

import base64
import hashlib
import json
import os
import pathlib
import re
import secrets
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest
import requests

from lab import Lab, host_leftovers

MAP = "maps/local.yaml"
MINIONS = ["compute1", "compute2", "controller", "network", "storage"]
# screenshots and the like, kept after the run
ARTEFACTS = pathlib.Path(__file__).resolve().parents[2] / "var" / "artefacts"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab():
    lab = Lab().start()
    try:
        lab.cloud("-m", MAP, "-y", "-P", timeout=1800, capture=False)
        yield lab
    finally:
        lab.cloud("-m", MAP, "-d", "-y", check=False, timeout=600)


def failed_states(returns):
    failures = []
    for minion, states in returns.items():
        failures += [
            f"{minion}: {s.get('__id__')}: {s.get('comment')}" if isinstance(s, dict) else f"{minion}: {s}"
            for s in states
            if not isinstance(s, dict) or not s.get("result")
        ]
    return failures


def test_map_creates_every_node_and_the_master_drives_them(lab):
    assert sorted(lab.nodes()) == MINIONS
    assert all(record["state"] == "running" for record in lab.nodes().values())
    answered = lab.wait_for_minions(MINIONS)
    assert sorted(answered) == MINIONS
    keys = lab.ssh("network", "salt-key --list=unaccepted --out=json").stdout
    assert '"minions_pre": []' in keys, "minion keys must be pre-seeded, never left pending"


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


def changed_states(returns):
    return [
        f"{minion}: {s.get('__sls__')}: {s.get('__id__')}"
        for minion, states in returns.items()
        for s in states
        if isinstance(s, dict) and s.get("changes")
    ]


def test_first_highstate_succeeds_everywhere(lab):
    lab.select_lab("core")
    returns = lab.highstate()
    assert sorted(returns) == MINIONS
    assert failed_states(returns) == []


def test_switching_to_a_larger_lab_changes_only_what_it_adds(lab):
    lab.run([lab.repo / "tools/push"])  # the checkout's lab: full
    returns = lab.highstate()
    assert failed_states(returns) == []
    # full adds nova, neutron, cinder and horizon, and their ports to the
    # proxy; the Neutron agents on the network and compute nodes,
    # nova-compute (with libvirt's secret for Cinder's volumes); Ceph and
    # cinder-volume on the storage node
    added = re.compile(
        r"^controller: (nova|neutron|cinder|horizon)[.:]|^network: proxy\.(config|service|firewall): "
        r"|^(network|compute\d|storage): (neutron\.agents|openstack\.debconf)[.:]|^compute\d: nova\.compute\."
        r"|^storage: (ceph|cinder\.volume|addresswait)[.:]"
    )
    changed = changed_states(returns)
    assert [c for c in changed if not added.search(c)] == []
    for prefix in (
        "controller: nova",
        "controller: neutron",
        "controller: horizon",
        "controller: cinder",
        "network: neutron.agents.",
        "compute1: neutron.agents.",
        "compute2: nova.compute.",
        "storage: ceph.",
        "storage: cinder.volume.",
    ):
        assert any(c.startswith(prefix) for c in changed), prefix


def test_second_highstate_changes_nothing(lab):
    returns = lab.highstate()
    assert failed_states(returns) == []
    assert changed_states(returns) == []


def ping_over_the_external_bridge(lab, node, payload):
    """
    Ping the external network's gateway (the network node) from a port of
    `node`'s br-ext that stands in for a server on physnet, with DF set and
    `payload` bytes of ICMP data (IP packet: payload + 28). The port's own
    MTU is 1500: only the way over the underlay can refuse a packet.
    """
    probe = "probe"
    lab.ssh(
        node,
        f"ovs-vsctl add-port br-ext {probe} -- set interface {probe} type=internal"
        f" && ip addr add 172.16.0.201/24 dev {probe} && ip link set {probe} mtu 1500 up",
    )
    try:
        return lab.ssh(node, f"ping -c 2 -W 5 -M do -s {payload} -I {probe} 172.16.0.1", check=False)
    finally:
        lab.ssh(node, f"ovs-vsctl --if-exists del-port br-ext {probe}", check=False)


def test_the_external_bridge_is_a_star_around_the_network_node(lab):
    def ports(node):
        return sorted(lab.ssh(node, "ovs-vsctl list-ports br-ext").stdout.split())

    assert ports("network") == ["ext-to-phys", "vx-compute1", "vx-compute2"]
    assert ports("compute1") == ["ext-to-phys", "vx-network"]
    underlay = lab.nodes()["network"]["addresses"]["underlay"]
    assert f'remote_ip="{underlay}"' in lab.ssh("compute1", "ovs-vsctl get interface vx-network options").stdout
    # the network node is the external network's gateway, NATed out of its public NIC
    assert "inet 172.16.0.1/24" in lab.ssh("network", "ip -4 addr show br-ext").stdout
    assert "masquerade" in lab.ssh("network", "nft list table ip saltlab_external").stdout


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


def test_apt_on_compute_goes_through_the_controller_cache(lab):
    log = "/var/log/apt-cacher-ng/apt-cacher.log"
    compute1 = lab.nodes()["compute1"]["addresses"]["mgmt"]

    def served_to_compute1():
        text = lab.ssh("controller", f"cat {log}", check=False).stdout
        return sum(1 for line in text.splitlines() if f"|{compute1}|" in line)

    before = served_to_compute1()
    lab.ssh("compute1", "rm -rf /var/lib/apt/lists/* && apt-get update", timeout=600)
    assert served_to_compute1() > before


@pytest.fixture(scope="module")
def cloud(lab):
    """
    Connect as admin or demo with the operator's clouds.yaml: through the
    proxy's public address, over TLS verified against the lab CA.
    """
    return lab.connect


def proxy_address(lab):
    return lab.nodes()["network"]["public_ips"][0]


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


def test_placement_answers(cloud):
    conn = cloud()
    root = conn.session.get("/", endpoint_filter={"service_type": "placement"}).json()
    assert root["versions"][0]["status"] == "CURRENT"
    # the compute nodes' resource providers, when they have reported
    assert {rp.name for rp in conn.placement.resource_providers()} <= {"compute1", "compute2"}


def test_compute_controller_services_are_up(cloud):
    services = {s.binary: s for s in cloud().compute.services()}
    for binary in ("nova-conductor", "nova-scheduler"):
        assert services[binary].state == "up" and services[binary].status == "enabled", services


def test_network_agent_list_answers(cloud):
    # the agents come with the network and compute nodes; the API answers
    assert isinstance(list(cloud().network.agents()), list)
    assert cloud().network.find_extension("router")


def wait_until(what, check, timeout=300, interval=5):
    """check() until it returns something truthy (returned), or fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s (last: {result!r})"
        time.sleep(interval)


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


def test_libvirt_virt_type_follows_the_kvm_check(lab):
    decided, code = lab.salt("compute1", "kvm.check")
    assert code == 0
    expected = "kvm" if decided["compute1"]["usable"] else "qemu"
    configured = lab.ssh("compute1", "sed -n 's/^virt_type = //p' /etc/nova/nova-compute.conf").stdout.strip()
    assert configured == expected, decided


def test_demo_boots_a_server_on_each_compute_node(lab):
    returns = lab.demo()
    assert failed_states(returns) == []
    servers = lab.servers()
    assert sorted(servers) == ["demo1", "demo2"]
    assert all(s["status"] == "ACTIVE" for s in servers.values()), servers
    assert sorted(s["host"] for s in servers.values()) == ["compute1", "compute2"], servers

    def addressed():
        found = lab.servers()
        return found if all(len(s["fixed"]) == 1 and len(s["floating"]) == 1 for s in found.values()) else None

    # Nova learns of a floating IP from Neutron a moment after it is associated
    wait_until("each server with one fixed and one floating address", addressed, timeout=120)


def test_second_highstate_and_demo_change_nothing(lab):
    returns = lab.highstate()
    returns.update({"controller (demo)": lab.demo()["controller"]})
    assert failed_states(returns) == []
    assert changed_states(returns) == []


def banner(lab, address):
    """The test guest's banner line (port 8), or "" when it does not answer."""
    return lab.tcp(address, 8)


def test_floating_ips_answer_from_the_network_node(lab):
    for name, server in sorted(lab.servers().items()):
        address = server["floating"][0]
        proc = lab.ssh("network", f"ping -c 3 -W 5 {address}", check=False)
        assert proc.returncode == 0, (name, proc.stdout)
        line = wait_until(f"{name}'s banner on {address}:8", lambda a=address: banner(lab, a), timeout=120)
        # its lease came over the tenant network from Neutron's DHCP, with the computed MTU
        assert f"ip={server['fixed'][0]}/24 " in line and " mtu=1410 " in line, line
        payload = secrets.token_hex(40000)
        assert lab.tcp(address, 7, payload) == payload


def test_servers_reach_each_other_over_the_tenant_network(lab):
    servers = lab.servers()
    for name, other in (("demo1", "demo2"), ("demo2", "demo1")):
        target = servers[other]["fixed"][0]
        answer = lab.tcp(servers[name]["floating"][0], 9, f"{target}\n")
        assert answer == f"saltlab-probe {target} tcp=ok icmp=ok\n", (name, answer)


def test_the_way_to_a_server_carries_the_mtu_and_no_more(lab):
    address = lab.servers()["demo1"]["floating"][0]
    fits = lab.ssh("network", f"ping -c 2 -W 5 -M do -s {1410 - 28} {address}", check=False)
    assert fits.returncode == 0, fits.stdout + fits.stderr
    too_big = lab.ssh("network", f"ping -c 2 -W 5 -M do -s {1410 - 27} {address}", check=False)
    assert too_big.returncode != 0, too_big.stdout


def test_novnc_console_through_the_proxy(lab, cloud):
    conn = cloud("demo")
    console = conn.compute.create_console(conn.compute.find_server("demo1"), console_type="novnc")
    url = urllib.parse.urlsplit(console["url"])
    assert (url.scheme, url.hostname, url.port) == ("https", proxy_address(lab), 6080), console
    ca = lab.repo / "var" / "openstack" / "lab-ca.crt"
    # the noVNC page, then its websocket: upgraded, and the guest's VNC server speaks
    page = requests.get(console["url"], verify=str(ca), timeout=30)
    assert page.status_code == 200 and "noVNC" in page.text
    token_path = urllib.parse.parse_qs(url.query)["path"][0]
    key = base64.b64encode(os.urandom(16)).decode()
    context = ssl.create_default_context(cafile=str(ca))
    with context.wrap_socket(
        socket.create_connection((url.hostname, url.port), timeout=30), server_hostname=url.hostname
    ) as sock:
        sock.sendall(
            (
                f"GET /{token_path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: binary\r\nOrigin: https://{url.netloc}\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 14:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
    head, _, frame = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert b"Sec-WebSocket-Accept: " + accept in head, head
    # one binary frame (0x82) whose payload is the RFB handshake
    assert frame[0] == 0x82 and frame[2:14] == b"RFB 003.008\n", frame


def test_horizon_login_as_demo_in_a_real_browser(lab, tmp_path_factory):
    from selenium import webdriver  # pylint: disable=import-outside-toplevel
    from selenium.webdriver.chrome.service import Service  # pylint: disable=import-outside-toplevel
    from selenium.webdriver.common.by import By  # pylint: disable=import-outside-toplevel
    from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=import-outside-toplevel

    secrets_pillar = json.loads((lab.repo / "pillar" / "secrets.json").read_text())
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    # the lab CA is not in the browser's store: the page is the proxy's
    # (its certificate is checked by the API tests above)
    options.add_argument("--ignore-certificate-errors")
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        browser.get(f"https://{proxy_address(lab)}/horizon/")
        WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "id_username"))
        browser.find_element(By.ID, "id_username").send_keys("demo")
        browser.find_element(By.ID, "id_password").send_keys(secrets_pillar["saltlab"]["secrets"]["demo"])
        browser.find_element(By.ID, "loginBtn").click()
        WebDriverWait(browser, 120).until(lambda b: "/project/" in b.current_url)
        assert "Overview" in browser.title or "Overview" in browser.page_source
    finally:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTEFACTS / "horizon-demo-overview.png"))
        browser.quit()


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
        mode = lab.ssh("network", f"stat -c %a /root/{who}-openrc").stdout.strip()
        assert mode == "600"
        token = lab.ssh("network", f". /root/{who}-openrc && openstack token issue -f value -c id").stdout
        assert token.strip()


@pytest.mark.parametrize(
    "pillar, key",
    [
        ({"saltlab": {"services": ["keystone", "glance", "swift"]}}, "saltlab:services"),
        ({"saltlab": {"secrets": {"glance_db": ""}}}, "saltlab:secrets:glance_db"),
        ({"saltlab": {"networks": {"mgmt": {"cidr": "192.168.1.0/33"}}}}, "saltlab:networks:mgmt:cidr"),
    ],
    ids=["unknown-service", "missing-secret", "malformed-cidr"],
)
def test_bad_pillar_stops_the_highstate_before_any_change(lab, pillar, key):
    returns, code = lab.salt("controller", "state.apply", f"pillar={json.dumps(pillar)}", "--timeout=600")
    assert code != 0
    errors = returns["controller"]
    # no state ran: the highstate is a list of render errors, each naming the key
    assert isinstance(errors, list) and errors, errors
    assert all(isinstance(e, str) and key in e for e in errors), errors


def test_a_node_rebooted_from_inside_comes_back_as_a_minion(lab, cloud):
    # The kernel's boot id is the host's; the node's init start time is its own.
    init_started = "cut -d' ' -f22 /proc/1/stat"
    before = lab.ssh("compute2", init_started).stdout.strip()
    lab.ssh("compute2", "systemctl reboot", check=False)
    deadline = time.monotonic() + 180
    while True:
        time.sleep(3)
        after = lab.ssh("compute2", init_started, check=False).stdout.strip()
        if after and after != before:
            break
        assert time.monotonic() < deadline, "compute2 did not come back"
    answered = lab.wait_for_minions(["compute2"])
    assert answered["compute2"] is True
    assert lab.nodes()["compute2"]["state"] == "running"
    # its external bridge and underlay bridge came back with it
    proc = ping_over_the_external_bridge(lab, "compute2", 1410 - 28)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and its demo server: nova-compute resumes it (started again if it is off)
    conn = cloud("demo")
    name, server = next((n, s) for n, s in lab.servers().items() if s["host"] == "compute2")
    if server["status"] == "SHUTOFF":
        conn.compute.start_server(conn.compute.find_server(name))
    line = wait_until(f"{name} answering again", lambda: banner(lab, server["floating"][0]), timeout=300)
    assert f"ip={server['fixed'][0]}/24 " in line


def test_destroying_the_map_leaves_nothing(lab):
    lab.cloud("-m", MAP, "-d", "-y", timeout=600)
    assert host_leftovers() == {key: [] for key in host_leftovers()}
