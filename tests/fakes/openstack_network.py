"""
The Neutron part of the OpenStack fake (mixed into ``Services``):
networks, subnets, ports with their fixed IPs, routers and their
interfaces, security groups (a project's ``default`` made when it first
looks) and rules, floating IPs and agents, with Neutron's checks and
errors (an IP in use, a network with ports, a router with interfaces).
"""

import ipaddress
import itertools

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


class Network:
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
            raise self.error(
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
                raise self.error(
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
            "binding:host_id": "",
            "port_security_enabled": True,
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
                raise self.error("network", 400, f"Router already has a port on subnet {subnet['id']}.", "BadRequest")
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
            raise self.error(
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
                raise self.error(
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
            raise self.error(
                "network",
                409,
                f"No more IP addresses available on network {network['id']}.",
                "IpAddressGenerationFailure",
            )
        fixed = port["fixed_ips"][0]["ip_address"] if port else None
        return self.add("floatingips", dict(fields, floating_ip_address=address, fixed_ip_address=fixed, status="DOWN"))
