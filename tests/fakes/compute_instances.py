"""
The compute part of the fake Compute API, mixed into its ``ComputeAPI``
(``compute_api.py``): zonal disks, instances (their NICs on the lab's
subnetworks with internal and external addresses, their boot and extra
disks, made or attached), stopped and started, and their guest attributes
(the SSH host keys the guest agent publishes); with the API's checks and
errors (a machine type that does not exist, cannot nest or takes fewer
NICs, a Persistent Disk on a Hyperdisk-only series, an address or a disk
already in use). With the rehearsal's ``backend``, each instance is a
local node that boots, stops and goes with it.
"""

import base64
import copy
import ipaddress
import itertools
import uuid

try:
    from fakes.compute_catalog import HYPERDISK_ONLY, MACHINE_TYPES, ZONES
    from fakes.compute_common import ApiError, _now
except ImportError:  # run by hand: python3 tests/fakes/compute_api.py
    from compute_catalog import HYPERDISK_ONLY, MACHINE_TYPES, ZONES
    from compute_common import ApiError, _now


class Instances:
    """
    Mixed into ComputeAPI: ``self.disks``, ``instances``, ``host_keys``,
    ``subnetworks``, ``external`` and ``backend``, with the fake's helpers
    (``_get``, ``_reserve``, ``_created``, ``_operation``...).
    """

    # -- disks ----------------------------------------------------------------------------

    def _disk_record(self, zone, name, size_gb, disk_type, labels, image=None, description=""):
        record = {
            "kind": "compute#disk",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": description,
            "sizeGb": str(size_gb),
            "zone": self.link("zones", zone),
            "status": "READY",
            "selfLink": self.link("zones", zone, "disks", name),
            "type": self.link("zones", zone, "diskTypes", str(disk_type or "pd-standard").rsplit("/", 1)[-1]),
            "labels": labels,
            "labelFingerprint": uuid.uuid4().hex[:12],
            "physicalBlockSizeBytes": "4096",
            "users": [],
        }
        if image:
            record["sourceImage"] = image
        return record

    def list_disks(self, zone, query, body):
        self._zone(zone)
        return self._list("compute#diskList", [d for (z, _n), d in self.disks.items() if z == zone], query)

    def get_disk(self, zone, name, query, body):
        self._zone(zone)
        return 200, self._public(self._get(self.disks, (zone, name), f"zones/{zone}/disks/{name}"))

    def insert_disk(self, zone, query, body):
        self._zone(zone)
        name = self._name(body, "disk")
        size = int(body.get("sizeGb") or 10)
        if not 10 <= size <= 65536:
            raise ApiError(400, "invalid", f"Invalid value for field 'resource.sizeGb': '{size}'.")
        labels = self._labels(body)
        pending = self._reserve("disks", (zone, name), f"zones/{zone}/disks/{name}")
        record = self._disk_record(zone, name, size, body.get("type"), labels, description=body.get("description", ""))
        return self._operation(
            ("zones", zone),
            "insert",
            record["selfLink"],
            lambda: self._created("disks", (zone, name), record),
            record["id"],
            pending,
        )

    def delete_disk(self, zone, name, query, body):
        self._zone(zone)
        disk = self._get(self.disks, (zone, name), f"zones/{zone}/disks/{name}")
        if disk["users"]:
            raise ApiError(
                400,
                "resourceInUseByAnotherResource",
                f"The disk resource 'projects/{self.project}/zones/{zone}/disks/{name}' is already "
                f"being used by '{disk['users'][0].split('/compute/v1/')[-1]}'",
            )

        def apply():
            self.disks.pop((zone, name), None)

        return self._operation(("zones", zone), "delete", disk["selfLink"], apply, disk["id"])

    # -- instances --------------------------------------------------------------------------

    def list_instances(self, zone, query, body):
        self._zone(zone)
        return self._list("compute#instanceList", [i for (z, _n), i in self.instances.items() if z == zone], query)

    def get_instance(self, zone, name, query, body):
        self._zone(zone)
        return 200, self._public(self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}"))

    def insert_instance(self, zone, query, body):
        """
        instances.insert, checked as the API checks it (machine type, NICs,
        disks) before anything is taken; when its operation is done, the
        instance, its new disks and its external addresses exist. With a
        rehearsal, its node boots now.
        """
        self._zone(zone)
        name = self._name(body, "instance")
        labels = self._labels(body)
        machine_type = self._instance_machine_type(zone, body)
        interfaces = self._instance_interfaces(zone, machine_type, body.get("networkInterfaces") or [])
        disks, new_disks, attached = self._instance_disks(zone, name, machine_type, body.get("disks") or [])
        pending = self._reserve("instances", (zone, name), f"zones/{zone}/instances/{name}")
        record = self._instance_record(zone, name, machine_type, body, labels, interfaces, disks)
        nat_ips = self._external_addresses(interfaces)
        work = self._boot(zone, name, record, nat_ips) if self.backend else None

        def apply():
            self._instance_made(zone, record, nat_ips, new_disks, attached)

        return self._operation(("zones", zone), "insert", record["selfLink"], apply, record["id"], pending, work)

    @staticmethod
    def _instance_machine_type(zone, body):
        """The instance's machine type (its name): one the zone has, able to nest when that is asked."""
        machine_type = str(body.get("machineType") or "").rsplit("/", 1)[-1]
        if machine_type not in MACHINE_TYPES:
            raise ApiError(
                400,
                "invalid",
                f"Invalid value for field 'resource.machineType': "
                f"'{body.get('machineType')}'. Machine type with name "
                f"'{machine_type}' does not exist in zone '{zone}'.",
            )
        _cpus, _memory, _platform, nested_ok = MACHINE_TYPES[machine_type]
        features = body.get("advancedMachineFeatures") or {}
        if features.get("enableNestedVirtualization") and not nested_ok:
            raise ApiError(400, "invalid", f"Nested virtualization is not supported on machine type {machine_type}.")
        return machine_type

    def _instance_interfaces(self, zone, machine_type, nics):
        """
        The instance's network interfaces, as many as its machine type
        allows (its vCPUs, 2 to 8), each in a VPC network of its own.
        """
        if not nics:
            raise ApiError(400, "invalid", "At least one network interface is required.")
        cpus = MACHINE_TYPES[machine_type][0]
        if len(nics) > max(2, min(cpus, 8)):
            raise ApiError(
                400, "invalid", f"Too many network interfaces: {machine_type} allows at most {max(2, min(cpus, 8))}."
            )
        seen_networks = set()
        return [self._instance_interface(zone, index, nic, seen_networks) for index, nic in enumerate(nics)]

    def _instance_interface(self, zone, index, nic, seen_networks):
        """
        One network interface: on a subnetwork of the zone's region (of
        the network it names, if it names one) with its internal address;
        its external address (``accessConfigs``) comes when the instance is
        made.
        """
        region, subnet_name = self._ref(nic.get("subnetwork"), "regions/subnetworks")
        if region != ZONES[zone]:
            raise ApiError(
                400,
                "invalid",
                f"Subnetwork '{subnet_name}' is in region {region}, not in the instance's region {ZONES[zone]}.",
            )
        subnet = self._get(self.subnetworks, (region, subnet_name), f"regions/{region}/subnetworks/{subnet_name}")
        if nic.get("network"):
            _scope, network_name = self._ref(nic["network"], "global/networks")
            if self.link("global", "networks", network_name) != subnet["network"]:
                raise ApiError(
                    400, "invalid", f"Subnetwork '{subnet_name}' does not belong to network '{network_name}'."
                )
        if subnet["network"] in seen_networks:
            raise ApiError(400, "invalid", "Each network interface must be in a different VPC network.")
        seen_networks.add(subnet["network"])
        interface = {
            "kind": "compute#networkInterface",
            "name": f"nic{index}",
            "network": subnet["network"],
            "subnetwork": subnet["selfLink"],
            "networkIP": str(self._internal_address(subnet, subnet_name, nic)),
            "fingerprint": uuid.uuid4().hex[:12],
            "stackType": "IPV4_ONLY",
        }
        if nic.get("accessConfigs"):
            interface["accessConfigs"] = [
                {
                    "kind": "compute#accessConfig",
                    "type": c.get("type", "ONE_TO_ONE_NAT"),
                    "name": c.get("name", "External NAT"),
                    "networkTier": c.get("networkTier", "PREMIUM"),
                }
                for c in nic["accessConfigs"]
            ]
        return interface

    def _internal_address(self, subnet, subnet_name, nic):
        """
        The interface's internal address: the one asked (``networkIP``), a
        usable one of the subnetwork (not its network, gateway or last two
        addresses), or else the first after the gateway that no instance
        has; in both cases one no other instance has on that subnetwork.
        """
        cidr = ipaddress.IPv4Network(subnet["ipCidrRange"])
        if nic.get("networkIP"):
            address = ipaddress.IPv4Address(nic["networkIP"])
            if address not in cidr or address in (
                cidr.network_address,
                cidr.network_address + 1,
                cidr.broadcast_address - 1,
                cidr.broadcast_address,
            ):
                raise ApiError(
                    400,
                    "invalid",
                    f"Requested internal IP address '{address}' is not available "
                    f"in subnetwork '{subnet_name}' ({cidr}).",
                )
        else:
            used = {n["networkIP"] for i in self.instances.values() for n in i["networkInterfaces"]}
            address = next(a for a in cidr.hosts() if int(a) - int(cidr.network_address) > 1 and str(a) not in used)
        for other in self.instances.values():
            if any(
                n["networkIP"] == str(address) and n["subnetwork"] == subnet["selfLink"]
                for n in other["networkInterfaces"]
            ):
                raise ApiError(
                    400,
                    "invalid",
                    f"IP address '{address}' is already being used by another resource ({other['name']}).",
                )
        return address

    def _instance_disks(self, zone, name, machine_type, specs):
        """
        The instance's attached disks (``disks``, a boot disk among them),
        with the records of the disks it makes (``new_disks``) and the
        (zone, name) of the existing ones it attaches (``attached``).
        """
        series = machine_type.split("-", 1)[0]
        disks, new_disks, attached = [], [], []
        for index, disk in enumerate(specs):
            entry = {
                "kind": "compute#attachedDisk",
                "type": "PERSISTENT",
                "mode": disk.get("mode", "READ_WRITE"),
                "index": index,
                "boot": bool(disk.get("boot")),
                "autoDelete": bool(disk.get("autoDelete")),
                "interface": "SCSI",
            }
            if disk.get("source"):
                disk_name, record = self._existing_disk(zone, series, disk)
                attached.append((zone, disk_name))
            else:
                disk_name, record = self._new_disk(zone, name, series, index, disk)
                new_disks.append(record)
            entry.update(
                source=record["selfLink"],
                deviceName=disk.get("deviceName") or disk_name,
                diskSizeGb=record["sizeGb"],
            )
            disks.append(entry)
        if not any(d["boot"] for d in disks):
            raise ApiError(400, "invalid", "The instance has no boot disk.")
        return disks, new_disks, attached

    def _existing_disk(self, zone, series, disk):
        """A disk the instance attaches (``source``): in its zone, used by no other instance; (name, record)."""
        disk_zone, disk_name = self._ref(disk["source"], "zones/disks")
        if disk_zone != zone:
            raise ApiError(400, "invalid", f"Disk '{disk_name}' is in zone {disk_zone}, not {zone}.")
        existing = self._get(self.disks, (zone, disk_name), f"zones/{zone}/disks/{disk_name}")
        if existing["users"]:
            raise ApiError(
                400,
                "resourceInUseByAnotherResource",
                f"The disk resource '{disk_name}' is already being used by "
                f"'{existing['users'][0].split('/compute/v1/')[-1]}'",
            )
        self._check_disk_type(series, existing["type"])
        return disk_name, existing

    def _new_disk(self, zone, name, series, index, disk):
        """
        A disk the instance makes (``initializeParams``): the boot disk
        from an image, named as the instance unless it says otherwise, the
        others NAME-INDEX; (name, its record to be).
        """
        params = disk.get("initializeParams") or {}
        if not params.get("sourceImage") and disk.get("boot"):
            raise ApiError(400, "invalid", "A boot disk needs initializeParams.sourceImage or a source.")
        if params.get("sourceImage"):
            self._image(params["sourceImage"])
        self._check_disk_type(series, params.get("diskType"))
        disk_name = params.get("diskName") or (name if disk.get("boot") else f"{name}-{index}")
        if (zone, disk_name) in self.disks or ("disks", (zone, disk_name)) in self._pending:
            raise ApiError(
                409,
                "alreadyExists",
                f"The resource 'projects/{self.project}/zones/{zone}/disks/{disk_name}' already exists",
            )
        record = self._disk_record(
            zone,
            disk_name,
            int(params.get("diskSizeGb") or 10),
            params.get("diskType"),
            dict(params.get("labels") or {}),
            image=params.get("sourceImage"),
        )
        return disk_name, record

    @staticmethod
    def _check_disk_type(series, disk_type):
        """A machine series that takes only Hyperdisk refuses a Persistent Disk (``pd-*``)."""
        kind = str(disk_type or "pd-standard").rsplit("/", 1)[-1]
        if series in HYPERDISK_ONLY and kind.startswith("pd-"):
            raise ApiError(
                400,
                "invalid",
                f"[{kind}] features are not compatible for creating instance: machine series "
                f"{series.upper()} takes only Hyperdisk volumes (e.g. hyperdisk-balanced).",
            )

    def _instance_record(self, zone, name, machine_type, body, labels, interfaces, disks):
        """The instance as the API shows it once it is made (RUNNING)."""
        metadata = body.get("metadata") or {}
        features = body.get("advancedMachineFeatures") or {}
        record = {
            "kind": "compute#instance",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "tags": {"items": list((body.get("tags") or {}).get("items") or []), "fingerprint": uuid.uuid4().hex[:12]},
            "machineType": self.link("zones", zone, "machineTypes", machine_type),
            "status": "RUNNING",
            "zone": self.link("zones", zone),
            "canIpForward": bool(body.get("canIpForward")),
            "networkInterfaces": interfaces,
            "disks": disks,
            "metadata": {
                "kind": "compute#metadata",
                "fingerprint": uuid.uuid4().hex[:12],
                "items": list(metadata.get("items") or []),
            },
            "selfLink": self.link("zones", zone, "instances", name),
            "labels": labels,
            "labelFingerprint": uuid.uuid4().hex[:12],
            "cpuPlatform": MACHINE_TYPES[machine_type][2],
            "lastStartTimestamp": _now(),
            "startRestricted": False,
            "deletionProtection": False,
            "fingerprint": uuid.uuid4().hex[:12],
        }
        if features:
            record["advancedMachineFeatures"] = dict(features)
        if body.get("scheduling"):
            record["scheduling"] = dict(body["scheduling"])
        return record

    def _external_addresses(self, interfaces):
        """
        The external address of each interface that has an access config
        ({index: address}): with a rehearsal, the first of ``external``
        from its 11th address that no instance has; else the next one of
        ``external`` in turn.
        """
        nat_ips = {}
        for index, interface in enumerate(interfaces):
            if interface.get("accessConfigs"):
                used = {
                    c.get("natIP")
                    for i in self.instances.values()
                    for n in i["networkInterfaces"]
                    for c in n.get("accessConfigs", [])
                }
                nat_ips[index] = (
                    next(str(a) for a in itertools.islice(self.external.hosts(), 10, None) if str(a) not in used)
                    if self.backend
                    else str(self.external.network_address + next(self._nat))
                )
        return nat_ips

    def _boot(self, zone, name, record, nat_ips):
        """The rehearsal's node boots now, as the instance will be; the insert is done when it is up."""
        view = copy.deepcopy(record)
        for index, address in nat_ips.items():
            view["networkInterfaces"][index]["accessConfigs"][0]["natIP"] = address
        return self.backend.create(zone, name, view, dict(self.project_metadata))

    def _instance_made(self, zone, record, nat_ips, new_disks, attached):
        """
        The insert's effect: the instance with its external addresses, its
        new disks, every disk it uses marked so, and its host keys (what the
        guest agent would publish).
        """
        name, link = record["name"], record["selfLink"]
        for key in attached:
            if key not in self.disks or self.disks[key]["users"]:
                raise ApiError(400, "resourceInUseByAnotherResource", f"Disk {key[1]} is not available.")
        for index, interface in enumerate(record["networkInterfaces"]):
            for config in interface.get("accessConfigs", []):
                config["natIP"] = nat_ips[index]
        for disk in new_disks:
            self.disks[(zone, disk["name"])] = disk
        for key in attached + [(zone, d["name"]) for d in new_disks]:
            self.disks[key]["users"].append(link)
        self._created("instances", (zone, name), record)
        self.host_keys[(zone, name)] = {
            kind: base64.b64encode(uuid.uuid4().bytes * 3).decode()
            for kind in ("ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa")
        }
        self._network_changed()

    def delete_instance(self, zone, name, query, body):
        self._zone(zone)
        instance = self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}")
        instance["status"] = "STOPPING"
        work = self.backend.delete(zone, name) if self.backend else None

        def apply():
            self.instances.pop((zone, name), None)
            self.host_keys.pop((zone, name), None)
            self._network_changed()
            for attached in instance["disks"]:
                _scope, disk_name = self._ref(attached["source"], "zones/disks")
                disk = self.disks.get((zone, disk_name))
                if disk is None:
                    continue
                disk["users"] = [u for u in disk["users"] if u != instance["selfLink"]]
                if attached["autoDelete"]:
                    self.disks.pop((zone, disk_name))

        return self._operation(("zones", zone), "delete", instance["selfLink"], apply, instance["id"], work=work)

    def _power(self, zone, name, verb):
        """instances.stop / instances.start: the node powered off (kept) or booted again."""
        self._zone(zone)
        instance = self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}")
        instance["status"] = "STOPPING" if verb == "stop" else "PROVISIONING"
        work = getattr(self.backend, verb)(zone, name) if self.backend else None

        def apply():
            instance["status"] = "TERMINATED" if verb == "stop" else "RUNNING"
            if verb == "start":
                instance["lastStartTimestamp"] = _now()

        return self._operation(("zones", zone), verb, instance["selfLink"], apply, instance["id"], work=work)

    def stop_instance(self, zone, name, query, body):
        return self._power(zone, name, "stop")

    def start_instance(self, zone, name, query, body):
        return self._power(zone, name, "start")

    def get_guest_attributes(self, zone, name, query, body):
        """
        The instance's guest attributes under ``queryPath``: what the guest
        agent publishes (here the SSH host keys, ``hostkeys/``).
        """
        self._zone(zone)
        instance = self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}")
        items = {i["key"]: i["value"] for i in instance["metadata"]["items"]}
        if str(items.get("enable-guest-attributes", "")).upper() != "TRUE":
            raise ApiError(400, "badRequest", "Guest attributes are disabled for this instance.")
        path = query.get("queryPath", [""])[0]
        keys = self.host_keys.get((zone, name), {}) if self.publish_host_keys else {}
        if self.backend:
            keys = self.backend.guest_attributes(zone, name, "hostkeys") if self.publish_host_keys else {}
        if path != "hostkeys/" or not keys:
            raise ApiError(
                404,
                "notFound",
                f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' "
                f"guest attribute {path!r} was not found",
            )
        return 200, {
            "kind": "compute#guestAttributes",
            "queryPath": path,
            "queryValue": {"items": [{"namespace": "hostkeys", "key": k, "value": v} for k, v in keys.items()]},
            "selfLink": self.link("zones", zone, "instances", name) + "/getGuestAttributes",
        }
