"""
salt-cloud driver for local lab nodes: systemd-nspawn containers on this host.

Each node is a Debian 13 container booted with systemd, on an overlay over a
cached image built once by ``tools/build-image`` and, for a node of the
model, its kind's role layer (``tools/build-role-image``: the packages its
highstate installs, installed once per package set), with its own network
namespace holding one veth per lab network. The host side of each veth sits
on a Linux bridge per network. The host is the gateway of the public
network only and NATs it to the package mirror, nothing else.

The lab's shape is the lab model (``pillar/model.yaml``): its networks
(CIDR, MTU, the public network's gateway), and for each node its NICs,
fixed addresses and roles; the minions' master is the model's master. The
provider (``cloud.providers.d/local.conf``) holds only what is this host's:

.. code-block:: yaml

    local:
      driver: nspawn
      ssh_keyfile: var/ssh/lab_ed25519
      mirror: http://deb.debian.org/debian
      role_images: True      # False: nodes install their packages as on a cloud

Profile keys: ``kvm`` (pass ``/dev/kvm`` when the host has it). A profile
that gives its own ``nics`` and ``host_number`` (``local-bare``) makes a
node outside the model, without Salt.

CLI examples:

.. code-block:: bash

    salt-cloud -m maps/local.yaml
    salt-cloud -Q
    salt-cloud -a show_instance controller
    salt-cloud -a start -m maps/local.yaml      # the nodes again, after the host rebooted
    salt-cloud -d compute2
"""

import ipaddress
import json
import logging
import os
import shutil
import time

import salt.utils.path
from salt.exceptions import SaltCloudConfigError, SaltCloudException, SaltCloudSystemExit

log = logging.getLogger(__name__)

__virtualname__ = "nspawn"

DEFAULTS = {
    "state_dir": "/var/lib/saltlab",
    "image_cache": "/var/cache/saltlab/images",
    "mirror": "http://deb.debian.org/debian",
    "ssh_keyfile": "var/ssh/lab_ed25519",
    # how long a node may take to power off before what is left is killed
    "stop_timeout": 90,
    # a node of the model boots with its kind's packages already installed
    # (a cached role layer, tools/build-role-image); False: as on a cloud,
    # its highstate installs them
    "role_images": True,
}


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
        __virtualname__, __active_provider_name__, __opts__, __utils__, DEFAULTS
    )


def get_configured_provider():
    """
    Return the first provider configured with this driver (and check the
    map salt-cloud is about to make).
    """
    return _cloud().configured()


def _host(function):
    """
    The host side (_utils/nspawn_host.py): image, bridges and rules, cgroups.
    """
    return __utils__[f"nspawn_host.{function}"]  # pylint: disable=undefined-variable


def _node(function, *args):
    """
    One node on this host (_utils/nspawn_node.py): root, network, boot, stop.
    """
    return __utils__[f"nspawn_node.{function}"](_cloud(), *args)  # pylint: disable=undefined-variable


def _running(node):
    return __utils__["nspawn_node.running"](node)  # pylint: disable=undefined-variable


# ---------------------------------------------------------------------------
# configuration checks


def validate_name(name):
    """
    A node name must be a lowercase RFC 1123 hostname label.
    """
    return _cloud().validate_name(name)


def lab_networks(model=None):
    """
    The model's networks as this host makes them: ``{name: {"cidr",
    "gateway" (None but on the public network), "mtu", "bridge",
    "public"}}``.
    """
    model = model or _cloud().model()
    public = model["purposes"]["public"]
    return {
        name: {
            "cidr": spec["cidr"],
            "gateway": str(spec["gateway"]) if name == public and spec.get("gateway") else None,
            "mtu": spec["mtu"],
            "bridge": f"sl-{name}",
            "public": name == public,
        }
        for name, spec in model["networks"].items()
    }


def outside_addresses(vm_, nets, model):
    """
    The addresses of a node outside the model (a profile with its own
    ``nics`` and ``host_number``), refused on a model node's host number.
    """
    nics, number = vm_.get("nics"), vm_.get("host_number")
    if not isinstance(nics, list) or not nics or not isinstance(number, int) or isinstance(number, bool):
        raise SaltCloudConfigError(f"nspawn: profile of {vm_['name']} needs 'nics' (a list) and 'host_number' (an int)")
    addresses = {}
    for nic in nics:
        if nic not in nets:
            raise SaltCloudConfigError(f"nspawn: {vm_['name']}: unknown network {nic!r}")
        net = ipaddress.IPv4Network(nets[nic]["cidr"])
        if not 0 < number < net.num_addresses - 1:
            raise SaltCloudConfigError(f"nspawn: {vm_['name']}: host_number {number} is outside {net}")
        addresses[nic] = str(net.network_address + number)
    owners = __utils__["saltlab_model.host_numbers"](model)  # pylint: disable=undefined-variable
    if number in owners:
        raise SaltCloudConfigError(f"nspawn: {vm_['name']}: host number {number} is {owners[number]}'s in the model")
    return addresses


def _check_free(name, addresses, nets):
    taken = {ip: node["name"] for node in _all_nodes() for ip in node["addresses"].values()}
    taken.update({spec["gateway"]: "this host" for spec in nets.values() if spec["gateway"]})
    for nic, address in addresses.items():
        if address in taken:
            raise SaltCloudConfigError(
                f"nspawn: {name}: address {address} on {nic} is already in use by {taken[address]}"
            )


# ---------------------------------------------------------------------------
# node records


def _state_dir(*parts):
    return os.path.join(_cloud().setting("state_dir"), *parts)


def _node_dir(name):
    return _state_dir("nodes", name)


def _console_log(name):
    """
    The node's console, kept after a failed create for the post-mortem;
    readable by root only, as the node's directory.
    """
    logs = _state_dir("logs")
    os.makedirs(logs, mode=0o700, exist_ok=True)
    os.chmod(logs, 0o700)
    path = os.path.join(logs, f"{name}.console.log")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)
    return path


def _load(name):
    try:
        with open(os.path.join(_node_dir(name), "node.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _save(node):
    path = os.path.join(_node_dir(node["name"]), "node.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(node, fh, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def _all_nodes():
    try:
        names = sorted(os.listdir(_state_dir("nodes")))
    except FileNotFoundError:
        return []
    return [node for node in map(_load, names) if node]


def _nets_of(node):
    """
    The networks a node was made on (its record), or the model's for a
    record made before they were recorded.
    """
    return node.get("networks") or lab_networks()


def _power_up(node, nets):
    """
    The node running from its overlay: host network, mount, namespace and
    veths, supervisor; sshd answering.
    """
    with _host("host_lock")(_cloud()):
        # the host's rules are made again whole, for the networks of every
        # node (this one's record is saved first): a node on fewer networks
        # (storage: mgmt only) booting last must not drop the public
        # network's way to the mirror
        lab_nets = {net: spec for other in _all_nodes() for net, spec in _nets_of(other).items()}
        _host("ensure_host_network")(_cloud(), dict(lab_nets, **nets))
    _node("mount", node, _node_dir(node["name"]))
    _node("plug", node, nets)
    _node("boot", node, _console_log(node["name"]))
    _save(node)
    _node("wait_for_ssh", node, _console_log(node["name"]))


def _steps(name, doing, steps):
    """
    Run every step, even after one fails; then one error naming each failure.
    """
    failures = []
    for what, step in steps:
        try:
            step()
        except (OSError, SaltCloudException) as exc:
            log.debug("nspawn: %s: %s", name, what, exc_info=True)
            failures.append(f"{what}: {exc}")
    if failures:
        raise SaltCloudSystemExit(f"nspawn: {doing} {name}: " + "; ".join(failures))


def _teardown(node):
    """
    Remove every trace of a node; safe on a half-created node.
    """
    name = node["name"]

    def networks():
        # the bridges no other node is on (the lab's rules and cgroup tree
        # with the last node): with nodes destroyed in parallel, the last
        # one is not on every network
        with _host("host_lock")(_cloud()):
            others = _all_nodes()
            used = {net for other in others for net in _nets_of(other)}
            unused = {net: spec for net, spec in _nets_of(node).items() if net not in used}
            _host("remove_host_network")(unused, rules=not others)
            if not others:
                for root in _host("cgroups")(name):
                    _host("remove_cgroup_tree")(os.path.dirname(root))

    def files():
        if os.path.ismount(node["rootfs"]):
            raise SaltCloudSystemExit(f"{node['rootfs']} is still mounted; its files are kept")
        if os.path.isdir(_node_dir(name)):
            shutil.rmtree(_node_dir(name))

    _steps(
        name,
        "destroying",
        [("stopping it", lambda: _node("stop", node)), ("its mount and network", lambda: _node("unplug", node))]
        + [("its files", files), ("the lab's bridges and rules", networks)],
    )


# ---------------------------------------------------------------------------
# what the shared life cycle (_utils/saltlab_node.py) asks of this driver


def _ssh_keyfile(vm_):
    keyfile = _cloud().config_path(_cloud().setting("ssh_keyfile", vm_))
    return _cloud().keyfile(keyfile, f"the lab SSH key {keyfile} is missing; run tools/secrets to create it")


def _check(vm_, deploy):
    """
    Everything about the new node, checked before anything is made.
    """
    name = validate_name(vm_["name"])
    model = _cloud().model()
    nets = lab_networks(model)
    keyfile = _ssh_keyfile(vm_)
    if _load(name) is not None:
        raise SaltCloudSystemExit(f"nspawn: node {name} already exists; destroy it first")
    node = None if vm_.get("nics") else _cloud().lab_node(name, model)
    addresses = outside_addresses(vm_, nets, model) if node is None else node["addresses"]
    _check_free(name, addresses, nets)
    public = [nic for nic in addresses if nets[nic]["public"]]
    gateway = None
    if deploy and not public:
        master = _load(model["master"])
        gateway = next((a for n, a in (master or {}).get("addresses", {}).items() if nets[n]["public"]), None)
        if gateway is None:
            raise SaltCloudConfigError(
                f"nspawn: {name} has no public NIC and the master {model['master']!r} is not a node with one; "
                "create it first (the map does)"
            )
    record = {
        "name": name,
        "profile": vm_.get("profile"),
        "addresses": addresses,
        "networks": {nic: nets[nic] for nic in addresses},
        "kvm": bool(_cloud().setting("kvm", vm_)) and os.path.exists("/dev/kvm"),
        "rootfs": os.path.join(_node_dir(name), "rootfs"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    plan = {"model": model, "node": node, "keyfile": keyfile, "user": "root", "gateway": gateway}
    return dict(plan, public=bool(public), addresses=addresses, record=record)


def _make(plan):
    """
    The node's image, directories, overlay and root file system, then the
    node booted until sshd answers.
    """
    record = plan["record"]
    name = record["name"]
    record["image"] = _host("ensure_image")(_cloud(), name)
    record["role_layer"] = _host("ensure_role_layer")(_cloud(), name, plan["node"], record["image"])
    addresses = record["addresses"]
    _cloud().progress(name, "starting node " + ", ".join(f"{n}={a}" for n, a in addresses.items()))
    plan["public_address"] = next((a for n, a in addresses.items() if record["networks"][n]["public"]), None)
    node_dir = _node_dir(name)
    os.makedirs(_state_dir("nodes"), mode=0o700, exist_ok=True)
    os.chmod(_state_dir("nodes"), 0o700)
    os.makedirs(node_dir, mode=0o700)
    for part in ("upper", "work", "rootfs"):
        os.makedirs(os.path.join(node_dir, part))
    _save(record)
    _node("mount", record, node_dir)
    with open(plan["keyfile"] + ".pub", encoding="utf-8") as fh:
        _node("prepare_rootfs", record, record["networks"], fh.read())
    _power_up(record, record["networks"])


def _lookup(name):
    node = _load(name)
    if node is None:
        raise SaltCloudSystemExit(f"nspawn: no node named {name}")
    return node


def _describe(node):
    nets = _nets_of(node)
    public = [a for n, a in node["addresses"].items() if nets.get(n, {}).get("public")]
    return {
        "id": node["name"],
        "image": os.path.basename(node.get("image", "")),
        "size": "container",
        "state": "running" if _running(node) else "stopped",
        "public_ips": public,
        "private_ips": [a for a in node["addresses"].values() if a not in public],
    }


def _ops():
    return {
        "check": _check,
        "make": _make,
        "host_keys": lambda plan: __utils__["nspawn_node.host_keys"](plan["record"]["rootfs"]),  # noqa: F821
        "remove": lambda plan: _teardown(plan["record"]),
        "describe": lambda plan: _describe(plan["record"]),
        "lookup": _lookup,
        "addresses": lambda node: list(node["addresses"].values()),
        "delete": _teardown,
        "destroying": "destroying",
    }


# ---------------------------------------------------------------------------
# salt-cloud functions


def create(vm_):
    """``salt-cloud -p local-compute compute3``: a node from a profile, Salt deployed on it."""
    return _cloud().create(vm_, _ops())


def destroy(name, call=None):
    """
    ``salt-cloud -d compute2``: the node whole (its host keys and its key on
    the master too); the lab's bridges and rules go with the last node.
    """
    return _cloud().destroy(name, call, _ops())


def start(name, kwargs=None, call=None):  # pylint: disable=unused-argument
    """
    Boot a stopped node again from its overlay (after this host rebooted:
    its namespace, veths, bridges, rules and mount are made again).

    CLI example:

    .. code-block:: bash

        salt-cloud -a start -m maps/local.yaml -y
    """
    _cloud().action(call, "start")
    node = _lookup(name)
    if _running(node):
        return {"name": name, "state": "running"}
    _cloud().progress(name, "starting it again from its overlay")
    _node("stop", node)  # what a crash or a reboot of the host left of it
    _node("unplug", node)
    _power_up(node, _nets_of(node))
    return {"name": name, "state": "running"}


def stop(name, kwargs=None, call=None):  # pylint: disable=unused-argument
    """
    Power a node off, keeping its overlay (``start`` boots it again).

    CLI example:

    .. code-block:: bash

        salt-cloud -a stop compute2
    """
    _cloud().action(call, "stop")
    node = _lookup(name)
    _cloud().progress(name, "powering it off")
    _steps(
        name,
        "stopping",
        [("stopping it", lambda: _node("stop", node)), ("its mount and network", lambda: _node("unplug", node))],
    )
    return {"name": name, "state": "stopped"}


def _inventory():
    return {
        node["name"]: (lambda n=node: _describe(n), lambda n=node: dict(n, **_describe(n))) for node in _all_nodes()
    }


def _listing(function):
    """``salt-cloud`` -Q (``list_nodes``), -F (``list_nodes_full``), -S (``list_nodes_select``)."""
    return lambda call=None: getattr(_cloud(), function)(call, _inventory)


list_nodes, list_nodes_full, list_nodes_select = map(_listing, ("list_nodes", "list_nodes_full", "list_nodes_select"))


def show_instance(name, call=None):
    """
    One node's details.

    CLI example:

    .. code-block:: bash

        salt-cloud -a show_instance controller
    """
    return _cloud().show_instance(name, call, _load, lambda n: dict(n, **_describe(n)), "this host")


def clean_host(kwargs=None, call=None):  # pylint: disable=unused-argument
    """
    What a lab left on this host once it has no node (its nodes removed by
    hand, or an older driver's teardown): the lab's bridges and routes, its
    forwarding and NAT rules, its cgroup tree. Refused while a node exists.

    CLI example:

    .. code-block:: bash

        salt-cloud -f clean_host local
    """
    _cloud().function(call, "clean_host")
    with _host("host_lock")(_cloud()):
        nodes = _all_nodes()
        if nodes:
            names = ", ".join(node["name"] for node in nodes)
            raise SaltCloudSystemExit(f"nspawn: this host still has nodes ({names}): destroy them first")
        nets = lab_networks()
        _host("remove_host_network")(nets, rules=True)
        for root in _host("cgroups")(""):
            _host("remove_cgroup_tree")(os.path.dirname(root))
    return {"cleaned": sorted(spec["bridge"] for spec in nets.values())}


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
