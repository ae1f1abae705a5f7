"""
The lab model (``pillar/model.yaml``): the one description of the lab's
shape, read and checked here for everything that needs it: the salt-cloud
drivers (networks, NICs and addresses of a node, the master, the public
firewall), the lab's own checks on the minions (``_modules/saltlab.py``),
``tools/secrets`` and ``tools/lab.py``.

Plain Python (no Salt import), so the tools load it by path; Salt's loader
also loads it as a utils module (``__utils__["saltlab_model.node"]``).

.. code-block:: python

    model = load("pillar/model.yaml")
    node(model, "compute2")["addresses"]      # {"mgmt": "192.168.1.22", ...}
    address(model, model["master"], "mgmt")   # "192.168.1.12"

Every check raises :class:`ModelError` with one line naming the key.
"""

import ipaddress
import re

import yaml

PATH = "pillar/model.yaml"
# what a network is for: exactly one network of each
PURPOSES = ("public", "management", "underlay")
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,19}")
NETWORK_RE = re.compile(r"[a-z][a-z0-9]{0,11}")
KIND_RE = re.compile(r"[a-z][a-z-]{0,50}[a-z]")
# every network's: IPv6's minimum up, so that the underlay's less VXLAN
# is always more than IPv4's 576
MTU_RANGE = (1280, 9000)
# VXLAN's headers over IPv4: what the underlay's MTU loses for the tenant
# and external networks it carries
VXLAN_OVERHEAD = 50


class ModelError(ValueError):
    """
    A model (or a node name) that cannot build a lab: ``key`` names the bad
    key of the model (None for a node name), ``message`` says what is wrong.
    """

    def __init__(self, key, message):
        super().__init__(f"model {key}: {message}" if key else message)
        self.key = key
        self.message = message


def load(path=PATH):
    """
    Read and check the model file; returns the checked model (see :func:`check`).
    """
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise ModelError(None, f"the lab model {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ModelError(None, f"the lab model {path} is not YAML: {exc}") from None
    return check(raw)


def _fail(key, message):
    raise ModelError(key, message)


def _mapping(value, key):
    if not isinstance(value, dict) or not value:
        _fail(key, "must be a mapping")
    return value


def _integer(value, key, low, high):
    # bool is an int in Python; a YAML `yes` is not a number
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail(key, f"must be an integer {low}-{high}, got {value!r}")
    return value


def _network(value, key):
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError as exc:
        _fail(key, f"is not an IPv4 network in CIDR notation ({exc})")


def _address_in(value, net, key):
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError:
        _fail(key, f"is not an IPv4 address: {value!r}")
    if address not in net or address in (net.network_address, net.broadcast_address):
        _fail(key, f"{address} is not a host address in {net}")
    return address


def check(raw):
    """
    The model checked whole, or :class:`ModelError` naming the first bad
    key. Returns a copy with, besides the file's keys:
    ``purposes`` ({purpose: network name}), per network ``purpose``, and
    ``mtus`` ({"path": underlay MTU, "physnet": external/tenant MTU,
    "vxlan_overhead"}).
    """
    model = dict(_mapping(raw, "(the whole file)"))
    if not isinstance(model.get("name"), str) or not NAME_RE.fullmatch(model["name"]):
        _fail("name", "must be 1-20 lowercase letters, digits or '-', starting with a letter")
    if not isinstance(model.get("region"), str) or not model["region"]:
        _fail("region", "must be a region name")
    _check_networks(model)
    _check_external(model)
    _check_nodes(model)
    _check_ports(model)
    # the secrets' roles: the file has them; the pillar's copy of the model does not
    roles = {role for kind in model["nodes"].values() for role in kind["roles"]}
    for name, wanted in _mapping(model.get("secrets"), "secrets").items() if "secrets" in model else ():
        if not isinstance(wanted, list) or not set(wanted) <= roles:
            _fail(f"secrets:{name}", f"must list roles of the model's nodes ({', '.join(sorted(roles))})")
    return model


def _check_networks(model):
    networks = {}
    purposes = {}
    for name, spec in _mapping(model.get("networks"), "networks").items():
        key = f"networks:{name}"
        if not isinstance(name, str) or not NETWORK_RE.fullmatch(name):
            _fail(key, "network names are 1-12 lowercase letters or digits, starting with a letter")
        spec = dict(_mapping(spec, key))
        net = _network(spec.get("cidr"), f"{key}:cidr")
        spec["mtu"] = _integer(spec.get("mtu"), f"{key}:mtu", *MTU_RANGE)
        if spec.get("gateway") is not None:
            _address_in(spec["gateway"], net, f"{key}:gateway")
        for purpose in PURPOSES:
            if spec.get(purpose) is True:
                if purpose in purposes:
                    _fail(f"{key}:{purpose}", f"networks:{purposes[purpose]} is already the {purpose} network")
                purposes[purpose] = name
                spec["purpose"] = purpose
        networks[name] = spec
    _check_overlaps(networks)
    for purpose in PURPOSES:
        if purpose not in purposes:
            _fail("networks", f"no network is marked `{purpose}: true`")
    path = networks[purposes["underlay"]]["mtu"]
    mtus = {"path": path, "physnet": path - VXLAN_OVERHEAD, "vxlan_overhead": VXLAN_OVERHEAD}
    model.update(networks=networks, purposes=purposes, mtus=mtus)


def _check_overlaps(networks):
    """
    No two networks overlap. The pair is named the same whatever the order
    of the mapping (a pillar's is not the file's): the key is the network
    later in the order of purposes (public, management, underlay, then the
    others by name), the message names the other.
    """
    rank = {purpose: index for index, purpose in enumerate(PURPOSES)}
    ordered = sorted(networks, key=lambda name: (rank.get(networks[name].get("purpose"), len(rank)), name))
    for index, name in enumerate(ordered):
        net = ipaddress.IPv4Network(networks[name]["cidr"])
        for other in ordered[:index]:
            if net.overlaps(ipaddress.IPv4Network(networks[other]["cidr"])):
                _fail(f"networks:{name}:cidr", f"{net} overlaps networks:{other}:cidr {networks[other]['cidr']}")


def _check_external(model):
    external = dict(_mapping(model.get("external"), "external"))
    net = _network(external.get("cidr"), "external:cidr")
    for name, spec in model["networks"].items():
        if net.overlaps(ipaddress.IPv4Network(spec["cidr"])):
            _fail("external:cidr", f"{net} overlaps networks:{name}:cidr {spec['cidr']}")
    _address_in(external.get("gateway"), net, "external:gateway")
    model["external"] = external


def _check_nodes(model):
    kinds = {}
    owners = {}
    for kind, spec in _mapping(model.get("nodes"), "nodes").items():
        key = f"nodes:{kind}"
        if not isinstance(kind, str) or not KIND_RE.fullmatch(kind):
            _fail(key, "node kinds are lowercase letters and '-'")
        spec = dict(_mapping(spec, key))
        count = spec.get("count")
        if count is not None:
            _integer(count, f"{key}:count", 1, 99)
        nics = spec.get("nics")
        if not isinstance(nics, list) or not nics or len(set(nics)) != len(nics):
            _fail(f"{key}:nics", "must list networks, each once")
        for nic in nics:
            if nic not in model["networks"]:
                _fail(f"{key}:nics", f"unknown network {nic!r} (networks: {', '.join(model['networks'])})")
        if model["purposes"]["management"] not in nics:
            _fail(f"{key}:nics", f"every node needs the management network {model['purposes']['management']}")
        roles = spec.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
            _fail(f"{key}:roles", "must list role names")
        smallest = min(ipaddress.IPv4Network(model["networks"][n]["cidr"]).num_addresses for n in nics)
        first = _integer(spec.get("host"), f"{key}:host", 0 if count else 1, smallest - 2 - (count or 0))
        gateways = {
            int(ipaddress.IPv4Address(network["gateway"])) - int(ipaddress.IPv4Network(network["cidr"]).network_address)
            for network in (model["networks"][n] for n in nics)
            if network.get("gateway")
        }
        for host in range(first + 1, first + count + 1) if count else [first]:
            if host in gateways:
                _fail(f"{key}:host", f"host number {host} is the gateway's on one of its networks")
            if host in owners:
                _fail(f"{key}:host", f"host number {host} is also {owners[host]}'s")
            owners[host] = kind if not count else f"{kind}{host - spec['host']}"
        kinds[kind] = spec
    model["nodes"] = kinds
    master = model.get("master")
    if master not in kinds or kinds[master].get("count"):
        _fail("master", f"must name a node kind without count, got {master!r}")
    if model["purposes"]["public"] not in kinds[master]["nics"]:
        _fail("master", f"{master} has no NIC on the public network: the operator could not reach it")


def _check_ports(model):
    entry = dict(_mapping(model.get("entry"), "entry"))
    for key in ("ssh_port", "novnc_port"):
        _integer(entry.get(key), f"entry:{key}", 1, 65535)
    if not isinstance(entry.get("ca"), str) or not entry["ca"].startswith("/"):
        _fail("entry:ca", "must be an absolute path")
    model["entry"] = entry
    seen = {entry["ssh_port"]: "entry:ssh_port", entry["novnc_port"]: "entry:novnc_port"}
    for service, entry in _mapping(model.get("catalog"), "catalog").items():
        key = f"catalog:{service}"
        entry = _mapping(entry, key)
        _integer(entry.get("port"), f"{key}:port", 1, 65535)
        public = _integer(entry.get("public_port", entry["port"]), f"{key}:public_port", 1, 65535)
        if public in seen:
            _fail(key, f"the proxy's port {public} is also {seen[public]}")
        seen[public] = key
        if not isinstance(entry.get("path", ""), str):
            _fail(f"{key}:path", "must be a URL path or ''")


def node(model, name):
    """
    The node ``name`` as the model makes it: ``{"name", "kind", "host",
    "nics", "roles", "addresses": {network: address}}``; a name that is no
    node of the model raises :class:`ModelError` saying which names are.
    """
    if not isinstance(name, str):
        raise ModelError(None, f"node name {name!r} is not a string")
    for kind, spec in model["nodes"].items():
        count = spec.get("count")
        if count:
            match = re.fullmatch(rf"{re.escape(kind)}([1-9][0-9]*)", name)
            if not match:
                continue
            number = int(match.group(1))
            if number > count:
                raise ModelError(
                    None, f"node {name}: the model allows {kind}1 to {kind}{count} (nodes:{kind}:count is {count})"
                )
            host = spec["host"] + number
        elif name == kind:
            host = spec["host"]
        else:
            continue
        return {
            "name": name,
            "kind": kind,
            "host": host,
            "nics": list(spec["nics"]),
            "roles": list(spec["roles"]),
            "addresses": {nic: address(model, host, nic) for nic in spec["nics"]},
        }
    raise ModelError(None, f"node {name!r} is not a node of the lab model (nodes: {', '.join(_names(model))})")


def _names(model):
    return [f"{kind}1..{kind}{spec['count']}" if spec.get("count") else kind for kind, spec in model["nodes"].items()]


def address(model, host, network):
    """The address of host number ``host`` on ``network``."""
    return str(ipaddress.IPv4Network(model["networks"][network]["cidr"]).network_address + host)


def master_address(model, purpose="management"):
    """The master's address on the network of that purpose (management: where minions reach it)."""
    return node(model, model["master"])["addresses"][model["purposes"][purpose]]


def host_numbers(model):
    """Every host number the model gives a node: ``{number: node name}``."""
    hosts = {}
    for kind, spec in model["nodes"].items():
        if spec.get("count"):
            hosts.update({spec["host"] + n: f"{kind}{n}" for n in range(1, spec["count"] + 1)})
        else:
            hosts[spec["host"]] = kind
    return hosts


def check_names(model, names):
    """
    The nodes of a map, checked together before anything is made: each a
    node of the model, none twice. Returns ``{name: node}``.
    """
    nodes = {}
    for name in names:
        if name in nodes:
            raise ModelError(None, f"node {name} is in the map twice")
        nodes[name] = node(model, name)
    return nodes


def proxy_ports(model, services=None):
    """
    The ports the master's public NIC serves: SSH, the noVNC websocket and
    the proxy's port of each catalog service (of ``services`` only, when
    given).
    """
    ports = {model["entry"]["ssh_port"], model["entry"]["novnc_port"]}
    for service, entry in model["catalog"].items():
        if services is None or service in services:
            ports.add(entry.get("public_port", entry["port"]))
    return sorted(ports)


def secrets_for(model, roles):
    """The names of the secrets that nodes of ``roles`` get."""
    return sorted(name for name, wanted in model["secrets"].items() if set(wanted) & set(roles))
