"""
Every role's highstate renders on this machine with the repository's pillar
and freshly generated secrets (``salt-call --local state.show_highstate``:
rendered, never applied), and each role gets the states meant for it. The
configuration templates are rendered too (``slsutil.renderer``) and checked
for what the role's node must run.

The mine is empty when rendering locally; one test seeds this minion's own
mine cache to render /etc/hosts from it.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
# every test renders with a real salt-call
pytestmark = pytest.mark.slow
NODES = {"controller": "controller", "network": "network", "compute": "compute1", "storage": "storage"}
CONTROLLER = "192.168.1.11"
# what the nspawn nodes report (salt-call grains.item virtual on a node)
CONTAINER = {"virtual": "systemd-nspawn", "virtual_subtype": None}


class Minion:
    """
    A masterless minion (pytest-salt-factories' minion configuration, run
    with salt-call --local): this repository's state tree, its modules as
    the master serves them, its pillar (without the operator's own secrets,
    if any), the given secrets, a role's grains.
    """

    def __init__(self, factories, root, role, secrets_dir=None, grains=None, pillar_files=None):
        self.root = root
        if pillar_files is None:
            shutil.copytree(REPO / "pillar", root / "pillar", ignore=shutil.ignore_patterns("secrets.json"))
        else:
            for name in pillar_files:
                (root / "pillar" / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO / "pillar" / name, root / "pillar" / name)
        pillar_roots = ([str(secrets_dir)] if secrets_dir else []) + [str(root / "pillar")]
        overrides = {
            "id": NODES.get(role, role),
            "file_client": "local",
            "file_roots": {"base": [str(REPO / "salt")]},
            "pillar_roots": {"base": pillar_roots},
            "module_dirs": [str(REPO / "_modules")],
            "states_dirs": [str(REPO / "_states")],
            "utils_dirs": [str(REPO / "_utils")],
            "grains": {"roles": [role], **CONTAINER, **(grains or {})},
            # render errors are the tests' to read, not pytest's log to forward
            "pytest-minion": {"log": {"disabled": True}},
        }
        # the factory's own name is unique; the minion's id is the node's
        factory = factories.salt_minion_daemon(f"render-{root.name}", overrides=overrides)
        self.cli = factory.salt_call_cli(timeout=120)

    def run(self, *args):
        return self.cli.run("--local", "--retcode-passthrough", *args)

    def call(self, *args):
        proc = self.run(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)["local"]

    def highstate(self):
        states = self.call("state.show_highstate")
        assert isinstance(states, dict) and states, states
        for state_id, body in states.items():
            assert isinstance(body, dict) and "__sls__" in body, (state_id, body)
        return states

    def render_errors(self, pillar):
        """
        The highstate's render errors under a pillar override: what Salt
        returns instead of states when an SLS file fails to render.
        """
        proc = self.run("state.show_highstate", "pillar=" + json.dumps(pillar))
        assert proc.returncode != 0, proc.stdout
        errors = json.loads(proc.stdout)["local"]
        assert isinstance(errors, list) and errors, errors
        return errors

    def template(self, path, context=None):
        """A template of the state tree, rendered (with `context`, as a state passes it)."""
        extra = [f"{key}={json.dumps(value)}" for key, value in (context or {}).items()]
        return self.call("slsutil.renderer", f"salt://{path}", "default_renderer=jinja", *extra)


def function(states, state_id):
    """
    'module.function' of a state in rendered high data.
    """
    body = states[state_id]
    module = next(key for key in body if not key.startswith("__"))
    return f"{module}.{next(arg for arg in body[module] if isinstance(arg, str))}"


def arg(states, state_id, name):
    body = states[state_id]
    module = next(key for key in body if not key.startswith("__"))
    return next((a[name] for a in body[module] if isinstance(a, dict) and name in a), None)


@pytest.fixture(params=sorted(NODES), scope="module")
def node(make_minion, request, tmp_path_factory, secrets_dir):
    role = request.param
    minion = make_minion(tmp_path_factory.mktemp(role), role, secrets_dir)
    return role, minion, minion.highstate()


def test_every_role_gets_the_common_formulas(node):
    _role, _minion, states = node
    assert function(states, "users-stack") == "user.present"
    assert arg(states, "users-stack", "shell") == "/bin/bash"
    # the lab key is added to the keys stack has; none is removed
    assert function(states, "users-stack-authorized-keys") == "ssh_auth.present"
    assert arg(states, "users-stack-authorized-keys", "user") == "stack"
    assert function(states, "users-stack-sudoers") == "file.managed"
    assert arg(states, "users-stack-sudoers", "check_cmd") == "/usr/sbin/visudo -cf"
    assert function(states, "chrony-service") == "service.running"
    assert function(states, "packages-installed") == "pkg.installed"
    assert "vim-tiny" in arg(states, "packages-installed", "pkgs")
    # empty mine: /etc/hosts is left alone, and says so
    assert function(states, "hosts-lab-nodes") == "test.show_notification"


def test_every_package_waits_for_the_apt_formula(node):
    _role, _minion, states = node
    packages = [state_id for state_id, body in states.items() if "pkg" in body]
    assert len(packages) >= 3
    for state_id in packages:
        assert {"sls": "apt"} in (arg(states, state_id, "require") or []), state_id
    for state_id in ("apt-proxy-config",):
        assert states[state_id]["__sls__"] == "apt.proxy"
        assert "apt" in states[state_id]["__sls_included_from__"]


def test_the_cache_runs_on_the_controller_and_the_others_use_it(node):
    role, minion, states = node
    cache = {state_id for state_id in states if state_id.startswith("apt-cache-")}
    if role == "controller":
        assert function(states, "apt-cache-pkg") == "pkg.installed"
        assert arg(states, "apt-cache-pkg", "name") == "apt-cacher-ng"
        assert function(states, "apt-cache-service") == "service.running"
        assert {"file": "apt-cache-config"} in arg(states, "apt-cache-service", "watch")
        assert "apt-cache-answers" not in states
        # its own APT goes straight to the mirror
        assert function(states, "apt-proxy-config") == "file.absent"
        config = minion.template("apt/files/acng.conf.jinja")
        assert "Port: 3142\n" in config
        assert f"BindAddress: {CONTROLLER} localhost\n" in config
        assert "VerboseLog: 1\n" in config
        assert function(states, "apt-cache-backend-debian") == "file.managed"
        assert arg(states, "apt-cache-backend-debian", "context") == {"url": "http://deb.debian.org/debian/"}
    else:
        assert cache == {"apt-cache-answers"}
        assert function(states, "apt-cache-answers") == "http.wait_for_successful_query"
        assert arg(states, "apt-cache-answers", "name") == f"http://{CONTROLLER}:3142/saltlab-cache.html"
        assert arg(states, "apt-cache-answers", "status") == 200
        assert arg(states, "apt-cache-answers", "wait_for") >= 300
        assert function(states, "apt-proxy-config") == "file.managed"
        assert arg(states, "apt-proxy-config", "require") == [{"http": "apt-cache-answers"}]
        assert arg(states, "apt-proxy-config", "context") == {"cache_url": f"http://{CONTROLLER}:3142"}


def test_chrony_serves_on_the_controller_and_follows_it_elsewhere(node):
    role, minion, _states = node
    config = minion.template("chrony/files/chrony.conf.jinja")
    lines = [line for line in config.splitlines() if line and not line.startswith("#")]
    if role == "controller":
        assert "local stratum 8" in lines
        assert "allow 192.168.1.0/24" in lines
        assert not [line for line in lines if line.startswith(("server", "pool"))]
    else:
        assert [line for line in lines if line.startswith(("server", "pool", "allow", "local"))] == [
            f"server {CONTROLLER} iburst"
        ]
    # a container never sets the clock: it is the host's
    assert 'DAEMON_OPTS="-F 1 -x"' in minion.template("chrony/files/default.jinja")
    assert "rtcsync" not in lines


def test_forwarding_only_on_network_and_compute(node):
    role, _minion, states = node
    sysctls = {
        arg(states, s, "name"): arg(states, s, "value")
        for s in states
        if "sysctl" in states[s] and states[s]["__sls__"].startswith("sysctl")
    }
    assert sysctls == ({"net.ipv4.ip_forward": 1} if role in ("network", "compute") else {})


def test_chrony_sets_the_clock_outside_containers(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "compute", secrets_dir, grains={"virtual": "kvm"})
    assert 'DAEMON_OPTS="-F 1"' in minion.template("chrony/files/default.jinja")
    assert "rtcsync" in minion.template("chrony/files/chrony.conf.jinja").splitlines()


def test_hosts_come_from_the_mine(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "compute", secrets_dir)
    # the only mine a masterless minion reads is its own cache
    minion.call(
        "data.update", "mine_cache", json.dumps({"network.ip_addrs": ["10.99.0.5", "192.168.1.21", "192.168.2.21"]})
    )
    states = minion.highstate()
    assert function(states, "hosts-lab-nodes") == "file.blockreplace"
    assert arg(states, "hosts-lab-nodes", "name") == "/etc/hosts"
    assert arg(states, "hosts-lab-nodes", "content") == "192.168.1.21  compute1\n"
    assert arg(states, "hosts-lab-nodes", "append_if_not_found") is True
    assert function(states, "hosts-loopback-name") == "host.only"


def test_without_secrets_the_pillar_says_what_to_run(make_minion, tmp_path):
    proc = make_minion(tmp_path, "storage").run("state.show_highstate")
    assert proc.returncode != 0
    assert "secrets.json" in proc.stdout + proc.stderr


def test_under_test_mode_nobody_waits_for_the_cache(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "storage", secrets_dir)
    states = minion.call("state.show_sls", "apt", "test=True")
    assert arg(states, "apt-cache-answers", "wait_for") == 0


@pytest.mark.parametrize(
    "role, override, message",
    [
        (
            "compute",
            {"networks": {"mgmt": {"cidr": "192.168.1.0/33"}}},
            "saltlab:networks:mgmt:cidr is not an IPv4 network",
        ),
        ("compute", {"networks": {"mgmt": {"mtu": "abc"}}}, "saltlab:networks:mgmt:mtu must be an integer 1280-9000"),
        (
            "compute",
            {"networks": {"underlay": {"mtu": 1000}}},
            "saltlab:networks:underlay:mtu must be an integer 1280-9000",
        ),
        (
            "network",
            {"networks": {"underlay": {"cidr": "192.168.1.0/24"}}},
            "saltlab:networks:underlay:cidr 192.168.1.0/24 overlaps networks:mgmt:cidr",
        ),
        ("compute", {"external": {"cidr": "172.16.0.0/33"}}, "saltlab:external:cidr is not an IPv4 network"),
        (
            "compute",
            {"external": {"gateway": "172.17.0.1"}},
            "saltlab:external:gateway 172.17.0.1 is not a host address",
        ),
        (
            "storage",
            {"nodes": {"storage": {"host": 22}}},
            "saltlab:nodes:storage:host host number 22 is also compute2's",
        ),
        ("compute", {"ovs": {"datapath_type": "kernel"}}, "saltlab:ovs:datapath_type must be one of system, netdev"),
        ("controller", {"apt": {"cache": {"port": "notaport"}}}, "saltlab:apt:cache:port must be an integer 1-65535"),
        ("controller", {"apt": {"cache": {"prot": 3142}}}, "saltlab:apt:cache:prot is not a setting of this formula"),
        # a value only compute nodes use, found on every node
        ("storage", {"nova": {"virt_type": "xen"}}, "saltlab:nova:virt_type must be one of auto, kvm, qemu"),
        ("network", {"entry": {"novnc_port": 0}}, "saltlab:entry:novnc_port must be an integer 1-65535"),
        ("storage", {"flux": {"capacitor": 1}}, "saltlab:flux is neither a setting of the lab nor a formula"),
        ("network", {"octavia": {"topology": "ACTIVE_STANDBY"}}, "saltlab:octavia:topology must be one of SINGLE"),
    ],
)
def test_bad_pillar_stops_the_render_with_a_message_naming_the_key(
    make_minion, tmp_path, secrets_dir, role, override, message
):
    errors = make_minion(tmp_path, role, secrets_dir).render_errors({"saltlab": override})
    assert all("pillar " + message in error for error in errors), errors


def test_the_full_lab_puts_the_control_plane_on_the_controller(node):
    role, _minion, states = node
    control_plane = {
        "mariadb-service",
        "rabbitmq-user",
        "memcached-service",
        "keystone-bootstrap",
        "glance-service",
        "placement-service",
        "nova-service-nova-conductor",
        "neutron-service-neutron-rpc-server",
        "cinder-service-cinder-scheduler",
        "horizon-service",
    }
    assert control_plane <= set(states) if role == "controller" else not control_plane & set(states)
    if role != "controller":
        return
    # Debian's questions are answered before its packages are installed
    owners = {
        "keystone": "keystone",
        "glance": "glance-common",
        "placement": "placement-api",
        "nova": "nova-common",
        "neutron": "neutron-common",
        "cinder": "cinder-common",
        "horizon": "openstack-dashboard-apache",
    }
    for service, owner in owners.items():
        assert function(states, f"{service}-debconf-{owner}") == "debconf.set"
        assert {"debconf": f"{service}-debconf-{owner}"} in arg(states, f"{service}-pkgs", "require")
        # and only then: the package unregisters what it has asked
        assert arg(states, f"{service}-debconf-{owner}", "unless") == [{"fun": "pkg.version", "args": [owner]}]
    # Debian's console proxy choice lives in /etc/default, not in debconf
    assert arg(states, "nova-consoleproxy-defaults", "key_values")["NOVA_CONSOLE_PROXY_TYPE"] == "novnc"
    assert {"file": "nova-consoleproxy-defaults"} in arg(states, "nova-service-nova-novncproxy", "watch")
    # every keystone-manage as keystone: the first one creates its log file
    for step in ("keystone-fernet-setup", "keystone-credential-setup", "keystone-db-sync"):
        assert arg(states, step, "runas") == "keystone"
    # keystone's own endpoints come from its bootstrap
    for service in ("glance", "placement", "nova", "neutron", "cinder"):
        assert function(states, f"{service}-keystone-endpoint-public") == "openstack.endpoint_present"
    # Cinder's v3 API, the project from the token
    assert arg(states, "cinder-keystone-endpoint-public", "url") == f"http://{CONTROLLER}:8776/v3"
    assert arg(states, "glance-keystone-endpoint-public", "url") == f"http://{CONTROLLER}:9292"
    # databases for local and management-network clients, over root's socket
    assert arg(states, "glance-db-user-mgmt", "host") == "192.168.1.0/255.255.255.0"
    assert arg(states, "glance-db-user-local", "connection_unix_socket") == "/run/mysqld/mysqld.sock"
    # syncs run only when the database says so
    assert arg(states, "keystone-db-sync", "unless") == "keystone-manage db_sync --check"
    assert arg(states, "glance-db-sync", "unless") == "glance-manage db check"
    assert arg(states, "cinder-db-sync", "unless") == [
        {
            "fun": "saltlab.schema_current",
            "databases": "cinder",
            "migrations": "/usr/lib/python3/dist-packages/cinder/db/migrations",
        }
    ]
    assert "glance-db-sync" in {r.get("cmd") for r in arg(states, "glance-service", "require")}
    # nova's cells, each step after the one before
    assert arg(states, "nova-create-cell1", "require") == [{"cmd": "nova-map-cell0"}]
    assert "cell1" in arg(states, "nova-create-cell1", "unless")


def test_neutron_mtus_come_from_the_underlay(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "controller", secrets_dir)
    ml2 = minion.template("neutron/files/ml2_conf.ini.jinja").splitlines()
    assert "path_mtu = 1460" in ml2
    assert "physical_network_mtus = physnet:1410" in ml2
    # another underlay MTU in the model: another physnet MTU
    model = tmp_path / "pillar" / "model.yaml"
    model.write_text(
        model.read_text().replace("    mtu: 1460\n    underlay: true", "    mtu: 9000\n    underlay: true")
    )
    ml2 = minion.template("neutron/files/ml2_conf.ini.jinja").splitlines()
    assert "physical_network_mtus = physnet:8950" in ml2


def test_the_external_bridge_on_network_and_compute_nodes(node):
    role, minion, states = node
    if role not in ("network", "compute"):
        assert not any(s.startswith(("extbridge-", "ovs-")) for s in states)
        return
    # local nodes: the userspace datapath (pillar/local.sls, by the virtual grain)
    for bridge in ("br-ext", "br-phys"):
        assert function(states, f"extbridge-{bridge}") == "ovs.bridge_present"
        assert arg(states, f"extbridge-{bridge}", "datapath_type") == "netdev"
    assert arg(states, "extbridge-ext-to-phys", "options") == {"peer": "phys-to-ext"}
    assert arg(states, "extbridge-phys-to-ext", "bridge") == "br-phys"
    # which tunnels out of a bridge holding the node's underlay address,
    # the model's (compute1: .21, network: .12), whatever its NICs have now
    host = {"network": 12, "compute": 21}[role]
    assert arg(states, "extbridge-underlay-address", "context")["address"] == f"192.168.2.{host}/24"
    # the network node is the gateway, with the MTU computed from the underlay's
    assert ("extbridge-gateway-address" in states) == (role == "network")
    assert ("extbridge-nat" in states) == (role == "network")
    if role == "network":
        network = minion.template(
            "extbridge/files/link.network.jinja", context=arg(states, "extbridge-gateway-address", "context")
        )
        assert {"Name=br-ext", "MTUBytes=1410", "Address=172.16.0.1/24"} <= set(network.splitlines())
        nat = minion.template("lib/firewall/files/nat.nft.jinja", context=arg(states, "extbridge-nat-rules", "context"))
        route = minion.run("network.default_route", "inet")
        public = json.loads(route.stdout)["local"][0]["interface"]
        assert f'ip saddr 172.16.0.0/24 oifname "{public}" masquerade' in nat
        assert f'iifname "{public}" oifname "br-ext" ct state established,related accept' in nat


def test_bridges_use_the_kernel_datapath_outside_containers(make_minion, tmp_path, secrets_dir):
    states = make_minion(tmp_path, "compute", secrets_dir, grains={"virtual": "kvm"}).highstate()
    assert arg(states, "extbridge-br-ext", "datapath_type") == "system"
    assert "extbridge-br-underlay" not in states


def test_the_proxy_serves_every_enabled_api_on_the_network_node(node):
    role, minion, states = node
    assert ("proxy-service" in states) == (role == "network")
    if role != "network":
        return
    site = minion.template("proxy/files/site.conf.jinja")
    listens = re.findall(r"listen (\S+):(\d+) ssl;", site)
    assert sorted(int(port) for _address, port in listens) == [443, 5000, 6080, 8774, 8776, 8778, 9292, 9696]
    for port in (5000, 6080, 8774, 8776, 8778, 9292, 9696):
        assert f"proxy_pass http://{CONTROLLER}:{port};" in site
    assert f"proxy_pass http://{CONTROLLER}:80;" in site  # Horizon
    # NGINX listens on the public NIC's address; what it advertises is the
    # master's address on the model's public network
    route = json.loads(minion.run("network.default_route", "inet").stdout)["local"][0]["interface"]
    nic = json.loads(minion.run("network.ip_addrs", route).stdout)["local"][0]
    assert {address for address, _port in listens} == {nic}
    assert site.count("server_name 10.99.0.12;") == 8
    assert site.count("ssl_protocols TLSv1.2 TLSv1.3;") == 8
    # every server rewrites every internal URL of the catalog; the
    # console's URL is the proxy's already (nova.conf)
    assert site.count(f"sub_filter 'http://{CONTROLLER}:9292' 'https://10.99.0.12:9292';") == 8
    assert site.count(f"sub_filter 'http://{CONTROLLER}:8776' 'https://10.99.0.12:8776';") == 8
    assert f"sub_filter 'http://{CONTROLLER}:6080'" not in site
    assert f"sub_filter 'http://{CONTROLLER}:80'" not in site
    # only the console's server upgrades to a websocket, and passes the
    # browser's Origin as it is
    assert site.count('proxy_set_header Connection "upgrade";') == 1
    assert "proxy_set_header Origin" not in site
    firewall = arg(states, "firewall-public-rules", "context")
    assert firewall["ports"] == [22, 443, 5000, 6080, 8774, 8776, 8778, 9292, 9696]
    rules = minion.template("lib/firewall/files/public.nft.jinja", context=firewall)
    assert f'iifname != "{firewall["interface"]}" accept' in rules
    assert "tcp dport { 22, 443, 5000, 6080, 8774, 8776, 8778, 9292, 9696 } accept" in rules
    assert function(states, "proxy-cert") == "x509.certificate_managed"
    assert arg(states, "proxy-cert", "subjectAltName").startswith("IP:10.99.0.12,")
    assert arg(states, "proxy-ca-key", "mode") == "0600"


def test_the_public_nic_of_the_controller_opens_only_ssh(node):
    role, _minion, states = node
    assert ("firewall-public" in states) == (role in ("network", "controller"))
    if role == "controller":
        assert arg(states, "firewall-public-rules", "context")["ports"] == [22]
        # reloaded, never stopped and started: no moment without the table
        assert arg(states, "firewall-public", "reload") is True


def test_the_controller_services_listen_on_the_management_address(node):
    role, minion, states = node
    if role != "controller":
        return
    for state_id, port in (
        ("keystone-listen", 5000),
        ("placement-listen", 8778),
        ("neutron-listen", 9696),
        ("nova-api-listen", 8774),
        ("nova-metadata-listen", 8775),
        ("cinder-listen", 8776),
    ):
        contents = arg(states, state_id, "contents")
        assert f"--http-socket {CONTROLLER}:{port} --ini " in contents, state_id
        # the lab's process count after the package's ini: uwsgi keeps an option's last value
        assert contents.rstrip().endswith(' --processes 2"'), state_id
    assert f"Listen {CONTROLLER}:80" in arg(states, "horizon-apache-ports", "contents")
    glance = minion.template("glance/files/glance-api.conf.jinja").splitlines()
    assert f"bind_host = {CONTROLLER}" in glance and "bind_port = 9292" in glance
    # and start after that address is there, also when the node boots
    for service in (
        "mariadb",
        "rabbitmq",
        "memcached",
        "apt-cache",
        "keystone",
        "glance",
        "placement",
        "nova-nova-api",
        "nova-nova-novncproxy",
        "neutron-neutron-api",
        "cinder-cinder-api",
        "cinder-cinder-scheduler",
        "horizon",
    ):
        assert f"After=saltlab-address@{CONTROLLER}.service" in arg(states, f"{service}-after-address", "contents")
    nova = minion.template("nova/files/nova.conf.jinja").splitlines()
    assert "novncproxy_base_url = https://10.99.0.12:6080/vnc_auto.html" in nova
    assert "allowed_origins = 10.99.0.12" in nova


# pillar/labs/loadbalancing.sls's services
LOADBALANCING = ["keystone", "glance", "placement", "nova", "neutron", "cinder", "horizon", "octavia"]


def loadbalancing_minion(make_minion, tmp_path, secrets_dir, role):
    minion = make_minion(tmp_path, role, secrets_dir)
    (tmp_path / "pillar" / "lab.sls").write_text("include:\n  - labs.loadbalancing\n")
    return minion


def test_the_loadbalancing_lab_puts_octavias_api_on_the_controller(make_minion, tmp_path, secrets_dir):
    minion = loadbalancing_minion(make_minion, tmp_path, secrets_dir, "controller")
    states = minion.highstate()
    assert {"octavia-service-api", "octavia-keystone-endpoint-public", "octavia-db-sync"} <= set(states)
    assert not [s for s in states if s.startswith("octavia-worker")]
    assert {"cmd": "octavia-db-sync"} in arg(states, "octavia-service-api", "require")
    assert {"file": "octavia-listen"} in arg(states, "octavia-service-api", "watch")
    assert "python3-octavia-dashboard" in arg(states, "horizon-pkgs", "pkgs")
    assert {"pkg": "horizon-pkgs"} in arg(states, "horizon-service", "watch")
    config = minion.template("octavia/files/octavia.conf.jinja")
    assert "connection = mysql+pymysql://octavia:" in config and f"@{CONTROLLER}/octavia" in config
    assert "[keystone_authtoken]" in config and "heartbeat_key" not in config and "ca_private_key" not in config


def test_the_loadbalancing_lab_puts_octavias_worker_on_the_network_node(make_minion, tmp_path, secrets_dir):
    minion = loadbalancing_minion(make_minion, tmp_path, secrets_dir, "network")
    states = minion.highstate()
    services = ["octavia-worker", "octavia-health-manager", "octavia-housekeeping"]
    for service in services:
        required = arg(states, f"octavia-worker-service-{service}", "require")
        # after the API (the schema), with the health manager's address and the certificates
        assert {"ready": "octavia-worker-api-up"} in required
        assert {"cmd": "octavia-health-manager-reconfigure"} in required
        assert {"x509": "octavia-server_ca-cert"} in arg(states, f"octavia-worker-service-{service}", "watch")
    assert not [s for s in states if s.startswith(("octavia-service-api", "octavia-db"))]
    # the config names the ids of what is made before it
    required = arg(states, "octavia-worker-config", "require")
    assert {"openstack": "octavia-mgmt-network"} in required and {
        "openstack": "octavia-mgmt-security-group"
    } in required
    assert function(states, "octavia-health-manager-interface") == "openstack.port_plugged"
    assert {"openstack": "octavia-health-manager-port"} in arg(states, "octavia-health-manager-interface", "require")
    # bound where this node's agents report from: its host name
    assert arg(states, "octavia-health-manager-port", "binding_host") == minion.call("grains.get", "nodename")
    assert arg(states, "octavia-health-manager-port", "port_security") is False
    assert arg(states, "octavia-health-manager-port", "fixed_ips") == [
        {"subnet": "lb-mgmt-subnet", "ip_address": "172.31.0.2"}
    ]
    # the pool leaves the health manager's address out
    assert arg(states, "octavia-mgmt-subnet", "allocation_pools") == [{"start": "172.31.0.10", "end": "172.31.0.254"}]
    assert arg(states, "octavia-amphora-image", "tags") == ["amphora"]
    # private keys: root and octavia only; the server CA's under the passphrase
    for key in ("server_ca", "client_ca", "client"):
        assert arg(states, f"octavia-{key}-key", "mode") == "0640"
        assert arg(states, f"octavia-{key}-key", "group") == "octavia"
    assert (
        arg(states, "octavia-server_ca-key", "passphrase")
        and arg(states, "octavia-client_ca-key", "passphrase") is None
    )
    assert arg(states, "octavia-client-cert", "authorityKeyIdentifier") == "keyid:always"
    assert arg(states, "octavia-client_ca-cert", "keyUsage") == "critical, cRLSign, keyCertSign"


def test_the_loadbalancing_demo_puts_a_load_balancer_in_front_of_the_servers(make_minion, tmp_path, secrets_dir):
    minion = loadbalancing_minion(make_minion, tmp_path, secrets_dir, "controller")
    states = minion.call("state.show_sls", "demo")
    assert arg(states, "demo-lb", "vip_network") == "external"
    assert {"openstack": "demo-external-subnet"} in arg(states, "demo-lb", "require")
    for server in ("demo1", "demo2"):
        assert function(states, f"demo-lb-member-{server}") == "openstack.server_member_present"
        assert {"openstack": f"demo-server-{server}"} in arg(states, f"demo-lb-member-{server}", "require")
        assert arg(states, f"demo-lb-member-{server}", "subnet") == "demo-subnet"
    assert arg(states, "demo-lb-monitor", "type") == "HTTP"
    assert arg(states, "demo-security-group-http", "port_range_min") == 80


def test_the_keystone_lab_has_no_image_service(make_minion, tmp_path, secrets_dir):
    minion = make_minion(tmp_path, "controller", secrets_dir)
    (tmp_path / "pillar" / "lab.sls").write_text("include:\n  - labs.keystone\n")
    states = minion.highstate()
    assert "keystone-service" in states
    assert not [s for s in states if s.startswith(("glance", "placement"))]


@pytest.mark.parametrize(
    "role, override, message",
    [
        ("controller", {"services": ["keystone", "swift"]}, "pillar saltlab:services names an unknown service swift"),
        ("network", {"services": ["glance"]}, "pillar saltlab:services needs keystone in every lab"),
        ("controller", {"secrets": {"glance_db": ""}}, "pillar saltlab:secrets:glance_db is missing"),
        (
            "network",
            {"services": LOADBALANCING, "secrets": {"octavia_ca_passphrase": ""}},
            "pillar saltlab:secrets:octavia_ca_passphrase is missing",
        ),
        (
            "controller",
            {"services": ["keystone", "glance", "placement", "octavia"]},
            "Octavia needs nova in pillar saltlab:services",
        ),
    ],
)
def test_bad_lab_pillar_stops_the_render_with_a_message_naming_the_key(
    make_minion, tmp_path, secrets_dir, role, override, message
):
    # reported by the formulas, not by the top file: Salt turns a top file
    # that fails to render into "No Top file matches" and drops the message
    errors = make_minion(tmp_path, role, secrets_dir).render_errors({"saltlab": override})
    assert all(message in error for error in errors), errors


def test_the_lab_host_gets_its_role_and_none_of_a_lab_node(make_minion, tmp_path):
    # no secrets: salt-cloud uploads the state tree and the pillar files its
    # profile names (on a local node here, as in tests/e2e/test_labhost.py)
    file_map = yaml.safe_load((REPO / "cloud.profiles.d/baremetal.conf").read_text())["baremetal-labhost"]["file_map"]
    uploaded = [path.removeprefix("pillar/") for path in file_map if path.startswith("pillar/")]
    states = make_minion(tmp_path, "labhost", pillar_files=uploaded).highstate()
    formulas = {body["__sls__"].split(".")[0] for body in states.values()}
    assert formulas == {"labhost", "users", "apt"}
    # the host fetches packages itself
    assert function(states, "apt-proxy-config") == "file.absent"
    assert arg(states, "labhost-checkout", "name") == "/srv/saltlab"
    assert {"git": "labhost-checkout"} in arg(states, "labhost-host-deps", "require")
    assert arg(states, "labhost-host-deps", "unless") == "tools/install-host-deps --system --check"
    # stack is reached as root is
    assert arg(states, "labhost-stack-authorized-keys", "source") == "/root/.ssh/authorized_keys"
    # SSH only, on the NIC of the default route
    firewall = arg(states, "labhost-firewall-rules", "context")
    route = subprocess.run(
        ["ip", "-4", "-json", "route", "show", "default"], capture_output=True, text=True, check=True
    )
    assert firewall["interface"] == json.loads(route.stdout)[0]["dev"]
    assert firewall["ports"] == [22]
    # the lab once everything else is there, and only when it is not up
    assert arg(states, "labhost-lab", "require") == [{"sls": "labhost.prepare"}]
    assert arg(states, "labhost-lab", "unless") == "python3 tools/lab.py status"


def test_agents_and_nova_compute_by_role(node):
    role, _minion, states = node
    agents = {s for s in states if s.startswith("neutron-agent-") and s.endswith("-service")}
    expected = {"network": {"openvswitch", "l3", "dhcp", "metadata"}, "compute": {"openvswitch"}}.get(role, set())
    assert agents == {f"neutron-agent-{agent}-service" for agent in expected}
    # each starts once neutron-server's API answers
    for agent in agents:
        assert {"ready": "neutron-agents-server-up"} in arg(states, agent, "require")
    if agents:
        assert arg(states, "neutron-agents-server-up", "name") == "http://192.168.1.11:9696/"
    assert ("nova-compute-service" in states) == (role == "compute")
    if role == "compute":
        # nova-compute without what its packages recommend (a kernel, GRUB)
        assert arg(states, "nova-compute-pkgs", "install_recommends") is False
        assert {"file": "nova-compute-hypervisor-config"} in arg(states, "nova-compute-service", "watch")
        # it starts once the controller's nova-conductor is up (a first
        # highstate of every node at once), asked as Nova's service user
        assert {"ready": "nova-compute-conductor-up"} in arg(states, "nova-compute-service", "require")
        assert function(states, "nova-compute-conductor-up") == "ready.compute_service"
        assert arg(states, "nova-compute-conductor-up", "cloud") == "saltlab-nova"
        assert arg(states, "nova-compute-conductor-up", "timeout") >= 900
        assert arg(states, "nova-compute-clouds-yaml", "mode") == "0600"
        # the userspace datapath: networkd keeps the guests' taps up, before nova-compute starts a guest
        assert "ActivationPolicy=always-up" in arg(states, "nova-compute-taps-up", "contents")
        assert {"file": "nova-compute-taps-up"} in arg(states, "nova-compute-taps-networkd", "watch")
        assert {"service": "nova-compute-service"} in arg(states, "nova-compute-taps-networkd", "require_in")
    if role in ("network", "compute"):
        # checksum-offloaded TCP through the userspace datapath
        assert arg(states, "ovs-switch-config", "other_config") == {"userspace-tso-enable": "true"}
        assert {"ovs": "ovs-switch-config"} in arg(states, "ovs-service-restart", "watch")


def test_the_demo_renders_and_waits_for_compute_hosts(make_minion, tmp_path, secrets_dir):
    states = make_minion(tmp_path, "controller", secrets_dir).call("state.show_sls", "demo")
    assert function(states, "demo-compute-ready") == "ready.compute_hosts"
    assert arg(states, "demo-compute-ready", "minimum") == 2
    # the network only once the network node's agents are alive (Neutron gives it a DHCP agent then)
    assert function(states, "demo-network-agents-ready") == "ready.network_agents"
    assert arg(states, "demo-network-agents-ready", "name") == "network"
    assert "DHCP agent" in arg(states, "demo-network-agents-ready", "agent_types")
    assert {"ready": "demo-network-agents-ready"} in arg(states, "demo-network", "require")
    for server in ("demo1", "demo2"):
        assert {"ready": "demo-compute-ready"} in arg(states, f"demo-server-{server}", "require")
        assert arg(states, f"demo-server-{server}", "server_group") == "demo-spread"
        assert {"openstack": f"demo-server-{server}"} in arg(states, f"demo-floating-ip-{server}", "require")
    assert arg(states, "demo-external-network", "mtu") == 1410
    assert arg(states, "demo-external-subnet", "gateway_ip") == "172.16.0.1"
    # the full lab has no Octavia
    assert not [s for s in states if s.startswith("demo-lb")]


MAPDATA = pathlib.Path(__file__).resolve().parent / "mapdata"


def test_each_roles_settings_are_the_checked_in_ones(node, secrets_dir):
    """
    What each formula of a role's highstate computes on its node (the
    mapdata SLS: map.jinja of defaults.yaml, pillar and lab facts), against
    tests/render/mapdata/<role>.yaml: a change of defaults, pillar or
    derivation shows here as a diff to review. SALTLAB_UPDATE_MAPDATA=1
    writes the files instead.
    """
    role, minion, states = node
    formulas = sorted({body["__sls__"].split(".")[0] for body in states.values()} - {"mapdata"})
    dumped = minion.call("state.show_sls", "mapdata", "pillar=" + json.dumps({"mapdata": {"formulas": formulas}}))
    settings = {f: yaml.safe_load(arg(dumped, f"mapdata-{f}", "contents")) for f in formulas}
    # what differs from one run or machine to the next: the generated
    # secrets, this machine's public NIC, whether it runs KVM guests
    if "nova" in settings:
        settings["nova"]["virt_type"] = "<kvm or qemu: this machine's>"
    secrets = json.loads((secrets_dir / "secrets.json").read_text())["saltlab"]
    route = json.loads(minion.run("network.default_route", "inet").stdout)["local"][0]["interface"]
    varying = {value: f"<secret {name}>" for name, value in secrets["secrets"].items()}
    varying.update({secrets["ssh_public_key"]: "<lab ssh key>", route: "<public nic>"})
    varying.update(
        {a: "<public nic address>" for a in json.loads(minion.run("network.ip_addrs", route).stdout)["local"]}
    )
    text = yaml.safe_dump(settings, sort_keys=True, width=100)
    for value, placeholder in sorted(varying.items(), key=lambda item: -len(item[0])):
        text = text.replace(value, placeholder)
    expected = MAPDATA / f"{role}.yaml"
    if os.environ.get("SALTLAB_UPDATE_MAPDATA"):
        MAPDATA.mkdir(exist_ok=True)
        expected.write_text(text)
    assert text == expected.read_text(), f"{role}'s computed settings changed: review, then SALTLAB_UPDATE_MAPDATA=1"
