"""
salt-cloud driver for local lab nodes: systemd-nspawn containers on this host.

Each node is a Debian 13 container booted with systemd, on an overlay over a
cached image built once by ``tools/build-image``, with its own network
namespace holding one veth per lab network. The host side of each veth sits
on a Linux bridge per network. The host is the gateway of the ``public``
network only and NATs it to the package mirror, nothing else.

Provider configuration (``cloud.providers.d/local.conf``):

.. code-block:: yaml

    local:
      driver: nspawn
      lab_networks:
        public:   {cidr: 10.99.0.0/24, gateway: 10.99.0.1}
        mgmt:     {cidr: 192.168.1.0/24}
        underlay: {cidr: 192.168.2.0/24, mtu: 1460}

Profile keys: ``nics`` (network names, in NIC order), ``host_number`` (the
node's host part in every network: 11 gives 192.168.1.11 on mgmt),
``ssh_gateway_node`` (the node to hop through when this one has no public
NIC) and ``kvm`` (pass ``/dev/kvm`` when the host has it).

CLI examples:

.. code-block:: bash

    salt-cloud -m maps/local.yaml
    salt-cloud -Q
    salt-cloud -a show_instance controller
    salt-cloud -d compute2
"""

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import salt.config as config
import salt.utils.path
import salt.version
from salt.exceptions import SaltCloudConfigError, SaltCloudException, SaltCloudSystemExit

log = logging.getLogger(__name__)

__virtualname__ = "nspawn"

DEFAULTS = {
    "state_dir": "/var/lib/saltlab",
    "image_cache": "/var/cache/saltlab/images",
    "mirror": "http://deb.debian.org/debian",
    "mtu": 1460,
    "ssh_keyfile": "var/ssh/lab_ed25519",
}
CGROUP_ROOTS = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup")
FORWARD_CHAIN = "SALTLAB-FWD"
NAT_CHAIN = "SALTLAB-NAT"
NSPAWN_REBOOT = 133


def __virtual__():
    """
    Load when a provider uses this driver and systemd-nspawn is installed.
    """
    return _cloud().virtual(
        bool(salt.utils.path.which("systemd-nspawn")), "nspawn driver: systemd-nspawn is not installed"
    )


def _cloud():
    """
    The helpers the lab's drivers share (_utils/saltlab_cloud.py), bound to this one.
    """
    return __utils__["saltlab_cloud.cloud"](  # pylint: disable=undefined-variable
        __virtualname__, __active_provider_name__, __opts__, __utils__, DEFAULTS, ("lab_networks",)
    )


def get_configured_provider():
    """
    Return the first provider configured with this driver.
    """
    return _cloud().provider()


def _config_path(path):
    """
    Paths in the configuration are relative to the config dir (this repo).
    """
    return os.path.join(os.path.dirname(__opts__["conf_file"]), path)


def _run(*cmd, check=True, input=None):  # pylint: disable=redefined-builtin
    """
    Run a host command; a failure raises with the command's own message.
    """
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise SaltCloudException("{} failed: {}".format(" ".join(cmd), (proc.stderr or proc.stdout).strip()))
    return proc


# ---------------------------------------------------------------------------
# configuration checks


def validate_name(name):
    """
    A node name must be a lowercase RFC 1123 hostname label.
    """
    return _cloud().validate_name(name)


def lab_networks(settings=None):
    """
    The provider's networks, checked: valid names, strict CIDRs, no two
    overlapping, gateways inside their network, sane MTUs.

    Returns ``{name: {"net": IPv4Network, "gateway": IPv4Address|None,
    "mtu": int, "bridge": str}}``.
    """
    raw = _cloud().setting("lab_networks") if settings is None else settings

    def gateway(where, net, spec):
        address = spec.get("gateway")
        if address is not None:
            address = ipaddress.IPv4Address(str(address))
            if address not in net:
                raise SaltCloudConfigError(f"nspawn: {where}:gateway {address} is not in {net}")
        return {"gateway": address}

    nets = _cloud().lab_networks(raw, DEFAULTS["mtu"], (1280, 9000), gateway)
    for name, spec in nets.items():
        spec["bridge"] = f"sl-{name}"
    return nets


def node_addresses(vm_, nets, others):
    """
    The node's address on each of its NICs, in NIC order, from the profile's
    ``nics`` and ``host_number``; refused when an address is not usable or
    another node already has it.
    """
    nics = vm_.get("nics") or []
    number = vm_.get("host_number")
    if not nics or not isinstance(number, int):
        raise SaltCloudConfigError(f"nspawn: profile of {vm_['name']} needs 'nics' (a list) and 'host_number' (an int)")
    taken = {ip for node in others for ip in node["addresses"].values()}
    addresses = {}
    for nic in nics:
        if nic not in nets:
            raise SaltCloudConfigError(f"nspawn: {vm_['name']}: unknown network {nic!r}")
        net = nets[nic]
        if not 0 < number < net["net"].num_addresses - 1:
            raise SaltCloudConfigError(f"nspawn: {vm_['name']}: host_number {number} is outside {net['net']}")
        address = net["net"].network_address + number
        if address == net["gateway"] or str(address) in taken:
            raise SaltCloudConfigError(f"nspawn: {vm_['name']}: address {address} on {nic} is already in use")
        addresses[nic] = str(address)
    return addresses


# ---------------------------------------------------------------------------
# node records


def _nodes_dir():
    return os.path.join(_cloud().setting("state_dir"), "nodes")


def _node_dir(name):
    return os.path.join(_nodes_dir(), name)


def _console_log(name):
    """
    The node's console, kept after a failed create for the post-mortem.
    """
    logs = os.path.join(_cloud().setting("state_dir"), "logs")
    os.makedirs(logs, exist_ok=True)
    return os.path.join(logs, f"{name}.console.log")


def _load(name):
    try:
        with open(os.path.join(_node_dir(name), "node.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def _save(node):
    path = os.path.join(_node_dir(node["name"]), "node.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(node, fh, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def _all_nodes():
    try:
        names = sorted(os.listdir(_nodes_dir()))
    except FileNotFoundError:
        return []
    return [node for node in map(_load, names) if node]


def _process_start(pid):
    """
    A process's start time in clock ticks since boot, or None when it is
    gone or a zombie: with the pid it names one process for good.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def _running(node):
    pid = node.get("supervisor_pid")
    return bool(pid) and _process_start(pid) == node.get("supervisor_start")


# ---------------------------------------------------------------------------
# image


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


def _ensure_image(name):
    recipe = _config_path("tools/build-image")
    salt_version = salt.version.__version__
    mirror = _cloud().setting("mirror")
    cache = _cloud().setting("image_cache")
    image = os.path.join(cache, f"debian-13-{image_recipe_hash(recipe, salt_version, mirror)}")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(image):
            _cloud().progress(name, f"building node image {image} (once; a few minutes)")
            started = time.monotonic()
            proc = subprocess.run([recipe, image, salt_version, mirror], stdout=sys.stderr, check=False)
            if proc.returncode != 0:
                raise SaltCloudSystemExit("nspawn: building the node image failed (see output above)")
            _cloud().progress(name, f"image built in {time.monotonic() - started:.0f} s")
    return image


# ---------------------------------------------------------------------------
# host networking


def _mirror_addresses():
    host = urllib.parse.urlsplit(_cloud().setting("mirror")).hostname
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM)})
    except OSError as exc:
        raise SaltCloudSystemExit(f"nspawn: cannot resolve the package mirror {host}: {exc}") from None


def _iptables_ensure(table, *rule):
    if _run("iptables", "-w", "-t", table, "-C", *rule, check=False).returncode != 0:
        _run("iptables", "-w", "-t", table, "-A", *rule)


@contextlib.contextmanager
def _host_lock():
    """
    Serialise changes to the host's bridges and rules between parallel
    creates and destroys (salt-cloud -P).
    """
    os.makedirs(_cloud().setting("state_dir"), exist_ok=True)
    with open(os.path.join(_cloud().setting("state_dir"), ".host.lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _ensure_host_network(nets):
    """
    Bridges for every network; the host's address on the public gateway;
    forwarding only from the public bridge to the mirror, NATed.
    """
    for spec in nets.values():
        bridge = spec["bridge"]
        if _run("ip", "link", "show", bridge, check=False).returncode != 0:
            _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "link", "set", bridge, "mtu", str(spec["mtu"]), "up")
        if spec["gateway"]:
            cidr = f"{spec['gateway']}/{spec['net'].prefixlen}"
            if cidr not in _run("ip", "-4", "-o", "addr", "show", "dev", bridge).stdout:
                _run("ip", "addr", "add", cidr, "dev", bridge)
    with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as fh:
        fh.write("1")
    for table, chain, hook in (("filter", FORWARD_CHAIN, "FORWARD"), ("nat", NAT_CHAIN, "POSTROUTING")):
        _run("iptables", "-w", "-t", table, "-N", chain, check=False)
        _run("iptables", "-w", "-t", table, "-F", chain)
        _iptables_ensure(table, hook, "-j", chain)
    # Frames bridged between two nodes on one lab network stay on it.
    _iptables_ensure("filter", FORWARD_CHAIN, "-m", "physdev", "--physdev-is-bridged", "-j", "ACCEPT")
    for spec in nets.values():
        if not spec["gateway"]:
            continue
        for address in _mirror_addresses():
            _iptables_ensure(
                "filter",
                FORWARD_CHAIN,
                "-i",
                spec["bridge"],
                "-d",
                address,
                "-p",
                "tcp",
                "-m",
                "multiport",
                "--dports",
                "80,443",
                "-j",
                "ACCEPT",
            )
            _iptables_ensure("nat", NAT_CHAIN, "-s", str(spec["net"]), "-d", address, "-j", "MASQUERADE")
        _iptables_ensure(
            "filter",
            FORWARD_CHAIN,
            "-o",
            spec["bridge"],
            "-m",
            "conntrack",
            "--ctstate",
            "ESTABLISHED,RELATED",
            "-j",
            "ACCEPT",
        )
    for spec in nets.values():
        _iptables_ensure("filter", FORWARD_CHAIN, "-i", spec["bridge"], "-j", "DROP")
        _iptables_ensure("filter", FORWARD_CHAIN, "-o", spec["bridge"], "-j", "DROP")
        if not spec["gateway"]:
            # The host is not on this network: its addresses must never
            # follow the default route off the machine.
            _run("ip", "route", "replace", "unreachable", str(spec["net"]))


def _remove_host_network(nets):
    for table, chain, hook in (("filter", FORWARD_CHAIN, "FORWARD"), ("nat", NAT_CHAIN, "POSTROUTING")):
        _run("iptables", "-w", "-t", table, "-D", hook, "-j", chain, check=False)
        _run("iptables", "-w", "-t", table, "-F", chain, check=False)
        _run("iptables", "-w", "-t", table, "-X", chain, check=False)
    for spec in nets.values():
        _run("ip", "link", "del", spec["bridge"], check=False)
        if not spec["gateway"]:
            _run("ip", "route", "del", "unreachable", str(spec["net"]), check=False)


# ---------------------------------------------------------------------------
# node life cycle


def _netns(name):
    return f"saltlab-{name}"


def _veth(name, nic):
    """
    Host-side veth name (15 characters at most, stable for a node and NIC).
    """
    return "sl" + hashlib.sha1(f"{name}/{nic}".encode()).hexdigest()[:10]


def _cgroups(name):
    return [
        os.path.join(root, "saltlab", name)
        for root in CGROUP_ROOTS
        if os.path.isfile(os.path.join(root, "cgroup.procs"))
    ]


def _write(root, path, content, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.chmod(full, mode)


def render_network_units(node, nets):
    """
    systemd-networkd units for the node's NICs: fixed address, MTU, and the
    default route on the NIC whose network has a gateway.
    """
    units = {}
    for nic, address in node["addresses"].items():
        spec = nets[nic]
        lines = [
            "[Match]",
            f"Name={nic}",
            "",
            "[Link]",
            f"MTUBytes={spec['mtu']}",
            "",
            "[Network]",
            f"Address={address}/{spec['net'].prefixlen}",
        ]
        if spec["gateway"]:
            lines.append(f"Gateway={spec['gateway']}")
        units[f"/etc/systemd/network/10-{nic}.network"] = "\n".join(lines) + "\n"
    return units


def _prepare_rootfs(node, nets, rootfs, pubkey):
    name = node["name"]
    _write(rootfs, "/etc/hostname", name + "\n")
    mirror = urllib.parse.urlsplit(_cloud().setting("mirror")).hostname
    hosts = ["127.0.0.1 localhost", f"127.0.1.1 {name}", "::1 localhost ip6-localhost ip6-loopback"]
    # Nodes have no DNS: the mirror is the one outside name they resolve.
    hosts += [f"{address} {mirror}  # saltlab: package mirror" for address in _mirror_addresses()]
    _write(rootfs, "/etc/hosts", "\n".join(hosts) + "\n")
    _write(rootfs, "/etc/resolv.conf", "# saltlab: nodes resolve names from /etc/hosts\n")
    for path, content in render_network_units(node, nets).items():
        _write(rootfs, path, content)
    _write(rootfs, "/root/.ssh/authorized_keys", pubkey, mode=0o600)
    os.chmod(os.path.join(rootfs, "root/.ssh"), 0o700)
    _run("ssh-keygen", "-A", "-f", rootfs)


def _start(node, nets):
    name = node["name"]
    netns = _netns(name)
    if _run("ip", "netns", "pids", netns, check=False).returncode != 0:
        _run("ip", "netns", "add", netns)
    for nic in node["addresses"]:
        veth = _veth(name, nic)
        if _run("ip", "link", "show", veth, check=False).returncode != 0:
            _run(
                "ip",
                "link",
                "add",
                veth,
                "mtu",
                str(nets[nic]["mtu"]),
                "type",
                "veth",
                "peer",
                "name",
                nic,
                "mtu",
                str(nets[nic]["mtu"]),
                "netns",
                netns,
            )
        _run("ip", "link", "set", veth, "master", nets[nic]["bridge"], "up")
    cgroups = _cgroups(name)
    for cgroup in cgroups:
        os.makedirs(cgroup, exist_ok=True)
    # The console is read, into the console log: one nobody reads
    # (--console=passive) fills up, and the node's init then blocks on its
    # next status line (seen as a reboot that never ends).
    command = [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--capability=all",
        "--directory",
        node["rootfs"],
        "--machine",
        name,
        f"--network-namespace-path=/run/netns/{netns}",
        "--console=read-only",
    ]
    if node.get("kvm"):
        command.append("--bind=/dev/kvm")
    # The supervisor puts itself in the node's cgroups and boots the node
    # again whenever it reboots (nspawn exits with 133 on reboot).
    script = "".join(f"echo $$ > {cg}/cgroup.procs; " for cg in cgroups) + (
        f'while :; do "$@"; rc=$?; [ $rc -eq {NSPAWN_REBOOT} ] || exit $rc; done'
    )
    env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1", SYSTEMD_NSPAWN_API_VFS_WRITABLE="network")
    with open(_console_log(name), "ab") as console:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            ["sh", "-c", script, f"saltlab-node-{name}", *command],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=console,
            env=env,
            start_new_session=True,
        )
    node["supervisor_pid"] = proc.pid
    node["supervisor_start"] = _process_start(proc.pid)


def _wait_for_ssh(node, timeout=120):
    """
    Wait until sshd answers inside the node's network namespace.
    """
    address = next(iter(node["addresses"].values()))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(node):
            raise SaltCloudSystemExit(
                f"nspawn: node {node['name']} stopped while booting; see {_console_log(node['name'])}"
            )
        probe = _run(
            "ip", "netns", "exec", _netns(node["name"]), "bash", "-c", f"exec 3<>/dev/tcp/{address}/22", check=False
        )
        if probe.returncode == 0:
            return
        time.sleep(0.5)
    raise SaltCloudSystemExit(f"nspawn: node {node['name']} did not start sshd in {timeout} s")


def _stop(node, timeout=30):
    """
    Power the node off (SIGTERM makes nspawn shut the container down), then
    make sure the supervisor and everything in the node's cgroups is gone.
    """
    if _running(node):
        pid = node["supervisor_pid"]
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _running(node) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _running(node):
            os.killpg(pid, signal.SIGKILL)
    for cgroup in _cgroups(node["name"]):
        for _ in range(50):
            procs = _cgroup_pids(cgroup)
            if not procs:
                break
            for pid in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for dirpath, _dirs, _files in sorted(os.walk(cgroup), reverse=True):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(dirpath)


def _cgroup_pids(cgroup):
    pids = []
    for dirpath, _dirs, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            with open(os.path.join(dirpath, "cgroup.procs"), encoding="ascii") as fh:
                pids += [int(line) for line in fh if line.strip()]
    return pids


def _teardown(node, nets):
    """
    Remove every trace of a node; safe on a half-created node.
    """
    name = node["name"]
    _stop(node)
    rootfs = os.path.join(_node_dir(name), "rootfs")
    if os.path.ismount(rootfs):
        _run("umount", "--lazy", rootfs)
    _run("ip", "netns", "del", _netns(name), check=False)
    for nic in node.get("addresses", {}):
        _run("ip", "link", "del", _veth(name, nic), check=False)
    shutil.rmtree(_node_dir(name), ignore_errors=True)
    with _host_lock():
        if not _all_nodes():
            _remove_host_network(nets)
            for cgroup in _cgroups(name):
                with contextlib.suppress(FileNotFoundError):
                    os.rmdir(os.path.dirname(cgroup))


def _ssh_keyfile(vm_):
    keyfile = _config_path(_cloud().setting("ssh_keyfile", vm_))
    return _cloud().keyfile(keyfile, f"the lab SSH key {keyfile} is missing; run tools/secrets to create it")


def _deploy(node, nets, vm_, keyfile, gateway):
    """
    Deploy Salt on a new node (salt-cloud's bootstrap with the profile's
    script); the node is removed when that fails.
    """
    name = node["name"]
    _cloud().progress(
        name, f"deploying Salt over SSH to {vm_['ssh_host']}" + (f" via {gateway['name']}" if gateway else "")
    )
    try:
        ret = __utils__["cloud.bootstrap"](vm_, __opts__)
        if config.get_cloud_config_value("make_master", vm_, __opts__) is True:
            _publish_master(name, vm_["ssh_host"], keyfile)
    except BaseException:
        _cloud().progress(name, "deploy failed; removing the node")
        _teardown(node, nets)
        raise
    return _cloud().deployed(ret)


def create(vm_):
    """
    Create a node from a profile and deploy Salt on it.

    CLI example:

    .. code-block:: bash

        salt-cloud -p local-compute compute3
    """
    name = validate_name(vm_["name"])
    nets = lab_networks()
    keyfile = _ssh_keyfile(vm_)
    if _load(name) is not None:
        raise SaltCloudSystemExit(f"nspawn: node {name} already exists; destroy it first")
    others = _all_nodes()
    node = {
        "name": name,
        "profile": vm_.get("profile"),
        "addresses": node_addresses(vm_, nets, others),
        "kvm": bool(_cloud().setting("kvm", vm_)) and os.path.exists("/dev/kvm"),
        "rootfs": os.path.join(_node_dir(name), "rootfs"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    gateway = None
    public = [nic for nic in node["addresses"] if nets[nic]["gateway"]]
    if not public:
        gateway = _load(str(_cloud().setting("ssh_gateway_node", vm_)))
        if gateway is None or not any(nets[n]["gateway"] for n in gateway["addresses"]):
            raise SaltCloudConfigError(
                f"nspawn: {name} has no public NIC and its ssh_gateway_node "
                f"{_cloud().setting('ssh_gateway_node', vm_)!r} is not a node with one"
            )
    _cloud().fire(name, "starting create", "creating", vm_=vm_)
    image = _ensure_image(name)
    node["image"] = image
    _cloud().progress(name, "starting node " + ", ".join(f"{n}={a}" for n, a in node["addresses"].items()))
    node_dir = _node_dir(name)
    try:
        os.makedirs(os.path.join(node_dir, "upper"))
        os.makedirs(os.path.join(node_dir, "work"))
        os.makedirs(node["rootfs"])
        _save(node)
        with _host_lock():
            _ensure_host_network(nets)
        _run(
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={image},upperdir={node_dir}/upper,workdir={node_dir}/work",
            node["rootfs"],
        )
        with open(keyfile + ".pub", encoding="utf-8") as fh:
            _prepare_rootfs(node, nets, node["rootfs"], fh.read())
        _start(node, nets)
        _save(node)
        _wait_for_ssh(node)
    except BaseException:
        _cloud().progress(name, "creation failed; removing what was made")
        _teardown(node, nets)
        raise

    if public:
        vm_["ssh_host"] = node["addresses"][public[0]]
    else:
        vm_["ssh_host"] = (
            node["addresses"]["mgmt"] if "mgmt" in node["addresses"] else next(iter(node["addresses"].values()))
        )
        bastion = next(a for n, a in gateway["addresses"].items() if nets[n]["gateway"])
        vm_["gateway"] = {
            "ssh_gateway": bastion,
            "ssh_gateway_user": "root",
            "ssh_gateway_key": keyfile,
            "ssh_gateway_command": "-W %h:%p",
        }
    vm_["key_filename"] = keyfile
    vm_.setdefault("ssh_username", "root")
    if config.get_cloud_config_value("deploy", vm_, __opts__, default=True) is False:
        _cloud().progress(name, "up; Salt not deployed (deploy: False)")
        ret = {}
    else:
        ret = _deploy(node, nets, vm_, keyfile, gateway)
    ret.update(_describe(node))
    _cloud().fire(name, "created instance", "created", vm_=vm_)
    _cloud().progress(name, "ready")
    return ret


def _publish_master(name, host, keyfile):
    """
    Record the new master as the bastion and push the state tree to it.
    """
    path = _config_path("var/bastion")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"bastion_host={host}\nbastion_key={keyfile}\n")
    _cloud().progress(name, "pushing the state tree and pillar to the master (tools/push)")
    proc = subprocess.run([_config_path("tools/push"), host], stdout=sys.stderr, check=False)
    if proc.returncode != 0:
        raise SaltCloudSystemExit("nspawn: tools/push to the new master failed (see above)")


def destroy(name, call=None):
    """
    Destroy a node: container, overlay, network namespace, veths, cgroups;
    the bridges and NAT rules go with the last node.

    CLI example:

    .. code-block:: bash

        salt-cloud -d compute2
    """
    _cloud().destroy(call)
    node = _load(name)
    if node is None:
        raise SaltCloudSystemExit(f"nspawn: no node named {name}")
    with _cloud().destroying(name, "destroying"):
        _teardown(node, lab_networks())
    return {"destroyed": name}


def _describe(node):
    nets = lab_networks()
    return {
        "id": node["name"],
        "image": os.path.basename(node.get("image", "")),
        "size": "container",
        "state": "running" if _running(node) else "stopped",
        "public_ips": [a for n, a in node["addresses"].items() if nets.get(n, {}).get("gateway")],
        "private_ips": [a for n, a in node["addresses"].items() if not nets.get(n, {}).get("gateway")],
    }


def list_nodes(call=None):
    """
    The lab's nodes with their state and addresses.

    CLI example:

    .. code-block:: bash

        salt-cloud -Q
    """
    _cloud().function(call, "list_nodes")
    return {node["name"]: _describe(node) for node in _all_nodes()}


def list_nodes_full(call=None):
    """
    Everything known about each node.

    CLI example:

    .. code-block:: bash

        salt-cloud -F
    """
    _cloud().function(call, "list_nodes_full")
    return {node["name"]: dict(node, **_describe(node)) for node in _all_nodes()}


def list_nodes_select(call=None):
    """
    The fields of each node chosen by ``query.selection``.

    CLI example:

    .. code-block:: bash

        salt-cloud -S
    """
    return _cloud().list_nodes_select(list_nodes_full, call)


def show_instance(name, call=None):
    """
    One node's details.

    CLI example:

    .. code-block:: bash

        salt-cloud -a show_instance controller
    """
    _cloud().action(call, "show_instance")
    node = _load(name)
    if node is None:
        raise SaltCloudSystemExit(f"nspawn: no node named {name}")
    return dict(node, **_describe(node))


def avail_images(call=None):
    """
    Node images built on this host (one per recipe; the newest is used).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-images local
    """
    _cloud().function(call, "avail_images")
    cache = _cloud().setting("image_cache")
    try:
        names = sorted(n for n in os.listdir(cache) if n.startswith("debian-13-") and ".build." not in n)
    except FileNotFoundError:
        names = []
    return {n: {"name": n, "os": "Debian 13 (trixie)", "path": os.path.join(cache, n)} for n in names}


def avail_sizes(call=None):
    """
    Containers share the host's CPUs and memory: there is one size.

    CLI example:

    .. code-block:: bash

        salt-cloud --list-sizes local
    """
    _cloud().function(call, "avail_sizes")
    return {"container": {"name": "container", "cpus": os.cpu_count(), "memory": "shared with the host"}}
