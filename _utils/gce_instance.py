"""
A lab node's instance on Compute Engine, for the gce driver
(``_clouds/gce.py``): what its profile may ask (the machine type's NICs,
nested virtualization), its request body, what salt-cloud shows of it, its
SSH host keys (guest attributes) and its removal with its disks.

A Salt utils module (``__utils__["gce_instance.<function>"]``); functions
that call the API take the driver's ``gce_api.Api``.
"""

import functools
import logging
import time

from salt.exceptions import SaltCloudConfigError

try:
    from google.api_core import exceptions as api_exceptions
    from google.cloud import compute_v1
except ImportError:
    compute_v1 = None

log = logging.getLogger(__name__)

# machine families on Intel CPUs, where Compute Engine offers nested
# virtualization (not E2, the AMD families N2D/C2D/C3D/T2D, nor Arm)
NESTED_FAMILIES = ("n1", "n2", "n4", "c2", "c3", "c4", "m1", "m2", "m3", "h3")
# machine series whose disks are Hyperdisk only: no Persistent Disk (pd-*),
# boot disks included
HYPERDISK_ONLY = ("c4", "c4a", "c4d", "n4", "n4d", "h3", "h4d", "x4", "m4")


# ---------------------------------------------------------------------------
# what a node may be (pure)


def nested_family(machine_type):
    """Whether the machine type's family can nest virtualization."""
    return str(machine_type).split("-", 1)[0] in NESTED_FAMILIES


def check_nested_virtualization(machine_type):
    """
    Nested virtualization needs an Intel machine family.
    """
    family = str(machine_type).split("-", 1)[0]
    if not nested_family(machine_type):
        raise SaltCloudConfigError(
            f"gce: machine type {machine_type} cannot run nested virtualization (family {family}: "
            f"not an Intel family that supports it); use one of the families {', '.join(NESTED_FAMILIES)}, "
            "e.g. n1-standard-4 or n2-standard-4"
        )


def disk_type(machine_type, wanted=None):
    """
    The disks' type for a machine type: ``wanted`` (the profile's
    ``disk_type``) when the machine series takes it, else the series'
    default (pd-balanced; hyperdisk-balanced where only Hyperdisk is
    taken); a Persistent Disk on a Hyperdisk-only series is refused.
    """
    series = str(machine_type).split("-", 1)[0]
    if not wanted:
        return "hyperdisk-balanced" if series in HYPERDISK_ONLY else "pd-balanced"
    if series in HYPERDISK_ONLY and str(wanted).startswith("pd-"):
        raise SaltCloudConfigError(
            f"gce: machine type {machine_type} (series {series.upper()}) takes only Hyperdisk, not disk_type "
            f"{wanted}; use hyperdisk-balanced (or leave disk_type unset)"
        )
    return str(wanted)


def node_addresses(node, nets):
    """
    The node's internal address on each of its NICs, in the model's order,
    refused where Compute Engine reserves the address (network, gateway,
    the last two).
    """
    for nic in node["nics"]:
        net = nets[nic]["net"]
        if not 2 <= node["host"] <= net.num_addresses - 3:
            raise SaltCloudConfigError(
                f"gce: {node['name']}'s host number {node['host']} gives no usable address in {nic} ({net}): "
                "Compute Engine reserves the first two and the last two"
            )
    return dict(node["addresses"])


def instance_body(project, zone, lab, name, spec, nets, public_key, data_disk=None):
    """
    The instance resource for a node. ``spec``: machine_type, nics,
    addresses ({nic: address}), nested_virtualization, image, disk_size_gb,
    disk_type, ssh_username, role, tags (network tags), oslogin_off (OS Login
    turned off for the instance). Its NICs are on the lab's networks
    (``<lab>-<network>``, as ``gce_network.resource_names`` names them).
    """
    region = zone.rsplit("-", 1)[0]
    labels = {"saltlab": lab, "saltlab-node": name}
    interfaces = []
    for nic in spec["nics"]:
        interface = compute_v1.NetworkInterface(
            network=f"projects/{project}/global/networks/{lab}-{nic}",
            subnetwork=f"projects/{project}/regions/{region}/subnetworks/{lab}-{nic}",
            network_i_p=spec["addresses"][nic],
        )
        if nets[nic]["external"]:
            nat = compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT", network_tier="PREMIUM")
            interface.access_configs = [nat]
        interfaces.append(interface)
    boot = compute_v1.AttachedDiskInitializeParams(
        source_image=spec["image"],
        disk_size_gb=int(spec["disk_size_gb"]),
        disk_type=f"zones/{zone}/diskTypes/{spec['disk_type']}",
        labels=labels,
    )
    disks = [compute_v1.AttachedDisk(boot=True, auto_delete=True, device_name=name, initialize_params=boot)]
    if data_disk:
        disks.append(compute_v1.AttachedDisk(source=data_disk, auto_delete=True, boot=False, device_name="data"))
    items = [
        compute_v1.Items(key="ssh-keys", value=f"{spec['ssh_username']}:{public_key.strip()}"),
        # what the boot disk was made from, for salt-cloud -Q
        compute_v1.Items(key="saltlab-image", value=spec["image"]),
        # the guest agent publishes the SSH host keys there (hostkeys/)
        compute_v1.Items(key="enable-guest-attributes", value="TRUE"),
    ]
    instance = compute_v1.Instance(
        name=name,
        machine_type=f"zones/{zone}/machineTypes/{spec['machine_type']}",
        description=f"saltlab lab {lab}: {spec.get('role') or name}",
        labels=labels,
        network_interfaces=interfaces,
        disks=disks,
        metadata=compute_v1.Metadata(items=items),
    )
    if spec.get("oslogin_off"):
        # the ssh-keys above, not OS Login, where the project enables it
        # (an instance's value overrides the project's; an organisation
        # policy that requires OS Login overrides both)
        instance.metadata.items.append(compute_v1.Items(key="enable-oslogin", value="FALSE"))
    if spec.get("tags"):
        instance.tags = compute_v1.Tags(items=list(spec["tags"]))
    if spec.get("nested_virtualization"):
        instance.advanced_machine_features = compute_v1.AdvancedMachineFeatures(enable_nested_virtualization=True)
    return instance


# ---------------------------------------------------------------------------
# what salt-cloud shows of an instance


def external_ip(instance):
    """The instance's external address (on its public NIC), or None."""
    return next((c.nat_i_p for nic in instance.network_interfaces for c in nic.access_configs if c.nat_i_p), None)


def describe(instance):
    """salt-cloud's view of an instance (``-Q``)."""
    return {
        "id": str(instance.id),
        "name": instance.name,
        "state": instance.status,
        "image": next((i.value for i in instance.metadata.items if i.key == "saltlab-image"), None),
        "size": instance.machine_type.rsplit("/", 1)[-1],
        "zone": instance.zone.rsplit("/", 1)[-1],
        "public_ips": [c.nat_i_p for nic in instance.network_interfaces for c in nic.access_configs if c.nat_i_p],
        "private_ips": [nic.network_i_p for nic in instance.network_interfaces],
    }


def full(instance):
    """Everything the API says of an instance (``-F``)."""
    data = type(instance).to_dict(instance, preserving_proto_field_name=False)
    data.update(describe(instance))
    return data


# ---------------------------------------------------------------------------
# against the API


def check_machine(api, conn, zone, spec):
    """
    The zone and the machine type exist, and the type takes the node's NICs.
    """
    call = functools.partial(conn.zones.get, project=conn.project, zone=zone)
    if api.get(call, f"reading zone {zone}") is None:
        raise SaltCloudConfigError(
            f"gce: unknown zone {zone!r} in project {conn.project} (salt-cloud --list-locations gce)"
        )
    kind = spec["machine_type"]
    call = functools.partial(conn.machine_types.get, project=conn.project, zone=zone, machine_type=kind)
    machine = api.get(call, f"reading machine type {kind}")
    if machine is None:
        raise SaltCloudConfigError(f"gce: unknown machine type {kind!r} in zone {zone} (salt-cloud --list-sizes gce)")
    most = max(2, min(machine.guest_cpus, 8))
    if len(spec["nics"]) > most:
        raise SaltCloudConfigError(
            f"gce: {kind} ({machine.guest_cpus} vCPUs) takes at most {most} NICs, the node has {len(spec['nics'])}"
        )


def host_keys(api, conn, zone, name):
    """
    The SSH host keys the guest agent publishes in the instance's guest
    attributes (``hostkeys/``), waited for up to ``hostkeys_timeout``; None
    when it publishes none.
    """
    request = compute_v1.GetGuestAttributesInstanceRequest(
        project=conn.project, zone=zone, instance=name, query_path="hostkeys/"
    )
    call = functools.partial(conn.instances.get_guest_attributes, request=request)
    deadline = time.monotonic() + float(api.cloud.setting("hostkeys_timeout"))
    while True:
        with api.doing(f"reading the host keys of {name}"):
            try:
                attributes = call()
            except api_exceptions.NotFound:  # not published (yet)
                attributes = None
            except api_exceptions.BadRequest:  # guest attributes disabled (e.g. by an organization policy)
                return None
        items = [i for i in attributes.query_value.items if i.namespace == "hostkeys"] if attributes else []
        if items:
            # the key's type is the attribute's name; its value the base64 key (or the whole line)
            return [
                item.value if item.value.startswith(item.key + " ") else f"{item.key} {item.value}" for item in items
            ]
        if time.monotonic() > deadline:
            return None
        time.sleep(float(api.cloud.setting("poll_interval")))


def delete_node(api, conn, zone, lab, name):
    """
    The node's instance, and the disks the lab made for it that are left
    (e.g. a data disk whose instance was never made).
    """
    call = functools.partial(conn.instances.delete, project=conn.project, zone=zone, instance=name)
    api.delete(conn, "instance", call, ("zone", zone), f"deleting instance {name}")
    with api.doing(f"listing the disks of zone {zone}"):
        disks = [
            d
            for d in conn.disks.list(project=conn.project, zone=zone)
            if d.labels.get("saltlab") == lab and d.labels.get("saltlab-node") == name and not d.users
        ]
    for disk in disks:
        api.cloud.progress(name, f"deleting disk {disk.name}")
        call = functools.partial(conn.disks.delete, project=conn.project, zone=zone, disk=disk.name)
        api.delete(conn, "disk", call, ("zone", zone), f"deleting disk {disk.name}")
