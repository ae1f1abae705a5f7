"""
The Nova, Neutron, Glance, Cinder and Octavia halves of the OpenStack fake
(``openstack_api.py``, whose ``OpenStackAPI`` mixes this in): each API's
paths, resource documents, checks and statuses, on the fake's ``db``.
"""

import hashlib
import ipaddress
import itertools
import re

NEUTRON = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "routers": "router",
    "security-groups": "security_group",
    "security-group-rules": "security_group_rule",
    "floatingips": "floatingip",
    "agents": "agent",
}
OCTAVIA = {
    "loadbalancers": "loadbalancer",
    "listeners": "listener",
    "pools": "pool",
    "healthmonitors": "healthmonitor",
}
CINDER = {
    "types": ("volume_types", "volume_type"),
    "volumes": ("volumes", "volume"),
    "snapshots": ("snapshots", "snapshot"),
}
PORT_OWNERS = ("network:router_interface", "network:router_gateway", "compute:nova", "network:dhcp", "")


def _error(*args):
    from fakes.openstack_api import ApiError  # pylint: disable=import-outside-toplevel  (the module imports this one)

    return ApiError(*args)


class Services:
    """Mixed into OpenStackAPI: ``self.db``, ``add``, ``one``, ``items``, ``page``, ``matching``, ``project``."""

    def setup_services(self):
        self._macs = itertools.count(0x10)
        self.project = self.admin_project["id"]
        for host in ("compute1", "compute2"):
            self.add("os-services", {"binary": "nova-compute", "host": host, "state": "up", "status": "enabled"})
        for host in ("network", "compute1", "compute2"):
            self.add("agents", {"agent_type": "Open vSwitch agent", "host": host, "alive": True})
        self.add("volume_types", {"name": "__DEFAULT__", "description": "Default Volume Type", "is_public": True})

    def tick(self):
        """Statuses move on: each pending step of every resource, one per read; the deleted go."""
        for collection in self.db.values():
            for key, item in list(collection.items()):
                if item.get("_gone"):
                    del collection[key]
                elif item.get("_steps"):
                    item.update(item["_steps"].pop(0))

    @staticmethod
    def shown_item(item):
        return {key: value for key, value in item.items() if not key.startswith("_")}

    def crud(self, service, method, parts, query, body, collection, singular, path, style="links"):
        """The plain list/get/create/update/delete of one collection; None for anything else."""
        if len(parts) == 1 and method == "GET":
            items = self.matching(self.items(collection), query)
            document = self.page(path, query, collection if style != "cinder" else parts[0], items, style="links")
            key = next(k for k in document if not k.endswith("_links"))
            document[key] = [self.shown_item(item) for item in document[key]]
            return 200, document
        if len(parts) == 2:
            item = self.one(collection, parts[1], service, singular.replace("_", " ").title().replace(" ", ""))
            if method == "GET":
                return 200, {singular: self.shown_item(item)}
            if method == "PUT":
                item.update(body[singular])
                return 200, {singular: self.shown_item(item)}
            if method == "DELETE":
                self.before_delete(service, collection, item)
                del self.db[collection][item["id"]]
                return 204, None
        return None

    def before_delete(self, service, collection, item):
        """Neutron refuses to delete what is in use."""
        if collection == "networks" and any(
            p["network_id"] == item["id"] and p["device_owner"] != "network:dhcp" for p in self.items("ports")
        ):
            raise _error(
                service,
                409,
                f"Unable to complete operation on network {item['id']}."
                " There are one or more ports still in use on the network.",
                "NetworkInUse",
            )
        if collection == "routers" and any(
            p["device_id"] == item["id"] and p["device_owner"] == "network:router_interface"
            for p in self.items("ports")
        ):
            raise _error(service, 409, f"Router {item['id']} still has ports", "RouterInUse")
        if collection == "routers":
            for port in self.items("ports"):
                if port["device_id"] == item["id"]:
                    del self.db["ports"][port["id"]]

    # -- Nova -------------------------------------------------------------------

    def nova(self, method, path, query, body):
        parts = path.split("/")[3:]  # after /compute/v2.1
        head = parts[0] if parts else ""
        if head == "flavors":
            return self.flavors(method, parts, query, body, path)
        if head == "os-keypairs":
            if len(parts) == 1 and method == "GET":
                return 200, {"keypairs": [{"keypair": k} for k in self.items("keypairs")]}
            if len(parts) == 1 and method == "POST":
                fields = body["keypair"]
                if fields["name"] in self.db.get("keypairs", {}):
                    raise _error("compute", 409, f"Key pair '{fields['name']}' already exists.")
                keypair = dict(
                    fields,
                    id=fields["name"],
                    type="ssh",
                    fingerprint=hashlib.md5(fields["public_key"].encode()).hexdigest(),
                )
                return 201, {"keypair": self.add("keypairs", keypair)}
            keypair = self.db.get("keypairs", {}).get(parts[1])
            if keypair is None:
                raise _error("compute", 404, f"Keypair {parts[1]} not found for user {self.admin['id']}")
            if method == "DELETE":
                del self.db["keypairs"][parts[1]]
                return 204, None
            return 200, {"keypair": keypair}
        if head == "os-server-groups":
            if len(parts) == 1 and method == "POST":
                group = dict(body["server_group"], members=[], rules={}, project_id=self.project)
                return 200, {"server_group": self.add("server_groups", group)}
            if len(parts) == 1 and method == "GET":
                return 200, {"server_groups": self.items("server_groups")}
            return self.crud("compute", method, parts, query, body, "server_groups", "server_group", path)
        if head == "os-services" and method == "GET":
            return 200, {"services": self.matching(self.items("os-services"), query)}
        if head == "servers":
            return self.servers(method, parts, query, body, path)
        return None

    def flavors(self, method, parts, query, body, path):
        if parts[1:2] == ["detail"] and method == "GET":
            items = [
                f
                for f in self.items("flavors")
                if query.get("is_public", ["true"])[0].lower() == "none" or f["os-flavor-access:is_public"]
            ]
            return 200, self.page(path, query, "flavors", items)
        if len(parts) == 1 and method == "POST":
            fields = body["flavor"]
            if any(f["name"] == fields["name"] for f in self.items("flavors")):
                raise _error("compute", 409, f"Flavor with name {fields['name']} already exists.")
            flavor = {
                "name": fields["name"],
                "ram": fields["ram"],
                "vcpus": fields["vcpus"],
                "disk": fields.get("disk", 0),
            }
            flavor.update(
                {
                    "os-flavor-access:is_public": fields.get("os-flavor-access:is_public", True),
                    "swap": 0,
                    "OS-FLV-EXT-DATA:ephemeral": 0,
                    "OS-FLV-DISABLED:disabled": False,
                    "extra_specs": {},
                    "rxtx_factor": 1.0,
                    "description": None,
                }
            )
            return 200, {"flavor": self.add("flavors", flavor)}
        flavor = self.one("flavors", parts[1], "compute", "Flavor")
        if parts[2:3] == ["os-extra_specs"]:
            if method == "POST":
                flavor["extra_specs"].update(body["extra_specs"])
            return 200, {"extra_specs": flavor["extra_specs"]}
        if method == "DELETE":
            del self.db["flavors"][flavor["id"]]
            return 202, None
        return 200, {"flavor": flavor}

    def servers(self, method, parts, query, body, path):
        if parts[1:2] == ["detail"] and method == "GET":
            items = [s for s in self.items("servers") if re.search(query.get("name", [""])[0], s["name"])]
            return 200, self.page(
                path, {k: v for k, v in query.items() if k != "name"}, "servers", [self.shown_item(s) for s in items]
            )
        if len(parts) == 1 and method == "POST":
            return self.boot(body["server"], body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints"))
        server = self.one("servers", parts[1], "compute", "Instance")
        if parts[2:3] == ["action"]:
            if "os-start" in body:
                server["_steps"] = [{"status": "ACTIVE"}]
            return 202, None
        if parts[2:3] == ["os-volume_attachments"]:
            return self.attachments(method, server, parts, body)
        if method == "DELETE":
            server["_gone"] = True
            for port in self.items("ports"):
                if port["device_id"] == server["id"]:
                    del self.db["ports"][port["id"]]
            return 204, None
        return 200, {"server": self.shown_item(server)}

    def boot(self, fields, hints):
        if fields.get("imageRef") not in self.db.get("images", {}):
            raise _error("compute", 400, "Invalid imageRef provided.")
        if fields.get("flavorRef") not in self.db.get("flavors", {}):
            raise _error("compute", 400, f"Flavor {fields.get('flavorRef')} could not be found.")
        network = self.one("networks", fields["networks"][0]["uuid"], "compute", "Network")
        server = {
            "name": fields["name"],
            "status": "BUILD",
            "addresses": {},
            "OS-EXT-SRV-ATTR:host": None,
            "image": {"id": fields["imageRef"]},
            "flavor": {"id": fields["flavorRef"]},
            "key_name": fields.get("key_name"),
            "tenant_id": self.project,
            "metadata": {},
        }
        self.add("servers", server)
        if self.server_fault:
            server["_steps"] = [{"status": "ERROR", "fault": {"code": 500, "message": self.server_fault}}]
        else:
            port = self.new_port(
                {"network_id": network["id"], "device_id": server["id"], "device_owner": "compute:nova"}
            )
            address = [{"addr": ip["ip_address"], "version": 4, "OS-EXT-IPS:type": "fixed"} for ip in port["fixed_ips"]]
            server["_steps"] = [
                {"status": "ACTIVE", "addresses": {network["name"]: address}, "OS-EXT-SRV-ATTR:host": "compute1"}
            ]
        return 202, {"server": {"id": server["id"], "links": [], "adminPass": "x", "OS-DCF:diskConfig": "MANUAL"}}

    def attachments(self, method, server, parts, body):
        attached = server.setdefault("_volumes", {})
        if method == "GET":
            return 200, {"volumeAttachments": list(attached.values())}
        if method == "POST":
            volume = self.one("volumes", body["volumeAttachment"]["volumeId"], "compute", "Volume")
            if volume["status"] != "available":
                raise _error(
                    "compute",
                    400,
                    f"Invalid volume: volume {volume['id']} status must be 'available'."
                    f" Currently in '{volume['status']}'",
                )
            device = f"/dev/vd{chr(ord('b') + len(attached))}"
            attached[volume["id"]] = {
                "id": volume["id"],
                "volumeId": volume["id"],
                "serverId": server["id"],
                "device": device,
            }
            volume.update(
                status="attaching",
                _steps=[{"status": "in-use", "attachments": [{"server_id": server["id"], "device": device}]}],
            )
            return 200, {"volumeAttachment": attached[volume["id"]]}
        if parts[3] not in attached:
            raise _error("compute", 404, f"Volume {parts[3]} is not attached to {server['id']}")
        del attached[parts[3]]
        self.db["volumes"][parts[3]].update(status="detaching", _steps=[{"status": "available", "attachments": []}])
        return 202, None

    # -- Neutron ------------------------------------------------------------------

    def neutron(self, method, path, query, body):
        parts = path.split("/")[3:]  # after /network/v2.0
        if not parts or parts[0] not in NEUTRON:
            return None
        collection, singular = parts[0].replace("-", "_"), NEUTRON[parts[0]]
        if collection == "security_groups" and method == "GET":
            self.default_group(query.get("project_id", [self.project])[0])
        if len(parts) == 3 and collection == "routers":
            return self.router_interface(parts, body)
        if len(parts) == 1 and method == "POST":
            fields = dict(body[singular], project_id=self.project, tenant_id=self.project)
            return 201, {singular: getattr(self, f"new_{singular}")(fields)}
        return self.crud("network", method, parts, query, body, collection, singular, path)

    def new_network(self, fields):
        network = {
            "status": "ACTIVE",
            "subnets": [],
            "admin_state_up": True,
            "shared": False,
            "router:external": False,
            "mtu": 1450,
            "provider:network_type": "vxlan",
            "provider:physical_network": None,
        }
        network.update(fields)
        return self.add("networks", network)

    def new_subnet(self, fields):
        network = self.one("networks", fields.get("network_id"), "network", "Network")
        try:
            cidr = ipaddress.ip_network(fields["cidr"], strict=False)
        except ValueError:
            raise _error(
                "network",
                400,
                f"Invalid input for cidr. Reason: '{fields['cidr']}' is not a valid IP subnet.",
                "HTTPBadRequest",
            ) from None
        hosts = list(itertools.islice(cidr.hosts(), 256))
        subnet = {
            "gateway_ip": str(hosts[0]),
            "enable_dhcp": True,
            "dns_nameservers": [],
            "ip_version": cidr.version,
            "allocation_pools": [{"start": str(hosts[1]), "end": str(hosts[-1])}],
            "host_routes": [],
        }
        subnet.update(fields, cidr=str(cidr))
        network["subnets"].append(self.add("subnets", subnet)["id"])
        return subnet

    def new_port(self, fields):
        network = self.one("networks", fields["network_id"], "network", "Network")
        fixed_ips = fields.get("fixed_ips") or [{"subnet_id": network["subnets"][0]}] if network["subnets"] else []
        taken = {(ip["subnet_id"], ip["ip_address"]) for port in self.items("ports") for ip in port["fixed_ips"]}
        allocated = []
        for ip in fixed_ips:
            subnet = self.one("subnets", ip["subnet_id"], "network", "Subnet")
            address = ip.get("ip_address") or next(
                str(a)
                for a in itertools.islice(ipaddress.ip_network(subnet["cidr"]).hosts(), 1, None)
                if (subnet["id"], str(a)) not in taken
            )
            if (subnet["id"], address) in taken:
                raise _error(
                    "network",
                    409,
                    f"IP address {address} already allocated in subnet {subnet['id']}",
                    "IpAddressAlreadyAllocated",
                )
            allocated.append({"subnet_id": subnet["id"], "ip_address": address})
        port = {
            "name": "",
            "device_id": "",
            "device_owner": "",
            "status": "DOWN",
            "admin_state_up": True,
            "mac_address": f"fa:16:3e:00:00:{next(self._macs):02x}",
            "security_groups": [],
            "description": "",
        }
        port.update(fields, fixed_ips=allocated)
        return self.add("ports", port)

    def new_router(self, fields):
        router = dict({"status": "ACTIVE", "external_gateway_info": None, "admin_state_up": True}, **fields)
        self.add("routers", router)
        if router["external_gateway_info"]:
            self.new_port(
                {
                    "network_id": router["external_gateway_info"]["network_id"],
                    "device_id": router["id"],
                    "device_owner": "network:router_gateway",
                }
            )
        return router

    def router_interface(self, parts, body):
        router = self.one("routers", parts[1], "network", "Router")
        ports = [
            p
            for p in self.items("ports")
            if p["device_id"] == router["id"] and p["device_owner"] == "network:router_interface"
        ]
        if parts[2] == "add_router_interface":
            subnet = self.one("subnets", body["subnet_id"], "network", "Subnet")
            if any(ip["subnet_id"] == subnet["id"] for p in ports for ip in p["fixed_ips"]):
                raise _error("network", 400, f"Router already has a port on subnet {subnet['id']}.", "BadRequest")
            port = self.new_port(
                {
                    "network_id": subnet["network_id"],
                    "device_id": router["id"],
                    "device_owner": "network:router_interface",
                    "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}],
                }
            )
            return 200, {
                "id": router["id"],
                "subnet_id": subnet["id"],
                "port_id": port["id"],
                "network_id": subnet["network_id"],
            }
        found = [
            p
            for p in ports
            if p["id"] == body.get("port_id") or any(ip["subnet_id"] == body.get("subnet_id") for ip in p["fixed_ips"])
        ]
        if not found:
            raise _error(
                "network",
                404,
                f"Router {router['id']} has no interface on subnet {body.get('subnet_id')}",
                "RouterInterfaceNotFoundForSubnet",
            )
        del self.db["ports"][found[0]["id"]]
        return 200, {"id": router["id"], "port_id": found[0]["id"]}

    def default_group(self, project):
        if not any(g["name"] == "default" and g["project_id"] == project for g in self.items("security_groups")):
            self.new_security_group(
                {"name": "default", "description": "Default security group", "project_id": project}, remote_self=True
            )

    def new_security_group(self, fields, remote_self=False):
        group = self.add(
            "security_groups", dict({"description": "", "stateful": True, "security_group_rules": []}, **fields)
        )
        for direction, ethertype in (("egress", "IPv4"), ("egress", "IPv6")) + (
            (("ingress", "IPv4"), ("ingress", "IPv6")) if remote_self else ()
        ):
            remote = group["id"] if direction == "ingress" else None
            self.new_security_group_rule(
                {
                    "security_group_id": group["id"],
                    "direction": direction,
                    "ethertype": ethertype,
                    "remote_group_id": remote,
                    "project_id": group["project_id"],
                }
            )
        return group

    def new_security_group_rule(self, fields):
        self.one("security_groups", fields["security_group_id"], "network", "Security group")
        rule = {
            "protocol": None,
            "port_range_min": None,
            "port_range_max": None,
            "remote_ip_prefix": None,
            "remote_group_id": None,
        }
        rule.update(fields)
        for other in self.items("security_group_rules"):
            if {k: v for k, v in other.items() if k != "id"} == rule:
                raise _error(
                    "network",
                    409,
                    f"Security group rule already exists. Rule id is {other['id']}.",
                    "SecurityGroupRuleExists",
                )
        return self.add("security_group_rules", rule)

    def new_floatingip(self, fields):
        network = self.one("networks", fields["floating_network_id"], "network", "Network")
        port = self.one("ports", fields.get("port_id"), "network", "Port") if fields.get("port_id") else None
        taken = {f["floating_ip_address"] for f in self.items("floatingips")} | {
            ip["ip_address"] for p in self.items("ports") for ip in p["fixed_ips"]
        }
        pool = self.one("subnets", network["subnets"][0], "network", "Subnet")["allocation_pools"][0]
        free = (
            str(a)
            for a in list(
                ipaddress.summarize_address_range(
                    ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
                )
            )[0]
        )
        address = next((a for a in free if a not in taken), None)
        if address is None:
            raise _error(
                "network",
                409,
                f"No more IP addresses available on network {network['id']}.",
                "IpAddressGenerationFailure",
            )
        fixed = port["fixed_ips"][0]["ip_address"] if port else None
        return self.add("floatingips", dict(fields, floating_ip_address=address, fixed_ip_address=fixed, status="DOWN"))

    # -- Glance -------------------------------------------------------------------

    def glance(self, method, path, query, body):
        parts = path.split("/")[3:]  # after /image/v2
        if parts[:1] != ["images"]:
            return None
        if len(parts) == 1 and method == "GET":
            items = [i for i in self.items("images") if "tag" not in query or query["tag"][0] in i["tags"]]
            return 200, self.page(
                path,
                {k: v for k, v in query.items() if k != "tag"},
                "images",
                self.matching(items, {k: v for k, v in query.items() if k not in ("tag", "limit", "marker")}),
                style="glance",
            )
        if len(parts) == 1 and method == "POST":
            image = {
                "status": "queued",
                "tags": [],
                "visibility": "shared",
                "disk_format": None,
                "container_format": None,
                "checksum": None,
                "size": None,
                "min_disk": 0,
                "min_ram": 0,
                "protected": False,
                "os_hidden": False,
                "owner": self.project,
                "os_hash_algo": None,
                "os_hash_value": None,
            }
            image.update(body)
            image["file"] = f"/v2/images/{self.add('images', image)['id']}/file"
            return 201, image
        image = self.db.get("images", {}).get(parts[1])
        if image is None:
            raise _error("image", 404, f"No image found with ID {parts[1]}")
        if parts[2:3] == ["file"] and method == "PUT":
            image.update(
                status="active",
                checksum=hashlib.md5(body).hexdigest(),
                size=len(body),
                os_hash_algo="sha512",
                os_hash_value=hashlib.sha512(body).hexdigest(),
            )
            return 204, None
        if method == "PATCH":
            for change in body:
                self.json_patch(image, change)
            return 200, image
        if method == "DELETE":
            del self.db["images"][image["id"]]
            return 204, None
        return 200, image

    @staticmethod
    def json_patch(document, change):
        """One JSON Patch operation (add, replace, remove) as Glance applies it: ``/tags/0`` is in a list."""
        *parents, last = change["path"].lstrip("/").split("/")
        for key in parents:
            document = document[int(key)] if isinstance(document, list) else document.setdefault(key, {})
        if isinstance(document, list):
            index = len(document) if last == "-" else int(last)
            if change["op"] == "remove":
                del document[index]
            elif change["op"] == "add":
                document.insert(index, change["value"])
            else:
                document[index] = change["value"]
        elif change["op"] == "remove":
            document.pop(last, None)
        else:
            document[last] = change["value"]

    # -- Cinder -------------------------------------------------------------------

    def cinder(self, method, path, query, body):
        parts = path.split("/")[4:]  # after /volume/v3/PROJECT
        if not parts or parts[0] not in CINDER:
            return None
        collection, singular = CINDER[parts[0]]
        if parts[1:2] == ["detail"] and method == "GET":
            items = [self.shown_item(i) for i in self.matching(self.items(collection), query)]
            return 200, self.page(path, query, collection, items)
        if len(parts) == 1 and method == "GET" and collection == "volume_types":
            return 200, {"volume_types": [self.shown_item(t) for t in self.items(collection)]}
        if len(parts) == 1 and method == "POST":
            return getattr(self, f"new_{singular}")(body[singular])
        item = self.one(collection, parts[1], "volume", singular.replace("_", " ").capitalize())
        if parts[2:3] == ["action"]:
            if "os-set_bootable" in body:
                item["bootable"] = str(body["os-set_bootable"]["bootable"]).lower()
            return 200, None
        if method == "DELETE":
            return self.cinder_delete(collection, item)
        if method == "PUT":
            item.update(body[singular])
        return 200, {singular: self.shown_item(item)}

    def new_volume_type(self, fields):
        if any(t["name"] == fields["name"] for t in self.items("volume_types")):
            raise _error("volume", 409, f"Volume Type {fields['name']} already exists.")
        fields = dict({"description": None, "extra_specs": {}, "os-volume-type-access:is_public": True}, **fields)
        fields["is_public"] = fields["os-volume-type-access:is_public"]
        return 200, {"volume_type": self.add("volume_types", fields)}

    def new_volume(self, fields):
        type_name = fields.get("volume_type") or "__DEFAULT__"
        if not any(type_name in (t["name"], t["id"]) for t in self.items("volume_types")):
            raise _error("volume", 404, f"Volume type with name {type_name} could not be found.")
        if fields.get("imageRef") and fields["imageRef"] not in self.db.get("images", {}):
            raise _error("volume", 400, "Invalid image identifier or unable to access requested image.")
        volume = {
            "name": fields.get("name"),
            "size": fields["size"],
            "status": "creating",
            "volume_type": type_name,
            "bootable": "false",
            "attachments": [],
            "description": fields.get("description"),
            "imageRef": None,
            "os-vol-tenant-attr:tenant_id": self.project,
            "multiattach": False,
            "encrypted": False,
        }
        volume["_steps"] = [{"status": "available", "bootable": "true" if fields.get("imageRef") else "false"}]
        return 202, {"volume": self.shown_item(self.add("volumes", volume))}

    def new_snapshot(self, fields):
        volume = self.one("volumes", fields["volume_id"], "volume", "Volume")
        snapshot = {
            "name": fields.get("name"),
            "volume_id": volume["id"],
            "size": volume["size"],
            "status": "creating",
            "description": fields.get("description"),
            "_steps": [{"status": "available"}],
        }
        return 202, {"snapshot": self.shown_item(self.add("snapshots", snapshot))}

    def cinder_delete(self, collection, item):
        if collection == "volumes" and (
            item["status"] not in ("available", "error")
            or any(s["volume_id"] == item["id"] for s in self.items("snapshots"))
        ):
            raise _error(
                "volume",
                400,
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending"
                " or error_managing and must not be migrating, attached, belong to a group, have snapshots,"
                " awaiting a transfer, or be disassociated from snapshots after volume transfer.",
            )
        if collection == "volume_types":
            if any(v["volume_type"] == item["name"] for v in self.items("volumes")):
                raise _error("volume", 400, "Target volume type is still in use.")
            del self.db[collection][item["id"]]
            return 202, None
        item.update(status="deleting", _gone=True)
        return 202, None

    # -- Octavia ------------------------------------------------------------------

    def octavia(self, method, path, query, body):
        parts = path.split("/")[4:]  # after /load-balancer/v2/lbaas
        if len(parts) >= 3 and parts[0] == "pools" and parts[2] == "members":
            pool = self.one("pools", parts[1], "load-balancer", "Pool")
            return self.octavia_crud(method, ["members"] + parts[3:], query, body, path, "members", "member", pool)
        if not parts or parts[0] not in OCTAVIA:
            return None
        return self.octavia_crud(method, parts, query, body, path, parts[0], OCTAVIA[parts[0]])

    def octavia_crud(self, method, parts, query, body, path, collection, singular, pool=None):
        if len(parts) == 1 and method == "GET":
            items = [i for i in self.items(collection) if pool is None or i["_pool"] == pool["id"]]
            items = [self.shown_item(i) for i in self.matching(items, query)]
            return 200, self.page(path, query, collection, items)
        if len(parts) == 1 and method == "POST":
            return 201, {singular: self.shown_item(self.new_octavia(collection, dict(body[singular]), pool))}
        item = self.one(collection, parts[1], "load-balancer", singular.capitalize())
        if method == "GET":
            return 200, {singular: self.shown_item(item)}
        balancer = self.balancer_of(item)
        if method == "DELETE" and collection == "loadbalancers":
            children = [
                c for c in self.items("listeners") + self.items("pools") if c["loadbalancers"][0]["id"] == item["id"]
            ]
            if children and query.get("cascade", ["false"])[0].lower() != "true":
                raise _error("load-balancer", 400, f"Cannot delete Load Balancer {item['id']} - it has children")
            for child in children + [
                m for m in self.items("members") + self.items("healthmonitors") if self.balancer_of(m) is item
            ]:
                child["_gone"] = True
            item.update(provisioning_status="PENDING_DELETE", _gone=True)
            return 204, None
        self.immutable(balancer)
        balancer.update(provisioning_status="PENDING_UPDATE", _steps=[{"provisioning_status": "ACTIVE"}])
        if method == "DELETE":
            item.update(provisioning_status="PENDING_DELETE", _gone=True)
            return 204, None
        item.update(body[singular], provisioning_status="PENDING_UPDATE", _steps=[{"provisioning_status": "ACTIVE"}])
        return 200, {singular: self.shown_item(item)}

    def balancer_of(self, item):
        if "vip_address" in item:
            return item
        if "_pool" in item:
            item = self.db["pools"][item["_pool"]]
        if "pools" in item and "loadbalancers" not in item:
            item = self.db["pools"][item["pools"][0]["id"]]
        return self.db["loadbalancers"][item["loadbalancers"][0]["id"]]

    def immutable(self, balancer):
        if balancer["provisioning_status"] != "ACTIVE":
            raise _error("load-balancer", 409, f"Load Balancer {balancer['id']} is immutable and cannot be updated.")

    def new_octavia(self, collection, fields, pool):
        status = {
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "admin_state_up": True,
            "project_id": self.project,
            "_steps": [{"provisioning_status": "ACTIVE", "operating_status": "ONLINE"}],
        }
        if collection == "loadbalancers":
            subnet_id = (
                fields.get("vip_subnet_id")
                or self.one("networks", fields.get("vip_network_id"), "load-balancer", "Network")["subnets"][0]
            )
            subnet = self.one("subnets", subnet_id, "load-balancer", "Subnet")
            port = self.new_port(
                {
                    "network_id": subnet["network_id"],
                    "name": "octavia-lb-vrrp",
                    "device_owner": "Octavia",
                    "fixed_ips": [
                        {
                            "subnet_id": subnet["id"],
                            **({"ip_address": fields["vip_address"]} if fields.get("vip_address") else {}),
                        }
                    ],
                }
            )
            fields.update(
                vip_subnet_id=subnet["id"],
                vip_network_id=subnet["network_id"],
                vip_port_id=port["id"],
                vip_address=port["fixed_ips"][0]["ip_address"],
                listeners=[],
                pools=[],
                provider="amphora",
            )
            return self.add(collection, dict(status, **fields))
        if collection == "healthmonitors":
            target = self.one("pools", fields.pop("pool_id"), "load-balancer", "Pool")
            if target.get("healthmonitor_id"):
                raise _error(
                    "load-balancer",
                    409,
                    f"Pool {target['id']} is already using Health Monitor {target['healthmonitor_id']}",
                )
            fields["pools"] = [{"id": target["id"]}]
        elif pool is not None:
            fields["_pool"] = pool["id"]
        else:
            balancer_id = fields.pop("loadbalancer_id", None)
            if fields.get("listener_id"):
                balancer_id = self.one("listeners", fields["listener_id"], "load-balancer", "Listener")[
                    "loadbalancers"
                ][0]["id"]
                fields["listeners"] = [{"id": fields.pop("listener_id")}]
            fields["loadbalancers"] = [
                {"id": self.one("loadbalancers", balancer_id, "load-balancer", "Load Balancer")["id"]}
            ]
        item = dict(status, **fields)
        balancer = self.balancer_of(item)
        self.immutable(balancer)
        if collection == "listeners" and any(
            other["protocol_port"] == item["protocol_port"] and other["loadbalancers"][0]["id"] == balancer["id"]
            for other in self.items("listeners")
        ):
            raise _error(
                "load-balancer",
                409,
                f"Another Listener on this Load Balancer is already using protocol_port {item['protocol_port']}",
            )
        balancer.update(provisioning_status="PENDING_UPDATE", _steps=[{"provisioning_status": "ACTIVE"}])
        self.add(collection, item)
        if collection == "healthmonitors":
            target["healthmonitor_id"] = item["id"]
        return item
