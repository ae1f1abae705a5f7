"""
The Nova and Glance halves of the OpenStack fake (``openstack_api.py``,
whose ``OpenStackAPI`` mixes ``Services`` in), on the fake's ``db``, with
what the services share (statuses that move on, plain collections);
Neutron is in ``openstack_network.py``, Cinder and Octavia in
``openstack_storage.py``.
"""

import hashlib
import itertools
import re

try:
    from fakes.openstack_network import Network
    from fakes.openstack_storage import Storage
except ImportError:  # run by hand
    from openstack_network import Network
    from openstack_storage import Storage


class Services(Network, Storage):
    """
    Mixed into OpenStackAPI: ``self.db``, ``add``, ``one``, ``items``,
    ``page``, ``matching``, ``error`` and ``project`` (the caller's).
    """

    def setup_services(self):
        self._macs = itertools.count(0x10)
        self.project = self.admin_project["id"]
        for host in ("compute1", "compute2"):
            self.add("os-services", {"binary": "nova-compute", "host": host, "state": "up", "status": "enabled"})
        for host in ("network", "compute1", "compute2"):
            self.add("agents", {"agent_type": "Open vSwitch agent", "host": host, "alive": True})
        for kind in ("DHCP agent", "L3 agent", "Metadata agent"):
            self.add("agents", {"agent_type": kind, "host": "network", "alive": True})
        self.add("volume_types", {"name": "__DEFAULT__", "description": "Default Volume Type", "is_public": True})
        for binary, host in (("cinder-scheduler", "controller"), ("cinder-volume", "storage@ceph")):
            self.add("volume_services", {"binary": binary, "host": host, "state": "up", "status": "enabled"})

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
            raise self.error(
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
            raise self.error(service, 409, f"Router {item['id']} still has ports", "RouterInUse")
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
                    raise self.error("compute", 409, f"Key pair '{fields['name']}' already exists.")
                keypair = dict(
                    fields,
                    id=fields["name"],
                    type="ssh",
                    fingerprint=hashlib.md5(fields["public_key"].encode()).hexdigest(),
                )
                return 201, {"keypair": self.add("keypairs", keypair)}
            keypair = self.db.get("keypairs", {}).get(parts[1])
            if keypair is None:
                raise self.error("compute", 404, f"Keypair {parts[1]} not found for user {self.admin['id']}")
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
                raise self.error("compute", 409, f"Flavor with name {fields['name']} already exists.")
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
        boot_volume = next(
            (bdm for bdm in fields.get("block_device_mapping_v2", []) if bdm.get("boot_index") in (0, "0")), None
        )
        if boot_volume is not None:
            volume = self.one("volumes", boot_volume["uuid"], "compute", "Volume")
            if volume["status"] != "available" or volume["bootable"] != "true":
                raise self.error(
                    "compute", 400, f"Block Device Mapping is Invalid: volume {volume['id']} is not usable."
                )
        elif fields.get("imageRef") not in self.db.get("images", {}):
            raise self.error("compute", 400, "Invalid imageRef provided.")
        if fields.get("flavorRef") not in self.db.get("flavors", {}):
            raise self.error("compute", 400, f"Flavor {fields.get('flavorRef')} could not be found.")
        network = self.one("networks", fields["networks"][0]["uuid"], "compute", "Network")
        server = {
            "name": fields["name"],
            "status": "BUILD",
            "addresses": {},
            "OS-EXT-SRV-ATTR:host": None,
            # a server booted from a volume has no image
            "image": {"id": fields["imageRef"]} if boot_volume is None else "",
            "flavor": {"id": fields["flavorRef"]},
            "key_name": fields.get("key_name"),
            "tenant_id": self.project,
            "metadata": {},
        }
        self.add("servers", server)
        if boot_volume is not None:
            attachment = {"id": volume["id"], "volumeId": volume["id"], "serverId": server["id"], "device": "/dev/vda"}
            server["_volumes"] = {volume["id"]: attachment}
            volume.update(status="in-use", attachments=[{"server_id": server["id"], "device": "/dev/vda"}])
        if self.server_fault:
            server.setdefault("_steps", [{"status": "ERROR", "fault": {"code": 500, "message": self.server_fault}}])
        else:
            port = self.new_port(
                {"network_id": network["id"], "device_id": server["id"], "device_owner": "compute:nova"}
            )
            address = [{"addr": ip["ip_address"], "version": 4, "OS-EXT-IPS:type": "fixed"} for ip in port["fixed_ips"]]
            ready = {"status": "ACTIVE", "addresses": {network["name"]: address}, "OS-EXT-SRV-ATTR:host": "compute1"}
            server.setdefault("_steps", [ready])
        return 202, {"server": {"id": server["id"], "links": [], "adminPass": "x", "OS-DCF:diskConfig": "MANUAL"}}

    def attachments(self, method, server, parts, body):
        attached = server.setdefault("_volumes", {})
        if method == "GET":
            return 200, {"volumeAttachments": list(attached.values())}
        if method == "POST":
            volume = self.one("volumes", body["volumeAttachment"]["volumeId"], "compute", "Volume")
            if volume["status"] != "available":
                raise self.error(
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
            raise self.error("compute", 404, f"Volume {parts[3]} is not attached to {server['id']}")
        del attached[parts[3]]
        self.db["volumes"][parts[3]].update(status="detaching", _steps=[{"status": "available", "attachments": []}])
        return 202, None

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
            raise self.error("image", 404, f"No image found with ID {parts[1]}")
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
