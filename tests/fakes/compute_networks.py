"""
The networking part of the fake Compute API, mixed into its ``ComputeAPI``
(``compute_api.py``): VPC networks (custom subnet mode), their regional
subnetworks, the firewall rules and the Cloud Routers with their Cloud
NAT, with the API's checks and errors (a CIDR that overlaps another of
the network, a network or subnetwork still in use, a second NAT for all
of a network's subnetworks in one region). Firewall rules and routers
that change tell the rehearsal's network (``_network_changed``).
"""

import copy
import ipaddress
import uuid

try:
    from fakes.compute_common import ApiError, _now
except ImportError:  # run by hand: python3 tests/fakes/compute_api.py
    from compute_common import ApiError, _now


class Networks:
    """
    Mixed into ComputeAPI: ``self.networks``, ``subnetworks``,
    ``firewalls``, ``routers`` and ``instances``, with the fake's helpers
    (``_get``, ``_reserve``, ``_created``, ``_operation``...).
    """

    # -- networks, subnetworks, firewalls ---------------------------------------------

    def list_networks(self, query, body):
        return self._list("compute#networkList", self.networks.values(), query)

    def get_network(self, name, query, body):
        return 200, self._public(self._get(self.networks, name, f"global/networks/{name}"))

    def insert_network(self, query, body):
        name = self._name(body, "network")
        if body.get("autoCreateSubnetworks") is not False:
            raise ApiError(
                400, "invalid", "The lab's networks must be in custom subnet mode (autoCreateSubnetworks: false)"
            )
        mtu = int(body.get("mtu") or 1460)
        if not 1300 <= mtu <= 8896:
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.mtu': '{mtu}'. Must be between 1300 and 8896."
            )
        pending = self._reserve("networks", name, f"global/networks/{name}")
        link = self.link("global", "networks", name)
        record = {
            "kind": "compute#network",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "selfLink": link,
            "autoCreateSubnetworks": False,
            "mtu": mtu,
            "subnetworks": [],
            "routingConfig": body.get("routingConfig") or {"routingMode": "REGIONAL"},
            "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
        }
        return self._operation(
            ("global",), "insert", link, lambda: self._created("networks", name, record), record["id"], pending
        )

    def delete_network(self, name, query, body):
        network = self._get(self.networks, name, f"global/networks/{name}")
        for _what, users in (
            ("subnetworks", network["subnetworks"]),
            ("firewalls", [f["selfLink"] for f in self.firewalls.values() if f["network"] == network["selfLink"]]),
            ("routers", [r["selfLink"] for r in self.routers.values() if r["network"] == network["selfLink"]]),
        ):
            if users:
                raise ApiError(
                    400,
                    "resourceInUseByAnotherResource",
                    f"The network resource 'projects/{self.project}/global/networks/{name}' is already "
                    f"being used by '{users[0].split('/compute/v1/')[-1]}'",
                )

        def apply():
            self.networks.pop(name, None)

        return self._operation(("global",), "delete", network["selfLink"], apply, network["id"])

    def list_subnetworks(self, region, query, body):
        self._region(region)
        return self._list(
            "compute#subnetworkList", [s for (r, _n), s in self.subnetworks.items() if r == region], query
        )

    def get_subnetwork(self, region, name, query, body):
        self._region(region)
        return 200, self._public(self._get(self.subnetworks, (region, name), f"regions/{region}/subnetworks/{name}"))

    def insert_subnetwork(self, region, query, body):
        self._region(region)
        name = self._name(body, "subnetwork")
        _scope, network_name = self._ref(body.get("network"), "global/networks")
        network = self._get(self.networks, network_name, f"global/networks/{network_name}")
        try:
            cidr = ipaddress.IPv4Network(str(body.get("ipCidrRange")), strict=True)
        except ValueError:
            raise ApiError(400, "invalid", f"Invalid IPCidrRange: {body.get('ipCidrRange')}") from None
        if (region, name) in self.subnetworks or ("subnetworks", (region, name)) in self._pending:
            raise ApiError(
                409,
                "alreadyExists",
                f"The resource 'projects/{self.project}/regions/{region}/subnetworks/{name}' already exists",
            )
        for other in self.subnetworks.values():
            if other["network"] == network["selfLink"] and cidr.overlaps(ipaddress.IPv4Network(other["ipCidrRange"])):
                raise ApiError(
                    400,
                    "invalid",
                    f"Invalid IPCidrRange: {cidr} conflicts with existing subnetwork "
                    f"'{other['name']}' in region '{region}'.",
                )
        pending = self._reserve("subnetworks", (region, name), f"regions/{region}/subnetworks/{name}")
        link = self.link("regions", region, "subnetworks", name)
        record = {
            "kind": "compute#subnetwork",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "network": network["selfLink"],
            "ipCidrRange": str(cidr),
            "gatewayAddress": str(cidr.network_address + 1),
            "region": self.link("regions", region),
            "selfLink": link,
            "privateIpGoogleAccess": False,
            "fingerprint": uuid.uuid4().hex[:12],
            "stackType": "IPV4_ONLY",
            "purpose": "PRIVATE",
        }

        def apply():
            if network_name not in self.networks:
                raise ApiError(404, "notFound", f"The resource 'global/networks/{network_name}' was not found")
            self._created("subnetworks", (region, name), record)
            self.networks[network_name]["subnetworks"].append(link)

        return self._operation(("regions", region), "insert", link, apply, record["id"], pending)

    def delete_subnetwork(self, region, name, query, body):
        self._region(region)
        subnet = self._get(self.subnetworks, (region, name), f"regions/{region}/subnetworks/{name}")
        users = [
            i["selfLink"]
            for i in self.instances.values()
            if any(n["subnetwork"] == subnet["selfLink"] for n in i["networkInterfaces"])
        ]
        if users:
            raise ApiError(
                400,
                "resourceInUseByAnotherResource",
                f"The subnetwork resource 'projects/{self.project}/regions/{region}/subnetworks/{name}' "
                f"is already being used by '{users[0].split('/compute/v1/')[-1]}'",
            )

        def apply():
            self.subnetworks.pop((region, name), None)
            for network in self.networks.values():
                if subnet["selfLink"] in network["subnetworks"]:
                    network["subnetworks"].remove(subnet["selfLink"])

        return self._operation(("regions", region), "delete", subnet["selfLink"], apply, subnet["id"])

    def list_firewalls(self, query, body):
        return self._list("compute#firewallList", self.firewalls.values(), query)

    def get_firewall(self, name, query, body):
        return 200, self._public(self._get(self.firewalls, name, f"global/firewalls/{name}"))

    def insert_firewall(self, query, body):
        name = self._name(body, "firewall")
        _scope, network_name = self._ref(body.get("network") or "global/networks/default", "global/networks")
        network = self._get(self.networks, network_name, f"global/networks/{network_name}")
        allowed = body.get("allowed") or []
        if not allowed and not body.get("denied"):
            raise ApiError(400, "invalid", "Invalid value for field 'resource': one of allowed or denied is required")
        for rule in allowed:
            if rule.get("IPProtocol") not in ("tcp", "udp", "icmp", "all", "esp", "ah", "sctp", "ipip"):
                raise ApiError(
                    400,
                    "invalid",
                    f"Invalid value for field 'resource.allowed[].IPProtocol': '{rule.get('IPProtocol')}'",
                )
        for source in body.get("sourceRanges") or []:
            try:
                ipaddress.ip_network(source, strict=True)
            except ValueError:
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.sourceRanges': '{source}'") from None
        pending = self._reserve("firewalls", name, f"global/firewalls/{name}")
        link = self.link("global", "firewalls", name)
        record = {
            "kind": "compute#firewall",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "network": network["selfLink"],
            "priority": int(body.get("priority") or 1000),
            "direction": body.get("direction") or "INGRESS",
            "sourceRanges": list(body.get("sourceRanges") or ["0.0.0.0/0"]),
            "allowed": allowed,
            "disabled": False,
            "selfLink": link,
            "logConfig": {"enable": False},
        }
        if body.get("targetTags"):
            record["targetTags"] = list(body["targetTags"])

        def apply():
            self._created("firewalls", name, record)
            self._network_changed()

        return self._operation(("global",), "insert", link, apply, record["id"], pending)

    def patch_firewall(self, name, query, body):
        firewall = self._get(self.firewalls, name, f"global/firewalls/{name}")
        changes = {
            k: copy.deepcopy(v)
            for k, v in body.items()
            if k in ("allowed", "sourceRanges", "description", "priority", "disabled", "targetTags")
        }
        for source in changes.get("sourceRanges", []):
            try:
                ipaddress.ip_network(source, strict=True)
            except ValueError:
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.sourceRanges': '{source}'") from None

        def apply():
            firewall.update(changes)
            self._network_changed()

        return self._operation(("global",), "patch", firewall["selfLink"], apply, firewall["id"])

    def delete_firewall(self, name, query, body):
        firewall = self._get(self.firewalls, name, f"global/firewalls/{name}")

        def apply():
            self.firewalls.pop(name, None)
            self._network_changed()

        return self._operation(("global",), "delete", firewall["selfLink"], apply, firewall["id"])

    # -- routers and their Cloud NAT ------------------------------------------------------

    NAT_RANGES = ("ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES", "LIST_OF_SUBNETWORKS")

    def list_routers(self, region, query, body):
        self._region(region)
        return self._list("compute#routerList", [r for (g, _n), r in self.routers.items() if g == region], query)

    def get_router(self, region, name, query, body):
        self._region(region)
        return 200, self._public(self._get(self.routers, (region, name), f"regions/{region}/routers/{name}"))

    def _router_nat(self, nat):
        name = self._name(nat, "nat")
        ranges = nat.get("sourceSubnetworkIpRangesToNat")
        if ranges not in self.NAT_RANGES:
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.nats[0].sourceSubnetworkIpRangesToNat': '{ranges}'."
            )
        option = nat.get("natIpAllocateOption")
        if option not in ("AUTO_ONLY", "MANUAL_ONLY"):
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.nats[0].natIpAllocateOption': '{option}'."
            )
        if option == "MANUAL_ONLY" and not nat.get("natIps"):
            raise ApiError(400, "invalid", "natIps must be specified when natIpAllocateOption is MANUAL_ONLY.")
        if ranges == "LIST_OF_SUBNETWORKS" and not nat.get("subnetworks"):
            raise ApiError(
                400,
                "invalid",
                "subnetworks must be specified when sourceSubnetworkIpRangesToNat is LIST_OF_SUBNETWORKS.",
            )
        record = {
            "name": name,
            "sourceSubnetworkIpRangesToNat": ranges,
            "natIpAllocateOption": option,
            "endpointTypes": list(nat.get("endpointTypes") or ["ENDPOINT_TYPE_VM"]),
            "enableEndpointIndependentMapping": bool(nat.get("enableEndpointIndependentMapping")),
            "enableDynamicPortAllocation": bool(nat.get("enableDynamicPortAllocation")),
            "type": nat.get("type") or "PUBLIC",
            "autoNetworkTier": "PREMIUM",
        }
        for key in ("natIps", "subnetworks", "logConfig", "minPortsPerVm"):
            if nat.get(key):
                record[key] = copy.deepcopy(nat[key])
        return record

    def insert_router(self, region, query, body):
        self._region(region)
        name = self._name(body, "router")
        _scope, network_name = self._ref(body.get("network"), "global/networks")
        network = self._get(self.networks, network_name, f"global/networks/{network_name}")
        nats = [self._router_nat(n) for n in body.get("nats") or []]
        if len({n["name"] for n in nats}) != len(nats):
            raise ApiError(400, "invalid", "Each NAT of a router needs its own name.")
        if (region, name) in self.routers or ("routers", (region, name)) in self._pending:
            raise ApiError(
                409,
                "alreadyExists",
                f"The resource 'projects/{self.project}/regions/{region}/routers/{name}' already exists",
            )
        whole = [n for n in nats if n["sourceSubnetworkIpRangesToNat"].startswith("ALL_SUBNETWORKS")]
        for (other_region, _other), other in self.routers.items():
            if other_region == region and other["network"] == network["selfLink"] and whole and other.get("nats"):
                raise ApiError(
                    400,
                    "invalid",
                    f"Network '{network_name}' already has a NAT in region '{region}' "
                    f"(router '{other['name']}'); a NAT for all its subnetworks "
                    "cannot be added.",
                )
        pending = self._reserve("routers", (region, name), f"regions/{region}/routers/{name}")
        link = self.link("regions", region, "routers", name)
        record = {
            "kind": "compute#router",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "region": self.link("regions", region),
            "network": network["selfLink"],
            "selfLink": link,
            "encryptedInterconnectRouter": False,
        }
        if nats:
            record["nats"] = nats

        def apply():
            if network_name not in self.networks:
                raise ApiError(404, "notFound", f"The resource 'global/networks/{network_name}' was not found")
            self._created("routers", (region, name), record)
            self._network_changed()

        return self._operation(("regions", region), "insert", link, apply, record["id"], pending)

    def delete_router(self, region, name, query, body):
        self._region(region)
        router = self._get(self.routers, (region, name), f"regions/{region}/routers/{name}")

        def apply():
            self.routers.pop((region, name), None)
            self._network_changed()

        return self._operation(("regions", region), "delete", router["selfLink"], apply, router["id"])
