"""
The demo on the lab (`make demo`): a server on each compute node, each
answering on its floating IP from the network node, reaching the other over
the tenant network with the computed MTU; the noVNC console and Horizon
through the proxy; a second highstate and demo change nothing.
"""

import base64
import hashlib
import os
import secrets
import socket
import ssl
import urllib.parse

import pytest
import requests
from labcheck import banner, changed_states, failed_states, horizon_as_demo, proxy_address, wait_until

pytestmark = pytest.mark.e2e


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


def test_floating_ips_answer_from_the_network_node(lab):
    for name, server in sorted(lab.servers().items()):
        address = server["floating"][0]
        proc = lab.ssh(lab.master, f"ping -c 3 -W 5 {address}", check=False)
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
    fits = lab.ssh(lab.master, f"ping -c 2 -W 5 -M do -s {1410 - 28} {address}", check=False)
    assert fits.returncode == 0, fits.stdout + fits.stderr
    too_big = lab.ssh(lab.master, f"ping -c 2 -W 5 -M do -s {1410 - 27} {address}", check=False)
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
    with horizon_as_demo(lab, tmp_path_factory.mktemp("chromium"), "horizon-demo-overview.png") as (browser, _base):
        assert "Overview" in browser.title or "Overview" in browser.page_source
