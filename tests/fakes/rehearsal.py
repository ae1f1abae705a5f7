"""
The gce rehearsal's backend for the fake Compute API (tests/fakes/compute_api.py):
each instance the fake creates is a real local node, booted with
systemd-nspawn from a plain Debian 13 image without Salt
(tools/build-rehearsal-image: the stand-in for Google's debian-13 image,
with a guest-agent stand-in, tests/fakes/guest_agent.py), on a fake Google
network that lives in a network namespace of its own.

What it makes on this host, all named its own way (the local lab's
``saltlab-*``, ``sl*``, ``SALTLAB-*`` and ``/var/lib/saltlab`` are never
touched):

- ``gcer-vpc``: the network namespace of the fake Google network. In it,
  one bridge per VPC subnetwork (``vpc<hash>``, with the subnetwork's
  gateway address, as Google's VPC router answers on it), the 1:1 NAT of
  each external address to its instance's public NIC, the Cloud NATs, the
  firewall rules (ingress from outside: source ranges, protocols, ports,
  target tags), and no routing between the VPCs; its way out is the veth
  ``gcer-uplink`` (this host: 100.88.255.1/30, the namespace: .2).
- on this host: the route of the external range (100.88.0.0/24) to that
  namespace, and the nftables table ``ip gce_rehearsal``, which forwards
  from the namespace only to the package mirror's and PyPI's addresses on
  ports 80 and 443, masqueraded. No address of the lab's CIDRs is on this
  host: the operator (this host, 100.88.255.1) reaches the nodes only
  through their external addresses, as on Google.
- each node: ``gcer-<node>`` network namespace, veths ``gr<hash>`` (their
  host side in ``gcer-vpc``), cgroup ``gce-rehearsal/<node>``, overlay and
  console log under ``/var/lib/gce-rehearsal`` (the nspawn driver's
  functions: _utils/nspawn_host.py, nspawn_node.py), and its data disks:
  sparse files there on loop devices.

What stands in for Google: the node's NIC addresses are written as
systemd-networkd units (Google's DHCP), named after the model's networks
as the local nodes' (the lab's states for nodes without an Open vSwitch
kernel module look for the underlay NIC by that name); the metadata is a
file the guest agent reads (the metadata server); the package mirror and
PyPI are pinned in /etc/hosts (Google's resolver).
"""

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import nspawn_host
import nspawn_node

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE_DIR = "/var/lib/gce-rehearsal"
IMAGE_CACHE = "/var/cache/saltlab/images"
MIRROR = "http://deb.debian.org/debian"
# what the nodes reach outside: Debian's mirror and PyPI
OUTSIDE = ("deb.debian.org", "pypi.org", "files.pythonhosted.org")
VPC = "gcer-vpc"
UPLINK = "gcer-uplink"
UPLINK_NET = ipaddress.IPv4Network("100.88.255.0/30")
EXTERNAL_RANGE = "100.88.0.0/24"
HOST_TABLE = "gce_rehearsal"
NAMES = {"veth": "gr", "bridges_netns": VPC, "cgroup": "gce-rehearsal", "supervisor": "gce-rehearsal-node-"}


def run(*argv, check=True, stdin=None):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc


def operator_address():
    """This host's address towards the fake Google network: the operator's."""
    return str(UPLINK_NET.network_address + 1)


def image_key():
    """The plain image's recipe, guest agent, mirror and this machine's CAs, hashed."""
    digest = hashlib.sha256(MIRROR.encode())
    paths = [os.path.join(REPO, "tools/build-rehearsal-image"), os.path.join(REPO, "tests/fakes/guest_agent.py")]
    ca_dir = "/usr/local/share/ca-certificates"
    if os.path.isdir(ca_dir):
        paths += sorted(os.path.join(ca_dir, n) for n in os.listdir(ca_dir) if n.endswith(".crt"))
    for path in paths:
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:12]


def ensure_image(say=print):
    """The plain image, built once per recipe (tools/build-rehearsal-image); (path, seconds spent building)."""
    image = os.path.join(IMAGE_CACHE, f"gce-plain-debian-13-{image_key()}")
    os.makedirs(IMAGE_CACHE, exist_ok=True)
    with open(os.path.join(IMAGE_CACHE, ".gce-plain.lock"), "w", encoding="utf-8") as lock:
        import fcntl  # pylint: disable=import-outside-toplevel

        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(image):
            return image, 0.0
        say(f"building the rehearsal's plain image {image}")
        started = time.monotonic()
        proc = subprocess.run(
            ["nice", os.path.join(REPO, "tools/build-rehearsal-image"), image, MIRROR], stdout=sys.stderr, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError("tools/build-rehearsal-image failed (see above)")
        return image, time.monotonic() - started


class _Host:
    """What nspawn_node's functions ask of the driver's Cloud object."""

    utils = {
        "nspawn_host.run": nspawn_host.run,
        "nspawn_host.cgroups": nspawn_host.cgroups,
        "nspawn_host.end_processes": nspawn_host.end_processes,
        "nspawn_host.remove_cgroup_tree": nspawn_host.remove_cgroup_tree,
    }

    @staticmethod
    def setting(key):
        return {"stop_timeout": 30, "mirror": MIRROR}[key]

    @staticmethod
    def progress(name, message):
        print(f"[rehearsal {name}] {message}", file=sys.stderr, flush=True)


class Work:
    """What the fake's operation waits for: a node's boot, stop or removal in a thread."""

    def __init__(self, what, function):
        self.error = None
        self._done = threading.Event()

        def body():
            try:
                function()
            except Exception as exc:  # pylint: disable=broad-except
                self.error = f"{what}: {exc}"
                _Host.progress("backend", self.error)
            finally:
                self._done.set()

        threading.Thread(target=body, name=what, daemon=True).start()

    def done(self):
        return self._done.is_set()

    def wait(self, timeout=None):
        return self._done.wait(timeout)


class Rehearsal:
    """
    The fake Google network and its instances on this host; ``setup()``,
    then hand it to ``ComputeAPI(backend=...)`` and ``attach(api)``;
    ``teardown()`` removes everything, ``leftovers()`` says what is left.
    """

    def __init__(self, image, state_dir=STATE_DIR):
        self.image = image
        self.state_dir = state_dir
        self.api = None
        self.nodes = {}  # name: the nspawn record
        self.outside = {}  # host name: addresses
        self._lock = threading.Lock()
        self.host = _Host()

    # -- the fake Google network ---------------------------------------------------------

    def attach(self, api):
        self.api = api

    def setup(self):
        """The VPC namespace, its uplink, the host's route and forwarding table."""
        if self.leftovers_on_host():
            raise RuntimeError(f"a rehearsal is already up on this host: {self.leftovers_on_host()}")
        for host in OUTSIDE:
            infos = socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)
            self.outside[host] = sorted({i[4][0] for i in infos})
        os.makedirs(os.path.join(self.state_dir, "nodes"), mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(self.state_dir, "logs"), mode=0o700, exist_ok=True)
        host_side, vpc_side = (str(UPLINK_NET.network_address + n) for n in (1, 2))
        prefix = UPLINK_NET.prefixlen
        run("ip", "netns", "add", VPC)
        run("ip", "-n", VPC, "link", "set", "lo", "up")
        run("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", "uplink", "netns", VPC)
        run("ip", "addr", "add", f"{host_side}/{prefix}", "dev", UPLINK)
        run("ip", "link", "set", UPLINK, "up")
        run("ip", "-n", VPC, "addr", "add", f"{vpc_side}/{prefix}", "dev", "uplink")
        run("ip", "-n", VPC, "link", "set", "uplink", "up")
        run("ip", "-n", VPC, "route", "add", "default", "via", host_side)
        run("ip", "netns", "exec", VPC, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Frames between instances of one subnet stay on its bridge, as on
        # Google's network: not through this namespace's IP firewall, which
        # br_netfilter (loaded on this host for the local lab) would apply
        # to them (a new namespace starts with the host module's default, 1;
        # without the module, bridged frames never meet the IP firewall)
        if os.path.exists("/proc/sys/net/bridge"):
            for family in ("iptables", "ip6tables", "arptables"):
                run("ip", "netns", "exec", VPC, "sysctl", "-qw", f"net.bridge.bridge-nf-call-{family}=0")
        run("ip", "route", "add", EXTERNAL_RANGE, "via", vpc_side, "dev", UPLINK)
        addresses = ", ".join(sorted({a for found in self.outside.values() for a in found}))
        ruleset = f"""
table ip {HOST_TABLE} {{
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{UPLINK}" ip daddr {{ {addresses} }} tcp dport {{ 80, 443 }} accept
    iifname "{UPLINK}" drop
    oifname "{UPLINK}" ct state established,related accept
    oifname "{UPLINK}" drop
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {UPLINK_NET.supernet(new_prefix=16)} oifname != "{UPLINK}" masquerade
  }}
}}
"""
        run("nft", "-f", "-", stdin=ruleset)
        self.network({}, [], [])

    def network(self, instances, firewalls, routers):
        """
        The VPC's NAT and filter rules for the instances, firewall rules and
        Cloud NATs now (the fake calls this whenever they change).
        """
        nat, forward = [], []
        subnets = {s["selfLink"]: s for s in (self.api.subnetworks.values() if self.api else [])}
        for instance in instances.values():
            tags = set((instance.get("tags") or {}).get("items") or [])
            for nic in instance["networkInterfaces"]:
                for config in nic.get("accessConfigs", []):
                    if not config.get("natIP"):
                        continue
                    inside, outside = nic["networkIP"], config["natIP"]
                    nat.append(f'iifname "uplink" ip daddr {outside} dnat to {inside}')
                    nat.append(f'oifname "uplink" ip saddr {inside} snat to {outside}')
                    forward.append(f'iifname != "uplink" oifname "uplink" ip saddr {inside} accept')
                    for rule in firewalls:
                        if rule.get("direction", "INGRESS") != "INGRESS" or rule.get("disabled"):
                            continue
                        if rule["network"] != nic["network"]:
                            continue
                        if rule.get("targetTags") and not tags & set(rule["targetTags"]):
                            continue
                        sources = ", ".join(rule.get("sourceRanges") or ["0.0.0.0/0"])
                        for allowed in rule.get("allowed") or []:
                            proto = allowed.get("IPProtocol")
                            match = f'iifname "uplink" ip saddr {{ {sources} }} ip daddr {inside}'
                            if proto == "all":
                                forward.append(f"{match} accept")
                            elif proto == "icmp":
                                forward.append(f"{match} icmp type echo-request accept")
                            elif proto in ("tcp", "udp"):
                                ports = ", ".join(p.replace("-", "-") for p in allowed.get("ports") or ["0-65535"])
                                forward.append(f"{match} {proto} dport {{ {ports} }} accept")
        for router in routers:
            for _nat in router.get("nats") or []:
                for subnet in subnets.values():
                    if subnet["network"] == router["network"]:
                        nat.append(f'oifname "uplink" ip saddr {subnet["ipCidrRange"]} masquerade')
                        forward.append(f'iifname != "uplink" oifname "uplink" ip saddr {subnet["ipCidrRange"]} accept')
        # per-instance SNATs before the Cloud NATs' masquerades
        nat.sort(key=lambda r: "masquerade" in r)
        prerouting = [r for r in nat if "dnat" in r]
        postrouting = [r for r in nat if "dnat" not in r]
        body = "\n    ".join
        ruleset = f"""table ip vpc {{}}
delete table ip vpc
table ip vpc {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    {body(prerouting)}
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    {body(postrouting)}
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    {body(forward)}
  }}
}}
"""
        run("ip", "netns", "exec", VPC, "nft", "-f", "-", stdin=ruleset)

    # -- instances ---------------------------------------------------------------------------

    def _nets(self, instance):
        """{nic: {cidr, gateway (nic0's only), mtu, bridge}} of an instance's NICs, named after the networks."""
        nets, addresses = {}, {}
        lab_prefix = (instance.get("labels") or {}).get("saltlab", "")
        for index, nic in enumerate(instance["networkInterfaces"]):
            subnet = next(s for s in self.api.subnetworks.values() if s["selfLink"] == nic["subnetwork"])
            network = nic["network"].rsplit("/", 1)[-1]
            name = network[len(lab_prefix) + 1 :] if lab_prefix and network.startswith(lab_prefix + "-") else network
            mtu = next((n["mtu"] for n in self.api.networks.values() if n["selfLink"] == nic["network"]), 1460)
            bridge = "vpc" + hashlib.sha1(subnet["selfLink"].encode()).hexdigest()[:8]
            nets[name] = {
                "cidr": subnet["ipCidrRange"],
                "gateway": subnet["gatewayAddress"] if index == 0 else None,
                "bridge_gateway": subnet["gatewayAddress"],
                "mtu": mtu,
                "bridge": bridge,
            }
            addresses[name] = nic["networkIP"]
        return nets, addresses

    def _metadata(self, instance, project):
        return {
            "instance": {
                "name": instance["name"],
                "hostname": f"{instance['name']}.c.{self.api.project}.internal",
                "attributes": {i["key"]: i["value"] for i in instance["metadata"].get("items") or []},
                "networkInterfaces": [
                    {"ip": n["networkIP"], "accessConfigs": n.get("accessConfigs", [])}
                    for n in instance["networkInterfaces"]
                ],
            },
            "project": {"projectId": self.api.project, "attributes": dict(project)},
        }

    def _write(self, rootfs, path, content, mode=0o644):
        full = os.path.join(rootfs, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(full, mode)

    def create(self, zone, name, instance, project):
        """instances.insert: the node booted (in a thread); the fake's operation waits for it."""
        nets, addresses = self._nets(instance)
        node_dir = os.path.join(self.state_dir, "nodes", name)
        record = {
            "name": name,
            "addresses": addresses,
            "rootfs": os.path.join(node_dir, "rootfs"),
            "image": self.image,
            "kvm": False,
            "names": dict(NAMES, netns=f"gcer-{name}"),
        }
        metadata = self._metadata(instance, project)
        data_disks = [disk for disk in instance.get("disks") or [] if not disk.get("boot")]
        with self._lock:
            self.nodes[name] = record

        def boot():
            console = os.path.join(self.state_dir, "logs", f"{name}.console.log")
            os.makedirs(node_dir, mode=0o700)
            for part in ("upper", "work", "rootfs"):
                os.makedirs(os.path.join(node_dir, part))
            # kept on disk: a run killed half-way is torn down from it
            with open(os.path.join(node_dir, "record.json"), "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            nspawn_node.mount(self.host, record, node_dir)
            rootfs = record["rootfs"]
            self._write(rootfs, "/etc/hostname", name + "\n")
            hosts = ["127.0.0.1 localhost", f"127.0.1.1 {metadata['instance']['hostname']} {name}"]
            hosts += [
                f"{a} {host}  # rehearsal: Google's resolver" for host, found in self.outside.items() for a in found
            ]
            self._write(rootfs, "/etc/hosts", "\n".join(hosts) + "\n")
            self._write(rootfs, "/etc/resolv.conf", "# rehearsal: names from /etc/hosts\n")
            for path, content in nspawn_node.render_network_units({"addresses": addresses}, nets).items():
                self._write(rootfs, path, content)
            self._write(rootfs, "/var/lib/google/metadata.json", json.dumps(metadata), mode=0o600)
            # the loop devices are found by their files when the node goes (a killed run's too)
            record["devices"] = [self._attach_disk(node_dir, rootfs, disk) for disk in data_disks]
            with _HOST_NETWORK:
                bridges = {n: dict(spec, gateway=spec["bridge_gateway"]) for n, spec in nets.items()}
                nspawn_host.ensure_bridges(bridges, space=VPC)
            nspawn_node.plug(self.host, record, nets)
            nspawn_node.boot(self.host, record, console)
            nspawn_node.wait_for_ssh(self.host, record, console, timeout=300)

        return Work(f"booting {name}", boot)

    def _attach_disk(self, node_dir, rootfs, disk):
        """
        A data disk: a sparse file of its size on a loop device, which the
        node is given (its device node) and names as Google's udev rules
        do, /dev/disk/by-id/google-<device name> (a link made at boot by
        systemd-tmpfiles: a container has no udev); the loop device.
        """
        path = os.path.join(node_dir, f"disk-{disk['deviceName']}.img")
        with open(path, "wb") as fh:
            fh.truncate(int(disk["diskSizeGb"]) << 30)
        device = run("losetup", "--find", "--show", path).stdout.strip()
        link = f"/dev/disk/by-id/google-{disk['deviceName']}"
        self._write(rootfs, f"/etc/tmpfiles.d/google-disk-{disk['deviceName']}.conf", f"L {link} - - - - {device}\n")
        return device

    def _loop_devices(self, under):
        """{loop device: its file} of the loop devices on files under ``under``."""
        listing = run("losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE").stdout
        pairs = (line.split(" ", 1) for line in listing.splitlines() if " " in line)
        return {device: path for device, path in pairs if path.startswith(under.rstrip("/") + "/")}

    def _detach_disks(self, node_dir):
        """The loop devices of a node's data disks, detached (the node is off)."""
        for device in self._loop_devices(node_dir):
            run("losetup", "--detach", device)

    def _remove(self, name):
        record = self.nodes.get(name)
        if record is None:
            return
        nspawn_node.stop(self.host, record)
        nspawn_node.unplug(self.host, record)
        node_dir = os.path.join(self.state_dir, "nodes", name)
        self._detach_disks(node_dir)
        if os.path.ismount(record["rootfs"]):
            raise RuntimeError(f"{record['rootfs']} is still mounted")
        shutil.rmtree(node_dir, ignore_errors=True)
        with self._lock:
            self.nodes.pop(name, None)

    def delete(self, zone, name):
        """instances.delete: the node powered off and removed whole."""
        return Work(f"deleting {name}", lambda: self._remove(name))

    def stop(self, zone, name):
        """instances.stop: powered off, its disk (overlay) kept."""
        return Work(f"stopping {name}", lambda: nspawn_node.stop(self.host, self.nodes[name]))

    def start(self, zone, name):
        """instances.start: booted again from its disk."""

        def boot():
            record = self.nodes[name]
            console = os.path.join(self.state_dir, "logs", f"{name}.console.log")
            nspawn_node.boot(self.host, record, console)
            nspawn_node.wait_for_ssh(self.host, record, console, timeout=300)

        return Work(f"starting {name}", boot)

    def guest_attributes(self, zone, name, namespace):
        """What the node's guest agent published under ``namespace/``."""
        record = self.nodes.get(name)
        if record is None:
            return {}
        where = os.path.join(record["rootfs"], "var/lib/google/guest-attributes", namespace)
        found = {}
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for key in sorted(os.listdir(where)):
                with open(os.path.join(where, key), encoding="ascii") as fh:
                    found[key] = fh.read().strip()
        return found

    # -- the end -------------------------------------------------------------------------

    def teardown(self):
        """
        Every node (those of this run, and those a killed run left on disk),
        the VPC namespace, the uplink, the route, the host's table, the state.
        """
        failures = []
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(os.path.join(self.state_dir, "nodes")):
                record = os.path.join(self.state_dir, "nodes", name, "record.json")
                with contextlib.suppress(OSError, ValueError), open(record, encoding="utf-8") as fh:
                    self.nodes.setdefault(name, json.load(fh))
        for name in list(self.nodes):
            try:
                self._remove(name)
            except Exception as exc:  # pylint: disable=broad-except
                failures.append(f"{name}: {exc}")
        run("ip", "netns", "del", VPC, check=False)
        run("ip", "link", "del", UPLINK, check=False)
        run("ip", "route", "del", EXTERNAL_RANGE, check=False)
        run("nft", "delete", "table", "ip", HOST_TABLE, check=False)
        for root in nspawn_host.CGROUP_ROOTS:
            group = os.path.join(root, NAMES["cgroup"])
            if os.path.isdir(group) and os.path.isfile(os.path.join(root, "cgroup.procs")):
                with contextlib.suppress(OSError):
                    nspawn_host.remove_cgroup_tree(group)
        if not failures:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if failures:
            raise RuntimeError("rehearsal teardown: " + "; ".join(failures))

    def leftovers_on_host(self):
        """What of a rehearsal is on this host (empty when nothing)."""

        def out(*argv):
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

        links = [line.split()[0].split("@")[0] for line in out("ip", "-br", "link").splitlines()]
        return {
            kind: found
            for kind, found in {
                "netns": [n for n in out("ip", "netns", "list").split() if n.startswith("gcer-")],
                "links": [link for link in links if link.startswith(("gcer-", "gr"))],
                "routes": [line for line in out("ip", "route").splitlines() if line.startswith("100.88.")],
                "nft": [line for line in out("nft", "list", "tables").splitlines() if HOST_TABLE in line],
                "nodes": sorted(os.listdir(os.path.join(self.state_dir, "nodes")))
                if os.path.isdir(os.path.join(self.state_dir, "nodes"))
                else [],
                "mounts": [line for line in out("cat", "/proc/mounts").splitlines() if self.state_dir in line],
                "loop devices": sorted(self._loop_devices(self.state_dir)),
                "processes": [line for line in out("ps", "-eo", "args").splitlines() if "gce-rehearsal-node-" in line],
                "cgroups": [
                    os.path.join(root, NAMES["cgroup"])
                    for root in nspawn_host.CGROUP_ROOTS
                    if os.path.isdir(os.path.join(root, NAMES["cgroup"]))
                ],
            }.items()
            if found
        }


# bridges made by parallel creates, one at a time
_HOST_NETWORK = threading.Lock()


if __name__ == "__main__":
    # `python3 tests/fakes/rehearsal.py teardown`: what a killed rehearsal left on this host
    if sys.argv[1:] != ["teardown"]:
        sys.exit(f"usage: {sys.argv[0]} teardown")
    Rehearsal(image=None).teardown()
