"""
The Cinder and Octavia parts of the OpenStack fake (mixed into
``Services``): volume types, volumes (``creating``, then ``available``;
``attaching``, ``in-use``; ``deleting``, gone), snapshots, Cinder's
services (``volume_services``, as ``GET os-services`` lists them); load
balancers, listeners, pools, members and health monitors, ``PENDING_*`` then
``ACTIVE``, a load balancer immutable (409) while it is pending.
"""

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


class Storage:
    # -- Cinder -------------------------------------------------------------------

    def cinder(self, method, path, query, body):
        parts = path.split("/")[4:]  # after /volume/v3/PROJECT
        if parts == ["os-services"] and method == "GET":
            return 200, {"services": self.matching(self.items("volume_services"), query)}
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
            raise self.error("volume", 409, f"Volume Type {fields['name']} already exists.")
        fields = dict({"description": None, "extra_specs": {}, "os-volume-type-access:is_public": True}, **fields)
        fields["is_public"] = fields["os-volume-type-access:is_public"]
        return 200, {"volume_type": self.add("volume_types", fields)}

    def new_volume(self, fields):
        type_name = fields.get("volume_type") or "__DEFAULT__"
        if not any(type_name in (t["name"], t["id"]) for t in self.items("volume_types")):
            raise self.error("volume", 404, f"Volume type with name {type_name} could not be found.")
        if fields.get("imageRef") and fields["imageRef"] not in self.db.get("images", {}):
            raise self.error("volume", 400, "Invalid image identifier or unable to access requested image.")
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
            raise self.error(
                "volume",
                400,
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending"
                " or error_managing and must not be migrating, attached, belong to a group, have snapshots,"
                " awaiting a transfer, or be disassociated from snapshots after volume transfer.",
            )
        if collection == "volume_types":
            if any(v["volume_type"] == item["name"] for v in self.items("volumes")):
                raise self.error("volume", 400, "Target volume type is still in use.")
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
                raise self.error("load-balancer", 400, f"Cannot delete Load Balancer {item['id']} - it has children")
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
            raise self.error(
                "load-balancer", 409, f"Load Balancer {balancer['id']} is immutable and cannot be updated."
            )

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
                raise self.error(
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
            raise self.error(
                "load-balancer",
                409,
                f"Another Listener on this Load Balancer is already using protocol_port {item['protocol_port']}",
            )
        balancer.update(provisioning_status="PENDING_UPDATE", _steps=[{"provisioning_status": "ACTIVE"}])
        self.add(collection, item)
        if collection == "healthmonitors":
            target["healthmonitor_id"] = item["id"]
        return item
