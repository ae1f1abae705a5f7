"""
What the end-to-end tests of the local lab share: the map, the nodes, where
artefacts go, and the checks they make of highstate returns, servers and
the external bridge.
"""

import pathlib
import time

MAP = "maps/local.yaml"
MINIONS = ["compute1", "compute2", "controller", "network", "storage"]
# screenshots, logs and reports, kept after the run
ARTEFACTS = pathlib.Path(__file__).resolve().parents[2] / "var" / "artefacts"


def failed_states(returns):
    failures = []
    for minion, states in returns.items():
        failures += [
            f"{minion}: {s.get('__id__')}: {s.get('comment')}" if isinstance(s, dict) else f"{minion}: {s}"
            for s in states
            if not isinstance(s, dict) or not s.get("result")
        ]
    return failures


def changed_states(returns):
    return [
        f"{minion}: {s.get('__sls__')}: {s.get('__id__')}"
        for minion, states in returns.items()
        for s in states
        if isinstance(s, dict) and s.get("changes")
    ]


def wait_until(what, check, timeout=300, interval=5):
    """check() until it returns something truthy (returned), or fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s (last: {result!r})"
        time.sleep(interval)


def proxy_address(lab):
    return lab.nodes()[lab.master]["public_ips"][0]


def banner(lab, address):
    """The test guest's banner line (port 8), or "" when it does not answer."""
    return lab.tcp(address, 8)


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
