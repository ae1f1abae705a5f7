"""
What the nspawn driver (``_clouds/nspawn.py``) does on this host outside
its nodes: the node image, the lab's bridges and forwarding rules, and a
node's cgroups: its processes ended (gracefully first) and the cgroup
trees removed depth first.

A Salt utils module (``__utils__["nspawn_host.<function>"]``); functions
take the driver's ``saltlab_cloud.Cloud`` for its settings and progress.
"""

import contextlib
import errno
import fcntl
import hashlib
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import salt.version
from salt.exceptions import SaltCloudException, SaltCloudSystemExit

log = logging.getLogger(__name__)

CGROUP_ROOTS = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup")
FORWARD_CHAIN = "SALTLAB-FWD"
NAT_CHAIN = "SALTLAB-NAT"


def run(*cmd, check=True):
    """
    Run a host command; a failure raises with the command's own message.
    """
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise SaltCloudException("{} failed: {}".format(" ".join(cmd), (proc.stderr or proc.stdout).strip()))
    return proc


# ---------------------------------------------------------------------------
# the node image


def image_recipe_hash(recipe_path, salt_version, mirror):
    """
    The image is rebuilt whenever its recipe, the Salt version or the mirror
    changes.
    """
    digest = hashlib.sha256()
    with open(recipe_path, "rb") as fh:
        digest.update(fh.read())
    digest.update(f"\0{salt_version}\0{mirror}".encode())
    return digest.hexdigest()[:12]


def ensure_image(cloud, name):
    """
    The node image for this recipe, Salt and mirror, built once (``tools/build-image``).
    """
    recipe = cloud.config_path("tools/build-image")
    salt_version = salt.version.__version__
    mirror = cloud.setting("mirror")
    cache = cloud.setting("image_cache")
    image = os.path.join(cache, f"debian-13-{image_recipe_hash(recipe, salt_version, mirror)}")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(image):
            cloud.progress(name, f"building node image {image} (once; a few minutes)")
            started = time.monotonic()
            proc = subprocess.run([recipe, image, salt_version, mirror], stdout=sys.stderr, check=False)
            if proc.returncode != 0:
                raise SaltCloudSystemExit("nspawn: building the node image failed (see output above)")
            cloud.progress(name, f"image built in {time.monotonic() - started:.0f} s")
    return image


# what a node kind's highstate installs depends on these (secrets do not)
ROLE_INPUTS = ("salt", "pillar", "_modules", "_states", "_utils/saltlab_model.py", "tools/role_packages.py")


def _tree_digest(root, paths):
    """A digest of the files under ``paths`` (relative to ``root``), names and contents."""
    digest = hashlib.sha256()
    for path in paths:
        top = os.path.join(root, path)
        files = (
            [top]
            if os.path.isfile(top)
            else sorted(os.path.join(d, f) for d, _dirs, names in os.walk(top) for f in names)
        )
        for name in files:
            if not name.endswith(("secrets.json", ".pyc")):
                digest.update(os.path.relpath(name, root).encode() + b"\0")
                with open(name, "rb") as fh:
                    digest.update(fh.read())
    return digest.hexdigest()[:16]


def _role_spec(cloud, node, cache):
    """
    What ``node``'s highstate installs (tools/role_packages.py renders it),
    kept per node kind and state tree: the render takes seconds.
    """
    repo = os.path.dirname(cloud.config_path("salt"))
    path = os.path.join(cache, f"role-spec-{node['kind']}-{_tree_digest(repo, ROLE_INPUTS)}.json")
    if not os.path.exists(path):
        proc = run(sys.executable, os.path.join(repo, "tools", "role_packages.py"), node["name"])
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(proc.stdout)
        os.replace(path + ".tmp", path)
    return path


def _mirror_release(cloud):
    """The mirror's current trixie Release, as a digest: new packages there make new layers."""
    url = cloud.setting("mirror").rstrip("/") + "/dists/trixie/InRelease"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return hashlib.sha256(answer.read()).hexdigest()[:16]
    except OSError as exc:
        raise SaltCloudSystemExit(f"nspawn: cannot read the package mirror's {url}: {exc}") from None


def ensure_role_layer(cloud, name, node, image):
    """
    The role layer of ``node``'s kind over ``image`` (tools/build-role-image:
    its highstate's packages, installed once), or None for a node outside
    the lab model or when the provider's ``role_images`` is False (the
    nodes install their packages as a cloud's do).
    """
    if node is None or not cloud.setting("role_images"):
        return None
    cache = cloud.setting("image_cache")
    recipe = cloud.config_path("tools/build-role-image")
    spec = _role_spec(cloud, node, cache)
    digest = hashlib.sha256(f"{image}\0{_mirror_release(cloud)}\0".encode())
    for path in (spec, recipe):
        with open(path, "rb") as fh:
            digest.update(fh.read())
    layer = os.path.join(cache, f"role-{node['kind']}-{digest.hexdigest()[:12]}")
    with open(os.path.join(cache, f".role-{node['kind']}.lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(layer):
            cloud.progress(name, f"building the {node['kind']} role layer {layer} (once per package set)")
            started = time.monotonic()
            proc = subprocess.run([recipe, image, layer, spec], stdout=sys.stderr, check=False)
            if proc.returncode != 0:
                raise SaltCloudSystemExit(f"nspawn: building the {node['kind']} role layer failed (see output above)")
            cloud.progress(name, f"role layer built in {time.monotonic() - started:.0f} s")
    return layer


# ---------------------------------------------------------------------------
# bridges and forwarding


def mirror_addresses(cloud):
    """The package mirror's IPv4 addresses (the one outside name nodes resolve)."""
    host = urllib.parse.urlsplit(cloud.setting("mirror")).hostname
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM)})
    except OSError as exc:
        raise SaltCloudSystemExit(f"nspawn: cannot resolve the package mirror {host}: {exc}") from None


def _iptables_ensure(table, *rule):
    if run("iptables", "-w", "-t", table, "-C", *rule, check=False).returncode != 0:
        run("iptables", "-w", "-t", table, "-A", *rule)


@contextlib.contextmanager
def host_lock(cloud):
    """
    Serialise changes to the host's bridges and rules between parallel
    creates and destroys (salt-cloud -P).
    """
    state_dir = cloud.setting("state_dir")
    os.makedirs(state_dir, exist_ok=True)
    with open(os.path.join(state_dir, ".host.lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_bridges(nets, space=None):
    """
    A bridge per network (``spec["bridge"]``, its MTU, up) with the
    network's gateway address when it has one; a network without one is
    unreachable from where the bridges are. ``space``: in that network
    namespace instead of this host's (the gce rehearsal's VPC).
    """
    ip = ("ip", "-n", space) if space else ("ip",)
    for spec in nets.values():
        bridge = spec["bridge"]
        if run(*ip, "link", "show", bridge, check=False).returncode != 0:
            run(*ip, "link", "add", bridge, "type", "bridge")
        run(*ip, "link", "set", bridge, "mtu", str(spec["mtu"]), "up")
        if spec["gateway"]:
            cidr = f"{spec['gateway']}/{ipaddress.IPv4Network(spec['cidr']).prefixlen}"
            if cidr not in run(*ip, "-4", "-o", "addr", "show", "dev", bridge).stdout:
                run(*ip, "addr", "add", cidr, "dev", bridge)
        else:
            # The host is not on this network: its addresses must never
            # follow the default route off the machine.
            run(*ip, "route", "replace", "unreachable", spec["cidr"])


def ensure_host_network(cloud, nets):
    """
    Bridges for every network; the host's address on the public gateway;
    forwarding only from the public bridge to the mirror, NATed.
    """
    ensure_bridges(nets)
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as fh:
        fh.write("1")
    for table, chain, hook in (("filter", FORWARD_CHAIN, "FORWARD"), ("nat", NAT_CHAIN, "POSTROUTING")):
        run("iptables", "-w", "-t", table, "-N", chain, check=False)
        run("iptables", "-w", "-t", table, "-F", chain)
        _iptables_ensure(table, hook, "-j", chain)
    # Frames bridged between two nodes on one lab network stay on it.
    _iptables_ensure("filter", FORWARD_CHAIN, "-m", "physdev", "--physdev-is-bridged", "-j", "ACCEPT")
    web = ("-p", "tcp", "-m", "multiport", "--dports", "80,443", "-j", "ACCEPT")
    for spec in (spec for spec in nets.values() if spec["gateway"]):
        for address in mirror_addresses(cloud):
            _iptables_ensure("filter", FORWARD_CHAIN, "-i", spec["bridge"], "-d", address, *web)
            _iptables_ensure("nat", NAT_CHAIN, "-s", spec["cidr"], "-d", address, "-j", "MASQUERADE")
        answers = ("-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
        _iptables_ensure("filter", FORWARD_CHAIN, "-o", spec["bridge"], *answers)
    for spec in nets.values():
        _iptables_ensure("filter", FORWARD_CHAIN, "-i", spec["bridge"], "-j", "DROP")
        _iptables_ensure("filter", FORWARD_CHAIN, "-o", spec["bridge"], "-j", "DROP")


def remove_host_network(nets, rules=True):
    """
    The bridges and routes of these networks; with ``rules``, the lab's
    forwarding and NAT rules too (when its last node is gone).
    """
    chains = (("filter", FORWARD_CHAIN, "FORWARD"), ("nat", NAT_CHAIN, "POSTROUTING")) if rules else ()
    for table, chain, hook in chains:
        run("iptables", "-w", "-t", table, "-D", hook, "-j", chain, check=False)
        run("iptables", "-w", "-t", table, "-F", chain, check=False)
        run("iptables", "-w", "-t", table, "-X", chain, check=False)
    for spec in nets.values():
        run("ip", "link", "del", spec["bridge"], check=False)
        if not spec["gateway"]:
            run("ip", "route", "del", "unreachable", spec["cidr"], check=False)


# ---------------------------------------------------------------------------
# a node's cgroups and processes


def cgroups(name, roots=CGROUP_ROOTS, group="saltlab"):
    """
    The node's cgroup (``<group>/<node>``: ``saltlab/<node>`` for the
    local provider) in each hierarchy this host mounts.
    """
    return [os.path.join(root, group, name) for root in roots if os.path.isfile(os.path.join(root, "cgroup.procs"))]


def cgroup_pids(trees):
    """Every process in the cgroup trees (nested cgroups included)."""
    pids = set()
    for tree in trees:
        for dirpath, _dirs, files in os.walk(tree):
            if "cgroup.procs" in files:
                with (
                    contextlib.suppress(FileNotFoundError),
                    open(os.path.join(dirpath, "cgroup.procs"), encoding="ascii") as fh,
                ):
                    pids.update(int(line) for line in fh if line.strip())
    return sorted(pids)


def _wait_until_empty(trees, timeout):
    deadline = time.monotonic() + timeout
    while cgroup_pids(trees) and time.monotonic() < deadline:
        time.sleep(0.5)


def end_processes(name, supervisor, trees, timeout):
    """
    Power the node off and wait for every process of it to end: SIGTERM to
    its supervisor's process group (nspawn shuts the container down), up
    to ``timeout`` s; then SIGKILL to whatever is left, until nothing is
    (a killed process takes its time to exit: its memory is freed first).
    """
    if supervisor:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(supervisor, signal.SIGTERM)
    _wait_until_empty(trees, timeout)
    deadline = time.monotonic() + 60
    while True:
        left = cgroup_pids(trees)
        if not left:
            return
        if time.monotonic() > deadline:
            raise SaltCloudSystemExit(f"nspawn: processes of {name} do not end: {', '.join(map(str, left[:10]))}")
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def remove_cgroup_tree(tree, timeout=10):
    """
    A cgroup and every cgroup below it, deepest first (a cgroup goes only
    when it has neither processes nor children); one still busy is retried
    until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    for dirpath, _dirs, _files in os.walk(tree, topdown=False):
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
