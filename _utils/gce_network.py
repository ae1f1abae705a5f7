"""
The lab's networks on Compute Engine, for the gce driver (``_clouds/gce.py``):
one VPC in custom-subnet mode with one subnetwork per network of the lab
model (``pillar/model.yaml``: CIDR, MTU), its firewall rule (the public
network: ICMP and the proxy's ports of the model from the operator's
address only; the others: everything from their own CIDR), and a Cloud
Router with Cloud NAT on the network ``nat_network`` names by its purpose
(default ``management``), for the nodes without an external address.

A Salt utils module (``__utils__["gce_network.<function>"]``): the request
bodies are pure functions; :func:`ensure`, :func:`remove`,
:func:`update_firewall` and :func:`users` take the driver's ``gce_api.Api``.
"""

import functools
import ipaddress
import logging
import urllib.request

from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

try:
    from google.cloud import compute_v1
except ImportError:
    compute_v1 = None

log = logging.getLogger(__name__)

# Compute Engine's range of VPC MTUs
MTU_RANGE = (1300, 8896)
# the widest operator range let in without operator_range_force
WIDEST_OPERATOR_PREFIX = 24


# ---------------------------------------------------------------------------
# what the model makes of the networks (pure)


def lab_networks(model):
    """
    The model's networks as VPCs: ``{name: {"net": IPv4Network, "external":
    bool (the public one), "mtu": int, "purpose": str|None}}``, refused when
    an MTU is outside Compute Engine's range.
    """
    nets = {}
    for name, spec in model["networks"].items():
        low, high = MTU_RANGE
        if not low <= spec["mtu"] <= high:
            raise SaltCloudConfigError(
                f"gce: model networks:{name}:mtu must be an integer {low}-{high} (Compute Engine's range)"
            )
        nets[name] = {
            "net": ipaddress.IPv4Network(spec["cidr"]),
            "external": spec.get("purpose") == "public",
            "mtu": spec["mtu"],
            "purpose": spec.get("purpose"),
        }
    return nets


def nat_network(model, value):
    """
    The network that gets the Cloud NAT, named by its purpose in the model
    (``nat_network``, default management: the first NIC of the nodes
    without an external address), or None when set to ''.
    """
    if not value:
        return None
    internal = [p for p in model["purposes"] if p != "public"]
    if value not in internal:
        raise SaltCloudConfigError(
            f"gce: nat_network {value!r} must name an internal network by its purpose "
            f"({', '.join(internal)}), or be '' for no Cloud NAT"
        )
    return model["purposes"][value]


def proxy_tag(lab):
    """The network tag of the master (the TLS proxy), the public rule's only target."""
    return f"{lab}-proxy"


def resource_names(lab, net):
    """
    Network, subnetwork, firewall, router and NAT names of one lab network.
    """
    return {
        "network": f"{lab}-{net}",
        "subnetwork": f"{lab}-{net}",
        "firewall": f"{lab}-{net}-in",
        "router": f"{lab}-{net}-router",
        "nat": f"{lab}-{net}-nat",
    }


def network_body(lab, net, spec):
    """A custom-mode VPC with the network's MTU."""
    return compute_v1.Network(
        name=resource_names(lab, net)["network"],
        auto_create_subnetworks=False,
        mtu=spec["mtu"],
        routing_config=compute_v1.NetworkRoutingConfig(routing_mode="REGIONAL"),
        description=f"saltlab lab {lab}: {net} network",
    )


def subnetwork_body(project, region, lab, net, spec):
    """The network's one subnetwork, its CIDR, in the lab's region."""
    return compute_v1.Subnetwork(
        name=resource_names(lab, net)["subnetwork"],
        ip_cidr_range=str(spec["net"]),
        network=f"projects/{project}/global/networks/{resource_names(lab, net)['network']}",
        region=region,
        description=f"saltlab lab {lab}: {net} subnetwork",
    )


def firewall_body(project, lab, net, spec, operator=None, ports=None):
    """
    The external network: ICMP and the given TCP ports from the operator
    only, to the master only (its network tag: the controller's external
    address lets nothing in). The others: everything from their own CIDR.
    """
    targets = {}
    if spec["external"]:
        allowed = [
            compute_v1.Allowed(I_p_protocol="icmp"),
            compute_v1.Allowed(I_p_protocol="tcp", ports=[str(p) for p in ports]),
        ]
        sources = [operator]
        targets = {"target_tags": [proxy_tag(lab)]}
        what = "ICMP, SSH and the proxy's ports from the operator only, to the master only"
    else:
        allowed = [compute_v1.Allowed(I_p_protocol="all")]
        sources = [str(spec["net"])]
        what = f"everything from {spec['net']}"
    return compute_v1.Firewall(
        **targets,
        name=resource_names(lab, net)["firewall"],
        direction="INGRESS",
        priority=1000,
        network=f"projects/{project}/global/networks/{resource_names(lab, net)['network']}",
        allowed=allowed,
        source_ranges=sources,
        description=f"saltlab lab {lab}: {what}",
    )


def router_body(project, region, lab, net):
    """
    A Cloud Router on the network with one Cloud NAT for all its
    subnetworks' ranges, on addresses Google allocates.
    """
    names = resource_names(lab, net)
    # no region in the body: the request's URL names it (the field is output only)
    return compute_v1.Router(
        name=names["router"],
        network=f"projects/{project}/global/networks/{names['network']}",
        description=f"saltlab lab {lab}: Cloud NAT for the nodes on {net} without an external address",
        nats=[
            compute_v1.RouterNat(
                name=names["nat"],
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                nat_ip_allocate_option="AUTO_ONLY",
            )
        ],
    )


def operator_cidr(value, url, force=False):
    """
    The operator's address as a /32: ``value`` (``operator_address``: an
    address or a CIDR) or, when empty, what ``url`` answers. A range wider
    than a /24 is refused unless ``force`` (``operator_range_force``).
    """
    if not value:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (configured URL)
                value = response.read(100).decode().strip()
        except (OSError, ValueError) as exc:
            raise SaltCloudConfigError(
                f"gce: could not detect your public address from {url} ({exc}); "
                "set operator_address in cloud.providers.d/gce.conf"
            ) from None
        source = url
    else:
        source = "operator_address"
    try:
        network = ipaddress.IPv4Network(str(value), strict=False)
    except ValueError:
        raise SaltCloudConfigError(f"gce: {source} gave {value!r}, not an IPv4 address") from None
    if network.prefixlen < WIDEST_OPERATOR_PREFIX and not force:
        raise SaltCloudConfigError(
            f"gce: {source} {network} would let {network.num_addresses} addresses reach the lab's SSH and APIs "
            f"(wider than a /{WIDEST_OPERATOR_PREFIX}); give your own address, or set operator_range_force: True "
            "to open it that wide"
        )
    return str(network)


# ---------------------------------------------------------------------------
# against the API


def _public_rule(api, conn, lab, nets, public_rule, label):
    """
    The public network's firewall body when its rule is missing (the
    operator's address is looked up only then), else None.
    """
    net = next(n for n, s in nets.items() if s["external"])
    name = resource_names(lab, net)["firewall"]
    if api.get(functools.partial(conn.firewalls.get, project=conn.project, firewall=name), f"reading firewall {name}"):
        return net, None
    operator_address, url, ports, force = public_rule
    operator = operator_cidr(operator_address, url, force)
    api.cloud.progress(
        label, f"the public network lets in {operator} only, on ICMP and TCP " + ", ".join(map(str, ports))
    )
    return net, firewall_body(conn.project, lab, net, nets[net], operator, ports)


def ensure(api, conn, lab, nets, nat, public_rule, label="lab", made=None):
    """
    Make the lab's networks, subnetworks, firewall rules and Cloud Router
    (with its NAT, on network ``nat``) that do not exist yet;
    ``public_rule``: (``operator_address``, ``operator_address_url``, the
    ports, ``operator_range_force``) for the public network's rule. Returns
    the names it made (also in ``made``, as it goes: what a failure
    half-way had made).
    """
    _zone, region = api.place()
    project = conn.project
    made = [] if made is None else made

    def make(kind, name, client, scope, body, **where):
        getter = functools.partial(client.get, project=project, **where, **{kind: name})
        inserter = functools.partial(client.insert, project=project, **where, **{f"{kind}_resource": body})
        if api.ensure(conn, kind, name, getter, inserter, scope, label):
            made.append(name)

    for net, spec in nets.items():
        make("network", resource_names(lab, net)["network"], conn.networks, ("global",), network_body(lab, net, spec))
    for net, spec in nets.items():
        body = subnetwork_body(project, region, lab, net, spec)
        make("subnetwork", body.name, conn.subnetworks, ("region", region), body, region=region)
    public, public_body = _public_rule(api, conn, lab, nets, public_rule, label)
    for net, spec in nets.items():
        body = public_body if net == public else firewall_body(project, lab, net, spec)
        if body is not None:
            make("firewall", body.name, conn.firewalls, ("global",), body)
    if nat:
        body = router_body(project, region, lab, nat)
        make("router", body.name, conn.routers, ("region", region), body, region=region)
    return made


def remove(api, conn, lab, nets, label="lab"):
    """
    Delete the lab's Cloud Router (its NAT goes with it), firewall rules,
    subnetworks, then networks (what exists of them). Returns the names it
    deleted.
    """
    _zone, region = api.place()
    project = conn.project
    removed = []
    # the router whatever nat_network says now: it may have been made under another setting
    steps = [
        ("router", ("region", region), {"region": region}, conn.routers),
        ("firewall", ("global",), {}, conn.firewalls),
        ("subnetwork", ("region", region), {"region": region}, conn.subnetworks),
        ("network", ("global",), {}, conn.networks),
    ]
    for kind, scope, where, client in steps:
        for net in nets:
            name = resource_names(lab, net)[kind]
            args = dict(where, project=project, **{kind: name})
            if api.get(functools.partial(client.get, **args), f"reading {kind} {name}") is None:
                continue
            api.cloud.progress(label, f"deleting {kind} {name}")
            if api.delete(conn, kind, functools.partial(client.delete, **args), scope, f"deleting {kind} {name}"):
                removed.append(name)
    return removed


def update_firewall(api, conn, lab, nets, public_rule):
    """
    Set the public network's rule to the operator's address and the ports
    now (``public_rule``, as for :func:`ensure`: after an address change,
    or a service added to the catalog).
    """
    net, spec = next((n, s) for n, s in nets.items() if s["external"])
    name = resource_names(lab, net)["firewall"]
    current = api.get(
        functools.partial(conn.firewalls.get, project=conn.project, firewall=name), f"reading firewall {name}"
    )
    if current is None:
        raise SaltCloudSystemExit(f"gce: there is no firewall {name} yet (salt-cloud -f create_lab_networks gce)")
    operator_address, url, ports, force = public_rule
    wanted = firewall_body(conn.project, lab, net, spec, operator_cidr(operator_address, url, force), ports)

    def summary(rule):
        return {
            "source_ranges": list(rule.source_ranges),
            "allowed": [(a.I_p_protocol, list(a.ports)) for a in rule.allowed],
            "target_tags": list(rule.target_tags),
        }

    after = summary(wanted)
    if summary(current) == after:
        return {"unchanged": name, **after}
    ports_text = ", ".join(after["allowed"][-1][1])
    api.cloud.progress("lab", f"firewall {name}: from {', '.join(after['source_ranges'])} on ICMP and TCP {ports_text}")
    patch = compute_v1.Firewall(
        source_ranges=wanted.source_ranges,
        allowed=wanted.allowed,
        target_tags=wanted.target_tags,
        description=wanted.description,
    )
    with api.doing(f"updating firewall {name}"):
        operation = conn.firewalls.patch(project=conn.project, firewall=name, firewall_resource=patch)
    api.wait(conn, operation, ("global",), f"updating firewall {name}")
    return {"updated": name, **after}


def users(api, conn, zone, lab, nets):
    """
    The instances of the zone with a NIC on one of the lab's networks.
    """
    wanted = {resource_names(lab, net)["network"] for net in nets}
    with api.doing(f"listing the instances of zone {zone}"):
        instances = list(conn.instances.list(project=conn.project, zone=zone))
    return sorted(
        i.name for i in instances if any(nic.network.rsplit("/", 1)[-1] in wanted for nic in i.network_interfaces)
    )
