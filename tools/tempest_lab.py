"""
What `make verify` makes in the lab for tempest, and what it removes of
tempest's (tools/verify.py): the test image, two flavors and the external
network, made as admin and idempotently, named `saltlab-verify*` (or the
demo's own `external` network) so that tempest's cleanup never matches
them; and the purge and the check for leftovers of what tempest made
(its prefix, its projects, or projects that no longer exist).
"""

import hashlib
import ipaddress
import pathlib
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent

# What tempest creates starts with this (resource_name_prefix); what this
# tool creates starts with NAME, which tempest's cleanup never matches.
PREFIX = "tempest"
NAME = "saltlab-verify"
IMAGE = NAME
# two flavors: resize goes from the first to the second (TCG: tiny guests)
FLAVORS = (
    {"name": f"{NAME}-nano", "vcpus": 1, "ram": 128, "disk": 1},
    {"name": f"{NAME}-micro", "vcpus": 1, "ram": 192, "disk": 1},
)
# the demo's external network (salt/demo/defaults.yaml): reused, or made
# as the demo makes it, so that either can come first
EXTERNAL = {"network": "external", "subnet": "external-subnet", "pool": (100, 199)}
TEST_IMAGE = REPO / "var" / "test-image" / "saltlab-test.img"


def file_sha512(path):
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_image(conn, lab):
    """The test guest (tools/build-test-image) as public image saltlab-verify, replaced when the file changes."""
    lab.run([REPO / "tools" / "build-test-image"], capture=False)
    want = file_sha512(TEST_IMAGE)
    keep = None
    for image in conn.image.images(name=IMAGE):
        if keep is None and image.status == "active" and image.hash_value == want:
            keep = image
        else:
            say(f"deleting image {image.name} {image.id} (another build, or not active)")
            conn.image.delete_image(image, ignore_missing=True)
    if keep is None:
        say(f"uploading {TEST_IMAGE.resolve()} as image {IMAGE}")
        keep = conn.image.create_image(
            name=IMAGE,
            filename=str(TEST_IMAGE.resolve()),
            disk_format="raw",
            container_format="bare",
            visibility="public",
            wait=True,
            timeout=600,
        )
    return keep.id


def ensure_flavors(conn):
    ids = []
    for spec in FLAVORS:
        flavor = conn.compute.find_flavor(spec["name"], ignore_missing=True)
        if flavor is not None and (flavor.vcpus, flavor.ram, flavor.disk) != (spec["vcpus"], spec["ram"], spec["disk"]):
            say(f"flavor {spec['name']} differs: replacing it")
            conn.compute.delete_flavor(flavor)
            flavor = None
        if flavor is None:
            say(f"creating flavor {spec['name']}")
            flavor = conn.compute.create_flavor(id=spec["name"], is_public=True, **spec)
        ids.append(flavor.id)
    return ids


def external_network(model, physnet, mtu):
    """The demo's external network and subnet, from the model's `external:`."""
    net = ipaddress.ip_network(model["external"]["cidr"])
    first, last = EXTERNAL["pool"]
    return {
        "network": {
            "name": EXTERNAL["network"],
            "provider_network_type": "flat",
            "provider_physical_network": physnet,
            "is_router_external": True,
            "is_shared": False,
            "mtu": mtu,
        },
        "subnet": {
            "name": EXTERNAL["subnet"],
            "cidr": str(net),
            "gateway_ip": model["external"]["gateway"],
            "enable_dhcp": False,
            "ip_version": 4,
            "allocation_pools": [{"start": str(net[first]), "end": str(net[last])}],
        },
    }


def ensure_external(conn, spec):
    network = conn.network.find_network(spec["network"]["name"], ignore_missing=True)
    if network is None:
        say(f"creating the external network {spec['network']['name']}")
        network = conn.network.create_network(**spec["network"])
    elif not network.is_router_external:
        raise SystemExit(f"verify: network {network.name} exists but is not external")
    if conn.network.find_subnet(spec["subnet"]["name"], network_id=network.id, ignore_missing=True) is None:
        say(f"creating subnet {spec['subnet']['name']}")
        conn.network.create_subnet(network_id=network.id, **spec["subnet"])
    return network.id


def physnet_mtu(model):
    """Neutron's physnet MTU as the formulas compute it: the underlay's less VXLAN's 50."""
    underlay = next(n for n in model["networks"].values() if n.get("underlay"))
    return underlay["mtu"] - 50


def load_model():
    return yaml.safe_load((REPO / "pillar" / "model.yaml").read_text())


def neutron_physnet():
    return yaml.safe_load((REPO / "salt" / "neutron" / "defaults.yaml").read_text())["neutron"]["physnet"]


def purge(conn, services):
    """
    Delete, in the order Nova, Cinder and Neutron need, the servers,
    volumes and network resources that are tempest's: named with its
    prefix, in one of its projects, or in a project that no longer exists
    (a run interrupted after its project was deleted). tempest cleanup
    deletes projects before what they hold, and leaves unnamed resources
    (ports, floating IPs, router interfaces) when it goes by prefix.
    Only the APIs of `services` (the lab's, pillar saltlab:services) are
    asked: a smaller lab's catalog keeps the entries of the services it no
    longer deploys, which the proxy no longer serves.
    """
    projects = {p.id: p.name for p in conn.identity.projects()}

    def ours(item):
        project = getattr(item, "project_id", None)
        if project and (project not in projects or projects[project].startswith(PREFIX)):
            return True
        return (getattr(item, "name", None) or "").startswith(PREFIX)

    if "nova" in services:
        servers = [s for s in conn.compute.servers(all_projects=True) if ours(s)]
        for server in servers:
            _attempt(f"server {server.name}", conn.compute.delete_server, server, force=True)
        for server in servers:
            _attempt(f"(waited for) server {server.name}", conn.compute.wait_for_delete, server, wait=300)
    if "cinder" in services:
        volumes = [v for v in conn.block_storage.volumes(all_projects=True) if ours(v)]
        for volume in volumes:
            # cascade: with its snapshots
            _attempt(f"volume {volume.name or volume.id}", conn.block_storage.delete_volume, volume, cascade=True)
        for volume in volumes:
            _attempt(f"(waited for) volume {volume.name or volume.id}", conn.block_storage.wait_for_delete, volume)
    if "neutron" in services:
        _purge_network(conn, ours)


def _purge_network(conn, ours):
    for ip in [i for i in conn.network.ips() if ours(i)]:
        _attempt(f"floating IP {ip.floating_ip_address}", conn.network.delete_ip, ip)
    for router in [r for r in conn.network.routers() if ours(r)]:
        for port in conn.network.ports(device_id=router.id):
            if port.device_owner.startswith("network:router_interface"):
                _attempt(
                    f"interface {port.id} of router {router.name}",
                    conn.network.remove_interface_from_router,
                    router,
                    port_id=port.id,
                )
        _attempt(f"router {router.name}", conn.network.delete_router, router)
    for port in [p for p in conn.network.ports() if ours(p) and not p.device_owner.startswith("network:")]:
        _attempt(f"port {port.id}", conn.network.delete_port, port)
    for subnet in [s for s in conn.network.subnets() if ours(s)]:
        _attempt(f"subnet {subnet.name or subnet.id}", conn.network.delete_subnet, subnet)
    for network in [n for n in conn.network.networks() if ours(n)]:
        _attempt(f"network {network.name or network.id}", conn.network.delete_network, network)
    for group in [g for g in conn.network.security_groups() if ours(g)]:
        _attempt(f"security group {group.name} {group.id}", conn.network.delete_security_group, group)


def _attempt(what, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
        say(f"deleted {what}")
    except Exception as exc:  # one failure must not stop the rest
        say(f"could not delete {what}: {exc}")


def leftovers(conn, services):
    """
    What of tempest's is still in the lab, asking only the APIs of
    `services`: {kind: [name or id]} (empty when clean).
    """
    found = {}
    projects = {p.id: p.name for p in conn.identity.projects()}

    def tempests(kind, items, label=lambda i: i.name):
        names = [label(i) for i in items]
        if names:
            found[kind] = names

    def orphaned_or_named(items):
        return [
            i for i in items if (i.project_id and i.project_id not in projects) or (i.name or "").startswith(PREFIX)
        ]

    tempests("projects", [p for p in conn.identity.projects() if p.name.startswith(PREFIX)])
    tempests("users", [u for u in conn.identity.users() if u.name.startswith(PREFIX)])
    tempests("domains", [d for d in conn.identity.domains() if d.name.startswith(PREFIX)])
    tempests("roles", [r for r in conn.identity.roles() if r.name.startswith(PREFIX)])
    if "glance" in services:
        tempests("images", [i for i in conn.image.images() if (i.name or "").startswith(PREFIX)])
    if "nova" in services:
        tempests("servers", orphaned_or_named(conn.compute.servers(all_projects=True)))
        tempests("flavors", [f for f in conn.compute.flavors(is_public=None) if f.name.startswith(PREFIX)])
    listings = []
    if "cinder" in services:
        listings += [
            ("volumes", conn.block_storage.volumes(all_projects=True)),
            ("volume snapshots", conn.block_storage.snapshots(all_projects=True)),
        ]
    if "neutron" in services:
        listings += [
            ("networks", conn.network.networks()),
            ("routers", conn.network.routers()),
            ("ports", conn.network.ports()),
            ("floating IPs", conn.network.ips()),
            ("security groups", conn.network.security_groups()),
        ]
    for kind, items in listings:
        tempests(kind, orphaned_or_named(items), label=lambda i: i.name or i.id)
    return found


def say(message):
    print(f">> {message}", file=sys.stderr, flush=True)
