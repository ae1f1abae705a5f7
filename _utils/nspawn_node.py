"""
One node of the nspawn driver (``_clouds/nspawn.py``) on this host: its
root file system (overlay, hostname, addresses, the lab key, its own SSH
host keys), its network namespace and veths, the supervisor that boots it
with systemd-nspawn (and again after a reboot inside), and powering it off.

A Salt utils module (``__utils__["nspawn_node.<function>"]``); functions
take the driver's ``saltlab_cloud.Cloud`` for its settings, and the node's
record (``{"name", "addresses", "rootfs", "image", "kvm", ...}``).

Another user of these functions (the gce rehearsal, tests/fakes/rehearsal.py)
names its nodes' things its own way in the record (:func:`names`): the
network namespace, the veths' prefix, the network namespace that holds the
bridges, the cgroup group and the supervisor's process name.
"""

import hashlib
import ipaddress
import logging
import os
import subprocess
import time
import urllib.parse

from salt.exceptions import SaltCloudSystemExit

log = logging.getLogger(__name__)

NSPAWN_REBOOT = 133
# A node keeps systemd-nspawn's default bounding set (systemd-nspawn(1),
# --capability: CAP_AUDIT_CONTROL, CAP_AUDIT_WRITE, CAP_CHOWN,
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID,
# CAP_IPC_OWNER, CAP_KILL, CAP_LEASE, CAP_LINUX_IMMUTABLE, CAP_MKNOD,
# CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_RAW, CAP_SETFCAP,
# CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_BOOT,
# CAP_SYS_CHROOT, CAP_SYS_NICE, CAP_SYS_PTRACE, CAP_SYS_RESOURCE,
# CAP_SYS_TTY_CONFIG: systemd itself, mounts, network namespaces, the
# cgroup tree inside, libvirt's per-guest mount namespaces and device
# nodes, and what the privsep daemons of Nova, Neutron and os-vif keep of
# them: CAP_SYS_ADMIN, CAP_DAC_*, CAP_CHOWN, CAP_FOWNER, CAP_SYS_PTRACE)
# and gets these, instead of every capability (--capability=all):
CAPABILITIES = (
    # The node's own network namespace: Open vSwitch's bridges and ports
    # (the userspace datapath's tap devices), Neutron's routers and DHCP
    # in namespaces with their veths, libvirt's tap devices for the
    # guests, addresses and routes, nftables (the proxy's firewall, the
    # external network's NAT), the net.* sysctls. The privsep daemons of
    # Nova, Neutron and os-vif ask for it and do not start when it is not
    # in their bounding set.
    "CAP_NET_ADMIN",
    # ovs-vswitchd locks its memory (--mlockall, Debian's default) so that
    # the switch is never paged out; without it, it logs an error at start.
    "CAP_IPC_LOCK",
)
# Not given: CAP_SYS_MODULE (no host kernel module is loaded from a node: the
# userspace datapath needs none), CAP_SYS_TIME (chronyd runs with -x: a
# node's clock is the host's), CAP_SYS_RAWIO (KVM's guests need only
# /dev/kvm, bound into compute nodes), and every other one.


def _run(cloud, *cmd, check=True):
    return cloud.utils["nspawn_host.run"](*cmd, check=check)


def process_start(pid):
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


def running(node):
    """Whether the node's supervisor (the very process it started) runs."""
    pid = node.get("supervisor_pid")
    return bool(pid) and process_start(pid) == node.get("supervisor_start")


def netns(name, prefix="saltlab-"):
    """The node's network namespace."""
    return f"{prefix}{name}"


def veth(name, nic, prefix="sl"):
    """
    Host-side veth name (15 characters at most, stable for a node and NIC).
    """
    return prefix + hashlib.sha1(f"{name}/{nic}".encode()).hexdigest()[:10]


def names(node):
    """
    What the node's things on this host are called: ``netns``, ``veth``
    (the prefix of the host-side veths), ``bridges_netns`` (the network
    namespace of the bridges: None for this host's own), ``cgroup`` (the
    group of its cgroups), ``supervisor`` (the supervisor's process name).
    The local provider's records give none of them: the defaults are its.
    """
    given = node.get("names") or {}
    return {
        "netns": given.get("netns") or netns(node["name"]),
        "veth": given.get("veth", "sl"),
        "bridges_netns": given.get("bridges_netns"),
        "cgroup": given.get("cgroup", "saltlab"),
        "supervisor": given.get("supervisor", "saltlab-node-") + node["name"],
    }


def _cgroups(cloud, node):
    group = names(node)["cgroup"]
    if group == "saltlab":
        return cloud.utils["nspawn_host.cgroups"](node["name"])
    return cloud.utils["nspawn_host.cgroups"](node["name"], group=group)


# ---------------------------------------------------------------------------
# the root file system


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
        lines = ["[Match]", f"Name={nic}", "", "[Link]", f"MTUBytes={spec['mtu']}", "", "[Network]"]
        lines.append(f"Address={address}/{ipaddress.IPv4Network(spec['cidr']).prefixlen}")
        if spec["gateway"]:
            lines.append(f"Gateway={spec['gateway']}")
        units[f"/etc/systemd/network/10-{nic}.network"] = "\n".join(lines) + "\n"
    return units


def prepare_rootfs(cloud, node, nets, pubkey):
    """
    What a node's overlay gets before it boots: hostname, /etc/hosts (the
    mirror pinned: nodes have no DNS), networkd units, the lab key for
    root, and SSH host keys of its own (the image has none).
    """
    name, rootfs = node["name"], node["rootfs"]
    _write(rootfs, "/etc/hostname", name + "\n")
    mirror = urllib.parse.urlsplit(cloud.setting("mirror")).hostname
    hosts = ["127.0.0.1 localhost", f"127.0.1.1 {name}", "::1 localhost ip6-localhost ip6-loopback"]
    hosts += [f"{a} {mirror}  # saltlab: package mirror" for a in cloud.utils["nspawn_host.mirror_addresses"](cloud)]
    _write(rootfs, "/etc/hosts", "\n".join(hosts) + "\n")
    _write(rootfs, "/etc/resolv.conf", "# saltlab: nodes resolve names from /etc/hosts\n")
    for path, content in render_network_units(node, nets).items():
        _write(rootfs, path, content)
    _write(rootfs, "/root/.ssh/authorized_keys", pubkey, mode=0o600)
    os.chmod(os.path.join(rootfs, "root/.ssh"), 0o700)
    _run(cloud, "ssh-keygen", "-A", "-f", rootfs)


def host_keys(rootfs):
    """
    The node's SSH host public keys (``type base64`` each), as
    ``ssh-keygen -A`` made them.
    """
    ssh = os.path.join(rootfs, "etc", "ssh")
    keys = []
    for name in sorted(os.listdir(ssh)):
        if name.startswith("ssh_host_") and name.endswith("_key.pub"):
            with open(os.path.join(ssh, name), encoding="ascii") as fh:
                keys.append(" ".join(fh.read().split()[:2]))
    return keys


def mount(cloud, node, node_dir):
    """The node's overlay over its role layer (if any) and the image, unless it is mounted."""
    if not os.path.ismount(node["rootfs"]):
        lower = ":".join(layer for layer in (node.get("role_layer"), node["image"]) if layer)
        layers = f"lowerdir={lower},upperdir={node_dir}/upper,workdir={node_dir}/work"
        _run(cloud, "mount", "-t", "overlay", "overlay", "-o", layers, node["rootfs"])


# ---------------------------------------------------------------------------
# network namespace and veths


def plug(cloud, node, nets):
    """
    The node's network namespace and a veth per NIC, its end on the
    network's bridge.
    """
    name, called = node["name"], names(node)
    space, bridges = called["netns"], called["bridges_netns"]
    ip = ("ip", "-n", bridges) if bridges else ("ip",)
    if _run(cloud, "ip", "netns", "pids", space, check=False).returncode != 0:
        _run(cloud, "ip", "netns", "add", space)
    for nic in node["addresses"]:
        link, mtu = veth(name, nic, called["veth"]), str(nets[nic]["mtu"])
        if _run(cloud, *ip, "link", "show", link, check=False).returncode != 0:
            # the peer is made in the node's namespace at once: parallel
            # creates would clash on its name in the host's
            peer = ("peer", "name", nic, "mtu", mtu, "netns", space)
            where = ("netns", bridges) if bridges else ()
            _run(cloud, "ip", "link", "add", link, *where, "mtu", mtu, "type", "veth", *peer)
        _run(cloud, *ip, "link", "set", link, "master", nets[nic]["bridge"], "up")


def unplug(cloud, node):
    """Unmount the node's root, remove its namespace and veths."""
    name, called = node["name"], names(node)
    ip = ("ip", "-n", called["bridges_netns"]) if called["bridges_netns"] else ("ip",)
    if os.path.ismount(node["rootfs"]):
        _run(cloud, "umount", "--lazy", node["rootfs"])
    _run(cloud, "ip", "netns", "del", called["netns"], check=False)
    for nic in node.get("addresses", {}):
        _run(cloud, *ip, "link", "del", veth(name, nic, called["veth"]), check=False)


# ---------------------------------------------------------------------------
# booting and powering off


def boot(cloud, node, console_log):
    """
    Start the node's supervisor, which boots it with systemd-nspawn, its
    console read into ``console_log``.
    """
    name, called = node["name"], names(node)
    cgroups = _cgroups(cloud, node)
    for cgroup in cgroups:
        os.makedirs(cgroup, exist_ok=True)
    # The console is read, into the console log: one nobody reads
    # (--console=passive) fills up, and the node's init then blocks on its
    # next status line (seen as a reboot that never ends).
    command = ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--capability=" + ",".join(CAPABILITIES)]
    command += ["--directory", node["rootfs"], "--machine", name, "--console=read-only"]
    command.append(f"--network-namespace-path=/run/netns/{called['netns']}")
    if node.get("kvm"):
        command.append("--bind=/dev/kvm")
    # block devices the node is given (the gce rehearsal's data disks)
    command += [f"--bind={device}" for device in node.get("devices", ())]
    # The supervisor puts itself in the node's cgroups and boots the node
    # again whenever it reboots (nspawn exits with 133 on reboot).
    script = "".join(f"echo $$ > {cg}/cgroup.procs; " for cg in cgroups) + (
        f'while :; do "$@"; rc=$?; [ $rc -eq {NSPAWN_REBOOT} ] || exit $rc; done'
    )
    env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1", SYSTEMD_NSPAWN_API_VFS_WRITABLE="network")
    with open(console_log, "ab") as console:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            ["sh", "-c", script, called["supervisor"], *command],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=console,
            env=env,
            start_new_session=True,
        )
    node["supervisor_pid"] = proc.pid
    node["supervisor_start"] = process_start(proc.pid)


def wait_for_ssh(cloud, node, console_log, timeout=120):
    """
    Wait until sshd answers inside the node's network namespace.
    """
    address = next(iter(node["addresses"].values()))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(node):
            raise SaltCloudSystemExit(f"nspawn: node {node['name']} stopped while booting; see {console_log}")
        probe = ["ip", "netns", "exec", names(node)["netns"], "bash", "-c", f"exec 3<>/dev/tcp/{address}/22"]
        if _run(cloud, *probe, check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise SaltCloudSystemExit(f"nspawn: node {node['name']} did not start sshd in {timeout} s")


def stop(cloud, node):
    """
    Power the node off, wait for its processes to end (killing what is left
    after ``stop_timeout``) and remove its cgroup trees, deepest first.
    """
    name = node["name"]
    trees = _cgroups(cloud, node)
    supervisor = node["supervisor_pid"] if running(node) else None
    cloud.utils["nspawn_host.end_processes"](name, supervisor, trees, float(cloud.setting("stop_timeout")))
    for tree in trees:
        cloud.utils["nspawn_host.remove_cgroup_tree"](tree)
